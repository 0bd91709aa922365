//! Dashboard members: creation (CLI and dashboard), sign-in and sessions. A session cookie is 32 random
//! bytes; only its SHA-256 is stored, next to a per-session CSRF token that every form must echo.

use linkwire_contract::{ApiKeyId, Role, Timestamp, UserId, WorkspaceId};
use linkwire_store::{
    Credential, CredentialKind, Member, MemberRemoval, Session, Store, StoreError,
};
use rand::RngCore;

use crate::auth::{hash_token, Auth};
use crate::error::{AppError, AppResult};
use crate::password;

pub const MIN_PASSWORD_LEN: usize = 10;
const MAX_PASSWORD_LEN: usize = 256;
/// A session lasts this long from sign-in.
pub const SESSION_TTL_HOURS: i64 = 12;

pub struct NewMember<'a> {
    pub workspace_id: WorkspaceId,
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub role: Role,
    pub password: &'a str,
}

pub fn normalize_email(raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(AppError::validation("email", "enter an email address"))
    }
}

fn check_password(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
        Ok(())
    } else {
        Err(AppError::validation(
            "password",
            format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ))
    }
}

pub async fn create(store: &Store, new: NewMember<'_>, now: Timestamp) -> AppResult<Member> {
    let email = normalize_email(new.email)?;
    check_password(new.password)?;
    let name = new
        .name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("member"))
        .to_owned();
    if name.chars().count() > 100 {
        return Err(AppError::validation("name", "at most 100 characters"));
    }
    let member = Member {
        id: UserId::new(),
        workspace_id: new.workspace_id,
        email,
        name,
        role: new.role,
        password_hash: password::hash(new.password)?,
        created_at: now,
        disabled_at: None,
    };
    match store.create_member(&member).await {
        Ok(()) => Ok(member),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!(
            "a member with email {} already exists",
            member.email
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Removes a member of the actor's workspace, signing them out everywhere. Only an owner removes an
/// owner, and nobody removes themselves, so a workspace never loses its last owner this way (the rule is
/// checked inside the removing transaction, so two owners removing each other at once cannot both pass).
pub async fn remove(store: &Store, actor: &Member, target: UserId) -> AppResult<Member> {
    let removal = store
        .remove_member_checked(actor.workspace_id, actor.id, target, |actor, target| {
            if target.id == actor.id {
                Err(AppError::validation(
                    "member",
                    "you cannot remove yourself; another owner or admin can",
                ))
            } else if target.role == Role::Owner && actor.role != Role::Owner {
                Err(AppError::Forbidden(
                    "only an owner can remove an owner".into(),
                ))
            } else {
                Ok(())
            }
        })
        .await?;
    match removal {
        MemberRemoval::Removed(member) => Ok(member),
        MemberRemoval::Missing => Err(AppError::NotFound("member")),
        MemberRemoval::Refused(why) => Err(why),
    }
}

/// Sets a new password for the member with `email` (the operator's reset, from the CLI) and signs them
/// out everywhere.
pub async fn set_password(store: &Store, email: &str, password: &str) -> AppResult<Member> {
    let email = normalize_email(email)?;
    check_password(password)?;
    let member = store
        .member_by_email(&email)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    let hash = password::hash(password)?;
    if !store.set_member_password(member.id, &hash).await? {
        return Err(AppError::NotFound("member"));
    }
    Ok(member)
}

/// Checks an email and password; `None` for any mismatch (the caller cannot tell which part was wrong).
pub async fn authenticate(store: &Store, email: &str, pw: &str) -> AppResult<Option<Member>> {
    let member = match normalize_email(email) {
        Ok(e) => store.member_by_email(&e).await?,
        Err(_) => None,
    };
    let password = pw.to_owned();
    // Argon2 is deliberately slow: keep it off the async workers.
    let verified = tokio::task::spawn_blocking(move || match member {
        Some(m) if m.disabled_at.is_none() && password::matches(&m.password_hash, &password) => {
            Some(m)
        }
        Some(_) => None,
        None => {
            password::burn_verification(&password);
            None
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    Ok(verified)
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Starts a session; returns the cookie value (shown to the browser only).
pub async fn start_session(store: &Store, member: &Member, now: Timestamp) -> AppResult<String> {
    // Sign-ins are rare: a good moment to forget sessions that have expired.
    store.prune_sessions(now).await?;
    let token = random_token();
    store
        .create_session(
            &hash_token(&token),
            member.id,
            &random_token(),
            now,
            now + chrono::Duration::hours(SESSION_TTL_HOURS),
        )
        .await?;
    Ok(token)
}

pub async fn session(store: &Store, cookie: &str, now: Timestamp) -> AppResult<Option<Session>> {
    if cookie.len() != 64 || !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(store.session(&hash_token(cookie), now).await?)
}

pub async fn end_session(store: &Store, cookie: &str) -> AppResult<()> {
    Ok(store.delete_session(&hash_token(cookie)).await?)
}

/// The member as an authenticated caller of the same services the API uses, with their role's scopes.
pub async fn as_auth(store: &Store, member: &Member) -> AppResult<Auth> {
    let tenant = store
        .tenant(member.workspace_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Auth {
        credential: Credential {
            // Not a stored credential: a stable id derived from the member, never persisted.
            id: ApiKeyId(member.id.as_uuid()),
            workspace_id: member.workspace_id,
            kind: CredentialKind::ApiKey,
            name: format!("dashboard: {}", member.email),
            platform: None,
            token_prefix: String::new(),
            scopes: member.role.scopes(),
            created_at: member.created_at,
            revoked_at: None,
        },
        tenant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ops@Example.COM ").unwrap(),
            "ops@example.com"
        );
        for bad in [
            "",
            "nobody",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
