//! The event log: list, get, the catalog, and samples in exactly the delivered shape. Bodies are served
//! as stored, byte for byte.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use linkwire_contract::{EventId, EventRecord, EventType, LinkId, Scope};
use linkwire_store::EventFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::http::extract::{parse_time, Json, PathId, Query};
use crate::service::samples::synthetic;
use crate::state::AppState;

/// `{"<key>":[body, body, ...], "next_cursor": ...}` without re-serializing the stored bodies.
fn envelopes_response(key: &str, events: &[EventRecord], next_cursor: Option<String>) -> Response {
    let mut out =
        String::with_capacity(events.iter().map(|e| e.body.len() + 1).sum::<usize>() + 64);
    out.push_str(&format!("{{\"{key}\":["));
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.body);
    }
    out.push_str("],\"next_cursor\":");
    out.push_str(&serde_json::to_string(&next_cursor).expect("string option serializes"));
    out.push('}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

fn parse_type(raw: Option<&str>) -> AppResult<Option<EventType>> {
    raw.filter(|t| !t.is_empty())
        .map(|t| {
            t.parse()
                .map_err(|_| AppError::validation("type", format!("unknown event type `{t}`")))
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    link_id: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    auth.require(Scope::EventsRead)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = EventFilter {
        event_type: parse_type(q.event_type.as_deref())?,
        link_id: q
            .link_id
            .as_deref()
            .map(|l| {
                l.parse::<LinkId>()
                    .map_err(|_| AppError::validation("link_id", "must be a link id"))
            })
            .transpose()?,
        since: q
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        before: q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<EventId>()
                    .map_err(|_| AppError::validation("cursor", "not a cursor from this API"))
            })
            .transpose()?,
        limit: limit + 1,
    };
    let mut events = state
        .store
        .list_events(auth.workspace_id(), &filter)
        .await?;
    let next = (events.len() > limit as usize).then(|| {
        events.truncate(limit as usize);
        events.last().map(|e| e.id.to_string())
    });
    Ok(envelopes_response("events", &events, next.flatten()))
}

pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EventId>,
) -> AppResult<Response> {
    auth.require(Scope::EventsRead)?;
    let event = state
        .store
        .get_event(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("event"))?;
    let body = format!("{{\"event\":{}}}", event.body);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn types(auth: Auth) -> AppResult<Json<Value>> {
    auth.require(Scope::EventsRead)?;
    let plan = auth.plan();
    let types: Vec<Value> = EventType::ALL
        .iter()
        .map(|t| {
            json!({
                "type": t.as_str(),
                "description": t.description(),
                "subscribable": t.is_subscribable(),
                "required_plan": t.is_subscribable().then(|| t.required_feature().minimum_plan()),
                "available": t.is_subscribable() && plan.allows(t.required_feature()),
            })
        })
        .collect();
    Ok(Json(json!({ "event_types": types })))
}

#[derive(Debug, Deserialize)]
pub struct SampleQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    limit: Option<u32>,
}

/// Recent real events of the type, or one synthetic event when there are none yet.
pub async fn sample(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<SampleQuery>,
) -> AppResult<Response> {
    auth.require(Scope::EventsRead)?;
    let event_type = parse_type(q.event_type.as_deref())?.unwrap_or(EventType::LinkClicked);
    let limit = q.limit.unwrap_or(3).clamp(1, 25);
    let filter = EventFilter {
        event_type: Some(event_type),
        limit,
        ..Default::default()
    };
    let mut events = state
        .store
        .list_events(auth.workspace_id(), &filter)
        .await?;
    if events.is_empty() {
        events.push(synthetic(&state, &auth, event_type));
    }
    Ok(envelopes_response("events", &events, None))
}
