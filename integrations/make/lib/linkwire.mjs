// Starts a real linkwire server on loopback for the tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const LINKWIRE_BIN =
  process.env.LINKWIRE_BIN ?? resolve(here, '../../../target/debug/linkwire');

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startLinkwire({ deadlineMs = 30_000 } = {}) {
  if (!existsSync(LINKWIRE_BIN)) {
    throw new Error(
      `linkwire binary not found at ${LINKWIRE_BIN}; run \`cargo build -p linkwire-server\` or set LINKWIRE_BIN`,
    );
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'linkwire-make-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const logPath = join(dataDir, 'linkwire.log');
  const log = openSync(logPath, 'a');
  const child = spawn(
    LINKWIRE_BIN,
    ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--public-url', baseUrl],
    {
      env: {
        ...process.env,
        LINKWIRE_ALLOW_PRIVATE_DESTINATIONS: 'true',
        LINKWIRE_ALLOW_HTTP_DESTINATIONS: 'true',
      },
      stdio: ['ignore', log, log],
    },
  );
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (exited === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + deadlineMs;
  const keyPath = join(dataDir, 'bootstrap-admin-key');
  for (;;) {
    if (exited) throw new Error(`linkwire exited early (${JSON.stringify(exited)}):\n${logTail()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`linkwire did not become healthy within ${deadlineMs} ms:\n${logTail()}`);
    }
    try {
      const r = await fetch(`${baseUrl}/healthz`);
      if (r.ok && existsSync(keyPath)) break;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  const adminKey = readFileSync(keyPath, 'utf8').trim();
  return { baseUrl, adminKey, dataDir, stop, logTail };
}

export async function api(baseUrl, key, method, path, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      Authorization: `Bearer ${key}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
