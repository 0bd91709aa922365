//! The overview: delivery health over the last 24 hours and 7 days. The figures come from the same
//! service as `GET /api/v1/webhooks/stats`; the charts are server-drawn SVG (no script, no CDN).

use axum::extract::State;
use axum::response::Response;
use chrono::Duration;
use linkwire_contract::{Scope, Timestamp};
use linkwire_store::SeriesPoint;
use serde_json::{json, Value};

use super::render::page;
use super::session::Signed;
use super::{context, failure};
use crate::service::webhooks::{self, StatsReport};
use crate::state::AppState;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Chart drawing area, in SVG user units (scaled by the viewBox).
const CHART_W: f64 = 600.0;
const CHART_H: f64 = 160.0;

/// Stacked bars per bucket (delivered, retried, dead-lettered), one per bucket from `since` to `now`,
/// empty buckets included so time reads left to right without gaps.
fn chart(
    points: &[SeriesPoint],
    since: Timestamp,
    now: Timestamp,
    bucket_ms: i64,
    label: fn(Timestamp) -> String,
) -> Value {
    let first = since.timestamp_millis().div_euclid(bucket_ms) * bucket_ms;
    let last = now.timestamp_millis().div_euclid(bucket_ms) * bucket_ms;
    let buckets: Vec<i64> = (0..)
        .map(|i| first + i * bucket_ms)
        .take_while(|b| *b <= last)
        .collect();
    let at = |b: i64| {
        points
            .iter()
            .find(|p| p.bucket_start.timestamp_millis() == b)
    };
    let max = points.iter().map(|p| p.attempts).max().unwrap_or(0).max(1) as f64;
    let slot = CHART_W / buckets.len().max(1) as f64;
    let bar_w = (slot * 0.7).max(1.0);
    let bars: Vec<Value> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let p = at(*b).cloned().unwrap_or_default();
            let other = p.attempts - p.delivered - p.retries_scheduled - p.dead_lettered;
            let mut y = CHART_H;
            let mut segments = Vec::new();
            for (value, class) in [
                (p.delivered, "ok"),
                (p.retries_scheduled, "retry"),
                (p.dead_lettered, "dead"),
                (other.max(0), "other"),
            ] {
                if value > 0 {
                    let h = value as f64 / max * CHART_H;
                    y -= h;
                    segments.push(
                        json!({ "y": format!("{y:.1}"), "h": format!("{h:.1}"), "class": class }),
                    );
                }
            }
            let start = linkwire_contract::from_millis(*b);
            json!({
                "x": format!("{:.1}", i as f64 * slot + (slot - bar_w) / 2.0),
                "w": format!("{bar_w:.1}"),
                "segments": segments,
                "title": format!(
                    "{}: {} attempts, {} delivered, {} retried, {} dead-lettered",
                    label(start), p.attempts, p.delivered, p.retries_scheduled, p.dead_lettered
                ),
            })
        })
        .collect();
    let tick = |i: usize| {
        buckets
            .get(i)
            .map(|b| label(linkwire_contract::from_millis(*b)))
            .unwrap_or_default()
    };
    json!({
        "width": CHART_W,
        "height": CHART_H,
        "bars": bars,
        "max": max as i64,
        "first_label": tick(0),
        "last_label": tick(buckets.len().saturating_sub(1)),
    })
}

fn figures(report: &StatsReport) -> Value {
    let t = &report.totals;
    json!({
        "attempts": t.attempts,
        "delivered": t.delivered,
        "retry_attempts": t.retry_attempts,
        "dead_lettered": t.dead_lettered,
        "dead_letter_items": t.dead_letter_items,
        "success_rate": t.success_rate,
        "success_percent": t.success_rate.map(|r| format!("{:.1}", r * 100.0)),
    })
}

pub async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let auth = &signed.auth;
    if let Err(e) = auth.require(Scope::WebhooksRead) {
        return failure(e);
    }
    let now = state.clock.now();
    let mut windows = Vec::new();
    for (hours, bucket_ms, title, label) in [
        (
            24u32,
            HOUR_MS,
            "Last 24 hours",
            (|t: Timestamp| t.format("%b %d %H:00").to_string()) as fn(Timestamp) -> String,
        ),
        (168u32, DAY_MS, "Last 7 days", |t: Timestamp| {
            t.format("%b %d").to_string()
        }),
    ] {
        let report = match webhooks::stats(&state, auth, hours).await {
            Ok(r) => r,
            Err(e) => return failure(e),
        };
        let since = now - Duration::hours(i64::from(hours));
        let series = match state
            .store
            .delivery_series(auth.workspace_id(), since, bucket_ms)
            .await
        {
            Ok(s) => s,
            Err(e) => return failure(e.into()),
        };
        windows.push(json!({
            "hours": hours,
            "title": title,
            "figures": figures(&report),
            "chart": chart(&series, since, now, bucket_ms, label),
        }));
    }
    let endpoints = match state
        .store
        .list_endpoints(auth.workspace_id(), &Default::default())
        .await
    {
        Ok(e) => e,
        Err(e) => return failure(e.into()),
    };
    let day = match webhooks::stats(&state, auth, 24).await {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let rows: Vec<Value> = endpoints
        .iter()
        .map(|ep| {
            let s = day.endpoints.iter().find(|s| s.endpoint_id == ep.id.to_string());
            json!({
                "name": ep.name,
                "kind": ep.kind.as_str(),
                "enabled": ep.enabled,
                "path": if ep.kind == linkwire_store::EndpointKind::GenericHttp {
                    format!("/dashboard/destinations/{}", ep.id)
                } else {
                    format!("/dashboard/webhooks/{}", ep.id)
                },
                "attempts": s.map(|s| s.figures.attempts).unwrap_or(0),
                "success_percent": s.and_then(|s| s.figures.success_rate).map(|r| format!("{:.1}", r * 100.0)),
                "retry_attempts": s.map(|s| s.figures.retry_attempts).unwrap_or(0),
                "dead_letter_items": s.map(|s| s.figures.dead_letter_items).unwrap_or(0),
            })
        })
        .collect();
    let mut ctx = context(&signed, "overview");
    ctx.insert("windows".into(), json!(windows));
    ctx.insert("endpoints".into(), json!(rows));
    page("overview.html", ctx)
}
