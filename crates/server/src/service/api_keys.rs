//! Workspace API keys: list, issue (token shown once), revoke. Admin scope only.

use linkwire_contract::{ApiKeyId, Scope, ScopeSet};
use linkwire_store::{Credential, CredentialKind};

use crate::auth::{self, Auth, IssuedToken};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub async fn list(state: &AppState, auth: &Auth) -> AppResult<Vec<Credential>> {
    auth.require(Scope::Admin)?;
    Ok(state
        .store
        .list_credentials(auth.workspace_id(), CredentialKind::ApiKey)
        .await?)
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    name: &str,
    scopes: &[String],
) -> AppResult<IssuedToken> {
    auth.require(Scope::Admin)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let scopes = ScopeSet::parse(&scopes.join(" "))
        .map_err(|e| AppError::validation("scopes", e.to_string()))?;
    if scopes.iter().next().is_none() || scopes.iter().any(|s| !Scope::API_KEY.contains(&s)) {
        return Err(AppError::validation(
            "scopes",
            "choose one or more API key scopes",
        ));
    }
    auth::issue(
        &state.store,
        auth.workspace_id(),
        CredentialKind::ApiKey,
        name,
        None,
        &scopes,
        state.clock.now(),
    )
    .await
}

pub async fn revoke(state: &AppState, auth: &Auth, id: ApiKeyId) -> AppResult<()> {
    auth.require(Scope::Admin)?;
    if id == auth.credential.id {
        return Err(AppError::Conflict("a key cannot revoke itself".into()));
    }
    let revoked = state
        .store
        .revoke_credential(
            auth.workspace_id(),
            CredentialKind::ApiKey,
            id,
            state.clock.now(),
        )
        .await?;
    if revoked {
        Ok(())
    } else {
        Err(AppError::NotFound("api key"))
    }
}
