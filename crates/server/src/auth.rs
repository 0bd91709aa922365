//! Credentials: issuing tokens (shown once, stored as SHA-256) and the extractor that turns a request's
//! `Authorization: Bearer` or `X-Nim-Api-Key` header into an authenticated [`Auth`].
//!
//! The extractor is the only way a handler gets a `WorkspaceId`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use linkwire_contract::{Plan, Scope, ScopeSet, Timestamp, WorkspaceId};
use linkwire_store::{Credential, CredentialKind, NewCredential, Store, Tenant};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

const API_KEY_PREFIX: &str = "lw_";
const INSTALLATION_PREFIX: &str = "lwi_";
/// How much of a token is kept in clear, so people can tell their keys apart.
const VISIBLE_PREFIX_LEN: usize = 12;

/// A freshly issued token: the only moment the secret exists outside the caller's hands.
pub struct IssuedToken {
    pub credential: Credential,
    pub token: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token(kind: CredentialKind) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let prefix = match kind {
        CredentialKind::ApiKey => API_KEY_PREFIX,
        CredentialKind::Installation => INSTALLATION_PREFIX,
    };
    format!("{prefix}{}", base62(&bytes))
}

fn base62(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // 32 random bytes -> 43 base62 digits; simple repeated division on a big-endian digit vector.
    let mut digits: Vec<u8> = bytes.to_vec();
    let mut out = Vec::new();
    while digits.iter().any(|&d| d != 0) {
        let mut rem = 0u32;
        for d in digits.iter_mut() {
            let acc = (rem << 8) | u32::from(*d);
            *d = (acc / 62) as u8;
            rem = acc % 62;
        }
        out.push(ALPHABET[rem as usize]);
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// Issues a credential of `kind` in `workspace` and returns the token once.
pub async fn issue(
    store: &Store,
    workspace_id: WorkspaceId,
    kind: CredentialKind,
    name: &str,
    platform: Option<&str>,
    scopes: &ScopeSet,
    now: Timestamp,
) -> AppResult<IssuedToken> {
    let token = new_token(kind);
    let credential = store
        .create_credential(NewCredential {
            workspace_id,
            kind,
            name,
            platform,
            token_prefix: &token[..VISIBLE_PREFIX_LEN],
            token_hash: &hash_token(&token),
            scopes,
            now,
        })
        .await?;
    Ok(IssuedToken { credential, token })
}

/// An authenticated request: the credential and the workspace it belongs to.
#[derive(Debug, Clone)]
pub struct Auth {
    pub credential: Credential,
    pub tenant: Tenant,
}

impl Auth {
    pub fn workspace_id(&self) -> WorkspaceId {
        self.tenant.workspace.id
    }

    pub fn plan(&self) -> Plan {
        self.tenant.organization.plan
    }

    pub fn require(&self, scope: Scope) -> AppResult<()> {
        if self.credential.scopes.allows(scope) {
            Ok(())
        } else {
            Err(AppError::MissingScope(scope))
        }
    }

    pub fn is_installation(&self) -> bool {
        self.credential.kind == CredentialKind::Installation
    }
}

fn presented_token(parts: &Parts) -> Option<&str> {
    let headers = &parts.headers;
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim());
    }
    headers
        .get("x-nim-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = presented_token(parts)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or(AppError::Unauthorized)?;
        let (credential, tenant) = state
            .store
            .authenticate(&hash_token(token))
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok(Auth { credential, tenant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_base62_and_hash_stably() {
        let t = new_token(CredentialKind::ApiKey);
        assert!(t.starts_with("lw_"));
        assert!(t.len() >= 40, "{t}");
        assert!(t[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(t, new_token(CredentialKind::ApiKey));
        assert!(new_token(CredentialKind::Installation).starts_with("lwi_"));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn base62_of_known_values() {
        assert_eq!(base62(&[0, 61]), "z");
        assert_eq!(base62(&[0, 62]), "10");
        assert_eq!(base62(&[1, 0]), "48");
    }
}
