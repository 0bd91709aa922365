// Test support: a real linkwire on loopback, and a small fake of the n8n context the node runs in.
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const LINKWIRE_BIN = process.env.LINKWIRE_BIN ?? resolve(__dirname, '../../../target/debug/linkwire');

const freePort = () =>
	new Promise((ok, fail) => {
		const srv = createServer().listen(0, '127.0.0.1', () => {
			const { port } = srv.address();
			srv.close(() => ok(port));
		});
		srv.on('error', fail);
	});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `linkwire serve` and returns { baseUrl, adminKey, api(), stop() }. */
async function startLinkwire() {
	const dataDir = mkdtempSync(join(tmpdir(), 'linkwire-n8n-'));
	const port = await freePort();
	const baseUrl = `http://127.0.0.1:${port}`;
	const child = spawn(
		LINKWIRE_BIN,
		['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--public-url', baseUrl],
		{
			env: {
				...process.env,
				LINKWIRE_ALLOW_PRIVATE_DESTINATIONS: 'true',
				LINKWIRE_ALLOW_HTTP_DESTINATIONS: 'true',
				LINKWIRE_RETRY_SCHEDULE: '0.2,0.2,0.2,0.2,0.2',
			},
			stdio: ['ignore', 'ignore', 'pipe'],
		},
	);
	let stderr = '';
	child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
	const stop = () => {
		if (child.exitCode === null) child.kill('SIGTERM');
		rmSync(dataDir, { recursive: true, force: true });
	};

	const deadline = Date.now() + 30_000;
	for (;;) {
		if (child.exitCode !== null) {
			stop();
			throw new Error(`linkwire exited with ${child.exitCode}: ${stderr}`);
		}
		const ok = await fetch(`${baseUrl}/healthz`).then((r) => r.status === 200, () => false);
		if (ok) break;
		if (Date.now() > deadline) {
			stop();
			throw new Error(`linkwire did not become healthy: ${stderr}`);
		}
		await sleep(100);
	}
	const adminKey = readFileSync(join(dataDir, 'bootstrap-admin-key'), 'utf8').trim();

	/** A JSON call to linkwire; returns { status, body }. */
	async function api(method, path, { token = adminKey, body } = {}) {
		const res = await fetch(`${baseUrl}${path}`, {
			method,
			headers: {
				authorization: `Bearer ${token}`,
				...(body === undefined ? {} : { 'content-type': 'application/json' }),
			},
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await res.text();
		return { status: res.status, body: text ? JSON.parse(text) : null };
	}
	return { baseUrl, adminKey, api, stop };
}

/** Resolves n8n credential expressions such as `=Bearer {{$credentials.token}}`. */
function resolveExpression(value, $credentials) {
	if (typeof value !== 'string' || !value.startsWith('=')) return value;
	return value
		.slice(1)
		.replace(/\{\{(.+?)\}\}/g, (_, expr) => String(new Function('$credentials', `return (${expr});`)($credentials)));
}

/** Performs an n8n IHttpRequestOptions request with the credential type's `authenticate` applied. */
async function httpRequest(credentialType, credentials, options) {
	const headers = { ...(options.headers ?? {}) };
	for (const [name, value] of Object.entries(credentialType.authenticate.properties.headers ?? {})) {
		headers[name] = resolveExpression(value, credentials);
	}
	const url = new URL(`${options.baseURL ?? ''}${options.url}`);
	for (const [k, v] of Object.entries(options.qs ?? {})) url.searchParams.set(k, v);
	let body;
	if (options.body !== undefined) {
		body = JSON.stringify(options.body);
		headers['content-type'] = 'application/json';
	}
	const res = await fetch(url, { method: options.method ?? 'GET', headers, body });
	const text = await res.text();
	if (!res.ok) {
		const error = new Error(`linkwire answered ${res.status}: ${text}`);
		error.httpCode = String(res.status);
		throw error;
	}
	return options.json && text ? JSON.parse(text) : text;
}

/** What n8n does for a credential's `test` request: OK on a 2xx answer. */
async function testCredential(credentialType, credentials) {
	const { request } = credentialType.test;
	try {
		await httpRequest(credentialType, credentials, {
			method: request.method ?? 'GET',
			baseURL: resolveExpression(request.baseURL, credentials),
			url: resolveExpression(request.url, credentials),
		});
		return { status: 'OK', message: 'Connection successful!' };
	} catch (error) {
		return { status: 'Error', message: error.message };
	}
}

/**
 * A fake of the n8n hook / webhook function context. `state.staticData` persists between calls like
 * workflow static data; `request` is { rawBody, headers } for webhook(); `response` records what the
 * node sent through getResponseObject().
 */
function fakeContext({ credentialType, credentials, parameters, webhookUrl, staticData, request }) {
	const response = { statusCode: undefined, body: undefined, ended: false };
	const res = {
		status(code) {
			response.statusCode = code;
			return res;
		},
		json(body) {
			response.body = body;
			return res;
		},
		send(body) {
			response.body = body;
			return res;
		},
		end() {
			response.ended = true;
			return res;
		},
	};
	const ctx = {
		response,
		getNodeParameter: (name, fallback) => (name in parameters ? parameters[name] : fallback),
		getNodeWebhookUrl: (name) => (name === 'default' ? webhookUrl : undefined),
		getWorkflowStaticData: (type) => {
			if (type !== 'node') throw new Error(`unexpected static data type ${type}`);
			return staticData;
		},
		getCredentials: async (name) => {
			if (name !== credentialType.name) throw new Error(`unknown credentials ${name}`);
			return credentials;
		},
		getRequestObject: () => ({
			rawBody: request?.rawBody,
			body: request ? JSON.parse(request.rawBody.toString('utf8')) : undefined,
			headers: request?.headers,
		}),
		getHeaderData: () => request?.headers ?? {},
		getResponseObject: () => res,
		helpers: {
			async httpRequestWithAuthentication(name, options) {
				if (name !== credentialType.name) throw new Error(`unknown credentials ${name}`);
				return httpRequest(credentialType, await this.getCredentials(name), options);
			},
			returnJsonArray: (data) => (Array.isArray(data) ? data : [data]).map((json) => ({ json })),
		},
	};
	return ctx;
}

module.exports = { startLinkwire, fakeContext, testCredential, freePort, sleep };
