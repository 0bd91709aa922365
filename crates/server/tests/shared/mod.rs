//! Helpers shared by the black-box test binaries (`it`, `delivery`): ports, polling, JSON answers.
// Each binary uses a subset.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::Value;

/// A free loopback port for a child process (bound, read, released: a tiny race, acceptable in tests;
/// in-process servers bind port 0 themselves through `Application::build_on`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("address")
        .port()
}

/// Polls `cond` every 10 ms until it holds; panics after `deadline`.
pub async fn wait_until<F, Fut>(deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return;
        }
        assert!(
            start.elapsed() < deadline,
            "condition not met within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Decodes a JSON answer, asserting its status (the body is shown when it differs).
pub async fn expect_json(resp: Response, want: u16) -> Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status.as_u16(), want, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts an API error: status, `error.code`, a message and a request id.
pub async fn expect_error(resp: Response, status: u16, code: &str) -> Value {
    let v = expect_json(resp, status).await;
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    assert!(v["error"]["request_id"].is_string(), "{v}");
    v
}

/// A JSON string value, owned.
pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}
