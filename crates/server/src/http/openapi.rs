//! The OpenAPI 3.1 description of every API route (`GET /api/openapi.json`) and a small interactive
//! reference at `/docs` that reads it. The table below is checked against the router by a test, both ways.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Map, Value};

/// A body or query field: name, JSON type, required, what it is.
type Field = (&'static str, &'static str, bool, &'static str);

/// One documented operation.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    tag: &'static str,
    summary: &'static str,
    /// The scope an API key needs; `None` for public routes.
    scope: Option<&'static str>,
    query: &'static [Field],
    body: &'static [Field],
    ok: u16,
}

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    scope: Option<&'static str>,
) -> Op {
    Op {
        method,
        path,
        tag,
        summary,
        scope,
        query: &[],
        body: &[],
        ok: 200,
    }
}

const PAGE: &[Field] = &[
    ("limit", "integer", false, "page size"),
    (
        "cursor",
        "string",
        false,
        "next_cursor of the previous page",
    ),
];
const LINK_FIELDS: &[Field] = &[
    ("long_url", "string", true, "destination URL"),
    (
        "domain_id",
        "string",
        false,
        "a verified domain; the default domain otherwise",
    ),
    ("custom_slug", "string", false, "alias: slug"),
    (
        "redirect_status_code",
        "integer",
        false,
        "301 or 302 (default)",
    ),
    ("expires_at", "string", false, "RFC 3339"),
    (
        "password",
        "string",
        false,
        "visitors must enter it (professional plan)",
    ),
    ("tags", "array", false, "strings"),
    (
        "utm",
        "object",
        false,
        "utm_source, utm_medium, utm_campaign, utm_term, utm_content",
    ),
];
const LINK_PATCH: &[Field] = &[
    ("long_url", "string", false, "new destination"),
    ("slug", "string", false, "alias: custom_slug"),
    ("expires_at", "string", false, "null clears"),
    ("password", "string", false, "null clears"),
    ("tags", "array", false, "strings"),
    ("utm", "object", false, "UTM fields"),
    ("redirect_status_code", "integer", false, "301 or 302"),
];
const ENDPOINT_FIELDS: &[Field] = &[
    ("endpoint_url", "string", true, "https URL; alias: url"),
    (
        "subscriptions",
        "array",
        true,
        "event types; alias: event_types",
    ),
    ("name", "string", false, "defaults to the URL's host"),
    ("enabled", "boolean", false, "default true"),
    ("max_concurrency", "integer", false, "1..64, default 8"),
];
const ENDPOINT_PATCH: &[Field] = &[
    ("endpoint_url", "string", false, "alias: url"),
    ("subscriptions", "array", false, "alias: event_types"),
    ("name", "string", false, ""),
    ("enabled", "boolean", false, "false pauses delivery"),
    ("max_concurrency", "integer", false, "1..64"),
];
const DESTINATION_FIELDS: &[Field] = &[
    ("name", "string", true, ""),
    ("type", "string", true, "generic_http"),
    ("enabled", "boolean", false, ""),
    (
        "credentials",
        "object",
        true,
        "url, method (POST/PUT/PATCH), headers (stored encrypted)",
    ),
    (
        "actions",
        "array",
        true,
        "one send_webhook action: payload_template, event_filter",
    ),
];

