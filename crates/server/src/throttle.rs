//! Failed password checks, throttled. After a few failures for one key (a member's email or a protected
//! link, each with the client's address), further attempts are refused without checking the password,
//! for a while that doubles with every further failure. A success clears the key. Kept in memory only:
//! a restart forgets it, and nothing here is logged.
//!
//! Keys include the client address so that someone guessing at an account cannot lock its owner out from
//! elsewhere; behind one proxy all clients share an address, and the lockout then applies to all of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::Duration;
use linkwire_contract::Timestamp;

/// Failures allowed before the first lockout.
const FREE_FAILURES: u32 = 5;
/// The first lockout; each further failure doubles it.
const FIRST_LOCKOUT_SECS: i64 = 30;
const MAX_LOCKOUT_SECS: i64 = 15 * 60;
/// A key whose last failure is this old starts over.
const FORGET_AFTER_SECS: i64 = 60 * 60;
/// Keys held at most; past this, keys that have started over are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guarded<'a> {
    /// A dashboard sign-in, by normalized email.
    Login(&'a str),
    /// A password-protected link, by id.
    Link(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Timestamp,
}

impl Failures {
    /// Until when further attempts are refused, if at all.
    fn locked_until(&self) -> Option<Timestamp> {
        let over = self.count.checked_sub(FREE_FAILURES)?;
        let secs = FIRST_LOCKOUT_SECS
            .saturating_mul(1_i64 << over.min(20))
            .min(MAX_LOCKOUT_SECS);
        Some(self.last + Duration::seconds(secs))
    }

    fn forgotten(&self, now: Timestamp) -> bool {
        now - self.last >= Duration::seconds(FORGET_AFTER_SECS)
    }
}

#[derive(Debug, Default)]
pub struct PasswordThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl PasswordThrottle {
    /// How long the client must wait before its next attempt counts, if it must.
    pub fn wait(&self, what: Guarded<'_>, client: IpAddr, now: Timestamp) -> Option<Duration> {
        let failures = self.failures.lock().expect("throttle lock");
        let entry = failures.get(&key(what, client))?;
        if entry.forgotten(now) {
            return None;
        }
        let until = entry.locked_until()?;
        (until > now).then(|| until - now)
    }

    pub fn failed(&self, what: Guarded<'_>, client: IpAddr, now: Timestamp) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, f| !f.forgotten(now));
        }
        if failures.len() >= MAX_KEYS {
            // Still full of live keys: under a flood, forget rather than grow without bound.
            failures.clear();
        }
        let entry = failures.entry(key(what, client)).or_insert(Failures {
            count: 0,
            last: now,
        });
        if entry.forgotten(now) {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
    }

    pub fn succeeded(&self, what: Guarded<'_>, client: IpAddr) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(&key(what, client));
    }
}

fn key(what: Guarded<'_>, client: IpAddr) -> String {
    match what {
        Guarded::Login(email) => format!("login {email} {client}"),
        Guarded::Link(id) => format!("link {id} {client}"),
    }
}

/// "30 seconds", "2 minutes": how long to wait, for a person.
pub fn describe(wait: Duration) -> String {
    let secs = wait.num_seconds().max(1);
    if secs == 1 {
        "1 second".to_owned()
    } else if secs < 90 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", (secs + 59) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkwire_contract::from_millis;

    const ALICE: Guarded<'static> = Guarded::Login("alice@example.com");

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_are_free_then_the_wait_doubles_up_to_fifteen_minutes() {
        let t = PasswordThrottle::default();
        let client = ip("203.0.113.7");
        let now = from_millis(1_800_000_000_000);
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.wait(ALICE, client, now), None);
            t.failed(ALICE, client, now);
        }
        assert_eq!(t.wait(ALICE, client, now), Some(Duration::seconds(30)));
        let later = now + Duration::seconds(30);
        assert_eq!(t.wait(ALICE, client, later), None, "the wait is over");
        t.failed(ALICE, client, later);
        assert_eq!(t.wait(ALICE, client, later), Some(Duration::seconds(60)));
        let mut at = later;
        for _ in 0..10 {
            at += Duration::seconds(MAX_LOCKOUT_SECS);
            t.failed(ALICE, client, at);
        }
        assert_eq!(t.wait(ALICE, client, at), Some(Duration::minutes(15)));
    }

    #[test]
    fn other_clients_and_keys_are_not_affected_and_success_clears() {
        let t = PasswordThrottle::default();
        let now = from_millis(1_800_000_000_000);
        for _ in 0..10 {
            t.failed(ALICE, ip("203.0.113.7"), now);
        }
        assert!(t.wait(ALICE, ip("203.0.113.7"), now).is_some());
        assert_eq!(t.wait(ALICE, ip("198.51.100.1"), now), None);
        assert_eq!(
            t.wait(Guarded::Login("bob@example.com"), ip("203.0.113.7"), now),
            None
        );
        assert_eq!(
            t.wait(Guarded::Link("alice@example.com"), ip("203.0.113.7"), now),
            None
        );
        t.succeeded(ALICE, ip("203.0.113.7"));
        assert_eq!(t.wait(ALICE, ip("203.0.113.7"), now), None);
    }

    #[test]
    fn an_hour_without_failures_starts_over() {
        let t = PasswordThrottle::default();
        let client = ip("203.0.113.7");
        let now = from_millis(1_800_000_000_000);
        for _ in 0..FREE_FAILURES {
            t.failed(ALICE, client, now);
        }
        let later = now + Duration::seconds(FORGET_AFTER_SECS);
        t.failed(ALICE, client, later);
        assert_eq!(
            t.wait(ALICE, client, later),
            None,
            "one failure after starting over"
        );
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(describe(Duration::seconds(30)), "30 seconds");
        assert_eq!(describe(Duration::milliseconds(200)), "1 second");
        assert_eq!(describe(Duration::seconds(240)), "4 minutes");
        assert_eq!(describe(Duration::seconds(61 * 15)), "16 minutes");
    }
}
