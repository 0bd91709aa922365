//! JSON shapes of resources in API answers. One function per resource, used by native and compatible
//! routes alike, so both always show the same keys.

use linkwire_contract::{format_timestamp, DomainStatus};
use linkwire_store::{Credential, Domain, Link};
use serde_json::{json, Value};

use crate::service::domains::verification_record;
use crate::state::AppState;

pub fn link(state: &AppState, link: &Link) -> Value {
    json!({
        "id": link.id,
        "url_id": link.id,
        "workspace_id": link.workspace_id,
        "domain_id": link.domain_id,
        "domain_name": link.domain_name,
        "short_code": link.short_code,
        "short_url": state.short_url(link),
        "long_url": link.destination.as_str(),
        "destination_host": link.destination.host(),
        "redirect_status_code": link.redirect_status.code(),
        "expires_at": link.expires_at.map(format_timestamp),
        "password_protected": link.password_hash.is_some(),
        "tags": link.tags,
        "utm": link.utm,
        "status": link.status,
        "takedown_reason": link.takedown_reason,
        "source": link.source,
        "created_at": format_timestamp(link.created_at),
        "updated_at": format_timestamp(link.updated_at),
    })
}

pub fn domain(d: &Domain) -> Value {
    let mut v = json!({
        "id": d.id,
        "domain_name": d.domain_name,
        "verification_status": d.state.verification_status,
        "ready_for_traffic": d.state.ready_for_traffic,
        "domain_status": d.state.domain_status,
        "is_default": d.is_default,
        "created_at": format_timestamp(d.created_at),
        "updated_at": format_timestamp(d.updated_at),
    });
    if !d.is_default && d.state.domain_status != DomainStatus::Active {
        let (name, value) = verification_record(d);
        v["verification"] = json!({ "type": "TXT", "name": name, "value": value });
    }
    v
}

pub fn credential(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "prefix": c.token_prefix,
        "scopes": c.scopes.to_strings(),
        "platform": c.platform,
        "created_at": format_timestamp(c.created_at),
        "revoked_at": c.revoked_at.map(format_timestamp),
    })
}

pub fn endpoint(e: &linkwire_store::Endpoint) -> Value {
    json!({
        "id": e.id,
        "endpoint_url": e.url,
        "name": e.name,
        "kind": e.kind,
        "subscriptions": e.subscriptions,
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "max_concurrency": e.max_concurrency,
        "secret_rotation_overlap_until": e.previous_secrets.iter().map(|p| p.expires_at).max()
            .map(|ms| format_timestamp(linkwire_contract::from_millis(ms))),
        "last_success_at": e.last_success_at.map(format_timestamp),
        "failing_since": e.failing_since.map(format_timestamp),
        "created_at": format_timestamp(e.created_at),
        "updated_at": format_timestamp(e.updated_at),
    })
}

pub fn delivery(d: &linkwire_store::DeliveryRow) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "endpoint_id": d.endpoint_id,
        "event_type": d.event_type,
        "reason": d.reason,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.map(format_timestamp),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": format_timestamp(d.created_at),
        "updated_at": format_timestamp(d.updated_at),
        "finished_at": d.finished_at.map(format_timestamp),
    })
}

pub fn attempt(a: &linkwire_store::AttemptRow) -> Value {
    json!({
        "attempt": a.attempt,
        "started_at": format_timestamp(a.started_at),
        "latency_ms": a.latency_ms,
        "status_code": a.status_code,
        "error": a.error_class,
        "response_snippet": a.response_snippet,
        "outcome": a.outcome,
        "next_attempt_at": a.next_attempt_at.map(format_timestamp),
    })
}
