//! The `redirect` benchmark: bare hyper 302s against `linkwire serve`, then the click-count check.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use linkwire_contract::{EventType, WorkspaceId};
use linkwire_store::{Store, StoreOptions};

use crate::args::RedirectOptions;
use crate::baseline::BaselineServer;
use crate::floor;
use crate::load::{self, LoadReport, LoadSpec};
use crate::server::{self, LinkwireServer, StoppedServer};

const SLUG: &str = "bench";
const LONG_URL: &str = "https://example.com/landing?x=1";

/// Runs the benchmark and prints the report; `Ok(false)` means a correctness failure.
pub async fn run(opts: &RedirectOptions) -> Result<bool> {
    server::check_binary(&opts.binary)?;
    println!(
        "redirect benchmark: {} connections, {} s each (+{} s warm-up), same load generator",
        opts.connections,
        opts.measure.as_secs(),
        opts.warmup.as_secs()
    );
    let baseline = run_baseline(opts).await.context("baseline")?;
    print_figures("baseline hyper 302 from HashMap", &baseline);
    let linkwire = run_linkwire(opts).await.context("linkwire")?;
    print_figures("linkwire serve (click capture) ", &linkwire.load);
    println!(
        "  ratio linkwire / baseline       : {:.2}",
        linkwire.load.requests_per_second() / baseline.requests_per_second()
    );
    let counted = check_counts(&linkwire);
    floor::run(&linkwire.stopped.data_dir(), baseline.requests_per_second())
        .await
        .context("storage floor")?;
    Ok(counted)
}

async fn run_baseline(opts: &RedirectOptions) -> Result<LoadReport> {
    let links = HashMap::from([(SLUG.to_owned(), LONG_URL.to_owned())]);
    let server = BaselineServer::start(links)?;
    let report = load::run(&load_spec(opts, server.addr)).await;
    server.stop();
    report
}

/// What the linkwire run measured and what its database holds afterwards.
pub(crate) struct LinkwireRun {
    pub(crate) load: LoadReport,
    /// The click queue when the load stopped.
    queue: Result<QueueState, String>,
    /// From SIGTERM to process exit (the click queue drains in between).
    drain: Duration,
    exit: ExitStatus,
    clicks: i64,
    bots: i64,
    events: i64,
    /// The server log, in case the counts need explaining.
    log_tail: String,
    /// The stopped server's data directory, kept until the run is dropped.
    pub(crate) stopped: StoppedServer,
}

async fn run_linkwire(opts: &RedirectOptions) -> Result<LinkwireRun> {
    run_linkwire_on(opts, &[], None).await
}

/// [`run_linkwire`] with extra environment and, with `database_url` (PostgreSQL), a node on that
/// database: the counts are then read from it instead of the data directory's SQLite file.
pub(crate) async fn run_linkwire_on(
    opts: &RedirectOptions,
    env: &[(&str, &str)],
    database_url: Option<&str>,
) -> Result<LinkwireRun> {
    let args: Vec<&str> = match database_url {
        Some(url) => vec!["--database-url", url],
        None => Vec::new(),
    };
    let server = LinkwireServer::start_node(&opts.binary, env, &args, None).await?;
    let workspace: WorkspaceId = server
        .workspace_id()
        .await?
        .parse()
        .context("whoami workspace_id is not a UUID")?;
    let short_url = server.create_link(SLUG, LONG_URL).await?;
    let expected_short_url = format!("http://{}/{SLUG}", server.addr);
    if short_url != expected_short_url {
        println!("  note: short_url is {short_url}, expected {expected_short_url}");
    }
    let load = load::run(&load_spec(opts, server.addr)).await;
    let queue = queue_state(&server).await;
    let stopping = Instant::now();
    let (exit, stopped) = server.stop().await?;
    let drain = stopping.elapsed();
    let load = load?;
    let (clicks, bots, events) = count_stored(&stopped, database_url, workspace).await?;
    Ok(LinkwireRun {
        load,
        queue,
        drain,
        exit,
        clicks,
        bots,
        events,
        log_tail: stopped.log_tail(),
        stopped,
    })
}