pub const OPS: &[Op] = &[
    op(
        "get",
        "/api/v1/whoami",
        "account",
        "The caller: workspace, organization, plan, credential",
        Some("any"),
    ),
    op(
        "get",
        "/api/v1/me",
        "account",
        "Same as /api/v1/whoami",
        Some("any"),
    ),
    Op {
        query: PAGE,
        ..op(
            "get",
            "/api/v1/links",
            "links",
            "List links, newest first",
            Some("links:read"),
        )
    },
    Op {
        body: LINK_FIELDS,
        ok: 201,
        ..op(
            "post",
            "/api/v1/links",
            "links",
            "Create a link (emits link.created)",
            Some("links:write"),
        )
    },
    Op {
        query: &[
            ("short_url", "string", false, "a full short URL"),
            ("domain_id", "string", false, "with short_code"),
            ("short_code", "string", false, "with domain_id"),
        ],
        ..op(
            "get",
            "/api/v1/links/find",
            "links",
            "Find a link by short URL or domain and code",
            Some("links:read"),
        )
    },
    op(
        "get",
        "/api/v1/links/{id}",
        "links",
        "Get a link",
        Some("links:read"),
    ),
    Op {
        body: LINK_PATCH,
        ..op(
            "patch",
            "/api/v1/links/{id}",
            "links",
            "Change a link (one link.updated naming every changed field)",
            Some("links:write"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/v1/links/{id}",
            "links",
            "Delete a link (link.updated, event_action deleted)",
            Some("links:write"),
        )
    },
    Op {
        body: &[("reason_code", "string", false, "why")],
        ..op(
            "post",
            "/api/v1/links/{id}/takedown",
            "links",
            "Take a link down (link.takedown_updated)",
            Some("admin"),
        )
    },
    op(
        "post",
        "/api/v1/links/{id}/restore",
        "links",
        "Restore a taken-down link (link.takedown_updated)",
        Some("admin"),
    ),
    Op {
        query: &[
            ("format", "string", false, "svg (default) or png"),
            ("size", "integer", false, "64..2048 px"),
        ],
        ..op(
            "get",
            "/api/v1/links/{id}/qr",
            "links",
            "QR code encoding short_url?nr=qr",
            Some("links:read"),
        )
    },
    Op {
        query: &[
            ("touch_type", "string", false, "short_link_click or qr_scan"),
            ("range_days", "integer", false, "window"),
            ("include_bots", "string", false, "0 or 1"),
        ],
        ..op(
            "get",
            "/api/v1/links/{id}/analytics",
            "links",
            "Clicks by day, country, device, browser, referrer",
            Some("analytics:read"),
        )
    },
    op(
        "get",
        "/api/v1/domains",
        "domains",
        "List domains",
        Some("domains:read"),
    ),
    Op {
        body: &[("domain_name", "string", true, "host name")],
        ok: 201,
        ..op(
            "post",
            "/api/v1/domains",
            "domains",
            "Add a custom domain (answers the TXT record to create)",
            Some("domains:write"),
        )
    },
    op(
        "get",
        "/api/v1/domains/{id}",
        "domains",
        "Get a domain",
        Some("domains:read"),
    ),
    op(
        "post",
        "/api/v1/domains/{id}/verify",
        "domains",
        "Check the TXT record now (domain.verification_updated on change)",
        Some("domains:write"),
    ),
    Op {
        query: &[
            ("type", "string", false, "event type"),
            ("link_id", "string", false, ""),
            ("since", "string", false, "RFC 3339"),
            ("limit", "integer", false, ""),
            ("cursor", "string", false, ""),
        ],
        ..op(
            "get",
            "/api/v1/events",
            "events",
            "The event log, newest first, bodies exactly as delivered",
            Some("events:read"),
        )
    },
    Op {
        query: &[
            ("type", "string", false, "event type"),
            ("limit", "integer", false, ""),
        ],
        ..op(
            "get",
            "/api/v1/events/sample",
            "events",
            "Recent real events of a type, or one synthetic event",
            Some("events:read"),
        )
    },
    op(
        "get",
        "/api/v1/events/{id}",
        "events",
        "One event",
        Some("events:read"),
    ),
    op(
        "get",
        "/api/v1/event-types",
        "events",
        "The event catalog",
        Some("any"),
    ),
    op(
        "get",
        "/api/v1/api-keys",
        "account",
        "List API keys (prefixes only)",
        Some("admin"),
    ),
    Op {
        body: &[
            ("name", "string", true, ""),
            ("scopes", "array", true, "API key scopes"),
        ],
        ok: 201,
        ..op(
            "post",
            "/api/v1/api-keys",
            "account",
            "Create an API key (the token is shown once)",
            Some("admin"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/v1/api-keys/{id}",
            "account",
            "Revoke an API key",
            Some("admin"),
        )
    },
    op(
        "get",
        "/api/v1/webhooks/endpoints",
        "webhooks",
        "List webhook endpoints",
        Some("webhooks:read"),
    ),
    Op {
        body: ENDPOINT_FIELDS,
        ok: 201,
        ..op(
            "post",
            "/api/v1/webhooks/endpoints",
            "webhooks",
            "Create an endpoint (signing_secret shown once)",
            Some("webhooks:write"),
        )
    },
    op(
        "get",
        "/api/v1/webhooks/endpoints/{id}",
        "webhooks",
        "Get an endpoint",
        Some("webhooks:read"),
    ),
    Op {
        body: ENDPOINT_PATCH,
        ..op(
            "patch",
            "/api/v1/webhooks/endpoints/{id}",
            "webhooks",
            "Change an endpoint; enabled false pauses it",
            Some("webhooks:write"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/v1/webhooks/endpoints/{id}",
            "webhooks",
            "Delete an endpoint",
            Some("webhooks:write"),
        )
    },
    Op {
        body: &[(
            "overlap_seconds",
            "integer",
            false,
            "0..604800: the old secret keeps signing",
        )],
        ..op(
            "post",
            "/api/v1/webhooks/endpoints/{id}/rotate-secret",
            "webhooks",
            "Rotate the signing secret (shown once)",
            Some("webhooks:write"),
        )
    },
    op(
        "post",
        "/api/v1/webhooks/endpoints/{id}/test",
        "webhooks",
        "Send nim.webhook.test now and report the answer",
        Some("webhooks:write"),
    ),
    Op {
        query: &[
            (
                "status",
                "string",
                false,
                "pending, delivering, delivered, dead_letter, paused",
            ),
            ("type", "string", false, "event type"),
            ("limit", "integer", false, ""),
            ("cursor", "string", false, ""),
        ],
        ..op(
            "get",
            "/api/v1/webhooks/endpoints/{id}/deliveries",
            "webhooks",
            "Delivery history",
            Some("webhooks:read"),
        )
    },
    Op {
        body: &[
            ("status", "string", false, "default dead_letter"),
            ("from", "string", false, "RFC 3339"),
            ("to", "string", false, "RFC 3339"),
        ],
        ..op(
            "post",
            "/api/v1/webhooks/endpoints/{id}/replay",
            "webhooks",
            "Replay every delivery with a status (reason replay)",
            Some("webhooks:write"),
        )
    },
    Op {
        body: &[("since", "string", true, "RFC 3339")],
        ..op(
            "post",
            "/api/v1/webhooks/endpoints/{id}/recover",
            "webhooks",
            "Queue the events the endpoint missed since a time",
            Some("webhooks:write"),
        )
    },
    op(
        "post",
        "/api/v1/webhooks/endpoints/{id}/retry-now",
        "webhooks",
        "Send waiting retries now instead of at their scheduled time",
        Some("webhooks:write"),
    ),
    op(
        "get",
        "/api/v1/webhooks/deliveries/{id}",
        "webhooks",
        "One delivery with every attempt",
        Some("webhooks:read"),
    ),
    Op {
        ok: 201,
        ..op(
            "post",
            "/api/v1/webhooks/deliveries/{id}/replay",
            "webhooks",
            "Replay one delivery (same event and body, reason replay)",
            Some("webhooks:write"),
        )
    },
    Op {
        query: &[("window_hours", "integer", false, "1..720, default 24")],
        ..op(
            "get",
            "/api/v1/webhooks/stats",
            "webhooks",
            "Success rate, retry attempts, dead letters per endpoint",
            Some("webhooks:read"),
        )
    },
    op(
        "get",
        "/api/webhooks/endpoints",
        "nimriz",
        "Nimriz-compatible: list endpoints",
        Some("webhooks:read"),
    ),
    Op {
        body: ENDPOINT_FIELDS,
        ok: 201,
        ..op(
            "post",
            "/api/webhooks/endpoints",
            "nimriz",
            "Nimriz-compatible: create an endpoint",
            Some("webhooks:write"),
        )
    },
    op(
        "get",
        "/api/webhooks/endpoints/{id}",
        "nimriz",
        "Nimriz-compatible: get an endpoint",
        Some("webhooks:read"),
    ),
    Op {
        body: ENDPOINT_PATCH,
        ..op(
            "patch",
            "/api/webhooks/endpoints/{id}",
            "nimriz",
            "Nimriz-compatible: change an endpoint",
            Some("webhooks:write"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/webhooks/endpoints/{id}",
            "nimriz",
            "Nimriz-compatible: delete an endpoint",
            Some("webhooks:write"),
        )
    },
    op(
        "get",
        "/api/v1/integrations/installations",
        "integrations",
        "List no-code installations",
        Some("admin"),
    ),
    Op {
        body: &[
            ("platform", "string", true, "zapier, make or n8n"),
            ("name", "string", false, ""),
        ],
        ok: 201,
        ..op(
            "post",
            "/api/v1/integrations/installations",
            "integrations",
            "Create an installation token (shown once)",
            Some("admin"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/v1/integrations/installations/{id}",
            "integrations",
            "Revoke an installation and disable its subscriptions",
            Some("admin"),
        )
    },
    Op {
        query: &[("target_url", "string", false, "")],
        ..op(
            "get",
            "/api/v1/hooks",
            "integrations",
            "REST hooks of this installation",
            Some("webhooks:read"),
        )
    },
    Op {
        body: &[
            ("target_url", "string", true, "where to deliver"),
            ("event_types", "array", true, "alias: subscriptions"),
            ("secret", "string", false, "bring your own whsec_ secret"),
        ],
        ok: 201,
        ..op(
            "post",
            "/api/v1/hooks",
            "integrations",
            "Subscribe a REST hook (idempotent per target URL)",
            Some("webhooks:write"),
        )
    },
    op(
        "get",
        "/api/v1/hooks/{id}",
        "integrations",
        "One REST hook",
        Some("webhooks:read"),
    ),
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/v1/hooks/{id}",
            "integrations",
            "Unsubscribe a REST hook",
            Some("webhooks:write"),
        )
    },
    op(
        "get",
        "/api/integrations/destinations",
        "destinations",
        "List Generic HTTP destinations",
        Some("connections:read"),
    ),
    Op {
        body: DESTINATION_FIELDS,
        ok: 201,
        ..op(
            "post",
            "/api/integrations/destinations",
            "destinations",
            "Create a destination",
            Some("connections:write"),
        )
    },
    Op {
        body: &[
            ("payload_template", "string", true, ""),
            ("event_type", "string", false, "default link.created"),
        ],
        ..op(
            "post",
            "/api/integrations/destinations/preview",
            "destinations",
            "Render a payload template on a sample event",
            Some("connections:read"),
        )
    },
    op(
        "get",
        "/api/integrations/destinations/templates",
        "destinations",
        "Starter payload templates",
        Some("connections:read"),
    ),
    op(
        "get",
        "/api/integrations/destinations/{id}",
        "destinations",
        "One destination (header values masked)",
        Some("connections:read"),
    ),
    Op {
        body: DESTINATION_FIELDS,
        ..op(
            "put",
            "/api/integrations/destinations/{id}",
            "destinations",
            "Replace a destination",
            Some("connections:write"),
        )
    },
    Op {
        ok: 204,
        ..op(
            "delete",
            "/api/integrations/destinations/{id}",
            "destinations",
            "Delete a destination",
            Some("connections:write"),
        )
    },
    op(
        "post",
        "/api/integrations/destinations/{id}/test-send",
        "destinations",
        "Send a test event to a destination now",
        Some("connections:write"),
    ),
    Op {
        body: LINK_FIELDS,
        ok: 201,
        ..op(
            "post",
            "/api/shorten",
            "nimriz",
            "Nimriz-compatible: shorten a link",
            Some("links:write"),
        )
    },
    Op {
        body: &[
            ("slug", "string", true, ""),
            ("domain_id", "string", false, ""),
        ],
        ..op(
            "post",
            "/api/check-slug",
            "nimriz",
            "Nimriz-compatible: is a slug available (403 when not)",
            Some("links:read"),
        )
    },
    Op {
        body: &[
            ("url_id", "string", true, ""),
            ("new_slug", "string", true, ""),
        ],
        ..op(
            "put",
            "/api/update-slug",
            "nimriz",
            "Nimriz-compatible: change a slug",
            Some("links:write"),
        )
    },
    Op {
        body: &[
            ("url_id", "string", true, ""),
            ("long_url", "string", true, ""),
        ],
        ..op(
            "put",
            "/api/update-destination",
            "nimriz",
            "Nimriz-compatible: change a destination",
            Some("links:write"),
        )
    },
    Op {
        body: &[
            ("url_id", "string", true, ""),
            ("password", "string", true, "null removes it"),
        ],
        ..op(
            "put",
            "/api/update-password",
            "nimriz",
            "Nimriz-compatible: set or remove a password",
            Some("links:write"),
        )
    },
    Op {
        body: &[
            ("url_id", "string", true, ""),
            ("expires_at", "string", true, "null removes it"),
        ],
        ..op(
            "put",
            "/api/update-expiration",
            "nimriz",
            "Nimriz-compatible: set or remove an expiration",
            Some("links:write"),
        )
    },
    Op {
        body: &[("url_id", "string", true, "")],
        ..op(
            "post",
            "/api/delete-link",
            "nimriz",
            "Nimriz-compatible: delete a link",
            Some("links:write"),
        )
    },
    op("get", "/api/openapi.json", "meta", "This document", None),
    op(
        "get",
        "/docs",
        "meta",
        "The API reference as a page, with a form to try each route",
        None,
    ),
    op(
        "get",
        "/healthz",
        "meta",
        "Health: 200 when the database answers",
        None,
    ),
    op("get", "/metrics", "meta", "Prometheus metrics", None),
];

fn schema_of(fields: &[Field]) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for (name, kind, req, about) in fields {
        let mut p = json!({ "type": kind });
        if !about.is_empty() {
            p["description"] = json!(about);
        }
        props.insert((*name).into(), p);
        if *req {
            required.push(*name);
        }
    }
    json!({ "type": "object", "properties": props, "required": required })
}

fn operation(o: &Op) -> Value {
    let mut v = json!({
        "tags": [o.tag],
        "summary": o.summary,
        "operationId": format!("{}_{}", o.method, o.path.trim_start_matches('/').replace(['/', '-', '.'], "_").replace(['{', '}'], "")),
        "responses": {
            o.ok.to_string(): { "description": "success" },
            "default": { "description": "an error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        },
    });
    match o.scope {
        None => v["security"] = json!([]),
        Some(scope) => v["description"] = json!(format!("Scope: `{scope}`.")),
    }
    let mut params: Vec<Value> = Vec::new();
    if o.path.contains("{id}") {
        params.push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }));
    }
    for (name, kind, req, about) in o.query {
        params.push(json!({ "name": name, "in": "query", "required": req, "description": about, "schema": { "type": kind } }));
    }
    if !params.is_empty() {
        v["parameters"] = json!(params);
    }
    if !o.body.is_empty() {
        v["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema_of(o.body) } },
        });
    }
    v
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPS {
        let entry = paths.entry(o.path).or_insert_with(|| json!({}));
        entry[o.method] = operation(o);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "linkwire API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Branded short links and QR codes with a signed, at-least-once event layer. Authenticate with `Authorization: Bearer <key>` or `X-Nim-Api-Key`.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }, { "nimApiKey": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "nimApiKey": { "type": "apiKey", "in": "header", "name": "X-Nim-Api-Key" },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "error": {
                        "type": "object",
                        "properties": {
                            "code": { "type": "string", "enum": crate::http::error::ERROR_CODES },
                            "message": { "type": "string" },
                            "details": { "type": "object" },
                            "request_id": { "type": "string" },
                        },
                        "required": ["code", "message", "request_id"],
                    } },
                },
            },
        },
    })
}

