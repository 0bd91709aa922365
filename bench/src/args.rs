//! Command-line parsing: a subcommand per benchmark, then its options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub const USAGE: &str = "\
usage: linkwire-bench <benchmark> [options]

benchmarks:
  redirect    302 throughput/latency of `linkwire serve` against a bare hyper baseline,
              then checks that every redirect served became a stored click and event,
              then the CPU SQLite alone spends per stored click (the storage floor)
  delivery    webhook deliveries/s of `linkwire serve` (1/10/100 endpoints) against a bare
              signed-POST loop, event-to-delivery latency at 500 and 5,000 events/s, and a
              backlog for a dead receiver (resident memory, then drain rate)
  scale       on PostgreSQL: webhook deliveries/s with 1, 2 and 3 `linkwire serve` nodes
              sharing one database, and the redirect throughput of one node on PostgreSQL
              against one on SQLite (needs `psql` and a server at 127.0.0.1:5432, user postgres)

redirect options:
  --seconds N       measured seconds per target (default 10)
  --connections N   concurrent keep-alive connections (default 64)
  --quick           smoke run: 3 s per target
  --binary PATH     linkwire binary (default $CARGO_TARGET_DIR/release/linkwire,
                    else <workspace>/target/release/linkwire)

delivery options:
  --seconds N         measured seconds per case (default 10)
  --backlog-clicks N  clicks for the backlog case, each fanned out to 100 endpoints
                      (default 10,000 = 1,000,000 deliveries; 0 skips the backlog)
  --quick             smoke run: 3 s per case, 1,000 backlog clicks
  --binary PATH       linkwire binary (default as for redirect)

scale options:
  --seconds N         measured seconds per case (default 10)
  --quick             smoke run: 3 s per case
  --binary PATH       linkwire binary (default as for redirect)";

pub enum Command {
    Help,
    Redirect(RedirectOptions),
    Delivery(DeliveryOptions),
    Scale(ScaleOptions),
}

pub struct ScaleOptions {
    /// Measured time per case (click time for deliveries, load time for redirects).
    pub seconds: Duration,
    pub binary: PathBuf,
}

impl Default for ScaleOptions {
    fn default() -> Self {
        Self {
            seconds: Duration::from_secs(10),
            binary: default_binary(),
        }
    }
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

pub struct DeliveryOptions {
    /// Measured time per throughput/latency case.
    pub seconds: Duration,
    pub binary: PathBuf,
    /// Clicks for the backlog case (× 100 endpoints deliveries); 0 skips it.
    pub backlog_clicks: u64,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            seconds: Duration::from_secs(10),
            binary: default_binary(),
            backlog_clicks: 10_000,
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
        Some("delivery") => parse_delivery(args).map(Command::Delivery),
        Some("scale") => parse_scale(args).map(Command::Scale),
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

fn parse_delivery(mut args: impl Iterator<Item = String>) -> Result<DeliveryOptions> {
    let mut opts = DeliveryOptions::default();
    // `--quick` sets defaults only; explicit `--seconds`/`--backlog-clicks` win whatever their order.
    let mut quick = false;
    let mut seconds = None;
    let mut backlog_clicks = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => seconds = Some(parse_positive(&value()?, &arg)?),
            "--backlog-clicks" => {
                let v = value()?;
                backlog_clicks = Some(v.parse::<u64>().map_err(|_| {
                    anyhow::anyhow!("{arg} expects a non-negative integer, got `{v}`")
                })?);
            }
            "--binary" => opts.binary = PathBuf::from(value()?),
            "--quick" => quick = true,
            other => bail!("unknown option `{other}` for delivery"),
        }
    }
    if quick {
        opts.seconds = Duration::from_secs(3);
        opts.backlog_clicks = 1_000;
    }
    if let Some(n) = seconds {
        opts.seconds = Duration::from_secs(n);
    }
    if let Some(n) = backlog_clicks {
        opts.backlog_clicks = n;
    }
    Ok(opts)
}

fn parse_scale(mut args: impl Iterator<Item = String>) -> Result<ScaleOptions> {
    let mut opts = ScaleOptions::default();
    let mut quick = false;
    let mut seconds = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => seconds = Some(parse_positive(&value()?, &arg)?),
            "--binary" => opts.binary = PathBuf::from(value()?),
            "--quick" => quick = true,
            other => bail!("unknown option `{other}` for scale"),
        }
    }
    if quick {
        opts.seconds = Duration::from_secs(3);
    }
    if let Some(n) = seconds {
        opts.seconds = Duration::from_secs(n);
    }
    Ok(opts)
}

fn parse_positive(value: &str, flag: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} expects a positive integer, got `{value}`"),
    }
}
