//! Installation tokens (`/api/v1/integrations/installations`) and REST hooks (`/api/v1/hooks`), the
//! subscribe / unsubscribe protocol Zapier, Make and n8n speak.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use linkwire_contract::{format_timestamp, ApiKeyId, EndpointId};
use linkwire_store::{Credential, Endpoint};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::AppResult;
use crate::http::extract::{Json, PathId, Query};
use crate::service::integrations;
use crate::state::AppState;

fn installation(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "platform": c.platform,
        "name": c.name,
        "scopes": c.scopes.to_strings(),
        "prefix": c.token_prefix,
        "created_at": format_timestamp(c.created_at),
        "revoked_at": c.revoked_at.map(format_timestamp),
    })
}

/// The flat REST-hook shape (Zapier keeps the top-level `id`). `secret` only when it is being handed over.
fn hook(ep: &Endpoint, secret: Option<&str>) -> Value {
    json!({
        "id": ep.id,
        "target_url": ep.url,
        "event_types": ep.subscriptions,
        "secret": secret,
        "enabled": ep.enabled,
        "created_at": format_timestamp(ep.created_at),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInstallationBody {
    platform: String,
    name: Option<String>,
}

pub async fn create_installation(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<CreateInstallationBody>,
) -> AppResult<Response> {
    let issued =
        integrations::create_installation(&state, &auth, &b.platform, b.name.as_deref()).await?;
    let body = json!({ "installation": installation(&issued.credential), "token": issued.token });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list_installations(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Value>> {
    let all = integrations::list_installations(&state, &auth).await?;
    Ok(Json(
        json!({ "installations": all.iter().map(installation).collect::<Vec<_>>() }),
    ))
}

pub async fn revoke_installation(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<ApiKeyId>,
) -> AppResult<StatusCode> {
    integrations::revoke_installation(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct SubscribeBody {
    target_url: String,
    #[serde(alias = "subscriptions")]
    event_types: Vec<String>,
    secret: Option<String>,
}

pub async fn subscribe(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<SubscribeBody>,
) -> AppResult<Response> {
    let (ep, secret, created) =
        integrations::subscribe(&state, &auth, &b.target_url, b.event_types, b.secret).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(hook(&ep, Some(&secret)))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct HooksQuery {
    target_url: Option<String>,
}

pub async fn list_hooks(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<HooksQuery>,
) -> AppResult<Json<Value>> {
    let hooks =
        integrations::list_hooks(&state, &auth, q.target_url.filter(|u| !u.is_empty())).await?;
    Ok(Json(
        json!({ "hooks": hooks.iter().map(|h| hook(h, None)).collect::<Vec<_>>() }),
    ))
}

pub async fn get_hook(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<Json<Value>> {
    let ep = integrations::get_hook(&state, &auth, id).await?;
    Ok(Json(hook(&ep, None)))
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EndpointId>,
) -> AppResult<StatusCode> {
    integrations::unsubscribe(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
