const { createHmac, timingSafeEqual } = require('node:crypto');

/** Seconds a delivery's X-Nim-Timestamp may differ from our clock. */
const TOLERANCE_SECS = 300;

/** The subscribable event types of linkwire's catalog (`nim.webhook.test` cannot be subscribed to). */
const EVENT_TYPES = [
	{ name: 'Link Created', value: 'link.created', description: 'A short link was created' },
	{ name: 'Link Updated', value: 'link.updated', description: 'A link was changed or deleted' },
	{
		name: 'Link Takedown Updated',
		value: 'link.takedown_updated',
		description: 'Moderation disabled or restored a link',
	},
	{
		name: 'Domain Verification Updated',
		value: 'domain.verification_updated',
		description: "A domain's verification or readiness changed",
	},
	{ name: 'Link Clicked', value: 'link.clicked', description: 'A human clicked a short link' },
	{ name: 'Link QR Scanned', value: 'link.qr_scanned', description: 'A human scanned a QR code' },
];

/**
 * Verifies X-Nim-Signature (`v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 keyed with the whole secret string over
 * `"{X-Nim-Timestamp}.{raw body}"`) in constant time, with a freshness window. Returns an error string or null.
 */
function verifyNimSignature(rawBody, headers, secret, now = Math.floor(Date.now() / 1000)) {
	const ts = String(headers['x-nim-timestamp'] ?? '');
	if (!/^\d+$/.test(ts)) return 'missing or malformed X-Nim-Timestamp';
	if (Math.abs(now - Number(ts)) > TOLERANCE_SECS) return 'X-Nim-Timestamp is outside the tolerance';
	const expected = createHmac('sha256', secret).update(`${ts}.`).update(rawBody).digest();
	const ok = String(headers['x-nim-signature'] ?? '')
		.split(',')
		.map((s) => s.trim())
		.filter((s) => s.startsWith('v1='))
		.map((s) => Buffer.from(s.slice(3), 'hex'))
		.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
	return ok ? null : 'X-Nim-Signature does not match';
}

/** A request to linkwire's REST-hook API with the node's credentials. */
async function linkwireRequest(method, path, options = {}) {
	const { baseUrl } = await this.getCredentials('linkwireApi');
	return this.helpers.httpRequestWithAuthentication.call(this, 'linkwireApi', {
		method,
		url: `${String(baseUrl).replace(/\/+$/, '')}${path}`,
		json: true,
		...options,
	});
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

class LinkwireTrigger {
	constructor() {
		this.description = {
			displayName: 'linkwire Trigger',
			name: 'linkwireTrigger',
			icon: 'file:linkwire.svg',
			group: ['trigger'],
			version: 1,
			subtitle: '={{$parameter["events"].join(", ")}}',
			description: 'Starts the workflow when linkwire sends a signed webhook event',
			defaults: { name: 'linkwire Trigger' },
			inputs: [],
			outputs: ['main'],
			credentials: [{ name: 'linkwireApi', required: true }],
			webhooks: [
				{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'webhook' },
			],
			properties: [
				{
					displayName: 'Events',
					name: 'events',
					type: 'multiOptions',
					required: true,
					default: ['link.clicked'],
					options: EVENT_TYPES,
					description: 'The event types that start the workflow',
				},
			],
		};

		this.webhookMethods = {
			default: {
				/** True when linkwire has our hook for this URL, with the secret we hold and the selected events. */
				async checkExists() {
					const staticData = this.getWorkflowStaticData('node');
					const targetUrl = this.getNodeWebhookUrl('default');
					const events = this.getNodeParameter('events', []);
					const { hooks } = await linkwireRequest.call(this, 'GET', '/api/v1/hooks', {
						qs: { target_url: targetUrl },
					});
					const hook = hooks.find((h) => h.target_url === targetUrl);
					if (!hook) {
						delete staticData.webhookId;
						delete staticData.webhookSecret;
						return false;
					}
					staticData.webhookId = hook.id;
					// Without the secret we cannot verify deliveries; with other events we would get the wrong
					// ones. `create` re-subscribes (idempotent per URL), which updates the events and hands the
					// secret over again.
					return Boolean(staticData.webhookSecret) && hook.enabled && sameSet(hook.event_types, events);
				},

				async create() {
					const staticData = this.getWorkflowStaticData('node');
					const hook = await linkwireRequest.call(this, 'POST', '/api/v1/hooks', {
						body: {
							target_url: this.getNodeWebhookUrl('default'),
							event_types: this.getNodeParameter('events', []),
						},
					});
					if (!hook?.id || !hook.secret) return false;
					staticData.webhookId = hook.id;
					staticData.webhookSecret = hook.secret;
					return true;
				},

				async delete() {
					const staticData = this.getWorkflowStaticData('node');
					if (staticData.webhookId !== undefined) {
						try {
							// Repeatable: linkwire answers 204 for a hook that is already gone.
							await linkwireRequest.call(this, 'DELETE', `/api/v1/hooks/${staticData.webhookId}`);
						} catch (error) {
							return false;
						}
					}
					delete staticData.webhookId;
					delete staticData.webhookSecret;
					return true;
				},
			},
		};
	}

	async webhook() {
		const req = this.getRequestObject();
		const headers = this.getHeaderData();
		const { webhookSecret } = this.getWorkflowStaticData('node');
		if (!req.rawBody && typeof req.readRawBody === 'function') await req.readRawBody();
		const rawBody = req.rawBody;

		let error = !webhookSecret ? 'no signing secret stored for this hook' : null;
		if (!error && !Buffer.isBuffer(rawBody)) error = 'raw body unavailable';
		error ??= verifyNimSignature(rawBody, headers, webhookSecret);
		let event;
		if (!error) {
			try {
				event = JSON.parse(rawBody.toString('utf8'));
			} catch {
				error = 'body is not JSON';
			}
		}
		if (!error && headers['x-nim-event-id'] !== undefined && headers['x-nim-event-id'] !== event?.id) {
			error = 'X-Nim-Event-Id does not match the body';
		}
		if (error) {
			const res = this.getResponseObject();
			res.status(401).json({ error: { code: 'invalid_signature', message: error } }).end();
			return { noWebhookResponse: true };
		}
		return { workflowData: [this.helpers.returnJsonArray(event)] };
	}
}

module.exports = { LinkwireTrigger, verifyNimSignature, EVENT_TYPES };
