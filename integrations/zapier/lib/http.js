'use strict';

// Shared request helpers: the base URL entered at connection time, and the middleware that
// authenticates every request with the installation token.

const baseUrl = (bundle) =>
  String((bundle.authData && bundle.authData.base_url) || '')
    .trim()
    .replace(/\/+$/, '');

// beforeRequest: every request carries `Authorization: Bearer <installation token>` and asks for JSON.
const addBearerHeader = (request, z, bundle) => {
  const token = bundle.authData && bundle.authData.token;
  request.headers = request.headers || {};
  if (token) {
    request.headers.Authorization = `Bearer ${String(token).trim()}`;
  }
  if (!request.headers.Accept && !request.headers.accept) {
    request.headers.Accept = 'application/json';
  }
  return request;
};

// Pulls linkwire's `{"error":{"code","message","request_id"}}` body apart, if there is one.
const linkwireError = (response) => {
  try {
    const body = response.data !== undefined ? response.data : JSON.parse(response.content);
    if (body && body.error) {
      return body.error;
    }
  } catch (e) {
    // not JSON; fall through
  }
  return null;
};

// afterResponse: turn linkwire's 401/403 into messages a Zapier user can act on. Other statuses fall
// through to zapier-platform-core's own throwForStatus (which runs after this middleware).
const explainAuthErrors = (response, z) => {
  if (response.status === 401 || response.status === 403) {
    const err = linkwireError(response);
    const detail = err ? ` (${err.code}: ${err.message})` : '';
    const hint =
      response.status === 401
        ? 'linkwire rejected the installation token; it may have been revoked. Reconnect with a new token'
        : 'The installation token is not allowed to do this';
    throw new z.errors.Error(`${hint}${detail}.`, 'AuthenticationError', response.status);
  }
  return response;
};

module.exports = { baseUrl, addBearerHeader, explainAuthErrors, linkwireError };
