// The linkwire n8n node against a real linkwire on loopback, through a small fake of n8n's context.
const assert = require('node:assert/strict');
const { createHmac } = require('node:crypto');
const { createServer } = require('node:http');
const { after, before, test } = require('node:test');

const { LinkwireApi } = require('../dist/credentials/LinkwireApi.credentials.js');
const { LinkwireTrigger } = require('../dist/nodes/LinkwireTrigger/LinkwireTrigger.node.js');
const { startLinkwire, fakeContext, testCredential, freePort } = require('./harness.js');

const BROWSER_UA =
	'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

const credentialType = new LinkwireApi();
const node = new LinkwireTrigger();
const staticData = {}; // the workflow's static data, shared by every call like in n8n
let linkwire;
let credentials;
let receiver;
let webhookUrl;
const received = []; // { rawBody, headers, response, result } per delivery

const context = (extra = {}) =>
	fakeContext({
		credentialType,
		credentials,
		parameters: { events: ['link.qr_scanned'] },
		webhookUrl,
		staticData,
		...extra,
	});
const hooks = node.webhookMethods.default;

/** Plays n8n's webhook URL: hands the raw body and headers to the node's webhook() and answers as n8n would. */
function startReceiver(port) {
	return new Promise((ok) => {
		const server = createServer(async (req, res) => {
			const chunks = [];
			for await (const chunk of req) chunks.push(chunk);
			const request = { rawBody: Buffer.concat(chunks), headers: req.headers };
			const ctx = context({ request });
			const result = await node.webhook.call(ctx);
			received.push({ ...request, response: ctx.response, result });
			if (result.noWebhookResponse) {
				res.writeHead(ctx.response.statusCode, { 'content-type': 'application/json' });
				res.end(JSON.stringify(ctx.response.body));
			} else {
				res.writeHead(200, { 'content-type': 'application/json' });
				res.end('{"message":"Workflow was started"}');
			}
		});
		server.listen(port, '127.0.0.1', () => ok(server));
	});
}

