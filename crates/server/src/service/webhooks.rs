//! Webhook endpoints and their deliveries: create (secret shown once), change, enable / disable, rotate,
//! delete, test-send, replay and recovery. Sending itself is the delivery engine's job.

use linkwire_contract::payload::{EventData, WebhookTest};
use linkwire_contract::{
    format_timestamp, DeliveryId, DeliveryStatus, EndpointId, EventRecord, EventType, Feature,
    Timestamp,
};
use linkwire_delivery::AttemptReport;
use linkwire_store::{DeliveryFilter, DeliveryRow, Endpoint, EndpointKind, PreviousSecret};
use linkwire_verify::SigningSecret;
use rand::RngCore;

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The longest rotation overlap an operator may ask for.
pub const MAX_OVERLAP_SECS: u64 = 7 * 24 * 3600;
pub const DEFAULT_MAX_CONCURRENCY: i64 = 8;

pub struct NewEndpointInput {
    pub url: String,
    pub name: Option<String>,
    pub subscriptions: Vec<String>,
    pub enabled: bool,
    pub kind: EndpointKind,
    /// A caller-supplied secret (REST hooks may bring their own); generated otherwise.
    pub secret: Option<String>,
    pub installation_id: Option<String>,
    pub max_concurrency: Option<i64>,
    pub rate_limit_per_sec: Option<i64>,
    pub options: Option<serde_json::Value>,
}

#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub name: Option<String>,
    pub subscriptions: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub max_concurrency: Option<i64>,
}

pub fn new_secret() -> SigningSecret {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    SigningSecret::from_bytes(&bytes)
}

/// Parses and plan-checks a subscription list.
pub fn parse_subscriptions(auth: &Auth, raw: &[String]) -> AppResult<Vec<EventType>> {
    if raw.is_empty() {
        return Err(AppError::validation(
            "subscriptions",
            "choose at least one event type",
        ));
    }
    let mut out: Vec<EventType> = Vec::new();
    for r in raw {
        let t: EventType = r
            .parse()
            .ok()
            .filter(|t: &EventType| t.is_subscribable())
            .ok_or_else(|| {
                AppError::validation(
                    "subscriptions",
                    format!("`{r}` is not a subscribable event type"),
                )
            })?;
        AppError::require_plan(auth.plan(), t.required_feature())?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn check_url(state: &AppState, raw: &str) -> AppResult<String> {
    state
        .engine
        .sender()
        .validate_url(raw.trim())
        .map(|u| u.to_string())
        .map_err(|m| AppError::validation("endpoint_url", m))
}

fn clean_name(name: Option<String>, url: &str) -> AppResult<String> {
    let name = name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "endpoint".into())
        });
    if name.chars().count() > 100 {
        return Err(AppError::validation("name", "at most 100 characters"));
    }
    Ok(name)
}

/// Creates an endpoint; returns it with its signing secret (the only time the secret is shown).
pub async fn create(
    state: &AppState,
    auth: &Auth,
    input: NewEndpointInput,
) -> AppResult<(Endpoint, String)> {
    if input.kind == EndpointKind::GenericHttp {
        AppError::require_plan(auth.plan(), Feature::GenericHttpDestinations)?;
    }
    let url = check_url(state, &input.url)?;
    let subscriptions = parse_subscriptions(auth, &input.subscriptions)?;
    let secret = match input.secret.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => SigningSecret::parse(s).map_err(|_| {
            AppError::validation(
                "secret",
                "must be whsec_ followed by base64 of 24 to 64 random bytes",
            )
        })?,
        None => new_secret(),
    };
    let max_concurrency = input.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
    if !(1..=64).contains(&max_concurrency) {
        return Err(AppError::validation("max_concurrency", "must be 1 to 64"));
    }
    let now = state.clock.now();
    let endpoint = Endpoint {
        id: EndpointId::new(),
        workspace_id: auth.workspace_id(),
        kind: input.kind,
        name: clean_name(input.name, &url)?,
        url,
        enabled: input.enabled,
        disabled_reason: None,
        secret_ciphertext: state.engine.secrets().seal(secret.as_str()),
        previous_secrets: Vec::new(),
        options: input.options,
        installation_id: input.installation_id,
        max_concurrency,
        rate_limit_per_sec: input.rate_limit_per_sec,
        subscriptions,
        last_success_at: None,
        failing_since: None,
        dead_letters_since_success: 0,
        created_at: now,
        updated_at: now,
    };
    state.store.create_endpoint(&endpoint).await?;
    // The engine looks for endpoints it has not loaded only now and then; have it look now.
    state.engine.invalidate_endpoint(endpoint.id);
    Ok((endpoint, secret.as_str().to_owned()))
}

