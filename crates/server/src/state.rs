//! Shared application state, built once at startup and cloned (cheaply) into every handler.

use std::ops::Deref;
use std::sync::Arc;

use linkwire_contract::Clock;
use linkwire_store::{Domain, Link, Store};

use crate::cache::LinkCache;
use crate::clicks::ClickQueue;
use crate::config::Settings;
use crate::dns::TxtResolver;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub cache: Arc<LinkCache>,
    pub clicks: ClickQueue,
    pub metrics: Arc<Metrics>,
    pub resolver: Arc<dyn TxtResolver>,
    pub default_domain: Domain,
    pub engine: linkwire_delivery::Engine,
    /// Failed password checks (dashboard sign-in, protected links), throttled.
    pub passwords: crate::throttle::PasswordThrottle,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

/// The public short URL of a link: the public base URL for the default domain, `https://{domain}` else.
pub fn short_url(public_base: &str, link: &Link) -> String {
    if link.domain_is_default {
        format!("{public_base}/{}", link.short_code)
    } else {
        format!("https://{}/{}", link.domain_name, link.short_code)
    }
}

impl Inner {
    pub fn short_url(&self, link: &Link) -> String {
        short_url(&self.settings.public_base(), link)
    }
}
