//! One call attempt and its lifecycle, driven by provider events.
//!
//! ```text
//! PENDING ─► DIALING ─► RINGING ─► ANSWERED ─► COMPLETED | VOICEMAIL
//!    │          │          │                    
//!    └──────────┴──────────┴──► BUSY | NO_ANSWER | FAILED | CANCELED
//! ```
//!
//! Events arrive duplicated and out of order (providers post each one as its
//! own HTTP request and retry). [`CallAttempt::apply`] is idempotent: a
//! terminal state is never left; a non-terminal event older than the newest
//! applied one (by provider sequence number, else timestamp) is ignored, and
//! so is one that would move the call backwards (ringing after answered).
//! A terminal event always wins over non-terminal ones, whatever its order:
//! it is the one event that decides the slot, the retry and the outcome.

use serde::{Deserialize, Serialize};

use crate::{
    CallId, CallOutcome, CampaignId, ComplianceRecord, Disposition, E164, LeadId, Money,
    ProviderCallSid, ProviderId, Timestamp, VoicemailPolicy,
};

/// Where a call attempt is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Screened and recorded; the provider request is being sent.
    Pending,
    /// The provider accepted the call (queued / initiated).
    Dialing,
    /// The callee's phone is ringing.
    Ringing,
    /// Answered; the conversation (or the voicemail) is under way.
    Answered,
    /// Ended after a conversation with a person.
    Completed,
    /// The line was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// Could not be placed or failed.
    Failed,
    /// Canceled before answer.
    Canceled,
    /// Ended after an answering machine picked up.
    Voicemail,
}

impl CallState {
    /// Whether the call is over. A terminal state is never left.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallState::Completed
                | CallState::Busy
                | CallState::NoAnswer
                | CallState::Failed
                | CallState::Canceled
                | CallState::Voicemail
        )
    }

    /// The order of the non-terminal states; terminal states rank highest.
    fn rank(self) -> u8 {
        match self {
            CallState::Pending => 0,
            CallState::Dialing => 1,
            CallState::Ringing => 2,
            CallState::Answered => 3,
            _ => 4,
        }
    }

    /// The snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            CallState::Pending => "pending",
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Completed => "completed",
            CallState::Busy => "busy",
            CallState::NoAnswer => "no_answer",
            CallState::Failed => "failed",
            CallState::Canceled => "canceled",
            CallState::Voicemail => "voicemail",
        }
    }
}

/// Who or what answered, as the provider's answering-machine detection says
/// (Twilio `AnsweredBy` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    /// A person.
    Human,
    /// A machine, detected at the start of its greeting.
    MachineStart,
    /// A machine, its greeting ended with a beep.
    MachineEndBeep,
    /// A machine, its greeting ended with silence.
    MachineEndSilence,
    /// A machine, its greeting ended otherwise.
    MachineEndOther,
    /// A fax machine.
    Fax,
    /// Detection could not tell.
    Unknown,
}

impl AnsweredBy {
    /// Whether this verdict means an answering machine.
    pub fn is_machine(self) -> bool {
        matches!(
            self,
            AnsweredBy::MachineStart
                | AnsweredBy::MachineEndBeep
                | AnsweredBy::MachineEndSilence
                | AnsweredBy::MachineEndOther
        )
    }
}

/// What a provider event says happened to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallEventKind {
    /// Accepted and queued by the provider.
    Queued,
    /// The provider started dialling.
    Initiated,
    /// Ringing.
    Ringing,
    /// Answered (Twilio `in-progress`).
    Answered,
    /// Ended after an answer.
    Completed,
    /// Busy.
    Busy,
    /// No answer.
    NoAnswer,
    /// Failed.
    Failed,
    /// Canceled.
    Canceled,
    /// An answering-machine detection verdict arrived on its own (async AMD).
    MachineDetection,
}

impl CallEventKind {
    /// Whether the event ends the call.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CallEventKind::Completed
                | CallEventKind::Busy
                | CallEventKind::NoAnswer
                | CallEventKind::Failed
                | CallEventKind::Canceled
        )
    }
}

