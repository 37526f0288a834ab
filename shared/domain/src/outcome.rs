//! What a call and a lead ended as, and what it cost.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in millionths of a US dollar. Providers report prices in
/// their account currency; rate tables and reports use USD.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// From a decimal dollar string such as Twilio's `"-0.01500"` (the sign is
    /// dropped: Twilio reports charges as negative numbers).
    pub fn from_decimal_str(text: &str) -> Option<Money> {
        let text = text.trim().trim_start_matches(['-', '+']);
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut micros = 0i64;
        for (i, c) in frac
            .chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .enumerate()
        {
            let d = c.to_digit(10)? as i64;
            micros += d * 10i64.pow(5 - i as u32);
        }
        whole.checked_mul(1_000_000)?.checked_add(micros).map(Money)
    }

    /// Dollars as a float, for display.
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${:.4}", self.dollars())
    }
}

/// What the conversation with a person decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Wants the offer or a follow-up.
    Interested,
    /// Declined.
    NotInterested,
    /// Asked to be called back later.
    CallbackRequested,
    /// Handed over to a human agent.
    Transferred,
    /// The person is not the lead.
    WrongNumber,
    /// Asked not to be called again (the number goes on the do-not-call list).
    OptedOut,
}

impl Disposition {
    /// Every disposition, in display order.
    pub const ALL: [Disposition; 6] = [
        Disposition::Interested,
        Disposition::NotInterested,
        Disposition::CallbackRequested,
        Disposition::Transferred,
        Disposition::WrongNumber,
        Disposition::OptedOut,
    ];

    /// The snake_case label used in reports and APIs.
    pub fn label(self) -> &'static str {
        match self {
            Disposition::Interested => "interested",
            Disposition::NotInterested => "not_interested",
            Disposition::CallbackRequested => "callback_requested",
            Disposition::Transferred => "transferred",
            Disposition::WrongNumber => "wrong_number",
            Disposition::OptedOut => "opted_out",
        }
    }

    /// Parses a label produced by [`Disposition::label`].
    pub fn from_label(label: &str) -> Option<Disposition> {
        Self::ALL.into_iter().find(|d| d.label() == label)
    }
}

/// How one call attempt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallOutcome {
    /// A person answered; the conversation's disposition when one was recorded.
    Human {
        /// The disposition, if the conversation produced one.
        disposition: Option<Disposition>,
    },
    /// An answering machine answered.
    Voicemail {
        /// Whether a message was left (policy `leave_message`) or the call hung up.
        left_message: bool,
    },
    /// Rang out without an answer.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The call could not be set up or failed.
    Failed {
        /// Why, in words (provider error code, SIP code, "no provider available").
        reason: String,
        /// Whether trying again later can help (network, provider outage) or
        /// not (invalid number, geo permission).
        retryable: bool,
    },
    /// Canceled before it was answered (by voxdial or the provider).
    Canceled,
}

impl CallOutcome {
    /// The label used when counting outcomes.
    pub fn label(&self) -> &'static str {
        match self {
            CallOutcome::Human {
                disposition: Some(d),
            } => d.label(),
            CallOutcome::Human { disposition: None } => "answered",
            CallOutcome::Voicemail { left_message: true } => "voicemail_left",
            CallOutcome::Voicemail {
                left_message: false,
            } => "voicemail_hung_up",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Busy => "busy",
            CallOutcome::Failed { .. } => "failed",
            CallOutcome::Canceled => "canceled",
        }
    }
}

/// Who decided a lead's final outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeSource {
    /// The conversation recorded a disposition (a tool call, a transfer).
    Conversation,
    /// The post-call analysis, for a conversation that recorded none.
    Analysis,
    /// The provider's events alone (no answer, busy, a machine, a failure,
    /// or an answer with no disposition yet).
    Provider,
}

impl OutcomeSource {
    /// The source of a call outcome as the call ended.
    pub fn of(outcome: &CallOutcome) -> OutcomeSource {
        match outcome {
            CallOutcome::Human {
                disposition: Some(_),
            } => OutcomeSource::Conversation,
            _ => OutcomeSource::Provider,
        }
    }
}

