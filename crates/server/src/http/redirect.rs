//! The redirect path: `GET|HEAD /{code}` on any host. Looks the link up in the cache, queues the raw hit,
//! and answers. It never waits for enrichment, storage or delivery.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use linkwire_contract::link::redirect_location;
use linkwire_contract::{LinkStatus, RedirectStatus, ShortCode};
use linkwire_enrich::{RawHit, QR_MARKER};

use crate::clicks::Hit;
use crate::service::links::password_matches;
use crate::state::AppState;
use crate::throttle::{self, Guarded};

/// Longest query value we keep from a visitor (UTM values end up in events).
const MAX_QUERY_VALUE: usize = 500;
const MAX_PASSWORD_FORM: usize = 4096;

pub async fn redirect(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = parts.uri.path();
    if path == "/" {
        return home();
    }
    let Some(code) = path
        .strip_prefix('/')
        .filter(|c| ShortCode::parse(c).is_ok())
    else {
        return not_found(&state);
    };
    let host = host_of(&parts.headers);
    let domain = match state.cache.domain_for_host(&state.store, &host).await {
        Ok(d) if d.ready => d,
        Ok(_) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    let cached = match state.cache.link(&state.store, domain.id, code).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(&state),
        Err(e) => return unavailable(e),
    };
    let link = &cached.link;
    let now = state.clock.now();
    if link.status == LinkStatus::Disabled {
        state.metrics.redirects.disabled.inc();
        return gone("This link has been disabled.");
    }
    if link.is_expired(now) {
        state.metrics.redirects.expired.inc();
        return gone("This link has expired.");
    }
    if let Some(hash) = &link.password_hash {
        if method != Method::POST {
            state.metrics.redirects.password_form.inc();
            return password_form(StatusCode::OK, false);
        }
        let link_id = link.id.to_string();
        let guarded = Guarded::Link(&link_id);
        let client =
            throttle::client_address(peer, &parts.headers, &state.settings.trusted_proxies);
        if let Err(wait) = state.passwords.begin(guarded, client, now) {
            state.metrics.redirects.password_form.inc();
            return password_form_locked(wait);
        }
        let Ok(bytes) = axum::body::to_bytes(body, MAX_PASSWORD_FORM).await else {
            return password_form(StatusCode::PAYLOAD_TOO_LARGE, true);
        };
        let given = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.into_owned());
        let hash = hash.clone();
        // argon2 is deliberately slow: keep it off the async workers.
        let ok =
            tokio::task::spawn_blocking(move || given.is_some_and(|g| password_matches(&hash, &g)))
                .await
                .unwrap_or(false);
        if !ok {
            state.metrics.redirects.password_form.inc();
            return password_form(StatusCode::UNAUTHORIZED, true);
        }
        state.passwords.succeeded(guarded, client);
    } else if method == Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }

    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| {
                    let mut v = v.into_owned();
                    if v.len() > MAX_QUERY_VALUE {
                        let cut = (0..=MAX_QUERY_VALUE)
                            .rev()
                            .find(|&i| v.is_char_boundary(i))
                            .unwrap_or(0);
                        v.truncate(cut);
                    }
                    (k.into_owned(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    let location = redirect_location(
        link.destination.url(),
        &link.utm,
        query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        QR_MARKER,
    );
    let status = link.redirect_status;

    let header_str = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let raw = RawHit {
        method_is_head: method == Method::HEAD,
        user_agent: header_str(header::USER_AGENT),
        referer: header_str(header::REFERER),
        purpose: parts
            .headers
            .get("sec-purpose")
            .or_else(|| parts.headers.get("purpose"))
            .or_else(|| parts.headers.get("x-moz"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        peer_ip: peer.ip(),
        forwarded_for: throttle::forwarded_for(&parts.headers),
        proxy_country: parts
            .headers
            .get("cf-ipcountry")
            .or_else(|| parts.headers.get("x-country-code"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        query,
        link_utm: link.utm.clone(),
    };
    state
        .clicks
        .submit(Hit {
            link: cached.clone(),
            at: now,
            raw,
        })
        .await;
    state.metrics.redirects.redirected.inc();
    redirect_response(status, &location)
}

fn redirect_response(status: RedirectStatus, location: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    match status {
        RedirectStatus::Found => {
            *response.status_mut() = StatusCode::FOUND;
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
        }
        RedirectStatus::MovedPermanently => *response.status_mut() = StatusCode::MOVED_PERMANENTLY,
    }
    response
}

/// The request's host, lowercased, without port.
fn host_of(headers: &HeaderMap) -> String {
    let raw = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let host = if raw.starts_with('[') {
        raw.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or_default()
    } else {
        raw.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1f2937}}\
         input,button{{font:inherit;padding:.5rem;margin:.25rem 0}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    let mut r = (status, Html(html)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    r
}

fn home() -> Response {
    page(
        StatusCode::OK,
        "linkwire",
        "<p>This host serves short links.</p>",
    )
}

fn not_found(state: &AppState) -> Response {
    state.metrics.redirects.not_found.inc();
    page(
        StatusCode::NOT_FOUND,
        "Link not found",
        "<p>There is no short link at this address.</p>",
    )
}

fn gone(message: &str) -> Response {
    page(
        StatusCode::GONE,
        "Link unavailable",
        &format!("<p>{message}</p>"),
    )
}

fn password_form(status: StatusCode, wrong: bool) -> Response {
    let error = if wrong {
        "<p role=\"alert\">That password is not right. Try again.</p>"
    } else {
        ""
    };
    let body = format!(
        "<p>This link is protected.</p>{error}<form method=\"post\"><label for=\"password\">Password</label><br>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus> \
         <button type=\"submit\">Continue</button></form>"
    );
    page(status, "Password required", &body)
}

fn password_form_locked(wait: chrono::Duration) -> Response {
    let body = format!(
        "<p>This link is protected.</p><p role=\"alert\">Too many wrong passwords. Try again in {}.</p>",
        crate::throttle::describe(wait)
    );
    let mut res = page(StatusCode::TOO_MANY_REQUESTS, "Password required", &body);
    res.headers_mut()
        .insert(header::RETRY_AFTER, crate::throttle::retry_after(wait));
    res
}

fn unavailable(error: linkwire_store::StoreError) -> Response {
    tracing::error!(error = %error, "redirect lookup failed");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_loses_port_and_case() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("Go.Example.com:8080"),
        );
        assert_eq!(host_of(&h), "go.example.com");
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(host_of(&h), "::1");
        assert_eq!(host_of(&HeaderMap::new()), "");
    }
}
