//! Clocks: the real one, and a scaled one for simulations that runs faster
//! than real time and can jump over idle stretches.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

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

/// A clock that starts at `start` and runs `scale` times faster than real
/// time. [`ScaledClock::advance_to`] jumps forward (never backward), so a
/// simulation can skip a night without waiting for it.
#[derive(Debug)]
pub struct ScaledClock {
    real_origin: Instant,
    origin: Timestamp,
    scale: f64,
    /// Simulated milliseconds added by jumps; only grows.
    skipped_ms: AtomicI64,
}

impl ScaledClock {
    /// A clock at `start`, running `scale` times real time (`scale` ≥ 1 is
    /// typical; values ≤ 0 are treated as 1).
    pub fn new(start: Timestamp, scale: f64) -> ScaledClock {
        ScaledClock {
            real_origin: Instant::now(),
            origin: start,
            scale: if scale > 0.0 { scale } else { 1.0 },
            skipped_ms: AtomicI64::new(0),
        }
    }

    /// How many times faster than real time the clock runs.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real time that `simulated` takes on this clock.
    pub fn real(&self, simulated: std::time::Duration) -> std::time::Duration {
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
        let real_ms = self.real_origin.elapsed().as_secs_f64() * 1000.0;
        let simulated = (real_ms * self.scale) as i64 + self.skipped_ms.load(Ordering::SeqCst);
        self.origin + chrono::Duration::milliseconds(simulated)
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
        assert_eq!(
            clock.real(std::time::Duration::from_secs(100)),
            std::time::Duration::from_secs(1)
        );
    }
}
