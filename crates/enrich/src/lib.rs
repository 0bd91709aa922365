//! Owns turning a raw redirect hit into privacy-safe click facts (bot flag, touch type, country, device /
//! browser / OS families, referrer host, social source, UTM, salted visitor hash). Must not let the raw IP or
//! the full user agent out: they enter here in [`RawHit`] and never leave — [`ClickFacts`] has no field for them.
#![forbid(unsafe_code)]

mod bot;
mod net;
mod social;
mod ua;

use std::net::IpAddr;
use std::path::PathBuf;

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use linkwire_contract::{DeviceCategory, TouchType, UtmParams};
use sha2::Sha256;

pub use bot::{is_bot_user_agent, is_prefetch};
pub use social::{referrer_host, social_source};
pub use ua::{classify_user_agent, UaFacts};

/// The query pair that marks a QR scan (`short_url?nr=qr`).
pub const QR_MARKER: (&str, &str) = ("nr", "qr");

/// What the redirect handler captured from one request. Holds the raw IP and user agent; never store or log it.
#[derive(Clone)]
pub struct RawHit {
    pub method_is_head: bool,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    /// Value of the `Sec-Purpose` or `Purpose` header (prefetch detection).
    pub purpose: Option<String>,
    /// The socket peer.
    pub peer_ip: IpAddr,
    /// `X-Forwarded-For`; used only when the peer is a trusted proxy.
    pub forwarded_for: Option<String>,
    /// A trusted proxy's country header (e.g. `CF-IPCountry`); honoured only when the peer is a trusted proxy.
    pub proxy_country: Option<String>,
    /// The request's query pairs.
    pub query: Vec<(String, String)>,
    /// The link's own UTM parameters.
    pub link_utm: UtmParams,
}

impl std::fmt::Debug for RawHit {
    // The raw IP, user agent, referer and forwarding chain are personal data: keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawHit")
            .field("method_is_head", &self.method_is_head)
            .field("query_pairs", &self.query.len())
            .finish_non_exhaustive()
    }
}

