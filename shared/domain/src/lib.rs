//! voxdial's domain: the calling engine's rules, with no IO, no async
//! runtime and no clock (every function that needs the time takes `now`).
//!
//! # Layout
//!
//! - [`ids`]: newtype identifiers (`CampaignId`, `LeadId`, `CallId`, ...).
//! - [`phone`]: E.164 numbers validated with libphonenumber metadata, their
//!   country and candidate time zones.
//! - [`campaign`]: a campaign, its policies and lifecycle.
//! - [`lead`]: a lead and its pacing state (pending, active = holds a slot, final).
//! - [`call`]: a call attempt and its lifecycle driven by provider events.
//! - [`outcome`]: call and lead outcomes, dispositions, money.
//! - [`screening`]: do-not-call, consent, attempt limit and calling windows
//!   in the callee's time zone; the compliance record of every dial.
//! - [`retry`]: when to try again.
//! - [`provider`]: the telephony provider port and its neutral types.
//! - [`ports`]: the store, queue, blob and clock ports.
//!
//! # Invariants kept here
//!
//! A call never leaves a terminal state and ignores stale events
//! ([`CallAttempt::apply`]); no lead is dialled outside its window, on a
//! do-not-call list or past its attempt limit ([`screening::screen`]). The
//! invariants that need atomic writes (the concurrency cap, exactly-once slot
//! release, no double dial) are contracts of the [`ports`] traits.

pub mod call;
pub mod campaign;
pub mod ids;
pub mod lead;
pub mod outcome;
pub mod phone;
pub mod ports;
pub mod provider;
pub mod retry;
pub mod screening;

pub use call::{
    AnsweredBy, Applied, CallAttempt, CallEvent, CallEventKind, CallState, Conversation,
    IgnoreReason, TransferRecord,
};
pub use campaign::{
    AmdMode, Campaign, CampaignAction, CampaignError, CampaignSettings, CampaignStatus,
    ProviderStrategy, RecordingPolicy, VoicemailPolicy,
};
pub use ids::{
    AgentId, CallId, CampaignId, HumanAgentId, IdError, LeadId, ProviderCallSid, ProviderId,
    StreamSid,
};
pub use lead::{Lead, LeadState, NewLead, PendingReason};
pub use outcome::{CallOutcome, Disposition, LeadOutcome, Money, ScreenReason};
pub use phone::{E164, PhoneError};
pub use ports::{
    AgentStatus, BlobError, BlobStore, CallStore, CampaignProgress, CampaignStore, Clock,
    CreateCall, Delivery, DispatchMessage, DispatchQueue, DncScope, DncStore, HumanAgent,
    HumanAgentStore, ImportCounts, LeadRelease, LeadStore, QueueError, Receipt, Store, StoreError,
};
pub use provider::{
    AnswerInstruction, AnswerRequest, PlaceCall, PlacedCall, ProviderCall, ProviderError,
    TelephonyProvider, TransferTarget, WebhookError, WebhookRequest, WebhookResponse,
};
pub use retry::{RetryDecision, RetryPolicy};
pub use screening::{CallingHours, CallingWindow, ComplianceRecord, DncHit, ScreenDecision};

/// An instant in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
