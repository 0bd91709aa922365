//! The receiver examples (`examples/receivers/`, documented in `docs/webhooks.md`) verify a REAL
//! delivery from a running linkwire: a capture receiver records one signed `link.created` delivery,
//! then `verify.mjs`, `verify.py`, `linkwire_verify::verify` (in-process) and the `verify_delivery`
//! example binary must each print `ok <event id>`, and must each reject the body with one byte changed.
//!
//! Without `node` or `python3` on the PATH that verifier is skipped with a loud note, unless `CI` is
//! set, in which case the test fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use linkwire_server::dns::StaticResolver;
use linkwire_server::{Application, Dependencies, Settings};
use linkwire_verify::{verify, HeaderFamily, SigningSecret, DEFAULT_TOLERANCE_SECS};
use serde_json::{json, Value};
use tokio::process::Command;
use tokio::sync::oneshot;

/// How long waiting for the delivery, or one script run, may take.
const DEADLINE: Duration = Duration::from_secs(20);
/// Building the Rust example may compile it first.
const CARGO_DEADLINE: Duration = Duration::from_secs(240);

/// One request as the receiver saw it: header lines in arrival order and the raw body bytes.
#[derive(Debug, Clone)]
struct Captured {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Inbox = Arc<Mutex<Vec<Captured>>>;

async fn capture(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(n, v)| {
            let v = v.to_str().expect("linkwire sends ASCII header values");
            (n.as_str().to_owned(), v.to_owned())
        })
        .collect();
    inbox.lock().expect("inbox lock").push(Captured {
        headers,
        body: body.to_vec(),
    });
    StatusCode::OK
}

/// A receiver on 127.0.0.1:0 that records every `POST /hook` and answers 200.
async fn start_receiver() -> (SocketAddr, Inbox) {
    let inbox = Inbox::default();
    let router = axum::Router::new()
        .route("/hook", post(capture))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, inbox)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// Runs `program args...` with `LINKWIRE_SECRET`, within `deadline`.
