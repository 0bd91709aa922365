//! Webhook endpoint routes, native (`/api/v1/webhooks/...`) and Nimriz-compatible
//! (`/api/webhooks/endpoints`): the same resource and the same services.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use linkwire_contract::{DeliveryId, DeliveryStatus, EndpointId, EventType, Scope};
use linkwire_store::{DeliveryFilter, EndpointFilter, EndpointKind};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::http::extract::{parse_time, Json, OptionalJson, PathId, Query};
use crate::http::views;
use crate::service::webhooks::{self, EndpointPatch, NewEndpointInput};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct CreateEndpointBody {
    #[serde(alias = "url")]
    endpoint_url: String,
    name: Option<String>,
    #[serde(alias = "event_types")]
    subscriptions: Vec<String>,
    enabled: Option<bool>,
    max_concurrency: Option<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateEndpointBody>,
) -> AppResult<Response> {
    auth.require(Scope::WebhooksWrite)?;
    let installation_id = auth
        .is_installation()
        .then(|| auth.credential.id.to_string());
    let (endpoint, secret) = webhooks::create(
        &state,
        &auth,
        NewEndpointInput {
            url: body.endpoint_url,
            name: body.name,
            subscriptions: body.subscriptions,
            enabled: body.enabled.unwrap_or(true),
            kind: if installation_id.is_some() {
                EndpointKind::RestHook
            } else {
                EndpointKind::Webhook
            },
            secret: None,
            installation_id,
            max_concurrency: body.max_concurrency,
            rate_limit_per_sec: None,
            options: None,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "endpoint": views::endpoint(&endpoint), "signing_secret": secret })),
    )
        .into_response())
}

pub async fn list(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksRead)?;
    let filter = EndpointFilter {
        installation_id: auth
            .is_installation()
            .then(|| auth.credential.id.to_string()),
        ..Default::default()
    };
    let endpoints = state
        .store
        .list_endpoints(auth.workspace_id(), &filter)
        .await?;
    let endpoints: Vec<Value> = endpoints
        .iter()
        .filter(|e| e.kind != EndpointKind::GenericHttp)
        .map(views::endpoint)
        .collect();
    Ok(Json(json!({ "endpoints": endpoints })))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksRead)?;
    let ep = webhooks::get(&state, &auth, id).await?;
    Ok(Json(json!({ "endpoint": views::endpoint(&ep) })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpointBody {
    #[serde(alias = "url")]
    endpoint_url: Option<String>,
    name: Option<String>,
    #[serde(alias = "event_types")]
    subscriptions: Option<Vec<String>>,
    enabled: Option<bool>,
    max_concurrency: Option<i64>,
}

pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    Json(b): Json<PatchEndpointBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let patch = EndpointPatch {
        url: b.endpoint_url,
        name: b.name,
        subscriptions: b.subscriptions,
        enabled: b.enabled,
        max_concurrency: b.max_concurrency,
    };
    let ep = webhooks::update(&state, &auth, id, patch).await?;
    Ok(Json(json!({ "endpoint": views::endpoint(&ep) })))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<StatusCode> {
    auth.require(Scope::WebhooksWrite)?;
    webhooks::delete(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    overlap_seconds: Option<u64>,
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    OptionalJson(b): OptionalJson<RotateBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let (ep, secret) =
        webhooks::rotate_secret(&state, &auth, id, b.overlap_seconds.unwrap_or(0)).await?;
    Ok(Json(
        json!({ "endpoint": views::endpoint(&ep), "signing_secret": secret }),
    ))
}

pub async fn test_send(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let (event, r) = webhooks::test_send(&state, &auth, id).await?;
    Ok(Json(json!({
        "delivered": r.delivered,
        "delivery_id": r.delivery_id,
        "event_id": event.id,
        "status_code": r.status_code,
        "error": r.error_class,
        "latency_ms": r.latency.as_millis() as u64,
        "response_snippet": r.response_snippet,
    })))
}

#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn parse_status(raw: Option<&str>) -> AppResult<Option<DeliveryStatus>> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                AppError::validation("status", format!("unknown delivery status `{s}`"))
            })
        })
        .transpose()
}

pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    Query(q): Query<DeliveriesQuery>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksRead)?;
    let ep = webhooks::get(&state, &auth, id).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let filter = DeliveryFilter {
        status: parse_status(q.status.as_deref())?,
        event_type: q
            .event_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<EventType>()
                    .map_err(|_| AppError::validation("type", "unknown event type"))
            })
            .transpose()?,
        before: q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<DeliveryId>()
                    .map_err(|_| AppError::validation("cursor", "not a cursor from this API"))
            })
            .transpose()?,
        limit: limit + 1,
        ..Default::default()
    };
    let mut page = state
        .store
        .list_deliveries(auth.workspace_id(), ep.id, &filter)
        .await?;
    let next = (page.len() > limit as usize).then(|| {
        page.truncate(limit as usize);
        page.last().map(|d| d.id.to_string())
    });
    Ok(Json(
        json!({ "deliveries": page.iter().map(views::delivery).collect::<Vec<_>>(), "next_cursor": next.flatten() }),
    ))
}

pub async fn get_delivery(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<DeliveryId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksRead)?;
    let (d, attempts) = webhooks::get_delivery(&state, &auth, id).await?;
    let mut v = views::delivery(&d);
    // The list view's count stays available as `attempt_count`; here `attempts` is the history.
    v["attempt_count"] = d.attempts.into();
    v["attempts"] = attempts.iter().map(views::attempt).collect();
    Ok(Json(json!({ "delivery": v })))
}

pub async fn replay_delivery(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<DeliveryId>,
) -> AppResult<Response> {
    auth.require(Scope::WebhooksWrite)?;
    let new_id = webhooks::replay_one(&state, &auth, id).await?;
    let (d, _) = webhooks::get_delivery(&state, &auth, new_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "delivery": views::delivery(&d) })),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub async fn replay_bulk(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    OptionalJson(b): OptionalJson<ReplayBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let status = parse_status(b.status.as_deref())?.unwrap_or(DeliveryStatus::DeadLetter);
    let from = b
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?;
    let to = b.to.as_deref().map(|t| parse_time("to", t)).transpose()?;
    let n = webhooks::replay_bulk(&state, &auth, id, status, from, to).await?;
    Ok(Json(json!({ "replayed": n })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverBody {
    since: String,
}

pub async fn recover(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    Json(b): Json<RecoverBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let since = parse_time("since", &b.since)?;
    let n = webhooks::recover(&state, &auth, id, since).await?;
    Ok(Json(json!({ "replayed": n })))
}

/// Retries due later are sent now (after a receiver outage).
pub async fn retry_now(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::WebhooksWrite)?;
    let n = webhooks::retry_now(&state, &auth, id).await?;
    Ok(Json(json!({ "rescheduled": n })))
}

#[derive(Debug, Deserialize)]
pub struct StatsQuery {
    window_hours: Option<u32>,
}

pub async fn stats(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<StatsQuery>,
) -> AppResult<Json<Value>> {
    let report = webhooks::stats(&state, &auth, q.window_hours.unwrap_or(24)).await?;
    Ok(Json(serde_json::to_value(report).expect("stats serialize")))
}
