'use strict';

// One REST-hook trigger per subscribable linkwire event type (contract §3, GET /api/v1/event-types).

const { hookTrigger } = require('./hook-trigger');

const ORG = '01a21e94-eb72-72fc-b3ef-f27a580601ec';
const WS = '01a21e94-eb73-744d-9022-036a85e7b42a';
const LINK = {
  link_id: '01a21e94-f58f-74bb-8277-4422adacfeba',
  domain_id: '01a21e94-eb76-761e-8505-76da0c7f425f',
  domain_name: 'go.example.com',
  short_code: 'launch',
  short_url: 'https://go.example.com/launch',
};
const DEST = {
  destination_host: 'www.example.com',
  destination_url_capped: 'https://www.example.com/spring-launch',
};

const envelope = (type, id, data) => ({
  id,
  type,
  api_version: '2026-03-30',
  created_at: '2026-03-30T12:34:56.789Z',
  organization_id: ORG,
  workspace_id: WS,
  data,
});

const LINK_FIELDS = [
  { key: 'link_id', label: 'Link ID' },
  { key: 'domain_id', label: 'Domain ID' },
  { key: 'domain_name', label: 'Domain' },
  { key: 'short_code', label: 'Short Code' },
  { key: 'short_url', label: 'Short URL' },
];

const TOUCH_FIELDS = [
  ...LINK_FIELDS,
  { key: 'touch_type', label: 'Touch Type' },
  { key: 'clicked_at', label: 'Touched At', type: 'datetime' },
  { key: 'country', label: 'Country' },
  { key: 'device_category', label: 'Device Category' },
  { key: 'browser_family', label: 'Browser' },
  { key: 'os_family', label: 'Operating System' },
  { key: 'referrer_host', label: 'Referrer Host' },
  { key: 'social_source', label: 'Social Source' },
  { key: 'utm_source', label: 'UTM Source' },
  { key: 'utm_medium', label: 'UTM Medium' },
  { key: 'utm_campaign', label: 'UTM Campaign' },
  { key: 'utm_term', label: 'UTM Term' },
  { key: 'utm_content', label: 'UTM Content' },
];

const touchData = (touchType) => ({
  ...LINK,
  touch_type: touchType,
  clicked_at: '2026-03-30T12:34:56.789Z',
  country: 'US',
  device_category: 'mobile',
  browser_family: 'Mobile Safari',
  os_family: 'iOS',
  referrer_host: 'www.linkedin.com',
  social_source: 'linkedin',
  utm_source: 'newsletter',
  utm_medium: null,
  utm_campaign: 'launch',
  utm_term: null,
  utm_content: null,
});

const DEFINITIONS = [
  {
    type: 'link.created',
    key: 'link_created',
    noun: 'Link',
    label: 'New Link',
    description: 'Triggers when a short link is created.',
    sample: envelope('link.created', '01a21e95-0000-7000-8000-000000000001', {
      ...LINK,
      ...DEST,
      redirect_status_code: 302,
      expires_at: null,
      password_protected: false,
      tags: ['spring'],
      source: 'api',
    }),
    dataFields: [
      ...LINK_FIELDS,
      { key: 'destination_host', label: 'Destination Host' },
      { key: 'destination_url_capped', label: 'Destination URL (capped, no query)' },
      { key: 'redirect_status_code', label: 'Redirect Status Code', type: 'integer' },
      { key: 'expires_at', label: 'Expires At', type: 'datetime' },
      { key: 'password_protected', label: 'Password Protected', type: 'boolean' },
      { key: 'source', label: 'Source' },
    ],
  },
  {
    type: 'link.updated',
    key: 'link_updated',
    noun: 'Link',
    label: 'Link Updated',
    description:
      'Triggers when a link changes: destination, slug, expiration, password, tags, UTM, redirect type, routing rules, or deletion.',
    sample: envelope('link.updated', '01a21e95-0000-7000-8000-000000000002', {
      ...LINK,
      event_action: 'destination_updated',
      changed_fields: ['destination'],
      before: { ...DEST },
      after: {
        destination_host: 'www.example.com',
        destination_url_capped: 'https://www.example.com/summer-launch',
      },
    }),
    dataFields: [...LINK_FIELDS, { key: 'event_action', label: 'Action' }],
  },
  {
    type: 'link.takedown_updated',
    key: 'link_takedown_updated',
    noun: 'Link',
    label: 'Link Disabled or Restored',
    description: 'Triggers when a moderation action disables or restores a link.',
    sample: envelope('link.takedown_updated', '01a21e95-0000-7000-8000-000000000003', {
      ...LINK,
      event_action: 'disabled',
      before: { status: 'active' },
      after: { status: 'disabled' },
      reason_code: 'phishing',
    }),
    dataFields: [
      ...LINK_FIELDS,
      { key: 'event_action', label: 'Action' },
      { key: 'reason_code', label: 'Reason Code' },
    ],
  },
  {
    type: 'domain.verification_updated',
    key: 'domain_verification_updated',
    noun: 'Domain',
    label: 'Domain Verification Changed',
    description: "Triggers when a domain's verification or readiness state changes.",
    sample: envelope('domain.verification_updated', '01a21e95-0000-7000-8000-000000000004', {
      domain_id: LINK.domain_id,
      domain_name: LINK.domain_name,
      before: { verification_status: 'pending', ready_for_traffic: false, domain_status: 'pending' },
      after: { verification_status: 'verified', ready_for_traffic: true, domain_status: 'active' },
    }),
    dataFields: [
      { key: 'domain_id', label: 'Domain ID' },
      { key: 'domain_name', label: 'Domain' },
    ],
  },
  {
    type: 'link.clicked',
    key: 'link_clicked',
    noun: 'Click',
    label: 'New Link Click',
    description: 'Triggers when a person clicks a short link (bots never trigger it).',
    sample: envelope('link.clicked', '01a21e95-0000-7000-8000-000000000005', touchData('short_link_click')),
    dataFields: TOUCH_FIELDS,
  },
  {
    type: 'link.qr_scanned',
    key: 'link_qr_scanned',
    noun: 'QR Scan',
    label: 'New QR Code Scan',
    description: "Triggers when a person scans a link's QR code (bots never trigger it).",
    sample: envelope('link.qr_scanned', '01a21e95-0000-7000-8000-000000000006', touchData('qr_scan')),
    dataFields: TOUCH_FIELDS,
  },
];

const triggers = DEFINITIONS.map(hookTrigger);

module.exports = { triggers, DEFINITIONS };
