//! The `delivery` benchmark: webhook deliveries per second of `linkwire serve` against a bare signed-POST
//! loop (same HTTP client settings, same HMAC, no persistence) run in this process, event-to-delivery
//! latency at fixed click rates, and a backlog for a dead receiver (memory, then drain rate).
//!
//! Every case uses the same in-process receiver (`receiver.rs`) and a fresh `linkwire serve` child.
//! Events are `link.clicked`, made by human clicks (`GET /b` with a browser User-Agent); each event fans out
//! to one delivery per endpoint. Latency is the receiver's arrival time minus the envelope's `created_at`
//! (set when the click is taken; millisecond precision, so figures may read up to 1 ms high).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use linkwire_contract::DeliveryStatus;
use linkwire_store::{Store, StoreOptions};
use linkwire_verify::{sign_headers, SigningSecret};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::DeliveryOptions;
use crate::load::{self, BROWSER_UA};
use crate::receiver::{now_us, Arrival, Receiver};
use crate::redirect::thousands;
use crate::server::{self, LinkwireServer};

const SLUG: &str = "b";
const LONG_URL: &str = "https://example.com/x";
const BARE_TASKS: usize = 64;
pub(crate) const CLICK_TASKS: usize = 16;
/// Fan-out cases stop clicking once clicks × endpoints reaches this many deliveries per measured second.
pub(crate) const DELIVERIES_CAP_PER_SECOND: u64 = 20_000;
pub(crate) const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

fn env(retry_schedule: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("LINKWIRE_ALLOW_PRIVATE_DESTINATIONS", "true"),
        ("LINKWIRE_ALLOW_HTTP_DESTINATIONS", "true"),
        ("LINKWIRE_RETRY_SCHEDULE", retry_schedule),
    ]
}

pub async fn run(opts: &DeliveryOptions) -> Result<bool> {
    server::check_binary(&opts.binary)?;
    let secs = opts.seconds.as_secs();
    println!(
        "delivery benchmark: {secs} s per case; load average at start: {}",
        loadavg()
    );
    let mut ok = true;

    let bare = bare_loop(opts.seconds).await.context("bare loop")?;
    println!(
        "  bare signed-POST loop ({BARE_TASKS} tasks, reqwest + sign_headers, no persistence): {} POST/s",
        thousands(bare.round() as u64)
    );

    println!("  throughput, clicks as fast as {CLICK_TASKS} tasks go (capped at {} deliveries/s of load):", thousands(DELIVERIES_CAP_PER_SECOND));
    // The three cases the aim names, at the default per-endpoint limit of 8 concurrent attempts, then
    // one endpoint allowed 64 (as many as the bare loop's tasks), to show the engine's own capacity.
    for (endpoints, limit) in [(1u32, None), (10, None), (100, None), (1, Some(64u32))] {
        let r = throughput(opts, endpoints, limit)
            .await
            .with_context(|| format!("throughput with {endpoints} endpoints"))?;
        ok &= r.complete;
        let label = match limit {
            Some(l) => format!("{endpoints:>3} endpoint(s), max_concurrency {l}"),
            None => format!("{endpoints:>3} endpoint(s)"),
        };
        println!(
            "    {label}: {} deliveries/s  ratio to bare {:.3}  | clicks {} -> deliveries {} of {} expected (dup {}){}  | span {:.2} s  latency p50 {:.1} ms p99 {:.1} ms",
            thousands(r.rate.round() as u64),
            r.rate / bare,
            thousands(r.clicks),
            thousands(r.unique),
            thousands(r.clicks * u64::from(endpoints)),
            thousands(r.received - r.unique),
            if r.complete { "" } else { " INCOMPLETE" },
            r.span.as_secs_f64(),
            r.lat.p50,
            r.lat.p99,
        );
    }

    println!("  latency, 1 endpoint, paced clicks:");
    for rate in [500u64, 5_000] {
        let r = latency(opts, rate)
            .await
            .with_context(|| format!("latency at {rate}/s"))?;
        ok &= r.complete;
        println!(
            "    {:>5} events/s target: achieved {:.0} clicks/s, {} delivered of {}{}  | event-to-delivery p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            thousands(rate),
            r.achieved,
            thousands(r.unique),
            thousands(r.clicks),
            if r.complete { "" } else { " INCOMPLETE" },
            r.lat.p50,
            r.lat.p99,
            r.lat.max,
        );
    }

    if opts.backlog_clicks > 0 {
        match backlog(opts).await {
            Ok(b) => {
                ok &= b.complete;
                println!(
                    "  backlog: {} clicks x 100 endpoints on a closed port; {} deliveries waiting after {:.1} s",
                    thousands(b.clicks),
                    thousands(b.waiting),
                    b.fill.as_secs_f64()
                );
                println!(
                    "    server VmRSS with the backlog waiting: {:.1} MB (peak sampled {:.1} MB)",
                    b.rss_mb, b.rss_peak_mb
                );
                println!(
                    "    drain after the receiver opened (and retry-now brought {} waiting retries forward): {} delivered{} in {:.2} s from opening = {} deliveries/s ({} /s from first to last arrival)",
                    thousands(b.rescheduled),
                    thousands(b.delivered),
                    if b.complete { "" } else { " INCOMPLETE" },
                    b.from_open.as_secs_f64(),
                    thousands((b.delivered as f64 / b.from_open.as_secs_f64()).round() as u64),
                    thousands((b.delivered as f64 / b.first_to_last.as_secs_f64().max(1e-6)).round() as u64),
                );
            }
            Err(err) => {
                ok = false;
                println!("  backlog: FAILED: {err:#}");
            }
        }
    } else {
        println!("  backlog: skipped (--backlog-clicks 0)");
    }
    println!("  load average at end: {}", loadavg());
    Ok(ok)
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// The same client settings as the engine's sender (crates/delivery/src/sender.rs), minus its DNS guard.
fn engine_like_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?)
}

