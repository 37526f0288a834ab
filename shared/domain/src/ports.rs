//! The ports: capabilities the use cases need from the outside world, as
//! small traits. Adapters implement them per backend (`voxdial-local`:
//! SQLite, an in-process queue and files; `voxdial-aws`: DynamoDB, SQS, S3).
//! Every adapter must pass the contract suite of each port in
//! `voxdial-testkit`.
//!
//! The store ports carry the engine's invariants, so their operations are
//! the conditional writes the invariants need, not generic CRUD:
//! - [`LeadStore::claim_due`] takes a slot per lead only while fewer than
//!   `max_active` are held (the concurrency cap);
//! - [`LeadStore::release`] and [`CallStore::finish_call`] release a slot
//!   only if the lead still holds it for that attempt (exactly once);
//! - [`CallStore::create_call`] is "put if absent" on a deterministic id
//!   (no attempt dialled twice);
//! - updates carry the version they read (optimistic concurrency).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    CallAttempt, CallId, CallOutcome, Campaign, CampaignId, E164, Lead, LeadId, LeadState,
    Timestamp,
};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The item exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The item changed since it was read: reload and retry.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    /// The request itself is wrong (a caller bug, not a race): retrying it
    /// cannot succeed.
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The backend failed; the operation may or may not have happened only
    /// if the backend says so (conditional writes make retries safe).
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Unavailable {
            message: message.into(),
            source: Box::new(source),
        }
    }
}

/// Lead and call counts of a campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignProgress {
    /// Leads imported.
    pub total: u64,
    /// Leads waiting (new, retry or calling window).
    pub pending: u64,
    /// Of the pending ones, those waiting for their calling window.
    pub waiting_window: u64,
    /// Leads holding a slot (queued for dispatch or in a call).
    pub active: u64,
    /// Final leads by outcome label ([`crate::LeadOutcome::label`]).
    pub finals: BTreeMap<String, u64>,
    /// Live calls by state label (`pending`, `dialing`, `ringing`, `answered`).
    pub live_calls: BTreeMap<String, u64>,
    /// The earliest time a pending lead becomes due.
    pub next_due_at: Option<Timestamp>,
}

impl CampaignProgress {
    /// Final leads.
    pub fn final_total(&self) -> u64 {
        self.finals.values().sum()
    }

    /// Leads not final yet.
    pub fn open(&self) -> u64 {
        self.total.saturating_sub(self.final_total())
    }
}

/// Campaigns.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Stores a new campaign; `AlreadyExists` if the id is taken.
    async fn insert_campaign(&self, campaign: &Campaign) -> Result<(), StoreError>;

    /// Reads a campaign.
    async fn campaign(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError>;

    /// Writes `campaign` if the stored version equals `campaign.version`
    /// (else `Conflict`) and returns it with the version bumped.
    async fn update_campaign(&self, campaign: &Campaign) -> Result<Campaign, StoreError>;

    /// Every campaign, newest first.
    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError>;

    /// Lead and call counts.
    async fn progress(&self, id: &CampaignId) -> Result<CampaignProgress, StoreError>;

    /// Whether any lead of the campaign is not final yet. The engine asks
    /// after every call that frees a slot no lead can take, so adapters
    /// should answer it without counting every lead.
    async fn has_open_leads(&self, id: &CampaignId) -> Result<bool, StoreError> {
        Ok(self.progress(id).await?.open() > 0)
    }
}

/// What an import stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    /// New leads stored.
    pub inserted: u64,
    /// Leads whose number the campaign already had (kept as they were).
    pub merged: u64,
}

/// A lead leaving the `Active` state, which releases its slot.
#[derive(Clone, Debug, PartialEq)]
pub struct LeadRelease {
    /// The lead.
    pub lead_id: LeadId,
    /// The attempt the slot was held for; nothing happens unless the lead
    /// is `Active` for exactly this attempt.
    pub attempt: u32,
    /// The state it moves to (`Pending` or `Final`).
    pub next: LeadState,
    /// Whether a call was created for this attempt (it then counts in `attempts`).
    pub dialed: bool,
    /// The attempt's outcome, when a call ended.
    pub outcome: Option<CallOutcome>,
    /// When.
    pub at: Timestamp,
}

impl LeadRelease {
    /// Refuses a release that would leave the lead active.
    pub fn check(&self) -> Result<(), StoreError> {
        if matches!(self.next, LeadState::Active { .. }) {
            return Err(StoreError::Invalid(format!(
                "lead {}: a release must move it out of the active state",
                self.lead_id
            )));
        }
        Ok(())
    }