async function waitFor(predicate, what, ms = 15_000) {
	const deadline = Date.now() + ms;
	for (;;) {
		const found = predicate();
		if (found) return found;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

before(async () => {
	linkwire = await startLinkwire();
	const installed = await linkwire.api('POST', '/api/v1/integrations/installations', {
		body: { platform: 'n8n', name: 'n8n' },
	});
	assert.equal(installed.status, 201, JSON.stringify(installed.body));
	credentials = { baseUrl: `${linkwire.baseUrl}/`, token: installed.body.token };
	const link = await linkwire.api('POST', '/api/v1/links', {
		body: { long_url: 'https://example.com/x', custom_slug: 'n8n' },
	});
	assert.equal(link.status, 201, JSON.stringify(link.body));
	const port = await freePort();
	webhookUrl = `http://127.0.0.1:${port}/webhook/5e1c0b1e-n8n/webhook`;
	receiver = await startReceiver(port);
});

after(() => {
	receiver?.close();
	linkwire?.stop();
});

test('credential test passes with the installation token and fails with a wrong one', async () => {
	assert.equal((await testCredential(credentialType, credentials)).status, 'OK');
	const wrong = await testCredential(credentialType, { ...credentials, token: 'lwi_wrong' });
	assert.equal(wrong.status, 'Error');
	assert.match(wrong.message, /401/);
});

test('the event type options are exactly the subscribable types linkwire lists', async () => {
	const { body } = await linkwire.api('GET', '/api/v1/event-types', { token: credentials.token });
	const subscribable = body.event_types.filter((t) => t.subscribable).map((t) => t.type).sort();
	const options = node.description.properties.find((p) => p.name === 'events').options;
	assert.deepEqual(options.map((o) => o.value).sort(), subscribable);
});

test('checkExists, create, deliver a QR scan, reject tampering, delete', async (t) => {
	await t.test('checkExists is false before create', async () => {
		assert.equal(await hooks.checkExists.call(context()), false);
	});

	await t.test('create subscribes this webhook URL and stores id and secret', async () => {
		assert.equal(await hooks.create.call(context()), true);
		assert.match(staticData.webhookId, /^[0-9a-f-]{36}$/);
		assert.match(staticData.webhookSecret, /^whsec_/);
		const { body } = await linkwire.api('GET', `/api/v1/hooks?target_url=${encodeURIComponent(webhookUrl)}`, {
			token: credentials.token,
		});
		assert.deepEqual(
			body.hooks.map((h) => [h.id, h.event_types]),
			[[staticData.webhookId, ['link.qr_scanned']]],
		);
	});

	await t.test('checkExists is true after create, and false when the events change', async () => {
		assert.equal(await hooks.checkExists.call(context()), true);
		const other = context({ parameters: { events: ['link.clicked', 'link.qr_scanned'] } });
		assert.equal(await hooks.checkExists.call(other), false);
	});

	let delivery;
	await t.test('a real QR scan is delivered, verified from the raw body and emitted', async () => {
		const scan = await fetch(`${linkwire.baseUrl}/n8n?nr=qr`, {
			headers: { 'user-agent': BROWSER_UA },
			redirect: 'manual',
		});
		assert.ok(scan.status >= 300 && scan.status < 400, `redirect expected, got ${scan.status}`);
		delivery = await waitFor(() => received.find((d) => d.result.workflowData), 'the QR scan delivery');
		const [[item]] = delivery.result.workflowData;
		assert.equal(item.json.type, 'link.qr_scanned');
		assert.equal(item.json.data.touch_type, 'qr_scan');
		assert.equal(item.json.data.short_code, 'n8n');
		assert.equal(item.json.id, delivery.headers['x-nim-event-id']);
		assert.equal(delivery.headers['x-nim-event-type'], 'link.qr_scanned');
		assert.equal(delivery.headers['x-nim-delivery-reason'], 'live');
		assert.deepEqual(Object.keys(item.json), [
			'id', 'type', 'api_version', 'created_at', 'organization_id', 'workspace_id', 'data',
		]);
	});

	await t.test('a tampered body, a stale timestamp and a missing signature get 401', async () => {
		const reject = async (request) => {
			const ctx = context({ request });
			const result = await node.webhook.call(ctx);
			assert.deepEqual(result, { noWebhookResponse: true });
			assert.equal(ctx.response.statusCode, 401);
			assert.equal(ctx.response.ended, true);
			return ctx.response.body.error.message;
		};
		const tampered = Buffer.from(delivery.rawBody.toString('utf8').replace('"n8n"', '"n9n"'));
		assert.notDeepEqual(tampered, delivery.rawBody);
		assert.match(await reject({ rawBody: tampered, headers: delivery.headers }), /does not match/);

		// Correctly signed, but ten minutes old: outside the 5-minute tolerance.
		const ts = String(Math.floor(Date.now() / 1000) - 600);
		const sig = createHmac('sha256', staticData.webhookSecret).update(`${ts}.`).update(delivery.rawBody).digest('hex');
		const stale = { ...delivery.headers, 'x-nim-timestamp': ts, 'x-nim-signature': `v1=${sig}` };
		assert.match(await reject({ rawBody: delivery.rawBody, headers: stale }), /tolerance/);

		const { 'x-nim-signature': _, ...unsigned } = delivery.headers;
		assert.match(await reject({ rawBody: delivery.rawBody, headers: unsigned }), /does not match/);

		// The same bytes with a fresh, valid signature pass (a rotation-style list with an unknown entry too).
		const now = String(Math.floor(Date.now() / 1000));
		const good = createHmac('sha256', staticData.webhookSecret).update(`${now}.`).update(delivery.rawBody).digest('hex');
		const ctx = context({
			request: {
				rawBody: delivery.rawBody,
				headers: { ...delivery.headers, 'x-nim-timestamp': now, 'x-nim-signature': `v1=${'0'.repeat(64)},v1=${good}` },
			},
		});
		const ok = await node.webhook.call(ctx);
		assert.equal(ok.workflowData[0][0].json.type, 'link.qr_scanned');
	});

	await t.test('delete unsubscribes; checkExists is false; delete again is harmless', async () => {
		const id = staticData.webhookId;
		assert.equal(await hooks.delete.call(context()), true);
		assert.equal(staticData.webhookId, undefined);
		assert.equal(staticData.webhookSecret, undefined);
		assert.equal(await hooks.checkExists.call(context()), false);
		assert.equal(await hooks.delete.call(context()), true);
		// Even with the old id still in static data (n8n retrying a delete), linkwire answers 204.
		staticData.webhookId = id;
		assert.equal(await hooks.delete.call(context()), true);
		const { status } = await linkwire.api('DELETE', `/api/v1/hooks/${id}`, { token: credentials.token });
		assert.equal(status, 204);
	});
});
