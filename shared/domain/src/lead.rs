//! A lead and its state in the campaign's pacing.
//!
//! A lead is `Pending` (waiting until `due_at`), `Active` (it holds one of the
//! campaign's slots: its dispatch message is queued or its call is live) or
//! `Final`. Only the store moves a lead between these states, with conditional
//! writes: claiming (Pending → Active) takes a slot only while fewer than
//! `max_concurrency` are held, and leaving Active releases the slot exactly once.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{
    CallOutcome, CampaignId, Disposition, E164, LeadId, LeadOutcome, OutcomeSource, Timestamp,
};

/// One person to call in one campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// The lead's id.
    pub id: LeadId,
    /// The campaign it belongs to.
    pub campaign_id: CampaignId,
    /// The number to call.
    pub phone: E164,
    /// The number's ISO 3166 region (`US`, `IN`), derived once at import so
    /// screening does not parse the number again on every dial.
    #[serde(default)]
    pub region: Option<String>,
    /// The person's name, as imported (may be empty).
    pub name: String,
    /// The callee's time zone when the import gave one; otherwise screening
    /// derives the candidate zones from the number.
    pub time_zone: Option<Tz>,
    /// Extra columns of the import, passed to the AI agent.
    pub custom: BTreeMap<String, String>,
    /// Whether the lead gave consent to be called.
    pub consent: bool,
    /// Where the lead is in the campaign.
    pub state: LeadState,
    /// Call attempts made so far (calls actually created).
    pub attempts: u32,
    /// How the previous attempt ended, when there was one.
    pub last_outcome: Option<crate::CallOutcome>,
    /// Who decided the final outcome, once the lead is final after a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_source: Option<crate::OutcomeSource>,
    /// When the lead was imported.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: u64,
}

/// Where a lead is in the campaign's pacing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LeadState {
    /// Waiting to be claimed once `due_at` has passed.
    Pending {
        /// The earliest time the lead may be dispatched.
        due_at: Timestamp,
        /// Why it waits.
        reason: PendingReason,
    },
    /// Holds a slot: its dispatch message is queued, or attempt `attempt` is live.
    Active {
        /// The attempt number (1-based) this slot is for.
        attempt: u32,
        /// When the slot may be reclaimed by the sweeper if nothing happens.
        lease_until: Timestamp,
    },
    /// Done; never called again.
    Final {
        /// How it ended.
        outcome: LeadOutcome,
        /// When.
        at: Timestamp,
    },
}

/// Why a pending lead waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingReason {
    /// Never dispatched yet.
    New,
    /// Waiting for a retry after an unsuccessful attempt.
    Retry,
    /// Outside the callee's calling window: waits for its next opening.
    CallingWindow,
    /// Returned unused (campaign paused, or no slot free after all).
    Returned,
}

impl LeadState {
    /// A short label: `pending`, `active` or `final`.
    pub fn label(&self) -> &'static str {
        match self {
            LeadState::Pending { .. } => "pending",
            LeadState::Active { .. } => "active",
            LeadState::Final { .. } => "final",
        }
    }

    /// Whether the lead is done.
    pub fn is_final(&self) -> bool {
        matches!(self, LeadState::Final { .. })
    }

    /// The outcome of the call that made the lead final, if one did.
    pub fn final_call_outcome(&self) -> Option<&crate::CallOutcome> {
        match self {
            LeadState::Final {
                outcome: LeadOutcome::Called { outcome },
                ..
            } => Some(outcome),
            _ => None,
        }
    }

    /// The attempt the lead holds a slot for, when it is active.
    pub fn active_attempt(&self) -> Option<u32> {
        match self {
            LeadState::Active { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }
}

/// A lead as read from an import, before it joins a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewLead {
    /// The number to call.
    pub phone: E164,
    /// The person's name.
    pub name: String,
    /// An explicit time zone, if the import had one.
    pub time_zone: Option<Tz>,
    /// Extra columns.
    pub custom: BTreeMap<String, String>,
    /// Whether consent was given.
    pub consent: bool,
}

