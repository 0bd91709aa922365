//! Webhook endpoints and Generic HTTP destinations: list, add (secret shown once), detail with edit,
//! enable / disable, rotate, test-send with its result inline, delivery history with filters, each
//! delivery's attempts, and replay (one, or every dead letter).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use linkwire_contract::{DeliveryId, DeliveryStatus, EndpointId, EventType, Feature, Scope};
use linkwire_delivery::AttemptReport;
use linkwire_store::{DeliveryFilter, Endpoint, EndpointFilter, EndpointKind};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::render::{error_page, page, page_with_status};
use super::session::{FormData, Signed, WriteForm};
use super::{context, failure, notice, see_other, time, time_opt, Answer};
use crate::auth::Auth;
use crate::error::AppError;
use crate::service::destinations::{self, DestinationInput};
use crate::service::webhooks::{self, EndpointPatch, NewEndpointInput};
use crate::state::AppState;

const HISTORY_PAGE: u32 = 50;

/// The event types an endpoint may subscribe to, each marked with the plan it needs.
fn event_type_options(auth: &Auth, selected: &[String]) -> Vec<Value> {
    EventType::ALL
        .iter()
        .filter(|t| t.is_subscribable())
        .map(|t| {
            let feature = t.required_feature();
            json!({
                "value": t.as_str(),
                "description": t.description(),
                "plan": feature.minimum_plan().as_str(),
                "click": feature == Feature::ClickWebhooks,
                "allowed": auth.plan().allows(feature),
                "checked": selected.iter().any(|s| s == t.as_str()),
            })
        })
        .collect()
}

fn detail_path(ep: &Endpoint) -> String {
    match ep.kind {
        EndpointKind::GenericHttp => format!("/dashboard/destinations/{}", ep.id),
        _ => format!("/dashboard/webhooks/{}", ep.id),
    }
}

fn endpoint_view(ep: &Endpoint) -> Value {
    let option = |k: &str| ep.options.as_ref().and_then(|o| o.get(k)).cloned();
    json!({
        "id": ep.id,
        "name": ep.name,
        "url": ep.url,
        "kind": ep.kind.as_str(),
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "subscriptions": ep.subscriptions.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "installation": ep.installation_id.is_some(),
        "created_at": time(ep.created_at),
        "last_success_at": time_opt(ep.last_success_at),
        "failing_since": time_opt(ep.failing_since),
        "overlapping_secrets": ep.previous_secrets.len(),
        "path": detail_path(ep),
        "method": option("method"),
        "header_names": option("header_names"),
        "payload_template": option("payload_template"),
    })
}

/// The endpoints as the pages show them, each with its dead letters waiting now.
async fn endpoint_rows(
    state: &AppState,
    auth: &Auth,
    endpoints: &[Endpoint],
) -> Result<Vec<Value>, AppError> {
    let dead = state.store.dead_letter_counts(auth.workspace_id()).await?;
    Ok(endpoints
        .iter()
        .map(|e| {
            let mut v = endpoint_view(e);
            v["dead_letter_items"] = json!(dead.get(&e.id.to_string()).copied().unwrap_or(0));
            v
        })
        .collect())
}

async fn webhook_rows(state: &AppState, auth: &Auth) -> Result<Vec<Value>, AppError> {
    let mut endpoints = state
        .store
        .list_endpoints(auth.workspace_id(), &EndpointFilter::default())
        .await?;
    endpoints.retain(|e| e.kind != EndpointKind::GenericHttp);
    endpoint_rows(state, auth, &endpoints).await
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn list_webhooks(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::WebhooksRead) {
        return failure(e);
    }
    match webhook_rows(&state, &signed.auth).await {
        Ok(rows) => {
            let mut ctx = context(&signed, "webhooks");
            ctx.insert("endpoints".into(), json!(rows));
            ctx.insert("notice".into(), json!(notice(q.notice.as_deref())));
            page("webhooks.html", ctx)
        }
        Err(e) => failure(e),
    }
}