/// A provider-neutral call event, parsed from a status webhook or from a
/// status fetched by the sweeper.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    /// voxdial's id of the attempt, carried in the callback URL.
    pub call_id: Option<CallId>,
    /// The provider that sent it.
    pub provider: ProviderId,
    /// The provider's id of the call.
    pub provider_sid: Option<ProviderCallSid>,
    /// What happened.
    pub kind: CallEventKind,
    /// The provider's sequence number of the event, when it sends one.
    pub sequence: Option<u64>,
    /// When the provider says it happened.
    pub timestamp: Option<Timestamp>,
    /// Call duration in seconds (terminal events).
    pub duration_secs: Option<u32>,
    /// The machine-detection verdict, when present.
    pub answered_by: Option<AnsweredBy>,
    /// The provider's price for the call, when reported.
    pub price: Option<Money>,
    /// The SIP response code, when reported.
    pub sip_response_code: Option<u16>,
    /// A provider error code or message, when reported.
    pub error: Option<String>,
}

impl CallEvent {
    /// A bare event of `kind` for a call (other fields empty).
    pub fn new(provider: ProviderId, call_id: Option<CallId>, kind: CallEventKind) -> CallEvent {
        CallEvent {
            call_id,
            provider,
            provider_sid: None,
            kind,
            sequence: None,
            timestamp: None,
            duration_secs: None,
            answered_by: None,
            price: None,
            sip_response_code: None,
            error: None,
        }
    }
}

/// One call attempt of one lead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallAttempt {
    /// The attempt's id ([`CallId::for_attempt`]).
    pub id: CallId,
    /// The campaign.
    pub campaign_id: CampaignId,
    /// The lead.
    pub lead_id: LeadId,
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The callee.
    pub to: E164,
    /// The caller ID used.
    pub from: Option<E164>,
    /// The provider that placed it.
    pub provider: Option<ProviderId>,
    /// The provider's call id.
    pub provider_sid: Option<ProviderCallSid>,
    /// Where the call is.
    pub state: CallState,
    /// The highest provider sequence number applied.
    pub last_sequence: Option<u64>,
    /// The timestamp of the newest event applied.
    pub last_event_at: Option<Timestamp>,
    /// When the record was created (the dial decision).
    pub created_at: Timestamp,
    /// When it was answered.
    pub answered_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// The machine-detection verdict.
    pub answered_by: Option<AnsweredBy>,
    /// Talk time in seconds.
    pub duration_secs: Option<u32>,
    /// What the call cost.
    pub cost: Option<Money>,
    /// The conversation's disposition, when recorded.
    pub disposition: Option<Disposition>,
    /// How it ended, once terminal.
    pub outcome: Option<CallOutcome>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// Why it was allowed.
    pub compliance: ComplianceRecord,
    /// The conversation, when a media session ran.
    #[serde(default)]
    pub conversation: Option<Conversation>,
    /// The transfer to a human, when there was one.
    #[serde(default)]
    pub transfer: Option<TransferRecord>,
    /// A callback the person asked for: the lead's next attempt is then due
    /// at this time instead of the retry policy's.
    #[serde(default)]
    pub callback_at: Option<Timestamp>,
    /// When the media bridge admitted the call's one media stream: a second
    /// stream for the same call is refused (set by a conditional write, so
    /// two bridges racing admit one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_stream_at: Option<Timestamp>,
    /// When the media bridge finished playing the voicemail message; a
    /// stream that stopped before the message's end leaves it empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_left_at: Option<Timestamp>,
    /// What happened after the call: recording, transcript, analysis,
    /// webhook delivery, retention.
    #[serde(default, skip_serializing_if = "crate::PostCall::is_empty")]
    pub post_call: crate::PostCall,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: u64,
}

/// What the media bridge reports about a call's conversation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Blob key of the stereo recording (caller left, agent right).
    pub recording: Option<String>,
    /// Blob key of the transcript (JSON, per turn with times).
    pub transcript: Option<String>,
    /// The first words of the transcript, for lists and searches.
    pub excerpt: Option<String>,
    /// The answering-machine verdict of the bridge (`human`, `machine`, …).
    pub amd_verdict: Option<String>,
    /// How long after answer the verdict came, in milliseconds.
    pub amd_latency_ms: Option<u32>,
    /// Time from the end of each caller turn to the agent's first audio, ms.
    pub first_audio_ms: Vec<u32>,
    /// The model's latency per turn, ms.
    pub model_latency_ms: Vec<u32>,
    /// Filler clips played to mask model latency.
    pub fillers: u32,
    /// Times the caller spoke over the agent.
    pub barge_ins: u32,
    /// The agent's share of talk time, 0 to 1.
    pub talk_ratio: f64,
    /// Length of the media session, ms.
    pub duration_ms: u64,
    /// Why the conversation ended.
    pub end_reason: Option<String>,
    /// The AI agent that held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<ConversationAgent>,
    /// The voice model's tokens over the call, priced by the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_usage: Option<crate::ModelUsage>,
}

