//! The `scale` benchmark: several `linkwire serve` nodes on one PostgreSQL database.
//!
//! 1. Deliveries/s with 1, 2 and 3 nodes sharing a fresh database (one per node count), the same
//!    `LINKWIRE_ENCRYPTION_KEY` on every node, distinct data directories and ports. Node 1 starts first
//!    (it bootstraps and writes the admin key), then the others. 10 endpoints on the in-process receiver
//!    subscribe to `link.clicked`; `delivery`'s click workers are spread round-robin over the nodes for
//!    the measured time. Deliveries/s = received / (first click → last delivery); every click must reach
//!    every endpoint (received ≥ clicks × 10, with duplicates counted).
//! 2. `redirect`'s linkwire measurement (same load generator, same count check) on one node on
//!    PostgreSQL, then on one node on SQLite, in this run.
//!
//! Databases are created and dropped with the `psql` CLI.

use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::{RedirectOptions, ScaleOptions};
use crate::delivery::{
    click_worker, latencies, loadavg, unique, wait_for, CLICK_TASKS, DELIVERIES_CAP_PER_SECOND,
    DRAIN_DEADLINE,
};
use crate::receiver::{now_us, Receiver};
use crate::redirect::{check_counts, print_figures, run_linkwire_on, thousands};
use crate::server::{self, LinkwireServer};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";
const ENDPOINTS: u32 = 10;
/// The link `delivery`'s click workers request.
const SLUG: &str = "b";
const LONG_URL: &str = "https://example.com/x";

pub async fn run(opts: &ScaleOptions) -> Result<bool> {
    server::check_binary(&opts.binary)?;
    let secs = opts.seconds.as_secs();
    println!(
        "scale benchmark (PostgreSQL at 127.0.0.1:5432): {secs} s per case; load average at start: {}",
        loadavg()
    );
    let key = encryption_key()?;
    let mut ok = true;

    println!(
        "  delivery throughput, {ENDPOINTS} endpoints, {CLICK_TASKS} click tasks round-robin over the nodes \
         (capped at {} deliveries/s of load), fresh database per case:",
        thousands(DELIVERIES_CAP_PER_SECOND)
    );
    let mut one_node = None;
    for nodes in 1..=3usize {
        let db = Database::create()?;
        let result = delivery_case(opts, &db.url, &key, nodes).await;
        drop(db);
        let r = result.with_context(|| format!("delivery with {nodes} node(s)"))?;
        ok &= r.complete;
        let base = *one_node.get_or_insert(r.rate);
        println!(
            "    {nodes} node(s): {} deliveries/s  x{:.2} of 1 node  | clicks {} ({}) -> deliveries {} of {} expected, received {} (dup {}){}  | span {:.2} s  latency p50 {:.1} ms p99 {:.1} ms",
            thousands(r.rate.round() as u64),
            r.rate / base,
            thousands(r.clicks),
            r.per_node
                .iter()
                .map(|n| thousands(*n))
                .collect::<Vec<_>>()
                .join(" + "),
            thousands(r.unique),
            thousands(r.clicks * u64::from(ENDPOINTS)),
            thousands(r.received),
            thousands(r.received - r.unique),
            if r.complete { "" } else { " INCOMPLETE" },
            r.span.as_secs_f64(),
            r.p50,
            r.p99,
        );
    }

    let redirect_opts = RedirectOptions {
        measure: opts.seconds,
        binary: opts.binary.clone(),
        ..RedirectOptions::default()
    };
    println!(
        "  redirect throughput, one node, {} connections, {secs} s each (+{} s warm-up), same load generator:",
        redirect_opts.connections,
        redirect_opts.warmup.as_secs()
    );
    let db = Database::create()?;
    let pg = run_linkwire_on(&redirect_opts, &[], Some(&db.url)).await;
    drop(db);
    let pg = pg.context("redirect on PostgreSQL")?;
    print_figures("linkwire on PostgreSQL", &pg.load);
    ok &= check_counts(&pg);
    let sqlite = run_linkwire_on(&redirect_opts, &[], None)
        .await
        .context("redirect on SQLite")?;
    print_figures("linkwire on SQLite    ", &sqlite.load);
    ok &= check_counts(&sqlite);
    println!(
        "  ratio PostgreSQL / SQLite : {:.2}",
        pg.load.requests_per_second() / sqlite.load.requests_per_second()
    );
    println!("  load average at end: {}", loadavg());
    Ok(ok)
}

