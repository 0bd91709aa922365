//! Delivery states, attempt classification and the retry schedule (contract §5). Pure functions of their
//! inputs: the engine supplies `now`.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::string_enum;

/// At most this many attempts per delivery.
pub const MAX_ATTEMPTS: u32 = 6;
/// A `Retry-After` may lengthen a delay up to this, never beyond.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(900);

string_enum! {
    pub enum DeliveryStatus: "delivery status" {
        Pending = "pending",
        Delivering = "delivering",
        Delivered = "delivered",
        DeadLetter = "dead_letter",
        Paused = "paused",
    }
}

string_enum! {
    /// Why a delivery exists; sent as `X-Nim-Delivery-Reason`.
    pub enum DeliveryReason: "delivery reason" {
        Live = "live",
        Test = "test",
        Replay = "replay",
    }
}

/// Delays before attempts 2..=6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("retry schedule must list 1 to 5 delays, got {0}")]
    Length(usize),
    #[error("retry schedule entry `{0}` is not a whole number of seconds")]
    NotSeconds(String),
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self([60, 120, 240, 480, 900].map(Duration::from_secs).to_vec())
    }
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Result<Self, ScheduleError> {
        if delays.is_empty() || delays.len() > (MAX_ATTEMPTS - 1) as usize {
            return Err(ScheduleError::Length(delays.len()));
        }
        Ok(Self(delays))
    }

    /// Parses `60,120,240,480,900` (seconds; fractions allowed for tests, e.g. `0.05`).
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| ScheduleError::NotSeconds(p.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(delays)
    }

    /// Total attempts this schedule allows: one more than its delays.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The delay before attempt `attempt + 1`, after attempt number `attempt` (1-based) failed, or `None`
    /// when that was the last attempt.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        self.0.get(attempt.checked_sub(1)? as usize).copied()
    }

    pub fn delays(&self) -> &[Duration] {
        &self.0
    }
}

/// The classified result of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again later (network error, timeout, 408, 409, 425, 429, 5xx).
    Retryable,
    /// Any other status: dead-letter at once.
    Terminal,
    /// A REST-hook target said `410 Gone`: the subscription is deleted.
    Gone,
}

impl AttemptOutcome {
    /// Classifies an HTTP answer. `rest_hook` makes `410` mean "unsubscribe".
    pub fn from_status(status: u16, rest_hook: bool) -> Self {
        match status {
            200..=299 => Self::Delivered,
            410 if rest_hook => Self::Gone,
            408 | 409 | 425 | 429 | 500..=599 => Self::Retryable,
            _ => Self::Terminal,
        }
    }
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Done,
    RetryAt(Timestamp),
    DeadLetter,
    Unsubscribe,
}

/// Decides the next step after attempt number `attempt` (1-based) ended with `outcome` at `now`.
/// `retry_after` (from the answer) may lengthen the scheduled delay, up to [`MAX_RETRY_DELAY`].
/// `single_attempt` is set for test-sends, which never retry.
pub fn next_step(
    schedule: &RetrySchedule,
    attempt: u32,
    outcome: AttemptOutcome,
    retry_after: Option<Duration>,
    single_attempt: bool,
    now: Timestamp,
) -> NextStep {
    match outcome {
        AttemptOutcome::Delivered => NextStep::Done,
        AttemptOutcome::Gone => NextStep::Unsubscribe,
        AttemptOutcome::Terminal => NextStep::DeadLetter,
        AttemptOutcome::Retryable if single_attempt => NextStep::DeadLetter,
        AttemptOutcome::Retryable => match schedule.delay_after(attempt) {
            None => NextStep::DeadLetter,
            Some(base) => {
                let delay = match retry_after {
                    Some(asked) if asked > base => asked.min(MAX_RETRY_DELAY.max(base)),
                    _ => base,
                };
                NextStep::RetryAt(
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero()),
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{from_millis, to_millis};

    #[test]
    fn every_status_class_is_classified_as_the_contract_says() {
        for s in [200, 201, 204, 299] {
            assert_eq!(
                AttemptOutcome::from_status(s, false),
                AttemptOutcome::Delivered,
                "{s}"
            );
        }
        for s in [408, 409, 425, 429, 500, 502, 503, 504, 599] {
            assert_eq!(
                AttemptOutcome::from_status(s, false),
                AttemptOutcome::Retryable,
                "{s}"
            );
        }
        for s in [
            100, 301, 302, 304, 400, 401, 403, 404, 405, 410, 413, 422, 451,
        ] {
            assert_eq!(
                AttemptOutcome::from_status(s, false),
                AttemptOutcome::Terminal,
                "{s}"
            );
        }
        assert_eq!(AttemptOutcome::from_status(410, true), AttemptOutcome::Gone);
    }

    #[test]
    fn a_failing_delivery_is_attempted_at_0_60_180_420_900_1800_then_dead_letter() {
        let schedule = RetrySchedule::default();
        let mut now = from_millis(0);
        let mut attempts_at = vec![];
        let mut attempt = 1;
        loop {
            attempts_at.push(to_millis(now) / 1000);
            match next_step(
                &schedule,
                attempt,
                AttemptOutcome::Retryable,
                None,
                false,
                now,
            ) {
                NextStep::RetryAt(t) => now = t,
                NextStep::DeadLetter => break,
                other => panic!("unexpected {other:?}"),
            }
            attempt += 1;
        }
        assert_eq!(attempts_at, [0, 60, 180, 420, 900, 1800]);
        assert_eq!(attempt, MAX_ATTEMPTS);
    }

    #[test]
    fn retry_after_lengthens_up_to_900_but_never_shortens() {
        let s = RetrySchedule::default();
        let at = |ra: Option<u64>| match next_step(
            &s,
            1,
            AttemptOutcome::Retryable,
            ra.map(Duration::from_secs),
            false,
            from_millis(0),
        ) {
            NextStep::RetryAt(t) => to_millis(t) / 1000,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(None), 60);
        assert_eq!(at(Some(5)), 60);
        assert_eq!(at(Some(300)), 300);
        assert_eq!(at(Some(86_400)), 900);
    }

    #[test]
    fn terminal_and_test_sends_do_not_retry() {
        let s = RetrySchedule::default();
        let now = from_millis(0);
        assert_eq!(
            next_step(&s, 1, AttemptOutcome::Terminal, None, false, now),
            NextStep::DeadLetter
        );
        assert_eq!(
            next_step(&s, 1, AttemptOutcome::Retryable, None, true, now),
            NextStep::DeadLetter
        );
        assert_eq!(
            next_step(&s, 3, AttemptOutcome::Delivered, None, false, now),
            NextStep::Done
        );
        assert_eq!(
            next_step(&s, 1, AttemptOutcome::Gone, None, false, now),
            NextStep::Unsubscribe
        );
    }

    #[test]
    fn schedules_parse_from_configuration() {
        assert_eq!(
            RetrySchedule::parse("60,120,240,480,900").unwrap(),
            RetrySchedule::default()
        );
        let short = RetrySchedule::parse("0.05, 0.05,0.1").unwrap();
        assert_eq!(short.max_attempts(), 4);
        assert_eq!(short.delay_after(1), Some(Duration::from_millis(50)));
        assert_eq!(short.delay_after(4), None);
        assert!(RetrySchedule::parse("").is_err());
        assert!(RetrySchedule::parse("1,2,3,4,5,6").is_err());
        assert!(RetrySchedule::parse("soon").is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in DeliveryStatus::ALL {
            assert_eq!(s.as_str().parse::<DeliveryStatus>().unwrap(), *s);
        }
    }
}
