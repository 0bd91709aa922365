//! Verifies one recorded webhook delivery.
//!
//! ```text
//! LINKWIRE_SECRET=whsec_... cargo run -p linkwire-verify --example verify_delivery -- \
//!     body.json --header "X-Nim-Timestamp: 1700000000" --header "X-Nim-Signature: v1=..." \
//!     [--now <unix-seconds>] [--tolerance <seconds>]
//! ```
//!
//! Prints `ok <event_id>` (or `ok -` without an event id) and exits 0, or prints
//! `invalid: <error>` and exits 1. Usage errors exit 2. `LINKWIRE_SECRET` may hold
//! several whitespace-separated secrets (rotation). `--now` defaults to the
//! current time and `--tolerance` to 300; pass `--now` with the delivery's
//! timestamp to verify an old recording.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use linkwire_verify::{verify, SigningSecret, DEFAULT_TOLERANCE_SECS};

struct Args {
    body_path: String,
    headers: Vec<(String, String)>,
    now: Option<i64>,
    tolerance: i64,
}

fn parse_args() -> Result<Args, String> {
    let mut body_path = None;
    let mut headers = Vec::new();
    let mut now = None;
    let mut tolerance = DEFAULT_TOLERANCE_SECS;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--header" | "-H" => {
                let h = it.next().ok_or("--header needs a value")?;
                let (name, value) = h
                    .split_once(':')
                    .ok_or_else(|| format!("header {h:?} is not \"Name: value\""))?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--now" => {
                let v = it.next().ok_or("--now needs a value")?;
                now = Some(v.parse().map_err(|_| format!("bad --now {v:?}"))?);
            }
            "--tolerance" => {
                let v = it.next().ok_or("--tolerance needs a value")?;
                tolerance = v.parse().map_err(|_| format!("bad --tolerance {v:?}"))?;
            }
            "--help" | "-h" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ if body_path.is_some() => return Err("only one body file".to_owned()),
            _ => body_path = Some(arg),
        }
    }
    Ok(Args {
        body_path: body_path.ok_or("missing body file path")?,
        headers,
        now,
        tolerance,
    })
}

const USAGE: &str = "usage: LINKWIRE_SECRET=whsec_... verify_delivery <body-file> \
--header \"Name: value\"... [--now <unix-seconds>] [--tolerance <seconds>]";

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let secret_env = match std::env::var("LINKWIRE_SECRET") {
        Ok(s) => s,
        Err(_) => {
            eprintln!("error: LINKWIRE_SECRET is not set\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let secrets: Vec<SigningSecret> = match secret_env
        .split_whitespace()
        .map(SigningSecret::parse)
        .collect()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: LINKWIRE_SECRET: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match std::fs::read(&args.body_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: reading {}: {e}", args.body_path);
            return ExitCode::from(2);
        }
    };
    let now = args.now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    });

    let secret_refs: Vec<&SigningSecret> = secrets.iter().collect();
    let headers = args.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    match verify(headers, &body, &secret_refs, now, args.tolerance) {
        Ok(v) => {
            println!("ok {}", v.event_id.as_deref().unwrap_or("-"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("invalid: {e}");
            ExitCode::FAILURE
        }
    }
}
