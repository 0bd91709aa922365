//! Who is signed in, and proof that a form came from our own page.
//!
//! The session cookie is `HttpOnly`, `SameSite=Lax`, scoped to `/dashboard`, and `Secure` whenever the public
//! URL is https. Every state-changing request is a POST form carrying the session's CSRF token in `_csrf`,
//! compared in constant time; a missing or wrong token is refused before the handler runs.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use linkwire_contract::Role;
use linkwire_store::Member;

use super::render::error_page;
use crate::auth::Auth;
use crate::service::members;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "lw_session";
pub const LOGIN_CSRF_COOKIE: &str = "lw_login_csrf";
/// Dashboard forms are small; anything bigger is not ours.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A signed-in member, with the same `Auth` the API would build for a key carrying their role's scopes.
pub struct Signed {
    pub member: Member,
    pub auth: Auth,
    pub csrf: String,
    /// The raw cookie value, needed to end the session.
    pub cookie: String,
}

impl Signed {
    pub fn can_write(&self) -> bool {
        self.member.role.can_write()
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.member.role, Role::Owner | Role::Admin)
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the dashboard path; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if state.settings.public_base().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{name}={value}; Path=/dashboard; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    )
}

fn to_login(parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| parts.method == axum::http::Method::GET && p.starts_with("/dashboard"))
        .unwrap_or("/dashboard");
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/dashboard/login?next={next}")).into_response()
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_login(parts));
        };
        let now = state.clock.now();
        let session = match members::session(&state.store, &value, now).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_login(parts)),
            Err(e) => return Err(error_page(&e.to_string(), 500)),
        };
        let auth = members::as_auth(&state.store, &session.member)
            .await
            .map_err(|_| to_login(parts))?;
        Ok(Signed {
            member: session.member,
            auth,
            csrf: session.csrf_token,
            cookie: value,
        })
    }
}

/// A submitted form: every `name=value` pair in order (repeated names, such as checkboxes, are kept).
#[derive(Debug, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn read_form(req: Request) -> Result<(Parts, FormData), Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| error_page("This form is too large.", 413))?;
    Ok((parts, FormData::parse(&bytes)))
}

fn csrf_refused() -> Response {
    error_page(
        "This form was refused: it did not carry this session's security token (CSRF check). \
         Reload the page and try again.",
        403,
    )
}

/// A form from a signed-in member whose CSRF token matches their session.
pub struct CsrfForm {
    pub signed: Signed,
    pub form: FormData,
}

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, form) = read_form(req).await?;
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        match form.get("_csrf") {
            Some(t) if tokens_match(t, &signed.csrf) => Ok(CsrfForm { signed, form }),
            _ => Err(csrf_refused()),
        }
    }
}

/// A [`CsrfForm`] from a member allowed to change things: viewers are refused here, whatever the page showed.
pub struct WriteForm {
    pub signed: Signed,
    pub form: FormData,
}

impl FromRequest<AppState> for WriteForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let CsrfForm { signed, form } = CsrfForm::from_request(req, state).await?;
        if !signed.can_write() {
            return Err(error_page(
                "Viewers can look but not change anything. Ask an owner or admin for a different role.",
                403,
            ));
        }
        Ok(WriteForm { signed, form })
    }
}

/// The login form, checked against the pre-session double-submit cookie.
pub struct LoginForm {
    pub form: FormData,
}

impl FromRequest<AppState> for LoginForm {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Response> {
        let (parts, form) = read_form(req).await?;
        let cookie_token = cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or("");
        match form.get("_csrf") {
            Some(t) if !cookie_token.is_empty() && tokens_match(t, cookie_token) => {
                Ok(LoginForm { form })
            }
            _ => Err(csrf_refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_forms_parse() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; lw_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, "lw_session"), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let f = FormData::parse(b"t=a&t=b&name=+x+&_csrf=z%3D");
        assert_eq!(f.all("t"), ["a", "b"]);
        assert_eq!(f.text("name"), Some("x"));
        assert_eq!(f.get("_csrf"), Some("z="));
        assert!(
            tokens_match("abc", "abc") && !tokens_match("abc", "abd") && !tokens_match("ab", "abc")
        );
    }
}
