//! Generic HTTP destinations (contract §8): an endpoint of kind `generic_http` with a method, custom
//! headers (stored encrypted, shown masked), an optional payload template and an event-type filter.
//! Signed, retried and recorded exactly like webhooks, by the same engine.

use linkwire_contract::{EndpointId, EventType, Feature, Scope};
use linkwire_delivery::sender::RESERVED_HEADERS;
use linkwire_delivery::templates::{PayloadTemplate, TemplateError};
use linkwire_store::{Endpoint, EndpointFilter, EndpointKind};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::service::samples::synthetic;
use crate::service::webhooks::{self, NewEndpointInput};
use crate::state::AppState;

const MAX_HEADERS: usize = 20;
const METHODS: &[&str] = &["POST", "PUT", "PATCH"];

/// The Nimriz destination shape, as sent by clients.
#[derive(Debug, Deserialize)]
pub struct DestinationInput {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub enabled: Option<bool>,
    pub credentials: Credentials,
    #[serde(default)]
    pub actions: Vec<Action>,
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    #[serde(alias = "endpoint_url")]
    pub url: String,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct Action {
    pub name: Option<String>,
    pub action_type: String,
    pub enabled: Option<bool>,
    pub payload_template: Option<String>,
    pub event_filter: EventFilter,
}

#[derive(Debug, Deserialize)]
pub struct EventFilter {
    pub include: Include,
    #[serde(default)]
    pub exclude: Exclude,
}

#[derive(Debug, Deserialize)]
pub struct Include {
    pub event_types: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Exclude {
    #[serde(default = "yes")]
    pub bot_traffic: bool,
}

fn yes() -> bool {
    true
}

fn template_error(e: TemplateError) -> AppError {
    AppError::Validation {
        field: "payload_template",
        message: e.to_string(),
    }
}

/// Renders `source` against a sample event of `event_type`: the preview route and the save-time check.
pub fn render_preview(
    state: &AppState,
    auth: &Auth,
    source: &str,
    event_type: EventType,
) -> Result<String, TemplateError> {
    let template = PayloadTemplate::parse(source)?;
    let sample = synthetic(state, auth, event_type);
    template.render(&sample.body, state.clock.now().timestamp())
}

struct Checked {
    url: String,
    subscriptions: Vec<String>,
    options: Value,
    enabled: bool,
}

fn check(state: &AppState, auth: &Auth, input: DestinationInput) -> AppResult<(String, Checked)> {
    if input.kind != "generic_http" {
        return Err(AppError::validation(
            "type",
            "only generic_http destinations are supported",
        ));
    }
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let method = input
        .credentials
        .method
        .as_deref()
        .unwrap_or("POST")
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(AppError::validation(
            "credentials.method",
            "POST, PUT or PATCH",
        ));
    }
    if input.credentials.headers.len() > MAX_HEADERS {
        return Err(AppError::validation(
            "credentials.headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut headers = Vec::new();
    for (k, v) in &input.credentials.headers {
        let value = v.as_str().ok_or_else(|| {
            AppError::validation("credentials.headers", "header values are strings")
        })?;
        let valid_name = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name || value.len() > 4096 || value.contains(['\r', '\n']) {
            return Err(AppError::validation(
                "credentials.headers",
                format!("header `{k}` is not a valid header"),
            ));
        }
        if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            return Err(AppError::validation(
                "credentials.headers",
                format!("header `{k}` is set by linkwire and cannot be overridden"),
            ));
        }
        headers.push((k.clone(), value.to_owned()));
    }
    let [action] = <[Action; 1]>::try_from(input.actions)
        .map_err(|_| AppError::validation("actions", "exactly one send_webhook action"))?;
    if action.action_type != "send_webhook" {
        return Err(AppError::validation(
            "actions",
            "action_type must be send_webhook",
        ));
    }
    let types = webhooks::parse_subscriptions(auth, &action.event_filter.include.event_types)?;
    if let Some(source) = &action.payload_template {
        // Refuse at save time what could never be delivered: every subscribed type must render to JSON.
        for t in &types {
            render_preview(state, auth, source, *t).map_err(template_error)?;
        }
    }
    let options = json!({
        "method": method,
        "headers_sealed": state.engine.secrets().seal(&serde_json::to_string(&headers).expect("pairs serialize")),
        "header_names": headers.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "payload_template": action.payload_template,
        "action_name": action.name.unwrap_or_else(|| "Send webhook".into()),
        "exclude_bot_traffic": action.event_filter.exclude.bot_traffic,
    });
    let enabled = input.enabled.unwrap_or(true) && action.enabled.unwrap_or(true);
    Ok((
        name,
        Checked {
            url: input.credentials.url,
            subscriptions: types.iter().map(|t| t.as_str().to_owned()).collect(),
            options,
            enabled,
        },
    ))
}

fn gate(auth: &Auth, scope: Scope) -> AppResult<()> {
    auth.require(scope)?;
    AppError::require_plan(auth.plan(), Feature::GenericHttpDestinations)
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    input: DestinationInput,
) -> AppResult<(Endpoint, String)> {
    gate(auth, Scope::ConnectionsWrite)?;
    let (name, c) = check(state, auth, input)?;
    webhooks::create(
        state,
        auth,
        NewEndpointInput {
            url: c.url,
            name: Some(name),
            subscriptions: c.subscriptions,
            enabled: c.enabled,
            kind: EndpointKind::GenericHttp,
            secret: None,
            installation_id: None,
            max_concurrency: None,
            rate_limit_per_sec: None,
            options: Some(c.options),
        },
    )
    .await
}

pub async fn get(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<Endpoint> {
    gate(auth, Scope::ConnectionsRead)?;
    let ep = webhooks::get(state, auth, id).await?;
    if ep.kind != EndpointKind::GenericHttp {
        return Err(AppError::NotFound("destination"));
    }
    Ok(ep)
}

pub async fn list(state: &AppState, auth: &Auth) -> AppResult<Vec<Endpoint>> {
    gate(auth, Scope::ConnectionsRead)?;
    let filter = EndpointFilter {
        kind: Some(EndpointKind::GenericHttp),
        ..Default::default()
    };
    Ok(state
        .store
        .list_endpoints(auth.workspace_id(), &filter)
        .await?)
}

/// Replaces a destination's definition (PUT semantics); its secret and history stay.
pub async fn replace(
    state: &AppState,
    auth: &Auth,
    id: EndpointId,
    input: DestinationInput,
) -> AppResult<Endpoint> {
    gate(auth, Scope::ConnectionsWrite)?;
    let mut ep = get(state, auth, id).await?;
    let (name, c) = check(state, auth, input)?;
    ep.name = name;
    ep.url = state
        .engine
        .sender()
        .validate_url(c.url.trim())
        .map_err(|m| AppError::validation("credentials.url", m))?
        .to_string();
    ep.subscriptions = c
        .subscriptions
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    ep.options = Some(c.options);
    let now = state.clock.now();
    state.store.update_endpoint(&ep, now).await?;
    if c.enabled != ep.enabled {
        state
            .store
            .set_endpoint_enabled(
                auth.workspace_id(),
                id,
                c.enabled,
                Some("disabled by a user"),
                now,
            )
            .await?;
    }
    state.engine.invalidate_endpoint(id);
    get(state, auth, id).await
}

pub async fn delete(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<()> {
    gate(auth, Scope::ConnectionsWrite)?;
    get(state, auth, id).await?;
    webhooks::delete(state, auth, id).await
}

/// The destination in the Nimriz shape; header values are never shown.
pub fn view(ep: &Endpoint) -> Value {
    let opt = |k: &str| {
        ep.options
            .as_ref()
            .and_then(|o| o.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let headers: serde_json::Map<String, Value> = opt("header_names")
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.as_str())
                .map(|n| (n.to_owned(), Value::from("********")))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": ep.id,
        "name": ep.name,
        "type": "generic_http",
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "credentials": { "url": ep.url, "method": opt("method"), "headers": headers },
        "actions": [{
            "name": opt("action_name"),
            "action_type": "send_webhook",
            "enabled": ep.enabled,
            "payload_template": opt("payload_template"),
            "event_filter": {
                "include": { "event_types": ep.subscriptions },
                "exclude": { "bot_traffic": opt("exclude_bot_traffic").as_bool().unwrap_or(true) },
            },
        }],
        "created_at": linkwire_contract::format_timestamp(ep.created_at),
        "updated_at": linkwire_contract::format_timestamp(ep.updated_at),
    })
}
