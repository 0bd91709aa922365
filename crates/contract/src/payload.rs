//! The `data` object of each event type (contract §3). Absent values serialize as `null`; keys are always
//! present. No type here has a field for a raw IP, a user agent, a raw destination URL or a secret.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::{format_timestamp, Timestamp};
use crate::domain::DomainState;
use crate::event::EventType;
use crate::ids::{DomainId, EndpointId, LinkId};
use crate::link::{DestinationUrl, DeviceCategory, LinkSource, LinkStatus, TouchType, UtmParams};
use crate::string_enum;

/// `L`: the fields that identify a link in every link event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRef {
    pub link_id: LinkId,
    pub domain_id: DomainId,
    pub domain_name: String,
    pub short_code: String,
    pub short_url: String,
}

/// `D`: the only form in which a destination leaves linkwire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafeDestination {
    pub destination_host: String,
    pub destination_url_capped: String,
}

impl From<&DestinationUrl> for SafeDestination {
    fn from(d: &DestinationUrl) -> Self {
        Self {
            destination_host: d.host(),
            destination_url_capped: d.capped(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkCreated {
    #[serde(flatten)]
    pub link: LinkRef,
    #[serde(flatten)]
    pub destination: SafeDestination,
    pub redirect_status_code: u16,
    pub expires_at: Option<String>,
    pub password_protected: bool,
    pub tags: Vec<String>,
    pub source: LinkSource,
}

string_enum! {
    /// Canonical names of the link fields a `link.updated` event can report.
    pub enum ChangedField: "changed field" {
        Destination = "destination",
        Slug = "slug",
        ExpiresAt = "expires_at",
        Password = "password",
        Tags = "tags",
        Utm = "utm",
        RedirectStatusCode = "redirect_status_code",
        RoutingRules = "routing_rules",
        Status = "status",
    }
}

string_enum! {
    pub enum UpdateAction: "event_action" {
        DestinationUpdated = "destination_updated",
        SlugUpdated = "slug_updated",
        ExpirationUpdated = "expiration_updated",
        PasswordUpdated = "password_updated",
        TagsUpdated = "tags_updated",
        UtmUpdated = "utm_updated",
        RedirectTypeUpdated = "redirect_type_updated",
        RoutingRulesUpdated = "routing_rules_updated",
        Deleted = "deleted",
        MultipleUpdated = "multiple_updated",
    }
}

impl ChangedField {
    fn single_action(self) -> UpdateAction {
        match self {
            ChangedField::Destination => UpdateAction::DestinationUpdated,
            ChangedField::Slug => UpdateAction::SlugUpdated,
            ChangedField::ExpiresAt => UpdateAction::ExpirationUpdated,
            ChangedField::Password => UpdateAction::PasswordUpdated,
            ChangedField::Tags => UpdateAction::TagsUpdated,
            ChangedField::Utm => UpdateAction::UtmUpdated,
            ChangedField::RedirectStatusCode => UpdateAction::RedirectTypeUpdated,
            ChangedField::RoutingRules => UpdateAction::RoutingRulesUpdated,
            ChangedField::Status => UpdateAction::Deleted,
        }
    }
}

/// One changed field, with its before and after values in safe form.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldChange {
    Destination {
        before: SafeDestination,
        after: SafeDestination,
    },
    Slug {
        before: (String, String),
        after: (String, String),
    },
    ExpiresAt {
        before: Option<Timestamp>,
        after: Option<Timestamp>,
    },
    Password {
        before: bool,
        after: bool,
    },
    Tags {
        before: Vec<String>,
        after: Vec<String>,
    },
    Utm {
        before: UtmParams,
        after: UtmParams,
    },
    RedirectStatusCode {
        before: u16,
        after: u16,
    },
    Status {
        before: LinkStatus,
        after: LinkStatus,
    },
}

impl FieldChange {
    pub fn field(&self) -> ChangedField {
        match self {
            FieldChange::Destination { .. } => ChangedField::Destination,
            FieldChange::Slug { .. } => ChangedField::Slug,
            FieldChange::ExpiresAt { .. } => ChangedField::ExpiresAt,
            FieldChange::Password { .. } => ChangedField::Password,
            FieldChange::Tags { .. } => ChangedField::Tags,
            FieldChange::Utm { .. } => ChangedField::Utm,
            FieldChange::RedirectStatusCode { .. } => ChangedField::RedirectStatusCode,
            FieldChange::Status { .. } => ChangedField::Status,
        }
    }

    fn write(&self, before: &mut Map<String, Value>, after: &mut Map<String, Value>) {
        fn put<T: Serialize>(map: &mut Map<String, Value>, key: &str, v: T) {
            map.insert(
                key.to_owned(),
                serde_json::to_value(v).expect("plain values serialize"),
            );
        }
        let ts = |t: &Option<Timestamp>| t.map(format_timestamp);
        match self {
            FieldChange::Destination {
                before: b,
                after: a,
            } => {
                for (map, d) in [(&mut *before, b), (&mut *after, a)] {
                    put(map, "destination_host", &d.destination_host);
                    put(map, "destination_url_capped", &d.destination_url_capped);
                }
            }
            FieldChange::Slug {
                before: b,
                after: a,
            } => {
                for (map, (code, url)) in [(&mut *before, b), (&mut *after, a)] {
                    put(map, "short_code", code);
                    put(map, "short_url", url);
                }
            }
            FieldChange::ExpiresAt {
                before: b,
                after: a,
            } => {
                put(before, "expires_at", ts(b));
                put(after, "expires_at", ts(a));
            }
            FieldChange::Password {
                before: b,
                after: a,
            } => {
                put(before, "password_protected", b);
                put(after, "password_protected", a);
            }
            FieldChange::Tags {
                before: b,
                after: a,
            } => {
                put(before, "tags", b);
                put(after, "tags", a);
            }
            FieldChange::Utm {
                before: b,
                after: a,
            } => {
                put(before, "utm", b);
                put(after, "utm", a);
            }
            FieldChange::RedirectStatusCode {
                before: b,
                after: a,
            } => {
                put(before, "redirect_status_code", b);
                put(after, "redirect_status_code", a);
            }
            FieldChange::Status {
                before: b,
                after: a,
            } => {
                put(before, "status", b);
                put(after, "status", a);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkUpdated {
    #[serde(flatten)]
    pub link: LinkRef,
    pub event_action: UpdateAction,
    pub changed_fields: Vec<ChangedField>,
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl LinkUpdated {
    /// Builds the event from the changes one request made; `None` when nothing changed (no event then).
    pub fn from_changes(link: LinkRef, changes: &[FieldChange]) -> Option<Self> {
        let (first, rest) = changes.split_first()?;
        let event_action = if rest.is_empty() {
            first.field().single_action()
        } else {
            UpdateAction::MultipleUpdated
        };
        let (mut before, mut after) = (Map::new(), Map::new());
        for c in changes {
            c.write(&mut before, &mut after);
        }
        Some(Self {
            link,
            event_action,
            changed_fields: changes.iter().map(FieldChange::field).collect(),
            before,
            after,
        })
    }

    /// Deletion of a link that was `from` (active, or disabled by a takedown).
    pub fn deleted(link: LinkRef, from: LinkStatus) -> Self {
        Self::from_changes(
            link,
            &[FieldChange::Status {
                before: from,
                after: LinkStatus::Deleted,
            }],
        )
        .expect("one change")
    }
}

string_enum! {
    pub enum TakedownAction: "event_action" {
        Disabled = "disabled",
        Restored = "restored",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    pub status: LinkStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkTakedownUpdated {
    #[serde(flatten)]
    pub link: LinkRef,
    pub event_action: TakedownAction,
    pub before: StatusSnapshot,
    pub after: StatusSnapshot,
    pub reason_code: Option<String>,
}

impl LinkTakedownUpdated {
    pub fn new(link: LinkRef, action: TakedownAction, reason_code: Option<String>) -> Self {
        let (before, after) = match action {
            TakedownAction::Disabled => (LinkStatus::Active, LinkStatus::Disabled),
            TakedownAction::Restored => (LinkStatus::Disabled, LinkStatus::Active),
        };
        Self {
            link,
            event_action: action,
            before: StatusSnapshot { status: before },
            after: StatusSnapshot { status: after },
            reason_code,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainVerificationUpdated {
    pub domain_id: DomainId,
    pub domain_name: String,
    pub before: DomainState,
    pub after: DomainState,
}

/// `link.clicked` / `link.qr_scanned`: enriched, privacy-safe click facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Click {
    #[serde(flatten)]
    pub link: LinkRef,
    pub touch_type: TouchType,
    pub clicked_at: String,
    pub country: Option<String>,
    pub device_category: Option<DeviceCategory>,
    pub browser_family: Option<String>,
    pub os_family: Option<String>,
    pub referrer_host: Option<String>,
    pub social_source: Option<String>,
    #[serde(flatten)]
    pub utm: UtmParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookTest {
    pub endpoint_id: EndpointId,
    pub message: String,
    pub sent_at: String,
}

/// The data of one event; its variant decides the event type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventData {
    LinkCreated(LinkCreated),
    LinkUpdated(LinkUpdated),
    LinkTakedownUpdated(LinkTakedownUpdated),
    DomainVerificationUpdated(DomainVerificationUpdated),
    Click(Click),
    WebhookTest(WebhookTest),
}

impl EventData {
    pub fn event_type(&self) -> EventType {
        match self {
            EventData::LinkCreated(_) => EventType::LinkCreated,
            EventData::LinkUpdated(_) => EventType::LinkUpdated,
            EventData::LinkTakedownUpdated(_) => EventType::LinkTakedownUpdated,
            EventData::DomainVerificationUpdated(_) => EventType::DomainVerificationUpdated,
            EventData::Click(c) => match c.touch_type {
                TouchType::ShortLinkClick => EventType::LinkClicked,
                TouchType::QrScan => EventType::LinkQrScanned,
            },
            EventData::WebhookTest(_) => EventType::WebhookTest,
        }
    }

    pub fn link_id(&self) -> Option<LinkId> {
        match self {
            EventData::LinkCreated(d) => Some(d.link.link_id),
            EventData::LinkUpdated(d) => Some(d.link.link_id),
            EventData::LinkTakedownUpdated(d) => Some(d.link.link_id),
            EventData::Click(d) => Some(d.link.link_id),
            EventData::DomainVerificationUpdated(_) | EventData::WebhookTest(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;
    use crate::event::EventRecord;
    use crate::ids::{OrganizationId, WorkspaceId};

    fn link_ref() -> LinkRef {
        LinkRef {
            link_id: LinkId::new(),
            domain_id: DomainId::new(),
            domain_name: "go.example.com".into(),
            short_code: "spring".into(),
            short_url: "https://go.example.com/spring".into(),
        }
    }

    #[test]
    fn envelope_has_the_contract_keys_in_order() {
        let data = EventData::LinkUpdated(LinkUpdated::deleted(link_ref(), LinkStatus::Active));
        let ev = EventRecord::new(
            OrganizationId::new(),
            WorkspaceId::new(),
            from_millis(1_774_874_096_789),
            &data,
        );
        let keys: Vec<&str> = [
            "\"id\"",
            "\"type\"",
            "\"api_version\"",
            "\"created_at\"",
            "\"organization_id\"",
            "\"workspace_id\"",
            "\"data\"",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = keys.iter().map(|k| ev.body.find(k).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{}", ev.body);
        let v: Value = serde_json::from_str(&ev.body).unwrap();
        assert_eq!(v["type"], "link.updated");
        assert_eq!(v["api_version"], "2026-03-30");
        assert_eq!(v["created_at"], "2026-03-30T12:34:56.789Z");
        assert_eq!(v["data"]["event_action"], "deleted");
        assert_eq!(v["data"]["changed_fields"], serde_json::json!(["status"]));
        assert_eq!(v["data"]["before"], serde_json::json!({"status": "active"}));
        assert_eq!(v["data"]["after"], serde_json::json!({"status": "deleted"}));
    }

    #[test]
    fn update_action_is_specific_for_one_change_and_multiple_otherwise() {
        let dest = |u: &str| SafeDestination::from(&DestinationUrl::parse(u).unwrap());
        let one = LinkUpdated::from_changes(
            link_ref(),
            &[FieldChange::Destination {
                before: dest("https://a.com/x?q=1"),
                after: dest("https://b.com/y"),
            }],
        )
        .unwrap();
        assert_eq!(one.event_action, UpdateAction::DestinationUpdated);
        assert_eq!(one.before["destination_url_capped"], "https://a.com/x");
        assert_eq!(one.after["destination_host"], "b.com");

        let two = LinkUpdated::from_changes(
            link_ref(),
            &[
                FieldChange::Password {
                    before: false,
                    after: true,
                },
                FieldChange::Tags {
                    before: vec![],
                    after: vec!["a".into()],
                },
            ],
        )
        .unwrap();
        assert_eq!(two.event_action, UpdateAction::MultipleUpdated);
        assert_eq!(
            two.changed_fields,
            [ChangedField::Password, ChangedField::Tags]
        );
        assert_eq!(two.after["password_protected"], true);
        assert!(LinkUpdated::from_changes(link_ref(), &[]).is_none());
    }

    #[test]
    fn click_data_has_every_key_even_when_null() {
        let click = Click {
            link: link_ref(),
            touch_type: TouchType::QrScan,
            clicked_at: "2026-03-30T12:34:56.789Z".into(),
            country: None,
            device_category: Some(DeviceCategory::Mobile),
            browser_family: None,
            os_family: None,
            referrer_host: None,
            social_source: None,
            utm: UtmParams::default(),
        };
        let data = EventData::Click(click);
        assert_eq!(data.event_type(), EventType::LinkQrScanned);
        let v = serde_json::to_value(&data).unwrap();
        let keys = [
            "link_id",
            "domain_id",
            "domain_name",
            "short_code",
            "short_url",
            "touch_type",
            "clicked_at",
            "country",
            "device_category",
            "browser_family",
            "os_family",
            "referrer_host",
            "social_source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
        ];
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), keys.len());
        for k in keys {
            assert!(obj.contains_key(k), "{k}");
        }
    }
}
