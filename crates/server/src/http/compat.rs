//! Nimriz-compatible link routes (`/api/shorten`, `/api/check-slug`, `/api/update-*`, `/api/delete-link`),
//! kept path for path and key for key so the published n8n connector works unchanged. Each calls the same
//! service as the native routes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use linkwire_contract::link::LinkSource;
use linkwire_contract::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::AppResult;
use crate::http::extract::{parse_time, Json};
use crate::http::links::{parse_domain_id, parse_link_id};
use crate::http::views;
use crate::service::links::{self, LinkPatch, NewLinkInput, SlugAvailability};
use crate::service::Patch;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct ShortenBody {
    domain_id: Option<String>,
    long_url: String,
    custom_slug: Option<String>,
    redirect_status_code: Option<u16>,
    expires_at: Option<String>,
}

pub async fn shorten(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<ShortenBody>,
) -> AppResult<Response> {
    auth.require(Scope::LinksWrite)?;
    let input = NewLinkInput {
        long_url: body.long_url,
        domain_id: parse_domain_id(body.domain_id.as_deref())?,
        slug: body.custom_slug.filter(|s| !s.is_empty()),
        redirect_status_code: body.redirect_status_code,
        expires_at: body
            .expires_at
            .as_deref()
            .map(|t| parse_time("expires_at", t))
            .transpose()?,
        ..Default::default()
    };
    let link = links::create(&state, &auth, input, LinkSource::Api).await?;
    let body = json!({
        "url_id": link.id,
        "id": link.id,
        "short_url": state.short_url(&link),
        "short_code": link.short_code,
        "link": views::link(&state, &link),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CheckSlugBody {
    domain_id: Option<String>,
    slug: String,
}

pub async fn check_slug(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<CheckSlugBody>,
) -> AppResult<Response> {
    auth.require(Scope::LinksRead)?;
    let domain_id = parse_domain_id(body.domain_id.as_deref())?;
    Ok(
        match links::check_slug(&state, &auth, domain_id, &body.slug).await? {
            SlugAvailability::Available => Json(json!({ "available": true })).into_response(),
            SlugAvailability::Unavailable(reason) => (
                StatusCode::FORBIDDEN,
                Json(json!({ "available": false, "reason": reason })),
            )
                .into_response(),
        },
    )
}

async fn apply(
    state: &AppState,
    auth: &Auth,
    url_id: &str,
    patch: LinkPatch,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksWrite)?;
    let link = links::update(state, auth, parse_link_id(url_id)?, patch).await?;
    Ok(Json(json!({ "link": views::link(state, &link) })))
}

#[derive(Debug, Deserialize)]
pub struct UpdateSlugBody {
    url_id: String,
    new_slug: String,
}

pub async fn update_slug(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<UpdateSlugBody>,
) -> AppResult<Json<Value>> {
    apply(
        &state,
        &auth,
        &b.url_id,
        LinkPatch {
            slug: Some(b.new_slug),
            ..Default::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct UpdateDestinationBody {
    url_id: String,
    long_url: String,
}

pub async fn update_destination(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<UpdateDestinationBody>,
) -> AppResult<Json<Value>> {
    apply(
        &state,
        &auth,
        &b.url_id,
        LinkPatch {
            long_url: Some(b.long_url),
            ..Default::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct UpdatePasswordBody {
    url_id: String,
    #[serde(default)]
    password: Patch<String>,
}

pub async fn update_password(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<UpdatePasswordBody>,
) -> AppResult<Json<Value>> {
    // Absent means the same as null here: the route exists to set or clear.
    let password = match b.password {
        Patch::Value(p) => Patch::Value(p),
        Patch::Null | Patch::Absent => Patch::Null,
    };
    apply(
        &state,
        &auth,
        &b.url_id,
        LinkPatch {
            password,
            ..Default::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct UpdateExpirationBody {
    url_id: String,
    #[serde(default)]
    expires_at: Patch<String>,
}

pub async fn update_expiration(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<UpdateExpirationBody>,
) -> AppResult<Json<Value>> {
    let expires_at = match b.expires_at {
        Patch::Value(t) => Patch::Value(parse_time("expires_at", &t)?),
        Patch::Null | Patch::Absent => Patch::Null,
    };
    apply(
        &state,
        &auth,
        &b.url_id,
        LinkPatch {
            expires_at,
            ..Default::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct DeleteLinkBody {
    url_id: String,
}

pub async fn delete_link(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<DeleteLinkBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksWrite)?;
    links::delete(&state, &auth, parse_link_id(&b.url_id)?).await?;
    Ok(Json(json!({ "deleted": true })))
}
