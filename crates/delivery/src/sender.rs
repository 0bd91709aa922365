//! One HTTP attempt: build the signed request, send it with timeouts and no redirects, read at most
//! 64 KiB of the answer (keeping 2 KiB), and classify what happened.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use linkwire_contract::{AttemptOutcome, DeliveryId, DeliveryReason, EventId, EventType};
use linkwire_verify::{sign_headers, SigningSecret};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::guard;

/// How much of a response is read, and how much of it is kept in history.
pub const MAX_RESPONSE_READ: usize = 64 * 1024;
pub const KEPT_SNIPPET: usize = 2 * 1024;

/// Headers a destination's custom headers may never override.
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-nim-event-id",
    "x-nim-event-type",
    "x-nim-timestamp",
    "x-nim-signature",
    "x-nim-delivery-attempt",
    "x-nim-delivery-reason",
    "x-nim-delivery-id",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "host",
    "content-length",
    "transfer-encoding",
];

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub allow_private: bool,
    pub allow_http: bool,
    pub user_agent: String,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(15),
            allow_private: false,
            allow_http: false,
            user_agent: format!("linkwire-webhooks/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Everything needed to send one attempt.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub method: reqwest::Method,
    pub body: &'a str,
    pub event_id: EventId,
    pub event_type: EventType,
    pub delivery_id: DeliveryId,
    pub attempt: u32,
    pub reason: DeliveryReason,
    /// Live secrets, newest first.
    pub secrets: &'a [SigningSecret],
    /// Unix seconds of this attempt.
    pub timestamp: i64,
    pub extra_headers: &'a [(String, String)],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status: Option<u16>,
    pub error_class: Option<&'static str>,
    pub retry_after: Option<Duration>,
    pub latency: Duration,
    pub snippet: Option<String>,
}

impl SendResult {
    pub fn outcome(&self, rest_hook: bool) -> AttemptOutcome {
        match self.status {
            Some(s) => AttemptOutcome::from_status(s, rest_hook),
            // Sending again cannot help these: dead-letter at once.
            None if matches!(
                self.error_class,
                Some("blocked_address" | "invalid_url" | "template_error")
            ) =>
            {
                AttemptOutcome::Terminal
            }
            None => AttemptOutcome::Retryable,
        }
    }
}

/// The engine's default global limit of attempts in flight (`EngineConfig::max_in_flight`).
const IDLE_CONNECTIONS_PER_HOST: usize = 512;

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: SenderConfig,
}

impl Sender {
    pub fn new(config: SenderConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(guard::resolver(config.allow_private))
            // Many endpoints often share one host (every Zapier hook is on hooks.zapier.com): keep as
            // many idle connections per host as attempts can be in flight, or each attempt past the
            // limit pays a new TCP (and TLS) handshake.
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, config })
    }

    pub fn config(&self) -> &SenderConfig {
        &self.config
    }

    /// Checks a destination URL at save time: scheme and literal addresses.
    pub fn validate_url(&self, raw: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(raw).map_err(|_| "not a valid absolute URL".to_owned())?;
        match url.scheme() {
            "https" => {}
            "http" if self.config.allow_http => {}
            "http" => {
                return Err(
                    "must use https:// (this server does not allow plain http destinations)".into(),
                )
            }
            _ => return Err("must be an https:// URL".into()),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must have a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials; use custom headers".into());
        }
        guard::check_literal(&url, self.config.allow_private).map_err(|e| e.to_string())?;
        if !self.config.allow_private
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case("localhost"))
        {
            return Err("must not point at localhost".into());
        }
        Ok(url)
    }

    pub async fn send(&self, out: &Outgoing<'_>) -> SendResult {
        let started = Instant::now();
        let fail = |class: &'static str| SendResult {
            status: None,
            error_class: Some(class),
            retry_after: None,
            latency: started.elapsed(),
            snippet: None,
        };
        let url = match url::Url::parse(out.url) {
            Ok(u) => u,
            Err(_) => return fail("invalid_url"),
        };
        if url.scheme() == "http" && !self.config.allow_http {
            return fail("invalid_url");
        }
        if guard::check_literal(&url, self.config.allow_private).is_err() {
            return fail("blocked_address");
        }
        let headers = self.headers(out);
        let request = self
            .client
            .request(out.method.clone(), url)
            .headers(headers)
            .body(out.body.to_owned());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return fail(classify_error(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut kept: Vec<u8> = Vec::new();
        let mut read = 0usize;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            if kept.len() < KEPT_SNIPPET {
                let take = (KEPT_SNIPPET - kept.len()).min(chunk.len());
                kept.extend_from_slice(&chunk[..take]);
            }
            read += chunk.len();
            if read >= MAX_RESPONSE_READ {
                break;
            }
        }
        SendResult {
            status: Some(status),
            error_class: None,
            retry_after,
            latency: started.elapsed(),
            snippet: (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned()),
        }
    }

    fn headers(&self, out: &Outgoing<'_>) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(16);
        // Custom headers first, so the signature family below always wins.
        for (k, v) in out.extra_headers {
            if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                h.insert(name, value);
            }
        }
        let secrets: Vec<&SigningSecret> = out.secrets.iter().collect();
        let event_id = out.event_id.to_string();
        let signed = sign_headers(&secrets, &event_id, out.timestamp, out.body.as_bytes());
        let ts = out.timestamp.to_string();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        put("content-type", "application/json");
        put("user-agent", &self.config.user_agent);
        put("x-nim-event-id", &event_id);
        put("x-nim-event-type", out.event_type.as_str());
        put("x-nim-timestamp", &ts);
        put("x-nim-signature", &signed.nim_signature);
        put("x-nim-delivery-attempt", &out.attempt.to_string());
        put("x-nim-delivery-reason", out.reason.as_str());
        put("x-nim-delivery-id", &out.delivery_id.to_string());
        put("webhook-id", &event_id);
        put("webhook-timestamp", &ts);
        put("webhook-signature", &signed.webhook_signature);
        h
    }
}

fn classify_error(e: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<guard::BlockedAddress>() {
            return "blocked_address";
        }
        source = s.source();
    }
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_builder() {
        "invalid_url"
    } else {
        "network"
    }
}
