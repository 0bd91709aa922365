//! Failed password checks, throttled. After a few failures for one key (a member's email or a protected
//! link, each with the client's address), further attempts are refused without checking the password,
//! for a while that doubles with every further failure. A success clears the key. Kept in memory only:
//! a restart forgets it, and nothing here is logged.
//!
//! An attempt counts as a failure from the moment it starts ([`PasswordThrottle::begin`]) until it
//! succeeds, so guesses sent in parallel are counted before their slow password checks finish.
//!
//! Keys include the client address (an IPv6 client by its /64, which one holder controls) so that
//! someone guessing at an account cannot lock its owner out from elsewhere. Behind a proxy listed in
//! `--trusted-proxies` the address is the one the proxy forwards ([`client_address`]); behind a proxy that
//! is not listed, all clients share its address, and a lockout applies to all of them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use axum::http::HeaderMap;
use chrono::Duration;
use linkwire_contract::Timestamp;

/// Every `X-Forwarded-For` line of a request, in order, as one list (a proxy may add its own line
/// rather than extend the client's).
pub fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!lines.is_empty()).then(|| lines.join(","))
}

/// The address a password attempt comes from: the peer, or what a trusted proxy forwards for it.
pub fn client_address(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted_proxies: &[ipnet::IpNet],
) -> IpAddr {
    linkwire_enrich::client_address(
        peer.ip(),
        forwarded_for(headers).as_deref(),
        trusted_proxies,
    )
}

/// Failures allowed before the first lockout.
const FREE_FAILURES: u32 = 5;
/// The first lockout; each further failure doubles it.
const FIRST_LOCKOUT_SECS: i64 = 30;
const MAX_LOCKOUT_SECS: i64 = 15 * 60;
/// A key whose last failure is this old starts over.
const FORGET_AFTER_SECS: i64 = 60 * 60;
/// Keys held at most; past this, keys that have started over are dropped, then the least recent half.
const MAX_KEYS: usize = 100_000;
/// Longest account or link name kept in a key (an email address is at most 254 characters).
const MAX_NAME: usize = 254;

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
    /// Starts an attempt: `Err(wait)` while the client must wait, else the attempt is counted as a
    /// failure until [`Self::succeeded`] clears it.
    pub fn begin(&self, what: Guarded<'_>, client: IpAddr, now: Timestamp) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let key = key(what, client);
        if let Some(entry) = failures.get(&key) {
            if !entry.forgotten(now) {
                if let Some(until) = entry.locked_until().filter(|u| *u > now) {
                    return Err(until - now);
                }
            }
        }
        if failures.len() >= MAX_KEYS {
            make_room(&mut failures, now);
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        if entry.forgotten(now) {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        Ok(())
    }

    pub fn succeeded(&self, what: Guarded<'_>, client: IpAddr) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(&key(what, client));
    }
}

/// Drops keys that have started over, then, if still full, the least recently failed half.
fn make_room(failures: &mut HashMap<String, Failures>, now: Timestamp) {
    failures.retain(|_, f| !f.forgotten(now));
    if failures.len() >= MAX_KEYS {
        let mut last: Vec<Timestamp> = failures.values().map(|f| f.last).collect();
        let middle = last.len() / 2;
        let (_, cutoff, _) = last.select_nth_unstable(middle);
        let cutoff = *cutoff;
        failures.retain(|_, f| f.last > cutoff);
    }
}

fn key(what: Guarded<'_>, client: IpAddr) -> String {
    let client = match client.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    };
    let (kind, name) = match what {
        Guarded::Login(email) => ("login", email),
        Guarded::Link(id) => ("link", id),
    };
    let name: String = name.chars().take(MAX_NAME).collect();
    format!("{kind} {client} {name}")
}

