// A tiny interpreter for exactly the IML subset this app definition uses:
// whole-value or interpolated `{{path.to.value}}` references rooted at
// parameters, connection, webhook, body or statusCode. Anything else throws, so a
// definition that drifts outside the tested subset fails loudly in tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOTS = new Set(['parameters', 'connection', 'webhook', 'body', 'statusCode']);
const EXPR = /\{\{([^{}]*)\}\}/g;
const WHOLE = /^\{\{([^{}]*)\}\}$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;

export class ImlError extends Error {
  constructor(message, statusCode, body) {
    super(message);
    this.name = 'ImlError';
    this.statusCode = statusCode;
    this.body = body;
  }
}

function checkExpr(raw) {
  const expr = raw.trim();
  if (!PATH.test(expr)) throw new Error(`unsupported IML expression: {{${raw}}}`);
  const root = expr.split('.')[0];
  if (!ROOTS.has(root)) throw new Error(`unsupported IML root "${root}" in {{${raw}}}`);
  return expr;
}

function lookup(raw, ctx) {
  const parts = checkExpr(raw).split('.');
  let v = ctx;
  for (const p of parts) {
    if (v === null || v === undefined) return undefined;
    v = v[p];
  }
  return v;
}

/** Lists every IML expression in a JSON value (for static checks). */
export function expressions(value, out = []) {
  if (typeof value === 'string') {
    for (const m of value.matchAll(EXPR)) out.push(m[1]);
  } else if (Array.isArray(value)) {
    value.forEach((v) => expressions(v, out));
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach((v) => expressions(v, out));
  }
  return out;
}

/** Validates that every expression belongs to the supported subset. */
export function checkSubset(value) {
  for (const e of expressions(value)) checkExpr(e);
}

/**
 * Renders a JSON value. A string that is exactly one `{{expr}}` yields the raw value
 * (object, array, number...), as in Make; otherwise expressions are interpolated as text
 * (null/undefined render as the empty string).
 */
export function render(value, ctx) {
  if (typeof value === 'string') {
    const whole = value.match(WHOLE);
    if (whole) return lookup(whole[1], ctx);
    return value.replace(EXPR, (_, e) => {
      const v = lookup(e, ctx);
      if (v === null || v === undefined) return '';
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => render(v, ctx));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, ctx)]));
  }
  return value;
}

/**
 * Executes one request definition (connection communication, attach, detach...).
 * With `base`, a relative url ("/...") is appended to base.baseUrl and base headers apply,
 * like Make does for every component that inherits the base.
 */
export async function execute(def, ctx, base = null) {
  let url = render(def.url, ctx);
  let headers = {};
  if (base) {
    if (url.startsWith('/')) url = render(base.baseUrl, ctx) + url;
    headers = { ...render(base.headers ?? {}, ctx) };
  }
  Object.assign(headers, render(def.headers ?? {}, ctx));
  const method = (def.method ?? 'GET').toUpperCase();
  const init = { method, headers, redirect: 'manual' };
  if (def.body !== undefined) {
    if ((def.type ?? 'json') !== 'json') throw new Error(`unsupported request type ${def.type}`);
    init.body = JSON.stringify(render(def.body, ctx));
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let body = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  if (!text) body = undefined;
  const rctx = { ...ctx, body, statusCode: res.status };
  const responseDef = { ...(base?.response ?? {}), ...(def.response ?? {}) };
  if (res.status >= 400) {
    const message = responseDef.error?.message
      ? render(responseDef.error.message, rctx)
      : `[${res.status}] ${text}`;
    throw new ImlError(message, res.status, body);
  }
  const out = { statusCode: res.status, body };
  for (const key of ['data', 'output', 'metadata', 'temp']) {
    if (responseDef[key] !== undefined) out[key] = render(responseDef[key], rctx);
  }
  return out;
}

/** Loads makecomapp.json and every code file it names. */
export function loadApp(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'makecomapp.json'), 'utf8'));
  const read = (p) => {
    const text = readFileSync(join(dir, p), 'utf8');
    return p.endsWith('.md') ? text : JSON.parse(text);
  };
  const general = Object.fromEntries(
    Object.entries(manifest.generalCodeFiles).map(([k, p]) => [k, read(p)]),
  );
  const components = {};
  for (const [kind, items] of Object.entries(manifest.components)) {
    components[kind] = {};
    for (const [name, c] of Object.entries(items)) {
      components[kind][name] = {
        ...c,
        code: Object.fromEntries(Object.entries(c.codeFiles ?? {}).map(([k, p]) => [k, read(p)])),
      };
    }
  }
  return { manifest, general, components };
}