fn new_webhook_page(signed: &Signed, form: Option<&FormData>, error: Option<String>) -> Response {
    let mut ctx = context(signed, "webhooks");
    let selected = form.map(|f| f.all("event_types")).unwrap_or_default();
    ctx.insert(
        "event_types".into(),
        json!(event_type_options(&signed.auth, &selected)),
    );
    ctx.insert(
        "values".into(),
        json!({
            "url": form.and_then(|f| f.get("url")).unwrap_or(""),
            "name": form.and_then(|f| f.get("name")).unwrap_or(""),
        }),
    );
    let status = if error.is_some() { 422 } else { 200 };
    ctx.insert("error".into(), json!(error));
    page_with_status("webhook_new.html", ctx, status)
}

pub async fn new_webhook(signed: Signed) -> Response {
    if !signed.can_write() {
        return error_page("Viewers cannot add endpoints.", 403);
    }
    new_webhook_page(&signed, None, None)
}

fn secret_page(signed: &Signed, ep: &Endpoint, secret: &str, title: String) -> Response {
    let mut ctx = context(signed, "webhooks");
    ctx.insert(
        "secret".into(),
        json!({
            "title": title,
            "label": "Signing secret",
            "value": secret,
            "hint": "Verify every delivery's signature with it (see the receiver guide). It is shown only now: linkwire stores it encrypted and will not show it again.",
            "back": detail_path(ep),
            "back_label": "Go to the endpoint",
        }),
    );
    page("secret.html", ctx)
}

pub async fn create_webhook(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::WebhooksWrite) {
        return failure(e);
    }
    let input = NewEndpointInput {
        url: form.get("url").unwrap_or("").to_owned(),
        name: form.text("name").map(str::to_owned),
        subscriptions: form.all("event_types"),
        enabled: true,
        kind: EndpointKind::Webhook,
        secret: None,
        installation_id: None,
        max_concurrency: None,
        rate_limit_per_sec: None,
        options: None,
    };
    match webhooks::create(&state, &signed.auth, input).await {
        Ok((ep, secret)) => secret_page(
            &signed,
            &ep,
            &secret,
            format!("Endpoint “{}” added", ep.name),
        ),
        Err(e @ (AppError::Validation { .. } | AppError::PlanUpgradeRequired { .. })) => {
            new_webhook_page(&signed, Some(&form), Some(e.to_string()))
        }
        Err(e) => failure(e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    status: Option<String>,
    event_type: Option<String>,
    before: Option<String>,
    notice: Option<String>,
}

fn parse_id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, AppError> {
    raw.parse().map_err(|_| AppError::NotFound(what))
}

/// Renders an endpoint's page; `extra` carries a test result or a form error.
async fn endpoint_page(
    state: &AppState,
    signed: &Signed,
    id: EndpointId,
    q: &HistoryQuery,
    extra: Map<String, Value>,
    status: u16,
) -> Response {
    let auth = &signed.auth;
    if let Err(e) = auth.require(Scope::WebhooksRead) {
        return failure(e);
    }
    let ep = match webhooks::get(state, auth, id).await {
        Ok(ep) => ep,
        Err(e) => return failure(e),
    };
    let blank = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let status_filter = blank(&q.status).and_then(|s| s.parse::<DeliveryStatus>().ok());
    let type_filter = blank(&q.event_type).and_then(|s| s.parse::<EventType>().ok());
    let filter = DeliveryFilter {
        status: status_filter,
        event_type: type_filter,
        before: blank(&q.before).and_then(|b| b.parse::<DeliveryId>().ok()),
        limit: HISTORY_PAGE,
        ..Default::default()
    };
    let deliveries = match state
        .store
        .list_deliveries(auth.workspace_id(), id, &filter)
        .await
    {
        Ok(d) => d,
        Err(e) => return failure(e.into()),
    };
    let view = match endpoint_rows(state, auth, std::slice::from_ref(&ep)).await {
        Ok(mut rows) => rows.remove(0),
        Err(e) => return failure(e),
    };
    let rows: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "event_id": d.event_id,
                "event_type": d.event_type.as_str(),
                "reason": d.reason.as_str(),
                "status": d.status.as_str(),
                "attempts": d.attempts,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "next_attempt_at": time_opt(d.next_attempt_at),
                "created_at": time(d.created_at),
            })
        })
        .collect();
    let mut ctx = context(
        signed,
        if ep.kind == EndpointKind::GenericHttp {
            "destinations"
        } else {
            "webhooks"
        },
    );
    ctx.insert("endpoint".into(), view);
    ctx.insert("deliveries".into(), json!(rows));
    ctx.insert(
        "older".into(),
        json!((deliveries.len() as u32 == HISTORY_PAGE)
            .then(|| deliveries.last().map(|d| d.id))
            .flatten()),
    );
    ctx.insert(
        "filter".into(),
        json!({
            "status": status_filter.map(|s| s.as_str()),
            "event_type": type_filter.map(|t| t.as_str()),
            "paged": filter.before.is_some(),
        }),
    );
    ctx.insert(
        "statuses".into(),
        json!(DeliveryStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()),
    );
    let mut all_types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    all_types.sort_unstable();
    ctx.insert("all_types".into(), json!(all_types));
    let selected: Vec<String> = ep
        .subscriptions
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    ctx.insert(
        "event_types".into(),
        json!(event_type_options(auth, &selected)),
    );
    ctx.insert("notice".into(), json!(notice(q.notice.as_deref())));
    ctx.extend(extra);
    page_with_status("endpoint.html", ctx, status)
}

