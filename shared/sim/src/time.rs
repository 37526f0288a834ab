//! Simulated time.

use std::sync::Arc;
use std::time::Duration;

use voxdial_domain::{Clock, Timestamp};

/// A clock and the factor by which it runs faster than real time.
#[derive(Clone)]
pub struct SimTime {
    clock: Arc<dyn Clock>,
    scale: f64,
}

impl SimTime {
    /// Simulated time read from `clock`, which runs `scale` times real time.
    pub fn new(clock: Arc<dyn Clock>, scale: f64) -> SimTime {
        SimTime {
            clock,
            scale: if scale > 0.0 { scale } else { 1.0 },
        }
    }

    /// The simulated time now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// How many times faster than real time the clock runs.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The real duration of `simulated_secs` simulated seconds.
    pub fn real(&self, simulated_secs: f64) -> Duration {
        Duration::from_secs_f64((simulated_secs / self.scale).max(0.0))
    }

    /// Waits for `simulated_secs` of simulated time.
    pub async fn sleep(&self, simulated_secs: f64) {
        tokio::time::sleep(self.real(simulated_secs)).await;
    }
}