    /// [`CallStore::finish_call`]'s preconditions: `call` is terminal and
    /// is the attempt this release is for, and the release is valid.
    pub fn check_finish(&self, call: &CallAttempt) -> Result<(), StoreError> {
        if !call.state.is_terminal() {
            return Err(StoreError::Invalid(format!(
                "call {} is {}: finish_call needs a terminal call",
                call.id,
                call.state.label()
            )));
        }
        if self.lead_id != call.lead_id || self.attempt != call.attempt {
            return Err(StoreError::Invalid(format!(
                "call {} is attempt {} of lead {}, the release is for attempt {} of lead {}",
                call.id, call.attempt, call.lead_id, self.attempt, self.lead_id
            )));
        }
        self.check()
    }

    /// The lead after this release (the store has checked that it was
    /// active for the attempt): its next state, the attempt counted if a
    /// call was created, the outcome kept, a new version.
    pub fn apply(&self, lead: &Lead) -> Lead {
        let mut next = lead.clone();
        next.state = self.next.clone();
        if self.dialed {
            next.attempts = next.attempts.saturating_add(1);
        }
        if let Some(outcome) = &self.outcome {
            next.last_outcome = Some(outcome.clone());
        }
        next.outcome_source = self.next.final_call_outcome().map(crate::OutcomeSource::of);
        next.updated_at = self.at;
        next.version += 1;
        next
    }
}

/// What [`LeadStore::claim_due_or_open`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claimed {
    /// The leads claimed.
    pub leads: Vec<Lead>,
    /// When no lead was claimed: true when what the claim read shows that
    /// the campaign still has an open lead (one holding a slot), false when
    /// it cannot tell without asking [`CampaignStore::has_open_leads`].
    pub known_open: bool,
}

