//! Command-line parsing: a subcommand per benchmark, then its options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub const USAGE: &str = "\
usage: linkwire-bench <benchmark> [options]

benchmarks:
  redirect    302 throughput/latency of `linkwire serve` against a bare hyper baseline,
              then checks that every redirect served became a stored click and event

redirect options:
  --seconds N       measured seconds per target (default 10)
  --connections N   concurrent keep-alive connections (default 64)
  --quick           smoke run: 3 s per target
  --binary PATH     linkwire binary (default $CARGO_TARGET_DIR/release/linkwire,
                    else <workspace>/target/release/linkwire)";

pub enum Command {
    Help,
    Redirect(RedirectOptions),
}

pub struct RedirectOptions {
    pub measure: Duration,
    pub warmup: Duration,
    pub connections: usize,
    pub binary: PathBuf,
}

impl Default for RedirectOptions {
    fn default() -> Self {
        Self {
            measure: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            connections: 64,
            binary: default_binary(),
        }
    }
}

/// `<target dir>/release/linkwire`, the target dir being `$CARGO_TARGET_DIR` when set (as it is for
/// the `cargo run` that started us), else `<workspace>/target`.
fn default_binary() -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target_dir.join("release/linkwire")
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command> {
    match args.next().as_deref() {
        None | Some("help" | "-h" | "--help") => Ok(Command::Help),
        Some("redirect") => parse_redirect(args).map(Command::Redirect),
        Some(other) => bail!("unknown benchmark `{other}`"),
    }
}

fn parse_redirect(mut args: impl Iterator<Item = String>) -> Result<RedirectOptions> {
    let mut opts = RedirectOptions::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => opts.measure = Duration::from_secs(parse_positive(&value()?, &arg)?),
            "--connections" => opts.connections = parse_positive(&value()?, &arg)? as usize,
            "--binary" => opts.binary = PathBuf::from(value()?),
            "--quick" => opts.measure = Duration::from_secs(3),
            other => bail!("unknown option `{other}` for redirect"),
        }
    }
    Ok(opts)
}

fn parse_positive(value: &str, flag: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} expects a positive integer, got `{value}`"),
    }
}
