//! Links: the list with a create form, a detail page with edit, QR code downloads and recent clicks.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use linkwire_contract::link::LinkSource;
use linkwire_contract::{LinkId, Scope};
use linkwire_store::Link;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::render::{error_page, page_with_status};
use super::session::{FormData, Signed, WriteForm};
use super::{context, failure, notice, see_other, time, time_opt};
use crate::error::AppError;
use crate::http::links::qr_response;
use crate::qr::{self, QrFormat};
use crate::service::links::{self, LinkPatch, NewLinkInput};
use crate::state::AppState;

const LIST_PAGE: u32 = 50;
const RECENT_CLICKS: u32 = 25;

fn link_view(state: &AppState, link: &Link) -> Value {
    json!({
        "id": link.id,
        "short_url": state.short_url(link),
        "short_code": link.short_code,
        "domain": link.domain_name,
        "long_url": link.destination.as_str(),
        "redirect_status_code": link.redirect_status.code(),
        "tags": link.tags,
        "tags_text": link.tags.join(", "),
        "status": link.status,
        "password_protected": link.password_hash.is_some(),
        "expires_at": time_opt(link.expires_at),
        "created_at": time(link.created_at),
    })
}

fn tags(form: &FormData) -> Vec<String> {
    form.get("tags")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn redirect_code(form: &FormData) -> Option<u16> {
    form.get("redirect_status_code")
        .and_then(|c| c.parse().ok())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    before: Option<String>,
    notice: Option<String>,
}

async fn list_page(
    state: &AppState,
    signed: &Signed,
    before: Option<LinkId>,
    form: Option<&FormData>,
    extra: Map<String, Value>,
    status: u16,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::LinksRead) {
        return failure(e);
    }
    let list = match state
        .store
        .list_links(signed.auth.workspace_id(), before, LIST_PAGE)
        .await
    {
        Ok(l) => l,
        Err(e) => return failure(e.into()),
    };
    let mut ctx = context(signed, "links");
    ctx.insert(
        "links".into(),
        json!(list.iter().map(|l| link_view(state, l)).collect::<Vec<_>>()),
    );
    ctx.insert(
        "older".into(),
        json!((list.len() as u32 == LIST_PAGE)
            .then(|| list.last().map(|l| l.id))
            .flatten()),
    );
    ctx.insert(
        "values".into(),
        json!({
            "long_url": form.and_then(|f| f.get("long_url")).unwrap_or(""),
            "slug": form.and_then(|f| f.get("slug")).unwrap_or(""),
            "tags": form.and_then(|f| f.get("tags")).unwrap_or(""),
            "redirect_status_code": form.and_then(redirect_code).unwrap_or(302),
        }),
    );
    ctx.extend(extra);
    page_with_status("links.html", ctx, status)
}

pub async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let before = q.before.as_deref().and_then(|b| b.parse().ok());
    let mut extra = Map::new();
    extra.insert("notice".into(), json!(notice(q.notice.as_deref())));
    list_page(&state, &signed, before, None, extra, 200).await
}

fn form_problem(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Validation { .. }
            | AppError::SlugTaken(_)
            | AppError::SlugReserved(_)
            | AppError::PlanUpgradeRequired { .. }
            | AppError::BadRequest(_)
    )
}

pub async fn create(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::LinksWrite) {
        return failure(e);
    }
    let input = NewLinkInput {
        long_url: form.get("long_url").unwrap_or("").trim().to_owned(),
        slug: form.text("slug").map(str::to_owned),
        redirect_status_code: redirect_code(&form),
        tags: tags(&form),
        ..Default::default()
    };
    match links::create(&state, &signed.auth, input, LinkSource::Dashboard).await {
        Ok(link) => see_other(format!("/dashboard/links/{}?notice=created", link.id)),
        Err(e) if form_problem(&e) => {
            let mut extra = Map::new();
            extra.insert("error".into(), json!(e.to_string()));
            list_page(&state, &signed, None, Some(&form), extra, 422).await
        }
        Err(e) => failure(e),
    }
}

async fn link_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    extra: Map<String, Value>,
    status: u16,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::LinksRead) {
        return failure(e);
    }
    let Ok(id) = id.parse::<LinkId>() else {
        return error_page("No such link.", 404);
    };
    let link = match links::get(state, &signed.auth, id).await {
        Ok(l) => l,
        Err(e) => return failure(e),
    };
    let clicks = match state
        .store
        .recent_clicks(signed.auth.workspace_id(), id, RECENT_CLICKS)
        .await
    {
        Ok(c) => c,
        Err(e) => return failure(e.into()),
    };
    let clicks: Vec<Value> = clicks
        .iter()
        .map(|c| {
            json!({
                "clicked_at": time(c.clicked_at),
                "touch_type": c.touch_type,
                "is_bot": c.is_bot,
                "country": c.country,
                "device": c.device_category,
                "browser": c.browser_family,
                "os": c.os_family,
                "referrer": c.referrer_host,
                "social": c.social_source,
            })
        })
        .collect();
    let mut ctx = context(signed, "links");
    ctx.insert("link".into(), link_view(state, &link));
    ctx.insert("clicks".into(), json!(clicks));
    ctx.insert(
        "retention_days".into(),
        json!(signed.auth.plan().click_retention_days()),
    );
    ctx.extend(extra);
    page_with_status("link.html", ctx, status)
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let mut extra = Map::new();
    extra.insert("notice".into(), json!(notice(q.notice.as_deref())));
    link_page(&state, &signed, &id, extra, 200).await
}

pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::LinksWrite) {
        return failure(e);
    }
    let Ok(link_id) = id.parse::<LinkId>() else {
        return error_page("No such link.", 404);
    };
    let patch = LinkPatch {
        long_url: form.text("long_url").map(str::to_owned),
        slug: form.text("slug").map(str::to_owned),
        tags: Some(tags(&form)),
        redirect_status_code: redirect_code(&form),
        ..Default::default()
    };
    match links::update(&state, &signed.auth, link_id, patch).await {
        Ok(link) => see_other(format!("/dashboard/links/{}?notice=saved", link.id)),
        Err(e) if form_problem(&e) => {
            let mut extra = Map::new();
            extra.insert("error".into(), json!(e.to_string()));
            link_page(&state, &signed, &id, extra, 422).await
        }
        Err(e) => failure(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct QrQuery {
    /// Shown in the page rather than downloaded.
    inline: Option<u8>,
}

pub async fn qr_download(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, format)): Path<(String, String)>,
    Query(q): Query<QrQuery>,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::LinksRead) {
        return failure(e);
    }
    let (Ok(id), Some(format)) = (id.parse::<LinkId>(), QrFormat::parse(&format)) else {
        return error_page("No such QR code.", 404);
    };
    let disposition = if q.inline == Some(1) {
        "inline"
    } else {
        "attachment"
    };
    match links::qr_code(&state, &signed.auth, id, format, qr::DEFAULT_SIZE).await {
        Ok(image) => qr_response(image, disposition),
        Err(e) => failure(e),
    }
}
