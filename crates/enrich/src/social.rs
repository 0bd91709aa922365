//! Referrer host and social source.

use url::Url;

/// Registrable domains of social networks (matched as the host itself or any parent domain) and their source.
const DOMAINS: &[(&str, &str)] = &[
    ("facebook.com", "facebook"),
    ("fb.com", "facebook"),
    ("fb.me", "facebook"),
    ("instagram.com", "instagram"),
    ("twitter.com", "twitter"),
    ("x.com", "twitter"),
    ("t.co", "twitter"),
    ("linkedin.com", "linkedin"),
    ("lnkd.in", "linkedin"),
    ("reddit.com", "reddit"),
    ("redd.it", "reddit"),
    ("youtube.com", "youtube"),
    ("youtu.be", "youtube"),
    ("tiktok.com", "tiktok"),
    ("pinterest.com", "pinterest"),
    ("pin.it", "pinterest"),
    ("snapchat.com", "snapchat"),
    ("whatsapp.com", "whatsapp"),
    ("wa.me", "whatsapp"),
    ("t.me", "telegram"),
    ("telegram.org", "telegram"),
    ("slack.com", "slack"),
    ("slack-redir.net", "slack"),
    ("discord.com", "discord"),
    ("discord.gg", "discord"),
    ("discordapp.com", "discord"),
    ("threads.net", "threads"),
    ("threads.com", "threads"),
    ("bsky.app", "bluesky"),
    ("mastodon.social", "mastodon"),
];

/// The lowercase host of a `Referer` value, without port or trailing dot; `None` when absent, not an
/// http(s) URL, or without a host.
pub fn referrer_host(referer: Option<&str>) -> Option<String> {
    let url = Url::parse(referer?.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The social network a click came from: by referrer host (the host or any parent domain) first, then by the
/// in-app browser named in the user agent. `None` when neither says.
pub fn social_source(referrer_host: Option<&str>, ua: Option<&str>) -> Option<&'static str> {
    referrer_host
        .and_then(source_for_host)
        .or_else(|| ua.and_then(crate::ua::in_app_source))
}

fn source_for_host(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.');
    if host.len() > 9
        && host
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("mastodon."))
    {
        return Some("mastodon");
    }
    DOMAINS
        .iter()
        .find(|(domain, _)| is_same_or_subdomain(host, domain))
        .map(|(_, src)| *src)
}

fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    if host.len() == domain.len() {
        return host.eq_ignore_ascii_case(domain);
    }
    host.len() > domain.len()
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host.as_bytes()[host.len() - domain.len()..].eq_ignore_ascii_case(domain.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_matching_respects_label_boundaries() {
        assert!(is_same_or_subdomain("l.facebook.com", "facebook.com"));
        assert!(is_same_or_subdomain("FACEBOOK.COM", "facebook.com"));
        assert!(!is_same_or_subdomain("notfacebook.com", "facebook.com"));
        assert!(!is_same_or_subdomain(
            "facebook.com.evil.io",
            "facebook.com"
        ));
        assert!(!is_same_or_subdomain("box.com", "x.com"));
        assert!(is_same_or_subdomain("mobile.x.com", "x.com"));
    }
}
