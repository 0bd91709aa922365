//! Domain routes: list, register, get, verify.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use linkwire_contract::{DomainId, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::AppResult;
use crate::http::extract::{Json, PathId};
use crate::http::views;
use crate::service::domains;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    auth.require(Scope::DomainsRead)?;
    let domains: Vec<Value> = state
        .store
        .list_domains(auth.workspace_id())
        .await?
        .iter()
        .map(views::domain)
        .collect();
    Ok(Json(json!({ "domains": domains })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainBody {
    domain_name: String,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateDomainBody>,
) -> AppResult<Response> {
    auth.require(Scope::DomainsWrite)?;
    let domain = domains::create(&state, &auth, &body.domain_name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "domain": views::domain(&domain) })),
    )
        .into_response())
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<DomainId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::DomainsRead)?;
    let domain = domains::get(&state, &auth, id).await?;
    Ok(Json(json!({ "domain": views::domain(&domain) })))
}

pub async fn verify(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<DomainId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::DomainsWrite)?;
    let domain = domains::verify(&state, &auth, id).await?;
    Ok(Json(json!({ "domain": views::domain(&domain) })))
}
