//! Client address and country code helpers.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

pub(crate) fn is_trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client address from `X-Forwarded-For`, given that the peer is a trusted proxy: the right-most entry
/// that is not itself a trusted proxy. Stops at the first unparseable entry walking leftwards (anything left of
/// it was written by the client and cannot be believed); `None` when no untrusted address was found.
pub(crate) fn client_from_forwarded(xff: Option<&str>, proxies: &[IpNet]) -> Option<IpAddr> {
    for entry in xff?.rsplit(',') {
        let ip = parse_forwarded_ip(entry)?;
        if !is_trusted(proxies, ip) {
            return Some(ip);
        }
    }
    None
}

/// One `X-Forwarded-For` element: a bare IPv4 / IPv6 address, `[v6]`, or either with a port.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = entry.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// A proxy country header value as an ISO alpha-2 code: two ASCII letters, uppercased; the "unknown" / "Tor"
/// pseudo-codes (`XX`, `T1`, `ZZ`) give `None`.
pub(crate) fn proxy_country_code(raw: &str) -> Option<String> {
    iso_code(raw.trim())
}

pub(crate) fn iso_code(code: &str) -> Option<String> {
    let code = code.to_ascii_uppercase();
    let valid = code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && !matches!(code.as_str(), "XX" | "ZZ");
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_client_address_comes_from_forwarded_for_only_behind_a_trusted_proxy() {
        use crate::client_address;
        let proxies = nets(&["10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let xff = Some("198.51.100.7, 203.0.113.9");
        assert_eq!(
            client_address(ip("10.0.0.2"), xff, &proxies),
            ip("203.0.113.9")
        );
        // An untrusted peer's header is its own claim.
        assert_eq!(
            client_address(ip("192.0.2.1"), xff, &proxies),
            ip("192.0.2.1")
        );
        // A trusted proxy that forwarded nothing usable is the client as far as anyone can tell.
        assert_eq!(
            client_address(ip("::ffff:10.0.0.2"), None, &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn forwarded_chain() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let cases: &[(&str, Option<&str>)] = &[
            ("203.0.113.9", Some("203.0.113.9")),
            ("1.1.1.1, 203.0.113.9, 10.0.0.2", Some("203.0.113.9")),
            (" 203.0.113.9 ,10.1.1.1 , 10.0.0.2", Some("203.0.113.9")),
            ("10.0.0.3, 10.0.0.2", None),
            ("", None),
            ("garbage, 10.0.0.2", None),
            ("203.0.113.9, garbage", None),
            ("203.0.113.9:4711", Some("203.0.113.9")),
            ("[2001:218::1]:443", Some("2001:218::1")),
            ("[2001:218::1]", Some("2001:218::1")),
            ("2001:218::1, 2001:db8::5", Some("2001:218::1")),
            ("::ffff:81.2.69.142", Some("81.2.69.142")),
            ("\"203.0.113.9\"", Some("203.0.113.9")),
        ];
        for (xff, want) in cases {
            let got = client_from_forwarded(Some(xff), &proxies);
            assert_eq!(got, want.map(|s| s.parse().unwrap()), "{xff}");
        }
        assert_eq!(client_from_forwarded(None, &proxies), None);
    }

    #[test]
    fn country_codes() {
        assert_eq!(proxy_country_code("gb").as_deref(), Some("GB"));
        assert_eq!(proxy_country_code(" US ").as_deref(), Some("US"));
        for bad in [
            "XX", "xx", "T1", "ZZ", "", "G", "GBR", "1A", "é", "G\u{301}",
        ] {
            assert_eq!(proxy_country_code(bad), None, "{bad}");
        }
    }
}
