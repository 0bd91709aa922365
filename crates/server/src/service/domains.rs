//! Custom domains: registration with a verification token, and verification by DNS TXT record.
//! Every change of verification or readiness state emits `domain.verification_updated`.

use linkwire_contract::domain::DomainState;
use linkwire_contract::payload::{DomainVerificationUpdated, EventData};
use linkwire_contract::{DomainId, EventRecord};
use linkwire_store::{Domain, StoreError};
use rand::RngCore;

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub const TXT_PREFIX: &str = "_linkwire-verify.";
pub const TXT_VALUE_PREFIX: &str = "linkwire-verify=";

/// The record to publish: `(name, value)`.
pub fn verification_record(domain: &Domain) -> (String, String) {
    (
        format!("{TXT_PREFIX}{}", domain.domain_name),
        format!(
            "{TXT_VALUE_PREFIX}{}",
            domain.verification_token.as_deref().unwrap_or_default()
        ),
    )
}

/// Lowercases and checks a host name: letters, digits, hyphens, at least two labels, no port.
pub fn parse_domain_name(raw: &str) -> AppResult<String> {
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = || AppError::validation("domain_name", "must be a host name such as go.example.com");
    if name.len() > 253 || !name.contains('.') {
        return Err(bad());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(bad());
        }
    }
    Ok(name)
}

pub async fn create(state: &AppState, auth: &Auth, raw_name: &str) -> AppResult<Domain> {
    let name = parse_domain_name(raw_name)?;
    if name == state.default_domain.domain_name {
        return Err(AppError::Conflict(
            "this is the built-in default domain".into(),
        ));
    }
    let mut token = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut token);
    let now = state.clock.now();
    let domain = Domain {
        id: DomainId::new(),
        workspace_id: Some(auth.workspace_id()),
        domain_name: name,
        is_default: false,
        state: DomainState::PENDING,
        verification_token: Some(hex::encode(token)),
        created_at: now,
        updated_at: now,
    };
    match state.store.create_domain(&domain).await {
        Ok(()) => Ok(domain),
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!(
            "domain {} is already registered",
            domain.domain_name
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(state: &AppState, auth: &Auth, id: DomainId) -> AppResult<Domain> {
    state
        .store
        .get_domain(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("domain"))
}

/// Looks up the TXT record and moves the domain to verified (ready for traffic) or failed.
pub async fn verify(state: &AppState, auth: &Auth, id: DomainId) -> AppResult<Domain> {
    let mut domain = get(state, auth, id).await?;
    if domain.is_default {
        return Ok(domain);
    }
    let (record, expected) = verification_record(&domain);
    let found = match state.resolver.txt(&record).await {
        Ok(values) => values.iter().any(|v| v.trim() == expected),
        Err(e) => {
            tracing::info!(domain = %domain.domain_name, error = %e, "verification lookup failed");
            false
        }
    };
    let before = domain.state;
    let after = before.after_check(found);
    if after == before {
        return Ok(domain);
    }
    let now = state.clock.now();
    let data = EventData::DomainVerificationUpdated(DomainVerificationUpdated {
        domain_id: domain.id,
        domain_name: domain.domain_name.clone(),
        before,
        after,
    });
    let event = EventRecord::new(auth.tenant.organization.id, auth.workspace_id(), now, &data);
    state
        .store
        .update_domain_state(auth.workspace_id(), domain.id, after, now, Some(&event))
        .await?;
    state.cache.invalidate_domain(&domain.domain_name);
    state.engine.wake();
    domain.state = after;
    domain.updated_at = now;
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_normalized_and_checked() {
        assert_eq!(
            parse_domain_name(" Go.Example.COM. ").unwrap(),
            "go.example.com"
        );
        for bad in [
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "exa mple.com",
            "host.com:8080",
            "ünï.com",
        ] {
            assert!(parse_domain_name(bad).is_err(), "{bad}");
        }
    }
}
