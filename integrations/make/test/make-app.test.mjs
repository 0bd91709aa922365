import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadApp, checkSubset, execute, render, ImlError } from '../lib/iml.mjs';
import { startLinkwire, api } from '../lib/linkwire.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const EVENT_TYPES = [
  'link.created',
  'link.updated',
  'link.takedown_updated',
  'domain.verification_updated',
  'link.clicked',
  'link.qr_scanned',
];

const app = loadApp(ROOT);
const base = app.general.base;
const connection = app.components.connection.linkwire;
const webhook = app.components.webhook.linkwire;
const trigger = app.components.module.watchEvents;

let lw; // running linkwire
let token; // Make installation token
let receiver; // local HTTP server standing in for Make's webhook URL
let receiverUrl;
const received = [];
let hookId;

before(async () => {
  lw = await startLinkwire();
  const inst = await api(lw.baseUrl, lw.adminKey, 'POST', '/api/v1/integrations/installations', {
    platform: 'make',
    name: 'Make',
  });
  assert.equal(inst.status, 201, JSON.stringify(inst.body));
  token = inst.body.token;
  assert.match(token, /^lwi_/);

  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"accepted":true}');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/make-hook/abc123`;
});

after(async () => {
  if (receiver) await new Promise((r) => receiver.close(r));
  if (lw) await lw.stop();
});

const conn = () => ({ base_url: lw.baseUrl, token });

test('definition: every file named in makecomapp.json exists and stays in the IML subset', () => {
  const m = app.manifest;
  const files = [
    ...Object.values(m.generalCodeFiles),
    ...Object.values(m.components).flatMap((items) =>
      Object.values(items).flatMap((c) => Object.values(c.codeFiles ?? {})),
    ),
  ];
  for (const f of files) assert.ok(existsSync(join(ROOT, f)), `${f} missing`);
  checkSubset(base);
  for (const items of Object.values(app.components)) {
    for (const c of Object.values(items)) checkSubset(c.code);
  }
  assert.equal(trigger.moduleType, 'instant_trigger');
  assert.equal(trigger.webhook, 'linkwire');
  assert.equal(webhook.connection, 'linkwire');
  assert.deepEqual(
    connection.code.params.map((p) => p.name),
    ['base_url', 'token'],
  );
  const select = webhook.code.params.find((p) => p.name === 'event_type');
  assert.equal(select.type, 'select');
  assert.deepEqual(select.options.map((o) => o.value), EVENT_TYPES);
  // The sample has the envelope shape the interface declares.
  const declared = new Set(trigger.code.interface.map((f) => f.name));
  for (const k of Object.keys(trigger.code.samples)) assert.ok(declared.has(k), k);
});

test('connection: validation succeeds with the installation token', async () => {
  const r = await execute(connection.code.communication, { parameters: conn() });
  assert.equal(r.statusCode, 200);
  assert.equal(r.body.credential.platform, 'make');
  assert.equal(r.metadata.type, 'text');
  assert.equal(r.metadata.value, 'Default workspace');
});

test('connection: validation fails with 401 for a wrong token', async () => {
  await assert.rejects(
    execute(connection.code.communication, {
      parameters: { base_url: lw.baseUrl, token: 'lwi_not_a_real_token' },
    }),
    (err) => {
      assert.ok(err instanceof ImlError);
      assert.equal(err.statusCode, 401);
      assert.match(err.message, /^\[401\] \S/);
      assert.equal(err.body.error.code, 'unauthorized');
      return true;
    },
  );
});

