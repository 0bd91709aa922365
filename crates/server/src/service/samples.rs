//! Synthetic events in exactly the delivered shape: for samples, template previews and save-time checks.

use linkwire_contract::payload::{Click, EventData, LinkCreated, LinkRef, SafeDestination};
use linkwire_contract::{
    format_timestamp, DestinationUrl, DeviceCategory, DomainId, EventRecord, EventType, LinkId,
    LinkSource, TouchType, UtmParams,
};

use crate::auth::Auth;
use crate::state::AppState;

/// A made-up event of `event_type` for this workspace, in the delivered shape (never stored).
pub fn synthetic(state: &AppState, auth: &Auth, event_type: EventType) -> EventRecord {
    let now = state.clock.now();
    let link = LinkRef {
        link_id: LinkId::new(),
        domain_id: state.default_domain.id,
        domain_name: state.default_domain.domain_name.clone(),
        short_code: "sample".into(),
        short_url: format!("{}/sample", state.settings.public_base()),
    };
    let destination = DestinationUrl::parse("https://example.com/landing").expect("valid");
    let click = |touch_type| {
        EventData::Click(Click {
            link: link.clone(),
            touch_type,
            clicked_at: format_timestamp(now),
            country: Some("US".into()),
            device_category: Some(DeviceCategory::Mobile),
            browser_family: Some("Mobile Safari".into()),
            os_family: Some("iOS".into()),
            referrer_host: Some("www.linkedin.com".into()),
            social_source: Some("linkedin".into()),
            utm: UtmParams {
                utm_source: Some("newsletter".into()),
                utm_campaign: Some("launch".into()),
                ..Default::default()
            },
        })
    };
    let data = match event_type {
        EventType::LinkQrScanned => click(TouchType::QrScan),
        EventType::LinkClicked => click(TouchType::ShortLinkClick),
        EventType::LinkUpdated => {
            EventData::LinkUpdated(linkwire_contract::payload::LinkUpdated::deleted(
                link,
                linkwire_contract::LinkStatus::Active,
            ))
        }
        EventType::LinkTakedownUpdated => {
            EventData::LinkTakedownUpdated(linkwire_contract::payload::LinkTakedownUpdated::new(
                link,
                linkwire_contract::payload::TakedownAction::Disabled,
                Some("phishing".into()),
            ))
        }
        EventType::DomainVerificationUpdated => EventData::DomainVerificationUpdated(
            linkwire_contract::payload::DomainVerificationUpdated {
                domain_id: DomainId::new(),
                domain_name: "go.example.com".into(),
                before: linkwire_contract::DomainState::PENDING,
                after: linkwire_contract::DomainState::PENDING.after_check(true),
            },
        ),
        EventType::LinkCreated | EventType::WebhookTest => EventData::LinkCreated(LinkCreated {
            link,
            destination: SafeDestination::from(&destination),
            redirect_status_code: 302,
            expires_at: None,
            password_protected: false,
            tags: vec!["sample".into()],
            source: LinkSource::Api,
        }),
    };
    EventRecord::new(auth.tenant.organization.id, auth.workspace_id(), now, &data)
}
