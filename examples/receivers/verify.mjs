// Verify one linkwire webhook delivery (Node.js 20+, no dependencies).
//
//   LINKWIRE_SECRET=whsec_... node verify.mjs <body-file> <headers-file> [--now <unix-seconds>]
//
// <body-file> holds the raw request body exactly as received; <headers-file> one "Name: value"
// per line. LINKWIRE_SECRET may hold several whitespace-separated secrets (rotation).
// Prints "ok <event id>" and exits 0, or "invalid: <reason>" and exits 1 (usage errors exit 2).
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

const TOLERANCE_SECS = 300;

const invalid = (reason) => {
  console.log(`invalid: ${reason}`);
  process.exit(1);
};

const [bodyPath, headersPath, flag, nowArg] = process.argv.slice(2);
const secrets = (process.env.LINKWIRE_SECRET ?? "").split(/\s+/).filter(Boolean);
const badNow = flag !== undefined && (flag !== "--now" || !/^\d+$/.test(nowArg ?? ""));
if (!bodyPath || !headersPath || badNow || !secrets.length) {
  console.error("usage: LINKWIRE_SECRET=whsec_... node verify.mjs <body-file> <headers-file> [--now <unix>]");
  process.exit(2);
}
const now = flag ? Number(nowArg) : Math.floor(Date.now() / 1000);

const body = readFileSync(bodyPath); // a Buffer: the raw bytes, never re-serialized JSON
const headers = new Map();
for (const line of readFileSync(headersPath, "utf8").split(/\r?\n/)) {
  const colon = line.indexOf(":");
  const name = line.slice(0, colon).trim().toLowerCase();
  if (colon > 0 && !headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
}

function checkTimestamp(name) {
  const ts = headers.get(name);
  if (!/^\d+$/.test(ts ?? "")) invalid(`missing or malformed ${name}`);
  if (Math.abs(now - Number(ts)) > TOLERANCE_SECS) invalid(`${name} ${ts} is outside the ${TOLERANCE_SECS}s tolerance`);
  return ts;
}

// True if any received signature equals the HMAC for any accepted secret (constant-time compare).
function anyMatch(received, keyOf, prefix) {
  return secrets.some((secret) => {
    const expected = createHmac("sha256", keyOf(secret)).update(prefix).update(body).digest();
    return received.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
  });
}

const nimSignature = headers.get("x-nim-signature");
const stdSignature = headers.get("webhook-signature");
if (nimSignature === undefined && stdSignature === undefined) invalid("no signature header");

if (nimSignature !== undefined) {
  // X-Nim-Signature: v1=<hex>[,v1=<hex>...]; key = the whole "whsec_..." string.
  const ts = checkTimestamp("x-nim-timestamp");
  const received = nimSignature.split(",").map((s) => s.trim()).filter((s) => s.startsWith("v1="))
    .map((s) => Buffer.from(s.slice(3), "hex"));
  if (!anyMatch(received, (secret) => secret, `${ts}.`)) invalid("X-Nim-Signature does not match");
}

if (stdSignature !== undefined) {
  // webhook-signature: v1,<base64>[ v1,<base64>...]; key = base64-decoded part after "whsec_".
  const id = headers.get("webhook-id");
  if (!id) invalid("missing webhook-id");
  const ts = checkTimestamp("webhook-timestamp");
  const received = stdSignature.split(" ").filter((s) => s.startsWith("v1,"))
    .map((s) => Buffer.from(s.slice(3), "base64"));
  const key = (secret) => Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  if (!anyMatch(received, key, `${id}.${ts}.`)) invalid("webhook-signature does not match");
}

// Only now parse the JSON. The event id is stable across retries and replays: dedupe on it.
const event = JSON.parse(body.toString("utf8"));
for (const name of ["x-nim-event-id", "webhook-id"]) {
  if (headers.has(name) && headers.get(name) !== event.id) invalid(`${name} does not match the body id`);
}
console.log(`ok ${event.id}`);
