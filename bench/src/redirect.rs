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
use crate::load::{self, LoadReport, LoadSpec};
use crate::server::{self, LinkwireServer, StoppedServer};
use crate::{cpu, floor};

/// The ratio of the baseline's throughput that issue 2 aims for.
const AIM: f64 = 0.7;
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
    let (baseline, baseline_cpu, busy_cores) = run_baseline(opts).await.context("baseline")?;
    print_figures("baseline hyper 302 from HashMap", &baseline);
    let linkwire = run_linkwire(opts).await.context("linkwire")?;
    print_figures("linkwire serve (click capture) ", &linkwire.load);
    println!(
        "  ratio linkwire / baseline       : {:.2}",
        linkwire.load.requests_per_second() / baseline.requests_per_second()
    );
    let counted = check_counts(&linkwire);
    // linkwire's HTTP handling costs what the baseline server's does (with capture switched off it
    // serves the baseline's rate), so the difference between the two servers is the click.
    let baseline_server = baseline_cpu - linkwire.cpu.load_generator;
    let click = linkwire.cpu.server - baseline_server;
    println!(
        "  CPU per redirect (warm-up included): baseline server {baseline_server:.1} µs, linkwire {:.1} µs, \
         load generator {:.1} µs → a click costs linkwire about {click:.1} µs",
        linkwire.cpu.server, linkwire.cpu.load_generator
    );
    let floor = floor::run(&linkwire.stopped.data_dir())
        .await
        .context("storage floor")?;
    // While the baseline runs, its server and the load generator keep every core busy: a request costs
    // `baseline_cpu` in all. At AIM of that rate a request may cost 1 / AIM as much, and the click
    // gets the difference.
    let budget = baseline_cpu * (1.0 / AIM - 1.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "  for {AIM} of the baseline a click may cost {budget:.1} µs of CPU ({baseline_cpu:.1} µs per baseline \
         request × (1/{AIM} − 1); the baseline run kept {busy_cores:.2} of {cores} cores busy); it costs \
         {click:.1} µs, of which SQLite alone needs {floor:.1} µs"
    );
    Ok(counted)
}

/// The baseline's figures, the CPU µs per request of this process (its server and the load generator)
/// while it ran, and how many cores that kept busy on average.
async fn run_baseline(opts: &RedirectOptions) -> Result<(LoadReport, f64, f64)> {
    let links = HashMap::from([(SLUG.to_owned(), LONG_URL.to_owned())]);
    let server = BaselineServer::start(links)?;
    let cpu_before = cpu::own_seconds()?;
    let started = Instant::now();
    let report = load::run(&load_spec(opts, server.addr)).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu::own_seconds()? - cpu_before;
    server.stop();
    let report = report?;
    let per_request = cpu / report.redirects.max(1) as f64 * 1e6;
    Ok((report, per_request, cpu / wall))
}

/// CPU µs per request during a linkwire load run.
pub(crate) struct CpuPerRequest {
    /// The `linkwire serve` process, every thread.
    pub(crate) server: f64,
    /// This process: the load generator.
    pub(crate) load_generator: f64,
}

/// What the linkwire run measured and what its database holds afterwards.
pub(crate) struct LinkwireRun {
    pub(crate) load: LoadReport,
    pub(crate) cpu: CpuPerRequest,
    /// The click queue when the load stopped.
    queue: Result<QueueState, String>,
    /// From the end of the load until the click queue was empty (None: it did not empty in time).
    written_after: Option<Duration>,
    /// From SIGTERM to process exit.
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
    let cpu_before = (cpu::child_seconds(server.pid())?, cpu::own_seconds()?);
    let load = load::run(&load_spec(opts, server.addr)).await;
    let generator_cpu = cpu::own_seconds()? - cpu_before.1;
    let queue = queue_state(&server).await;
    // The clicks still queued when the load stops are part of what it cost: the server's CPU is read
    // once they are written.
    let written_after = wait_drained(&server).await;
    let server_cpu = cpu::child_seconds(server.pid())? - cpu_before.0;
    let stopping = Instant::now();
    let (exit, stopped) = server.stop().await?;
    let drain = stopping.elapsed();
    let load = load?;
    let per_request = |seconds: f64| seconds / load.redirects.max(1) as f64 * 1e6;
    let cpu = CpuPerRequest {
        server: per_request(server_cpu),
        load_generator: per_request(generator_cpu),
    };
    let (clicks, bots, events) = count_stored(&stopped, database_url, workspace).await?;
    Ok(LinkwireRun {
        load,
        cpu,
        queue,
        written_after,
        drain,
        exit,
        clicks,
        bots,
        events,
        log_tail: stopped.log_tail(),
        stopped,
    })
}

/// Waits until the server's click queue is empty; how long that took, or None after a minute.
async fn wait_drained(server: &LinkwireServer) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if server.metric("linkwire_click_queue_depth").await.ok() == Some(0.0) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
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
            "  click queue at end of load {} (written {}) | redirects that waited on a full queue {} | SIGTERM to exit {:.2} s",
            thousands(queue.depth),
            run.written_after.map_or("not within 60 s".to_owned(), |d| format!("{:.2} s later", d.as_secs_f64())),
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
