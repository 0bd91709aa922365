//! Dashboard members and their sign-in sessions. Passwords arrive hashed (argon2, by the caller); session
//! rows are keyed by the SHA-256 of the cookie value, so a database leak yields no usable session.

use linkwire_contract::{Role, Timestamp, UserId, WorkspaceId};
use sqlx::any::AnyRow;

use crate::rows::{get, ms, parsed, time, time_opt};
use crate::{conflict_on_unique, FromAnyRow, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    /// Stored lower-cased: sign-in is case-insensitive.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
}

/// What [`Store::remove_member_checked`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRemoval<E> {
    Removed(Member),
    /// The actor or the target is not a member of the workspace (any more).
    Missing,
    /// The check refused, with its reason.
    Refused(E),
}

/// A live session with the member it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub member: Member,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

impl FromAnyRow for Member {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: parsed(row, "id")?,
            workspace_id: parsed(row, "workspace_id")?,
            email: get(row, "email")?,
            name: get(row, "name")?,
            role: parsed(row, "role")?,
            password_hash: get(row, "password_hash")?,
            created_at: time(row, "created_at")?,
            disabled_at: time_opt(row, "disabled_at")?,
        })
    }
}

const MEMBER_COLUMNS: &str =
    "m.id, m.workspace_id, m.email, m.name, m.role, m.password_hash, m.created_at, m.disabled_at";

impl Store {
    /// Adds a member; `Conflict` when the email is already taken.
    pub async fn create_member(&self, member: &Member) -> Result<()> {
        sqlx::query(
            "INSERT INTO members (id, workspace_id, email, name, role, password_hash, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(member.id.to_string())
        .bind(member.workspace_id.to_string())
        .bind(&member.email)
        .bind(&member.name)
        .bind(member.role.as_str())
        .bind(&member.password_hash)
        .bind(ms(member.created_at))
        .execute(&self.writer)
        .await
        .map_err(conflict_on_unique("member email"))?;
        Ok(())
    }

    pub async fn member_by_email(&self, email: &str) -> Result<Option<Member>> {
        sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(Member::from_row)
        .transpose()
    }

    pub async fn list_members(&self, ws: WorkspaceId) -> Result<Vec<Member>> {
        sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.workspace_id = $1 ORDER BY m.email"
        ))
        .bind(ws.to_string())
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Member::from_row)
        .collect()
    }

    /// Deletes a member of `ws` and every session they hold; false when there was no such member. The
    /// email is free to be added again afterwards.
    pub async fn remove_member(&self, ws: WorkspaceId, id: UserId) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "DELETE FROM sessions WHERE member_id IN (SELECT id FROM members WHERE workspace_id = $1 AND id = $2)",
        )
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed == 1)
    }

    /// Removes `target` from `ws` on behalf of `actor` if `allowed(actor, target)` accepts both rows as
    /// they are inside the removing transaction (locked on PostgreSQL; on SQLite the transaction holds the
    /// one writer). Two removals racing each other therefore cannot both pass a check that the other's
    /// outcome would fail, such as two owners removing each other.
    pub async fn remove_member_checked<E>(
        &self,
        ws: WorkspaceId,
        actor: UserId,
        target: UserId,
        allowed: impl FnOnce(&Member, &Member) -> std::result::Result<(), E>,
    ) -> Result<MemberRemoval<E>> {
        let mut tx = self.begin().await?;
        let lock = self.backend.row_lock();
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.workspace_id = $1 AND m.id IN ($2, $3) ORDER BY m.id{lock}"
        ))
        .bind(ws.to_string())
        .bind(actor.to_string())
        .bind(target.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let members = rows
            .iter()
            .map(Member::from_row)
            .collect::<Result<Vec<_>>>()?;
        let find = |id: UserId| members.iter().find(|m| m.id == id);
        let (Some(actor), Some(target)) = (find(actor), find(target)) else {
            return Ok(MemberRemoval::Missing);
        };
        if let Err(why) = allowed(actor, target) {
            return Ok(MemberRemoval::Refused(why));
        }
        sqlx::query("DELETE FROM sessions WHERE member_id = $1")
            .bind(target.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND id = $2")
            .bind(ws.to_string())
            .bind(target.id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(MemberRemoval::Removed(target.clone()))
    }

    /// Replaces a member's password hash and ends every session they hold (a reset signs them out
    /// everywhere); false when there is no such member.
    pub async fn set_member_password(&self, id: UserId, password_hash: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE member_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    pub async fn count_members(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM members")
            .fetch_one(&self.reader)
            .await?;
        get(&row, "n")
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        member: UserId,
        csrf_token: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, member_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(member.to_string())
        .bind(csrf_token)
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The session for a cookie hash, if it has not expired and its member is still active.
    pub async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS}, s.csrf_token, s.expires_at FROM sessions s JOIN members m ON m.id = s.member_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND m.disabled_at IS NULL"
        ))
        .bind(id_hash)
        .bind(ms(now))
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Session {
                member: Member::from_row(&r)?,
                csrf_token: get(&r, "csrf_token")?,
                expires_at: time(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn prune_sessions(&self, now: Timestamp) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