/// Leads and the campaign's slot ledger.
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Stores the leads of one import atomically: all or none. A lead whose
    /// number the campaign already has is merged (the stored one is kept).
    async fn import_leads(
        &self,
        campaign: &CampaignId,
        leads: Vec<Lead>,
    ) -> Result<ImportCounts, StoreError>;

    /// Reads a lead.
    async fn lead(&self, id: &LeadId) -> Result<Option<Lead>, StoreError>;

    /// Reads a lead and the campaign `campaign`, in one request where the
    /// store can (a dispatch needs both, and its message names both).
    async fn lead_and_campaign(
        &self,
        lead: &LeadId,
        campaign: &CampaignId,
    ) -> Result<(Option<Lead>, Option<crate::Campaign>), StoreError>;

    /// A page of a campaign's leads in id order, after `after`.
    async fn leads(
        &self,
        campaign: &CampaignId,
        after: Option<&LeadId>,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError>;

    /// Moves up to `limit` pending leads due by `now` to
    /// `Active { attempt: attempts + 1, lease_until }`, earliest due first,
    /// never letting the campaign hold more than `max_active` slots, even
    /// under concurrent callers. Returns the claimed leads and, when it
    /// claimed none, whether what it read shows the campaign still open (a
    /// lead in a slot): the engine then need not ask
    /// [`CampaignStore::has_open_leads`] after a freed slot no lead can
    /// take.
    async fn claim_due_or_open(
        &self,
        campaign: &CampaignId,
        max_active: u32,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Claimed, StoreError>;

    /// The leads [`LeadStore::claim_due_or_open`] claims.
    async fn claim_due(
        &self,
        campaign: &CampaignId,
        max_active: u32,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        let claimed = self.claim_due_or_open(campaign, max_active, now, lease_until, limit);
        Ok(claimed.await?.leads)
    }

    /// Releases the slot of a lead that is `Active` for `release.attempt`:
    /// true the first time, false (and no change) afterwards. A release
    /// with `dialed: false` also changes nothing (false) when a call attempt
    /// record exists for that (lead, attempt): an undialled release (a
    /// paused campaign, a closed window, a screening refusal) must never
    /// free the slot of a call that a duplicated message already placed.
    async fn release(&self, release: &LeadRelease) -> Result<bool, StoreError>;

    /// Applies [`Lead::with_analysed_disposition`] to lead `lead` and moves
    /// its campaign's final-outcome counts with it, atomically: true when
    /// the outcome changed, false (and no change) when there was nothing
    /// to amend (no such lead, not final after `attempt` as a bare answer,
    /// amended already).
    async fn amend_outcome(
        &self,
        lead: &LeadId,
        attempt: u32,
        disposition: crate::Disposition,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Extends the lease of a lead `Active` for `attempt` and returns the
    /// lead as stored now; `None` if it is not active for `attempt`. `lead`
    /// is the lead as the caller last read it: a store may write over that
    /// version without reading the lead first (and reads it when it changed
    /// since).
    async fn extend_lease(
        &self,
        lead: &Lead,
        attempt: u32,
        lease_until: Timestamp,
    ) -> Result<Option<Lead>, StoreError>;

    /// Active leads whose lease ended before `now`, across campaigns.
    async fn expired_leases(&self, now: Timestamp, limit: usize) -> Result<Vec<Lead>, StoreError>;

    /// Finalises every pending lead of a campaign as canceled; returns how many.
    async fn cancel_pending(
        &self,
        campaign: &CampaignId,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
}

/// The result of creating a call attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateCall {
    /// Stored: go on and dial.
    Created,
    /// An attempt with this id exists: do not dial again.
    Exists(Box<CallAttempt>),
}

/// Call attempts.
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Stores a new attempt if none has its id.
    async fn create_call(&self, call: &CallAttempt) -> Result<CreateCall, StoreError>;

    /// Reads an attempt.
    async fn call(&self, id: &CallId) -> Result<Option<CallAttempt>, StoreError>;

    /// Writes a non-terminal change if the stored version equals
    /// `call.version` (else `Conflict`); returns it with the version bumped.
    async fn update_call(&self, call: &CallAttempt) -> Result<CallAttempt, StoreError>;

    /// [`CallStore::update_call`], but a write refused because the call
    /// changed since `call` was read returns the call as stored
    /// (`Err(Some(stored))`; `Err(None)`: no call has the id), so that the
    /// caller applies its change again without reading the call first. A
    /// store that learns the stored call from the refused write itself
    /// (DynamoDB) saves that read.
    async fn update_call_or_current(
        &self,
        call: &CallAttempt,
    ) -> Result<Result<CallAttempt, Option<CallAttempt>>, StoreError> {
        match self.update_call(call).await {
            Ok(updated) => Ok(Ok(updated)),
            Err(StoreError::Conflict(_)) => Ok(Err(self.call(&call.id).await?)),
            Err(StoreError::NotFound(_)) => Ok(Err(None)),
            Err(e) => Err(e),
        }
    }

    /// In one atomic write: stores the now terminal `call` (version-checked,
    /// `Conflict` if it changed) and applies `release` to its lead, releasing
    /// the slot if the lead still holds it for this attempt. Returns whether
    /// the slot was released.
    async fn finish_call(
        &self,
        call: &CallAttempt,
        release: &LeadRelease,
    ) -> Result<bool, StoreError>;

    /// Calls not yet terminal, of one campaign or of all.
    async fn live_calls(
        &self,
        campaign: Option<&CampaignId>,
    ) -> Result<Vec<CallAttempt>, StoreError>;

    /// A page of a campaign's calls, newest first, before `before` (a call id).
    async fn calls(
        &self,
        campaign: &CampaignId,
        before: Option<&CallId>,
        limit: usize,
    ) -> Result<Vec<CallAttempt>, StoreError>;
}

/// Which do-not-call list. Every list belongs to one organisation: its
/// own list covers all its campaigns, and never another organisation's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "id", rename_all = "snake_case")]
pub enum DncScope {
    /// Every campaign of one organisation.
    Organisation(crate::OrgId),
    /// One campaign.
    Campaign(CampaignId),
}

/// Do-not-call lists.
#[async_trait]
pub trait DncStore: Send + Sync {
    /// Adds numbers to a list; returns how many were new.
    async fn add_dnc(
        &self,
        scope: &DncScope,
        numbers: &[E164],
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Removes a number from a list; false if it was not listed.
    async fn remove_dnc(&self, scope: &DncScope, number: &E164) -> Result<bool, StoreError>;

    /// Whether the organisation's list or the campaign's lists a number
    /// (`org` is the campaign's organisation).
    async fn dnc_hit(
        &self,
        org: &crate::OrgId,
        campaign: &CampaignId,
        number: &E164,
    ) -> Result<crate::DncHit, StoreError>;
}

/// A human agent who can take transferred calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanAgent {
    /// The agent's id.
    pub id: crate::HumanAgentId,
    /// The organisation the agent works for; transfers of its campaigns'
    /// calls go only to its agents (records from before organisations
    /// belong to the default one).
    #[serde(default)]
    pub org_id: crate::OrgId,
    /// The agent's name (said to the caller).
    pub name: String,
    /// Where to reach the agent.
    pub number: E164,
    /// Skills transfers can ask for (`spanish`, `billing`).
    pub skills: Vec<String>,
    /// Availability.
    pub status: AgentStatus,
    /// When the status last changed.
    pub since: Timestamp,
    /// The call the agent is busy on, while reserved for its transfer
    /// (set by [`HumanAgent::reserve`], cleared by [`HumanAgent::release`]
    /// and by any status an operator sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<crate::CallId>,
}

impl HumanAgent {
    /// Whether the agent can take a transfer asking for `skills` for `org`.
    pub fn fits(&self, org: &crate::OrgId, skills: &[String]) -> bool {
        self.status == AgentStatus::Available
            && &self.org_id == org
            && skills.iter().all(|skill| self.skills.contains(skill))
    }

    /// Marks the agent busy on `call` from `now`.
    pub fn reserve(&mut self, call: &crate::CallId, now: Timestamp) {
        self.status = AgentStatus::Busy;
        self.call_id = Some(call.clone());
        self.since = now;
    }

    /// Marks the agent busy on `call` if they are available (an operator
    /// sending a call to this person); false (and nothing changes)
    /// otherwise.
    pub fn take(&mut self, call: &crate::CallId, now: Timestamp) -> bool {
        if self.status != AgentStatus::Available {
            return false;
        }
        self.reserve(call, now);
        true
    }

    /// Makes the agent available again if they are busy on `call`; false
    /// (and nothing changes) otherwise: released already, reserved since
    /// for another call, or set to another status by an operator.
    pub fn release(&mut self, call: &crate::CallId, now: Timestamp) -> bool {
        if self.status != AgentStatus::Busy || self.call_id.as_ref() != Some(call) {
            return false;
        }
        self.status = AgentStatus::Available;
        self.call_id = None;
        self.since = now;
        true
    }

    /// Sets the status an operator chose (no longer on any call).
    pub fn set_status(&mut self, status: AgentStatus, now: Timestamp) {
        self.status = status;
        self.call_id = None;
        self.since = now;
    }
}

/// A human agent's availability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Can take a call.
    Available,
    /// On a call.
    Busy,
    /// Not working.
    Offline,
    /// Finishing notes after a call; not yet available.
    WrapUp,
}

