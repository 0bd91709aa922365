// Test support: a real linkwire on loopback, real receivers on loopback, and Debian's Chromium driven by
// playwright-core. Nothing here talks to anything but 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
export const LINKWIRE_BIN = process.env.LINKWIRE_BIN ?? join(repo, "target/debug/linkwire");
export const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
/** Screenshots of every page land here (git-ignored). */
export const ARTIFACTS = process.env.LINKWIRE_ARTIFACTS ?? join(repo, "artifacts/browser");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function waitUntil(what, probe, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Starts `linkwire serve` on a port the OS picks (port 0 is asked of linkwire itself, then read back). */
export async function startLinkwire() {
  const dataDir = mkdtempSync(join(tmpdir(), "linkwire-browser-"));
  // Reserve a port by binding it in a child-free way: ask the OS, then hand it to linkwire at once.
  const port = await new Promise((ok, fail) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on("error", fail);
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    LINKWIRE_ALLOW_PRIVATE_DESTINATIONS: "true",
    LINKWIRE_ALLOW_HTTP_DESTINATIONS: "true",
    LINKWIRE_RETRY_SCHEDULE: "0.2,0.2,0.2,0.2,0.2",
    LINKWIRE_LOG: "warn",
  };
  const child = spawn(
    LINKWIRE_BIN,
    ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`, "--public-url", baseUrl],
    { env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-8000)));
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntil("linkwire to become healthy", async () => {
      if (child.exitCode !== null) throw new Error(`linkwire exited with ${child.exitCode}: ${stderr}`);
      return fetch(`${baseUrl}/healthz`).then((r) => r.status === 200, () => false);
    }, 30_000);
  } catch (e) {
    stop();
    throw e;
  }
  const adminKey = readFileSync(join(dataDir, "bootstrap-admin-key"), "utf8").trim();

  /** A JSON call to the API with the bootstrap admin key; returns { status, body }. */
  async function api(method, path, { token = adminKey, body } = {}) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** Runs `linkwire admin ...` against the same data directory, as an operator would. */
  function admin(args, input) {
    const out = spawnSync(LINKWIRE_BIN, ["admin", "--data-dir", dataDir, ...args], { input, env, encoding: "utf8" });
    if (out.status !== 0) throw new Error(`linkwire admin ${args.join(" ")} failed: ${out.stderr}`);
    return out.stdout;
  }

  function createMember(email, role, password) {
    return admin(["user", "create", "--email", email, "--role", role, "--password-stdin"], `${password}\n`);
  }

  return { baseUrl, adminKey, api, admin, createMember, stop, logs: () => stderr };
}

/**
 * A receiver on 127.0.0.1 recording every request. `statusFor[path]` sets the answer per path (200 by
 * default); `pages[path]` serves HTML instead (used for the cross-site form).
 */
export async function startReceiver() {
  const received = [];
  const statusFor = {};
  const pages = {};
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url, "http://x").pathname;
      if (pages[path]) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(pages[path]);
        return;
      }
      const body = Buffer.concat(chunks).toString("utf8");
      received.push({ path, headers: req.headers, body, json: body ? JSON.parse(body) : null });
      const status = statusFor[path] ?? 200;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "ok" : "not today");
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, received, statusFor, pages, close: () => new Promise((ok) => server.close(ok)) };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

let shotNumber = 0;
/** Saves a full-page screenshot as artifacts/browser/NN-name.png. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  shotNumber += 1;
  const file = join(ARTIFACTS, `${String(shotNumber).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