struct QueueState {
    depth: u64,
    full_waits: u64,
}

/// The click queue right after the load stopped, from the server's metrics; why not, if unavailable.
async fn queue_state(server: &LinkwireServer) -> Result<QueueState, String> {
    let read = |name| async move { server.metric(name).await.map_err(|e| format!("{e:#}")) };
    Ok(QueueState {
        depth: read("linkwire_click_queue_depth").await? as u64,
        full_waits: read("linkwire_click_queue_full_waits_total").await? as u64,
    })
}

async fn count_stored(
    stopped: &StoppedServer,
    database_url: Option<&str>,
    workspace: WorkspaceId,
) -> Result<(i64, i64, i64)> {
    let store = match database_url {
        Some(url) => Store::open(url, &StoreOptions::default()).await,
        None => Store::open_sqlite_dir(&stopped.data_dir(), &StoreOptions::default()).await,
    }
    .context("opening the server's database")?;
    let (clicks, bots) = store.count_clicks(workspace).await?;
    let events = store
        .count_events(workspace, EventType::LinkClicked)
        .await?;
    store.close().await;
    Ok((clicks, bots, events))
}

fn load_spec(opts: &RedirectOptions, addr: SocketAddr) -> LoadSpec {
    LoadSpec {
        addr,
        path: format!("/{SLUG}"),
        expected_location: LONG_URL.to_owned(),
        connections: opts.connections,
        warmup: opts.warmup,
        measure: opts.measure,
    }
}

pub(crate) fn print_figures(label: &str, report: &LoadReport) {
    let errors = match report.errors {
        0 => String::new(),
        n => format!("  errors {}", thousands(n)),
    };
    println!(
        "  {label} : {} req/s  p50 {:.2} ms  p99 {:.2} ms{errors}",
        thousands(report.requests_per_second().round() as u64),
        report.latency_ms(0.50),
        report.latency_ms(0.99),
    );
}

/// Prints the count line and any failure; true when every redirect became one click and one event.
pub(crate) fn check_counts(run: &LinkwireRun) -> bool {
    let served = run.load.redirects as i64;
    let equal = served == run.clicks && served == run.events;
    println!(
        "  redirects served {} | clicks stored {} (bots {}) | link.clicked events {} | equal: {}",
        thousands(served as u64),
        thousands(run.clicks as u64),
        thousands(run.bots as u64),
        thousands(run.events as u64),
        if equal { "yes" } else { "NO" }
    );
    match &run.queue {
        Ok(queue) => println!(
            "  click queue at end of load {} | redirects that waited on a full queue {} | SIGTERM to exit {:.2} s",
            thousands(queue.depth),
            thousands(queue.full_waits),
            run.drain.as_secs_f64()
        ),
        Err(why) => println!("  (click queue metrics unavailable: {why}) | SIGTERM to exit {:.2} s", run.drain.as_secs_f64()),
    }
    let mut ok = equal;
    if !equal {
        println!(
            "FAIL: every 302 the load generator received (warm-up included) should be exactly one stored \
             click and one link.clicked event after a SIGTERM drain; clicks differ by {:+}, events by {:+}",
            run.clicks - served,
            run.events - served
        );
    }
    if run.bots != 0 {
        println!(
            "note: {} clicks were classified as bots despite a browser User-Agent",
            run.bots
        );
    }
    if !run.exit.success() {
        println!("FAIL: linkwire exited with {} after SIGTERM", run.exit);
        ok = false;
    }
    if !ok {
        println!("{}", run.log_tail);
    }
    ok
}

/// 1234567 → "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        let remaining = digits.len() - i;
        if i > 0 && remaining % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(712_345), "712,345");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
