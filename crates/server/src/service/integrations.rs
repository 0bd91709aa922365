//! No-code integrations: installation tokens for Zapier, Make and n8n, and the REST-hook subscriptions they
//! manage. A subscription is an endpoint of kind `rest_hook` in the same delivery engine.

use linkwire_contract::{ApiKeyId, EndpointId, Feature, Scope, ScopeSet};
use linkwire_store::{Credential, CredentialKind, Endpoint, EndpointFilter, EndpointKind};

use crate::auth::{self, Auth, IssuedToken};
use crate::error::{AppError, AppResult};
use crate::service::webhooks::{self, NewEndpointInput};
use crate::state::AppState;

pub const PLATFORMS: &[&str] = &["zapier", "make", "n8n"];

pub async fn create_installation(
    state: &AppState,
    auth: &Auth,
    platform: &str,
    name: Option<&str>,
) -> AppResult<IssuedToken> {
    auth.require(Scope::Admin)?;
    AppError::require_plan(auth.plan(), Feature::NoCodeInstallations)?;
    if !PLATFORMS.contains(&platform) {
        return Err(AppError::validation("platform", "one of zapier, make, n8n"));
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(platform);
    if name.chars().count() > 100 {
        return Err(AppError::validation("name", "at most 100 characters"));
    }
    let scopes = ScopeSet::new(Scope::INSTALLATION.iter().copied());
    auth::issue(
        &state.store,
        auth.workspace_id(),
        CredentialKind::Installation,
        name,
        Some(platform),
        &scopes,
        state.clock.now(),
    )
    .await
}

pub async fn list_installations(state: &AppState, auth: &Auth) -> AppResult<Vec<Credential>> {
    auth.require(Scope::Admin)?;
    Ok(state
        .store
        .list_credentials(auth.workspace_id(), CredentialKind::Installation)
        .await?)
}

/// Revokes the token and disables every subscription it made.
pub async fn revoke_installation(state: &AppState, auth: &Auth, id: ApiKeyId) -> AppResult<()> {
    auth.require(Scope::Admin)?;
    let now = state.clock.now();
    if !state
        .store
        .revoke_credential(auth.workspace_id(), CredentialKind::Installation, id, now)
        .await?
    {
        return Err(AppError::NotFound("installation"));
    }
    let ws = auth.workspace_id();
    let filter = EndpointFilter {
        installation_id: Some(id.to_string()),
        ..Default::default()
    };
    for ep in state.store.list_endpoints(ws, &filter).await? {
        state.engine.invalidate_endpoint(ep.id);
    }
    state
        .store
        .disable_installation_endpoints(ws, &id.to_string(), now)
        .await?;
    Ok(())
}

fn hook_filter(auth: &Auth, target_url: Option<String>) -> EndpointFilter {
    EndpointFilter {
        kind: Some(EndpointKind::RestHook),
        installation_id: auth
            .is_installation()
            .then(|| auth.credential.id.to_string()),
        url: target_url,
    }
}

/// Subscribes `target_url` (idempotent: the same URL updates and returns the existing hook). Returns the
/// hook, its secret, and whether it was created.
pub async fn subscribe(
    state: &AppState,
    auth: &Auth,
    target_url: &str,
    event_types: Vec<String>,
    secret: Option<String>,
) -> AppResult<(Endpoint, String, bool)> {
    auth.require(Scope::WebhooksWrite)?;
    AppError::require_plan(auth.plan(), Feature::NoCodeInstallations)?;
    let existing = state
        .store
        .list_endpoints(
            auth.workspace_id(),
            &hook_filter(auth, Some(target_url.trim().to_owned())),
        )
        .await?;
    if let Some(ep) = existing.into_iter().next() {
        let patch = webhooks::EndpointPatch {
            subscriptions: Some(event_types),
            enabled: Some(true),
            ..Default::default()
        };
        let ep = webhooks::update(state, auth, ep.id, patch).await?;
        let secret = state
            .engine
            .secrets()
            .open(&ep.secret_ciphertext)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        return Ok((ep, secret, false));
    }
    let (ep, secret) = webhooks::create(
        state,
        auth,
        NewEndpointInput {
            url: target_url.to_owned(),
            name: Some(format!(
                "{} hook",
                auth.credential.platform.as_deref().unwrap_or("REST")
            )),
            subscriptions: event_types,
            enabled: true,
            kind: EndpointKind::RestHook,
            secret,
            installation_id: auth
                .is_installation()
                .then(|| auth.credential.id.to_string()),
            max_concurrency: None,
            rate_limit_per_sec: None,
            options: None,
        },
    )
    .await?;
    Ok((ep, secret, true))
}

pub async fn list_hooks(
    state: &AppState,
    auth: &Auth,
    target_url: Option<String>,
) -> AppResult<Vec<Endpoint>> {
    auth.require(Scope::WebhooksRead)?;
    Ok(state
        .store
        .list_endpoints(auth.workspace_id(), &hook_filter(auth, target_url))
        .await?)
}

pub async fn get_hook(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<Endpoint> {
    auth.require(Scope::WebhooksRead)?;
    let ep = webhooks::get(state, auth, id).await?;
    if ep.kind != EndpointKind::RestHook {
        return Err(AppError::NotFound("hook"));
    }
    Ok(ep)
}

/// Unsubscribes; deleting a hook that is already gone succeeds too (REST-hook clients retry deletes).
pub async fn unsubscribe(state: &AppState, auth: &Auth, id: EndpointId) -> AppResult<()> {
    auth.require(Scope::WebhooksWrite)?;
    match get_hook(state, auth, id).await {
        Ok(_) => webhooks::delete(state, auth, id).await,
        Err(AppError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
