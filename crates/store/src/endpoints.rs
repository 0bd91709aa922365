//! Endpoints: webhook endpoints, REST-hook subscriptions and Generic HTTP destinations share one table and
//! one delivery engine. Secrets are stored encrypted; this crate only ever sees ciphertext.

use linkwire_contract::{string_enum, EndpointId, EventType, Timestamp, WorkspaceId};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::rows::{flag, get, int_flag, json, ms, ms_opt, parsed, time, time_opt};
use crate::{FromAnyRow, Result, Store, StoreError};

string_enum! {
    pub enum EndpointKind: "endpoint kind" {
        Webhook = "webhook",
        RestHook = "rest_hook",
        GenericHttp = "generic_http",
    }
}

/// A secret replaced by rotation but still signing until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub ciphertext: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub workspace_id: WorkspaceId,
    pub kind: EndpointKind,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret_ciphertext: String,
    pub previous_secrets: Vec<PreviousSecret>,
    /// Destination-specific settings (Generic HTTP); opaque here.
    pub options: Option<serde_json::Value>,
    pub installation_id: Option<String>,
    pub max_concurrency: i64,
    pub rate_limit_per_sec: Option<i64>,
    pub subscriptions: Vec<EventType>,
    pub last_success_at: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    pub dead_letters_since_success: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl FromAnyRow for Endpoint {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let options: Option<String> = get(row, "options")?;
        Ok(Self {
            id: parsed(row, "id")?,
            workspace_id: parsed(row, "workspace_id")?,
            kind: parsed(row, "kind")?,
            name: get(row, "name")?,
            url: get(row, "url")?,
            enabled: flag(row, "enabled")?,
            disabled_reason: get(row, "disabled_reason")?,
            secret_ciphertext: get(row, "secret_ciphertext")?,
            previous_secrets: json(row, "previous_secrets")?,
            options: options
                .map(|o| {
                    serde_json::from_str(&o)
                        .map_err(|e| StoreError::Corrupt(format!("options: {e}")))
                })
                .transpose()?,
            installation_id: get(row, "installation_id")?,
            max_concurrency: get(row, "max_concurrency")?,
            rate_limit_per_sec: get(row, "rate_limit_per_sec")?,
            subscriptions: Vec::new(),
            last_success_at: time_opt(row, "last_success_at")?,
            failing_since: time_opt(row, "failing_since")?,
            dead_letters_since_success: get(row, "dead_letters_since_success")?,
            created_at: time(row, "created_at")?,
            updated_at: time(row, "updated_at")?,
        })
    }
}

const ENDPOINT_COLUMNS: &str = "id, workspace_id, kind, name, url, enabled, disabled_reason, secret_ciphertext, \
    previous_secrets, options, installation_id, max_concurrency, rate_limit_per_sec, last_success_at, failing_since, \
    dead_letters_since_success, created_at, updated_at";