/// A fresh database on the local PostgreSQL, dropped (connections terminated) on drop.
struct Database {
    name: String,
    url: String,
}

impl Database {
    fn create() -> Result<Self> {
        let name = format!("lw_bench_{}", hex(&random_bytes::<8>()?));
        psql(&format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            url: format!("{SERVER_URL}/{name}"),
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(err) = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) {
            eprintln!("warning: dropping {}: {err:#}", self.name);
        }
    }
}

fn psql(sql: &str) -> Result<()> {
    let out = std::process::Command::new("psql")
        .args([ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("running psql (is the PostgreSQL client installed?)")?;
    if !out.status.success() {
        bail!(
            "psql -c {sql:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64 (standard alphabet, padded) of 32 random bytes.
fn encryption_key() -> Result<String> {
    Ok(base64(&random_bytes::<32>()?))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct ScaleRun {
    clicks: u64,
    per_node: Vec<u64>,
    received: u64,
    unique: u64,
    rate: f64,
    span: Duration,
    complete: bool,
    p50: f64,
    p99: f64,
}

async fn delivery_case(
    opts: &ScaleOptions,
    database_url: &str,
    key: &str,
    nodes: usize,
) -> Result<ScaleRun> {
    let env = [
        ("LINKWIRE_ALLOW_PRIVATE_DESTINATIONS", "true"),
        ("LINKWIRE_ALLOW_HTTP_DESTINATIONS", "true"),
        ("LINKWIRE_RETRY_SCHEDULE", "1,1,1,1,1"),
        ("LINKWIRE_ENCRYPTION_KEY", key),
    ];
    let args = ["--database-url", database_url];
    let receiver = Receiver::start()?;
    let first = LinkwireServer::start_node(&opts.binary, &env, &args, None)
        .await
        .context("node 1")?;
    for i in 0..ENDPOINTS {
        first
            .create_endpoint(
                &format!("http://{}/hook/{i}", receiver.addr),
                &["link.clicked"],
            )
            .await?;
    }
    first.create_link(SLUG, LONG_URL).await?;
    let admin_key = first.admin_key.clone();
    let mut servers = vec![first];
    for n in 2..=nodes {
        let node = LinkwireServer::start_node(&opts.binary, &env, &args, Some(&admin_key))
            .await
            .with_context(|| format!("node {n}"))?;
        servers.push(node);
    }

    let cap = DELIVERIES_CAP_PER_SECOND * opts.seconds.as_secs() / u64::from(ENDPOINTS);
    let budget = Arc::new(AtomicU64::new(cap));
    let first_click = now_us();
    let until = Instant::now() + opts.seconds;
    let mut set = JoinSet::new();
    for t in 0..CLICK_TASKS {
        let node = t % nodes;
        let addr = servers[node].addr;
        let budget = budget.clone();
        set.spawn(async move { (node, click_worker(addr, until, budget, None).await) });
    }
    let mut per_node = vec![0u64; nodes];
    while let Some(joined) = set.join_next().await {
        let (node, served) = joined?;
        per_node[node] += served;
    }
    let clicks: u64 = per_node.iter().sum();
    let expected = clicks * u64::from(ENDPOINTS);
    let arrived = wait_for(&receiver, expected, DRAIN_DEADLINE).await;
    let arrivals = receiver.take();
    for server in servers {
        let _ = server.stop().await;
    }
    receiver.stop();
    let last = arrivals
        .iter()
        .map(|a| a.at_us)
        .max()
        .unwrap_or(first_click);
    let span = Duration::from_micros((last - first_click).max(1) as u64);
    let unique = unique(&arrivals);
    let lat = latencies(&arrivals);
    Ok(ScaleRun {
        clicks,
        per_node,
        received: arrivals.len() as u64,
        unique,
        rate: arrivals.len() as f64 / span.as_secs_f64(),
        span,
        complete: arrived && unique == expected,
        p50: lat.p50,
        p99: lat.p99,
    })
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff; 32]).len(), 44);
    }
}
