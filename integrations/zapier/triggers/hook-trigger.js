'use strict';

// Factory for linkwire REST-hook triggers: one trigger per event type, all with the same shape.
//   performSubscribe   POST   /api/v1/hooks {target_url: bundle.targetUrl, event_types: [type]}
//                      → flat {id, target_url, event_types, secret, enabled, created_at}; Zapier stores it
//                        as bundle.subscribeData (linkwire is idempotent per target_url).
//   performUnsubscribe DELETE /api/v1/hooks/{bundle.subscribeData.id} → 204 (repeatable).
//   perform            the delivered body is the event envelope itself → [bundle.cleanedRequest].
//   performList        GET    /api/v1/events/sample?type=<type>&limit=3 → real recent events of the type,
//                      or a synthetic one, in exactly the delivered shape.

const { baseUrl, linkwireError } = require('../lib/http');

const ENVELOPE_FIELDS = [
  { key: 'id', label: 'Event ID' },
  { key: 'type', label: 'Event Type' },
  { key: 'api_version', label: 'API Version' },
  { key: 'created_at', label: 'Created At', type: 'datetime' },
  { key: 'organization_id', label: 'Organization ID' },
  { key: 'workspace_id', label: 'Workspace ID' },
];

const envelopeOf = (bundle) => {
  const body = bundle.cleanedRequest;
  // A delivery is one envelope; be lenient if a proxy wrapped it in a list.
  if (Array.isArray(body)) {
    return body;
  }
  return body ? [body] : [];
};

const hookTrigger = ({ type, key, noun, label, description, sample, dataFields }) => {
  const performSubscribe = async (z, bundle) => {
    const response = await z.request({
      url: `${baseUrl(bundle)}/api/v1/hooks`,
      method: 'POST',
      body: { target_url: bundle.targetUrl, event_types: [type] },
    });
    return response.data;
  };

  const performUnsubscribe = async (z, bundle) => {
    const id = bundle.subscribeData && bundle.subscribeData.id;
    if (!id) {
      return { ok: true, deleted: false };
    }
    const response = await z.request({
      url: `${baseUrl(bundle)}/api/v1/hooks/${encodeURIComponent(id)}`,
      method: 'DELETE',
      skipThrowForStatus: true,
    });
    // 204 on delete; a hook already gone (404, or removed by a 410 from Zapier) is not an error.
    if (response.status === 204 || response.status === 200 || response.status === 404) {
      return { ok: true, id, deleted: response.status !== 404 };
    }
    const err = linkwireError(response);
    throw new z.errors.Error(
      `linkwire could not delete hook ${id}: ${err ? err.message : `HTTP ${response.status}`}`,
      err ? err.code : 'UnsubscribeFailed',
      response.status,
    );
  };

  const perform = async (z, bundle) => envelopeOf(bundle);

  const performList = async (z, bundle) => {
    const response = await z.request({
      url: `${baseUrl(bundle)}/api/v1/events/sample`,
      params: { type, limit: 3 },
    });
    return (response.data && response.data.events) || [];
  };

  return {
    key,
    noun,
    display: { label, description },
    operation: {
      type: 'hook',
      performSubscribe,
      performUnsubscribe,
      perform,
      performList,
      sample,
      outputFields: [
        ...ENVELOPE_FIELDS,
        ...dataFields.map((f) => ({ ...f, key: `data__${f.key}` })),
      ],
    },
  };
};

module.exports = { hookTrigger };