test('webhook attach: creates a REST hook for the selected event type and keeps its id', async () => {
  const r = await execute(
    webhook.code.attach,
    { connection: conn(), parameters: { event_type: 'link.qr_scanned' }, webhook: { url: receiverUrl } },
    base,
  );
  assert.equal(r.statusCode, 201);
  assert.equal(typeof r.data.id, 'string');
  assert.ok(r.data.id.length > 0);
  hookId = r.data.id;

  const got = await api(lw.baseUrl, token, 'GET', `/api/v1/hooks/${hookId}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.target_url, receiverUrl);
  assert.deepEqual(got.body.event_types, ['link.qr_scanned']);
  assert.equal(got.body.enabled, true);
});

test('instant trigger: a QR scan is delivered and maps to the trigger output', async () => {
  assert.ok(hookId, 'attach must have run');
  const link = await api(lw.baseUrl, lw.adminKey, 'POST', '/api/v1/links', {
    long_url: 'https://example.com/x',
    custom_slug: 'mk',
  });
  assert.equal(link.status, 201, JSON.stringify(link.body));

  const scan = await fetch(`${lw.baseUrl}/mk?nr=qr`, {
    headers: { 'User-Agent': IPHONE_UA },
    redirect: 'manual',
  });
  assert.ok([301, 302, 307, 308].includes(scan.status), `redirect status ${scan.status}`);
  assert.equal(scan.headers.get('location'), 'https://example.com/x');

  const deadline = Date.now() + 20_000;
  let delivery;
  while (!(delivery = received.find((d) => JSON.parse(d.raw).type === 'link.qr_scanned'))) {
    assert.ok(Date.now() < deadline, `no link.qr_scanned delivery within 20 s\n${lw.logTail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(delivery.method, 'POST');
  assert.equal(delivery.url, '/make-hook/abc123');
  assert.match(delivery.headers['content-type'], /application\/json/);
  const envelope = JSON.parse(delivery.raw);
  // Only the subscribed type was delivered.
  assert.ok(received.every((d) => JSON.parse(d.raw).type === 'link.qr_scanned'));

  // Make: webhook communication produces the bundle, the trigger maps it.
  const bundle = render(webhook.code.communication.output, { body: envelope });
  const out = render(trigger.code.communication.output, { body: bundle });

  assert.equal(out.id, envelope.id);
  assert.match(out.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(out.type, 'link.qr_scanned');
  assert.equal(out.api_version, '2026-03-30');
  assert.match(out.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(out.organization_id, envelope.organization_id);
  assert.equal(out.workspace_id, envelope.workspace_id);
  assert.equal(out.data.link_id, link.body.link.id);
  assert.equal(out.data.short_code, 'mk');
  assert.equal(out.data.short_url, `${lw.baseUrl}/mk`);
  assert.equal(out.data.touch_type, 'qr_scan');
  assert.equal(out.data.device_category, 'mobile');
  assert.equal(out.data.os_family, 'iOS');
  assert.ok('country' in out.data);
  assert.ok('utm_source' in out.data);
  // No IP, user agent or destination URL in a click payload.
  const flat = JSON.stringify(out);
  assert.ok(!flat.includes('example.com/x'));
  assert.ok(!flat.includes('Mozilla'));
  // Every output field is declared in the interface.
  const iface = trigger.code.interface;
  assert.deepEqual(Object.keys(out).sort(), iface.map((f) => f.name).sort());
  const dataSpec = new Set(iface.find((f) => f.name === 'data').spec.map((f) => f.name));
  for (const k of Object.keys(out.data)) assert.ok(dataSpec.has(k), `data.${k} not in interface`);
});

test('webhook detach: 204, and detaching again is harmless', async () => {
  assert.ok(hookId, 'attach must have run');
  const ctx = { connection: conn(), webhook: { id: hookId, url: receiverUrl } };
  const first = await execute(webhook.code.detach, ctx, base);
  assert.equal(first.statusCode, 204);
  const second = await execute(webhook.code.detach, ctx, base);
  assert.equal(second.statusCode, 204);
  const list = await api(lw.baseUrl, token, 'GET', `/api/v1/hooks?target_url=${encodeURIComponent(receiverUrl)}`);
  assert.equal(list.status, 200);
  assert.equal(list.body.hooks.filter((h) => h.id === hookId && h.enabled).length, 0);
});

test('instant trigger: the event_type select drives the subscription (link.created)', async () => {
  const url = `${receiverUrl}-created`;
  const ctx = { connection: conn(), parameters: { event_type: 'link.created' }, webhook: { url } };
  const attached = await execute(webhook.code.attach, ctx, base);
  assert.equal(attached.statusCode, 201);
  const id = attached.data.id;
  try {
    const link = await api(lw.baseUrl, lw.adminKey, 'POST', '/api/v1/links', {
      long_url: 'https://example.com/created?secret=1',
      custom_slug: 'mk-created',
    });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    const deadline = Date.now() + 20_000;
    let delivery;
    while (!(delivery = received.find((d) => d.url === '/make-hook/abc123-created'))) {
      assert.ok(Date.now() < deadline, `no link.created delivery within 20 s\n${lw.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const bundle = render(webhook.code.communication.output, { body: JSON.parse(delivery.raw) });
    const out = render(trigger.code.communication.output, { body: bundle });
    assert.equal(out.type, 'link.created');
    assert.equal(out.data.link_id, link.body.link.id);
    assert.equal(out.data.short_code, 'mk-created');
    assert.equal(out.data.destination_host, 'example.com');
    assert.equal(out.data.destination_url_capped, 'https://example.com/created');
    assert.equal(out.data.password_protected, false);
    const dataSpec = new Set(trigger.code.interface.find((f) => f.name === 'data').spec.map((f) => f.name));
    for (const k of Object.keys(out.data)) assert.ok(dataSpec.has(k), `data.${k} not in interface`);
  } finally {
    const detached = await execute(webhook.code.detach, { ...ctx, webhook: { id, url } }, base);
    assert.equal(detached.statusCode, 204);
  }
});