impl Lead {
    /// The lead with its final outcome taken from the post-call analysis of
    /// `attempt`: only when that attempt made the lead final as a bare
    /// answer (the conversation recorded no disposition). `None` when
    /// there is nothing to amend, so amending twice changes nothing.
    pub fn with_analysed_disposition(
        &self,
        attempt: u32,
        disposition: Disposition,
        now: Timestamp,
    ) -> Option<Lead> {
        let LeadState::Final { at, .. } = self.state else {
            return None;
        };
        let bare = CallOutcome::Human { disposition: None };
        if self.attempts != attempt || self.state.final_call_outcome() != Some(&bare) {
            return None;
        }
        let outcome = CallOutcome::Human {
            disposition: Some(disposition),
        };
        let mut next = self.clone();
        next.state = LeadState::Final {
            outcome: LeadOutcome::Called {
                outcome: outcome.clone(),
            },
            at,
        };
        next.last_outcome = Some(outcome);
        next.outcome_source = Some(OutcomeSource::Analysis);
        next.updated_at = now;
        next.version += 1;
        Some(next)
    }
}

impl NewLead {
    /// The lead record for campaign `campaign`, pending from `now`.
    pub fn into_lead(self, id: LeadId, campaign: CampaignId, now: Timestamp) -> Lead {
        Lead {
            id,
            campaign_id: campaign,
            region: self.phone.region(),
            phone: self.phone,
            name: self.name,
            time_zone: self.time_zone,
            custom: self.custom,
            consent: self.consent,
            state: LeadState::Pending {
                due_at: now,
                reason: PendingReason::New,
            },
            attempts: 0,
            last_outcome: None,
            outcome_source: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::LeadOutcome;

    fn at(secs: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap()
    }

    /// A new lead `l1` of campaign `c1` to +1 212 555 0100 (New York).
    pub(crate) fn new_lead(now: Timestamp) -> Lead {
        NewLead {
            phone: E164::parse("+12125550100", None).unwrap(),
            name: "Ana".into(),
            time_zone: None,
            custom: BTreeMap::new(),
            consent: true,
        }
        .into_lead(
            crate::LeadId::parse("l1").unwrap(),
            CampaignId::parse("c1").unwrap(),
            now,
        )
    }

    fn lead(state: LeadState, attempts: u32) -> Lead {
        let mut lead = new_lead(at(0));
        lead.state = state;
        lead.attempts = attempts;
        lead
    }

    fn called(outcome: CallOutcome) -> LeadState {
        LeadState::Final {
            outcome: LeadOutcome::Called { outcome },
            at: at(5),
        }
    }

    #[test]
    fn states_say_what_they_are() {
        let pending = LeadState::Pending {
            due_at: at(0),
            reason: PendingReason::New,
        };
        let active = LeadState::Active {
            attempt: 3,
            lease_until: at(9),
        };
        let answered = CallOutcome::Human { disposition: None };
        let done = called(answered.clone());
        assert_eq!(
            [&pending, &active, &done].map(LeadState::label),
            ["pending", "active", "final"]
        );
        assert_eq!(
            [&pending, &active, &done].map(LeadState::is_final),
            [false, false, true]
        );
        assert_eq!(active.active_attempt(), Some(3));
        assert_eq!(pending.active_attempt(), None);
        assert_eq!(done.final_call_outcome(), Some(&answered));
        assert_eq!(active.final_call_outcome(), None);
    }

    #[test]
    fn only_a_bare_answer_of_the_last_attempt_takes_the_analysed_disposition() {
        let bare = lead(called(CallOutcome::Human { disposition: None }), 2);
        let amended = bare
            .with_analysed_disposition(2, Disposition::Interested, at(60))
            .expect("a bare answer is amended");
        let interested = CallOutcome::Human {
            disposition: Some(Disposition::Interested),
        };
        assert_eq!(amended.state.final_call_outcome(), Some(&interested));
        assert_eq!(amended.last_outcome, Some(interested));
        assert_eq!(amended.outcome_source, Some(OutcomeSource::Analysis));
        assert_eq!(
            (amended.version, amended.updated_at),
            (bare.version + 1, at(60))
        );
        assert_eq!(
            amended.with_analysed_disposition(2, Disposition::NotInterested, at(61)),
            None
        );
        assert_eq!(
            bare.with_analysed_disposition(1, Disposition::Interested, at(60)),
            None,
            "an older attempt"
        );
        let voicemail = lead(called(CallOutcome::Voicemail { left_message: true }), 2);
        assert_eq!(
            voicemail.with_analysed_disposition(2, Disposition::Interested, at(60)),
            None
        );
        let active = lead(
            LeadState::Active {
                attempt: 2,
                lease_until: at(9),
            },
            2,
        );
        assert_eq!(
            active.with_analysed_disposition(2, Disposition::Interested, at(60)),
            None
        );
    }
}
