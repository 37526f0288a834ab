//! Calls-per-second limits as token buckets on `now`.
//!
//! Each bucket holds **one** token and refills at `cps` tokens per second,
//! which is the same as "at most one call every `1/cps` seconds". The
//! interval is rounded *up* to the nanosecond, so `k` calls always span at
//! least `(k - 1) / cps` seconds and an integer `cps` is never exceeded in
//! any one-second window. A bucket deeper than one token would let a burst
//! of `2 * cps - 1` calls land inside one second, which is exactly what the
//! limit forbids (and Twilio queues the overflow instead of rejecting it,
//! so a burst gains nothing). The only state is the instant the next token
//! is available.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use voxdial_domain::Timestamp;

use crate::add;

/// The interval between two calls at `cps` calls per second, rounded up to
/// the nanosecond (`cps` is validated to be positive and finite).
pub(crate) fn interval(cps: f64) -> Duration {
    let nanos = (1e9 / cps).ceil();
    Duration::nanoseconds(if nanos >= 1.0 { nanos as i64 } else { 1 })
}

/// One bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Pacer {
    next_token_at: Option<Timestamp>,
}

impl Pacer {
    /// When the bucket has a token, as of `now` (`now` itself when it has one).
    pub(crate) fn ready_at(&self, now: Timestamp) -> Timestamp {
        self.next_token_at.map_or(now, |t| t.max(now))
    }

    /// Takes the token at `now` (callers checked [`Pacer::ready_at`]).
    pub(crate) fn take(&mut self, now: Timestamp, interval: Duration) {
        self.next_token_at = Some(add(self.ready_at(now), interval));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn one_call_per_interval() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let i = interval(3.0);
        assert_eq!(i, Duration::nanoseconds(333_333_334));
        let mut p = Pacer::default();
        assert_eq!(p.ready_at(t0), t0);
        p.take(t0, i);
        assert_eq!(p.ready_at(t0), t0 + i);
        p.take(t0 + i, i);
        p.take(t0 + i + i, i);
        // The fourth call would be 1.000000002 s after the first: outside the window.
        assert!(p.ready_at(t0) >= t0 + Duration::seconds(1));
        assert_eq!(interval(0.5), Duration::seconds(2));
    }
}
