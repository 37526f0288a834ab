//! Clocks: the real one, and a scaled one for simulations that runs faster
//! than real time and can jump over idle stretches.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use chrono::Utc;
use voxdial_domain::{Clock, Timestamp};

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that reads `start` at the real instant `epoch` and runs `scale`
/// times faster than real time from there. Two processes built with the
/// same `(epoch, start, scale)` agree on the simulated time, also across
/// restarts. [`ScaledClock::advance_to`] jumps forward (never backward), so
/// a simulation can skip a night without waiting for it; jumps are local to
/// the process.
#[derive(Debug)]
pub struct ScaledClock {
    epoch: SystemTime,
    start: Timestamp,
    scale: f64,
    /// Simulated milliseconds added by jumps; only grows.
    skipped_ms: AtomicI64,
}

impl ScaledClock {
    /// A clock reading `start` now, running `scale` times real time (values
    /// ≤ 0 are treated as 1).
    pub fn new(start: Timestamp, scale: f64) -> ScaledClock {
        ScaledClock::anchored(SystemTime::now(), start, scale)
    }

    /// A clock that read `start` at the real instant `epoch`.
    pub fn anchored(epoch: SystemTime, start: Timestamp, scale: f64) -> ScaledClock {
        ScaledClock {
            epoch,
            start,
            scale: if scale > 0.0 { scale } else { 1.0 },
            skipped_ms: AtomicI64::new(0),
        }
    }

    /// How many times faster than real time the clock runs.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real time that `simulated` takes on this clock.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.scale)
    }

    /// Jumps forward to `target` if it is in the future.
    pub fn advance_to(&self, target: Timestamp) {
        let ahead = (target - self.now()).num_milliseconds();
        if ahead > 0 {
            self.skipped_ms.fetch_add(ahead, Ordering::SeqCst);
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let real = SystemTime::now()
            .duration_since(self.epoch)
            .unwrap_or_default()
            .as_secs_f64();
        let simulated_ms =
            (real * 1000.0 * self.scale) as i64 + self.skipped_ms.load(Ordering::SeqCst);
        self.start + chrono::Duration::milliseconds(simulated_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn scaled_clock_jumps_forward_only() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = ScaledClock::new(start, 100.0);
        assert!(clock.now() >= start);
        let later = start + chrono::Duration::hours(5);
        clock.advance_to(later);
        assert!(clock.now() >= later);
        clock.advance_to(start);
        assert!(clock.now() >= later);
        assert_eq!(clock.real(Duration::from_secs(100)), Duration::from_secs(1));
    }

    #[test]
    fn clocks_with_the_same_anchor_agree() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let epoch = SystemTime::now() - Duration::from_secs(10);
        let a = ScaledClock::anchored(epoch, start, 60.0);
        let b = ScaledClock::anchored(epoch, start, 60.0);
        let (ta, tb) = (a.now(), b.now());
        // Ten real seconds at 60x: ten simulated minutes have passed.
        assert!(ta >= start + chrono::Duration::minutes(10));
        assert!((tb - ta).num_seconds().abs() < 5);
    }
}
