//! The harness: a real server on a loopback port with a manual clock and a static DNS resolver.

pub use crate::shared::*;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use linkwire_contract::{ManualClock, Plan, ScopeSet, Timestamp};
use linkwire_server::auth;
use linkwire_server::dns::StaticResolver;
use linkwire_server::{Application, Dependencies, Settings};
use linkwire_store::CredentialKind;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;

pub const IPHONE_SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
pub const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
pub const WINDOWS_CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// How long any wait in these tests may take before it is a failure.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn start_time() -> Timestamp {
    DateTime::parse_from_rfc3339("2026-03-30T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

/// A second tenant: its own organization, workspace and admin key.
pub struct Tenant {
    pub key: String,
    pub workspace_id: String,
    pub organization_id: String,
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub clock: Arc<ManualClock>,
    pub resolver: Arc<StaticResolver>,
    /// The service's store (not the whole state: a held state would keep the click queue open and
    /// stall graceful shutdown).
    pub store: linkwire_store::Store,
    /// Redirects disabled, so 302s can be inspected.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
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
        let clock = Arc::new(ManualClock::new(start_time()));
        let resolver = Arc::new(StaticResolver::default());
        let app = Application::build_on(
            listener,
            settings,
            Dependencies {
                clock: clock.clone(),
                resolver: resolver.clone(),
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
        let store = app.state().store.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        TestApp {
            base,
            key,
            clock,
            resolver,
            store,
            client,
            shutdown: Some(tx),
            server: Some(server),
            dir: Some(dir),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the admin key.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.api_as(&self.key, method, path)
    }

    pub fn api_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// Sends and decodes JSON; panics with the body when the status is not `want`.
    pub async fn json(&self, req: RequestBuilder, want: u16) -> Value {
        let resp = req.send().await.expect("request sent");
        expect_json(resp, want).await
    }

    pub async fn create_link(&self, body: Value) -> Value {
        let v = self
            .json(self.api(Method::POST, "/api/v1/links").json(&body), 201)
            .await;
        v["link"].clone()
    }

    pub async fn create_link_as(&self, key: &str, body: Value) -> Value {
        let v = self
            .json(
                self.api_as(key, Method::POST, "/api/v1/links").json(&body),
                201,
            )
            .await;
        v["link"].clone()
    }

    /// GETs `path` (a short-link path, possibly with a query) with the given user agent.
    pub async fn click(&self, path: &str, ua: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::USER_AGENT, ua)
            .send()
            .await
            .expect("click sent")
    }

    /// The admin workspace's events (newest first) for a query string such as `type=link.created`.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        self.events_as(&self.key, query).await
    }

    pub async fn events_as(&self, key: &str, query: &str) -> Vec<Value> {
        let v = self
            .json(
                self.api_as(
                    key,
                    Method::GET,
                    &format!("/api/v1/events?limit=500&{query}"),
                ),
                200,
            )
            .await;
        v["events"].as_array().expect("events array").clone()
    }

    /// Events of `link_id`, optionally of one type.
    pub async fn link_events(&self, link_id: &str, event_type: Option<&str>) -> Vec<Value> {
        let mut q = format!("link_id={link_id}");
        if let Some(t) = event_type {
            q.push_str(&format!("&type={t}"));
        }
        self.events(&q).await
    }

    /// Analytics totals for a link.
    pub async fn totals(&self, link_id: &str, include_bots: bool) -> Value {
        let v = self
            .json(
                self.api(
                    Method::GET,
                    &format!(
                        "/api/v1/links/{link_id}/analytics?include_bots={}",
                        u8::from(include_bots)
                    ),
                ),
                200,
            )
            .await;
        v["totals"].clone()
    }

    /// Waits until every click queued so far is written (the click queue is drained).
    pub async fn clicks_settled(&self, link_id: &str, total_with_bots: u64) {
        wait_until(DEADLINE, || async {
            self.totals(link_id, true).await["clicks"].as_u64() == Some(total_with_bots)
        })
        .await;
    }

    /// A second organization + workspace with an all-scopes API key.
    pub async fn second_tenant(&self) -> Tenant {
        self.tenant_with(Plan::Enterprise, ScopeSet::all_api_key_scopes())
            .await
    }

    pub async fn tenant_with(&self, plan: Plan, scopes: ScopeSet) -> Tenant {
        let now = self.clock_now();
        let store = &self.store;
        let org = store
            .create_organization("Other org", plan, now)
            .await
            .expect("org");
        let ws = store
            .create_workspace(org.id, "Other workspace", now)
            .await
            .expect("workspace");
        let issued = auth::issue(
            store,
            ws.id,
            CredentialKind::ApiKey,
            "test key",
            None,
            &scopes,
            now,
        )
        .await
        .unwrap_or_else(|e| panic!("issue key: {e}"));
        Tenant {
            key: issued.token,
            workspace_id: ws.id.to_string(),
            organization_id: org.id.to_string(),
        }
    }

    /// A key in the admin workspace with only `scopes`.
    pub async fn key_with(&self, scopes: &str) -> String {
        let who = self
            .json(self.api(Method::GET, "/api/v1/whoami"), 200)
            .await;
        let ws = who["workspace_id"]
            .as_str()
            .expect("workspace id")
            .parse()
            .expect("uuid");
        auth::issue(
            &self.store,
            ws,
            CredentialKind::ApiKey,
            "scoped",
            None,
            &ScopeSet::parse(scopes).expect("scopes"),
            self.clock_now(),
        )
        .await
        .unwrap_or_else(|e| panic!("issue key: {e}"))
        .token
    }

    pub fn clock_now(&self) -> Timestamp {
        use linkwire_contract::Clock;
        self.clock.now()
    }

    /// Stops the server gracefully, waits for it (it drains the click queue) and hands back the data
    /// directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server result");
        }
        self.dir.take().expect("data directory")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

pub fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}
pub fn location(resp: &Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("no Location on {}", resp.status()))
        .to_str()
        .expect("ascii location")
        .to_owned()
}
