//! Deliveries and their attempts: fan-out (in the event's transaction), claims under a lease, batched
//! result recording, history, replay, recovery and stats.

use std::collections::HashMap;
use std::sync::Arc;

use linkwire_contract::{
    DeliveryId, DeliveryReason, DeliveryStatus, EndpointId, EventId, EventRecord, EventType,
    Timestamp, WorkspaceId,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::rows::{get, ms, parsed, time, time_opt};
use crate::{Backend, FromAnyRow, Result, Store};

/// Auto-disable: an endpoint with at least this many dead letters and no success...
pub const AUTO_DISABLE_DEAD_LETTERS: i64 = 20;
/// ...while failing for at least this long.
pub const AUTO_DISABLE_AFTER_MS: i64 = 5 * 24 * 3600 * 1000;
/// Due rows a claim looks at when it skips busy endpoints.
const CLAIM_WINDOW: usize = 4_096;
/// Bound values per inserted delivery row and per attempt row.
const BOUND_PER_DELIVERY: usize = 11;
const BOUND_PER_ATTEMPT: usize = 10;

/// `$offset+1,…`: numbered placeholders, for the short lists that follow numbered parameters.
fn numbered_list(n: usize, offset: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", i + offset))
        .collect::<Vec<_>>()
        .join(",")
}

/// A delivery to create.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub workspace_id: WorkspaceId,
    pub event_type: EventType,
    pub reason: DeliveryReason,
    pub status: DeliveryStatus,
    /// Set when the delivery is created already claimed (handed straight to an engine).
    pub claimed_until: Option<Timestamp>,
}

/// Lets the transaction that creates live deliveries hand some of them straight to this node's engine,
/// already claimed under a lease: the hot path then skips the claim round trip and the body read, and the
/// attempt starts as soon as the transaction commits. What is not taken waits as `pending` for the claim
/// loop, as every delivery did before; a crash loses nothing, since the lease expires and the delivery is
/// claimed again.
pub trait DeliveryHandoff: Send + Sync {
    /// Takes one new delivery for `endpoint` if this node will send it soon, counting it as queued.
    fn reserve(&self, endpoint: EndpointId) -> bool;
    /// Gives back a reservation whose transaction did not commit.
    fn unreserve(&self, endpoint: EndpointId);
    /// How long a delivery handed over now stays claimed.
    fn lease(&self) -> std::time::Duration;
}

/// The deliveries a transaction created for its events.
#[derive(Debug, Default)]
pub struct FanOut {
    /// Deliveries created, handed over or not.
    pub created: usize,
    /// Those created already claimed for the engine that reserved them.
    pub handed_over: Vec<ClaimedDelivery>,
}

impl FanOut {
    /// Whether some deliveries wait for the claim loop.
    pub fn left_for_claims(&self) -> bool {
        self.created > self.handed_over.len()
    }
}

/// The reservations made inside one transaction; given back unless [`Reservations::keep`] is called
/// after the commit, so an error anywhere on the way cannot leak queue room.
pub(crate) struct Reservations<'a> {
    handoff: Option<&'a dyn DeliveryHandoff>,
    lease_until: Option<Timestamp>,
    taken: Vec<EndpointId>,
}

impl<'a> Reservations<'a> {
    pub(crate) fn new(handoff: Option<&'a dyn DeliveryHandoff>, now: Timestamp) -> Self {
        let lease_until =
            handoff.map(|h| now + chrono::Duration::from_std(h.lease()).unwrap_or_default());
        Self {
            handoff,
            lease_until,
            taken: Vec::new(),
        }
    }

    /// No hand-off: every delivery waits for the claim loop.
    pub(crate) fn none() -> Reservations<'static> {
        Reservations {
            handoff: None,
            lease_until: None,
            taken: Vec::new(),
        }
    }

    /// The lease of a delivery to `endpoint` if the engine takes it now.
    fn take(&mut self, endpoint: EndpointId) -> Option<Timestamp> {
        let handoff = self.handoff?;
        if handoff.reserve(endpoint) {
            self.taken.push(endpoint);
            self.lease_until
        } else {
            None
        }
    }

    /// The transaction committed: the reserved deliveries now belong to the engine.
    pub(crate) fn keep(mut self) {
        self.taken.clear();
    }
}

impl Drop for Reservations<'_> {
    fn drop(&mut self) {
        if let Some(handoff) = self.handoff {
            for endpoint in self.taken.drain(..) {
                handoff.unreserve(endpoint);
            }
        }
    }
}

