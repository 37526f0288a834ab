//! A clock the test sets and advances by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use voxdial_domain::{Clock, Timestamp};

/// A [`Clock`] that only moves when the test says so. Share it as
/// `Arc<ManualClock>` (it is `Send + Sync`): hand one clone to the adapter
/// as `Arc<dyn Clock>` and keep the other to drive time.
#[derive(Debug)]
pub struct ManualClock {
    /// The current time; only [`ManualClock::set`] and
    /// [`ManualClock::advance`] change it.
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// A shared clock reading `start`.
    pub fn shared(start: Timestamp) -> Arc<ManualClock> {
        Arc::new(ManualClock::new(start))
    }

    /// Sets the time (it may go backwards: tests of clock skew need that).
    pub fn set(&self, now: Timestamp) {
        *self.lock() = now;
    }

    /// Moves the time forward by `by` and returns the new time.
    pub fn advance(&self, by: Duration) -> Timestamp {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut now = self.lock();
        *now = now.checked_add_signed(by).unwrap_or(*now);
        *now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::t0;

    #[test]
    fn moves_only_when_told() {
        let clock = ManualClock::shared(t0());
        let shared: Arc<dyn Clock> = clock.clone();
        assert_eq!(shared.now(), t0());
        let later = clock.advance(Duration::from_millis(1500));
        assert_eq!(later, t0() + chrono::Duration::milliseconds(1500));
        assert_eq!(shared.now(), later);
        clock.set(t0());
        assert_eq!(shared.now(), t0());
    }
}
