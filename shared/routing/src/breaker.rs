//! The per-provider circuit breaker, driven by call setup results.
//!
//! Policy: **consecutive transient setup failures**. `failure_threshold`
//! transient failures in a row (5xx, timeouts, refused connections, 429s
//! that outlived retries) open the circuit for `cooldown`. A permanent
//! rejection (invalid number, geo permission) proves the provider answered,
//! so it neither counts nor resets the run; an accepted setup resets it.
//! Once the cooldown has passed the circuit is half-open: it admits
//! `half_open_probes` reserved calls at a time. A probe that is accepted
//! closes the circuit, one that fails transiently re-opens it for another
//! cooldown, and a probe whose result never arrives frees its place after
//! `probe_timeout`. Results that arrive while the circuit is open come from
//! calls sent before it opened and are ignored.
//!
//! The open → half-open transition is computed from `now` on every read, so
//! planning never changes state; only [`Breaker::on_reserve`] and
//! [`Breaker::on_result`] do.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use voxdial_domain::Timestamp;

use crate::add;

/// Breaker parameters of one provider, from [`crate::BreakerConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BreakerParams {
    pub(crate) failure_threshold: u32,
    pub(crate) cooldown: Duration,
    pub(crate) half_open_probes: u32,
    pub(crate) probe_timeout: Duration,
}

/// The state of a provider's circuit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; counts the current run of transient setup failures.
    Closed {
        /// Transient setup failures since the last accepted setup.
        consecutive_failures: u32,
    },
    /// No calls until `until`; then the circuit is half-open.
    Open {
        /// End of the cooldown.
        until: Timestamp,
    },
    /// A limited number of probe calls may go through.
    HalfOpen {
        /// Probes reserved whose setup result has not arrived.
        probes_in_flight: u32,
        /// When the last probe was reserved.
        last_probe_at: Option<Timestamp>,
    },
}

impl Default for BreakerState {
    fn default() -> Self {
        BreakerState::Closed {
            consecutive_failures: 0,
        }
    }
}

/// A setup result as the breaker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    Up,
    Down,
    Neutral,
}

/// Whether the breaker lets a call through at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Yes; `probe` when the circuit is half-open.
    Yes { probe: bool },
    /// No: open until the instant.
    Open(Timestamp),
    /// No: half-open and every probe place is taken until the instant.
    ProbesBusy(Timestamp),
}

/// A provider's breaker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Breaker {
    state: BreakerState,
}

impl Breaker {
    /// Restores a breaker from a snapshot.
    pub(crate) fn from_state(state: BreakerState) -> Self {
        Breaker { state }
    }

    /// The state as of `now` (an open circuit whose cooldown passed is half-open).
    pub(crate) fn state_at(&self, now: Timestamp) -> BreakerState {
        match &self.state {
            BreakerState::Open { until } if *until <= now => BreakerState::HalfOpen {
                probes_in_flight: 0,
                last_probe_at: None,
            },
            other => other.clone(),
        }
    }

    /// The stored state (what a snapshot persists).
    pub(crate) fn stored(&self) -> &BreakerState {
        &self.state
    }

    /// Whether a call may be sent at `now`.
    pub(crate) fn admit(&self, now: Timestamp, params: &BreakerParams) -> Admit {
        match self.state_at(now) {
            BreakerState::Closed { .. } => Admit::Yes { probe: false },
            BreakerState::Open { until } => Admit::Open(until),
            BreakerState::HalfOpen {
                probes_in_flight,
                last_probe_at,
            } => {
                let expires = last_probe_at.map(|t| add(t, params.probe_timeout));
                let free =
                    probes_in_flight < params.half_open_probes || expires.is_some_and(|e| e <= now);
                if free {
                    Admit::Yes { probe: true }
                } else {
                    Admit::ProbesBusy(expires.unwrap_or(now))
                }
            }
        }
    }

    /// A call was reserved at `now` (after [`Breaker::admit`] said yes).
    pub(crate) fn on_reserve(&mut self, now: Timestamp, params: &BreakerParams) {
        self.state = self.state_at(now);
        if let BreakerState::HalfOpen {
            probes_in_flight,
            last_probe_at,
        } = &mut self.state
        {
            let expired = last_probe_at.is_some_and(|t| add(t, params.probe_timeout) <= now);
            if expired {
                *probes_in_flight = 0;
            }
            *probes_in_flight += 1;
            *last_probe_at = Some(now);
        }
    }