/// Privacy-safe facts about one click. No IP, no user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickFacts {
    pub is_bot: bool,
    /// `QrScan` when the query has `nr=qr`.
    pub touch_type: TouchType,
    /// ISO 3166-1 alpha-2, uppercase.
    pub country: Option<String>,
    pub device_category: Option<DeviceCategory>,
    pub browser_family: Option<String>,
    pub os_family: Option<String>,
    /// Lowercase host of `Referer`, without port; `None` if absent or unparseable.
    pub referrer_host: Option<String>,
    pub social_source: Option<String>,
    /// The request's `utm_*` parameters if any is non-empty, else the link's; empty values are `None`.
    pub utm: UtmParams,
    /// Lowercase hex HMAC-SHA256(day salt, client IP text): counts unique visitors within one salt day.
    pub visitor_hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct EnricherConfig {
    /// A MaxMind-format `.mmdb` with country data (GeoLite2-Country / City, DB-IP Lite).
    pub geo_db: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-For` and country header are believed.
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot load geo database {}: {source}", path.display())]
    GeoDatabase {
        path: PathBuf,
        #[source]
        source: maxminddb::MaxMindDBError,
    },
}

/// Built once at startup and shared; `Send + Sync`.
pub struct Enricher {
    geo: Option<maxminddb::Reader<Vec<u8>>>,
    trusted_proxies: Vec<IpNet>,
    /// Classified user agents. Real traffic repeats a small set of user agents, and classifying one costs
    /// far more than a lookup; the map is emptied when it reaches [`UA_CACHE_LIMIT`].
    ua_cache: std::sync::Mutex<std::collections::HashMap<String, (bool, UaFacts)>>,
}

const UA_CACHE_LIMIT: usize = 4096;

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field(
                "geo",
                &self.geo.as_ref().map(|r| r.metadata.database_type.as_str()),
            )
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl Enricher {
    pub fn new(config: EnricherConfig) -> Result<Self, EnrichError> {
        let geo = match config.geo_db {
            Some(path) => Some(
                maxminddb::Reader::open_readfile(&path)
                    .map_err(|source| EnrichError::GeoDatabase { path, source })?,
            ),
            None => None,
        };
        Ok(Self {
            geo,
            trusted_proxies: config.trusted_proxies,
            ua_cache: Default::default(),
        })
    }

    /// Whether a geo database is loaded.
    pub fn has_geo(&self) -> bool {
        self.geo.is_some()
    }

    /// `day_salt` is a 32-byte secret for the current UTC day, supplied by the caller (the caller rotates and
    /// forgets it).
    pub fn enrich(&self, hit: &RawHit, day_salt: &[u8; 32]) -> ClickFacts {
        let ua = hit
            .user_agent
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let (bot_ua, facts) = match ua {
            Some(ua) => self.classify_cached(ua),
            None => (true, UaFacts::default()),
        };
        let is_bot =
            hit.method_is_head || hit.purpose.as_deref().is_some_and(is_prefetch) || bot_ua;

        let touch_type = if hit
            .query
            .iter()
            .any(|(k, v)| k == QR_MARKER.0 && v.trim().eq_ignore_ascii_case(QR_MARKER.1))
        {
            TouchType::QrScan
        } else {
            TouchType::ShortLinkClick
        };

        let peer = hit.peer_ip.to_canonical();
        let trusted = net::is_trusted(&self.trusted_proxies, peer);
        let client = client_address(peer, hit.forwarded_for.as_deref(), &self.trusted_proxies);
        let country = trusted
            .then(|| {
                hit.proxy_country
                    .as_deref()
                    .and_then(net::proxy_country_code)
            })
            .flatten()
            .or_else(|| self.lookup_country(client));

        let referrer_host = referrer_host(hit.referer.as_deref());
        let social = social_source(referrer_host.as_deref(), ua).map(str::to_owned);

        ClickFacts {
            is_bot,
            touch_type,
            country,
            device_category: facts.device_category,
            browser_family: facts.browser_family,
            os_family: facts.os_family,
            referrer_host,
            social_source: social,
            utm: utm_for(&hit.query, &hit.link_utm),
            visitor_hash: visitor_hash(client, day_salt),
        }
    }

    fn classify_cached(&self, ua: &str) -> (bool, UaFacts) {
        let mut cache = self
            .ua_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = cache.get(ua) {
            return hit.clone();
        }
        let classified = (is_bot_user_agent(ua), classify_user_agent(ua));
        if cache.len() >= UA_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(ua.to_owned(), classified.clone());
        classified
    }

    /// ISO country code of `ip` from the geo database, if loaded and the address is in it.
    pub fn lookup_country(&self, ip: IpAddr) -> Option<String> {
        let reader = self.geo.as_ref()?;
        let rec: maxminddb::geoip2::Country<'_> = reader.lookup(ip.to_canonical()).ok()?;
        rec.country.and_then(|c| c.iso_code).and_then(net::iso_code)
    }
}

/// The request's UTM parameters when it carries any non-empty `utm_*` key (all five then come from the
/// request, first occurrence of each), else the link's. Empty values become `None`.
pub fn utm_for(query: &[(String, String)], link_utm: &UtmParams) -> UtmParams {
    let has_request_utm = query
        .iter()
        .any(|(k, v)| UtmParams::KEYS.contains(&k.as_str()) && !v.trim().is_empty());
    if !has_request_utm {
        return link_utm.clone().normalized();
    }
    let mut utm = UtmParams::default();
    for (k, v) in query {
        if let Some(slot) = utm.get_mut(k) {
            if slot.is_none() && !v.trim().is_empty() {
                *slot = Some(v.clone());
            }
        }
    }
    utm.normalized()
}

/// The visitor's address: the socket peer, or, when the peer is one of `trusted_proxies`, the right-most
/// address in `X-Forwarded-For` that is not a trusted proxy itself. A client that is not a trusted proxy
/// cannot choose its address by sending the header.
pub fn client_address(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if net::is_trusted(trusted_proxies, peer) {
        net::client_from_forwarded(forwarded_for, trusted_proxies).unwrap_or(peer)
    } else {
        peer
    }
}

/// Lowercase hex HMAC-SHA256 with key `day_salt` over the IP's canonical text (IPv4-mapped IPv6 as IPv4).
pub fn visitor_hash(ip: IpAddr, day_salt: &[u8; 32]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(day_salt).expect("HMAC takes any key length");
    mac.update(ip.to_canonical().to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Enricher>();
};