async fn run(program: &str, args: &[&str], secret: &str, deadline: Duration) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(repo_root())
        .env("LINKWIRE_SECRET", secret)
        .kill_on_drop(true);
    match tokio::time::timeout(deadline, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("running {program} {args:?}: {e}"),
        Err(_) => panic!("{program} {args:?} did not finish within {deadline:?}"),
    }
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `program --version` runs; if not, fails under `CI` and otherwise says loudly that it skips.
async fn available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{program}` is not on the PATH, and CI is set: the {program} receiver example cannot be checked"
        );
        eprintln!(
            "\n!!!! SKIPPING the {program} receiver example: `{program}` is not on the PATH !!!!\n"
        );
    }
    found
}

/// One verifier: a name and the command line after `LINKWIRE_SECRET=...`.
struct Verifier {
    name: &'static str,
    program: String,
    args: Vec<String>,
    deadline: Duration,
}

impl Verifier {
    async fn run(&self, body: &Path, headers: &Path, extra: &[&str], secret: &str) -> Output {
        let body = body.to_str().expect("utf-8 path");
        let headers = headers.to_str().expect("utf-8 path");
        let args: Vec<&str> = self
            .args
            .iter()
            .map(|a| match a.as_str() {
                "{body}" => body,
                "{headers}" => headers,
                a => a,
            })
            .chain(extra.iter().copied())
            .collect();
        run(&self.program, &args, secret, self.deadline).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_examples_verify_a_real_delivery() {
    // --- a running linkwire, on the system clock so the signed timestamps are fresh ---
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("bound").port();
    let mut settings = Settings::for_tests(dir.path());
    settings.listen = format!("127.0.0.1:{port}").parse().expect("addr");
    settings.public_url = format!("http://127.0.0.1:{port}").parse().expect("url");
    let app = Application::build_on(
        listener,
        settings,
        Dependencies {
            clock: Arc::new(linkwire_contract::SystemClock),
            resolver: Arc::new(StaticResolver::default()),
        },
    )
    .await
    .expect("application builds");
    let token = app
        .bootstrapped
        .as_ref()
        .expect("a fresh data directory bootstraps")
        .token
        .clone();
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client");

    // --- a capture receiver, an endpoint pointing at it, and one event ---
    let (raddr, inbox) = start_receiver().await;
    let resp = client
        .post(format!("{base}/api/v1/webhooks/endpoints"))
        .bearer_auth(&token)
        .json(&json!({
            "endpoint_url": format!("http://{raddr}/hook"),
            "subscriptions": ["link.created"],
        }))
        .send()
        .await
        .expect("create endpoint");
    assert_eq!(resp.status(), 201, "create endpoint");
    let created: Value = resp.json().await.expect("endpoint json");
    let secret = created["signing_secret"]
        .as_str()
        .expect("signing_secret is returned once")
        .to_owned();

    let resp = client
        .post(format!("{base}/api/v1/links"))
        .bearer_auth(&token)
        .json(&json!({ "long_url": "https://example.com/x" }))
        .send()
        .await
        .expect("create link");
    assert_eq!(resp.status(), 201, "create link");

    let started = Instant::now();
    let delivery = loop {
        if let Some(c) = inbox.lock().expect("inbox lock").first().cloned() {
            break c;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no delivery reached the receiver within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // --- what a receiver gets (docs/webhooks.md, "Headers") ---
    let envelope: Value = serde_json::from_slice(&delivery.body).expect("body is JSON");
    let event_id = envelope["id"].as_str().expect("id").to_owned();
    assert_eq!(envelope["type"], "link.created");
    assert_eq!(delivery.header("x-nim-event-id"), Some(event_id.as_str()));
    assert_eq!(delivery.header("webhook-id"), Some(event_id.as_str()));
    assert_eq!(delivery.header("x-nim-event-type"), Some("link.created"));
    assert_eq!(delivery.header("x-nim-delivery-reason"), Some("live"));
    assert_eq!(delivery.header("x-nim-delivery-attempt"), Some("1"));
    assert_eq!(
        delivery.header("content-type"),
        Some("application/json"),
        "{:?}",
        delivery.headers
    );
    let ts: i64 = delivery
        .header("x-nim-timestamp")
        .expect("X-Nim-Timestamp")
        .parse()
        .expect("Unix seconds");
    assert_eq!(
        delivery.header("webhook-timestamp"),
        Some(ts.to_string().as_str())
    );
    let expected = format!("ok {event_id}");

    // --- the files a user would capture: raw body, and one "Name: value" per line ---
    let files = tempfile::tempdir().expect("tempdir");
    let body_path = files.path().join("body.json");
    let headers_path = files.path().join("headers.txt");
    let tampered_path = files.path().join("tampered.json");
    std::fs::write(&body_path, &delivery.body).expect("write body");
    let header_lines: String = delivery
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\n"))
        .collect();
    std::fs::write(&headers_path, header_lines).expect("write headers");
    let mut tampered = delivery.body.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    std::fs::write(&tampered_path, &tampered).expect("write tampered body");

    // --- the Rust library, in-process: each header family on its own ---
    let parsed = SigningSecret::parse(&secret).expect("a whsec_ secret");
    let pairs = || {
        delivery
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    };
    let only = |prefix: &'static str| {
        delivery
            .headers
            .iter()
            .filter(move |(n, _)| n.starts_with(prefix))
            .map(|(n, v)| (n.as_str(), v.as_str()))
    };
    let now = unix_now();
    let v = verify(
        pairs(),
        &delivery.body,
        &[&parsed],
        now,
        DEFAULT_TOLERANCE_SECS,
    )
    .expect("linkwire_verify accepts the delivery");
    assert_eq!(v.event_id.as_deref(), Some(event_id.as_str()));
    for (prefix, family) in [
        ("x-nim-", HeaderFamily::Nim),
        ("webhook-", HeaderFamily::Standard),
    ] {
        let v = verify(
            only(prefix),
            &delivery.body,
            &[&parsed],
            now,
            DEFAULT_TOLERANCE_SECS,
        )
        .unwrap_or_else(|e| panic!("{prefix}* headers alone: {e}"));
        assert_eq!(v.family, family);
        assert_eq!(v.event_id.as_deref(), Some(event_id.as_str()));
        assert!(
            verify(
                only(prefix),
                &tampered,
                &[&parsed],
                now,
                DEFAULT_TOLERANCE_SECS
            )
            .is_err(),
            "{prefix}* headers accepted a tampered body"
        );
    }

    // --- the command-line verifiers ---
    let mut verifiers = Vec::new();
    if available("node").await {
        verifiers.push(Verifier {
            name: "examples/receivers/verify.mjs",
            program: "node".into(),
            args: vec![
                "examples/receivers/verify.mjs".into(),
                "{body}".into(),
                "{headers}".into(),
            ],
            deadline: DEADLINE,
        });
    }
    if available("python3").await {
        verifiers.push(Verifier {
            name: "examples/receivers/verify.py",
            program: "python3".into(),
            args: vec![
                "examples/receivers/verify.py".into(),
                "{body}".into(),
                "{headers}".into(),
            ],
            deadline: DEADLINE,
        });
    }
    // The Rust example takes the headers as `--header "Name: value"` arguments.
    let mut rust_args: Vec<String> = [
        "run",
        "-q",
        "-p",
        "linkwire-verify",
        "--example",
        "verify_delivery",
        "--",
        "{body}",
    ]
    .map(String::from)
    .to_vec();
    for (n, v) in &delivery.headers {
        rust_args.push("--header".into());
        rust_args.push(format!("{n}: {v}"));
    }
    verifiers.push(Verifier {
        name: "cargo run -p linkwire-verify --example verify_delivery",
        program: env!("CARGO").into(),
        args: rust_args,
        deadline: CARGO_DEADLINE,
    });

    let stale = (ts + DEFAULT_TOLERANCE_SECS + 1).to_string();
    for verifier in &verifiers {
        let name = verifier.name;
        let t = Instant::now();
        let out = verifier.run(&body_path, &headers_path, &[], &secret).await;
        assert!(
            out.status.success(),
            "{name} rejected a real delivery\n{}",
            describe(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.trim(), expected, "{name}\n{}", describe(&out));
        eprintln!("{name}: {} ({:?})", stdout.trim(), t.elapsed());

        let out = verifier
            .run(&tampered_path, &headers_path, &[], &secret)
            .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} accepted a tampered body\n{}",
            describe(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("invalid: "),
            "{name}\n{}",
            describe(&out)
        );

        let out = verifier
            .run(&body_path, &headers_path, &["--now", &stale], &secret)
            .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} accepted a stale timestamp\n{}",
            describe(&out)
        );

        let other = SigningSecret::from_bytes(&[7; 32]);
        let out = verifier
            .run(&body_path, &headers_path, &[], other.as_str())
            .await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} accepted the wrong secret\n{}",
            describe(&out)
        );

        // Rotation: the receiver accepts the new and the old secret.
        let both = format!("{} {secret}", other.as_str());
        let out = verifier.run(&body_path, &headers_path, &[], &both).await;
        assert!(
            out.status.success(),
            "{name} with two secrets\n{}",
            describe(&out)
        );
    }

    stop.send(()).expect("server still running");
    tokio::time::timeout(DEADLINE, server)
        .await
        .expect("server stops in time")
        .expect("server task")
        .expect("server ran cleanly");
}