/// Human agents and their availability.
#[async_trait]
pub trait HumanAgentStore: Send + Sync {
    /// Adds or replaces an agent.
    async fn put_agent(&self, agent: &HumanAgent) -> Result<(), StoreError>;

    /// Every agent, by id.
    async fn agents(&self) -> Result<Vec<HumanAgent>, StoreError>;

    /// Sets an agent's status (see [`HumanAgent::set_status`]); false if
    /// there is no such agent.
    async fn set_agent_status(
        &self,
        id: &crate::HumanAgentId,
        status: AgentStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Atomically takes the longest-idle agent who [fits](HumanAgent::fits)
    /// and marks them busy on `call` ([`HumanAgent::reserve`]); `None` when
    /// nobody is available. Two concurrent callers never get the same agent.
    async fn reserve_agent(
        &self,
        org: &crate::OrgId,
        skills: &[String],
        call: &crate::CallId,
        now: Timestamp,
    ) -> Result<Option<HumanAgent>, StoreError>;

    /// Atomically applies [`HumanAgent::take`]: agent `id`, if available,
    /// becomes busy on `call`; false when they were not (or do not exist).
    async fn take_agent(
        &self,
        id: &crate::HumanAgentId,
        call: &crate::CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Atomically applies [`HumanAgent::release`]: the agent busy on `call`
    /// becomes available; false when they were not (or do not exist).
    async fn release_agent(
        &self,
        id: &crate::HumanAgentId,
        call: &crate::CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// Everything the engine stores, from one backend (the operations above that
/// span several records must be atomic within it).
pub trait Store:
    CampaignStore
    + LeadStore
    + CallStore
    + DncStore
    + crate::PrivacyStore
    + crate::KeyStore
    + crate::AiAgentStore
    + crate::AggregateStore
    + crate::ImportStore
{
}
impl<
    T: CampaignStore
        + LeadStore
        + CallStore
        + DncStore
        + crate::PrivacyStore
        + crate::KeyStore
        + crate::AiAgentStore
        + crate::AggregateStore
        + crate::ImportStore,
> Store for T
{
}

/// A request to dispatch one attempt of one lead. Its idempotency key is the
/// attempt's [`CallId`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchMessage {
    /// The campaign.
    pub campaign_id: CampaignId,
    /// The lead.
    pub lead_id: LeadId,
    /// The attempt number the lead's slot was claimed for.
    pub attempt: u32,
}

impl DispatchMessage {
    /// The idempotency key: the attempt's call id.
    pub fn call_id(&self) -> CallId {
        CallId::for_attempt(&self.lead_id, self.attempt)
    }
}

/// An opaque handle to acknowledge one received message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Receipt(pub String);

/// A received message (a dispatch message unless said otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery<M = DispatchMessage> {
    /// The message.
    pub message: M,
    /// Its receipt.
    pub receipt: Receipt,
    /// How many times it was received, this time included.
    pub receive_count: u32,
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend failed.
    #[error("queue unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A message body could not be read.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// The dispatch queue: a [`MessageQueue`](crate::MessageQueue) of
/// [`DispatchMessage`]s. Implemented by every queue of dispatch messages.
pub trait DispatchQueue: crate::MessageQueue<DispatchMessage> {}

impl<T: crate::MessageQueue<DispatchMessage> + ?Sized> DispatchQueue for T {}

/// A blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key is not acceptable (empty, `..`, absolute).
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
    /// The backend failed.
    #[error("blob store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Recordings, transcripts and other files, by `/`-separated key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores (or replaces) a blob; readers never see a partial write.
    async fn put(&self, key: &str, data: Vec<u8>, content_type: &str) -> Result<(), BlobError>;

    /// Stores (or replaces) a blob with the bytes of the local file at
    /// `path`, streamed from it (a long recording is never held whole in
    /// memory); readers never see a partial write. A file that cannot be
    /// read is `Unavailable`.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), BlobError>;

    /// Reads a blob.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError>;

    /// Deletes a blob; false if there was none.
    async fn delete(&self, key: &str) -> Result<bool, BlobError>;

    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;

    /// A URL that lets its holder read the blob for `ttl`.
    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BlobError>;

    /// A URL that lets its holder write the blob with an HTTP `PUT` of its
    /// bytes for `ttl` (and nothing else: no read, no other key).
    async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, BlobError>;

    /// At most `len` bytes of the blob from byte `start` (fewer at its
    /// end, none past it); `None` when there is no blob. Large blobs are
    /// read this way, a bounded chunk at a time.
    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError>;
}

/// The time, as the outside world gives it. State machines never read a
/// clock; the use cases ask this port and pass `now` in.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::tests::{call, t0};
    use crate::{CallState, LeadOutcome, PendingReason, ready};

    #[test]
    fn progress_counts_what_is_final_and_what_is_open() {
        let progress = CampaignProgress {
            total: 10,
            finals: BTreeMap::from([("busy".into(), 2), ("interested".into(), 3)]),
            ..CampaignProgress::default()
        };
        assert_eq!((progress.final_total(), progress.open()), (5, 5));
    }

    /// A store that only answers `progress`, for the default `has_open_leads`.
    struct Progress(CampaignProgress);

    #[async_trait]
    impl CampaignStore for Progress {
        async fn insert_campaign(&self, _: &Campaign) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn campaign(&self, _: &CampaignId) -> Result<Option<Campaign>, StoreError> {
            unreachable!()
        }
        async fn update_campaign(&self, _: &Campaign) -> Result<Campaign, StoreError> {
            unreachable!()
        }
        async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
            unreachable!()
        }
        async fn progress(&self, _: &CampaignId) -> Result<CampaignProgress, StoreError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn a_campaign_has_open_leads_until_every_lead_is_final() {
        let id = CampaignId::parse("c").unwrap();
        let mut progress = CampaignProgress {
            total: 2,
            finals: BTreeMap::from([("busy".into(), 1)]),
            ..CampaignProgress::default()
        };
        assert!(ready(Progress(progress.clone()).has_open_leads(&id)).unwrap());
        progress.finals.insert("interested".into(), 1);
        assert!(!ready(Progress(progress).has_open_leads(&id)).unwrap());
    }

    fn release(next: LeadState, dialed: bool) -> LeadRelease {
        LeadRelease {
            lead_id: LeadId::parse("l").unwrap(),
            attempt: 1,
            next,
            dialed,
            outcome: None,
            at: t0() + chrono::Duration::seconds(90),
        }
    }

    fn retry() -> LeadState {
        LeadState::Pending {
            due_at: t0(),
            reason: PendingReason::Retry,
        }
    }

    #[test]
    fn a_release_leaves_the_active_state_for_the_call_it_is_for() {
        let active = LeadState::Active {
            attempt: 1,
            lease_until: t0(),
        };
        assert!(matches!(
            release(active, true).check(),
            Err(StoreError::Invalid(_))
        ));
        let mut ended = call();
        let valid = release(retry(), true);
        assert!(
            matches!(valid.check_finish(&ended), Err(StoreError::Invalid(_))),
            "live call"
        );
        ended.state = CallState::Completed;
        assert!(valid.check_finish(&ended).is_ok());
        let mut other_lead = valid.clone();
        other_lead.lead_id = LeadId::parse("m").unwrap();
        let mut other_attempt = valid.clone();
        other_attempt.attempt = 2;
        for wrong in [other_lead, other_attempt] {
            assert!(matches!(
                wrong.check_finish(&ended),
                Err(StoreError::Invalid(_))
            ));
        }
        let staying = release(
            LeadState::Active {
                attempt: 1,
                lease_until: t0(),
            },
            true,
        );
        assert!(matches!(
            staying.check_finish(&ended),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn applying_a_release_counts_a_dialled_attempt_and_keeps_the_outcome() {
        let lead = crate::lead::tests::new_lead(t0());
        let mut finished = release(
            LeadState::Final {
                outcome: LeadOutcome::Called {
                    outcome: CallOutcome::Busy,
                },
                at: t0(),
            },
            true,
        );
        finished.outcome = Some(CallOutcome::Busy);
        let once = finished.apply(&lead);
        let twice = finished.apply(&once);
        assert_eq!((once.attempts, twice.attempts), (1, 2));
        assert_eq!(once.last_outcome, Some(CallOutcome::Busy));
        assert_eq!(once.outcome_source, Some(crate::OutcomeSource::Provider));
        assert_eq!(
            (once.version, once.updated_at),
            (lead.version + 1, finished.at)
        );
        assert_eq!(
            release(retry(), false).apply(&lead).attempts,
            0,
            "never dialled"
        );
    }

    fn agent(skills: &[&str]) -> HumanAgent {
        HumanAgent {
            id: crate::HumanAgentId::parse("h1").unwrap(),
            org_id: crate::OrgId::default(),
            name: "Ravi".into(),
            number: E164::parse("+12125550111", None).unwrap(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            status: AgentStatus::Available,
            since: t0(),
            call_id: None,
        }
    }

    #[test]
    fn an_available_agent_of_the_organisation_with_the_skills_fits() {
        let org = crate::OrgId::default();
        let skills = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ravi = agent(&["billing", "hindi"]);
        assert!(ravi.fits(&org, &skills(&["hindi"])));
        assert!(ravi.fits(&org, &[]));
        assert!(!ravi.fits(&org, &skills(&["hindi", "spanish"])));
        assert!(!ravi.fits(&crate::OrgId::parse("other").unwrap(), &[]));
        let mut busy = ravi.clone();
        busy.status = AgentStatus::Busy;
        assert!(!busy.fits(&org, &[]));
    }

    #[test]
    fn an_agent_is_taken_once_and_released_only_by_the_call_they_are_on() {
        let later = t0() + chrono::Duration::seconds(30);
        let (first, second) = (call().id, crate::CallId::parse("l.2").unwrap());
        let mut ravi = agent(&[]);
        assert!(ravi.take(&first, later));
        assert_eq!(
            (ravi.status, ravi.call_id.clone(), ravi.since),
            (AgentStatus::Busy, Some(first.clone()), later)
        );
        assert!(!ravi.take(&second, later), "busy");
        assert!(!ravi.release(&second, later), "not on that call");
        assert!(ravi.release(&first, later));
        assert_eq!(
            (ravi.status, ravi.call_id.clone()),
            (AgentStatus::Available, None)
        );
        assert!(!ravi.release(&first, later), "released already");
        ravi.reserve(&first, t0());
        ravi.set_status(AgentStatus::WrapUp, later);
        assert_eq!(
            (ravi.status, ravi.call_id.clone(), ravi.since),
            (AgentStatus::WrapUp, None, later)
        );
        assert!(
            !ravi.release(&first, later),
            "an operator changed the status"
        );
    }
}