/// POSTs/s of a bare loop: build an envelope, sign it, POST it, read the answer.
async fn bare_loop(measure: Duration) -> Result<f64> {
    let receiver = Receiver::start()?;
    let client = engine_like_client()?;
    let secret = SigningSecret::from_bytes(&[7u8; 32]);
    let url = format!("http://{}/hook/0", receiver.addr);
    let until = Instant::now() + measure;
    let mut tasks = JoinSet::new();
    for task in 0..BARE_TASKS {
        let (client, secret, url) = (client.clone(), secret.clone(), url.clone());
        tasks.spawn(async move {
            let mut ok = 0u64;
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let id = format!("evt_bare{task:02}{n:012}");
                let body = envelope(&id);
                let ts = now_us() / 1_000_000;
                let sig = sign_headers(&[&secret], &id, ts, body.as_bytes());
                let ts = ts.to_string();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("user-agent", "linkwire-webhooks/bench")
                    .header("x-nim-event-id", &id)
                    .header("x-nim-event-type", "link.clicked")
                    .header("x-nim-timestamp", &ts)
                    .header("x-nim-signature", sig.nim_signature)
                    .header("x-nim-delivery-attempt", "1")
                    .header("x-nim-delivery-reason", "live")
                    .header("x-nim-delivery-id", &id)
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", &ts)
                    .header("webhook-signature", sig.webhook_signature)
                    .body(body)
                    .send()
                    .await;
                if let Ok(response) = sent {
                    let good = response.status().is_success();
                    if response.bytes().await.is_ok() && good {
                        ok += 1;
                    }
                }
            }
            ok
        });
    }
    let mut total = 0;
    while let Some(joined) = tasks.join_next().await {
        total += joined?;
    }
    receiver.stop();
    Ok(total as f64 / measure.as_secs_f64())
}

/// An envelope about the size and shape of a `link.clicked` delivery body.
fn envelope(id: &str) -> String {
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "id": id,
        "type": "link.clicked",
        "created_at": created,
        "api_version": "2025-01-01",
        "workspace_id": "0b8f9a52-4a6e-4c55-9d55-2d1f3b0f6a11",
        "data": {
            "click": {
                "id": "clk_01J7ZQ3Y8K6T2M4N5P6Q7R8S9T",
                "link_id": "lnk_01J7ZQ3Y8K6T2M4N5P6Q7R8S9U",
                "short_code": "b",
                "short_url": "http://127.0.0.1:8080/b",
                "long_url": "https://example.com/x",
                "clicked_at": created,
                "country": null,
                "referrer": null,
                "device": "desktop",
                "browser": "Chrome",
                "os": "Windows",
                "is_bot": false,
                "is_qr": false
            }
        }
    })
    .to_string()
}

pub(crate) struct Latencies {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    max: f64,
}

/// Event-to-delivery latency in ms over the arrivals.
pub(crate) fn latencies(arrivals: &[Arrival]) -> Latencies {
    let mut v: Vec<i64> = arrivals
        .iter()
        .filter_map(|a| a.created_us.map(|c| a.at_us - c))
        .collect();
    v.sort_unstable();
    let q = |q: f64| {
        if v.is_empty() {
            return 0.0;
        }
        let rank = (q * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1] as f64 / 1e3
    };
    Latencies {
        p50: q(0.50),
        p99: q(0.99),
        max: q(1.0),
    }
}