pub async fn openapi_json() -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(document()),
    )
        .into_response()
}

const DOCS_HTML: &str = include_str!("../../assets/docs.html");

/// The API reference: reads `/api/openapi.json` and lets you try each route with your key.
pub async fn docs_page() -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(DOCS_HTML),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.route(…)` of the router, as (method, path), read from its source.
    fn routed() -> Vec<(String, String)> {
        let src = include_str!("mod.rs");
        let mut out = Vec::new();
        let mut rest = src;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + 7..];
            let open = rest.find('"').expect("path") + 1;
            let close = open + rest[open..].find('"').expect("path end");
            let path = rest[open..close].to_owned();
            // The handlers of this route end at the next `.route(` or `.layer(`/`.fallback(`.
            let end = [".route(", ".layer(", ".fallback("]
                .iter()
                .filter_map(|m| rest[close..].find(m))
                .min()
                .unwrap_or(rest.len() - close)
                + close;
            let handlers = &rest[close..end];
            for m in ["get", "post", "put", "patch", "delete"] {
                let calls = [format!("({m}("), format!(".{m}("), format!(" {m}(")];
                if calls.iter().any(|c| handlers.contains(c.as_str())) {
                    out.push((m.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_routed() {
        let routed = routed();
        assert!(routed.len() > 60, "parsed {} routes", routed.len());
        let documented: Vec<(String, String)> = OPS
            .iter()
            .map(|o| (o.method.to_owned(), o.path.to_owned()))
            .collect();
        for r in &routed {
            assert!(documented.contains(r), "{r:?} is routed but not documented");
        }
        for d in &documented {
            assert!(routed.contains(d), "{d:?} is documented but not routed");
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_unique_operation_ids() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|p| p.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(n, OPS.len());
    }
}
