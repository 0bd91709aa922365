//! Signing in and out, and who may reach the workspace: members, API keys, no-code installation tokens.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use linkwire_contract::{ApiKeyId, Role, Scope, UserId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::{error_page, page, page_with_status};
use super::session::{self, CsrfForm, LoginForm, Signed, WriteForm};
use super::{context, failure, notice, see_other, time, time_opt};
use crate::error::AppError;
use crate::service::{api_keys, integrations, members};
use crate::state::AppState;
use crate::throttle::{self, Guarded};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// Only our own dashboard paths are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/dashboard") && !n.contains("//") && !n.contains('\\'))
        .unwrap_or("/dashboard")
        .to_owned()
}

fn login_page(
    state: &AppState,
    next: &str,
    error: Option<&str>,
    email: &str,
    notice: Option<&str>,
    status: u16,
) -> Response {
    let token = members::random_token();
    let mut res = page_with_status(
        "login.html",
        json!({ "csrf": token, "next": next, "error": error, "email": email, "notice": notice }),
        status,
    );
    if let Ok(v) = session::set_cookie(state, session::LOGIN_CSRF_COOKIE, &token, 3600).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn login_form(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    login_page(
        &state,
        &safe_next(q.next.as_deref()),
        None,
        "",
        notice(q.notice.as_deref()),
        200,
    )
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    LoginForm { form }: LoginForm,
) -> Response {
    let next = safe_next(form.get("next"));
    let email = form.get("email").unwrap_or("").trim().to_owned();
    let password = form.get("password").unwrap_or("");
    let account = email.to_lowercase();
    let guarded = Guarded::Login(&account);
    let client = throttle::client_address(peer, &headers, &state.settings.trusted_proxies);
    if let Err(wait) = state.passwords.begin(guarded, client, state.clock.now()) {
        tracing::info!("dashboard sign-in refused: too many failures");
        let message = format!(
            "Too many failed sign-ins. Try again in {}.",
            throttle::describe(wait)
        );
        let mut res = login_page(&state, &next, Some(&message), &email, None, 429);
        res.headers_mut()
            .insert(header::RETRY_AFTER, throttle::retry_after(wait));
        return res;
    }
    let member = match members::authenticate(&state.store, &email, password).await {
        Ok(m) => m,
        Err(e) => return failure(e),
    };
    let Some(member) = member else {
        tracing::info!("dashboard sign-in refused");
        return login_page(
            &state,
            &next,
            Some("That email and password do not match a member."),
            &email,
            None,
            401,
        );
    };
    let now = state.clock.now();
    let token = match members::start_session(&state.store, &member, now).await {
        Ok(t) => t,
        Err(e) => return failure(e),
    };
    state.passwords.succeeded(guarded, client);
    tracing::info!(member = %member.id, "dashboard sign-in");
    let mut res = Redirect::to(&next).into_response();
    let max_age = members::SESSION_TTL_HOURS * 3600;
    for cookie in [
        session::set_cookie(&state, session::SESSION_COOKIE, &token, max_age),
        session::set_cookie(&state, session::LOGIN_CSRF_COOKIE, "", 0),
    ] {
        if let Ok(v) = cookie.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

pub async fn logout(State(state): State<AppState>, CsrfForm { signed, .. }: CsrfForm) -> Response {
    if let Err(e) = members::end_session(&state.store, &signed.cookie).await {
        return failure(e);
    }
    let mut res = Redirect::to("/dashboard/login?notice=signed_out").into_response();
    if let Ok(v) = session::set_cookie(&state, session::SESSION_COOKIE, "", 0).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn credential_rows(creds: &[linkwire_store::Credential]) -> Vec<Value> {
    creds
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "prefix": c.token_prefix,
                "platform": c.platform,
                "scopes": c.scopes.to_strings(),
                "created_at": time(c.created_at),
                "revoked_at": time_opt(c.revoked_at),
            })
        })
        .collect()
}

async fn api_keys_page(state: &AppState, signed: &Signed, extra: Value, status: u16) -> Response {
    let keys = match api_keys::list(state, &signed.auth).await {
        Ok(k) => k,
        Err(e) => return failure(e),
    };
    let mut ctx = context(signed, "api-keys");
    ctx.insert("keys".into(), json!(credential_rows(&keys)));
    ctx.insert(
        "all_scopes".into(),
        json!(Scope::API_KEY
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()),
    );
    if let Value::Object(extra) = extra {
        ctx.extend(extra);
    }
    page_with_status("api_keys.html", ctx, status)
}

pub async fn api_keys(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    api_keys_page(
        &state,
        &signed,
        json!({ "notice": notice(q.notice.as_deref()) }),
        200,
    )
    .await
}

