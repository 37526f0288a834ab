//! Bayesian success estimates with evidence that decays with age.
//!
//! Each (provider, prefix) level and each caller ID keeps two evidence
//! counts, successes and failures. They are multiplied by
//! `0.5^(age / half_life)` *lazily*: when read or updated at `now`, from the
//! time of the last update, so nothing needs a timer and a read never
//! changes state. The estimate is the mean of the Beta posterior
//! `Beta(a0 + s, b0 + f)` whose prior is `a0 = prior_rate * prior_weight`,
//! `b0 = (1 - prior_rate) * prior_weight`.

use serde::{Deserialize, Serialize};
use voxdial_domain::Timestamp;

/// Estimator parameters, from [`crate::EstimatorConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Prior {
    /// Prior pseudo-successes.
    pub(crate) alpha: f64,
    /// Prior pseudo-failures.
    pub(crate) beta: f64,
    /// Seconds for the evidence to lose half its weight.
    pub(crate) half_life_secs: f64,
    /// Decayed observations a prefix level needs before it is trusted.
    pub(crate) min_evidence: f64,
}

impl Prior {
    /// The posterior mean of decayed counts.
    pub(crate) fn mean(&self, successes: f64, failures: f64) -> f64 {
        (self.alpha + successes) / (self.alpha + self.beta + successes + failures)
    }
}

/// Decayed success and failure counts as of `updated_at`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Evidence {
    successes: f64,
    failures: f64,
    updated_at: Option<Timestamp>,
}

impl Evidence {
    /// The counts decayed to `now` (a `now` before the last update decays nothing).
    pub(crate) fn at(&self, now: Timestamp, prior: &Prior) -> (f64, f64) {
        let Some(at) = self.updated_at else {
            return (0.0, 0.0);
        };
        let age = (now - at).num_milliseconds() as f64 / 1000.0;
        if age <= 0.0 {
            return (self.successes, self.failures);
        }
        let k = (-age / prior.half_life_secs).exp2();
        (self.successes * k, self.failures * k)
    }

    /// Adds one observation at `now`, decaying the older ones first.
    pub(crate) fn observe(&mut self, success: bool, now: Timestamp, prior: &Prior) {
        let (s, f) = self.at(now, prior);
        self.successes = s + f64::from(u8::from(success));
        self.failures = f + f64::from(u8::from(!success));
        self.updated_at = Some(self.updated_at.map_or(now, |t| t.max(now)));
    }

    /// Posterior mean at `now` and the decayed number of observations.
    pub(crate) fn estimate(&self, now: Timestamp, prior: &Prior) -> (f64, f64) {
        let (s, f) = self.at(now, prior);
        (prior.mean(s, f), s + f)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn prior() -> Prior {
        Prior {
            alpha: 2.0,
            beta: 2.0,
            half_life_secs: 3600.0,
            min_evidence: 5.0,
        }
    }

    #[test]
    fn no_evidence_is_the_prior() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(Evidence::default().estimate(now, &prior()), (0.5, 0.0));
    }

    #[test]
    fn evidence_halves_every_half_life() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let p = prior();
        let mut e = Evidence::default();
        for _ in 0..8 {
            e.observe(false, t0, &p);
        }
        assert_eq!(e.at(t0, &p), (0.0, 8.0));
        let (_, f) = e.at(t0 + Duration::hours(1), &p);
        assert!((f - 4.0).abs() < 1e-9);
        let (_, f) = e.at(t0 + Duration::hours(3), &p);
        assert!((f - 1.0).abs() < 1e-9);
        // Reading is pure: the stored counts did not change.
        assert_eq!(e.at(t0, &p), (0.0, 8.0));
        // A clock that goes backwards does not grow the evidence.
        assert_eq!(e.at(t0 - Duration::hours(1), &p), (0.0, 8.0));
    }

    #[test]
    fn old_failures_matter_less_than_recent_successes() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let p = prior();
        // GIVEN 10 failures long ago, then 10 successes recently.
        let mut old_bad = Evidence::default();
        for _ in 0..10 {
            old_bad.observe(false, t0, &p);
        }
        for _ in 0..10 {
            old_bad.observe(true, t0 + Duration::hours(5), &p);
        }
        // AND the reverse order.
        let mut old_good = Evidence::default();
        for _ in 0..10 {
            old_good.observe(true, t0, &p);
        }
        for _ in 0..10 {
            old_good.observe(false, t0 + Duration::hours(5), &p);
        }
        let now = t0 + Duration::hours(5);
        let (bad_then_good, _) = old_bad.estimate(now, &p);
        let (good_then_bad, _) = old_good.estimate(now, &p);
        // THEN the same counts give opposite estimates: recent evidence dominates.
        assert!(bad_then_good > 0.8, "{bad_then_good}");
        assert!(good_then_bad < 0.2, "{good_then_bad}");
        // AND with time everything drifts back toward the prior.
        let (later, n) = old_bad.estimate(now + Duration::hours(48), &p);
        assert!((later - 0.5).abs() < 0.01 && n < 0.01);
    }
}
