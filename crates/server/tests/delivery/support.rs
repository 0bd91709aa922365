//! The harness of the delivery tests: a real server on a loopback port (system clock, short retry
//! schedule) and a real receiver with scripted answers that records every request it gets.

pub use crate::shared::*;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use linkwire_contract::SystemClock;
use linkwire_server::dns::StaticResolver;
use linkwire_server::state::AppState;
use linkwire_server::{Application, Dependencies, Settings};
use linkwire_verify::{HeaderFamily, SigningSecret, Verified, VerifyError};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tokio::sync::{oneshot, RwLock, RwLockReadGuard};

/// How long any wait in these tests may take before it is a failure.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Timing-sensitive tests (and the crash test, which loads the machine) take this exclusively;
/// every other test takes it shared, so they never overlap.
pub static SERIAL: RwLock<()> = RwLock::const_new(());

pub async fn shared() -> RwLockReadGuard<'static, ()> {
    SERIAL.read().await
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The attempt history of a delivery as `GET /api/v1/webhooks/deliveries/{id}` shows it.
pub fn attempts_of(d: &Value) -> Vec<Value> {
    d["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempt history: {d}"))
        .clone()
}
// ---------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------

/// An endpoint as created: its id and the signing secret shown once.
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub id: String,
    pub secret: String,
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to adjust the settings first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("bound").port();
        let mut settings = Settings::for_tests(dir.path());
        settings.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        settings.public_url = format!("http://127.0.0.1:{port}").parse().expect("url");
        adjust(&mut settings);
        let app = Application::build_on(
            listener,
            settings,
            Dependencies {
                clock: Arc::new(SystemClock),
                resolver: Arc::new(StaticResolver::default()),
            },
        )
        .await
        .expect("application builds");
        let key = app
            .bootstrapped
            .as_ref()
            .expect("a fresh data directory bootstraps")
            .token
            .clone();
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            base,
            key,
            state,
            client: api_client(),
            shutdown: Some(tx),
            _server: server,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the admin key.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.key)
    }

    /// Sends and decodes JSON; panics with the body when the status is not `want`.
    pub async fn json(&self, req: RequestBuilder, want: u16) -> Value {
        expect_json(req.send().await.expect("request sent"), want).await
    }

    pub async fn create_endpoint(&self, url: &str, subscriptions: &[&str]) -> CreatedEndpoint {
        let v = self
            .json(
                self.api(Method::POST, "/api/v1/webhooks/endpoints")
                    .json(&json!({"endpoint_url": url, "subscriptions": subscriptions})),
                201,
            )
            .await;
        CreatedEndpoint {
            id: s(&v["endpoint"]["id"]),
            secret: s(&v["signing_secret"]),
        }
    }

    pub async fn patch_endpoint(&self, id: &str, body: Value) -> Value {
        self.json(
            self.api(Method::PATCH, &format!("/api/v1/webhooks/endpoints/{id}"))
                .json(&body),
            200,
        )
        .await
    }

    /// Creates a link (which emits `link.created`); returns the link.
    pub async fn create_link(&self) -> Value {
        let v = self
            .json(
                self.api(Method::POST, "/api/v1/links")
                    .json(&json!({"long_url": "https://example.com/landing?q=1"})),
                201,
            )
            .await;
        v["link"].clone()
    }

    /// Follows a short URL as a desktop browser would (a human click); returns the status.
    pub async fn human_click(&self, short_url: &str) -> u16 {
        self.client
            .get(short_url)
            .header(
                "user-agent",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            )
            .send()
            .await
            .expect("click sent")
            .status()
            .as_u16()
    }

    /// The `link.created` event of a link.
    pub async fn created_event_id(&self, link_id: &str) -> String {
        let v = self
            .json(
                self.api(
                    Method::GET,
                    &format!("/api/v1/events?type=link.created&link_id={link_id}"),
                ),
                200,
            )
            .await;
        let events = v["events"].as_array().expect("events");
        assert_eq!(events.len(), 1, "{v}");
        s(&events[0]["id"])
    }

    /// Creates a link and returns its `link.created` event id.
    pub async fn link_event(&self) -> String {
        let link = self.create_link().await;
        self.created_event_id(&s(&link["id"])).await
    }

    /// The raw envelope of an event, exactly as `GET /api/v1/events/{id}` embeds it.
    pub async fn event_body(&self, id: &str) -> String {
        let resp = self
            .api(Method::GET, &format!("/api/v1/events/{id}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.expect("body");
        text.strip_prefix("{\"event\":")
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or_else(|| panic!("unexpected shape: {text}"))
            .to_owned()
    }

    /// A delivery with its attempts.
    pub async fn delivery(&self, id: &str) -> Value {
        let v = self
            .json(
                self.api(Method::GET, &format!("/api/v1/webhooks/deliveries/{id}")),
                200,
            )
            .await;
        v["delivery"].clone()
    }

    /// An endpoint's deliveries, newest first.
    pub async fn deliveries(&self, endpoint_id: &str) -> Vec<Value> {
        let v = self
            .json(
                self.api(
                    Method::GET,
                    &format!("/api/v1/webhooks/endpoints/{endpoint_id}/deliveries?limit=200"),
                ),
                200,
            )
            .await;
        v["deliveries"].as_array().expect("deliveries").clone()
    }

    /// The deliveries of `event_id` to an endpoint.
    pub async fn deliveries_of(&self, endpoint_id: &str, event_id: &str) -> Vec<Value> {
        self.deliveries(endpoint_id)
            .await
            .into_iter()
            .filter(|d| d["event_id"] == event_id)
            .collect()
    }

    /// Waits until the endpoint's only (or newest live) delivery of `event_id` has `status`; returns it
    /// with its attempts.
    pub async fn wait_delivery(&self, endpoint_id: &str, event_id: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let ds = self.deliveries_of(endpoint_id, event_id).await;
            if let Some(d) = ds.first().filter(|d| d["status"] == status) {
                return self.delivery(&s(&d["id"])).await;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "delivery of {event_id} to {endpoint_id} not {status} within {DEADLINE:?}: {ds:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a delivery (by id) has `status`; returns it with its attempts.
    pub async fn wait_delivery_id(&self, id: &str, status: &str) -> Value {
        wait_until(DEADLINE, || async {
            self.delivery(id).await["status"] == status
        })
        .await;
        self.delivery(id).await
    }

    pub async fn organization_id(&self) -> String {
        let who = self
            .json(self.api(Method::GET, "/api/v1/whoami"), 200)
            .await;
        s(&who["organization_id"])
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}
// ---------------------------------------------------------------------------------------------------
// The receiver
// ---------------------------------------------------------------------------------------------------

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            headers: Vec::new(),
            body: "receiver says hi".to_owned(),
        }
    }

    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    pub fn body(mut self, body: String) -> Self {
        self.body = body;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A header that must be present.
    pub fn h(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn event_id(&self) -> String {
        self.h("x-nim-event-id").to_owned()
    }

    pub fn attempt(&self) -> u32 {
        self.h("x-nim-delivery-attempt")
            .parse()
            .expect("numeric attempt")
    }

    pub fn timestamp(&self) -> i64 {
        self.h("x-nim-timestamp")
            .parse()
            .expect("numeric timestamp")
    }

    /// Verifies the `X-Nim-*` family alone (the Standard Webhooks headers are left out).
    pub fn verify_nim(&self, secrets: &[&str]) -> Result<Verified, VerifyError> {
        self.verify_family(secrets, |k| !k.starts_with("webhook-"))
    }

    /// Verifies the Standard Webhooks family alone (`X-Nim-Signature` is left out).
    pub fn verify_standard(&self, secrets: &[&str]) -> Result<Verified, VerifyError> {
        self.verify_family(secrets, |k| k != "x-nim-signature")
    }

    fn verify_family(
        &self,
        secrets: &[&str],
        keep: impl Fn(&str) -> bool,
    ) -> Result<Verified, VerifyError> {
        let parsed: Vec<SigningSecret> = secrets
            .iter()
            .map(|s| SigningSecret::parse(s).expect("a whsec_ secret"))
            .collect();
        let refs: Vec<&SigningSecret> = parsed.iter().collect();
        let headers = self
            .headers
            .iter()
            .filter(|(k, _)| keep(&k.to_ascii_lowercase()))
            .map(|(k, v)| (k.as_str(), v.as_str()));
        linkwire_verify::verify(headers, &self.body, &refs, unix_now(), 300)
    }

    /// Asserts both header families verify with `secret`.
    pub fn assert_signed(&self, secret: &str) {
        let nim = self
            .verify_nim(&[secret])
            .unwrap_or_else(|e| panic!("X-Nim-Signature does not verify: {e}; {:?}", self.headers));
        assert_eq!(nim.family, HeaderFamily::Nim);
        let std = self.verify_standard(&[secret]).unwrap_or_else(|e| {
            panic!("webhook-signature does not verify: {e}; {:?}", self.headers)
        });
        assert_eq!(std.family, HeaderFamily::Standard);
        assert_eq!(std.event_id.as_deref(), Some(self.event_id().as_str()));
    }
}

struct Script {
    queue: VecDeque<Reply>,
    default: Reply,
}

struct ReceiverInner {
    script: Mutex<Script>,
    received: Mutex<Vec<Received>>,
    answered: AtomicUsize,
}

/// A real HTTP server on 127.0.0.1 with scripted answers.
pub struct TestReceiver {
    pub addr: SocketAddr,
    pub url: String,
    inner: Arc<ReceiverInner>,
    task: tokio::task::JoinHandle<()>,
}

impl TestReceiver {
    /// Answers every request with `default`.
    pub async fn start(default: Reply) -> TestReceiver {
        Self::scripted(Vec::new(), default).await
    }

    /// Answers the first requests from `queue`, in order, then `default`.
    pub async fn scripted(queue: Vec<Reply>, default: Reply) -> TestReceiver {
        let inner = Arc::new(ReceiverInner {
            script: Mutex::new(Script {
                queue: queue.into(),
                default,
            }),
            received: Mutex::new(Vec::new()),
            answered: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("address");
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestReceiver {
            addr,
            url: format!("http://{addr}/hook"),
            inner,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.inner.received.lock().expect("lock").len()
    }

    /// Requests answered so far (a scripted delay is over).
    pub fn answered(&self) -> usize {
        self.inner.answered.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_within(n, DEADLINE).await
    }

    pub async fn wait_for_within(&self, n: usize, deadline: Duration) -> Vec<Received> {
        wait_until(deadline, || async { self.count() >= n }).await;
        self.requests()
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inner): State<Arc<ReceiverInner>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> AxumResponse {
    // One critical section, so the recorded order is the order the script was consumed in.
    let reply = {
        let mut received = inner.received.lock().expect("lock");
        let reply = {
            let mut script = inner.script.lock().expect("lock");
            let default = script.default.clone();
            script.queue.pop_front().unwrap_or(default)
        };
        received.push(Received {
            method: method.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body,
            at: Instant::now(),
        });
        reply
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    inner.answered.fetch_add(1, Ordering::SeqCst);
    let mut resp = (
        StatusCode::from_u16(reply.status).expect("valid status"),
        reply.body,
    )
        .into_response();
    for (k, v) in &reply.headers {
        resp.headers_mut().insert(
            HeaderName::try_from(k.as_str()).expect("header name"),
            HeaderValue::try_from(v.as_str()).expect("header value"),
        );
    }
    resp
}