pub async fn create_api_key(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    let name = form.get("name").unwrap_or("");
    match api_keys::create(&state, &signed.auth, name, &form.all("scopes")).await {
        Ok(issued) => {
            let mut ctx = context(&signed, "api-keys");
            ctx.insert(
                "secret".into(),
                json!({
                    "title": format!("API key “{}” created", issued.credential.name),
                    "label": "API key",
                    "value": issued.token,
                    "hint": "Send it as Authorization: Bearer <key> or X-Nim-Api-Key. It is shown only now; linkwire keeps only a hash.",
                    "back": "/dashboard/api-keys",
                    "back_label": "Back to API keys",
                }),
            );
            page("secret.html", ctx)
        }
        Err(e @ AppError::Validation { .. }) => {
            api_keys_page(&state, &signed, json!({ "error": e.to_string() }), 422).await
        }
        Err(e) => failure(e),
    }
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Response {
    let Ok(id) = id.parse::<ApiKeyId>() else {
        return error_page("No such API key.", 404);
    };
    match api_keys::revoke(&state, &signed.auth, id).await {
        Ok(()) => see_other("/dashboard/api-keys?notice=revoked".into()),
        Err(e) => failure(e),
    }
}

async fn installations_page(
    state: &AppState,
    signed: &Signed,
    extra: Value,
    status: u16,
) -> Response {
    let list = match integrations::list_installations(state, &signed.auth).await {
        Ok(l) => l,
        Err(e) => return failure(e),
    };
    let mut ctx = context(signed, "installations");
    ctx.insert("installations".into(), json!(credential_rows(&list)));
    ctx.insert("platforms".into(), json!(integrations::PLATFORMS));
    if let Value::Object(extra) = extra {
        ctx.extend(extra);
    }
    page_with_status("installations.html", ctx, status)
}

pub async fn installations(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    installations_page(
        &state,
        &signed,
        json!({ "notice": notice(q.notice.as_deref()) }),
        200,
    )
    .await
}

pub async fn create_installation(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    let platform = form.get("platform").unwrap_or("");
    match integrations::create_installation(&state, &signed.auth, platform, form.text("name")).await
    {
        Ok(issued) => {
            let mut ctx = context(&signed, "installations");
            ctx.insert(
                "secret".into(),
                json!({
                    "title": format!("{} installation created", issued.credential.platform.as_deref().unwrap_or(platform)),
                    "label": "Installation token",
                    "value": issued.token,
                    "hint": "Paste it into the linkwire app's connection settings in Zapier, Make or n8n. It is shown only now.",
                    "back": "/dashboard/installations",
                    "back_label": "Back to installations",
                }),
            );
            page("secret.html", ctx)
        }
        Err(e @ AppError::Validation { .. }) => {
            installations_page(&state, &signed, json!({ "error": e.to_string() }), 422).await
        }
        Err(e) => failure(e),
    }
}

pub async fn revoke_installation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Response {
    let Ok(id) = id.parse::<ApiKeyId>() else {
        return error_page("No such installation.", 404);
    };
    match integrations::revoke_installation(&state, &signed.auth, id).await {
        Ok(()) => see_other("/dashboard/installations?notice=revoked".into()),
        Err(e) => failure(e),
    }
}

async fn members_page(state: &AppState, signed: &Signed, extra: Value, status: u16) -> Response {
    if let Err(e) = signed.auth.require(Scope::Admin) {
        return failure(e);
    }
    let list = match state.store.list_members(signed.auth.workspace_id()).await {
        Ok(l) => l,
        Err(e) => return failure(e.into()),
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|m| {
            // The same rules `members::remove` enforces, so the page offers only what would work.
            let removable = m.id != signed.member.id
                && (m.role != Role::Owner || signed.member.role == Role::Owner);
            json!({
                "id": m.id.to_string(),
                "email": m.email,
                "name": m.name,
                "role": m.role.as_str(),
                "created_at": time(m.created_at),
                "removable": removable,
            })
        })
        .collect();
    let mut ctx = context(signed, "members");
    ctx.insert("members".into(), json!(rows));
    ctx.insert(
        "roles".into(),
        json!(Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
    );
    ctx.insert("min_password".into(), json!(members::MIN_PASSWORD_LEN));
    if let Value::Object(extra) = extra {
        ctx.extend(extra);
    }
    page_with_status("members.html", ctx, status)
}

pub async fn members(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    members_page(
        &state,
        &signed,
        json!({ "notice": notice(q.notice.as_deref()) }),
        200,
    )
    .await
}

pub async fn remove_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::Admin) {
        return failure(e);
    }
    let Ok(id) = id.parse::<UserId>() else {
        return error_page("No such member.", 404);
    };
    match members::remove(&state.store, &signed.member, id).await {
        Ok(_) => see_other("/dashboard/members?notice=removed".into()),
        Err(e @ AppError::Validation { .. }) => {
            members_page(&state, &signed, json!({ "error": e.to_string() }), 422).await
        }
        Err(e) => failure(e),
    }
}

pub async fn create_member(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::Admin) {
        return failure(e);
    }
    let Some(role) = form.get("role").and_then(|r| r.parse::<Role>().ok()) else {
        return members_page(&state, &signed, json!({ "error": "Choose a role." }), 422).await;
    };
    // Only an owner may make another owner.
    if role == Role::Owner && signed.member.role != Role::Owner {
        return error_page("Only an owner can add another owner.", 403);
    }
    let new = members::NewMember {
        workspace_id: signed.auth.workspace_id(),
        email: form.get("email").unwrap_or(""),
        name: form.text("name"),
        role,
        password: form.get("password").unwrap_or(""),
    };
    match members::create(&state.store, new, state.clock.now()).await {
        Ok(_) => see_other("/dashboard/members?notice=created".into()),
        Err(e @ (AppError::Validation { .. } | AppError::Conflict(_))) => {
            members_page(&state, &signed, json!({ "error": e.to_string() }), 422).await
        }
        Err(e) => failure(e),
    }
}
