//! Links. Every mutation writes the link and its event in one transaction; updates are optimistic
//! (`version`), so two concurrent edits never report the same `before`.

use linkwire_contract::link::LinkSource;
use linkwire_contract::{
    DestinationUrl, DomainId, EventRecord, LinkId, LinkStatus, OrganizationId, RedirectStatus,
    Timestamp, UtmParams, WorkspaceId,
};
use sqlx::any::AnyRow;

use crate::events::insert_event;
use crate::rows::{flag, get, json, ms, ms_opt, parsed, time, time_opt};
use crate::{conflict_on_unique, FromAnyRow, Notice, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub id: LinkId,
    pub workspace_id: WorkspaceId,
    pub organization_id: OrganizationId,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub domain_is_default: bool,
    pub short_code: String,
    pub destination: DestinationUrl,
    pub redirect_status: RedirectStatus,
    pub expires_at: Option<Timestamp>,
    /// argon2 PHC string; never leaves the server.
    pub password_hash: Option<String>,
    pub tags: Vec<String>,
    pub utm: UtmParams,
    pub status: LinkStatus,
    pub takedown_reason: Option<String>,
    pub source: LinkSource,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Link {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

impl FromAnyRow for Link {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let destination: String = get(row, "destination")?;
        let code: i64 = get(row, "redirect_status_code")?;
        Ok(Self {
            id: parsed(row, "id")?,
            workspace_id: parsed(row, "workspace_id")?,
            organization_id: parsed(row, "organization_id")?,
            domain_id: parsed(row, "domain_id")?,
            domain_name: get(row, "domain_name")?,
            domain_is_default: flag(row, "is_default")?,
            short_code: get(row, "short_code")?,
            destination: DestinationUrl::parse(&destination)
                .map_err(|e| StoreError::Corrupt(format!("destination: {e}")))?,
            redirect_status: RedirectStatus::from_code(code as u16)
                .ok_or_else(|| StoreError::Corrupt(format!("redirect_status_code {code}")))?,
            expires_at: time_opt(row, "expires_at")?,
            password_hash: get(row, "password_hash")?,
            tags: json(row, "tags")?,
            utm: json(row, "utm")?,
            status: parsed(row, "status")?,
            takedown_reason: get(row, "takedown_reason")?,
            source: parsed(row, "source")?,
            version: get(row, "version")?,
            created_at: time(row, "created_at")?,
            updated_at: time(row, "updated_at")?,
        })
    }
}

const LINK_SELECT: &str = "SELECT l.id, l.workspace_id, w.organization_id, l.domain_id, d.domain_name, d.is_default, l.short_code, \
    l.destination, l.redirect_status_code, l.expires_at, l.password_hash, l.tags, l.utm, l.status, \
    l.takedown_reason, l.source, l.version, l.created_at, l.updated_at \
    FROM links l JOIN domains d ON d.id = l.domain_id JOIN workspaces w ON w.id = l.workspace_id";

fn encode_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("tags and UTM always serialize")
}

