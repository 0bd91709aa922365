//! The v1 event catalog and the envelope every destination receives (contract §2–3).

use serde::Serialize;

use crate::clock::{format_timestamp, Timestamp};
use crate::ids::{EventId, LinkId, OrganizationId, WorkspaceId};
use crate::payload::EventData;
use crate::string_enum;
use crate::tenancy::Feature;

/// The `api_version` of every envelope.
pub const API_VERSION: &str = "2026-03-30";

string_enum! {
    pub enum EventType: "event type" {
        LinkCreated = "link.created",
        LinkUpdated = "link.updated",
        LinkTakedownUpdated = "link.takedown_updated",
        DomainVerificationUpdated = "domain.verification_updated",
        LinkClicked = "link.clicked",
        LinkQrScanned = "link.qr_scanned",
        WebhookTest = "nim.webhook.test",
    }
}

impl EventType {
    /// The types an endpoint may subscribe to (everything but the synthetic test event).
    pub const SUBSCRIBABLE: &'static [EventType] = &[
        EventType::LinkCreated,
        EventType::LinkUpdated,
        EventType::LinkTakedownUpdated,
        EventType::DomainVerificationUpdated,
        EventType::LinkClicked,
        EventType::LinkQrScanned,
    ];

    pub fn is_subscribable(self) -> bool {
        self != EventType::WebhookTest
    }

    /// The plan feature a subscription to this type needs.
    pub fn required_feature(self) -> Feature {
        match self {
            EventType::LinkClicked | EventType::LinkQrScanned => Feature::ClickWebhooks,
            _ => Feature::LifecycleWebhooks,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            EventType::LinkCreated => "A new short link was created.",
            EventType::LinkUpdated => {
                "A non-takedown change: destination, slug, expiration, password, tags, UTM, redirect type, routing rules, or deletion."
            }
            EventType::LinkTakedownUpdated => "A moderation action disabled or restored a link.",
            EventType::DomainVerificationUpdated => "A domain's verification or readiness state changed.",
            EventType::LinkClicked => "A human clicked a short link (bots never emit).",
            EventType::LinkQrScanned => "A human scanned a QR code (bots never emit).",
            EventType::WebhookTest => "Synthetic event sent by test-send; cannot be subscribed.",
        }
    }
}

/// The canonical envelope. Field order here is the order on the wire.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub api_version: &'static str,
    pub created_at: String,
    pub organization_id: OrganizationId,
    pub workspace_id: WorkspaceId,
    pub data: &'a EventData,
}

/// An event whose body is fixed: every attempt and every replay sends exactly `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: EventId,
    pub event_type: EventType,
    pub organization_id: OrganizationId,
    pub workspace_id: WorkspaceId,
    pub link_id: Option<LinkId>,
    pub created_at: Timestamp,
    pub body: String,
}

impl EventRecord {
    /// Builds the event and serializes its body once.
    pub fn new(
        organization_id: OrganizationId,
        workspace_id: WorkspaceId,
        created_at: Timestamp,
        data: &EventData,
    ) -> Self {
        Self::with_id(
            EventId::new(),
            organization_id,
            workspace_id,
            created_at,
            data,
        )
    }

    pub fn with_id(
        id: EventId,
        organization_id: OrganizationId,
        workspace_id: WorkspaceId,
        created_at: Timestamp,
        data: &EventData,
    ) -> Self {
        let event_type = data.event_type();
        let envelope = Envelope {
            id,
            event_type,
            api_version: API_VERSION,
            created_at: format_timestamp(created_at),
            organization_id,
            workspace_id,
            data,
        };
        let body = serde_json::to_string(&envelope).expect("event payloads always serialize");
        Self {
            id,
            event_type,
            organization_id,
            workspace_id,
            link_id: data.link_id(),
            created_at,
            body,
        }
    }
}
