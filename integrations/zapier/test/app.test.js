'use strict';

const assert = require('assert');
const http = require('http');
const zapier = require('zapier-platform-core');

const App = require('../index');
const { DEFINITIONS } = require('../triggers');
const { startLinkwire } = require('./linkwire-server');

const appTester = zapier.createAppTester(App);
zapier.tools.env.inject();

const ENVELOPE_KEYS = [
  'api_version',
  'created_at',
  'data',
  'id',
  'organization_id',
  'type',
  'workspace_id',
];
const TOUCH_DATA_KEYS = [
  'browser_family',
  'clicked_at',
  'country',
  'device_category',
  'domain_id',
  'domain_name',
  'link_id',
  'os_family',
  'referrer_host',
  'short_code',
  'short_url',
  'social_source',
  'touch_type',
  'utm_campaign',
  'utm_content',
  'utm_medium',
  'utm_source',
  'utm_term',
];

describe('app definition', () => {
  it('passes the Zapier schema validation (what `zapier validate` checks locally)', async () => {
    const res = await zapier.createAppHandler(App)({ command: 'validate' }, {});
    assert.deepStrictEqual(res.results, [], JSON.stringify(res.results, null, 2));
  });

  it('has one hook trigger per subscribable linkwire event type', () => {
    const types = DEFINITIONS.map((d) => d.type).sort();
    assert.deepStrictEqual(types, [
      'domain.verification_updated',
      'link.clicked',
      'link.created',
      'link.qr_scanned',
      'link.takedown_updated',
      'link.updated',
    ]);
    for (const d of DEFINITIONS) {
      const op = App.triggers[d.key].operation;
      assert.strictEqual(op.type, 'hook');
      for (const fn of ['performSubscribe', 'performUnsubscribe', 'perform', 'performList']) {
        assert.strictEqual(typeof op[fn], 'function', `${d.key}.${fn}`);
      }
      assert.strictEqual(op.sample.type, d.type);
      assert.deepStrictEqual(Object.keys(op.sample).sort(), ENVELOPE_KEYS);
    }
  });
});

