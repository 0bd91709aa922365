//! Pages: minijinja templates compiled into the binary (HTML auto-escaping on), the embedded assets, and
//! the headers every dashboard answer carries.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),+]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "login.html",
    "error.html",
    "overview.html",
    "webhooks.html",
    "webhook_new.html",
    "secret.html",
    "endpoint.html",
    "delivery.html",
    "destinations.html",
    "installations.html",
    "links.html",
    "link.html",
    "api_keys.html",
    "members.html",
);

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
});

/// Security headers: no framing, no caching of pages that show secrets, only our own scripts and styles.
fn harden(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'",
        ),
    );
    res
}

pub fn page_with_status(name: &str, ctx: impl Serialize, status: u16) -> Response {
    let rendered = ENV
        .get_template(name)
        .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
    match rendered {
        Ok(html) => harden(
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                Html(html),
            )
                .into_response(),
        ),
        Err(e) => {
            tracing::error!(template = name, error = %e, "dashboard template failed");
            harden(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<h1>Internal error</h1>"),
                )
                    .into_response(),
            )
        }
    }
}

pub fn page(name: &str, ctx: impl Serialize) -> Response {
    page_with_status(name, ctx, 200)
}

/// A plain page for errors that have no better place to appear.
pub fn error_page(message: &str, status: u16) -> Response {
    let title = match status {
        403 => "Not allowed",
        404 => "Not found",
        413 => "Too large",
        s if s >= 500 => "Something went wrong",
        _ => "That did not work",
    };
    page_with_status(
        "error.html",
        serde_json::json!({ "title": title, "message": message, "status": status }),
        status,
    )
}

const CSS: &str = include_str!("../../assets/dashboard.css");
const JS: &str = include_str!("../../assets/dashboard.js");
const DOCS_JS: &str = include_str!("../../assets/docs.js");

pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "dashboard.css" => (CSS, "text/css; charset=utf-8"),
        "dashboard.js" => (JS, "text/javascript; charset=utf-8"),
        "docs.js" => (DOCS_JS, "text/javascript; charset=utf-8"),
        _ => return error_page("No such asset.", 404),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        assert_eq!(super::ENV.templates().count(), super::TEMPLATES.len());
    }
}
