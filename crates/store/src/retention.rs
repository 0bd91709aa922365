//! Click-data retention (contract §1): clicks older than the organization plan's retention are deleted,
//! with the `link.clicked` / `link.qr_scanned` events they produced, those events' deliveries and the
//! deliveries' attempts. Lifecycle events and their deliveries are kept.
//!
//! Work goes in small transactions, oldest clicks first, so the one SQLite writer is never held for
//! long: click capture and deliveries write in between.

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

    /// Deletes up to `limit` of the workspace's oldest clicks from before `cutoff`, in one transaction,
    /// with their events, deliveries and attempts. A click whose event is being delivered right now
    /// (status `delivering`) is left for a later pass.
    pub async fn prune_clicks(
        &self,
        ws: WorkspaceId,
        cutoff: Timestamp,
        limit: u32,
    ) -> Result<Pruned> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.event_id FROM clicks c WHERE c.workspace_id = $1 AND c.clicked_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = c.event_id AND d.status = 'delivering') \
             ORDER BY c.clicked_at LIMIT {}",
            limit.max(1)
        ))
        .bind(ws.to_string())
        .bind(ms(cutoff))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(Pruned::default());
        }
        let mut clicks = Vec::with_capacity(rows.len());
        let mut events = Vec::new();
        for r in &rows {
            clicks.push(get::<i64>(r, "id")?);
            if let Some(event) = get::<Option<String>>(r, "event_id")? {
                events.push(event);
            }
        }
        let ph = Placeholders::of(&tx);
        let mut pruned = Pruned::default();
        if !events.is_empty() {
            let list = ph.list(events.len(), 0);
            pruned.attempts = delete_listed(
                &mut tx,
                &format!("DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN ({list}))"),
                &events,
            )
            .await?;
            pruned.deliveries = delete_listed(
                &mut tx,
                &format!("DELETE FROM deliveries WHERE event_id IN ({list})"),
                &events,
            )
            .await?;
            pruned.events = delete_listed(
                &mut tx,
                &format!("DELETE FROM events WHERE id IN ({list})"),
                &events,
            )
            .await?;
        }
        let sql = format!(
            "DELETE FROM clicks WHERE id IN ({})",
            ph.list(clicks.len(), 0)
        );
        let mut q = sqlx::query(&sql);
        for id in &clicks {
            q = q.bind(*id);
        }
        pruned.clicks = q.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(pruned)
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
