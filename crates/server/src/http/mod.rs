//! The HTTP surface: one router serving the API, the Nimriz-compatible routes, health, metrics, and, for
//! every other path, the redirect. Handlers extract, call one service function, and map the result.

pub mod compat;
pub mod destinations;
pub mod domains;
pub mod error;
pub mod events;
pub mod extract;
pub mod integrations;
pub mod links;
pub mod meta;
pub mod openapi;
pub mod redirect;
pub mod request_id;
pub mod views;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, post, put};
use axum::{middleware, Router};

use crate::error::AppError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/whoami", get(meta::whoami))
        .route("/api/v1/me", get(meta::whoami))
        .route("/api/v1/links", get(links::list).post(links::create))
        .route("/api/v1/links/find", get(links::find))
        .route(
            "/api/v1/links/{id}",
            get(links::get).patch(links::patch).delete(links::delete),
        )
        .route("/api/v1/links/{id}/takedown", post(links::takedown))
        .route("/api/v1/links/{id}/restore", post(links::restore))
        .route("/api/v1/links/{id}/qr", get(links::qr_code))
        .route("/api/v1/links/{id}/analytics", get(links::analytics))
        .route("/api/v1/domains", get(domains::list).post(domains::create))
        .route("/api/v1/domains/{id}", get(domains::get))
        .route("/api/v1/domains/{id}/verify", post(domains::verify))
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/sample", get(events::sample))
        .route("/api/v1/events/{id}", get(events::get))
        .route("/api/v1/event-types", get(events::types))
        .route(
            "/api/v1/api-keys",
            get(meta::list_api_keys).post(meta::create_api_key),
        )
        .route("/api/v1/api-keys/{id}", delete(meta::revoke_api_key))
        .route(
            "/api/v1/webhooks/endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}",
            get(webhooks::get)
                .patch(webhooks::patch)
                .delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/test",
            post(webhooks::test_send),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/replay",
            post(webhooks::replay_bulk),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/recover",
            post(webhooks::recover),
        )
        .route(
            "/api/v1/webhooks/endpoints/{id}/retry-now",
            post(webhooks::retry_now),
        )
        .route(
            "/api/v1/webhooks/deliveries/{id}",
            get(webhooks::get_delivery),
        )
        .route(
            "/api/v1/webhooks/deliveries/{id}/replay",
            post(webhooks::replay_delivery),
        )
        .route("/api/v1/webhooks/stats", get(webhooks::stats))
        .route(
            "/api/webhooks/endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/webhooks/endpoints/{id}",
            get(webhooks::get)
                .patch(webhooks::patch)
                .delete(webhooks::delete),
        )
        .route(
            "/api/v1/integrations/installations",
            get(integrations::list_installations).post(integrations::create_installation),
        )
        .route(
            "/api/v1/integrations/installations/{id}",
            delete(integrations::revoke_installation),
        )
        .route(
            "/api/v1/hooks",
            get(integrations::list_hooks).post(integrations::subscribe),
        )
        .route(
            "/api/v1/hooks/{id}",
            get(integrations::get_hook).delete(integrations::unsubscribe),
        )
        .route(
            "/api/integrations/destinations",
            get(destinations::list).post(destinations::create),
        )
        .route(
            "/api/integrations/destinations/preview",
            post(destinations::preview),
        )
        .route(
            "/api/integrations/destinations/templates",
            get(destinations::templates),
        )
        .route(
            "/api/integrations/destinations/{id}",
            get(destinations::get)
                .put(destinations::replace)
                .delete(destinations::delete),
        )
        .route(
            "/api/integrations/destinations/{id}/test-send",
            post(destinations::test_send),
        )
        .route("/api/shorten", post(compat::shorten))
        .route("/api/check-slug", post(compat::check_slug))
        .route("/api/update-slug", put(compat::update_slug))
        .route("/api/update-destination", put(compat::update_destination))
        .route("/api/update-password", put(compat::update_password))
        .route("/api/update-expiration", put(compat::update_expiration))
        .route("/api/delete-link", post(compat::delete_link))
        .route("/api", any(unknown_api_route))
        .route("/api/{*rest}", any(unknown_api_route))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn(request_id::layer));

    Router::new()
        .merge(api)
        .merge(crate::dashboard::router().layer(middleware::from_fn(request_id::layer)))
        .route("/docs", get(openapi::docs_page))
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .fallback(redirect::redirect)
        .with_state(state)
}

async fn unknown_api_route() -> AppError {
    AppError::NotFound("route")
}