/// The AI agent that held a conversation: its campaign's agent and pinned
/// version when the call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationAgent {
    /// The agent (`default` for the built-in one).
    pub id: crate::AgentId,
    /// Its version (`None` for the built-in agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Its name.
    pub name: String,
}

/// A transfer of a call to a human agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    /// `cold` or `warm`.
    pub mode: String,
    /// The human agent.
    pub agent_id: crate::HumanAgentId,
    /// A summary of the conversation for the human.
    pub summary: String,
    /// Why the transfer was asked for.
    pub reason: String,
    /// When it was carried out.
    pub at: Timestamp,
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Nothing changed.
    Ignored(IgnoreReason),
    /// The call moved forward or learnt something, but is not over.
    Progressed,
    /// The call just ended; the caller must finish it (release the slot,
    /// decide the retry) exactly once.
    Terminal,
}

/// Why an event changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// The call had already ended.
    AlreadyTerminal,
    /// An older event than one already applied.
    Stale,
    /// It would not move the call forward (a duplicate, or ringing after answered).
    NoProgress,
}

impl CallAttempt {
    /// A new attempt in state `Pending`.
    pub fn new(
        campaign_id: CampaignId,
        lead_id: LeadId,
        attempt: u32,
        to: E164,
        compliance: ComplianceRecord,
        now: Timestamp,
    ) -> CallAttempt {
        CallAttempt {
            id: CallId::for_attempt(&lead_id, attempt),
            campaign_id,
            lead_id,
            attempt,
            to,
            from: None,
            provider: None,
            provider_sid: None,
            state: CallState::Pending,
            last_sequence: None,
            last_event_at: None,
            created_at: now,
            answered_at: None,
            ended_at: None,
            answered_by: None,
            duration_secs: None,
            cost: None,
            disposition: None,
            outcome: None,
            failure: None,
            compliance,
            conversation: None,
            transfer: None,
            callback_at: None,
            media_stream_at: None,
            voicemail_left_at: None,
            post_call: crate::PostCall::default(),
            version: 0,
        }
    }

    /// Applies a provider event received at `now`. See the module doc for the rules.
    pub fn apply(&mut self, event: &CallEvent, now: Timestamp) -> Applied {
        if self.state.is_terminal() {
            return Applied::Ignored(IgnoreReason::AlreadyTerminal);
        }
        // The dispatcher notes the provider once the create request returns;
        // a short call can end before that (a slow response), and its end
        // must still be counted against, and priced by, the provider that
        // sent it.
        if self.provider.is_none() {
            self.provider = Some(event.provider.clone());
        }
        if self.provider_sid.is_none() {
            self.provider_sid = event.provider_sid.clone();
        }
        if event.kind == CallEventKind::MachineDetection {
            return match event.answered_by {
                Some(verdict) if self.answered_by != Some(verdict) => {
                    self.answered_by = Some(verdict);
                    Applied::Progressed
                }
                _ => Applied::Ignored(IgnoreReason::NoProgress),
            };
        }
        if !event.kind.is_terminal() && self.is_stale(event) {
            return Applied::Ignored(IgnoreReason::Stale);
        }
        let target = match event.kind {
            CallEventKind::Queued | CallEventKind::Initiated => CallState::Dialing,
            CallEventKind::Ringing => CallState::Ringing,
            CallEventKind::Answered => CallState::Answered,
            CallEventKind::Completed => {
                let verdict = event.answered_by.or(self.answered_by);
                if verdict.is_some_and(AnsweredBy::is_machine) {
                    CallState::Voicemail
                } else {
                    CallState::Completed
                }
            }
            CallEventKind::Busy => CallState::Busy,
            CallEventKind::NoAnswer => CallState::NoAnswer,
            CallEventKind::Failed => CallState::Failed,
            CallEventKind::Canceled => CallState::Canceled,
            CallEventKind::MachineDetection => unreachable!("handled above"),
        };
        if !target.is_terminal() && target.rank() <= self.state.rank() {
            return Applied::Ignored(IgnoreReason::NoProgress);
        }
        self.record_event_order(event);
        if let Some(verdict) = event.answered_by {
            self.answered_by = Some(verdict);
        }
        if target == CallState::Answered || (target.is_terminal() && event.duration_secs > Some(0))
        {
            self.answered_at
                .get_or_insert(event.timestamp.unwrap_or(now));
        }
        self.state = target;
        if !target.is_terminal() {
            return Applied::Progressed;
        }
        self.ended_at = Some(event.timestamp.unwrap_or(now));
        self.duration_secs = event.duration_secs.or(self.duration_secs);
        if event.price.is_some() {
            self.cost = event.price;
        }
        if target == CallState::Failed {
            self.failure = Some(failure_reason(event));
        }
        Applied::Terminal
    }