describe('against a real linkwire', function () {
  this.timeout(60000);
  let lw;
  let authData;

  before(async () => {
    lw = await startLinkwire();
    authData = { base_url: `${lw.baseUrl}/`, token: lw.token };
  });

  after(async () => {
    if (lw) await lw.stop();
  });

  describe('authentication', () => {
    it('the test passes with the installation token and labels the connection', async () => {
      const me = await appTester(App.authentication.test, { authData });
      assert.ok(me.workspace_id, JSON.stringify(me));
      assert.ok(me.workspace_name);
      assert.strictEqual(me.credential.platform, 'zapier');
      // connectionLabel is rendered from the test's answer.
      assert.strictEqual(App.authentication.connectionLabel, '{{bundle.inputData.workspace_name}}');
    });

    it('the test fails with a bad token', async () => {
      await assert.rejects(
        appTester(App.authentication.test, {
          authData: { base_url: lw.baseUrl, token: 'lwi_not_a_real_token' },
        }),
        (err) => {
          const { message, status } = JSON.parse(err.message);
          assert.strictEqual(status, 401);
          assert.match(message, /rejected the installation token/);
          assert.match(message, /unauthorized/);
          return true;
        },
      );
    });
  });

  describe('link.qr_scanned trigger', () => {
    const trigger = () => App.triggers.link_qr_scanned.operation;
    const targetUrl = 'https://hooks.zapier.com/hooks/standard/123/abc-qr/';
    let subscribeData;

    it('performSubscribe creates a hook for bundle.targetUrl', async () => {
      subscribeData = await appTester(trigger().performSubscribe, { authData, targetUrl });
      assert.ok(subscribeData.id, JSON.stringify(subscribeData));
      assert.strictEqual(subscribeData.target_url, targetUrl);
      assert.deepStrictEqual(subscribeData.event_types, ['link.qr_scanned']);
      assert.strictEqual(subscribeData.enabled, true);

      const listed = await lw.api('GET', `/api/v1/hooks/${subscribeData.id}`, { token: lw.token });
      assert.strictEqual(listed.status, 200);
      assert.strictEqual(listed.body.target_url, targetUrl);
    });

    it('performSubscribe again for the same target URL returns the same hook (idempotent)', async () => {
      const again = await appTester(trigger().performSubscribe, { authData, targetUrl });
      assert.strictEqual(again.id, subscribeData.id);
    });

    it('performList returns envelopes of link.qr_scanned in the delivered shape', async () => {
      const events = await appTester(trigger().performList, { authData });
      assert.ok(Array.isArray(events) && events.length >= 1, JSON.stringify(events));
      for (const ev of events) {
        assert.deepStrictEqual(Object.keys(ev).sort(), ENVELOPE_KEYS);
        assert.strictEqual(ev.type, 'link.qr_scanned');
        assert.strictEqual(ev.api_version, '2026-03-30');
        assert.match(ev.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.deepStrictEqual(Object.keys(ev.data).sort(), TOUCH_DATA_KEYS);
        assert.strictEqual(ev.data.touch_type, 'qr_scan');
      }
    });

    it('perform returns the cleaned request (the delivered envelope)', async () => {
      const [sample] = await appTester(trigger().performList, { authData });
      const results = await appTester(trigger().perform, {
        authData,
        cleanedRequest: sample,
        rawRequest: { content: JSON.stringify(sample), headers: {} },
      });
      assert.deepStrictEqual(results, [sample]);
    });

    it('performUnsubscribe deletes the hook, and a second unsubscribe is harmless', async () => {
      const first = await appTester(trigger().performUnsubscribe, { authData, subscribeData });
      assert.strictEqual(first.ok, true);
      const gone = await lw.api('GET', `/api/v1/hooks/${subscribeData.id}`, { token: lw.token });
      assert.strictEqual(gone.status, 404);

      const second = await appTester(trigger().performUnsubscribe, { authData, subscribeData });
      assert.strictEqual(second.ok, true);
    });
  });

  describe('a real delivery', () => {
    // A local stand-in for hooks.zapier.com: it records what linkwire POSTs to the subscribed target URL.
    let receiver;
    const received = [];

    before(async () => {
      receiver = http.createServer((req, res) => {
        let raw = '';
        req.on('data', (c) => (raw += c));
        req.on('end', () => {
          received.push({ headers: req.headers, raw });
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('{"status":"success"}');
        });
      });
      await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    });

    after(() => new Promise((r) => (receiver ? receiver.close(r) : r())));

    it('a QR scan reaches the subscribed target URL as an envelope that perform passes through', async () => {
      const op = App.triggers.link_qr_scanned.operation;
      const targetUrl = `http://127.0.0.1:${receiver.address().port}/hooks/standard/1/qr/`;
      const sub = await appTester(op.performSubscribe, { authData, targetUrl });

      const link = await lw.api('POST', '/api/v1/links', {
        body: { long_url: 'https://www.example.com/spring?secret=1' },
      });
      assert.strictEqual(link.status, 201, JSON.stringify(link.body));
      const { short_url: shortUrl, short_code: shortCode } = link.body.link;

      // `nr=qr` marks a QR scan; a browser user agent so it is not classified as a bot.
      const scan = await fetch(`${shortUrl}?nr=qr`, {
        redirect: 'manual',
        headers: {
          'User-Agent':
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 ' +
            '(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
          Referer: 'https://www.linkedin.com/feed/',
        },
      });
      assert.ok([301, 302, 307, 308].includes(scan.status), `redirect status ${scan.status}`);

      const deadline = Date.now() + 30000;
      while (received.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(received.length >= 1, `no delivery within 30 s:\n${lw.log().slice(-2000)}`);

      const body = JSON.parse(received[0].raw);
      assert.deepStrictEqual(Object.keys(body).sort(), ENVELOPE_KEYS);
      assert.strictEqual(body.type, 'link.qr_scanned');
      assert.strictEqual(body.data.short_code, shortCode);
      assert.strictEqual(body.data.touch_type, 'qr_scan');
      assert.deepStrictEqual(Object.keys(body.data).sort(), TOUCH_DATA_KEYS);
      assert.ok(!received[0].raw.includes('secret=1'), 'the raw long URL never appears in a payload');

      // Zapier hands the parsed body to perform as bundle.cleanedRequest.
      const results = await appTester(op.perform, {
        authData,
        cleanedRequest: body,
        rawRequest: { content: received[0].raw, headers: received[0].headers },
      });
      assert.deepStrictEqual(results, [body]);
      assert.strictEqual(results[0].id, body.id); // Zapier dedupes on the stable event id

      const un = await appTester(op.performUnsubscribe, { authData, subscribeData: sub });
      assert.strictEqual(un.ok, true);
    });
  });

  describe('every trigger', () => {
    for (const d of DEFINITIONS) {
      it(`${d.key}: subscribe, sample list of ${d.type}, unsubscribe`, async () => {
        const op = App.triggers[d.key].operation;
        const targetUrl = `https://hooks.zapier.com/hooks/standard/123/${d.key}/`;
        const sub = await appTester(op.performSubscribe, { authData, targetUrl });
        assert.deepStrictEqual(sub.event_types, [d.type]);
        const events = await appTester(op.performList, { authData });
        assert.ok(events.length >= 1);
        for (const ev of events) {
          assert.strictEqual(ev.type, d.type);
          assert.deepStrictEqual(Object.keys(ev).sort(), ENVELOPE_KEYS);
          // The static sample used in the Zap editor carries the same data keys as linkwire's.
          assert.deepStrictEqual(Object.keys(op.sample.data).sort(), Object.keys(ev.data).sort());
        }
        const un = await appTester(op.performUnsubscribe, { authData, subscribeData: sub });
        assert.strictEqual(un.ok, true);
      });
    }
  });
});
