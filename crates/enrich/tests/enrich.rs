//! `Enricher::enrich` end to end: bot signals, touch type, geo and proxies, referrer, UTM, visitor hash.

use std::net::IpAddr;
use std::path::PathBuf;

use linkwire_contract::{DeviceCategory, TouchType, UtmParams};
use linkwire_enrich::{
    referrer_host, social_source, ClickFacts, EnrichError, Enricher, EnricherConfig, RawHit,
    QR_MARKER,
};

const SAFARI_IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 \
                             (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const SALT_A: [u8; 32] = [7; 32];
const SALT_B: [u8; 32] = [8; 32];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn enricher(geo: Option<&str>, proxies: &[&str]) -> Enricher {
    Enricher::new(EnricherConfig {
        geo_db: geo.map(data),
        trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
    })
    .unwrap()
}

fn hit(ip: &str) -> RawHit {
    RawHit {
        method_is_head: false,
        user_agent: Some(SAFARI_IPHONE.into()),
        referer: None,
        purpose: None,
        peer_ip: ip.parse().unwrap(),
        forwarded_for: None,
        proxy_country: None,
        query: Vec::new(),
        link_utm: UtmParams::default(),
    }
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_plain_browser_click() {
    let e = enricher(Some("GeoLite2-Country-Test.mmdb"), &[]);
    let mut h = hit("81.2.69.142");
    h.referer = Some("https://L.Facebook.com:443/l.php?u=x".into());
    let f = e.enrich(&h, &SALT_A);
    assert_eq!(
        f,
        ClickFacts {
            is_bot: false,
            touch_type: TouchType::ShortLinkClick,
            country: Some("GB".into()),
            device_category: Some(DeviceCategory::Mobile),
            browser_family: Some("Mobile Safari".into()),
            os_family: Some("iOS".into()),
            referrer_host: Some("l.facebook.com".into()),
            social_source: Some("facebook".into()),
            utm: UtmParams::default(),
            visitor_hash: f.visitor_hash.clone(),
        }
    );
    assert_eq!(f.visitor_hash.len(), 64);
    assert!(f
        .visitor_hash
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn bot_signals_through_enrich() {
    let e = enricher(None, &[]);
    let cases: Vec<(&str, RawHit, bool)> = vec![
        ("browser GET", hit("1.2.3.4"), false),
        (
            "missing UA",
            RawHit {
                user_agent: None,
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "empty UA",
            RawHit {
                user_agent: Some(String::new()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "blank UA",
            RawHit {
                user_agent: Some("  ".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "HEAD",
            RawHit {
                method_is_head: true,
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "Sec-Purpose prefetch",
            RawHit {
                purpose: Some("prefetch".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "prefetch;prerender",
            RawHit {
                purpose: Some("prefetch;prerender".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "Purpose: Prefetch",
            RawHit {
                purpose: Some("Prefetch".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "other purpose",
            RawHit {
                purpose: Some("prerender".into()),
                ..hit("1.2.3.4")
            },
            false,
        ),
        (
            "crawler UA",
            RawHit {
                user_agent: Some("Twitterbot/1.0".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
        (
            "curl",
            RawHit {
                user_agent: Some("curl/8.5.0".into()),
                ..hit("1.2.3.4")
            },
            true,
        ),
    ];
    for (name, h, want) in cases {
        assert_eq!(e.enrich(&h, &SALT_A).is_bot, want, "{name}");
    }
}

#[test]
fn qr_marker_sets_touch_type() {
    let e = enricher(None, &[]);
    assert_eq!(QR_MARKER, ("nr", "qr"));
    let cases: &[(&[(&str, &str)], TouchType)] = &[
        (&[], TouchType::ShortLinkClick),
        (&[("nr", "qr")], TouchType::QrScan),
        (&[("a", "1"), ("nr", "qr")], TouchType::QrScan),
        (&[("nr", "QR")], TouchType::QrScan),
        (&[("nr", "other")], TouchType::ShortLinkClick),
        (&[("qr", "nr")], TouchType::ShortLinkClick),
        (&[("NR", "qr")], TouchType::ShortLinkClick),
    ];
    for (query, want) in cases {
        let h = RawHit {
            query: q(query),
            ..hit("1.2.3.4")
        };
        assert_eq!(e.enrich(&h, &SALT_A).touch_type, *want, "{query:?}");
    }
}

#[test]
fn geo_lookup_with_the_fixture_databases() {
    for db in ["GeoLite2-Country-Test.mmdb", "GeoLite2-City-Test.mmdb"] {
        let e = enricher(Some(db), &[]);
        assert!(e.has_geo());
        for (ip, want) in [
            ("81.2.69.142", Some("GB")),
            ("89.160.20.112", Some("SE")),
            ("216.160.83.56", Some("US")),
            ("2001:218::1", Some("JP")),
            ("::ffff:81.2.69.142", Some("GB")),
            ("127.0.0.1", None),
            ("10.1.2.3", None),
            ("::1", None),
        ] {
            assert_eq!(
                e.enrich(&hit(ip), &SALT_A).country.as_deref(),
                want,
                "{db} {ip}"
            );
            assert_eq!(
                e.lookup_country(ip.parse().unwrap()).as_deref(),
                want,
                "{db} {ip}"
            );
        }
    }
    // No database: no country.
    assert_eq!(
        enricher(None, &[])
            .enrich(&hit("81.2.69.142"), &SALT_A)
            .country,
        None
    );
}

#[test]
fn missing_or_bad_geo_database_is_an_error() {
    let err = Enricher::new(EnricherConfig {
        geo_db: Some(data("nope.mmdb")),
        trusted_proxies: vec![],
    })
    .unwrap_err();
    assert!(matches!(&err, EnrichError::GeoDatabase { path, .. } if path.ends_with("nope.mmdb")));
    assert!(err.to_string().contains("nope.mmdb"));
    let err = Enricher::new(EnricherConfig {
        geo_db: Some(data("README.md")),
        trusted_proxies: vec![],
    });
    assert!(err.is_err());
}

struct ProxyCase {
    name: &'static str,
    peer: &'static str,
    xff: Option<&'static str>,
    header: Option<&'static str>,
    country: Option<&'static str>,
    /// The address whose hash `visitor_hash` must equal.
    client: &'static str,
}

#[test]
fn trusted_proxies_country_header_and_forwarded_for() {
    let e = enricher(
        Some("GeoLite2-Country-Test.mmdb"),
        &["10.0.0.0/8", "2001:db8::/32"],
    );
    let no_geo = enricher(None, &["10.0.0.0/8"]);
    let cases = [
        ProxyCase {
            name: "trusted header wins",
            peer: "10.0.0.1",
            xff: Some("81.2.69.142"),
            header: Some("de"),
            country: Some("DE"),
            client: "81.2.69.142",
        },
        ProxyCase {
            name: "XX falls back to XFF",
            peer: "10.0.0.1",
            xff: Some("89.160.20.112"),
            header: Some("XX"),
            country: Some("SE"),
            client: "89.160.20.112",
        },
        ProxyCase {
            name: "T1 falls back to XFF",
            peer: "10.0.0.1",
            xff: Some("89.160.20.112"),
            header: Some("T1"),
            country: Some("SE"),
            client: "89.160.20.112",
        },
        ProxyCase {
            name: "garbage header falls back",
            peer: "10.0.0.1",
            xff: Some("216.160.83.56"),
            header: Some("United States"),
            country: Some("US"),
            client: "216.160.83.56",
        },
        ProxyCase {
            name: "right-most untrusted XFF entry",
            peer: "10.0.0.1",
            xff: Some("89.160.20.112, 81.2.69.142, 10.0.0.7"),
            header: None,
            country: Some("GB"),
            client: "81.2.69.142",
        },
        ProxyCase {
            name: "IPv6 proxy and client",
            peer: "2001:db8::1",
            xff: Some("2001:218::1"),
            header: None,
            country: Some("JP"),
            client: "2001:218::1",
        },
        ProxyCase {
            name: "IPv4-mapped trusted peer",
            peer: "::ffff:10.0.0.1",
            xff: Some("216.160.83.56"),
            header: None,
            country: Some("US"),
            client: "216.160.83.56",
        },
        ProxyCase {
            name: "trusted peer, no XFF: peer itself",
            peer: "10.0.0.1",
            xff: None,
            header: None,
            country: None,
            client: "10.0.0.1",
        },
        ProxyCase {
            name: "untrusted peer: header ignored",
            peer: "81.2.69.142",
            xff: None,
            header: Some("US"),
            country: Some("GB"),
            client: "81.2.69.142",
        },
        ProxyCase {
            name: "untrusted peer: XFF ignored",
            peer: "81.2.69.142",
            xff: Some("89.160.20.112"),
            header: None,
            country: Some("GB"),
            client: "81.2.69.142",
        },
        ProxyCase {
            name: "untrusted private peer: nothing believed",
            peer: "192.168.1.5",
            xff: Some("89.160.20.112"),
            header: Some("SE"),
            country: None,
            client: "192.168.1.5",
        },
    ];
    for c in cases {
        let h = RawHit {
            forwarded_for: c.xff.map(Into::into),
            proxy_country: c.header.map(Into::into),
            ..hit(c.peer)
        };
        let f = e.enrich(&h, &SALT_A);
        assert_eq!(f.country.as_deref(), c.country, "{}", c.name);
        let client: IpAddr = c.client.parse().unwrap();
        assert_eq!(
            f.visitor_hash,
            linkwire_enrich::visitor_hash(client, &SALT_A),
            "{}",
            c.name
        );
    }

    // Without a database the trusted header alone gives the country.
    let h = RawHit {
        proxy_country: Some("gb".into()),
        forwarded_for: Some("81.2.69.142".into()),
        ..hit("10.0.0.1")
    };
    assert_eq!(no_geo.enrich(&h, &SALT_A).country.as_deref(), Some("GB"));
    let h = RawHit {
        proxy_country: Some("XX".into()),
        forwarded_for: Some("81.2.69.142".into()),
        ..hit("10.0.0.1")
    };
    assert_eq!(no_geo.enrich(&h, &SALT_A).country, None);
}

#[test]
fn referrer_host_table() {
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some(""), None),
        (Some("not a url"), None),
        (Some("/relative/path"), None),
        (
            Some("https://Example.COM:8443/a?b=c#d"),
            Some("example.com"),
        ),
        (
            Some("http://news.ycombinator.com/"),
            Some("news.ycombinator.com"),
        ),
        (Some("https://www.google.com."), Some("www.google.com")),
        (Some("https://user:pw@t.co/abc"), Some("t.co")),
        (Some("https://[2001:db8::1]:8080/"), Some("[2001:db8::1]")),
        (Some("android-app://com.slack/"), None),
        (Some("ftp://files.example.com/"), None),
        (
            Some("https://BÜCHER.example/"),
            Some("xn--bcher-kva.example"),
        ),
    ];
    for (referer, want) in cases {
        assert_eq!(referrer_host(*referer).as_deref(), *want, "{referer:?}");
    }
}

#[test]
fn social_source_table() {
    let by_host: &[(&str, Option<&str>)] = &[
        ("facebook.com", Some("facebook")),
        ("m.facebook.com", Some("facebook")),
        ("l.facebook.com", Some("facebook")),
        ("lm.facebook.com", Some("facebook")),
        ("fb.com", Some("facebook")),
        ("instagram.com", Some("instagram")),
        ("l.instagram.com", Some("instagram")),
        ("twitter.com", Some("twitter")),
        ("mobile.twitter.com", Some("twitter")),
        ("x.com", Some("twitter")),
        ("t.co", Some("twitter")),
        ("www.linkedin.com", Some("linkedin")),
        ("lnkd.in", Some("linkedin")),
        ("old.reddit.com", Some("reddit")),
        ("out.reddit.com", Some("reddit")),
        ("redd.it", Some("reddit")),
        ("www.youtube.com", Some("youtube")),
        ("youtu.be", Some("youtube")),
        ("www.tiktok.com", Some("tiktok")),
        ("pinterest.com", Some("pinterest")),
        ("pin.it", Some("pinterest")),
        ("www.snapchat.com", Some("snapchat")),
        ("web.whatsapp.com", Some("whatsapp")),
        ("wa.me", Some("whatsapp")),
        ("t.me", Some("telegram")),
        ("web.telegram.org", Some("telegram")),
        ("slack.com", Some("slack")),
        ("acme.slack.com", Some("slack")),
        ("slack-redir.net", Some("slack")),
        ("discord.com", Some("discord")),
        ("discord.gg", Some("discord")),
        ("discordapp.com", Some("discord")),
        ("www.threads.net", Some("threads")),
        ("bsky.app", Some("bluesky")),
        ("mastodon.social", Some("mastodon")),
        ("mastodon.online", Some("mastodon")),
        ("mastodon.example.org", Some("mastodon")),
        ("www.google.com", None),
        ("notfacebook.com", None),
        ("facebook.com.evil.example", None),
        ("box.com", None),
        ("at.me", None),
        ("mastodon", None),
        ("news.ycombinator.com", None),
    ];
    for (host, want) in by_host {
        assert_eq!(social_source(Some(host), None), *want, "{host}");
    }
    let insta = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Mobile/15E148 Instagram 311.0.2.25.111 (iPhone15,2; iOS 17_1_2; en_US; en; scale=3.00)";
    // Referrer first, in-app UA as fallback.
    assert_eq!(social_source(Some("t.co"), Some(insta)), Some("twitter"));
    assert_eq!(
        social_source(Some("www.google.com"), Some(insta)),
        Some("instagram")
    );
    assert_eq!(social_source(None, Some(insta)), Some("instagram"));
    assert_eq!(social_source(None, Some(SAFARI_IPHONE)), None);
    assert_eq!(social_source(None, None), None);

    // Through enrich.
    let e = enricher(None, &[]);
    let h = RawHit {
        user_agent: Some(insta.into()),
        referer: None,
        ..hit("1.2.3.4")
    };
    let f = e.enrich(&h, &SALT_A);
    assert_eq!(
        (f.social_source.as_deref(), f.browser_family.as_deref()),
        (Some("instagram"), Some("Instagram"))
    );
    let h = RawHit {
        referer: Some("https://t.co/xyz".into()),
        ..hit("1.2.3.4")
    };
    assert_eq!(
        e.enrich(&h, &SALT_A).social_source.as_deref(),
        Some("twitter")
    );
}

#[test]
fn utm_precedence() {
    let e = enricher(None, &[]);
    let link = UtmParams {
        utm_source: Some("newsletter".into()),
        utm_medium: Some("email".into()),
        utm_campaign: Some("".into()),
        ..Default::default()
    };
    let link_normalized = UtmParams {
        utm_source: Some("newsletter".into()),
        utm_medium: Some("email".into()),
        ..Default::default()
    };
    type Case = (&'static str, Vec<(String, String)>, UtmParams);
    let cases: Vec<Case> = vec![
        (
            "no query: link's, normalized",
            vec![],
            link_normalized.clone(),
        ),
        (
            "unrelated query",
            q(&[("ref", "x"), ("nr", "qr")]),
            link_normalized.clone(),
        ),
        (
            "empty request utm ignored",
            q(&[("utm_source", ""), ("utm_medium", "  ")]),
            link_normalized.clone(),
        ),
        (
            "any request utm: all five from the request",
            q(&[("utm_campaign", "spring"), ("utm_term", "")]),
            UtmParams {
                utm_campaign: Some("spring".into()),
                ..Default::default()
            },
        ),
        (
            "full request utm, first occurrence wins",
            q(&[
                ("utm_source", "qr-poster"),
                ("utm_medium", "print"),
                ("utm_campaign", "spring"),
                ("utm_term", "shoes"),
                ("utm_content", "v2"),
                ("utm_source", "later"),
                ("utm_other", "ignored"),
            ]),
            UtmParams {
                utm_source: Some("qr-poster".into()),
                utm_medium: Some("print".into()),
                utm_campaign: Some("spring".into()),
                utm_term: Some("shoes".into()),
                utm_content: Some("v2".into()),
            },
        ),
        (
            "case-sensitive keys",
            q(&[("UTM_SOURCE", "x")]),
            link_normalized.clone(),
        ),
    ];
    for (name, query, want) in cases {
        let h = RawHit {
            query,
            link_utm: link.clone(),
            ..hit("1.2.3.4")
        };
        assert_eq!(e.enrich(&h, &SALT_A).utm, want, "{name}");
    }
}

#[test]
fn visitor_hash_is_deterministic_per_salt() {
    let e = enricher(None, &[]);
    let hash = |ip: &str, salt: &[u8; 32]| e.enrich(&hit(ip), salt).visitor_hash;
    assert_eq!(hash("81.2.69.142", &SALT_A), hash("81.2.69.142", &SALT_A));
    assert_ne!(hash("81.2.69.142", &SALT_A), hash("81.2.69.142", &SALT_B));
    assert_ne!(hash("81.2.69.142", &SALT_A), hash("81.2.69.143", &SALT_A));
    // The mapped and plain forms of one IPv4 address are one visitor.
    assert_eq!(
        hash("::ffff:81.2.69.142", &SALT_A),
        hash("81.2.69.142", &SALT_A)
    );
    // The UA does not take part.
    let other_ua = RawHit {
        user_agent: Some("curl/8.5.0".into()),
        ..hit("81.2.69.142")
    };
    assert_eq!(
        e.enrich(&other_ua, &SALT_A).visitor_hash,
        hash("81.2.69.142", &SALT_A)
    );
    // Known answer: HMAC-SHA256(key = [7; 32], "81.2.69.142"), cross-checked with Python's hmac module.
    assert_eq!(hash("81.2.69.142", &SALT_A), KNOWN_HASH);
}

const KNOWN_HASH: &str = "159278f5f29e7abc0a4263831a8f8f93c487dcf0f5597fd1b40d36c950a522f1";

#[test]
fn output_never_carries_the_ip_or_user_agent() {
    let e = enricher(Some("GeoLite2-Country-Test.mmdb"), &["10.0.0.0/8"]);
    let h = RawHit {
        forwarded_for: Some("81.2.69.142".into()),
        referer: Some("https://example.com/page?email=someone@example.com".into()),
        ..hit("10.0.0.1")
    };
    let f = e.enrich(&h, &SALT_A);
    let dump = format!("{f:?}");
    for secret in [
        "81.2.69.142",
        "10.0.0.1",
        "AppleWebKit",
        "someone@example.com",
        "/page",
    ] {
        assert!(!dump.contains(secret), "{secret} leaked: {dump}");
    }
    let raw_dump = format!("{h:?}");
    assert!(
        !raw_dump.contains("81.2.69.142") && !raw_dump.contains("AppleWebKit"),
        "{raw_dump}"
    );
}

#[test]
fn never_panics_on_weird_input() {
    let mut weird: Vec<String> = vec![
        String::new(),
        "\0".into(),
        "\u{feff}".into(),
        "🙂🙂🙂".into(),
        "é".repeat(3),
        "Mozilla/5.0 (".into(),
        "Mozilla/5.0 (iPad".into(),
        "(((((((((((((((((((".into(),
        ")))))))))))))))))".into(),
        ";;;;; wv)".into(),
        "Android".into(),
        "Instagram".into(),
        "FBAV/".into(),
        "whatsapp/".into(),
        "whatsap".into(),
        "cubot".into(),
        "bot".into(),
        "mastodon.".into(),
        "\u{7f}\u{80}\u{ff}".into(),
        "x".repeat(20_000),
        "Mozilla/5.0 ".repeat(2_000),
        "é".repeat(5_000),
    ];
    // Every byte value, as (lossy) UTF-8, alone and mixed into a real UA.
    for b in 0u8..=255 {
        let s = String::from_utf8_lossy(&[b, b'/', b, b' ', b'(', b]).into_owned();
        weird.push(format!("{SAFARI_IPHONE}{s}"));
        weird.push(s);
    }
    let e = enricher(Some("GeoLite2-Country-Test.mmdb"), &["10.0.0.0/8", "::/0"]);
    for s in &weird {
        let _ = linkwire_enrich::classify_user_agent(s);
        let _ = linkwire_enrich::is_bot_user_agent(s);
        let _ = social_source(Some(s), Some(s));
        let _ = referrer_host(Some(s));
        let h = RawHit {
            method_is_head: false,
            user_agent: Some(s.clone()),
            referer: Some(s.clone()),
            purpose: Some(s.clone()),
            peer_ip: "10.0.0.1".parse().unwrap(),
            forwarded_for: Some(s.clone()),
            proxy_country: Some(s.clone()),
            query: vec![
                (s.clone(), s.clone()),
                ("utm_source".into(), s.clone()),
                ("nr".into(), s.clone()),
            ],
            link_utm: UtmParams {
                utm_source: Some(s.clone()),
                ..Default::default()
            },
        };
        let f = e.enrich(&h, &SALT_A);
        assert_eq!(f.visitor_hash.len(), 64);
    }
}
