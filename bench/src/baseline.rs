//! The baseline: the least a redirect server can do. A bare hyper 1 HTTP/1 server on its own
//! multi-thread runtime (so it gets its own worker threads, as the linkwire child process does),
//! answering each request with a 302 looked up from a `HashMap`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::runtime::Runtime;

type Links = Arc<HashMap<String, String>>;

pub struct BaselineServer {
    pub addr: SocketAddr,
    runtime: Runtime,
}

impl BaselineServer {
    /// Starts serving `links` (path without the leading slash → long URL) on 127.0.0.1:0.
    pub fn start(links: HashMap<String, String>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("baseline")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let links = Arc::new(links);
        runtime.spawn(async move {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => accept_loop(listener, links).await,
                Err(err) => eprintln!("baseline: listener: {err}"),
            }
        });
        Ok(Self { addr, runtime })
    }

    pub fn stop(self) {
        self.runtime.shutdown_background();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, links: Links) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let links = links.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| redirect(req, links.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn redirect(
    req: Request<Incoming>,
    links: Links,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let target = (req.method() == hyper::Method::GET)
        .then(|| links.get(req.uri().path().trim_start_matches('/')))
        .flatten();
    let mut response = Response::builder();
    response = match target {
        Some(url) => response
            .status(StatusCode::FOUND)
            .header(LOCATION, url.as_str())
            .header(CACHE_CONTROL, "private, no-store"),
        None => response.status(StatusCode::NOT_FOUND),
    };
    Ok(response
        .body(Empty::new())
        .expect("static response parts are valid"))
}