async fn insert_deliveries(
    tx: &mut Transaction<'static, Any>,
    rows: &[NewDelivery],
    now: Timestamp,
) -> Result<()> {
    let ph = crate::Placeholders::of(tx);
    for chunk in crate::statement_chunks(rows, ph.max_rows(BOUND_PER_DELIVERY)) {
        // `attempts` starts at 0 and goes in as a literal; the other columns are bound.
        let values = (0..chunk.len())
            .map(|r| {
                let p = |c: usize| ph.param(r * BOUND_PER_DELIVERY + c + 1);
                format!(
                    "({},{},{},{},{},{},{},0,{},{},{},{})",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10)
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "INSERT INTO deliveries (id, event_id, endpoint_id, workspace_id, event_type, reason, status, attempts, \
             next_attempt_at, created_at, updated_at, locked_until) VALUES {values}"
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q
                .bind(d.id.to_string())
                .bind(d.event_id.to_string())
                .bind(d.endpoint_id.to_string())
                .bind(d.workspace_id.to_string())
                .bind(d.event_type.as_str())
                .bind(d.reason.as_str())
                .bind(d.status.as_str())
                .bind(ms(now))
                .bind(ms(now))
                .bind(ms(now))
                .bind(d.claimed_until.map(ms));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Creates one live delivery per enabled endpoint subscribed to each event's type, in the transaction
/// that writes the events. Returns how many deliveries were created.
pub(crate) async fn fan_out(
    tx: &mut Transaction<'static, Any>,
    events: &[&EventRecord],
    now: Timestamp,
    reservations: &mut Reservations<'_>,
) -> Result<FanOut> {
    let mut subscribers: HashMap<(WorkspaceId, EventType), Vec<EndpointId>> = HashMap::new();
    let mut rows = Vec::new();
    let mut handed = Vec::new();
    for ev in events {
        if !ev.event_type.is_subscribable() {
            continue;
        }
        let key = (ev.workspace_id, ev.event_type);
        if let std::collections::hash_map::Entry::Vacant(slot) = subscribers.entry(key) {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT s.endpoint_id FROM endpoint_subscriptions s JOIN endpoints e ON e.id = s.endpoint_id \
                 WHERE s.workspace_id = $1 AND s.event_type = $2 AND e.enabled = 1",
            )
            .bind(ev.workspace_id.to_string())
            .bind(ev.event_type.as_str())
            .fetch_all(&mut **tx)
            .await?;
            slot.insert(ids.iter().filter_map(|i| i.parse().ok()).collect());
        }
        for endpoint_id in &subscribers[&key] {
            let id = DeliveryId::new();
            let claimed_until = reservations.take(*endpoint_id);
            if claimed_until.is_some() {
                handed.push(ClaimedDelivery {
                    id,
                    event_id: ev.id,
                    endpoint_id: *endpoint_id,
                    event_type: ev.event_type,
                    reason: DeliveryReason::Live,
                    attempt: 1,
                    body: ev.body.clone(),
                    lease_until: claimed_until,
                });
            }
            rows.push(NewDelivery {
                id,
                event_id: ev.id,
                endpoint_id: *endpoint_id,
                workspace_id: ev.workspace_id,
                event_type: ev.event_type,
                reason: DeliveryReason::Live,
                status: if claimed_until.is_some() {
                    DeliveryStatus::Delivering
                } else {
                    DeliveryStatus::Pending
                },
                claimed_until,
            });
        }
    }
    insert_deliveries(tx, &rows, now).await?;
    Ok(FanOut {
        created: rows.len(),
        handed_over: handed,
    })
}

/// Marks every unfinished delivery of an endpoint as a dead letter with `why`.
pub(crate) async fn abandon_endpoint(
    tx: &mut Transaction<'static, Any>,
    id: EndpointId,
    why: &str,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE deliveries SET status = 'dead_letter', last_error = $1, next_attempt_at = NULL, locked_until = NULL, \
         updated_at = $2, finished_at = $2 WHERE endpoint_id = $3 AND status IN ('pending','paused','delivering')",
    )
    .bind(why)
    .bind(ms(now))
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A delivery handed to a worker: everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub event_type: EventType,
    pub reason: DeliveryReason,
    /// The number this attempt will have (1-based).
    pub attempt: u32,
    pub body: String,
    /// When this node's claim runs out (`None`: not leased, as a test-send).
    pub lease_until: Option<Timestamp>,
}

/// How an attempt ended, as the engine decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptDisposition {
    Delivered,
    Retry(Timestamp),
    DeadLetter,
    /// A REST-hook target answered 410: the subscription is removed.
    Unsubscribed,
}

impl AttemptDisposition {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry(_) => "retry",
            Self::DeadLetter => "dead_letter",
            Self::Unsubscribed => "unsubscribed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub attempt: u32,
    pub started_at: Timestamp,
    pub latency_ms: i64,
    pub status_code: Option<u16>,
    pub error_class: Option<String>,
    pub response_snippet: Option<String>,
    pub disposition: AttemptDisposition,
    pub finished_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub event_type: EventType,
    pub reason: DeliveryReason,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl FromAnyRow for DeliveryRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id")?,
            event_id: parsed(row, "event_id")?,
            endpoint_id: parsed(row, "endpoint_id")?,
            event_type: parsed(row, "event_type")?,
            reason: parsed(row, "reason")?,
            status: parsed(row, "status")?,
            attempts: get(row, "attempts")?,
            next_attempt_at: time_opt(row, "next_attempt_at")?,
            last_status_code: get(row, "last_status_code")?,
            last_error: get(row, "last_error")?,
            created_at: time(row, "created_at")?,
            updated_at: time(row, "updated_at")?,
            finished_at: time_opt(row, "finished_at")?,
        })
    }
}

