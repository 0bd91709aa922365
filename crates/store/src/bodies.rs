//! Recently read event bodies, so a claim that covers one event for many endpoints (fan-out to 100
//! endpoints is 100 deliveries of one body) reads each body once. Bodies never change after creation
//! (an invariant of the event model), so a cached body is never stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use linkwire_contract::EventId;

/// Bodies kept per generation; at most twice this many are held (a few MB).
const PER_GENERATION: usize = 4_096;

/// Two generations: lookups see both, inserts go to the newer, and a full newer generation replaces the
/// older one. Cheaper than an LRU and good enough for bodies that are read in bursts.
#[derive(Default)]
pub(crate) struct BodyCache {
    generations: Mutex<[HashMap<EventId, Arc<str>>; 2]>,
}

impl BodyCache {
    pub(crate) fn get(&self, id: &EventId) -> Option<Arc<str>> {
        let g = self.generations.lock().expect("body cache lock");
        g[0].get(id).or_else(|| g[1].get(id)).cloned()
    }

    pub(crate) fn insert(&self, id: EventId, body: Arc<str>) {
        let mut g = self.generations.lock().expect("body cache lock");
        if g[0].len() >= PER_GENERATION {
            g[1] = std::mem::take(&mut g[0]);
        }
        g[0].insert(id, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newer_generations_and_forgets_older_ones() {
        let cache = BodyCache::default();
        let first = EventId::new();
        cache.insert(first, "first".into());
        for _ in 0..PER_GENERATION {
            cache.insert(EventId::new(), "x".into());
        }
        assert_eq!(
            cache.get(&first).as_deref(),
            Some("first"),
            "in the older generation"
        );
        for _ in 0..PER_GENERATION {
            cache.insert(EventId::new(), "x".into());
        }
        assert_eq!(cache.get(&first), None, "two generations later");
    }
}
