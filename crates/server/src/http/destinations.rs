//! Generic HTTP destinations in the Nimriz shape: `/api/integrations/destinations[/{id}[/test-send]]`,
//! plus a template preview and the ready-made templates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use linkwire_contract::{EndpointId, EventType, Scope};
use linkwire_delivery::templates::STARTERS;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::http::extract::{Json, PathId};
use crate::service::destinations::{self, DestinationInput};
use crate::service::webhooks;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    let all = destinations::list(&state, &auth).await?;
    Ok(Json(
        json!({ "destinations": all.iter().map(destinations::view).collect::<Vec<_>>() }),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Json(input): Json<DestinationInput>,
) -> AppResult<Response> {
    let (ep, secret) = destinations::create(&state, &auth, input).await?;
    let body = json!({ "destination": destinations::view(&ep), "signing_secret": secret });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    let ep = destinations::get(&state, &auth, id).await?;
    Ok(Json(json!({ "destination": destinations::view(&ep) })))
}

pub async fn replace(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
    Json(input): Json<DestinationInput>,
) -> AppResult<Json<Value>> {
    let ep = destinations::replace(&state, &auth, id, input).await?;
    Ok(Json(json!({ "destination": destinations::view(&ep) })))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<StatusCode> {
    destinations::delete(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test_send(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    destinations::get(&state, &auth, id).await?;
    auth.require(Scope::ConnectionsWrite)?;
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
pub struct PreviewBody {
    payload_template: String,
    event_type: Option<String>,
}

/// Renders a template on a sample event; errors point at a line and column.
pub async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<PreviewBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::ConnectionsRead)?;
    let event_type: EventType = match b.event_type.as_deref() {
        None => EventType::LinkClicked,
        Some(t) => t
            .parse()
            .map_err(|_| AppError::validation("event_type", format!("unknown event type `{t}`")))?,
    };
    Ok(Json(
        match destinations::render_preview(&state, &auth, &b.payload_template, event_type) {
            Ok(rendered) => json!({
                "valid": true,
                "rendered": rendered,
                "parsed": serde_json::from_str::<Value>(&rendered).unwrap_or(Value::Null),
            }),
            Err(e) => json!({ "valid": false, "error": e }),
        },
    ))
}

pub async fn templates(auth: Auth) -> AppResult<Json<Value>> {
    auth.require(Scope::ConnectionsRead)?;
    let list: Vec<Value> =
        STARTERS.iter().map(|(name, description, source)| json!({"name": name, "description": description, "payload_template": source})).collect();
    Ok(Json(json!({ "templates": list })))
}
