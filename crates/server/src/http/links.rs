//! Native link routes under `/api/v1/links`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use linkwire_contract::link::LinkSource;
use linkwire_contract::payload::TakedownAction;
use linkwire_contract::{DomainId, LinkId, Scope, TouchType, UtmParams};
use linkwire_store::AnalyticsFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::http::extract::{parse_time, Json, OptionalJson, PathId, Query};
use crate::http::views;
use crate::qr::{self, QrFormat};
use crate::service::links::{self, LinkPatch, NewLinkInput};
use crate::service::Patch;
use crate::state::AppState;

pub fn parse_domain_id(raw: Option<&str>) -> AppResult<Option<DomainId>> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| AppError::validation("domain_id", "must be a domain id (UUID)"))
        })
        .transpose()
}

pub fn parse_link_id(raw: &str) -> AppResult<LinkId> {
    raw.parse().map_err(|_| AppError::NotFound("link"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkBody {
    long_url: String,
    domain_id: Option<String>,
    #[serde(alias = "slug")]
    custom_slug: Option<String>,
    redirect_status_code: Option<u16>,
    expires_at: Option<String>,
    password: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    utm: UtmParams,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<CreateLinkBody>,
) -> AppResult<Response> {
    auth.require(Scope::LinksWrite)?;
    let input = NewLinkInput {
        long_url: body.long_url,
        domain_id: parse_domain_id(body.domain_id.as_deref())?,
        slug: body.custom_slug,
        redirect_status_code: body.redirect_status_code,
        expires_at: body
            .expires_at
            .as_deref()
            .map(|t| parse_time("expires_at", t))
            .transpose()?,
        password: body.password,
        tags: body.tags,
        utm: body.utm,
    };
    let link = links::create(&state, &auth, input, LinkSource::Api).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "link": views::link(&state, &link) })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksRead)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let before = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| AppError::validation("cursor", "not a cursor from this API"))
        })
        .transpose()?;
    let mut page = state
        .store
        .list_links(auth.workspace_id(), before, limit + 1)
        .await?;
    let next_cursor = (page.len() > limit as usize).then(|| {
        page.truncate(limit as usize);
        page.last().map(|l| l.id.to_string())
    });
    let links: Vec<Value> = page.iter().map(|l| views::link(&state, l)).collect();
    Ok(Json(
        json!({ "links": links, "next_cursor": next_cursor.flatten() }),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksRead)?;
    let link = links::get(&state, &auth, id).await?;
    Ok(Json(json!({ "link": views::link(&state, &link) })))
}

#[derive(Debug, Deserialize)]
pub struct FindQuery {
    short_url: Option<String>,
    domain_id: Option<String>,
    short_code: Option<String>,
}

pub async fn find(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<FindQuery>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksRead)?;
    let (domain_id, code) = match (&q.short_url, &q.domain_id, &q.short_code) {
        (Some(url), _, _) => {
            let parsed = url::Url::parse(url)
                .map_err(|_| AppError::validation("short_url", "must be a URL"))?;
            let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
            let code = parsed.path().trim_start_matches('/').to_owned();
            let domain = state
                .store
                .find_domain_by_name(&host)
                .await?
                .ok_or(AppError::NotFound("link"))?;
            (domain.id, code)
        }
        (None, Some(d), Some(c)) => (
            parse_domain_id(Some(d))?.ok_or(AppError::validation("domain_id", "required"))?,
            c.clone(),
        ),
        _ => {
            return Err(AppError::BadRequest(
                "pass short_url, or domain_id and short_code".into(),
            ))
        }
    };
    let link = state
        .store
        .find_link_by_code(domain_id, &code)
        .await?
        .filter(|l| l.workspace_id == auth.workspace_id())
        .ok_or(AppError::NotFound("link"))?;
    Ok(Json(json!({ "link": views::link(&state, &link) })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchLinkBody {
    long_url: Option<String>,
    #[serde(alias = "custom_slug")]
    slug: Option<String>,
    #[serde(default)]
    expires_at: Patch<String>,
    #[serde(default)]
    password: Patch<String>,
    tags: Option<Vec<String>>,
    utm: Option<UtmParams>,
    redirect_status_code: Option<u16>,
}

pub async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
    Json(body): Json<PatchLinkBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::LinksWrite)?;
    let expires_at = match body.expires_at {
        Patch::Absent => Patch::Absent,
        Patch::Null => Patch::Null,
        Patch::Value(t) => Patch::Value(parse_time("expires_at", &t)?),
    };
    let patch = LinkPatch {
        long_url: body.long_url,
        slug: body.slug,
        expires_at,
        password: body.password,
        tags: body.tags,
        utm: body.utm,
        redirect_status_code: body.redirect_status_code,
    };
    let link = links::update(&state, &auth, id, patch).await?;
    Ok(Json(json!({ "link": views::link(&state, &link) })))
}

pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
) -> AppResult<StatusCode> {
    auth.require(Scope::LinksWrite)?;
    links::delete(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakedownBody {
    reason_code: Option<String>,
}

pub async fn takedown(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
    OptionalJson(body): OptionalJson<TakedownBody>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::Admin)?;
    let reason = body.reason_code;
    let link = links::set_takedown(&state, &auth, id, TakedownAction::Disabled, reason).await?;
    Ok(Json(json!({ "link": views::link(&state, &link) })))
}

pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::Admin)?;
    let link = links::set_takedown(&state, &auth, id, TakedownAction::Restored, None).await?;
    Ok(Json(json!({ "link": views::link(&state, &link) })))
}

#[derive(Debug, Deserialize)]
pub struct QrQuery {
    format: Option<String>,
    size: Option<u32>,
}

pub async fn qr_code(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
    Query(q): Query<QrQuery>,
) -> AppResult<Response> {
    auth.require(Scope::LinksRead)?;
    let format = match q.format.as_deref() {
        None => QrFormat::Svg,
        Some(f) => {
            QrFormat::parse(f).ok_or_else(|| AppError::validation("format", "use svg or png"))?
        }
    };
    let size = q.size.unwrap_or(qr::DEFAULT_SIZE);
    let image = links::qr_code(&state, &auth, id, format, size).await?;
    Ok(qr_response(image, "inline"))
}

/// The image with its type and file name; `disposition` is `inline` or `attachment` (download).
pub fn qr_response(image: links::QrImage, disposition: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, image.format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{}\"", image.filename),
            ),
            (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
        ],
        image.bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct AnalyticsQuery {
    touch_type: Option<String>,
    range_days: Option<u32>,
    include_bots: Option<String>,
}

pub async fn analytics(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<LinkId>,
    Query(q): Query<AnalyticsQuery>,
) -> AppResult<Json<Value>> {
    auth.require(Scope::AnalyticsRead)?;
    let link = links::get(&state, &auth, id).await?;
    let touch_type = q
        .touch_type
        .as_deref()
        .filter(|t| !t.is_empty() && *t != "all")
        .map(|t| {
            t.parse::<TouchType>()
                .map_err(|_| AppError::validation("touch_type", "short_link_click or qr_scan"))
        })
        .transpose()?;
    let retention = auth.plan().click_retention_days();
    // The default window is 30 days, or the plan's whole retention when that is shorter.
    let range_days = q.range_days.unwrap_or(retention.min(30));
    if range_days == 0 || range_days > retention {
        return Err(AppError::validation(
            "range_days",
            format!("must be 1 to {retention} on this plan"),
        ));
    }
    let include_bots = match q.include_bots.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return Err(AppError::validation("include_bots", "use 0 or 1")),
    };
    let since = state.clock.now() - chrono::Duration::days(i64::from(range_days));
    let report = state
        .store
        .link_analytics(&AnalyticsFilter {
            workspace_id: auth.workspace_id(),
            link_id: link.id,
            since,
            touch_type,
            include_bots,
        })
        .await?;
    Ok(Json(json!({
        "link_id": link.id,
        "range_days": range_days,
        "touch_type": touch_type,
        "include_bots": include_bots,
        "totals": {
            "clicks": report.clicks,
            "unique_visitors": report.unique_visitors,
            "qr_scans": report.qr_scans,
            "bot_clicks": report.bot_clicks,
        },
        "by_day": report.by_day,
        "top_countries": report.top_countries,
        "top_devices": report.top_devices,
        "top_browsers": report.top_browsers,
        "top_referrers": report.top_referrers,
        "top_social_sources": report.top_social_sources,
    })))
}