/// Why a lead was not dialled at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScreenReason {
    /// The number is on the organisation's do-not-call list (every campaign
    /// of the organisation; `dnc_global` on the wire).
    DoNotCallGlobal,
    /// The number is on this campaign's do-not-call list.
    DoNotCallCampaign,
    /// The campaign requires consent and the lead has none.
    NoConsent,
    /// Every allowed attempt was used.
    AttemptLimit,
    /// The callee's time zones share no calling window within a week.
    NoCallingWindow,
}

impl ScreenReason {
    /// A short label for reports.
    pub fn label(&self) -> &'static str {
        match self {
            ScreenReason::DoNotCallGlobal => "dnc_global",
            ScreenReason::DoNotCallCampaign => "dnc_campaign",
            ScreenReason::NoConsent => "no_consent",
            ScreenReason::AttemptLimit => "attempt_limit",
            ScreenReason::NoCallingWindow => "no_calling_window",
        }
    }
}

/// How a lead ended: the last call's outcome, or why it was never (again) called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LeadOutcome {
    /// Its last call attempt ended like this and no retry follows.
    Called {
        /// The outcome of the last attempt.
        outcome: CallOutcome,
    },
    /// Screening ruled the lead out.
    ScreenedOut {
        /// Why.
        reason: ScreenReason,
    },
    /// The campaign was canceled before the lead was finished.
    Canceled,
}

impl LeadOutcome {
    /// The outcome group shown in summaries: `interested`, `voicemail_left`,
    /// `no_answer`, `busy`, `failed`, `screened_out`, `canceled`, ...
    pub fn label(&self) -> &'static str {
        match self {
            LeadOutcome::Called { outcome } => outcome.label(),
            LeadOutcome::ScreenedOut { .. } => "screened_out",
            LeadOutcome::Canceled => "campaign_canceled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_twilio_prices() {
        assert_eq!(Money::from_decimal_str("-0.01500"), Some(Money(15_000)));
        assert_eq!(Money::from_decimal_str("1.2"), Some(Money(1_200_000)));
        assert_eq!(Money::from_decimal_str(".0085"), Some(Money(8_500)));
        assert_eq!(Money::from_decimal_str("0.1234567"), Some(Money(123_456)));
        assert_eq!(Money::from_decimal_str("abc"), None);
        assert_eq!(Money::from_decimal_str(""), None);
        assert_eq!(Money(15_000).to_string(), "$0.0150");
    }

    #[test]
    fn labels_round_trip() {
        for d in Disposition::ALL {
            assert_eq!(Disposition::from_label(d.label()), Some(d));
        }
        assert_eq!(Disposition::from_label("maybe"), None);
    }

    #[test]
    fn money_adds_and_sums() {
        assert_eq!(Money(1_500) + Money(2_500), Money(4_000));
        assert_eq!(
            [Money(1), Money(2), Money(3)].into_iter().sum::<Money>(),
            Money(6)
        );
        assert_eq!(Money(i64::MAX) + Money(1), Money(i64::MAX));
    }

    #[test]
    fn outcome_sources_and_labels() {
        let with = |disposition| CallOutcome::Human { disposition };
        assert_eq!(
            OutcomeSource::of(&with(Some(Disposition::Interested))),
            OutcomeSource::Conversation
        );
        assert_eq!(OutcomeSource::of(&with(None)), OutcomeSource::Provider);
        use ScreenReason::*;
        let reasons = [
            DoNotCallGlobal,
            DoNotCallCampaign,
            NoConsent,
            AttemptLimit,
            NoCallingWindow,
        ];
        assert_eq!(
            reasons.map(|r| r.label()),
            [
                "dnc_global",
                "dnc_campaign",
                "no_consent",
                "attempt_limit",
                "no_calling_window"
            ]
        );
        let outcomes = [
            LeadOutcome::Called {
                outcome: with(Some(Disposition::Interested)),
            },
            LeadOutcome::ScreenedOut { reason: NoConsent },
            LeadOutcome::Canceled,
        ];
        assert_eq!(
            outcomes.map(|o| o.label()),
            ["interested", "screened_out", "campaign_canceled"]
        );
    }
}