pub async fn get(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<Endpoint> {
    let ep = state
        .store
        .get_endpoint(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("endpoint"))?;
    // An installation sees only the subscriptions it made.
    if auth.is_installation()
        && ep.installation_id.as_deref() != Some(&auth.credential.id.to_string())
    {
        return Err(AppError::NotFound("endpoint"));
    }
    Ok(ep)
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
    patch: EndpointPatch,
) -> AppResult<Endpoint> {
    let mut ep = get(state, auth, id).await?;
    if let Some(u) = &patch.url {
        ep.url = check_url(state, u)?;
    }
    if patch.name.is_some() {
        ep.name = clean_name(patch.name, &ep.url)?;
    }
    if let Some(s) = &patch.subscriptions {
        ep.subscriptions = parse_subscriptions(auth, s)?;
    }
    if let Some(c) = patch.max_concurrency {
        if !(1..=64).contains(&c) {
            return Err(AppError::validation("max_concurrency", "must be 1 to 64"));
        }
        ep.max_concurrency = c;
    }
    let now = state.clock.now();
    state.store.update_endpoint(&ep, now).await?;
    if let Some(enabled) = patch.enabled {
        if enabled != ep.enabled {
            state
                .store
                .set_endpoint_enabled(
                    auth.workspace_id(),
                    id,
                    enabled,
                    Some("disabled by a user"),
                    now,
                )
                .await?;
            if enabled {
                state.engine.wake();
            }
        }
    }
    state.engine.invalidate_endpoint(id);
    get(state, auth, id).await
}

pub async fn delete(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<()> {
    get(state, auth, id).await?;
    state
        .store
        .delete_endpoint(auth.workspace_id(), id, state.clock.now())
        .await?;
    state.engine.invalidate_endpoint(id);
    Ok(())
}

/// Issues a new secret. With an overlap, the old one keeps signing (second in the headers) until it ends.
pub async fn rotate_secret(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
    overlap_secs: u64,
) -> AppResult<(Endpoint, String)> {
    if overlap_secs > MAX_OVERLAP_SECS {
        return Err(AppError::validation(
            "overlap_seconds",
            "at most 604800 (7 days)",
        ));
    }
    let mut ep = get(state, auth, id).await?;
    let now = state.clock.now();
    let now_ms = now.timestamp_millis();
    ep.previous_secrets.retain(|p| p.expires_at > now_ms);
    if overlap_secs > 0 {
        ep.previous_secrets.insert(
            0,
            PreviousSecret {
                ciphertext: ep.secret_ciphertext.clone(),
                expires_at: now_ms + overlap_secs as i64 * 1000,
            },
        );
    }
    let secret = new_secret();
    ep.secret_ciphertext = state.engine.secrets().seal(secret.as_str());
    state.store.update_endpoint(&ep, now).await?;
    state.engine.invalidate_endpoint(id);
    Ok((ep, secret.as_str().to_owned()))
}

/// Sends a fresh `nim.webhook.test` event to the endpoint once and reports what happened.
pub async fn test_send(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
) -> AppResult<(EventRecord, AttemptReport)> {
    let ep = get(state, auth, id).await?;
    let now = state.clock.now();
    let data = EventData::WebhookTest(WebhookTest {
        endpoint_id: ep.id,
        message:
            "This is a test event from linkwire. If your signature check passes, you are ready."
                .into(),
        sent_at: format_timestamp(now),
    });
    let event = EventRecord::new(auth.tenant.organization.id, auth.workspace_id(), now, &data);
    state.store.insert_event(&event).await?;
    let report = state.engine.send_test(&ep, &event).await?;
    Ok((event, report))
}

pub async fn get_delivery(
    state: &AppState,
    auth: &Auth,
    id: DeliveryId,
) -> AppResult<(DeliveryRow, Vec<linkwire_store::AttemptRow>)> {
    let (d, attempts) = state
        .store
        .get_delivery(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("delivery"))?;
    get(state, auth, d.endpoint_id)
        .await
        .map_err(|_| AppError::NotFound("delivery"))?;
    Ok((d, attempts))
}

/// Replays one delivery: a new delivery of the same event body, reason `replay`, attempts from 1.
pub async fn replay_one(state: &AppState, auth: &Auth, id: DeliveryId) -> AppResult<DeliveryId> {
    let (d, _) = get_delivery(state, auth, id).await?;
    let ep = get(state, auth, d.endpoint_id).await?;
    let ids = state
        .store
        .create_replays(
            auth.workspace_id(),
            ep.id,
            &[(d.event_id, d.event_type)],
            ep.enabled,
            state.clock.now(),
        )
        .await?;
    state.engine.wake();
    Ok(ids[0])
}

/// Replays every delivery of an endpoint with `status` (dead letters by default) created in the range.
pub async fn replay_bulk(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
    status: DeliveryStatus,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> AppResult<usize> {
    let ep = get(state, auth, id).await?;
    let filter = DeliveryFilter {
        status: Some(status),
        from,
        to,
        limit: 1000,
        ..Default::default()
    };
    let mut total = 0;
    let mut filter = filter;
    loop {
        let page = state
            .store
            .list_deliveries(auth.workspace_id(), ep.id, &filter)
            .await?;
        if page.is_empty() {
            break;
        }
        let pairs: Vec<_> = page
            .iter()
            .filter(|d| d.reason != linkwire_contract::DeliveryReason::Test)
            .map(|d| (d.event_id, d.event_type))
            .collect();
        state
            .store
            .create_replays(
                auth.workspace_id(),
                ep.id,
                &pairs,
                ep.enabled,
                state.clock.now(),
            )
            .await?;
        total += pairs.len();
        filter.before = page.last().map(|d| d.id);
        if page.len() < 1000 {
            break;
        }
    }
    state.engine.wake();
    Ok(total)
}

/// Brings the endpoint's waiting retries forward to now; returns how many.
pub async fn retry_now(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<u64> {
    let ep = get(state, auth, id).await?;
    let n = state
        .store
        .retry_now(auth.workspace_id(), ep.id, state.clock.now())
        .await?;
    state.engine.wake();
    Ok(n)
}

/// Queues the events of the endpoint's types since `since` that never reached it.
pub async fn recover(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
    since: Timestamp,
) -> AppResult<usize> {
    let ep = get(state, auth, id).await?;
    let missed = state
        .store
        .missed_events(
            auth.workspace_id(),
            ep.id,
            &ep.subscriptions,
            since,
            100_000,
        )
        .await?;
    state
        .store
        .create_replays(
            auth.workspace_id(),
            ep.id,
            &missed,
            ep.enabled,
            state.clock.now(),
        )
        .await?;
    state.engine.wake();
    Ok(missed.len())
}

/// Delivery health over a window: one figure per endpoint, and the workspace totals.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatsReport {
    pub window_hours: u32,
    pub totals: StatsFigures,
    pub endpoints: Vec<EndpointFigures>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatsFigures {
    pub attempts: i64,
    pub delivered: i64,
    pub retry_attempts: i64,
    pub dead_lettered: i64,
    /// Deliveries sitting in dead letter now (replayable), whatever the window.
    pub dead_letter_items: i64,
    /// Delivered attempts over all attempts in the window; `None` without attempts.
    pub success_rate: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EndpointFigures {
    pub endpoint_id: String,
    pub failed_attempts: i64,
    #[serde(flatten)]
    pub figures: StatsFigures,
}

fn success_rate(delivered: i64, attempts: i64) -> Option<f64> {
    (attempts > 0).then(|| delivered as f64 / attempts as f64)
}

pub const MAX_STATS_WINDOW_HOURS: u32 = 24 * 30;

pub async fn stats(state: &AppState, auth: &Auth, window_hours: u32) -> AppResult<StatsReport> {
    auth.require(linkwire_contract::Scope::WebhooksRead)?;
    if !(1..=MAX_STATS_WINDOW_HOURS).contains(&window_hours) {
        return Err(AppError::validation("window_hours", "must be 1 to 720"));
    }
    let since = state.clock.now() - chrono::Duration::hours(i64::from(window_hours));
    let per = state
        .store
        .delivery_stats(auth.workspace_id(), since)
        .await?;
    let dead_now = state.store.dead_letter_counts(auth.workspace_id()).await?;
    let mut totals = StatsFigures::default();
    let endpoints = per
        .iter()
        .map(|s| {
            totals.attempts += s.attempts;
            totals.delivered += s.delivered;
            totals.retry_attempts += s.retries_scheduled;
            totals.dead_lettered += s.dead_lettered;
            EndpointFigures {
                endpoint_id: s.endpoint_id.clone(),
                failed_attempts: s.failed_attempts,
                figures: StatsFigures {
                    attempts: s.attempts,
                    delivered: s.delivered,
                    retry_attempts: s.retries_scheduled,
                    dead_lettered: s.dead_lettered,
                    dead_letter_items: dead_now.get(&s.endpoint_id).copied().unwrap_or(0),
                    success_rate: success_rate(s.delivered, s.attempts),
                },
            }
        })
        .collect();
    totals.dead_letter_items = dead_now.values().sum();
    totals.success_rate = success_rate(totals.delivered, totals.attempts);
    Ok(StatsReport {
        window_hours,
        totals,
        endpoints,
    })
}
