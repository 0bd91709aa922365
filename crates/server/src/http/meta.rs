//! Who am I, API keys, health and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use linkwire_contract::ApiKeyId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::AppResult;
use crate::http::extract::{Json, PathId};
use crate::http::views;
use crate::service::api_keys;
use crate::state::AppState;

pub async fn whoami(auth: Auth) -> Json<Value> {
    let t = &auth.tenant;
    Json(json!({
        "account_id": t.workspace.id,
        "workspace_id": t.workspace.id,
        "workspace_name": t.workspace.name,
        "organization_id": t.organization.id,
        "plan": t.organization.plan,
        "credential": {
            "id": auth.credential.id,
            "kind": auth.credential.kind,
            "platform": auth.credential.platform,
            "scopes": auth.credential.scopes.to_strings(),
        },
    }))
}

pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .deliveries
        .free_slots
        .set(state.engine.free_slots() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn list_api_keys(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    let keys = api_keys::list(&state, &auth).await?;
    Ok(Json(
        json!({ "api_keys": keys.iter().map(views::credential).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyBody {
    name: String,
    scopes: Vec<String>,
}

pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateKeyBody>,
) -> AppResult<Response> {
    let issued = api_keys::create(&state, &auth, &body.name, &body.scopes).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "api_key": views::credential(&issued.credential), "token": issued.token })),
    )
        .into_response())
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ApiKeyId>,
) -> AppResult<StatusCode> {
    api_keys::revoke(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