pub(crate) fn unique(arrivals: &[Arrival]) -> u64 {
    arrivals
        .iter()
        .map(|a| (a.endpoint, a.event_id.as_str()))
        .collect::<HashSet<_>>()
        .len() as u64
}

/// A server with `endpoints` endpoints at `target` (`/hook/0..`) and the `b` link.
async fn setup(
    opts: &DeliveryOptions,
    retry: &'static str,
    target: SocketAddr,
    endpoints: u32,
) -> Result<LinkwireServer> {
    let server = LinkwireServer::start_with_env(&opts.binary, &env(retry)).await?;
    for i in 0..endpoints {
        server
            .create_endpoint(&format!("http://{target}/hook/{i}"), &["link.clicked"])
            .await?;
    }
    server.create_link(SLUG, LONG_URL).await?;
    Ok(server)
}

/// Clicks `GET /b` on one keep-alive connection until `until` or until `budget` runs out; with `pace`
/// (first send time, interval), click `k` goes at `first + k × interval`. Returns the 302s received.
pub(crate) async fn click_worker(
    addr: SocketAddr,
    until: Instant,
    budget: Arc<AtomicU64>,
    pace: Option<(Instant, Duration)>,
) -> u64 {
    let mut served = 0;
    let mut sender = None;
    let mut k = 0u32;
    loop {
        if let Some((first, interval)) = pace {
            let at = first + interval * k;
            if at >= until {
                break;
            }
            tokio::time::sleep_until(at).await;
            k += 1;
        } else if Instant::now() >= until {
            break;
        }
        if budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1))
            .is_err()
        {
            break;
        }
        let conn = match sender.as_mut() {
            Some(conn) => conn,
            None => match load::connect(addr).await {
                Ok(conn) => sender.insert(conn),
                Err(_) => break,
            },
        };
        let request = Request::get(format!("/{SLUG}"))
            .header(HOST, addr.to_string())
            .header(USER_AGENT, BROWSER_UA)
            .body(Empty::<Bytes>::new())
            .expect("request parts are valid");
        if conn.ready().await.is_err() {
            sender = None;
            continue;
        }
        match conn.send_request(request).await {
            Ok(response) => {
                let found = response.status() == StatusCode::FOUND;
                if response.into_body().collect().await.is_err() {
                    sender = None;
                }
                if found {
                    served += 1;
                }
            }
            Err(_) => sender = None,
        }
    }
    served
}

async fn clicks(
    addr: SocketAddr,
    tasks: usize,
    measure: Duration,
    budget: u64,
    rate: Option<u64>,
) -> Result<u64> {
    let start = Instant::now();
    let until = start + measure;
    let budget = Arc::new(AtomicU64::new(budget));
    let mut set = JoinSet::new();
    for t in 0..tasks {
        let pace = rate.map(|r| {
            let interval = Duration::from_secs_f64(tasks as f64 / r as f64);
            (
                start + Duration::from_secs_f64(t as f64 / r as f64),
                interval,
            )
        });
        set.spawn(click_worker(addr, until, budget.clone(), pace));
    }
    let mut served = 0;
    while let Some(joined) = set.join_next().await {
        served += joined?;
    }
    Ok(served)
}

