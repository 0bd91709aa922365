//! The load generator: N tasks, each on its own keep-alive HTTP/1 connection (TCP_NODELAY), looping
//! `GET <path>` until a deadline. Requests started during the warm-up only count towards the total of
//! redirects received; requests started in the measured window also record their latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, LOCATION, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// A desktop Chrome user agent, so linkwire classifies the clicks as human.
pub const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                              (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

const STUCK_AFTER: Duration = Duration::from_secs(30);

pub struct LoadSpec {
    pub addr: SocketAddr,
    pub path: String,
    /// The `Location` every 302 must carry.
    pub expected_location: String,
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one run of the generator saw.
pub struct LoadReport {
    /// Every 302 received, warm-up included.
    pub redirects: u64,
    /// Non-302 statuses, wrong `Location`s, and transport failures, warm-up included.
    pub errors: u64,
    pub measured: Duration,
    /// Latency of each successful request started in the measured window, sorted ascending.
    latencies_ns: Vec<u64>,
}

impl LoadReport {
    pub fn requests_per_second(&self) -> f64 {
        self.latencies_ns.len() as f64 / self.measured.as_secs_f64()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; 0 when nothing was measured.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return 0.0;
        }
        let rank = (q * self.latencies_ns.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_ns.len()) - 1;
        self.latencies_ns[index] as f64 / 1e6
    }
}

#[derive(Default)]
struct Tally {
    redirects: u64,
    errors: u64,
    latencies_ns: Vec<u64>,
}

pub async fn run(spec: &LoadSpec) -> Result<LoadReport> {
    let start = Instant::now();
    let window = Window {
        measure_from: start + spec.warmup,
        until: start + spec.warmup + spec.measure,
    };
    let mut workers = JoinSet::new();
    for _ in 0..spec.connections {
        let location = spec.expected_location.clone();
        workers.spawn(worker(spec.addr, request_template(spec), location, window));
    }
    // A request in flight at the deadline may finish late, but not this late: the target is stuck.
    let give_up = window.until + STUCK_AFTER;
    let mut total = Tally::default();
    loop {
        let tally = match tokio::time::timeout_at(give_up.into(), workers.join_next()).await {
            Ok(Some(joined)) => joined?,
            Ok(None) => break,
            Err(_) => bail!("requests still unanswered {STUCK_AFTER:?} after the deadline"),
        };
        total.redirects += tally.redirects;
        total.errors += tally.errors;
        total.latencies_ns.extend(tally.latencies_ns);
    }
    total.latencies_ns.sort_unstable();
    Ok(LoadReport {
        redirects: total.redirects,
        errors: total.errors,
        measured: spec.measure,
        latencies_ns: total.latencies_ns,
    })
}

#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    until: Instant,
}

#[derive(Clone)]
struct RequestTemplate {
    path: String,
    host: String,
}

fn request_template(spec: &LoadSpec) -> RequestTemplate {
    RequestTemplate {
        path: spec.path.clone(),
        host: spec.addr.to_string(),
    }
}

impl RequestTemplate {
    fn build(&self) -> Request<Empty<Bytes>> {
        Request::get(self.path.as_str())
            .header(HOST, self.host.as_str())
            .header(USER_AGENT, BROWSER_UA)
            .body(Empty::new())
            .expect("request parts are valid")
    }
}

async fn worker(
    addr: SocketAddr,
    template: RequestTemplate,
    expected_location: String,
    window: Window,
) -> Tally {
    let mut tally = Tally::default();
    let mut sender = None;
    while Instant::now() < window.until {
        let conn = match sender.as_mut() {
            Some(conn) => conn,
            None => match connect(addr).await {
                Ok(conn) => sender.insert(conn),
                Err(_) => {
                    // The target is gone; counting one error per retry would only inflate the figure.
                    tally.errors += 1;
                    break;
                }
            },
        };
        let started = Instant::now();
        let outcome = one_request(conn, template.build(), &expected_location).await;
        if outcome.redirected {
            tally.redirects += 1;
        }
        if !outcome.ok {
            tally.errors += 1;
        } else if started >= window.measure_from {
            tally.latencies_ns.push(started.elapsed().as_nanos() as u64);
        }
        if outcome.broken {
            sender = None;
        }
    }
    tally
}

pub(crate) async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// How one request went.
#[derive(Default)]
struct Outcome {
    /// A 302 status line arrived, so the target served (and counted) a redirect.
    redirected: bool,
    /// A 302 with the expected `Location` and a complete body.
    ok: bool,
    /// The connection failed and has to be replaced.
    broken: bool,
}

async fn one_request(
    sender: &mut SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
    expected_location: &str,
) -> Outcome {
    let broken = Outcome {
        broken: true,
        ..Outcome::default()
    };
    if sender.ready().await.is_err() {
        return broken;
    }
    let Ok(response) = sender.send_request(request).await else {
        return broken;
    };
    let redirected = response.status() == StatusCode::FOUND;
    let location_ok = response
        .headers()
        .get(LOCATION)
        .is_some_and(|v| v.as_bytes() == expected_location.as_bytes());
    let complete = response.into_body().collect().await.is_ok();
    Outcome {
        redirected,
        ok: redirected && location_ok && complete,
        broken: !complete,
    }
}
