//! Short codes: the path segment after the domain. Parsed once at the edge, then trusted.

/// Paths the server itself answers on the default domain; a slug may never take them.
pub const RESERVED_SLUGS: &[&str] = &[
    "api",
    "admin",
    "login",
    "logout",
    "signin",
    "signout",
    "_health",
    "healthz",
    "metrics",
    ".well-known",
    "docs",
    "dashboard",
    "static",
    "assets",
    "favicon.ico",
    "robots.txt",
    "settings",
    "app",
];

pub const MAX_SLUG_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("slug must not be empty")]
    Empty,
    #[error("slug must be at most {MAX_SLUG_LEN} characters")]
    TooLong,
    #[error(
        "slug may contain only letters, digits, `-` and `_`, and must start with a letter or digit"
    )]
    InvalidCharacters,
    #[error("slug `{0}` is reserved")]
    Reserved(String),
}

/// A valid short code: 1..=64 of `[A-Za-z0-9_-]`, starting with a letter or digit, not reserved.
/// Codes are case-sensitive; reserved words are matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ShortCode(String);

impl ShortCode {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if raw.is_empty() {
            return Err(SlugError::Empty);
        }
        if RESERVED_SLUGS.iter().any(|r| r.eq_ignore_ascii_case(raw)) {
            return Err(SlugError::Reserved(raw.to_owned()));
        }
        if raw.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong);
        }
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(SlugError::InvalidCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ShortCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        for ok in ["a", "Summer-Sale_2026", "x9", &"a".repeat(64)] {
            assert!(ShortCode::parse(ok).is_ok(), "{ok}");
        }
        let cases: [(&str, SlugError); 8] = [
            ("", SlugError::Empty),
            ("-lead", SlugError::InvalidCharacters),
            ("has space", SlugError::InvalidCharacters),
            ("slash/y", SlugError::InvalidCharacters),
            ("ünï", SlugError::InvalidCharacters),
            ("API", SlugError::Reserved("API".into())),
            (".well-known", SlugError::Reserved(".well-known".into())),
            (&"a".repeat(65), SlugError::TooLong),
        ];
        for (raw, err) in cases {
            assert_eq!(ShortCode::parse(raw), Err(err), "{raw:?}");
        }
    }
}