    fn is_stale(&self, event: &CallEvent) -> bool {
        match (self.last_sequence, event.sequence) {
            (Some(last), Some(seq)) => seq <= last,
            _ => matches!(
                (self.last_event_at, event.timestamp),
                (Some(last), Some(at)) if at < last
            ),
        }
    }

    fn record_event_order(&mut self, event: &CallEvent) {
        if let Some(seq) = event.sequence {
            self.last_sequence = Some(self.last_sequence.map_or(seq, |s| s.max(seq)));
        }
        if let Some(at) = event.timestamp {
            self.last_event_at = Some(self.last_event_at.map_or(at, |t| t.max(at)));
        }
    }

    /// Ends a call that never reached the provider, or whose fate the
    /// provider cannot tell, as failed.
    pub fn fail(&mut self, reason: impl Into<String>, now: Timestamp) -> Applied {
        if self.state.is_terminal() {
            return Applied::Ignored(IgnoreReason::AlreadyTerminal);
        }
        self.state = CallState::Failed;
        self.failure = Some(reason.into());
        self.ended_at = Some(now);
        Applied::Terminal
    }

    /// The outcome of a terminal call under the campaign's voicemail policy.
    /// `retryable_failure` tells whether a failure may succeed later. A
    /// machine call counts a message left under `leave_message` only when
    /// the message is known to have played: always with the provider's
    /// own playback (no media stream), and with the bridge's only once it
    /// played to its end (`voicemail_left_at`).
    pub fn outcome(
        &self,
        voicemail: &VoicemailPolicy,
        retryable_failure: bool,
    ) -> Option<CallOutcome> {
        Some(match self.state {
            CallState::Completed if self.answered_by == Some(AnsweredBy::Fax) => {
                CallOutcome::Failed {
                    reason: "a fax machine answered".into(),
                    retryable: false,
                }
            }
            CallState::Completed => CallOutcome::Human {
                disposition: self.disposition,
            },
            CallState::Voicemail => CallOutcome::Voicemail {
                left_message: *voicemail == VoicemailPolicy::LeaveMessage
                    && (self.media_stream_at.is_none() || self.voicemail_left_at.is_some()),
            },
            CallState::Busy => CallOutcome::Busy,
            CallState::NoAnswer => CallOutcome::NoAnswer,
            CallState::Failed => CallOutcome::Failed {
                reason: self.failure.clone().unwrap_or_else(|| "failed".into()),
                retryable: retryable_failure,
            },
            CallState::Canceled => CallOutcome::Canceled,
            CallState::Pending | CallState::Dialing | CallState::Ringing | CallState::Answered => {
                return None;
            }
        })
    }
}

