//! Domains: the built-in default domain (shared by every workspace) and custom domains of one workspace.

use linkwire_contract::domain::DomainState;
use linkwire_contract::{DomainId, EventRecord, Timestamp, WorkspaceId};
use sqlx::any::AnyRow;

use crate::events::insert_event;
use crate::rows::{flag, get, int_flag, ms, parsed, parsed_opt, time};
use crate::{conflict_on_unique, FromAnyRow, Notice, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    /// `None` for the built-in default domain, which every workspace may use.
    pub workspace_id: Option<WorkspaceId>,
    pub domain_name: String,
    pub is_default: bool,
    pub state: DomainState,
    pub verification_token: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl FromAnyRow for Domain {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id")?,
            workspace_id: parsed_opt(row, "workspace_id")?,
            domain_name: get(row, "domain_name")?,
            is_default: flag(row, "is_default")?,
            state: DomainState {
                verification_status: parsed(row, "verification_status")?,
                ready_for_traffic: flag(row, "ready_for_traffic")?,
                domain_status: parsed(row, "domain_status")?,
            },
            verification_token: get(row, "verification_token")?,
            created_at: time(row, "created_at")?,
            updated_at: time(row, "updated_at")?,
        })
    }
}

const DOMAIN_COLUMNS: &str =
    "id, workspace_id, domain_name, is_default, verification_status, ready_for_traffic, \
                              domain_status, verification_token, created_at, updated_at";

impl Store {
    /// Makes `name` the default domain (verified, active), creating it on first start.
    pub async fn ensure_default_domain(&self, name: &str, now: Timestamp) -> Result<Domain> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO domains (id, workspace_id, domain_name, is_default, verification_status, ready_for_traffic, \
                                  domain_status, verification_token, created_at, updated_at) \
             VALUES ($1, NULL, $2, 1, 'verified', 1, 'active', NULL, $3, $3) ON CONFLICT (domain_name) DO NOTHING",
        )
        .bind(DomainId::new().to_string())
        .bind(name)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE domains SET is_default = CASE WHEN domain_name = $1 THEN 1 ELSE 0 END WHERE is_default = 1 OR domain_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE domain_name = $1"
        ))
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Domain::from_row(&row)
    }

    pub async fn create_domain(&self, domain: &Domain) -> Result<()> {
        sqlx::query(
            "INSERT INTO domains (id, workspace_id, domain_name, is_default, verification_status, ready_for_traffic, \
                                  domain_status, verification_token, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $9)",
        )
        .bind(domain.id.to_string())
        .bind(domain.workspace_id.map(|w| w.to_string()))
        .bind(&domain.domain_name)
        .bind(domain.state.verification_status.as_str())
        .bind(int_flag(domain.state.ready_for_traffic))
        .bind(domain.state.domain_status.as_str())
        .bind(domain.verification_token.as_deref())
        .bind(ms(domain.created_at))
        .bind(ms(domain.updated_at))
        .execute(&self.writer)
        .await
        .map_err(conflict_on_unique("domain"))?;
        Ok(())
    }

    /// The workspace's own domains and the shared default domain.
    pub async fn list_domains(&self, ws: WorkspaceId) -> Result<Vec<Domain>> {
        let rows = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE workspace_id = $1 OR is_default = 1 ORDER BY is_default DESC, domain_name"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Domain::from_row).collect()
    }

    pub async fn get_domain(&self, ws: WorkspaceId, id: DomainId) -> Result<Option<Domain>> {
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE id = $1 AND (workspace_id = $2 OR is_default = 1)"
        ))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Domain::from_row).transpose()
    }

    pub async fn default_domain(&self) -> Result<Option<Domain>> {
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE is_default = 1"
        ))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Domain::from_row).transpose()
    }

    /// Any domain by name, whoever owns it: the redirect path's lookup.
    pub async fn find_domain_by_name(&self, name: &str) -> Result<Option<Domain>> {
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE domain_name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Domain::from_row).transpose()
    }

    /// Stores a domain's new state and, in the same transaction, the event that reports the change.
    pub async fn update_domain_state(
        &self,
        ws: WorkspaceId,
        id: DomainId,
        state: DomainState,
        now: Timestamp,
        event: Option<&EventRecord>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE domains SET verification_status = $1, ready_for_traffic = $2, domain_status = $3, updated_at = $4 \
             WHERE id = $5 AND workspace_id = $6",
        )
        .bind(state.verification_status.as_str())
        .bind(int_flag(state.ready_for_traffic))
        .bind(state.domain_status.as_str())
        .bind(ms(now))
        .bind(id.to_string())
        .bind(ws.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some(ev) = event {
            insert_event(&mut tx, ev).await?;
            self.notify_in(&mut tx, Notice::Work).await?;
        }
        let name: String = sqlx::query_scalar("SELECT domain_name FROM domains WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        self.notify_in(&mut tx, Notice::Domain { name }).await?;
        tx.commit().await?;
        Ok(true)
    }
}