pub async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    match parse_id(&id, "endpoint") {
        Ok(id) => endpoint_page(&state, &signed, id, &q, Map::new(), 200).await,
        Err(e) => failure(e),
    }
}

pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::WebhooksWrite) {
        return failure(e);
    }
    let id: EndpointId = match parse_id(&id, "endpoint") {
        Ok(id) => id,
        Err(e) => return failure(e),
    };
    let patch = EndpointPatch {
        url: form.get("url").map(str::to_owned),
        name: form.get("name").map(str::to_owned),
        subscriptions: Some(form.all("event_types")),
        ..Default::default()
    };
    match webhooks::update(&state, &signed.auth, id, patch).await {
        Ok(ep) => see_other(format!("{}?notice=saved", detail_path(&ep))),
        Err(e @ (AppError::Validation { .. } | AppError::PlanUpgradeRequired { .. })) => {
            let mut extra = Map::new();
            extra.insert("edit_error".into(), json!(e.to_string()));
            endpoint_page(&state, &signed, id, &HistoryQuery::default(), extra, 422).await
        }
        Err(e) => failure(e),
    }
}

/// The checks every endpoint action shares: a writer, the right scope for the kind, an existing endpoint.
async fn writable_endpoint(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<Endpoint, AppError> {
    let id: EndpointId = parse_id(id, "endpoint")?;
    let ep = webhooks::get(state, &signed.auth, id).await?;
    let scope = if ep.kind == EndpointKind::GenericHttp {
        Scope::ConnectionsWrite
    } else {
        Scope::WebhooksWrite
    };
    signed.auth.require(scope)?;
    Ok(ep)
}

async fn set_enabled(state: &AppState, id: &str, signed: &Signed, enabled: bool) -> Answer {
    let ep = writable_endpoint(state, signed, id).await?;
    let patch = EndpointPatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    let ep = webhooks::update(state, &signed.auth, ep.id, patch).await?;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(format!("{}?notice={notice}", detail_path(&ep))))
}

pub async fn enable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    set_enabled(&state, &id, &signed, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    set_enabled(&state, &id, &signed, false).await
}

pub async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    let ep = match writable_endpoint(&state, &signed, &id).await {
        Ok(ep) => ep,
        Err(e) => return failure(e),
    };
    let overlap_hours: u64 = form
        .get("overlap_hours")
        .and_then(|h| h.parse().ok())
        .unwrap_or(0);
    match webhooks::rotate_secret(&state, &signed.auth, ep.id, overlap_hours * 3600).await {
        Ok((ep, secret)) => {
            let title = if overlap_hours > 0 {
                format!(
                    "New secret for “{}”; the old one keeps signing for {overlap_hours} h",
                    ep.name
                )
            } else {
                format!("New secret for “{}”; the old one no longer signs", ep.name)
            };
            secret_page(&signed, &ep, &secret, title)
        }
        Err(e) => failure(e),
    }
}