/// Waits until the receiver has `expected` requests or the deadline passes.
pub(crate) async fn wait_for(receiver: &Receiver, expected: u64, deadline: Duration) -> bool {
    let give_up = Instant::now() + deadline;
    while receiver.count() < expected {
        if Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Stragglers (duplicates) are not waited for.
    true
}

struct Throughput {
    clicks: u64,
    received: u64,
    unique: u64,
    rate: f64,
    span: Duration,
    complete: bool,
    lat: Latencies,
}

async fn throughput(
    opts: &DeliveryOptions,
    endpoints: u32,
    max_concurrency: Option<u32>,
) -> Result<Throughput> {
    let receiver = Receiver::start()?;
    let server = setup(opts, "1,1,1,1,1", receiver.addr, endpoints).await?;
    if let Some(limit) = max_concurrency {
        server.set_max_concurrency(limit).await?;
    }
    let cap = DELIVERIES_CAP_PER_SECOND * opts.seconds.as_secs() / u64::from(endpoints);
    let first_click = now_us();
    let served = clicks(server.addr, CLICK_TASKS, opts.seconds, cap, None).await?;
    let expected = served * u64::from(endpoints);
    let complete = wait_for(&receiver, expected, DRAIN_DEADLINE).await;
    let arrivals = receiver.take();
    let _ = server.stop().await;
    receiver.stop();
    let last = arrivals
        .iter()
        .map(|a| a.at_us)
        .max()
        .unwrap_or(first_click);
    let span = Duration::from_micros((last - first_click).max(1) as u64);
    Ok(Throughput {
        clicks: served,
        received: arrivals.len() as u64,
        unique: unique(&arrivals),
        rate: arrivals.len() as f64 / span.as_secs_f64(),
        span,
        complete,
        lat: latencies(&arrivals),
    })
}

struct LatencyRun {
    clicks: u64,
    unique: u64,
    achieved: f64,
    complete: bool,
    lat: Latencies,
}

async fn latency(opts: &DeliveryOptions, rate: u64) -> Result<LatencyRun> {
    let receiver = Receiver::start()?;
    let server = setup(opts, "1,1,1,1,1", receiver.addr, 1).await?;
    let tasks = (rate / 250).clamp(4, 32) as usize;
    let served = clicks(server.addr, tasks, opts.seconds, u64::MAX, Some(rate)).await?;
    let complete = wait_for(&receiver, served, DRAIN_DEADLINE).await;
    let arrivals = receiver.take();
    let _ = server.stop().await;
    receiver.stop();
    Ok(LatencyRun {
        clicks: served,
        unique: unique(&arrivals),
        achieved: served as f64 / opts.seconds.as_secs_f64(),
        complete,
        lat: latencies(&arrivals),
    })
}

struct Backlog {
    clicks: u64,
    waiting: u64,
    fill: Duration,
    rss_mb: f64,
    rss_peak_mb: f64,
    delivered: u64,
    from_open: Duration,
    first_to_last: Duration,
    /// Retries brought forward by retry-now when the receiver opened.
    rescheduled: u64,
    complete: bool,
}

fn vm_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

async fn backlog(opts: &DeliveryOptions) -> Result<Backlog> {
    const ENDPOINTS: u32 = 100;
    // A port nothing listens on (yet): connections are refused until the receiver binds it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let server = setup(opts, "30,1,1,1,1", dead, ENDPOINTS).await?;
    let pid = server.pid().context("no pid")?;
    let started = Instant::now();
    let served = clicks(
        server.addr,
        CLICK_TASKS,
        Duration::from_secs(600),
        opts.backlog_clicks,
        None,
    )
    .await?;
    let expected = served * u64::from(ENDPOINTS);
    // The server keeps running; its SQLite database (WAL) can be read alongside.
    let store = Store::open_sqlite_dir(server.data_dir(), &StoreOptions::default())
        .await
        .context("opening the server's database")?;
    let mut rss_peak: f64 = 0.0;
    let give_up = Instant::now() + Duration::from_secs(600);
    let waiting = loop {
        rss_peak = rss_peak.max(vm_rss_mb(pid).unwrap_or(0.0));
        let unfinished = store
            .count_deliveries(&[DeliveryStatus::Pending, DeliveryStatus::Delivering])
            .await? as u64;
        if unfinished >= expected || Instant::now() >= give_up {
            break unfinished;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let fill = started.elapsed();
    // Let the first attempts fail against the closed port for a moment, then sample memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = vm_rss_mb(pid).unwrap_or(0.0);
    rss_peak = rss_peak.max(rss);
    store.close().await;

    // The receiver is back; the operator sends the waiting retries now rather than at their scheduled
    // time (30 s after each first attempt), so the figure is the engine's drain rate, not the schedule's.
    let receiver = Receiver::start_at(dead)?;
    let opened = now_us();
    // Attempts already in flight against the closed port fail after that call and schedule their
    // retry 30 s out; retry-now is repeated (as an operator would) until it finds nothing waiting.
    let endpoint_ids = server.endpoint_ids().await?;
    let mut rescheduled = 0;
    for _round in 0..20 {
        let mut this_round = 0;
        for id in &endpoint_ids {
            this_round += server.retry_now(id).await?;
        }
        rescheduled += this_round;
        if this_round == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let complete = wait_for(&receiver, expected, Duration::from_secs(600)).await;
    let arrivals = receiver.take();
    let _ = server.stop().await;
    receiver.stop();
    let first = arrivals.iter().map(|a| a.at_us).min().unwrap_or(opened);
    let last = arrivals.iter().map(|a| a.at_us).max().unwrap_or(opened);
    Ok(Backlog {
        clicks: served,
        waiting,
        fill,
        rss_mb: rss,
        rss_peak_mb: rss_peak,
        delivered: unique(&arrivals),
        from_open: Duration::from_micros((last - opened).max(1) as u64),
        first_to_last: Duration::from_micros((last - first).max(1) as u64),
        rescheduled,
        complete,
    })
}
