//! Small builders for test data: campaigns, leads with valid fictional
//! numbers, call attempts, compliance records and releases.
//!
//! Every builder panics on misuse (a test bug), never on valid input.

use std::collections::BTreeMap;

use chrono::TimeZone;
use voxdial_domain::screening::RULES_VERSION;
use voxdial_domain::{
    AnsweredBy, CallAttempt, CallEvent, CallEventKind, CallOutcome, CallState, Campaign,
    CampaignId, CampaignSettings, ComplianceRecord, E164, Lead, LeadId, LeadOutcome, LeadRelease,
    LeadState, NewLead, PendingReason, ProviderCallSid, ProviderId, Timestamp, VoicemailPolicy,
};

/// The suites' reference instant: 2026-06-01 15:00:00 UTC, a Monday, 11:00
/// in New York (inside US calling hours).
pub fn t0() -> Timestamp {
    chrono::Utc
        .with_ymd_and_hms(2026, 6, 1, 15, 0, 0)
        .single()
        .expect("a valid instant")
}

/// `t0()` plus `secs` seconds (negative: before).
pub fn at(secs: i64) -> Timestamp {
    t0() + chrono::Duration::seconds(secs)
}

/// A campaign id (panics if `id` is not a valid id).
pub fn campaign_id(id: &str) -> CampaignId {
    CampaignId::parse(id).expect("a valid campaign id")
}

/// A lead id (panics if `id` is not a valid id).
pub fn lead_id(id: &str) -> LeadId {
    LeadId::parse(id).expect("a valid lead id")
}

/// A draft campaign with default settings, created at `created_at`.
pub fn campaign(id: &str, created_at: Timestamp) -> Campaign {
    Campaign::new(campaign_id(id), CampaignSettings::default(), created_at)
        .expect("default settings are valid")
}

const AREA_CODES: [&str; 10] = [
    "212", "310", "415", "312", "617", "646", "718", "202", "305", "206",
];

/// The `n`-th fictional US number (`n < 1000`): `+1 AAA 555 01xx`, the range
/// reserved for fiction, over ten area codes. Distinct `n` give distinct numbers.
pub fn phone(n: usize) -> E164 {
    assert!(n < 1000, "fixtures have 1000 numbers");
    let text = format!("+1{}55501{:02}", AREA_CODES[n / 100], n % 100);
    E164::parse(&text, None).expect("a valid fictional number")
}

/// The id of the `n`-th fixture lead of a campaign: `{campaign}-L{n:04}`, so
/// id order is `n` order.
pub fn lead_id_of(campaign: &CampaignId, n: usize) -> LeadId {
    lead_id(&format!("{}-L{n:04}", campaign.as_str()))
}

/// The `n`-th lead of a campaign, pending (new) and due at `now`, number
/// [`phone`]`(n)`, with consent, a non-ASCII name and a custom column; odd
/// leads carry an explicit time zone.
pub fn lead(campaign: &CampaignId, n: usize, now: Timestamp) -> Lead {
    let phone = phone(n);
    let time_zone = (n % 2 == 1)
        .then(|| phone.time_zones().first().copied())
        .flatten();
    let mut custom = BTreeMap::new();
    custom.insert("plan".to_string(), "gold".to_string());
    custom.insert("row".to_string(), n.to_string());
    NewLead {
        phone,
        name: format!("Zoë Ünal {n}"),
        time_zone,
        custom,
        consent: true,
    }
    .into_lead(lead_id_of(campaign, n), campaign.clone(), now)
}

/// Leads `range` of a campaign (see [`lead`]).
pub fn leads(campaign: &CampaignId, range: std::ops::Range<usize>, now: Timestamp) -> Vec<Lead> {
    range.map(|n| lead(campaign, n, now)).collect()
}

/// `lead` made pending with `reason` until `due_at`.
pub fn pending(mut lead: Lead, due_at: Timestamp, reason: PendingReason) -> Lead {
    lead.state = LeadState::Pending { due_at, reason };
    lead
}

/// A compliance record allowing `attempt` at `now` (US window, all clear).
pub fn compliance(attempt: u32, now: Timestamp) -> ComplianceRecord {
    let mut local_times = BTreeMap::new();
    local_times.insert(
        "America/New_York".to_string(),
        "2026-06-01T11:00:00-04:00 Mon".to_string(),
    );
    ComplianceRecord {
        rules: RULES_VERSION.to_string(),
        checked_at: now,
        attempt,
        max_attempts: 3,
        region: Some("US".to_string()),
        window: "08:00-21:00".to_string(),
        local_times,
        zone_source: "number".to_string(),
        dnc_global_clear: true,
        dnc_campaign_clear: true,
        consent_required: true,
        consent: true,
        floor: "US-NY: TCPA 08:00-21:00".into(),
    }
}

/// The provider the fixtures' calls go through.
pub fn provider() -> ProviderId {
    ProviderId::parse("twilio").expect("a valid provider id")
}

