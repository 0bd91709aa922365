//! A one-request HTTP/1 client for the few API calls around a benchmark (health, whoami, link creation).
//! Each call opens its own connection; speed does not matter here.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(5);

pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, if the status is `expected`.
    pub fn json(&self, expected: StatusCode) -> Result<serde_json::Value> {
        if self.status != expected {
            bail!(
                "expected {expected}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }
}

pub async fn get(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Result<Reply> {
    send(addr, Method::GET, path, bearer, None).await
}

pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<Reply> {
    send(addr, Method::POST, path, bearer, Some(body)).await
}

pub async fn patch_json(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<Reply> {
    send(addr, Method::PATCH, path, bearer, Some(body)).await
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<Reply> {
    tokio::time::timeout(TIMEOUT, send_now(addr, method, path, bearer, json))
        .await
        .with_context(|| format!("{path}: no answer within {TIMEOUT:?}"))?
}

async fn send_now(
    addr: SocketAddr,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    json: Option<&serde_json::Value>,
) -> Result<Reply> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);

    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if let Some(key) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {key}"));
    }
    let body = match json {
        Some(value) => {
            request = request.header(CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(value)?)
        }
        None => Bytes::new(),
    };
    let response = sender.send_request(request.body(Full::new(body))?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply { status, body })
}
