//! The dashboard: server-rendered pages under `/dashboard` for members signed in with email and password.
//!
//! Handlers call the same services as the API, as an [`crate::auth::Auth`] carrying the member's role
//! scopes, so the dashboard can never do what the API would refuse. Every change is a POST form with a
//! CSRF token; pages are plain HTML with one small script (copy buttons, confirmations).

mod access;
mod endpoints;
mod links;
mod overview;
pub mod render;
pub mod session;

use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linkwire_contract::Timestamp;
use serde_json::{json, Map, Value};

use crate::error::AppError;
use crate::state::AppState;
use render::error_page;
use session::Signed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview::show))
        .route("/dashboard/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard/assets/{name}", get(render::asset))
        .route(
            "/dashboard/login",
            get(access::login_form).post(access::login),
        )
        .route("/dashboard/logout", post(access::logout))
        .route(
            "/dashboard/webhooks",
            get(endpoints::list_webhooks).post(endpoints::create_webhook),
        )
        .route("/dashboard/webhooks/new", get(endpoints::new_webhook))
        .route(
            "/dashboard/webhooks/{id}",
            get(endpoints::show).post(endpoints::edit),
        )
        .route(
            "/dashboard/destinations",
            get(endpoints::list_destinations).post(endpoints::create_destination),
        )
        .route("/dashboard/destinations/{id}", get(endpoints::show))
        .route("/dashboard/endpoints/{id}/enable", post(endpoints::enable))
        .route(
            "/dashboard/endpoints/{id}/disable",
            post(endpoints::disable),
        )
        .route("/dashboard/endpoints/{id}/rotate", post(endpoints::rotate))
        .route("/dashboard/endpoints/{id}/test", post(endpoints::test_send))
        .route(
            "/dashboard/endpoints/{id}/replay-dead-letters",
            post(endpoints::replay_dead_letters),
        )
        .route(
            "/dashboard/endpoints/{id}/retry-now",
            post(endpoints::retry_now),
        )
        .route("/dashboard/endpoints/{id}/delete", post(endpoints::delete))
        .route("/dashboard/deliveries/{id}", get(endpoints::delivery))
        .route(
            "/dashboard/deliveries/{id}/replay",
            post(endpoints::replay_delivery),
        )
        .route("/dashboard/links", get(links::list).post(links::create))
        .route("/dashboard/links/{id}", get(links::show).post(links::edit))
        .route("/dashboard/links/{id}/qr.{format}", get(links::qr_download))
        .route(
            "/dashboard/installations",
            get(access::installations).post(access::create_installation),
        )
        .route(
            "/dashboard/installations/{id}/revoke",
            post(access::revoke_installation),
        )
        .route(
            "/dashboard/api-keys",
            get(access::api_keys).post(access::create_api_key),
        )
        .route(
            "/dashboard/api-keys/{id}/revoke",
            post(access::revoke_api_key),
        )
        .route(
            "/dashboard/members",
            get(access::members).post(access::create_member),
        )
        .route(
            "/dashboard/members/{id}/remove",
            post(access::remove_member),
        )
}

/// What every signed-in page knows: who is looking, their token for forms, and where they are.
fn context(signed: &Signed, nav: &str) -> Map<String, Value> {
    let tenant = &signed.auth.tenant;
    let mut ctx = Map::new();
    ctx.insert(
        "me".into(),
        json!({
            "email": signed.member.email,
            "name": signed.member.name,
            "role": signed.member.role.as_str(),
            "can_write": signed.can_write(),
            "is_admin": signed.is_admin(),
        }),
    );
    ctx.insert("csrf".into(), json!(signed.csrf));
    ctx.insert("nav".into(), json!(nav));
    ctx.insert("workspace".into(), json!(tenant.workspace.name));
    ctx.insert("plan".into(), json!(tenant.organization.plan.as_str()));
    ctx
}

/// A service error on its way to becoming an error page, so handlers can use `?`.
pub struct Failure(AppError);

impl<E: Into<AppError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        failure(self.0)
    }
}

/// What an action handler answers: usually a redirect, else an error page.
type Answer = Result<Response, Failure>;

/// Turns a service error into a page: the API's message and status, never internals.
fn failure(e: AppError) -> Response {
    let (status, _) = e.status_and_code();
    if status.is_server_error() {
        tracing::error!(error = %e, "dashboard request failed");
    }
    error_page(&e.to_string(), status.as_u16())
}

/// Times as people read them; the API keeps RFC 3339 with milliseconds.
fn time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn time_opt(t: Option<Timestamp>) -> Option<String> {
    t.map(time)
}

/// Short confirmations after a redirect, by code, so a crafted URL cannot put words on our page.
fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "signed_out" => "You are signed out.",
        "enabled" => "Enabled. Deliveries resume, including retries that were waiting.",
        "disabled" => "Disabled. New events wait until you enable it again.",
        "replayed" => "Replay queued: a new delivery of the same event, reason replay.",
        "replayed_all" => "Replays queued for every dead-lettered delivery.",
        "retrying" => "Waiting retries are being sent now.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "created" => "Created.",
        "revoked" => "Revoked.",
        "removed" => "Removed. Their sessions have ended.",
        _ => return None,
    })
}

fn see_other(path: String) -> Response {
    Redirect::to(&path).into_response()
}