impl Store {
    /// Inserts a new link and its `link.created` event. `Conflict("slug")` when the code is taken.
    pub async fn insert_link(&self, link: &Link, event: &EventRecord) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO links (id, workspace_id, domain_id, short_code, destination, redirect_status_code, expires_at, \
                                password_hash, tags, utm, status, takedown_reason, source, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(link.id.to_string())
        .bind(link.workspace_id.to_string())
        .bind(link.domain_id.to_string())
        .bind(&link.short_code)
        .bind(link.destination.as_str())
        .bind(i64::from(link.redirect_status.code()))
        .bind(ms_opt(link.expires_at))
        .bind(link.password_hash.as_deref())
        .bind(encode_json(&link.tags))
        .bind(encode_json(&link.utm))
        .bind(link.status.as_str())
        .bind(link.takedown_reason.as_deref())
        .bind(link.source.as_str())
        .bind(link.version)
        .bind(ms(link.created_at))
        .bind(ms(link.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(conflict_on_unique("slug"))?;
        insert_event(&mut tx, event).await?;
        self.notify_in(
            &mut tx,
            Notice::Link {
                domain_id: link.domain_id,
                code: link.short_code.clone(),
            },
        )
        .await?;
        self.notify_in(&mut tx, Notice::Work).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes `link` over the stored row whose version is `link.version`, bumping the version, and its event.
    /// `Stale` when someone else changed the link first; `Conflict("slug")` when the new code is taken.
    pub async fn update_link(&self, link: &Link, event: Option<&EventRecord>) -> Result<()> {
        let mut tx = self.begin().await?;
        let old_code: Option<String> =
            sqlx::query_scalar("SELECT short_code FROM links WHERE id = $1")
                .bind(link.id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let done = sqlx::query(
            "UPDATE links SET short_code = $1, destination = $2, redirect_status_code = $3, expires_at = $4, \
                password_hash = $5, tags = $6, utm = $7, status = $8, takedown_reason = $9, updated_at = $10, \
                version = version + 1 \
             WHERE id = $11 AND workspace_id = $12 AND version = $13",
        )
        .bind(&link.short_code)
        .bind(link.destination.as_str())
        .bind(i64::from(link.redirect_status.code()))
        .bind(ms_opt(link.expires_at))
        .bind(link.password_hash.as_deref())
        .bind(encode_json(&link.tags))
        .bind(encode_json(&link.utm))
        .bind(link.status.as_str())
        .bind(link.takedown_reason.as_deref())
        .bind(ms(link.updated_at))
        .bind(link.id.to_string())
        .bind(link.workspace_id.to_string())
        .bind(link.version)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on_unique("slug"))?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Stale);
        }
        if let Some(ev) = event {
            insert_event(&mut tx, ev).await?;
            self.notify_in(&mut tx, Notice::Work).await?;
        }
        for code in old_code
            .into_iter()
            .chain(std::iter::once(link.short_code.clone()))
        {
            self.notify_in(
                &mut tx,
                Notice::Link {
                    domain_id: link.domain_id,
                    code,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A live (not deleted) link of this workspace.
    pub async fn get_link(&self, ws: WorkspaceId, id: LinkId) -> Result<Option<Link>> {
        let row = sqlx::query(&format!(
            "{LINK_SELECT} WHERE l.id = $1 AND l.workspace_id = $2 AND l.status <> 'deleted'"
        ))
        .bind(id.to_string())
        .bind(ws.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Link::from_row).transpose()
    }

    /// The live link with this code on this domain, whichever workspace owns it: the redirect lookup.
    pub async fn find_link_by_code(&self, domain: DomainId, code: &str) -> Result<Option<Link>> {
        let row = sqlx::query(&format!(
            "{LINK_SELECT} WHERE l.domain_id = $1 AND l.short_code = $2 AND l.status <> 'deleted'"
        ))
        .bind(domain.to_string())
        .bind(code)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(Link::from_row).transpose()
    }

    pub async fn code_taken(&self, domain: DomainId, code: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM links WHERE domain_id = $1 AND short_code = $2 AND status <> 'deleted'",
        )
        .bind(domain.to_string())
        .bind(code)
        .fetch_one(&self.reader)
        .await?;
        Ok(n > 0)
    }

    /// Live links of a workspace, newest first, older than `before` when given.
    pub async fn list_links(
        &self,
        ws: WorkspaceId,
        before: Option<LinkId>,
        limit: u32,
    ) -> Result<Vec<Link>> {
        let limit = limit.clamp(1, 1000);
        let rows = match before {
            Some(b) => {
                sqlx::query(&format!(
                    "{LINK_SELECT} WHERE l.workspace_id = $1 AND l.status <> 'deleted' AND l.id < $2 ORDER BY l.id DESC LIMIT {limit}"
                ))
                .bind(ws.to_string())
                .bind(b.to_string())
                .fetch_all(&self.reader)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "{LINK_SELECT} WHERE l.workspace_id = $1 AND l.status <> 'deleted' ORDER BY l.id DESC LIMIT {limit}"
                ))
                .bind(ws.to_string())
                .fetch_all(&self.reader)
                .await?
            }
        };
        rows.iter().map(Link::from_row).collect()
    }
}