fn test_view(r: &AttemptReport, event_id: &str) -> Value {
    json!({
        "delivered": r.delivered,
        "status_code": r.status_code,
        "error": r.error_class,
        "latency_ms": r.latency.as_millis() as u64,
        "response_snippet": r.response_snippet,
        "event_id": event_id,
    })
}

pub async fn test_send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Response {
    let ep = match writable_endpoint(&state, &signed, &id).await {
        Ok(ep) => ep,
        Err(e) => return failure(e),
    };
    match webhooks::test_send(&state, &signed.auth, ep.id).await {
        Ok((event, report)) => {
            let mut extra = Map::new();
            extra.insert(
                "test_result".into(),
                test_view(&report, &event.id.to_string()),
            );
            endpoint_page(&state, &signed, ep.id, &HistoryQuery::default(), extra, 200).await
        }
        Err(e) => failure(e),
    }
}

pub async fn replay_dead_letters(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    let ep = writable_endpoint(&state, &signed, &id).await?;
    let dead = DeliveryStatus::DeadLetter;
    webhooks::replay_bulk(&state, &signed.auth, ep.id, dead, None, None).await?;
    Ok(see_other(format!(
        "{}?notice=replayed_all",
        detail_path(&ep)
    )))
}

pub async fn retry_now(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    let ep = writable_endpoint(&state, &signed, &id).await?;
    webhooks::retry_now(&state, &signed.auth, ep.id).await?;
    Ok(see_other(format!("{}?notice=retrying", detail_path(&ep))))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    let ep = writable_endpoint(&state, &signed, &id).await?;
    let back = if ep.kind == EndpointKind::GenericHttp {
        "/dashboard/destinations"
    } else {
        "/dashboard/webhooks"
    };
    webhooks::delete(&state, &signed.auth, ep.id).await?;
    Ok(see_other(format!("{back}?notice=deleted")))
}

pub async fn delivery(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if let Err(e) = signed.auth.require(Scope::WebhooksRead) {
        return failure(e);
    }
    let id: DeliveryId = match parse_id(&id, "delivery") {
        Ok(id) => id,
        Err(e) => return failure(e),
    };
    let (d, attempts) = match webhooks::get_delivery(&state, &signed.auth, id).await {
        Ok(x) => x,
        Err(e) => return failure(e),
    };
    let ep = match webhooks::get(&state, &signed.auth, d.endpoint_id).await {
        Ok(ep) => ep,
        Err(e) => return failure(e),
    };
    let mut ctx = context(
        &signed,
        if ep.kind == EndpointKind::GenericHttp {
            "destinations"
        } else {
            "webhooks"
        },
    );
    ctx.insert("endpoint".into(), endpoint_view(&ep));
    ctx.insert(
        "delivery".into(),
        json!({
            "id": d.id,
            "event_id": d.event_id,
            "event_type": d.event_type.as_str(),
            "reason": d.reason.as_str(),
            "status": d.status.as_str(),
            "attempts": d.attempts,
            "next_attempt_at": time_opt(d.next_attempt_at),
            "created_at": time(d.created_at),
            "finished_at": time_opt(d.finished_at),
        }),
    );
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "started_at": time(a.started_at),
                "latency_ms": a.latency_ms,
                "status_code": a.status_code,
                "error": a.error_class,
                "response_snippet": a.response_snippet,
                "outcome": a.outcome,
                "next_attempt_at": time_opt(a.next_attempt_at),
            })
        })
        .collect();
    ctx.insert("attempts".into(), json!(attempts));
    ctx.insert("notice".into(), json!(notice(q.notice.as_deref())));
    page("delivery.html", ctx)
}

pub async fn replay_delivery(
    State(state): State<AppState>,
    Path(id): Path<String>,
    WriteForm { signed, .. }: WriteForm,
) -> Answer {
    let id: DeliveryId = parse_id(&id, "delivery")?;
    let (d, _) = webhooks::get_delivery(&state, &signed.auth, id).await?;
    writable_endpoint(&state, &signed, &d.endpoint_id.to_string()).await?;
    let new_id = webhooks::replay_one(&state, &signed.auth, id).await?;
    Ok(see_other(format!(
        "/dashboard/deliveries/{new_id}?notice=replayed"
    )))
}

// ---- Generic HTTP destinations ----