fn failure_reason(event: &CallEvent) -> String {
    match (&event.error, event.sip_response_code) {
        (Some(error), Some(sip)) => format!("{error} (SIP {sip})"),
        (Some(error), None) => error.clone(),
        (None, Some(sip)) => format!("SIP {sip}"),
        (None, None) => "the provider reported the call as failed".into(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    pub(crate) fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap()
    }

    fn record() -> ComplianceRecord {
        ComplianceRecord {
            rules: "test".into(),
            checked_at: t0(),
            attempt: 1,
            max_attempts: 3,
            region: Some("US".into()),
            window: "08:00-21:00".into(),
            local_times: Default::default(),
            zone_source: "number".into(),
            dnc_global_clear: true,
            dnc_campaign_clear: true,
            consent_required: true,
            consent: true,
            floor: "US-NY: TCPA 08:00-21:00".into(),
        }
    }

    pub(crate) fn call() -> CallAttempt {
        CallAttempt::new(
            CampaignId::parse("c").unwrap(),
            LeadId::parse("l").unwrap(),
            1,
            E164::parse("+12125550100", None).unwrap(),
            record(),
            t0(),
        )
    }

    fn event(kind: CallEventKind, seq: u64) -> CallEvent {
        let mut e = CallEvent::new(ProviderId::parse("twilio").unwrap(), None, kind);
        e.sequence = Some(seq);
        e.timestamp = Some(t0() + Duration::seconds(seq as i64));
        e.provider_sid = Some(ProviderCallSid::parse("CA1").unwrap());
        e
    }

    /// The events of a normal answered call, in firing order.
    fn answered_call_events() -> Vec<CallEvent> {
        let mut done = event(CallEventKind::Completed, 3);
        done.duration_secs = Some(42);
        done.price = Some(Money(12_000));
        vec![
            event(CallEventKind::Initiated, 0),
            event(CallEventKind::Ringing, 1),
            event(CallEventKind::Answered, 2),
            done,
        ]
    }

    #[test]
    fn in_order_events_walk_the_lifecycle() {
        let mut c = call();
        let states: Vec<_> = answered_call_events()
            .iter()
            .map(|e| (c.apply(e, t0()), c.state))
            .collect();
        assert_eq!(
            states,
            vec![
                (Applied::Progressed, CallState::Dialing),
                (Applied::Progressed, CallState::Ringing),
                (Applied::Progressed, CallState::Answered),
                (Applied::Terminal, CallState::Completed),
            ]
        );
        assert_eq!(c.duration_secs, Some(42));
        assert_eq!(c.cost, Some(Money(12_000)));
        assert_eq!(
            c.outcome(&VoicemailPolicy::LeaveMessage, false),
            Some(CallOutcome::Human { disposition: None })
        );
    }

    #[test]
    fn a_call_learns_its_provider_from_events_that_outrun_the_create_response() {
        // GIVEN an attempt whose create request has not returned yet
        let mut c = call();
        assert_eq!(c.provider, None);
        // WHEN the whole call happens before the dispatcher notes it
        for e in answered_call_events() {
            c.apply(&e, t0());
        }
        // THEN the call knows who carried it (its end is priced by them)
        assert_eq!(c.provider, Some(ProviderId::parse("twilio").unwrap()));
        assert_eq!(c.provider_sid, Some(ProviderCallSid::parse("CA1").unwrap()));
    }

    #[test]
    fn terminal_state_is_never_left() {
        let mut c = call();
        assert_eq!(
            c.apply(&event(CallEventKind::Busy, 2), t0()),
            Applied::Terminal
        );
        for e in answered_call_events() {
            assert_eq!(
                c.apply(&e, t0()),
                Applied::Ignored(IgnoreReason::AlreadyTerminal)
            );
        }
        assert_eq!(c.state, CallState::Busy);
        assert_eq!(
            c.fail("late", t0()),
            Applied::Ignored(IgnoreReason::AlreadyTerminal)
        );
    }

    #[test]
    fn stale_and_backward_events_are_ignored() {
        let mut c = call();
        c.apply(&event(CallEventKind::Answered, 2), t0());
        assert_eq!(
            c.apply(&event(CallEventKind::Ringing, 1), t0()),
            Applied::Ignored(IgnoreReason::Stale)
        );
        // Without sequence numbers, rank still prevents going backwards.
        let mut ringing = event(CallEventKind::Ringing, 9);
        ringing.sequence = None;
        ringing.timestamp = None;
        assert_eq!(
            c.apply(&ringing, t0()),
            Applied::Ignored(IgnoreReason::NoProgress)
        );
        assert_eq!(c.state, CallState::Answered);
    }

    /// SansPBX-like events: a timestamp and no sequence number.
    fn stamped(kind: CallEventKind, secs: i64) -> CallEvent {
        let mut e = event(kind, 0);
        e.sequence = None;
        e.timestamp = Some(t0() + Duration::seconds(secs));
        e
    }

    #[test]
    fn without_sequence_numbers_the_timestamp_orders_events() {
        // GIVEN a ringing call whose provider sends no sequence numbers
        let mut c = call();
        assert_eq!(
            c.apply(&stamped(CallEventKind::Ringing, 5), t0()),
            Applied::Progressed
        );
        // WHEN an answer stamped before the ringing arrives, THEN it is stale
        assert_eq!(
            c.apply(&stamped(CallEventKind::Answered, 3), t0()),
            Applied::Ignored(IgnoreReason::Stale)
        );
        assert_eq!(c.state, CallState::Ringing);
        // WHEN one stamped at the same second or later arrives, THEN it applies
        assert_eq!(
            c.apply(&stamped(CallEventKind::Answered, 5), t0()),
            Applied::Progressed
        );
        assert_eq!(c.state, CallState::Answered);
    }

    #[test]
    fn machine_verdicts_make_voicemail() {
        let mut c = call();
        let mut amd = CallEvent::new(
            ProviderId::parse("twilio").unwrap(),
            None,
            CallEventKind::MachineDetection,
        );
        amd.answered_by = Some(AnsweredBy::MachineEndBeep);
        assert_eq!(c.apply(&amd, t0()), Applied::Progressed);
        assert_eq!(
            c.apply(&amd, t0()),
            Applied::Ignored(IgnoreReason::NoProgress)
        );
        assert_eq!(
            c.apply(&event(CallEventKind::Completed, 4), t0()),
            Applied::Terminal
        );
        assert_eq!(c.state, CallState::Voicemail);
        assert_eq!(
            c.outcome(&VoicemailPolicy::HangUp, false),
            Some(CallOutcome::Voicemail {
                left_message: false
            })
        );
    }

    #[test]
    fn failures_keep_their_reason() {
        let mut c = call();
        let mut failed = event(CallEventKind::Failed, 1);
        failed.sip_response_code = Some(404);
        c.apply(&failed, t0());
        assert_eq!(c.failure.as_deref(), Some("SIP 404"));
        assert!(matches!(
            c.outcome(&VoicemailPolicy::LeaveMessage, true),
            Some(CallOutcome::Failed {
                retryable: true,
                ..
            })
        ));
    }

    #[test]
    fn labels_are_the_serialised_names() {
        for state in [
            CallState::Pending,
            CallState::Dialing,
            CallState::Ringing,
            CallState::Answered,
            CallState::Completed,
            CallState::Busy,
            CallState::NoAnswer,
            CallState::Failed,
            CallState::Canceled,
            CallState::Voicemail,
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.label());
        }
    }

    #[test]
    fn sequence_numbers_order_events_before_timestamps_do() {
        // GIVEN a ringing call (sequence 1, stamped at second 10)
        let mut c = call();
        let mut ringing = event(CallEventKind::Ringing, 1);
        ringing.timestamp = Some(t0() + Duration::seconds(10));
        c.apply(&ringing, t0());
        // WHEN the next event by sequence carries an earlier stamp
        let mut answered = event(CallEventKind::Answered, 2);
        answered.timestamp = Some(t0() + Duration::seconds(9));
        // THEN the sequence decides: it applies
        assert_eq!(c.apply(&answered, t0()), Applied::Progressed);
        assert_eq!(c.state, CallState::Answered);
    }

    #[test]
    fn a_call_is_answered_when_picked_up_or_when_it_lasted() {
        // GIVEN a ringing call, THEN it is not answered yet
        let mut c = call();
        c.apply(&event(CallEventKind::Ringing, 1), t0());
        assert_eq!(c.answered_at, None);
        // WHEN the answer arrives, THEN it was answered at the answer's stamp
        c.apply(&event(CallEventKind::Answered, 2), t0());
        assert_eq!(c.answered_at, Some(t0() + Duration::seconds(2)));

        // GIVEN calls whose answer event was lost, WHEN they end, THEN only
        // one that lasted was answered (at its end's stamp)
        let answered_at = |kind, duration_secs| {
            let mut c = call();
            let mut end = event(kind, 5);
            end.duration_secs = duration_secs;
            c.apply(&end, t0());
            c.answered_at
        };
        assert_eq!(
            answered_at(CallEventKind::Completed, Some(42)),
            Some(t0() + Duration::seconds(5))
        );
        assert_eq!(answered_at(CallEventKind::Completed, Some(0)), None);
        assert_eq!(answered_at(CallEventKind::Busy, None), None);
    }

    #[test]
    fn human_and_fax_verdicts_do_not_make_voicemail() {
        // GIVEN calls whose answering-machine detection heard no machine
        let completed_after = |verdict| {
            let mut c = call();
            let mut amd = CallEvent::new(
                ProviderId::parse("twilio").unwrap(),
                None,
                CallEventKind::MachineDetection,
            );
            amd.answered_by = Some(verdict);
            c.apply(&amd, t0());
            // WHEN they complete
            c.apply(&event(CallEventKind::Completed, 4), t0());
            c
        };
        // THEN a person's call is a conversation
        let human = completed_after(AnsweredBy::Human);
        assert_eq!(human.state, CallState::Completed);
        assert_eq!(
            human.outcome(&VoicemailPolicy::LeaveMessage, true),
            Some(CallOutcome::Human { disposition: None })
        );
        // AND a fax is a failure no retry fixes, even where failures retry
        let fax = completed_after(AnsweredBy::Fax);
        assert_eq!(fax.state, CallState::Completed);
        assert_eq!(
            fax.outcome(&VoicemailPolicy::LeaveMessage, true),
            Some(CallOutcome::Failed {
                reason: "a fax machine answered".into(),
                retryable: false,
            })
        );
    }

    #[test]
    fn a_message_counts_as_left_only_once_it_played() {
        let outcome = |streamed: bool, played: bool| {
            let mut c = call();
            c.state = CallState::Voicemail;
            c.media_stream_at = streamed.then(t0);
            c.voicemail_left_at = played.then(t0);
            c.outcome(&VoicemailPolicy::LeaveMessage, false)
        };
        let left = |left_message| Some(CallOutcome::Voicemail { left_message });
        // The provider's own playback always plays the message.
        assert_eq!(outcome(false, false), left(true));
        // The bridge's counts once it played to its end.
        assert_eq!(outcome(true, false), left(false));
        assert_eq!(outcome(true, true), left(true));
    }

    #[test]
    fn an_end_is_never_stale() {
        // GIVEN an answered call (sequence 5)
        let mut c = call();
        c.apply(&event(CallEventKind::Answered, 5), t0());
        // WHEN its end arrives numbered before it, THEN the call still ends
        assert_eq!(
            c.apply(&event(CallEventKind::Completed, 4), t0()),
            Applied::Terminal
        );
        assert_eq!(c.state, CallState::Completed);
    }

    proptest! {
        /// Any delivery order with duplicates ends in the same terminal state,
        /// applied as terminal exactly once.
        #[test]
        fn any_order_and_duplication_reaches_the_same_end(
            order in proptest::collection::vec(0usize..4, 1..24),
        ) {
            let events = answered_call_events();
            let mut deliveries: Vec<&CallEvent> = order.iter().map(|&i| &events[i]).collect();
            deliveries.push(&events[3]); // the terminal event arrives at least once
            let mut c = call();
            let terminals = deliveries.iter().filter(|e| c.apply(e, t0()) == Applied::Terminal).count();
            prop_assert_eq!(terminals, 1);
            prop_assert_eq!(c.state, CallState::Completed);
            prop_assert_eq!(c.duration_secs, Some(42));
        }

        /// The state's rank never decreases, whatever arrives.
        #[test]
        fn rank_is_monotonic(kinds in proptest::collection::vec(0usize..10, 1..30), seqs in proptest::collection::vec(0u64..8, 30)) {
            const KINDS: [CallEventKind; 10] = [
                CallEventKind::Queued, CallEventKind::Initiated, CallEventKind::Ringing,
                CallEventKind::Answered, CallEventKind::Completed, CallEventKind::Busy,
                CallEventKind::NoAnswer, CallEventKind::Failed, CallEventKind::Canceled,
                CallEventKind::MachineDetection,
            ];
            let mut c = call();
            let mut rank = c.state.rank();
            let mut was_terminal = false;
            for (k, seq) in kinds.iter().zip(seqs) {
                let before = c.state;
                c.apply(&event(KINDS[*k], seq), t0());
                prop_assert!(c.state.rank() >= rank);
                if was_terminal { prop_assert_eq!(c.state, before); }
                rank = c.state.rank();
                was_terminal = c.state.is_terminal();
            }
        }
    }
}
