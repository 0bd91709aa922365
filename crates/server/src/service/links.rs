//! Link lifecycle: create, update, delete, takedown and restore. Each writes the link and exactly the
//! event contract §2 names in one transaction, then invalidates the redirect cache.

use linkwire_contract::link::LinkSource;
use linkwire_contract::payload::{
    EventData, FieldChange, LinkCreated, LinkRef, LinkTakedownUpdated, LinkUpdated,
    SafeDestination, TakedownAction,
};
use linkwire_contract::slug::SlugError;
use linkwire_contract::{
    format_timestamp, DestinationUrl, DomainId, EventRecord, Feature, LinkId, LinkStatus,
    RedirectStatus, ShortCode, Timestamp, UtmParams,
};
use linkwire_store::{Domain, Link, StoreError};
use rand::Rng;

use linkwire_contract::Scope;

use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::service::Patch;
use crate::state::AppState;

const GENERATED_CODE_LEN: usize = 7;
const MAX_TAGS: usize = 20;
const MAX_TAG_LEN: usize = 64;
const MAX_UTM_LEN: usize = 200;
const MAX_PASSWORD_LEN: usize = 256;

#[derive(Debug, Default)]
pub struct NewLinkInput {
    pub long_url: String,
    pub domain_id: Option<DomainId>,
    pub slug: Option<String>,
    pub redirect_status_code: Option<u16>,
    pub expires_at: Option<Timestamp>,
    pub password: Option<String>,
    pub tags: Vec<String>,
    pub utm: UtmParams,
}

#[derive(Debug, Default)]
pub struct LinkPatch {
    pub long_url: Option<String>,
    pub slug: Option<String>,
    pub expires_at: Patch<Timestamp>,
    pub password: Patch<String>,
    pub tags: Option<Vec<String>>,
    pub utm: Option<UtmParams>,
    pub redirect_status_code: Option<u16>,
}

pub fn link_ref(state: &AppState, link: &Link) -> LinkRef {
    LinkRef {
        link_id: link.id,
        domain_id: link.domain_id,
        domain_name: link.domain_name.clone(),
        short_code: link.short_code.clone(),
        short_url: state.short_url(link),
    }
}

fn parse_destination(raw: &str) -> AppResult<DestinationUrl> {
    DestinationUrl::parse(raw).map_err(|e| AppError::validation("long_url", e.to_string()))
}

pub fn parse_slug(raw: &str) -> AppResult<ShortCode> {
    ShortCode::parse(raw).map_err(|e| match e {
        SlugError::Reserved(s) => AppError::SlugReserved(s),
        other => AppError::validation("slug", other.to_string()),
    })
}

fn parse_redirect(code: Option<u16>) -> AppResult<RedirectStatus> {
    match code {
        None => Ok(RedirectStatus::default()),
        Some(c) => RedirectStatus::from_code(c)
            .ok_or_else(|| AppError::validation("redirect_status_code", "must be 301 or 302")),
    }
}

fn check_expiry(at: Timestamp, now: Timestamp) -> AppResult<Timestamp> {
    if at <= now {
        return Err(AppError::validation("expires_at", "must be in the future"));
    }
    Ok(at)
}