/// A new (pending) call attempt `attempt` of `lead`, created at `now`.
pub fn call_for(lead: &Lead, attempt: u32, now: Timestamp) -> CallAttempt {
    let mut call = CallAttempt::new(
        lead.campaign_id.clone(),
        lead.id.clone(),
        attempt,
        lead.phone.clone(),
        compliance(attempt, now),
        now,
    );
    call.provider = Some(provider());
    call
}

/// `call` after a provider event of `kind` at `now` (any state; the copy is
/// returned whatever the lifecycle made of it).
pub fn advanced(call: &CallAttempt, kind: CallEventKind, now: Timestamp) -> CallAttempt {
    let mut next = call.clone();
    let mut event = CallEvent::new(provider(), Some(call.id.clone()), kind);
    event.provider_sid = Some(ProviderCallSid::parse("CA0001").expect("a valid sid"));
    event.timestamp = Some(now);
    next.apply(&event, now);
    next
}

/// `call` ended in the terminal `state` at `now`, with its outcome set (panics
/// unless `state` is terminal and `call` is not).
pub fn ended(call: &CallAttempt, state: CallState, now: Timestamp) -> CallAttempt {
    assert!(state.is_terminal(), "{state:?} is not terminal");
    assert!(!call.state.is_terminal(), "the call has ended already");
    let kind = match state {
        CallState::Completed | CallState::Voicemail => CallEventKind::Completed,
        CallState::Busy => CallEventKind::Busy,
        CallState::NoAnswer => CallEventKind::NoAnswer,
        CallState::Failed => CallEventKind::Failed,
        _ => CallEventKind::Canceled,
    };
    let mut next = call.clone();
    let mut event = CallEvent::new(provider(), Some(call.id.clone()), kind);
    event.timestamp = Some(now);
    if kind == CallEventKind::Completed {
        event.duration_secs = Some(42);
        event.answered_by = Some(if state == CallState::Voicemail {
            AnsweredBy::MachineEndBeep
        } else {
            AnsweredBy::Human
        });
    }
    next.apply(&event, now);
    assert_eq!(next.state, state, "the lifecycle refused the fixture event");
    next.outcome = next.outcome(&VoicemailPolicy::LeaveMessage, false);
    next
}

/// A terminal call attempt `attempt` of `lead`: created at `now`, ended in
/// `state` at `now`.
pub fn terminal_call(lead: &Lead, attempt: u32, state: CallState, now: Timestamp) -> CallAttempt {
    ended(&call_for(lead, attempt, now), state, now)
}

/// The release of a dialled attempt back to pending (retry) until `due_at`.
pub fn retry_release(
    lead: &LeadId,
    attempt: u32,
    outcome: CallOutcome,
    due_at: Timestamp,
    at: Timestamp,
) -> LeadRelease {
    LeadRelease {
        lead_id: lead.clone(),
        attempt,
        next: LeadState::Pending {
            due_at,
            reason: PendingReason::Retry,
        },
        dialed: true,
        outcome: Some(outcome),
        at,
    }
}

/// The release of a dialled attempt to a final state.
pub fn final_release(
    lead: &LeadId,
    attempt: u32,
    outcome: CallOutcome,
    at: Timestamp,
) -> LeadRelease {
    LeadRelease {
        lead_id: lead.clone(),
        attempt,
        next: LeadState::Final {
            outcome: LeadOutcome::Called {
                outcome: outcome.clone(),
            },
            at,
        },
        dialed: true,
        outcome: Some(outcome),
        at,
    }
}

/// The release a terminal `call` implies: final with its outcome.
pub fn release_for(call: &CallAttempt, at: Timestamp) -> LeadRelease {
    let outcome = call.outcome.clone().unwrap_or(CallOutcome::Canceled);
    final_release(&call.lead_id, call.attempt, outcome, at)
}

/// The release of an undialled slot (the dispatcher gave it back).
pub fn return_release(
    lead: &LeadId,
    attempt: u32,
    due_at: Timestamp,
    at: Timestamp,
) -> LeadRelease {
    LeadRelease {
        lead_id: lead.clone(),
        attempt,
        next: LeadState::Pending {
            due_at,
            reason: PendingReason::Returned,
        },
        dialed: false,
        outcome: None,
        at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_numbers_are_valid_and_distinct() {
        let numbers: std::collections::BTreeSet<_> = (0..1000).map(phone).collect();
        assert_eq!(numbers.len(), 1000);
    }

    #[test]
    fn terminal_calls_carry_their_outcome() {
        let c = campaign_id("c");
        let l = lead(&c, 1, t0());
        for state in [
            CallState::Completed,
            CallState::Voicemail,
            CallState::Busy,
            CallState::NoAnswer,
            CallState::Failed,
            CallState::Canceled,
        ] {
            let call = terminal_call(&l, 1, state, t0());
            assert_eq!(call.state, state);
            assert!(call.outcome.is_some());
        }
        assert_eq!(lead_id_of(&c, 7).as_str(), "c-L0007");
        assert!(lead(&c, 1, t0()).time_zone.is_some());
    }
}