async fn write_subscriptions(tx: &mut Transaction<'static, Any>, ep: &Endpoint) -> Result<()> {
    sqlx::query("DELETE FROM endpoint_subscriptions WHERE endpoint_id = $1")
        .bind(ep.id.to_string())
        .execute(&mut **tx)
        .await?;
    for t in &ep.subscriptions {
        sqlx::query("INSERT INTO endpoint_subscriptions (endpoint_id, workspace_id, event_type) VALUES ($1, $2, $3)")
            .bind(ep.id.to_string())
            .bind(ep.workspace_id.to_string())
            .bind(t.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Filter for listing a workspace's endpoints.
#[derive(Debug, Clone, Default)]
pub struct EndpointFilter {
    pub kind: Option<EndpointKind>,
    pub installation_id: Option<String>,
    pub url: Option<String>,
}

impl Store {
    pub async fn create_endpoint(&self, ep: &Endpoint) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ))
        .bind(ep.id.to_string())
        .bind(ep.workspace_id.to_string())
        .bind(ep.kind.as_str())
        .bind(&ep.name)
        .bind(&ep.url)
        .bind(int_flag(ep.enabled))
        .bind(ep.disabled_reason.as_deref())
        .bind(&ep.secret_ciphertext)
        .bind(serde_json::to_string(&ep.previous_secrets).expect("serializes"))
        .bind(ep.options.as_ref().map(|o| o.to_string()))
        .bind(ep.installation_id.as_deref())
        .bind(ep.max_concurrency)
        .bind(ep.rate_limit_per_sec)
        .bind(ms_opt(ep.last_success_at))
        .bind(ms_opt(ep.failing_since))
        .bind(ep.dead_letters_since_success)
        .bind(ms(ep.created_at))
        .bind(ms(ep.updated_at))
        .execute(&mut *tx)
        .await?;
        write_subscriptions(&mut tx, ep).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn subscriptions_of(&self, eps: &mut [Endpoint]) -> Result<()> {
        if eps.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=eps.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT endpoint_id, event_type FROM endpoint_subscriptions WHERE endpoint_id IN ({}) ORDER BY event_type",
            placeholders.join(",")
        );
        let mut q = sqlx::query(&sql);
        for ep in eps.iter() {
            q = q.bind(ep.id.to_string());
        }
        for row in q.fetch_all(&self.reader).await? {
            let id: EndpointId = parsed(&row, "endpoint_id")?;
            let t: EventType = parsed(&row, "event_type")?;
            if let Some(ep) = eps.iter_mut().find(|e| e.id == id) {
                ep.subscriptions.push(t);
            }
        }
        for ep in eps.iter_mut() {
            ep.subscriptions
                .sort_by_key(|t| EventType::ALL.iter().position(|x| x == t));
        }
        Ok(())
    }

    pub async fn get_endpoint(&self, ws: WorkspaceId, id: EndpointId) -> Result<Option<Endpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1 AND workspace_id = $2"
        ))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut eps = vec![Endpoint::from_row(&row)?];
        self.subscriptions_of(&mut eps).await?;
        Ok(eps.pop())
    }

    /// An endpoint by id alone: the delivery engine's lookup (it works across workspaces).
    pub async fn endpoint_for_delivery(&self, id: EndpointId) -> Result<Option<Endpoint>> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Endpoint::from_row).transpose()
    }

    pub async fn list_endpoints(
        &self,
        ws: WorkspaceId,
        filter: &EndpointFilter,
    ) -> Result<Vec<Endpoint>> {
        let mut sql = format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE workspace_id = $1");
        let mut args = vec![ws.to_string()];
        if let Some(k) = filter.kind {
            args.push(k.as_str().to_owned());
            sql.push_str(&format!(" AND kind = ${}", args.len()));
        }
        if let Some(i) = &filter.installation_id {
            args.push(i.clone());
            sql.push_str(&format!(" AND installation_id = ${}", args.len()));
        }
        if let Some(u) = &filter.url {
            args.push(u.clone());
            sql.push_str(&format!(" AND url = ${}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let mut eps = q
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(Endpoint::from_row)
            .collect::<Result<Vec<_>>>()?;
        self.subscriptions_of(&mut eps).await?;
        Ok(eps)
    }

    /// Saves name, URL, subscriptions, options, limits and secrets. Enabling and disabling go through
    /// [`Store::set_endpoint_enabled`], which also pauses or resumes deliveries.
    pub async fn update_endpoint(&self, ep: &Endpoint, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE endpoints SET name = $1, url = $2, secret_ciphertext = $3, previous_secrets = $4, options = $5, \
             max_concurrency = $6, rate_limit_per_sec = $7, updated_at = $8 WHERE id = $9 AND workspace_id = $10",
        )
        .bind(&ep.name)
        .bind(&ep.url)
        .bind(&ep.secret_ciphertext)
        .bind(serde_json::to_string(&ep.previous_secrets).expect("serializes"))
        .bind(ep.options.as_ref().map(|o| o.to_string()))
        .bind(ep.max_concurrency)
        .bind(ep.rate_limit_per_sec)
        .bind(ms(now))
        .bind(ep.id.to_string())
        .bind(ep.workspace_id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        write_subscriptions(&mut tx, ep).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Enables (resuming paused deliveries) or disables (pausing pending ones) an endpoint.
    pub async fn set_endpoint_enabled(
        &self,
        ws: WorkspaceId,
        id: EndpointId,
        enabled: bool,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE endpoints SET enabled = $1, disabled_reason = $2, updated_at = $3, \
               failing_since = CASE WHEN $1 = 1 THEN NULL ELSE failing_since END, \
               dead_letters_since_success = CASE WHEN $1 = 1 THEN 0 ELSE dead_letters_since_success END \
             WHERE id = $4 AND workspace_id = $5",
        )
        .bind(int_flag(enabled))
        .bind(if enabled { None } else { reason })
        .bind(ms(now))
        .bind(id.to_string())
        .bind(ws.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let (from, to) = if enabled {
            ("paused", "pending")
        } else {
            ("pending", "paused")
        };
        sqlx::query("UPDATE deliveries SET status = $1, updated_at = $2 WHERE endpoint_id = $3 AND status = $4")
            .bind(to)
            .bind(ms(now))
            .bind(id.to_string())
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an endpoint; its unfinished deliveries become dead letters (history stays).
    pub async fn delete_endpoint(
        &self,
        ws: WorkspaceId,
        id: EndpointId,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM endpoints WHERE id = $1 AND workspace_id = $2")
            .bind(id.to_string())
            .bind(ws.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        crate::deliveries::abandon_endpoint(&mut tx, id, "endpoint deleted", now).await?;
        sqlx::query("DELETE FROM endpoint_subscriptions WHERE endpoint_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Disables every endpoint an installation created (when its token is revoked).
    pub async fn disable_installation_endpoints(
        &self,
        ws: WorkspaceId,
        installation_id: &str,
        now: Timestamp,
    ) -> Result<u64> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM endpoints WHERE workspace_id = $1 AND installation_id = $2 AND enabled = 1")
                .bind(ws.to_string())
                .bind(installation_id)
                .fetch_all(&self.reader)
                .await?;
        let mut n = 0;
        for id in ids {
            let id: EndpointId = id
                .parse()
                .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))?;
            if self
                .set_endpoint_enabled(ws, id, false, Some("installation revoked"), now)
                .await?
            {
                n += 1;
            }
        }
        Ok(n)
    }
}
