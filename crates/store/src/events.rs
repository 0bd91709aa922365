//! The event outbox: each event's body is written once, in the transaction that made the change, and read
//! back byte for byte.

use linkwire_contract::{EventId, EventRecord, EventType, LinkId, Timestamp, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::rows::{get, ms, parsed, parsed_opt, time};
use crate::{FromAnyRow, Result, Store};

/// Filters for listing events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    pub link_id: Option<LinkId>,
    pub since: Option<Timestamp>,
    /// Only events older than this id (the cursor).
    pub before: Option<EventId>,
    pub limit: u32,
}

impl FromAnyRow for EventRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(EventRecord {
            id: parsed(row, "id")?,
            event_type: parsed(row, "type")?,
            organization_id: parsed(row, "organization_id")?,
            workspace_id: parsed(row, "workspace_id")?,
            link_id: parsed_opt(row, "link_id")?,
            created_at: time(row, "created_at")?,
            body: get(row, "body")?,
        })
    }
}

const EVENT_COLUMNS: &str = "id, organization_id, workspace_id, type, link_id, created_at, body";

pub(crate) async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    event: &EventRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, organization_id, workspace_id, type, link_id, created_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.id.to_string())
    .bind(event.organization_id.to_string())
    .bind(event.workspace_id.to_string())
    .bind(event.event_type.as_str())
    .bind(event.link_id.map(|l| l.to_string()))
    .bind(ms(event.created_at))
    .bind(&event.body)
    .execute(&mut **tx)
    .await?;
    crate::deliveries::fan_out(
        tx,
        &[event],
        event.created_at,
        &mut crate::deliveries::Reservations::none(),
    )
    .await?;
    Ok(())
}

impl Store {
    /// Writes a standalone event (one with no state change of its own, such as a test event).
    pub async fn insert_event(&self, event: &EventRecord) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many events of this type the workspace has (benchmarks and tests compare it with clicks).
    pub async fn count_events(&self, ws: WorkspaceId, event_type: EventType) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = $2")
                .bind(ws.to_string())
                .bind(event_type.as_str())
                .fetch_one(&self.reader)
                .await?,
        )
    }

    pub async fn get_event(&self, ws: WorkspaceId, id: EventId) -> Result<Option<EventRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(EventRecord::from_row).transpose()
    }

    /// Events of a workspace, newest first. Ids are UUID v7, so id order is creation order.
    pub async fn list_events(
        &self,
        ws: WorkspaceId,
        filter: &EventFilter,
    ) -> Result<Vec<EventRecord>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1");
        let mut args: Vec<String> = vec![ws.to_string()];
        let mut push = |clause: &str, value: String, sql: &mut String| {
            args.push(value);
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        };
        if let Some(t) = filter.event_type {
            push("type =", t.as_str().to_owned(), &mut sql);
        }
        if let Some(l) = filter.link_id {
            push("link_id =", l.to_string(), &mut sql);
        }
        if let Some(b) = filter.before {
            push("id <", b.to_string(), &mut sql);
        }
        let since = filter.since.map(ms);
        if since.is_some() {
            sql.push_str(&format!(" AND created_at >= ${}", args.len() + 1));
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            filter.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        if let Some(s) = since {
            q = q.bind(s);
        }
        let rows = q.fetch_all(&self.reader).await?;
        rows.iter().map(EventRecord::from_row).collect()
    }
}
