//! The webhook receiver: a bare hyper 1 HTTP/1 server on its own multi-thread runtime, answering every
//! request `200` at once and recording, per request, its arrival time, the envelope's `created_at` and
//! `id`, and the endpoint number from the path (`/hook/N`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::runtime::Runtime;

/// One request as the receiver saw it.
pub struct Arrival {
    /// Unix microseconds when the body had been read.
    pub at_us: i64,
    /// The envelope's `created_at` in Unix microseconds (None if absent or unparsable).
    pub created_us: Option<i64>,
    pub endpoint: u32,
    pub event_id: String,
}

#[derive(Default)]
struct Shared {
    count: AtomicU64,
    arrivals: Mutex<Vec<Arrival>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Runtime,
}

impl Receiver {
    /// Starts on 127.0.0.1:0.
    pub fn start() -> Result<Self> {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0")?)
    }

    /// Starts on a given address (e.g. a port that refused connections until now).
    pub fn start_at(addr: SocketAddr) -> Result<Self> {
        Self::start_on(std::net::TcpListener::bind(addr)?)
    }

    fn start_on(listener: std::net::TcpListener) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("receiver")
            .enable_all()
            .build()?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        runtime.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => accept_loop(listener, accept_shared).await,
                Err(err) => eprintln!("receiver: listener: {err}"),
            }
        });
        Ok(Self {
            addr,
            shared,
            runtime,
        })
    }

    /// Requests received so far.
    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::Acquire)
    }

    /// Takes everything recorded so far (the counter keeps counting).
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.shared.arrivals.lock().expect("receiver lock"))
    }

    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| receive(req, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    created_at: Option<std::borrow::Cow<'a, str>>,
}

async fn receive(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let endpoint = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let at_us = now_us();
    if let Ok(body) = body {
        let arrival = match serde_json::from_slice::<Envelope>(&body) {
            Ok(env) => Arrival {
                at_us,
                created_us: env.created_at.as_deref().and_then(parse_rfc3339_us),
                endpoint,
                event_id: env.id.into_owned(),
            },
            Err(_) => Arrival {
                at_us,
                created_us: None,
                endpoint,
                event_id: String::new(),
            },
        };
        shared.arrivals.lock().expect("receiver lock").push(arrival);
        shared.count.fetch_add(1, Ordering::Release);
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(Empty::new())
        .expect("static response parts are valid"))
}

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn parse_rfc3339_us(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}