fn clean_tags(tags: Vec<String>) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_owned();
        if t.is_empty() || t.chars().count() > MAX_TAG_LEN {
            return Err(AppError::validation(
                "tags",
                format!("each tag must be 1 to {MAX_TAG_LEN} characters"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(AppError::validation(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

fn clean_utm(utm: UtmParams) -> AppResult<UtmParams> {
    let utm = utm.normalized();
    if utm.pairs().any(|(_, v)| v.chars().count() > MAX_UTM_LEN) {
        return Err(AppError::validation(
            "utm",
            format!("UTM values must be at most {MAX_UTM_LEN} characters"),
        ));
    }
    Ok(utm)
}

fn hash_password(password: &str) -> AppResult<String> {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::validation(
            "password",
            format!("must be 1 to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    crate::password::hash(password)
}

pub fn password_matches(hash: &str, password: &str) -> bool {
    crate::password::matches(hash, password)
}

fn generated_code() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    (0..GENERATED_CODE_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The domain a new link goes on: the one named (if the workspace may use it and it takes traffic), or
/// the default domain.
async fn target_domain(
    state: &AppState,
    auth: &Auth,
    domain_id: Option<DomainId>,
) -> AppResult<Domain> {
    let Some(id) = domain_id else {
        return Ok(state.default_domain.clone());
    };
    let domain = state
        .store
        .get_domain(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("domain"))?;
    if !(domain.is_default || domain.state.ready_for_traffic) {
        return Err(AppError::validation(
            "domain_id",
            "this domain is not verified and ready for traffic yet",
        ));
    }
    Ok(domain)
}

pub async fn create(
    state: &AppState,
    auth: &Auth,
    input: NewLinkInput,
    source: LinkSource,
) -> AppResult<Link> {
    let now = state.clock.now();
    let destination = parse_destination(&input.long_url)?;
    let domain = target_domain(state, auth, input.domain_id).await?;
    let custom = input.slug.as_deref().map(parse_slug).transpose()?;
    let password_hash = match input.password.as_deref() {
        Some(p) => {
            AppError::require_plan(auth.plan(), Feature::PasswordProtectedLinks)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    let mut link = Link {
        id: LinkId::new(),
        workspace_id: auth.workspace_id(),
        organization_id: auth.tenant.organization.id,
        domain_id: domain.id,
        domain_name: domain.domain_name.clone(),
        domain_is_default: domain.is_default,
        short_code: String::new(),
        destination,
        redirect_status: parse_redirect(input.redirect_status_code)?,
        expires_at: input.expires_at.map(|t| check_expiry(t, now)).transpose()?,
        password_hash,
        tags: clean_tags(input.tags)?,
        utm: clean_utm(input.utm)?,
        status: LinkStatus::Active,
        takedown_reason: None,
        source,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    // Custom slugs get one try; generated ones a few, in the unlikely case of a collision.
    let tries = if custom.is_some() { 1 } else { 5 };
    for _ in 0..tries {
        link.short_code = custom
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_else(generated_code);
        let data = EventData::LinkCreated(LinkCreated {
            link: link_ref(state, &link),
            destination: SafeDestination::from(&link.destination),
            redirect_status_code: link.redirect_status.code(),
            expires_at: link.expires_at.map(format_timestamp),
            password_protected: link.password_hash.is_some(),
            tags: link.tags.clone(),
            source,
        });
        let event = EventRecord::new(link.organization_id, link.workspace_id, now, &data);
        match state.store.insert_link(&link, &event).await {
            Ok(()) => {
                state
                    .cache
                    .invalidate_link(link.domain_id, &link.short_code);
                state.engine.wake();
                return Ok(link);
            }
            Err(StoreError::Conflict(_)) if custom.is_none() => continue,
            Err(StoreError::Conflict(_)) => return Err(AppError::SlugTaken(link.short_code)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(
        "could not find a free short code; try again".into(),
    ))
}

pub async fn get(state: &AppState, auth: &Auth, id: LinkId) -> AppResult<Link> {
    state
        .store
        .get_link(auth.workspace_id(), id)
        .await?
        .ok_or(AppError::NotFound("link"))
}

/// Applies `patch`; emits one `link.updated` naming every changed field, or nothing when nothing changed.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    id: LinkId,
    patch: LinkPatch,
) -> AppResult<Link> {
    // Parse and hash once, outside the retry loop.
    let destination = patch
        .long_url
        .as_deref()
        .map(parse_destination)
        .transpose()?;
    let slug = patch.slug.as_deref().map(parse_slug).transpose()?;
    let redirect = patch
        .redirect_status_code
        .map(|c| parse_redirect(Some(c)))
        .transpose()?;
    let tags = patch.tags.map(clean_tags).transpose()?;
    let utm = patch.utm.map(clean_utm).transpose()?;
    let password = match &patch.password {
        Patch::Value(p) => {
            AppError::require_plan(auth.plan(), Feature::PasswordProtectedLinks)?;
            Patch::Value(hash_password(p)?)
        }
        Patch::Null => Patch::Null,
        Patch::Absent => Patch::Absent,
    };
    let now = state.clock.now();
    let expires_at = match patch.expires_at {
        Patch::Value(t) => Patch::Value(check_expiry(t, now)?),
        other => other,
    };

    // Optimistic concurrency: re-read and re-apply if someone else changed the link meanwhile.
    for _ in 0..5 {
        let before = get(state, auth, id).await?;
        let mut after = before.clone();
        let mut changes = Vec::new();
        if let Some(d) = &destination {
            if d != &before.destination {
                changes.push(FieldChange::Destination {
                    before: SafeDestination::from(&before.destination),
                    after: SafeDestination::from(d),
                });
                after.destination = d.clone();
            }
        }
        if let Some(s) = &slug {
            if s.as_str() != before.short_code {
                after.short_code = s.as_str().to_owned();
                changes.push(FieldChange::Slug {
                    before: (before.short_code.clone(), state.short_url(&before)),
                    after: (after.short_code.clone(), state.short_url(&after)),
                });
            }
        }
        let new_expiry = match expires_at {
            Patch::Absent => before.expires_at,
            Patch::Null => None,
            Patch::Value(t) => Some(t),
        };
        if new_expiry != before.expires_at {
            changes.push(FieldChange::ExpiresAt {
                before: before.expires_at,
                after: new_expiry,
            });
            after.expires_at = new_expiry;
        }
        match &password {
            Patch::Absent => {}
            // Setting a password always counts as a change, even when one was set: it is a new password.
            Patch::Value(hash) => {
                changes.push(FieldChange::Password {
                    before: before.password_hash.is_some(),
                    after: true,
                });
                after.password_hash = Some(hash.clone());
            }
            Patch::Null if before.password_hash.is_some() => {
                changes.push(FieldChange::Password {
                    before: true,
                    after: false,
                });
                after.password_hash = None;
            }
            Patch::Null => {}
        }
        if let Some(t) = &tags {
            if t != &before.tags {
                changes.push(FieldChange::Tags {
                    before: before.tags.clone(),
                    after: t.clone(),
                });
                after.tags = t.clone();
            }
        }
        if let Some(u) = &utm {
            if u != &before.utm {
                changes.push(FieldChange::Utm {
                    before: before.utm.clone(),
                    after: u.clone(),
                });
                after.utm = u.clone();
            }
        }
        if let Some(r) = redirect {
            if r != before.redirect_status {
                changes.push(FieldChange::RedirectStatusCode {
                    before: before.redirect_status.code(),
                    after: r.code(),
                });
                after.redirect_status = r;
            }
        }
        let Some(data) = LinkUpdated::from_changes(link_ref(state, &after), &changes) else {
            return Ok(before);
        };
        after.updated_at = now;
        let event = EventRecord::new(
            after.organization_id,
            after.workspace_id,
            now,
            &EventData::LinkUpdated(data),
        );
        match state.store.update_link(&after, Some(&event)).await {
            Ok(()) => {
                state
                    .cache
                    .invalidate_link(before.domain_id, &before.short_code);
                state
                    .cache
                    .invalidate_link(after.domain_id, &after.short_code);
                after.version += 1;
                state.engine.wake();
                return Ok(after);
            }
            Err(StoreError::Stale) => continue,
            Err(StoreError::Conflict(_)) => return Err(AppError::SlugTaken(after.short_code)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(
        "the link is being changed concurrently; try again".into(),
    ))
}

/// Deletes a link (`link.updated`, `event_action: deleted`); its code becomes free again.
pub async fn delete(state: &AppState, auth: &Auth, id: LinkId) -> AppResult<()> {
    for _ in 0..5 {
        let before = get(state, auth, id).await?;
        // Deleting and re-creating would undo a takedown; only those who may restore may delete.
        if before.status == LinkStatus::Disabled && auth.require(Scope::Admin).is_err() {
            return Err(AppError::Forbidden(
                "this link was taken down; only an admin can delete it".into(),
            ));
        }
        let mut after = before.clone();
        after.status = LinkStatus::Deleted;
        after.updated_at = state.clock.now();
        let data = EventData::LinkUpdated(LinkUpdated::deleted(
            link_ref(state, &before),
            before.status,
        ));
        let event = EventRecord::new(
            before.organization_id,
            before.workspace_id,
            after.updated_at,
            &data,
        );
        match state.store.update_link(&after, Some(&event)).await {
            Ok(()) => {
                state
                    .cache
                    .invalidate_link(before.domain_id, &before.short_code);
                state.engine.wake();
                return Ok(());
            }
            Err(StoreError::Stale) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(
        "the link is being changed concurrently; try again".into(),
    ))
}

/// Takes a link down (`disabled`) or restores it; a no-op when it is already in that state.
pub async fn set_takedown(
    state: &AppState,
    auth: &Auth,
    id: LinkId,
    action: TakedownAction,
    reason_code: Option<String>,
) -> AppResult<Link> {
    if let Some(r) = &reason_code {
        if r.is_empty()
            || r.len() > 64
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(AppError::validation(
                "reason_code",
                "1 to 64 of [A-Za-z0-9_-]",
            ));
        }
    }
    let (from, to) = match action {
        TakedownAction::Disabled => (LinkStatus::Active, LinkStatus::Disabled),
        TakedownAction::Restored => (LinkStatus::Disabled, LinkStatus::Active),
    };
    for _ in 0..5 {
        let before = get(state, auth, id).await?;
        if before.status != from {
            return Ok(before);
        }
        let mut after = before.clone();
        after.status = to;
        after.takedown_reason = match action {
            TakedownAction::Disabled => reason_code.clone(),
            TakedownAction::Restored => None,
        };
        after.updated_at = state.clock.now();
        let data = EventData::LinkTakedownUpdated(LinkTakedownUpdated::new(
            link_ref(state, &after),
            action,
            reason_code.clone(),
        ));
        let event = EventRecord::new(
            after.organization_id,
            after.workspace_id,
            after.updated_at,
            &data,
        );
        match state.store.update_link(&after, Some(&event)).await {
            Ok(()) => {
                state
                    .cache
                    .invalidate_link(after.domain_id, &after.short_code);
                after.version += 1;
                state.engine.wake();
                return Ok(after);
            }
            Err(StoreError::Stale) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(
        "the link is being changed concurrently; try again".into(),
    ))
}

/// Why a slug cannot be used, for `check-slug`.
pub enum SlugAvailability {
    Available,
    Unavailable(&'static str),
}

pub async fn check_slug(
    state: &AppState,
    auth: &Auth,
    domain_id: Option<DomainId>,
    slug: &str,
) -> AppResult<SlugAvailability> {
    let domain = match domain_id {
        Some(id) => state
            .store
            .get_domain(auth.workspace_id(), id)
            .await?
            .ok_or(AppError::NotFound("domain"))?,
        None => state.default_domain.clone(),
    };
    Ok(match ShortCode::parse(slug) {
        Err(SlugError::Reserved(_)) => SlugAvailability::Unavailable("reserved"),
        Err(_) => SlugAvailability::Unavailable("invalid"),
        Ok(code) if state.store.code_taken(domain.id, code.as_str()).await? => {
            SlugAvailability::Unavailable("taken")
        }
        Ok(_) => SlugAvailability::Available,
    })
}

/// A link's QR code, encoding `short_url?nr=qr` so scans are told apart from clicks.
pub struct QrImage {
    pub bytes: Vec<u8>,
    pub format: crate::qr::QrFormat,
    /// `{short_code}-qr.svg` or `.png`.
    pub filename: String,
}

pub async fn qr_code(
    state: &AppState,
    auth: &Auth,
    id: LinkId,
    format: crate::qr::QrFormat,
    size: u32,
) -> AppResult<QrImage> {
    use crate::qr;
    if !(qr::MIN_SIZE..=qr::MAX_SIZE).contains(&size) {
        return Err(AppError::validation(
            "size",
            format!("must be {} to {}", qr::MIN_SIZE, qr::MAX_SIZE),
        ));
    }
    let link = get(state, auth, id).await?;
    let data = format!("{}?nr=qr", state.short_url(&link));
    let bytes = qr::render(&data, format, size).map_err(|e| AppError::Internal(e.to_string()))?;
    let ext = match format {
        qr::QrFormat::Svg => "svg",
        qr::QrFormat::Png => "png",
    };
    Ok(QrImage {
        bytes,
        format,
        filename: format!("{}-qr.{ext}", link.short_code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_valid_slugs() {
        for _ in 0..200 {
            let c = generated_code();
            assert_eq!(c.len(), GENERATED_CODE_LEN);
            assert!(ShortCode::parse(&c).is_ok(), "{c}");
        }
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            clean_tags(vec![" a ".into(), "a".into(), "b".into()]).unwrap(),
            ["a", "b"]
        );
        assert!(clean_tags(vec!["".into()]).is_err());
        assert!(clean_tags((0..21).map(|i| i.to_string()).collect()).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(!h.contains("s3cret"));
        assert!(password_matches(&h, "s3cret"));
        assert!(!password_matches(&h, "wrong"));
        assert!(!password_matches("not a hash", "s3cret"));
        assert!(hash_password("").is_err());
    }
}
