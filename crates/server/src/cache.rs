//! The redirect path's in-memory view of domains and links. Filled on first use, invalidated by every
//! change made through this node (and, on PostgreSQL, by notifications from other nodes).
//! Misses are cached too, so a flood of unknown codes costs one lookup each, not one per request.

use std::sync::Arc;

use dashmap::DashMap;
use linkwire_contract::payload::LinkRef;
use linkwire_contract::DomainId;
use linkwire_store::{Domain, Link, Store, StoreError};

/// A link as the redirect needs it, with its payload identity precomputed.
#[derive(Debug)]
pub struct CachedLink {
    pub link: Link,
    pub link_ref: LinkRef,
}

/// A domain as the redirect needs it.
#[derive(Debug, Clone)]
pub struct DomainRoute {
    pub id: DomainId,
    pub ready: bool,
}

pub struct LinkCache {
    domains: DashMap<String, Option<DomainRoute>>,
    links: DashMap<(DomainId, String), Option<Arc<CachedLink>>>,
    default_domain: DomainRoute,
    short_url: Box<dyn Fn(&Link) -> String + Send + Sync>,
}

impl LinkCache {
    pub fn new(
        default_domain: &Domain,
        short_url: impl Fn(&Link) -> String + Send + Sync + 'static,
    ) -> Self {
        Self {
            domains: DashMap::new(),
            links: DashMap::new(),
            default_domain: DomainRoute {
                id: default_domain.id,
                ready: true,
            },
            short_url: Box::new(short_url),
        }
    }

    /// The domain a request's host names. Unknown hosts fall back to the default domain, so a service
    /// reached as `localhost` or through an unconfigured alias still answers its default links.
    pub async fn domain_for_host(
        &self,
        store: &Store,
        host: &str,
    ) -> Result<DomainRoute, StoreError> {
        if let Some(hit) = self.domains.get(host) {
            return Ok(hit.clone().unwrap_or_else(|| self.default_domain.clone()));
        }
        let found = store.find_domain_by_name(host).await?.map(|d| DomainRoute {
            id: d.id,
            ready: d.is_default || d.state.ready_for_traffic,
        });
        // Bound the negative cache: arbitrary Host headers must not grow memory without limit.
        if found.is_some() || self.domains.len() < 10_000 {
            self.domains.insert(host.to_owned(), found.clone());
        }
        Ok(found.unwrap_or_else(|| self.default_domain.clone()))
    }

    pub async fn link(
        &self,
        store: &Store,
        domain: DomainId,
        code: &str,
    ) -> Result<Option<Arc<CachedLink>>, StoreError> {
        let key = (domain, code.to_owned());
        if let Some(hit) = self.links.get(&key) {
            return Ok(hit.clone());
        }
        let found = store
            .find_link_by_code(domain, code)
            .await?
            .map(|link| Arc::new(self.cached(link)));
        if found.is_some() || self.links.len() < 1_000_000 {
            self.links.insert(key, found.clone());
        }
        Ok(found)
    }

    fn cached(&self, link: Link) -> CachedLink {
        let link_ref = LinkRef {
            link_id: link.id,
            domain_id: link.domain_id,
            domain_name: link.domain_name.clone(),
            short_code: link.short_code.clone(),
            short_url: (self.short_url)(&link),
        };
        CachedLink { link, link_ref }
    }

    /// Forgets what is known about `code` on `domain` (after a create, change or delete).
    pub fn invalidate_link(&self, domain: DomainId, code: &str) {
        self.links.remove(&(domain, code.to_owned()));
    }

    pub fn invalidate_domain(&self, name: &str) {
        self.domains.remove(name);
    }

    pub fn clear(&self) {
        self.links.clear();
        self.domains.clear();
    }
}
