//! Time as an injected dependency. Logic takes `now` as a value or holds an `Arc<dyn Clock>`; only startup
//! builds a [`SystemClock`]; tests drive a [`ManualClock`].

use std::sync::Mutex;

use chrono::{DateTime, Duration, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The real clock. Constructed once, at startup.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
    pub fn set(&self, to: Timestamp) {
        *self.0.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().expect("clock lock")
    }
}

/// The wire form of every timestamp: UTC, RFC 3339, milliseconds, `Z`.
pub fn format_timestamp(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds since the Unix epoch: the storage form of every timestamp.
pub fn to_millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_timestamps_have_milliseconds_and_z() {
        let t = DateTime::parse_from_rfc3339("2026-03-30T12:34:56.789123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_timestamp(t), "2026-03-30T12:34:56.789Z");
        assert_eq!(
            from_millis(to_millis(t)).timestamp_millis(),
            t.timestamp_millis()
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = from_millis(1_000);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(60));
        assert_eq!(to_millis(clock.now()), 61_000);
    }
}
