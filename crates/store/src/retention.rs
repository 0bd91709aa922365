//! Click-data retention (contract §1): clicks older than the organization plan's retention are deleted,
//! with the `link.clicked` / `link.qr_scanned` events they produced, those events' deliveries and the
//! deliveries' attempts. Lifecycle events and their deliveries are kept.
//!
//! Work goes in small transactions, oldest clicks first, so the one SQLite writer is never held for
//! long: click capture and deliveries write in between.

use std::collections::HashSet;

use linkwire_contract::{Plan, Timestamp, WorkspaceId};
use sqlx::{Any, Transaction};

use crate::rows::{get, ms, parsed};
use crate::{Placeholders, Result, Store};

/// What pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub clicks: u64,
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Self) {
        self.clicks += other.clicks;
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
    }
}

impl Store {
    /// Every workspace with its organization's plan.
    pub async fn workspace_plans(&self) -> Result<Vec<(WorkspaceId, Plan)>> {
        let rows = sqlx::query(
            "SELECT w.id, o.plan FROM workspaces w JOIN organizations o ON o.id = w.organization_id \
             ORDER BY w.id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((parsed(r, "id")?, parsed(r, "plan")?)))
            .collect()
    }

    /// One pruning step: deletes up to `limit` of the workspace's oldest clicks from before `cutoff`, in
    /// one transaction, with their events, deliveries and attempts. A click whose event is being
    /// delivered right now (status `delivering`) is left for a later step, so the engine never records an
    /// attempt onto a deleted row. The returned flag says whether older clicks may remain (the step was
    /// full).
    pub async fn prune_clicks(
        &self,
        ws: WorkspaceId,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<(Pruned, bool)> {
        let limit = limit.max(1);
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.event_id FROM clicks c WHERE c.workspace_id = $1 AND c.clicked_at < $2 \
             ORDER BY c.clicked_at LIMIT {limit}"
        ))
        .bind(ws.to_string())
        .bind(ms(cutoff))
        .fetch_all(&mut *tx)
        .await?;
        let full = rows.len() == limit as usize;
        let mut clicks = Vec::with_capacity(rows.len());
        for r in &rows {
            clicks.push((get::<i64>(r, "id")?, get::<Option<String>>(r, "event_id")?));
        }
        let events: Vec<String> = clicks.iter().filter_map(|(_, e)| e.clone()).collect();

        // Which of these events are being delivered. On PostgreSQL the rows are locked first: a claim
        // that got there before shows here as `delivering`, and a later one skips them (claims take
        // `SKIP LOCKED`) until this transaction has deleted them. On SQLite this transaction holds the
        // one writer connection, so no claim runs in between. Rows are locked in id order, so two nodes
        // pruning the same workspace at once wait for each other instead of deadlocking.
        let ph = Placeholders::of(&tx);
        let lock = self.backend.row_lock();
        let mut busy = HashSet::new();
        for chunk in crate::statement_chunks(&events, ph.max_rows(1)) {
            let sql = format!(
                "SELECT event_id, status FROM deliveries WHERE event_id IN ({}) ORDER BY id{lock}",
                ph.list(chunk.len(), 0)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q.bind(e.as_str());
            }
            for r in q.fetch_all(&mut *tx).await? {
                if get::<String>(&r, "status")? == "delivering" {
                    busy.insert(get::<String>(&r, "event_id")?);
                }
            }
        }
        let events: Vec<String> = events.into_iter().filter(|e| !busy.contains(e)).collect();
        let clicks: Vec<i64> = clicks
            .into_iter()
            .filter(|(_, e)| e.as_ref().is_none_or(|e| !busy.contains(e)))
            .map(|(id, _)| id)
            .collect();

        let mut pruned = Pruned::default();
        for chunk in crate::statement_chunks(&events, ph.max_rows(1)) {
            let list = ph.list(chunk.len(), 0);
            pruned.attempts += delete_listed(
                &mut tx,
                &format!("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ({list}))"),
                chunk,
            )
            .await?;
            pruned.deliveries += delete_listed(
                &mut tx,
                &format!("DELETE FROM deliveries WHERE event_id IN ({list})"),
                chunk,
            )
            .await?;
            pruned.events += delete_listed(
                &mut tx,
                &format!("DELETE FROM events WHERE id IN ({list})"),
                chunk,
            )
            .await?;
        }
        for chunk in crate::statement_chunks(&clicks, ph.max_rows(1)) {
            let sql = format!(
                "DELETE FROM clicks WHERE id IN ({})",
                ph.list(chunk.len(), 0)
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            pruned.clicks += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok((pruned, full))
    }
}

/// Runs a `DELETE … IN (…)` whose placeholders take `ids`; returns the rows deleted.
async fn delete_listed(
    tx: &mut Transaction<'static, Any>,
    sql: &str,
    ids: &[String],
) -> Result<u64> {
    let mut q = sqlx::query(sql);
    for id in ids {
        q = q.bind(id.as_str());
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}
