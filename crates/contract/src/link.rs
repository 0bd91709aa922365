//! Link vocabulary: destinations and their safe forms, redirect codes, statuses, touch types, UTM.

use url::Url;

use crate::string_enum;

/// Safe destination fields never exceed this many characters (contract §3).
pub const DESTINATION_CAP: usize = 200;
pub const MAX_DESTINATION_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("long_url is not a valid absolute URL")]
    Invalid,
    #[error("long_url must use http or https")]
    Scheme,
    #[error("long_url must be at most {MAX_DESTINATION_LEN} characters")]
    TooLong,
}

/// A link's destination. The raw URL is private to storage and the redirect; payloads get [`Self::host`]
/// and [`Self::capped`] only.
#[derive(Clone, PartialEq, Eq)]
pub struct DestinationUrl(Url);

impl std::fmt::Debug for DestinationUrl {
    // Never print the raw destination: it may carry signed or personal query parameters.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DestinationUrl({})", self.capped())
    }
}

impl DestinationUrl {
    pub fn parse(raw: &str) -> Result<Self, DestinationError> {
        let raw = raw.trim();
        if raw.len() > MAX_DESTINATION_LEN {
            return Err(DestinationError::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| DestinationError::Invalid)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DestinationError::Scheme);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DestinationError::Invalid);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    /// Lowercase host, without port.
    pub fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_ascii_lowercase()
    }

    /// The destination without userinfo, query and fragment, cut to at most 200 characters.
    pub fn capped(&self) -> String {
        let mut u = self.0.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_query(None);
        u.set_fragment(None);
        let s = u.as_str();
        match s.char_indices().nth(DESTINATION_CAP) {
            Some((cut, _)) => s[..cut].to_owned(),
            None => s.to_owned(),
        }
    }
}

string_enum! {
    pub enum LinkStatus: "link status" {
        Active = "active",
        Disabled = "disabled",
        Deleted = "deleted",
    }
}

string_enum! {
    pub enum TouchType: "touch_type" {
        ShortLinkClick = "short_link_click",
        QrScan = "qr_scan",
    }
}

string_enum! {
    pub enum DeviceCategory: "device_category" {
        Mobile = "mobile",
        Tablet = "tablet",
        Desktop = "desktop",
    }
}

string_enum! {
    /// Where a link was created from (`link.created` `source`).
    pub enum LinkSource: "source" {
        Api = "api",
        Dashboard = "dashboard",
        Import = "import",
        System = "system",
    }
}

/// 302 by default; 301 on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectStatus {
    MovedPermanently,
    #[default]
    Found,
}

impl RedirectStatus {
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            301 => Some(Self::MovedPermanently),
            302 => Some(Self::Found),
            _ => None,
        }
    }
    pub fn code(self) -> u16 {
        match self {
            Self::MovedPermanently => 301,
            Self::Found => 302,
        }
    }
}

/// The five UTM parameters, in their canonical order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UtmParams {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
}

impl UtmParams {
    pub const KEYS: [&'static str; 5] = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ];

    /// `(key, value)` for the non-empty parameters, in canonical order.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        Self::KEYS
            .into_iter()
            .zip([
                &self.utm_source,
                &self.utm_medium,
                &self.utm_campaign,
                &self.utm_term,
                &self.utm_content,
            ])
            .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().next().is_none()
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "utm_source" => Some(&mut self.utm_source),
            "utm_medium" => Some(&mut self.utm_medium),
            "utm_campaign" => Some(&mut self.utm_campaign),
            "utm_term" => Some(&mut self.utm_term),
            "utm_content" => Some(&mut self.utm_content),
            _ => None,
        }
    }

    /// Drops empty values so that "" and absent mean the same.
    pub fn normalized(mut self) -> Self {
        for v in [
            &mut self.utm_source,
            &mut self.utm_medium,
            &mut self.utm_campaign,
            &mut self.utm_term,
            &mut self.utm_content,
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        self
    }
}

/// The Location for a redirect: the destination, then the link's UTM parameters (replacing same-named ones
/// already there), then the visitor's own query parameters except the `skip` pair (the QR marker, matched by
/// key and value) and UTM keys the
/// link already set.
pub fn redirect_location<'a>(
    destination: &Url,
    utm: &UtmParams,
    request_query: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: (&str, &str),
) -> String {
    let link_utm: Vec<(&str, &str)> = utm.pairs().collect();
    let forwarded: Vec<(&str, &str)> = request_query
        .into_iter()
        .filter(|&(k, v)| (k, v) != skip && !link_utm.iter().any(|(lk, _)| *lk == k))
        .collect();
    if link_utm.is_empty() && forwarded.is_empty() {
        return destination.as_str().to_owned();
    }
    let mut url = destination.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !link_utm.iter().any(|(lk, _)| lk == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in link_utm.iter().chain(forwarded.iter()) {
            q.append_pair(k, v);
        }
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_destination_drops_userinfo_query_and_fragment() {
        let d = DestinationUrl::parse(
            "https://user:pw@Shop.Example.COM:8443/p/a?token=secret&x=1#frag",
        )
        .unwrap();
        assert_eq!(d.host(), "shop.example.com");
        assert_eq!(d.capped(), "https://shop.example.com:8443/p/a");
        let long = format!("https://e.com/{}", "x".repeat(400));
        assert_eq!(
            DestinationUrl::parse(&long)
                .unwrap()
                .capped()
                .chars()
                .count(),
            200
        );
    }

    #[test]
    fn destination_errors() {
        assert_eq!(
            DestinationUrl::parse("not a url"),
            Err(DestinationError::Invalid)
        );
        assert_eq!(
            DestinationUrl::parse("ftp://x.com/"),
            Err(DestinationError::Scheme)
        );
        assert_eq!(
            DestinationUrl::parse("javascript:alert(1)"),
            Err(DestinationError::Scheme)
        );
        let huge = format!("https://e.com/{}", "x".repeat(5000));
        assert_eq!(DestinationUrl::parse(&huge), Err(DestinationError::TooLong));
    }

    #[test]
    fn debug_never_prints_the_query() {
        let d = DestinationUrl::parse("https://e.com/a?secret=1").unwrap();
        assert!(!format!("{d:?}").contains("secret"));
    }

    #[test]
    fn location_adds_utm_in_order_and_forwards_the_query() {
        let dest = Url::parse("https://e.com/p?a=1&utm_source=old").unwrap();
        let utm = UtmParams {
            utm_campaign: Some("spring".into()),
            utm_source: Some("news".into()),
            utm_medium: Some("".into()),
            ..Default::default()
        };
        let loc = redirect_location(
            &dest,
            &utm,
            [
                ("nr", "qr"),
                ("ref", "x y"),
                ("utm_source", "visitor"),
                ("nr", "7"),
            ],
            ("nr", "qr"),
        );
        assert_eq!(
            loc,
            "https://e.com/p?a=1&utm_source=news&utm_campaign=spring&ref=x+y&nr=7"
        );
        let plain = redirect_location(&dest, &UtmParams::default(), [], ("nr", "qr"));
        assert_eq!(plain, "https://e.com/p?a=1&utm_source=old");
    }

    #[test]
    fn redirect_codes() {
        assert_eq!(RedirectStatus::from_code(301).map(|r| r.code()), Some(301));
        assert_eq!(RedirectStatus::from_code(307), None);
        assert_eq!(RedirectStatus::default().code(), 302);
    }
}