const DELIVERY_COLUMNS: &str =
    "id, event_id, endpoint_id, event_type, reason, status, attempts, next_attempt_at, \
    last_status_code, last_error, created_at, updated_at, finished_at";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRow {
    pub attempt: i64,
    pub started_at: Timestamp,
    pub latency_ms: i64,
    pub status_code: Option<i64>,
    pub error_class: Option<String>,
    pub response_snippet: Option<String>,
    pub outcome: String,
    pub next_attempt_at: Option<Timestamp>,
}

/// Filters for delivery history.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub before: Option<DeliveryId>,
    pub limit: u32,
}

/// Per-endpoint delivery health over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndpointStats {
    pub endpoint_id: String,
    pub attempts: i64,
    pub delivered: i64,
    pub failed_attempts: i64,
    pub retries_scheduled: i64,
    pub dead_lettered: i64,
}

/// Workspace-wide attempt outcomes in one time bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub bucket_start: Timestamp,
    pub attempts: i64,
    pub delivered: i64,
    pub retries_scheduled: i64,
    pub dead_lettered: i64,
}

impl Store {
    /// Claims up to `limit` of the oldest due deliveries under a lease until `lease_until`, skipping those
    /// of `busy` endpoints. Only the oldest `CLAIM_WINDOW` due rows are looked at, so a claim reads a
    /// bounded part of the index however much busy endpoints have waiting (without it, a claim with a
    /// 1,000,000-delivery backlog for busy endpoints read all of it: about 200 ms); the engine claims for
    /// endpoints beyond the window with [`Store::claim_due_for`].
    pub async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        busy: &[EndpointId],
    ) -> Result<Vec<ClaimedDelivery>> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let chosen = if busy.is_empty() {
            format!(
                "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at LIMIT {limit}{lock}"
            )
        } else {
            let window = (limit as usize).max(CLAIM_WINDOW);
            format!(
                "SELECT id FROM (SELECT id, endpoint_id FROM deliveries WHERE status = 'pending' \
                 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT {window}{lock}) AS oldest \
                 WHERE endpoint_id NOT IN ({}) LIMIT {limit}",
                numbered_list(busy.len(), 2)
            )
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'delivering', locked_until = $1, updated_at = $2 \
             WHERE id IN ({chosen}) RETURNING id, event_id, endpoint_id, event_type, reason, attempts"
        );
        let mut q = sqlx::query(&sql).bind(ms(lease_until)).bind(ms(now));
        for b in busy {
            q = q.bind(b.to_string());
        }
        let rows = q.fetch_all(&self.writer).await?;
        self.with_bodies(&rows, lease_until).await
    }

    /// The endpoints that have pending deliveries due by `now`, leaving out `skip` (one index seek each).
    pub async fn endpoints_with_due_work(
        &self,
        now: Timestamp,
        skip: &[EndpointId],
    ) -> Result<Vec<EndpointId>> {
        let exclude = if skip.is_empty() {
            String::new()
        } else {
            format!(" AND e.id NOT IN ({})", numbered_list(skip.len(), 1))
        };
        let sql = format!(
            "SELECT e.id FROM endpoints e WHERE EXISTS (SELECT 1 FROM deliveries d \
             WHERE d.status = 'pending' AND d.endpoint_id = e.id AND d.next_attempt_at <= $1){exclude}"
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(ms(now));
        for id in skip {
            q = q.bind(id.to_string());
        }
        let ids = q.fetch_all(&self.reader).await?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Claims, for each `(endpoint, n)`, up to `n` of that endpoint's oldest due deliveries under a lease
    /// until `lease_until`. Each endpoint's share is one index range (`deliveries_pending_by_endpoint`), so
    /// a claim costs what it returns, however large other endpoints' backlogs are.
    pub async fn claim_due_for(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        wants: &[(EndpointId, u32)],
    ) -> Result<Vec<ClaimedDelivery>> {
        if wants.is_empty() {
            return Ok(Vec::new());
        }
        // $1 lease, $2 now, then one (endpoint, limit) pair per want.
        let per_endpoint = |i: usize| {
            let (ep, n) = (i * 2 + 3, i * 2 + 4);
            match self.backend {
                Backend::Sqlite => format!(
                    "SELECT id FROM (SELECT id FROM deliveries WHERE status = 'pending' AND endpoint_id = ${ep} \
                     AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT ${n})"
                ),
                Backend::Postgres => format!("(${ep}, ${n}::bigint)"),
            }
        };
        let parts: Vec<String> = (0..wants.len()).map(per_endpoint).collect();
        let chosen = match self.backend {
            Backend::Sqlite => parts.join(" UNION ALL "),
            // SKIP LOCKED cannot sit under a UNION; a LATERAL subquery per endpoint can hold it.
            Backend::Postgres => format!(
                "SELECT d.id FROM (VALUES {}) AS w(endpoint_id, n) CROSS JOIN LATERAL \
                 (SELECT id FROM deliveries WHERE status = 'pending' AND endpoint_id = w.endpoint_id \
                  AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT w.n FOR UPDATE SKIP LOCKED) d",
                parts.join(",")
            ),
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'delivering', locked_until = $1, updated_at = $2 \
             WHERE id IN ({chosen}) RETURNING id, event_id, endpoint_id, event_type, reason, attempts"
        );
        let mut q = sqlx::query(&sql).bind(ms(lease_until)).bind(ms(now));
        for (endpoint, n) in wants {
            q = q.bind(endpoint.to_string()).bind(i64::from(*n));
        }
        let rows = q.fetch_all(&self.writer).await?;
        self.with_bodies(&rows, lease_until).await
    }

    /// Claimed rows (`RETURNING id, event_id, endpoint_id, event_type, reason, attempts`) with their
    /// events' bodies.
    async fn with_bodies(
        &self,
        rows: &[sqlx::any::AnyRow],
        lease_until: Timestamp,
    ) -> Result<Vec<ClaimedDelivery>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = Vec::with_capacity(rows.len());
        let mut event_ids: Vec<EventId> = Vec::with_capacity(rows.len());
        for r in rows {
            let attempts: i64 = get(r, "attempts")?;
            let event_id: EventId = parsed(r, "event_id")?;
            event_ids.push(event_id);
            claimed.push(ClaimedDelivery {
                id: parsed(r, "id")?,
                event_id,
                endpoint_id: parsed(r, "endpoint_id")?,
                event_type: parsed(r, "event_type")?,
                reason: parsed(r, "reason")?,
                attempt: attempts as u32 + 1,
                body: String::new(),
                lease_until: Some(lease_until),
            });
        }
        let mut bodies: HashMap<EventId, Arc<str>> = HashMap::with_capacity(event_ids.len());
        event_ids.retain(|id| match self.bodies.get(id) {
            Some(body) => {
                bodies.insert(*id, body);
                false
            }
            None => true,
        });
        event_ids.sort();
        event_ids.dedup();
        let ph = crate::Placeholders::for_backend(self.backend);
        for chunk in crate::statement_chunks(&event_ids, ph.max_rows(1)) {
            let sql = format!(
                "SELECT id, body FROM events WHERE id IN ({})",
                ph.list(chunk.len(), 0)
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in q.fetch_all(&self.reader).await? {
                let id: EventId = parsed(&r, "id")?;
                let body: Arc<str> = get::<String>(&r, "body")?.into();
                self.bodies.insert(id, body.clone());
                bodies.insert(id, body);
            }
        }
        for c in &mut claimed {
            c.body = bodies
                .get(&c.event_id)
                .map(|b| b.to_string())
                .unwrap_or_default();
        }
        Ok(claimed)
    }

    /// Records a batch of attempt outcomes in one transaction: the deliveries' new states, the attempt
    /// history, endpoint health, auto-disable and REST-hook removal.
    pub async fn record_attempts(&self, records: &[AttemptRecord]) -> Result<Vec<EndpointId>> {
        let mut disabled = Vec::new();
        if records.is_empty() {
            return Ok(disabled);
        }
        let mut tx = self.begin().await?;
        let ph = crate::Placeholders::for_backend(self.backend);
        // One set-based UPDATE per chunk of outcomes. A retry of a delivery whose endpoint was disabled
        // meanwhile waits as `paused`.
        for chunk in crate::statement_chunks(records, ph.max_rows(8)) {
            let sql = format!(
                "UPDATE deliveries SET status = CASE WHEN v.column2 = 'pending' AND \
                    (SELECT enabled FROM endpoints WHERE id = deliveries.endpoint_id) = 0 THEN 'paused' ELSE v.column2 END, \
                 attempts = v.column3, next_attempt_at = v.column4, locked_until = NULL, last_status_code = v.column5, \
                 last_error = v.column6, updated_at = v.column7, finished_at = v.column8 \
                 FROM (VALUES {}) AS v WHERE deliveries.id = v.column1",
                ph.rows(chunk.len(), 8, 0)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                let (status, next) = match r.disposition {
                    AttemptDisposition::Delivered => ("delivered", None),
                    AttemptDisposition::Retry(at) => ("pending", Some(ms(at))),
                    AttemptDisposition::DeadLetter | AttemptDisposition::Unsubscribed => {
                        ("dead_letter", None)
                    }
                };
                let finished = (status != "pending").then(|| ms(r.finished_at));
                let error = (status != "delivered")
                    .then(|| {
                        r.error_class
                            .clone()
                            .or_else(|| r.status_code.map(|c| format!("http_{c}")))
                    })
                    .flatten();
                q = q
                    .bind(r.delivery_id.to_string())
                    .bind(status)
                    .bind(i64::from(r.attempt))
                    .bind(next)
                    .bind(r.status_code.map(i64::from))
                    .bind(error)
                    .bind(ms(r.finished_at))
                    .bind(finished);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in crate::statement_chunks(records, ph.max_rows(BOUND_PER_ATTEMPT)) {
            let sql = format!(
                "INSERT INTO attempts (delivery_id, attempt, endpoint_id, started_at, latency_ms, status_code, error_class, \
                 response_snippet, outcome, next_attempt_at) VALUES {} ON CONFLICT (delivery_id, attempt) DO NOTHING",
                ph.rows(chunk.len(), 10, 0)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                let next = match r.disposition {
                    AttemptDisposition::Retry(at) => Some(ms(at)),
                    _ => None,
                };
                q = q
                    .bind(r.delivery_id.to_string())
                    .bind(i64::from(r.attempt))
                    .bind(r.endpoint_id.to_string())
                    .bind(ms(r.started_at))
                    .bind(r.latency_ms)
                    .bind(r.status_code.map(i64::from))
                    .bind(r.error_class.clone())
                    .bind(r.response_snippet.clone())
                    .bind(r.disposition.as_str())
                    .bind(next);
            }
            q.execute(&mut *tx).await?;
        }
        // Endpoint health, once per endpoint per batch.
        let mut per_endpoint: HashMap<EndpointId, (bool, i64, Timestamp)> = HashMap::new();
        for r in records {
            let e = per_endpoint
                .entry(r.endpoint_id)
                .or_insert((false, 0, r.started_at));
            match r.disposition {
                AttemptDisposition::Delivered => e.0 = true,
                AttemptDisposition::DeadLetter => e.1 += 1,
                _ => {}
            }
        }
        let mut succeeded = Vec::new();
        let mut failing = Vec::new();
        for (endpoint, (success, dead, first_at)) in per_endpoint {
            if records.iter().any(|r| {
                r.endpoint_id == endpoint && r.disposition == AttemptDisposition::Unsubscribed
            }) {
                sqlx::query("DELETE FROM endpoints WHERE id = $1")
                    .bind(endpoint.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM endpoint_subscriptions WHERE endpoint_id = $1")
                    .bind(endpoint.to_string())
                    .execute(&mut *tx)
                    .await?;
                abandon_endpoint(
                    &mut tx,
                    endpoint,
                    "subscription removed: target answered 410 Gone",
                    first_at,
                )
                .await?;
            } else if success {
                succeeded.push((endpoint, first_at));
            } else {
                failing.push((endpoint, first_at, dead));
            }
        }
        // One statement for all endpoints of the batch (with 100 endpoints, one per endpoint was the
        // largest part of recording a batch).
        for chunk in crate::statement_chunks(&succeeded, ph.max_rows(2)) {
            let sql = format!(
                "UPDATE endpoints SET last_success_at = v.column2, failing_since = NULL, dead_letters_since_success = 0 \
                 FROM (VALUES {}) AS v WHERE endpoints.id = v.column1",
                ph.rows(chunk.len(), 2, 0)
            );
            let mut q = sqlx::query(&sql);
            for (endpoint, first_at) in chunk {
                q = q.bind(endpoint.to_string()).bind(ms(*first_at));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in crate::statement_chunks(&failing, ph.max_rows(3)) {
            let sql = format!(
                "UPDATE endpoints SET failing_since = COALESCE(failing_since, v.column2), \
                 dead_letters_since_success = dead_letters_since_success + v.column3 \
                 FROM (VALUES {}) AS v WHERE endpoints.id = v.column1",
                ph.rows(chunk.len(), 3, 0)
            );
            let mut q = sqlx::query(&sql);
            for (endpoint, first_at, dead) in chunk {
                q = q.bind(endpoint.to_string()).bind(ms(*first_at)).bind(*dead);
            }
            q.execute(&mut *tx).await?;
        }
        let now = records.iter().map(|r| ms(r.finished_at)).max().unwrap_or(0);
        for (endpoint, _, dead) in failing {
            if dead == 0 {
                continue;
            }
            let done = sqlx::query(
                "UPDATE endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
                 WHERE id = $3 AND enabled = 1 AND dead_letters_since_success >= $4 AND failing_since <= $5",
            )
            .bind("auto_disabled: every delivery failed for 5 days")
            .bind(now)
            .bind(endpoint.to_string())
            .bind(AUTO_DISABLE_DEAD_LETTERS)
            .bind(now - AUTO_DISABLE_AFTER_MS)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query("UPDATE deliveries SET status = 'paused' WHERE endpoint_id = $1 AND status = 'pending'")
                    .bind(endpoint.to_string())
                    .execute(&mut *tx)
                    .await?;
                disabled.push(endpoint);
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    /// Returns expired claims to `pending` (a worker died holding them). On SQLite, where one process is
    /// the only writer, pass `now` = far future at startup to release every claim.
    pub async fn release_expired_claims(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', locked_until = NULL WHERE status = 'delivering' AND locked_until < $1",
        )
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Gives claimed deliveries back unsent (the claimer has no room for them now).
    pub async fn release_claims(&self, ids: &[DeliveryId]) -> Result<()> {
        let ph = crate::Placeholders::for_backend(self.backend);
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE deliveries SET status = 'pending', locked_until = NULL WHERE status = 'delivering' AND id IN ({})",
                ph.list(chunk.len(), 0)
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            q.execute(&self.writer).await?;
        }
        Ok(())
    }

    /// Makes an endpoint's waiting retries due now (the receiver is back; why wait for the schedule).
    /// Returns how many were brought forward.
    pub async fn retry_now(
        &self,
        ws: WorkspaceId,
        endpoint: EndpointId,
        now: Timestamp,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $1, updated_at = $1 \
             WHERE workspace_id = $2 AND endpoint_id = $3 AND status = 'pending' AND next_attempt_at > $1",
        )
        .bind(ms(now))
        .bind(ws.to_string())
        .bind(endpoint.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// When the earliest pending delivery is due, if any.
    pub async fn next_due(&self) -> Result<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(at.map(linkwire_contract::from_millis))
    }

    /// Deliveries in any of `statuses`, counted in one statement (one snapshot: a delivery moving between
    /// two of them is counted once).
    pub async fn count_deliveries(&self, statuses: &[DeliveryStatus]) -> Result<i64> {
        if statuses.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ({})",
            crate::Placeholders::for_backend(self.backend).list(statuses.len(), 0)
        );
        let mut q = sqlx::query_scalar(&sql);
        for status in statuses {
            q = q.bind(status.as_str());
        }
        Ok(q.fetch_one(&self.reader).await?)
    }

    /// Writes a standalone delivery (test-sends, replays).
    pub async fn insert_delivery(&self, d: &NewDelivery, now: Timestamp) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_deliveries(&mut tx, std::slice::from_ref(d), now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_deliveries(
        &self,
        ws: WorkspaceId,
        endpoint: EndpointId,
        f: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRow>> {
        let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND endpoint_id = $2");
        let mut args: Vec<String> = vec![ws.to_string(), endpoint.to_string()];
        if let Some(s) = f.status {
            args.push(s.as_str().into());
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        if let Some(t) = f.event_type {
            args.push(t.as_str().into());
            sql.push_str(&format!(" AND event_type = ${}", args.len()));
        }
        if let Some(b) = f.before {
            args.push(b.to_string());
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        let mut times = Vec::new();
        if let Some(from) = f.from {
            times.push(ms(from));
            sql.push_str(&format!(" AND created_at >= ${}", args.len() + times.len()));
        }
        if let Some(to) = f.to {
            times.push(ms(to));
            sql.push_str(&format!(" AND created_at < ${}", args.len() + times.len()));
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        for t in times {
            q = q.bind(t);
        }
        q.fetch_all(&self.reader)
            .await?
            .iter()
            .map(DeliveryRow::from_row)
            .collect()
    }

    pub async fn get_delivery(
        &self,
        ws: WorkspaceId,
        id: DeliveryId,
    ) -> Result<Option<(DeliveryRow, Vec<AttemptRow>)>> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let delivery = DeliveryRow::from_row(&row)?;
        let attempts = sqlx::query(
            "SELECT attempt, started_at, latency_ms, status_code, error_class, response_snippet, outcome, next_attempt_at \
             FROM attempts WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            Ok(AttemptRow {
                attempt: get(r, "attempt")?,
                started_at: time(r, "started_at")?,
                latency_ms: get(r, "latency_ms")?,
                status_code: get(r, "status_code")?,
                error_class: get(r, "error_class")?,
                response_snippet: get(r, "response_snippet")?,
                outcome: get(r, "outcome")?,
                next_attempt_at: time_opt(r, "next_attempt_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some((delivery, attempts)))
    }

    /// New `replay` deliveries for the given (event, type) pairs to one endpoint; paused if it is disabled.
    pub async fn create_replays(
        &self,
        ws: WorkspaceId,
        endpoint: EndpointId,
        events: &[(EventId, EventType)],
        enabled: bool,
        now: Timestamp,
    ) -> Result<Vec<DeliveryId>> {
        let rows: Vec<NewDelivery> = events
            .iter()
            .map(|(event_id, event_type)| NewDelivery {
                id: DeliveryId::new(),
                event_id: *event_id,
                endpoint_id: endpoint,
                workspace_id: ws,
                event_type: *event_type,
                reason: DeliveryReason::Replay,
                status: if enabled {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Paused
                },
                claimed_until: None,
            })
            .collect();
        let mut tx = self.begin().await?;
        insert_deliveries(&mut tx, &rows, now).await?;
        tx.commit().await?;
        Ok(rows.iter().map(|r| r.id).collect())
    }

    /// The (event, type) pairs of an endpoint's deliveries matching `f` (for bulk replay).
    pub async fn delivery_events(
        &self,
        ws: WorkspaceId,
        endpoint: EndpointId,
        f: &DeliveryFilter,
    ) -> Result<Vec<(EventId, EventType)>> {
        let rows = self.list_deliveries(ws, endpoint, f).await?;
        Ok(rows
            .into_iter()
            .map(|d| (d.event_id, d.event_type))
            .collect())
    }

    /// Events of the given types since `since` that never reached this endpoint successfully.
    pub async fn missed_events(
        &self,
        ws: WorkspaceId,
        endpoint: EndpointId,
        types: &[EventType],
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<(EventId, EventType)>> {
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT ev.id, ev.type FROM events ev WHERE ev.workspace_id = $1 AND ev.created_at >= $2 \
             AND ev.type IN ({}) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id \
             AND d.endpoint_id = $3 AND d.status = 'delivered') ORDER BY ev.id LIMIT {}",
            numbered_list(types.len(), 3),
            limit.clamp(1, 100_000)
        );
        let mut q = sqlx::query(&sql)
            .bind(ws.to_string())
            .bind(ms(since))
            .bind(endpoint.to_string());
        for t in types {
            q = q.bind(t.as_str());
        }
        q.fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| Ok((parsed(r, "id")?, parsed(r, "type")?)))
            .collect()
    }

    /// Attempt outcomes per endpoint of a workspace since `since`.
    pub async fn delivery_stats(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
    ) -> Result<Vec<EndpointStats>> {
        let rows = sqlx::query(
            "SELECT a.endpoint_id, COUNT(*) AS attempts, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome <> 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome = 'retry' THEN 1 ELSE 0 END), 0) AS BIGINT) AS retries, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome IN ('dead_letter','unsubscribed') THEN 1 ELSE 0 END), 0) AS BIGINT) AS dead \
             FROM attempts a JOIN endpoints e ON e.id = a.endpoint_id \
             WHERE e.workspace_id = $1 AND a.started_at >= $2 GROUP BY a.endpoint_id ORDER BY a.endpoint_id",
        )
        .bind(ws.to_string())
        .bind(ms(since))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EndpointStats {
                    endpoint_id: get(r, "endpoint_id")?,
                    attempts: get(r, "attempts")?,
                    delivered: get(r, "delivered")?,
                    failed_attempts: get(r, "failed")?,
                    retries_scheduled: get(r, "retries")?,
                    dead_lettered: get(r, "dead")?,
                })
            })
            .collect()
    }

    /// The same attempt outcomes as [`Store::delivery_stats`], summed over the workspace per time bucket of
    /// `bucket_ms` (buckets start at multiples of it since the epoch; empty buckets are absent).
    pub async fn delivery_series(
        &self,
        ws: WorkspaceId,
        since: Timestamp,
        bucket_ms: i64,
    ) -> Result<Vec<SeriesPoint>> {
        let rows = sqlx::query(&format!(
            "SELECT (a.started_at / {bucket_ms}) * {bucket_ms} AS bucket, COUNT(*) AS attempts, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome = 'retry' THEN 1 ELSE 0 END), 0) AS BIGINT) AS retries, \
               CAST(COALESCE(SUM(CASE WHEN a.outcome IN ('dead_letter','unsubscribed') THEN 1 ELSE 0 END), 0) AS BIGINT) AS dead \
             FROM attempts a JOIN endpoints e ON e.id = a.endpoint_id \
             WHERE e.workspace_id = $1 AND a.started_at >= $2 GROUP BY 1 ORDER BY 1",
            bucket_ms = bucket_ms.max(1)
        ))
        .bind(ws.to_string())
        .bind(ms(since))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SeriesPoint {
                    bucket_start: time(r, "bucket")?,
                    attempts: get(r, "attempts")?,
                    delivered: get(r, "delivered")?,
                    retries_scheduled: get(r, "retries")?,
                    dead_lettered: get(r, "dead")?,
                })
            })
            .collect()
    }

    /// How many deliveries of a workspace's endpoints sit in dead letter now.
    pub async fn dead_letter_counts(&self, ws: WorkspaceId) -> Result<HashMap<String, i64>> {
        let rows = sqlx::query(
            "SELECT endpoint_id, COUNT(*) AS n FROM deliveries WHERE workspace_id = $1 AND status = 'dead_letter' GROUP BY endpoint_id",
        )
        .bind(ws.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((get(r, "endpoint_id")?, get(r, "n")?)))
            .collect()
    }

    /// Deletes finished deliveries (and their attempts) older than `cutoff`.
    pub async fn prune_deliveries(&self, cutoff: Timestamp) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < $1)",
        )
        .bind(ms(cutoff))
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < $1",
        )
        .bind(ms(cutoff))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[derive(Default)]
    struct Counting {
        reserved: AtomicUsize,
        unreserved: AtomicUsize,
    }

    impl DeliveryHandoff for Counting {
        fn reserve(&self, _: EndpointId) -> bool {
            self.reserved.fetch_add(1, Relaxed);
            true
        }
        fn unreserve(&self, _: EndpointId) {
            self.unreserved.fetch_add(1, Relaxed);
        }
        fn lease(&self) -> std::time::Duration {
            std::time::Duration::from_secs(30)
        }
    }

    #[test]
    fn reservations_are_given_back_unless_kept() {
        let engine = Counting::default();
        let now = linkwire_contract::from_millis(1_000);
        let mut failed = Reservations::new(Some(&engine), now);
        assert_eq!(
            failed.take(EndpointId::new()),
            Some(linkwire_contract::from_millis(31_000))
        );
        failed.take(EndpointId::new());
        drop(failed); // the transaction did not commit
        assert_eq!(engine.unreserved.load(Relaxed), 2);

        let mut committed = Reservations::new(Some(&engine), now);
        committed.take(EndpointId::new());
        committed.keep();
        assert_eq!(
            (
                engine.reserved.load(Relaxed),
                engine.unreserved.load(Relaxed)
            ),
            (3, 2)
        );

        assert_eq!(Reservations::none().take(EndpointId::new()), None);
    }
}