/// The `Retry-After` value of a wait: whole seconds, at least one.
pub fn retry_after(wait: Duration) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from(wait.num_seconds().max(1))
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

    fn fail_times(t: &PasswordThrottle, what: Guarded<'_>, client: IpAddr, now: Timestamp, n: u32) {
        for _ in 0..n {
            t.begin(what, client, now).expect("not locked yet");
        }
    }

    #[test]
    fn five_failures_are_free_then_the_wait_doubles_up_to_fifteen_minutes() {
        let t = PasswordThrottle::default();
        let client = ip("203.0.113.7");
        let now = from_millis(1_800_000_000_000);
        fail_times(&t, ALICE, client, now, FREE_FAILURES);
        assert_eq!(t.begin(ALICE, client, now), Err(Duration::seconds(30)));
        let later = now + Duration::seconds(30);
        t.begin(ALICE, client, later).expect("the wait is over");
        assert_eq!(t.begin(ALICE, client, later), Err(Duration::seconds(60)));
        let mut at = later;
        for _ in 0..10 {
            at += Duration::seconds(MAX_LOCKOUT_SECS);
            t.begin(ALICE, client, at)
                .expect("waited the longest lockout");
        }
        assert_eq!(t.begin(ALICE, client, at), Err(Duration::minutes(15)));
    }

    #[test]
    fn other_clients_and_keys_are_not_affected_and_success_clears() {
        let t = PasswordThrottle::default();
        let now = from_millis(1_800_000_000_000);
        fail_times(&t, ALICE, ip("203.0.113.7"), now, FREE_FAILURES);
        assert!(t.begin(ALICE, ip("203.0.113.7"), now).is_err());
        assert!(t.begin(ALICE, ip("198.51.100.1"), now).is_ok());
        assert!(t
            .begin(Guarded::Login("bob@example.com"), ip("203.0.113.7"), now)
            .is_ok());
        assert!(t
            .begin(Guarded::Link("alice@example.com"), ip("203.0.113.7"), now)
            .is_ok());
        t.succeeded(ALICE, ip("203.0.113.7"));
        assert!(t.begin(ALICE, ip("203.0.113.7"), now).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_one_client_across_its_slash_64() {
        let t = PasswordThrottle::default();
        let now = from_millis(1_800_000_000_000);
        for i in 0..FREE_FAILURES {
            let client = ip(&format!("2001:db8:1:2::{:x}", i + 1));
            t.begin(ALICE, client, now).expect("not locked yet");
        }
        assert!(t.begin(ALICE, ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(t.begin(ALICE, ip("2001:db8:1:3::1"), now).is_ok());
    }

    #[test]
    fn an_hour_without_failures_starts_over() {
        let t = PasswordThrottle::default();
        let client = ip("203.0.113.7");
        let now = from_millis(1_800_000_000_000);
        fail_times(&t, ALICE, client, now, FREE_FAILURES);
        let later = now + Duration::seconds(FORGET_AFTER_SECS);
        fail_times(&t, ALICE, client, later, FREE_FAILURES);
        assert!(
            t.begin(ALICE, client, later).is_err(),
            "counting again from one"
        );
    }

    #[test]
    fn a_full_table_keeps_the_most_recent_half() {
        let mut failures = HashMap::new();
        let start = from_millis(1_800_000_000_000);
        for i in 0..MAX_KEYS {
            failures.insert(
                format!("k{i}"),
                Failures {
                    count: 1,
                    last: start + Duration::milliseconds(i as i64),
                },
            );
        }
        make_room(&mut failures, start + Duration::seconds(1));
        assert!(failures.len() < MAX_KEYS / 2 + 1, "{}", failures.len());
        assert!(failures.contains_key(&format!("k{}", MAX_KEYS - 1)));
        assert!(!failures.contains_key("k0"));
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(describe(Duration::seconds(30)), "30 seconds");
        assert_eq!(describe(Duration::milliseconds(200)), "1 second");
        assert_eq!(describe(Duration::seconds(240)), "4 minutes");
        assert_eq!(describe(Duration::seconds(61 * 15)), "16 minutes");
    }
}
