//! voxdial's domain: the calling engine's rules, with no IO, no async
//! runtime and no clock (every function that needs the time takes `now`).
//!
//! # Layout
//!
//! - [`ids`]: newtype identifiers (`CampaignId`, `LeadId`, `CallId`, ...).
//! - [`ai_agent`]: AI agents, one immutable record per version, and their
//!   store port.
//! - [`access`]: organisations' API keys, roles, the audit trail and their
//!   store port.
//! - [`phone`]: E.164 numbers validated with libphonenumber metadata, their
//!   country and candidate time zones.
//! - [`campaign`]: a campaign, its policies and lifecycle.
//! - [`destination`]: the URLs and addresses outbound requests may go to.
//! - [`logsafe`]: outside text as a log field, control characters escaped.
//! - [`lead`]: a lead and its pacing state (pending, active = holds a slot, final).
//! - [`call`]: a call attempt and its lifecycle driven by provider events.
//! - [`outcome`]: call and lead outcomes, dispositions, money.
//! - [`usage`]: the voice model's tokens per call and their price.
//! - [`screening`]: do-not-call, consent, attempt limit and calling windows
//!   in the callee's time zone; the compliance record of every dial.
//! - [`retry`]: when to try again.
//! - [`provider`]: the telephony provider port and its neutral types.
//! - [`ports`]: the store, queue, blob and clock ports.
//! - [`jobs`]: post-call jobs and the job queue port.
//! - [`imports`]: asynchronous lead imports from an uploaded file and
//!   their store port.
//! - [`recording`]: call recordings (provider webhooks, the call record's
//!   part, the `selective` policy's rules).
//! - [`transcript`]: transcripts and the transcriber port.
//! - [`analysis`]: post-call analysis, the disposition rule and the
//!   analyser port.
//! - [`analytics`]: aggregates per organisation, dimension and hour or
//!   day, the quality score, and the aggregate store port.
//! - [`postcall`]: what a call record keeps after the call (recording,
//!   transcript, analysis, webhook delivery, retention).
//! - [`routing_state`]: the routing-state store port (statistics,
//!   breakers, CPS budgets, caller-ID usage shared by every router).
//! - [`privacy`]: erasure, suppression by keyed hash, retention: the
//!   privacy store port.
//! - [`consent`]: recording-notice jurisdictions (countries, US states by
//!   area code).
//! - [`fleet`]: the media bridges' load (live calls and capacity per task)
//!   and its port, which the answer webhook reads before it connects a
//!   stream.
//!
//! # Invariants kept here
//!
//! A call never leaves a terminal state and ignores stale events
//! ([`CallAttempt::apply`]); no lead is dialled outside its window, on a
//! do-not-call list or past its attempt limit ([`screening::screen`]). The
//! invariants that need atomic writes (the concurrency cap, exactly-once slot
//! release, no double dial) are contracts of the [`ports`] traits.

pub mod access;
pub mod ai_agent;
pub mod analysis;
pub mod analytics;
pub mod call;
pub mod campaign;
pub mod consent;
pub mod destination;
pub mod fleet;
pub mod floor;
pub mod ids;
pub mod imports;
pub mod jobs;
pub mod lead;
pub mod logsafe;
pub mod outcome;
pub mod phone;
pub mod ports;
pub mod postcall;
pub mod privacy;
pub mod provider;
pub mod recording;
pub mod retry;
pub mod routing_state;
pub mod screening;
pub mod transcript;
pub mod usage;

pub use access::{Access, ApiKey, AuditEntry, KeyDigest, KeySecret, KeyStore, Role, RoleError};
pub use ai_agent::{AiAgent, AiAgentStore};
pub use analysis::{
    AnalyseError, Analyser, Analysis, AnalysisDisposition, AnalysisRequest, AnalysisSettings,
    FieldKind, FieldSpec, PrincipleScore, Sentiment, SentimentLabel, Sentiments, Verdict,
    final_disposition,
};
pub use analytics::{
    AggregateEvent, AggregateStore, Bucket, Dimension, EventKind, Granularity, PrincipleTally,
    Tally, quality_score,
};
pub use consent::ConsentRules;
pub use jobs::{Job, JobQueue, MessageQueue, QueueMessage};
pub use postcall::{
    AnalysisRecord, DeliveryRecord, OutboundWebhook, PostCall, PostError, RetentionRecord,
    StageStatus, TranscriptRecord, WebhookPoster,
};
pub use privacy::{PrivacyStore, PurgeDue, SuppressionDigest, Tombstone};
pub use recording::{
    KeepRule, OnDemandRecording, ProviderRecording, RecordingEvent, RecordingEventKind,
    RecordingFile, RecordingRecord, RecordingSource, RecordingStatus, SelectiveRecording,
};
pub use transcript::{
    Segment, Speaker, TranscribeError, Transcriber, TranscriberInput, Transcript,
    TranscriptionRequest,
};

pub use call::{
    AnsweredBy, Applied, CallAttempt, CallEvent, CallEventKind, CallState, Conversation,
    ConversationAgent, IgnoreReason, TransferRecord,
};
pub use campaign::{
    AmdMode, Campaign, CampaignAction, CampaignError, CampaignSettings, CampaignStatus,
    ConsentWaiver, ProviderStrategy, RecordingPolicy, VoicemailPolicy,
};
pub use fleet::{BridgeFleet, BridgeLoad, FleetCapacity, holder_of};
pub use ids::{
    AgentId, ApiKeyId, BridgeTaskId, CallId, CampaignId, HumanAgentId, IdError, ImportId, LeadId,
    OrgId, ProviderCallSid, ProviderId, StreamSid,
};
pub use imports::{
    ImportCursor, ImportProgress, ImportStatus, ImportStore, LeadImport, MAX_IMPORT_REJECTIONS,
    RowError,
};
pub use lead::{Lead, LeadState, NewLead, PendingReason};
pub use logsafe::LogSafe;
pub use outcome::{CallOutcome, Disposition, LeadOutcome, Money, OutcomeSource, ScreenReason};
pub use phone::{E164, NumberType, PhoneError};
pub use ports::{
    AgentStatus, BlobError, BlobStore, CallStore, CampaignProgress, CampaignStore, Claimed, Clock,
    CreateCall, Delivery, DispatchMessage, DispatchQueue, DncScope, DncStore, HumanAgent,
    HumanAgentStore, ImportCounts, LeadRelease, LeadStore, QueueError, Receipt, Store, StoreError,
};
pub use provider::{
    AnswerInstruction, AnswerRequest, PlaceCall, PlacedCall, ProviderCall, ProviderError,
    TelephonyProvider, TransferTarget, WebhookError, WebhookRequest, WebhookResponse,
};
pub use retry::{RetryDecision, RetryPolicy};
pub use routing_state::{
    RoutingAdd, RoutingKey, RoutingRecord, RoutingState, RoutingStateStore, RoutingWrite,
};
pub use screening::{CallingHours, CallingWindow, ComplianceRecord, DncHit, ScreenDecision};
pub use usage::{ModelPrices, ModelUsage};

/// An instant in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// The value of a future that never waits (a test stub's), polled once.
#[cfg(test)]
pub(crate) fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("a stub that waits"),
    }
}
