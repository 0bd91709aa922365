//! Organizations, workspaces and credentials (API keys and installation tokens, stored as hashes).

use linkwire_contract::{string_enum, ApiKeyId};
use linkwire_contract::{OrganizationId, Plan, ScopeSet, Timestamp, WorkspaceId};
use sqlx::any::AnyRow;

use crate::rows::{get, ms, parsed, parsed_opt, time, time_opt};
use crate::{conflict_on_unique, FromAnyRow, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub plan: Plan,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub created_at: Timestamp,
}

/// A workspace with its organization: what an authenticated request acts within.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub workspace: Workspace,
    pub organization: Organization,
}

string_enum! {
    pub enum CredentialKind: "credential kind" {
        ApiKey = "api_key",
        Installation = "installation",
    }
}

/// A stored credential. The token itself is never stored; `token_hash` is its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub kind: CredentialKind,
    pub name: String,
    pub platform: Option<String>,
    pub token_prefix: String,
    pub scopes: ScopeSet,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub struct NewCredential<'a> {
    pub workspace_id: WorkspaceId,
    pub kind: CredentialKind,
    pub name: &'a str,
    pub platform: Option<&'a str>,
    pub token_prefix: &'a str,
    pub token_hash: &'a str,
    pub scopes: &'a ScopeSet,
    pub now: Timestamp,
}

impl FromAnyRow for Organization {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id")?,
            name: get(row, "name")?,
            plan: parsed(row, "plan")?,
            created_at: time(row, "created_at")?,
        })
    }
}

impl FromAnyRow for Workspace {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id")?,
            organization_id: parsed(row, "organization_id")?,
            name: get(row, "name")?,
            created_at: time(row, "created_at")?,
        })
    }
}

impl FromAnyRow for Credential {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let scopes: String = get(row, "scopes")?;
        Ok(Self {
            id: parsed(row, "id")?,
            workspace_id: parsed(row, "workspace_id")?,
            kind: parsed(row, "kind")?,
            name: get(row, "name")?,
            platform: parsed_opt(row, "platform")?,
            token_prefix: get(row, "token_prefix")?,
            scopes: ScopeSet::parse(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            created_at: time(row, "created_at")?,
            revoked_at: time_opt(row, "revoked_at")?,
        })
    }
}

const CREDENTIAL_COLUMNS: &str =
    "id, workspace_id, kind, name, platform, token_prefix, scopes, created_at, revoked_at";

impl Store {
    /// Records `key` once; true only for the one caller (across nodes) that recorded it.
    pub async fn claim_once(&self, key: &str, value: &str, now: Timestamp) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO instance_state (key, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_organization(
        &self,
        name: &str,
        plan: Plan,
        now: Timestamp,
    ) -> Result<Organization> {
        let org = Organization {
            id: OrganizationId::new(),
            name: name.to_owned(),
            plan,
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.id.to_string())
        .bind(&org.name)
        .bind(plan.as_str())
        .bind(ms(now))
        .execute(&self.writer)
        .await?;
        Ok(org)
    }

    /// Returns false when no such organization exists.
    pub async fn set_plan(&self, org: OrganizationId, plan: Plan) -> Result<bool> {
        let done = sqlx::query("UPDATE organizations SET plan = $1 WHERE id = $2")
            .bind(plan.as_str())
            .bind(org.to_string())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn list_organizations(&self) -> Result<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT id, name, plan, created_at FROM organizations ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Organization::from_row).collect()
    }

    pub async fn create_workspace(
        &self,
        org: OrganizationId,
        name: &str,
        now: Timestamp,
    ) -> Result<Workspace> {
        let ws = Workspace {
            id: WorkspaceId::new(),
            organization_id: org,
            name: name.to_owned(),
            created_at: now,
        };
        sqlx::query("INSERT INTO workspaces (id, organization_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(ws.id.to_string())
            .bind(org.to_string())
            .bind(&ws.name)
            .bind(ms(now))
            .execute(&self.writer)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict("organization"),
                _ => StoreError::Database(e),
            })?;
        Ok(ws)
    }

    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, name, created_at FROM workspaces ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Workspace::from_row).collect()
    }

    pub async fn tenant(&self, ws: WorkspaceId) -> Result<Option<Tenant>> {
        let row = sqlx::query(
            "SELECT w.id, w.organization_id, w.name, w.created_at, \
                    o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at \
             FROM workspaces w JOIN organizations o ON o.id = w.organization_id WHERE w.id = $1",
        )
        .bind(ws.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            let workspace = Workspace::from_row(&r)?;
            let organization = Organization {
                id: workspace.organization_id,
                name: get(&r, "org_name")?,
                plan: parsed(&r, "org_plan")?,
                created_at: time(&r, "org_created_at")?,
            };
            Ok(Tenant {
                workspace,
                organization,
            })
        })
        .transpose()
    }

    pub async fn create_credential(&self, new: NewCredential<'_>) -> Result<Credential> {
        let cred = Credential {
            id: ApiKeyId::new(),
            workspace_id: new.workspace_id,
            kind: new.kind,
            name: new.name.to_owned(),
            platform: new.platform.map(str::to_owned),
            token_prefix: new.token_prefix.to_owned(),
            scopes: new.scopes.clone(),
            created_at: new.now,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO credentials (id, workspace_id, kind, name, platform, token_prefix, token_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(cred.id.to_string())
        .bind(cred.workspace_id.to_string())
        .bind(cred.kind.as_str())
        .bind(&cred.name)
        .bind(cred.platform.as_deref())
        .bind(&cred.token_prefix)
        .bind(new.token_hash)
        .bind(cred.scopes.to_storage())
        .bind(ms(new.now))
        .execute(&self.writer)
        .await
        .map_err(conflict_on_unique("credential"))?;
        Ok(cred)
    }

    /// The live (not revoked) credential with this token hash, with its tenant.
    pub async fn authenticate(&self, token_hash: &str) -> Result<Option<(Credential, Tenant)>> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let cred = Credential::from_row(&row)?;
        Ok(self.tenant(cred.workspace_id).await?.map(|t| (cred, t)))
    }

    pub async fn list_credentials(
        &self,
        ws: WorkspaceId,
        kind: CredentialKind,
    ) -> Result<Vec<Credential>> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE workspace_id = $1 AND kind = $2 ORDER BY id DESC"
        ))
        .bind(ws.to_string())
        .bind(kind.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Credential::from_row).collect()
    }

    /// Revokes a credential of this workspace; false when there is no such live credential.
    pub async fn revoke_credential(
        &self,
        ws: WorkspaceId,
        kind: CredentialKind,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = $1 WHERE workspace_id = $2 AND kind = $3 AND id = $4 AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(ws.to_string())
        .bind(kind.as_str())
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