/// New destinations start from the Slack starter (the first of the shipped templates).
const DEFAULT_TEMPLATE: &str = linkwire_delivery::templates::STARTERS[0].2;

async fn destinations_page(
    state: &AppState,
    signed: &Signed,
    form: Option<&FormData>,
    extra: Map<String, Value>,
    status: u16,
) -> Response {
    let listed = match destinations::list(state, &signed.auth).await {
        Ok(list) => endpoint_rows(state, &signed.auth, &list).await,
        Err(e) => Err(e),
    };
    let rows = match listed {
        Ok(rows) => rows,
        Err(e) => return failure(e),
    };
    let mut ctx = context(signed, "destinations");
    ctx.insert("destinations".into(), json!(rows));
    let selected = form
        .map(|f| f.all("event_types"))
        .unwrap_or_else(|| vec!["link.created".into()]);
    ctx.insert(
        "event_types".into(),
        json!(event_type_options(&signed.auth, &selected)),
    );
    ctx.insert(
        "values".into(),
        json!({
            "name": form.and_then(|f| f.get("name")).unwrap_or(""),
            "url": form.and_then(|f| f.get("url")).unwrap_or(""),
            "method": form.and_then(|f| f.get("method")).unwrap_or("POST"),
            "header_name": form.and_then(|f| f.get("header_name")).unwrap_or(""),
            "payload_template": form.and_then(|f| f.get("payload_template")).unwrap_or(DEFAULT_TEMPLATE),
        }),
    );
    ctx.insert("methods".into(), json!(["POST", "PUT", "PATCH"]));
    ctx.extend(extra);
    page_with_status("destinations.html", ctx, status)
}

pub async fn list_destinations(
    State(state): State<AppState>,
    signed: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let mut extra = Map::new();
    extra.insert("notice".into(), json!(notice(q.notice.as_deref())));
    destinations_page(&state, &signed, None, extra, 200).await
}

fn destination_input(form: &FormData) -> DestinationInput {
    let mut headers = serde_json::Map::new();
    if let Some(name) = form.text("header_name") {
        headers.insert(
            name.to_owned(),
            json!(form.get("header_value").unwrap_or("")),
        );
    }
    let template = form
        .get("payload_template")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    serde_json::from_value(json!({
        "name": form.get("name").unwrap_or(""),
        "type": "generic_http",
        "credentials": { "url": form.get("url").unwrap_or(""), "method": form.get("method"), "headers": headers },
        "actions": [{
            "action_type": "send_webhook",
            "payload_template": template,
            "event_filter": { "include": { "event_types": form.all("event_types") } },
        }],
    }))
    .expect("the dashboard builds a well-formed destination")
}

/// Creates a destination, or (with `action=preview`) renders its template on a sample event without saving.
pub async fn create_destination(
    State(state): State<AppState>,
    WriteForm { signed, form }: WriteForm,
) -> Response {
    if form.get("action") == Some("preview") {
        let source = form.get("payload_template").unwrap_or("");
        let event_type = form
            .all("event_types")
            .first()
            .and_then(|t| t.parse::<EventType>().ok())
            .unwrap_or(EventType::LinkCreated);
        let mut extra = Map::new();
        match destinations::render_preview(&state, &signed.auth, source, event_type) {
            Ok(body) => extra.insert(
                "preview".into(),
                json!({ "event_type": event_type.as_str(), "body": body }),
            ),
            Err(e) => extra.insert(
                "preview".into(),
                json!({ "event_type": event_type.as_str(), "error": e.to_string() }),
            ),
        };
        return destinations_page(&state, &signed, Some(&form), extra, 200).await;
    }
    match destinations::create(&state, &signed.auth, destination_input(&form)).await {
        Ok((ep, secret)) => secret_page(
            &signed,
            &ep,
            &secret,
            format!("Destination “{}” added", ep.name),
        ),
        Err(e @ (AppError::Validation { .. } | AppError::PlanUpgradeRequired { .. })) => {
            let mut extra = Map::new();
            extra.insert("error".into(), json!(e.to_string()));
            destinations_page(&state, &signed, Some(&form), extra, 422).await
        }
        Err(e) => failure(e),
    }
}
