//! Retry policy: which unsuccessful attempts are tried again, and when.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::{CallOutcome, Timestamp};

/// When to call a lead again after an attempt that reached nobody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per lead, the first one included (default 3).
    pub max_attempts: u32,
    /// Wait after a busy line (default 600 s).
    pub busy_delay_secs: u32,
    /// Wait after no answer (default 3600 s).
    pub no_answer_delay_secs: u32,
    /// Wait after a retryable failure (default 900 s).
    pub failed_delay_secs: u32,
    /// Wait after reaching voicemail, or `None` to stop at voicemail (default `None`).
    pub voicemail_delay_secs: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            busy_delay_secs: 600,
            no_answer_delay_secs: 3_600,
            failed_delay_secs: 900,
            voicemail_delay_secs: None,
        }
    }
}

/// The policy's verdict on a finished attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Call again, not before this time.
    RetryAt(Timestamp),
    /// The lead is done.
    Final,
}

impl RetryPolicy {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.max_attempts) {
            return Err("max_attempts must be between 1 and 20".into());
        }
        let delays = [
            self.busy_delay_secs,
            self.no_answer_delay_secs,
            self.failed_delay_secs,
            self.voicemail_delay_secs.unwrap_or(60),
        ];
        if delays.iter().any(|&d| !(10..=7 * 86_400).contains(&d)) {
            return Err("retry delays must be between 10 s and 7 days".into());
        }
        Ok(())
    }

    /// Decides what follows attempt number `attempts_made` that ended in `outcome`.
    pub fn decide(
        &self,
        outcome: &CallOutcome,
        attempts_made: u32,
        now: Timestamp,
    ) -> RetryDecision {
        let delay = match outcome {
            CallOutcome::Busy => Some(self.busy_delay_secs),
            CallOutcome::NoAnswer => Some(self.no_answer_delay_secs),
            CallOutcome::Failed {
                retryable: true, ..
            } => Some(self.failed_delay_secs),
            CallOutcome::Voicemail { .. } => self.voicemail_delay_secs,
            CallOutcome::Failed {
                retryable: false, ..
            }
            | CallOutcome::Human { .. }
            | CallOutcome::Canceled => None,
        };
        match delay {
            Some(secs) if attempts_made < self.max_attempts => {
                RetryDecision::RetryAt(now + Duration::seconds(i64::from(secs)))
            }
            _ => RetryDecision::Final,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retries_until_the_limit_with_per_outcome_delays() {
        let p = RetryPolicy::default();
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 5, 15, 0, 0).unwrap();
        assert_eq!(
            p.decide(&CallOutcome::Busy, 1, now),
            RetryDecision::RetryAt(now + Duration::seconds(600))
        );
        assert_eq!(
            p.decide(&CallOutcome::NoAnswer, 2, now),
            RetryDecision::RetryAt(now + Duration::seconds(3600))
        );
        assert_eq!(
            p.decide(&CallOutcome::NoAnswer, 3, now),
            RetryDecision::Final
        );
        let permanent = CallOutcome::Failed {
            reason: "21211".into(),
            retryable: false,
        };
        assert_eq!(p.decide(&permanent, 1, now), RetryDecision::Final);
        let transient = CallOutcome::Failed {
            reason: "503".into(),
            retryable: true,
        };
        assert!(matches!(
            p.decide(&transient, 1, now),
            RetryDecision::RetryAt(_)
        ));
        assert_eq!(
            p.decide(&CallOutcome::Human { disposition: None }, 1, now),
            RetryDecision::Final
        );
        assert_eq!(
            p.decide(&CallOutcome::Voicemail { left_message: true }, 1, now),
            RetryDecision::Final
        );
    }

    #[test]
    fn validation_bounds() {
        assert!(RetryPolicy::default().validate().is_ok());
        assert!(
            RetryPolicy {
                max_attempts: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            RetryPolicy {
                busy_delay_secs: 1,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn retry_delays_may_reach_seven_days() {
        let week = RetryPolicy {
            busy_delay_secs: 7 * 86_400,
            ..RetryPolicy::default()
        };
        assert_eq!(week.validate(), Ok(()));
        let longer = RetryPolicy {
            busy_delay_secs: 7 * 86_400 + 1,
            ..RetryPolicy::default()
        };
        assert!(longer.validate().is_err());
    }
}