    /// A setup result arrived at `now`.
    pub(crate) fn on_result(&mut self, health: Health, now: Timestamp, params: &BreakerParams) {
        self.state = self.state_at(now);
        let open = BreakerState::Open {
            until: add(now, params.cooldown),
        };
        match (&mut self.state, health) {
            (BreakerState::Closed { .. }, Health::Up)
            | (BreakerState::HalfOpen { .. }, Health::Up) => {
                self.state = BreakerState::default();
            }
            (
                BreakerState::Closed {
                    consecutive_failures,
                },
                Health::Down,
            ) => {
                *consecutive_failures += 1;
                if *consecutive_failures >= params.failure_threshold {
                    self.state = open;
                }
            }
            (BreakerState::HalfOpen { .. }, Health::Down) => self.state = open,
            (
                BreakerState::HalfOpen {
                    probes_in_flight, ..
                },
                Health::Neutral,
            ) => {
                *probes_in_flight = probes_in_flight.saturating_sub(1);
            }
            (BreakerState::Closed { .. }, Health::Neutral) | (BreakerState::Open { .. }, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn params() -> BreakerParams {
        BreakerParams {
            failure_threshold: 3,
            cooldown: Duration::seconds(30),
            half_open_probes: 1,
            probe_timeout: Duration::seconds(60),
        }
    }

    #[test]
    fn open_half_open_closed_and_reopen_cycle() {
        let p = params();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let mut b = Breaker::default();
        // GIVEN two failures, a success resets the run.
        b.on_result(Health::Down, t0, &p);
        b.on_result(Health::Down, t0, &p);
        b.on_result(Health::Up, t0, &p);
        assert_eq!(b.admit(t0, &p), Admit::Yes { probe: false });
        // AND permanent rejections neither count nor reset.
        b.on_result(Health::Down, t0, &p);
        b.on_result(Health::Neutral, t0, &p);
        b.on_result(Health::Down, t0, &p);
        assert_eq!(b.admit(t0, &p), Admit::Yes { probe: false });
        // WHEN the third consecutive transient failure arrives, THEN it opens.
        b.on_result(Health::Down, t0, &p);
        let until = t0 + Duration::seconds(30);
        assert_eq!(b.admit(t0, &p), Admit::Open(until));
        assert_eq!(
            b.admit(until - Duration::milliseconds(1), &p),
            Admit::Open(until)
        );
        // Late results of calls sent before it opened change nothing.
        b.on_result(Health::Up, t0 + Duration::seconds(1), &p);
        assert_eq!(b.admit(t0 + Duration::seconds(1), &p), Admit::Open(until));
        // AFTER the cooldown it is half-open: one probe.
        assert_eq!(b.admit(until, &p), Admit::Yes { probe: true });
        b.on_reserve(until, &p);
        let busy_until = until + Duration::seconds(60);
        assert_eq!(b.admit(until, &p), Admit::ProbesBusy(busy_until));
        // WHEN the probe fails, THEN it re-opens for another cooldown.
        let t1 = until + Duration::seconds(2);
        b.on_result(Health::Down, t1, &p);
        let until2 = t1 + Duration::seconds(30);
        assert_eq!(b.admit(t1, &p), Admit::Open(until2));
        // WHEN the next probe is accepted, THEN it closes.
        b.on_reserve(until2, &p);
        b.on_result(Health::Up, until2 + Duration::seconds(1), &p);
        assert_eq!(b.admit(until2, &p), Admit::Yes { probe: false });
        assert_eq!(
            b.state_at(until2),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
    }

    #[test]
    fn lost_probe_frees_its_place_after_the_timeout() {
        let p = params();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let mut b = Breaker::from_state(BreakerState::Open { until: t0 });
        b.on_reserve(t0, &p);
        assert!(matches!(b.admit(t0, &p), Admit::ProbesBusy(_)));
        let later = t0 + Duration::seconds(60);
        assert_eq!(b.admit(later, &p), Admit::Yes { probe: true });
        b.on_reserve(later, &p);
        assert_eq!(
            b.state_at(later),
            BreakerState::HalfOpen {
                probes_in_flight: 1,
                last_probe_at: Some(later)
            }
        );
        // A permanent rejection of the probe frees the place without deciding.
        b.on_result(Health::Neutral, later, &p);
        assert_eq!(b.admit(later, &p), Admit::Yes { probe: true });
    }
}
