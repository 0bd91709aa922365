'use strict';

// Starts a real linkwire on loopback for the tests and hands back its URL, admin key and a Zapier
// installation token. LINKWIRE_BIN overrides the binary (default: the workspace's debug build).

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const DEFAULT_BIN = path.resolve(__dirname, '..', '..', '..', 'target', 'debug', 'linkwire');

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const startLinkwire = async ({ deadlineMs = 30000 } = {}) => {
  const bin = process.env.LINKWIRE_BIN || DEFAULT_BIN;
  if (!fs.existsSync(bin)) {
    throw new Error(
      `linkwire binary not found at ${bin}; run \`cargo build -p linkwire-server\` in the repo root ` +
        'or set LINKWIRE_BIN',
    );
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'linkwire-zapier-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(
    bin,
    ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--public-url', baseUrl],
    {
      env: {
        ...process.env,
        LINKWIRE_ALLOW_PRIVATE_DESTINATIONS: 'true',
        LINKWIRE_ALLOW_HTTP_DESTINATIONS: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));

  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const until = Date.now() + 5000;
      while (exited === null && Date.now() < until) await sleep(50);
      if (exited === null) child.kill('SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const keyFile = path.join(dataDir, 'bootstrap-admin-key');
  const deadline = Date.now() + deadlineMs;
  let ready = false;
  while (Date.now() < deadline) {
    if (exited !== null) {
      await stop();
      throw new Error(`linkwire exited early (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.ok && fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8').trim()) {
        ready = true;
        break;
      }
    } catch (e) {
      // not listening yet
    }
    await sleep(100);
  }
  if (!ready) {
    await stop();
    throw new Error(`linkwire did not become healthy within ${deadlineMs} ms:\n${log}`);
  }

  const adminKey = fs.readFileSync(keyFile, 'utf8').trim();
  const api = async (method, urlPath, { token = adminKey, body } = {}) => {
    const res = await fetch(`${baseUrl}${urlPath}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const created = await api('POST', '/api/v1/integrations/installations', {
    body: { platform: 'zapier', name: 'Zapier' },
  });
  if (created.status !== 201 || !created.body || !created.body.token) {
    await stop();
    throw new Error(`creating an installation token failed: ${JSON.stringify(created)}`);
  }

  return { baseUrl, adminKey, token: created.body.token, api, stop, log: () => log };
};

module.exports = { startLinkwire, freePort };
