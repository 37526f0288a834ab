//! Erasure, suppression and retention: the store operations that delete a
//! lead's personal data, keep an erased opted-out number suppressed
//! without keeping the number, and schedule the deletion of a call's files.
//!
//! # Erasure
//!
//! [`PrivacyStore::erase_lead`] deletes, in one atomic write, the lead, all
//! of its call attempts (with their transcripts' excerpts, summaries and
//! transfer notes), the (campaign, number) uniqueness entry, the plaintext
//! do-not-call entries of its number (its organisation's and its campaign's) and the
//! retention entries of its calls, and writes a [`Tombstone`] that names
//! the lead's random id, the campaign and counts, never a number, a name
//! or a text. The caller deletes the blobs first (recordings, transcripts,
//! analyses), so a crash between the two leaves the lead to erase again,
//! never audio without a record.
//!
//! # Suppression without the number
//!
//! The do-not-call list is a legal suppression list: an erased person who
//! opted out must stay suppressed. Each plaintext entry of the number is
//! replaced, in the erasing write, by a [`SuppressionDigest`] entry of the
//! same scope: a keyed hash (HMAC-SHA256 under a secret key the operator
//! holds, computed by the app) of the E.164 number. Screening checks the
//! digest of every number it dials ([`PrivacyStore::suppressed`]). Without
//! the key the digest cannot be reversed by trying the ~10^10 numbers of a
//! country; with it, only a given number can be checked.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{CallId, CampaignId, DncHit, LeadId, StoreError, Timestamp};

/// A keyed hash of a phone number (lowercase hex), as the suppression list
/// keeps an erased number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SuppressionDigest(pub String);

/// What is left of an erased lead: the audit record of the erasure, with
/// no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The erased lead's id (random; not personal data).
    pub lead_id: LeadId,
    /// Its campaign.
    pub campaign_id: CampaignId,
    /// When it was erased.
    pub erased_at: Timestamp,
    /// Who asked (`api`, `cli`), as the request said.
    pub requested_via: String,
    /// Call attempts deleted.
    pub calls_erased: u32,
    /// Files deleted (recordings, transcripts, analyses).
    pub blobs_erased: u32,
    /// Provider copies of recordings deleted.
    pub provider_recordings_erased: u32,
    /// Do-not-call entries kept as keyed hashes.
    pub suppressions_kept: u32,
    /// The lead's state label when it was erased (`pending`, `final`).
    pub lead_state: String,
}

/// A call whose files' retention ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeDue {
    /// The call.
    pub call_id: CallId,
    /// When its files were due for deletion.
    pub due_at: Timestamp,
}

/// Erasure, suppression and retention.
#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Erases a lead (see the module doc) and stores `tombstone` (whose
    /// `calls_erased`, `suppressions_kept` and `lead_state` the store fills
    /// in). A lead holding a slot (in a call) is refused with `Conflict`.
    /// Returns `None` when there is no such lead (erased already: read the
    /// tombstone).
    async fn erase_lead(
        &self,
        lead: &LeadId,
        digest: &SuppressionDigest,
        tombstone: &Tombstone,
    ) -> Result<Option<Tombstone>, StoreError>;

    /// The tombstone of an erased lead.
    async fn tombstone(&self, lead: &LeadId) -> Result<Option<Tombstone>, StoreError>;

    /// Whether the organisation's list or the campaign's holds `digest`
    /// (`org` is the campaign's organisation).
    async fn suppressed(
        &self,
        org: &crate::OrgId,
        campaign: &CampaignId,
        digest: &SuppressionDigest,
    ) -> Result<DncHit, StoreError>;

    /// Schedules the deletion of a call's files at `due_at` (to move it,
    /// clear the old entry).
    async fn schedule_purge(&self, call: &CallId, due_at: Timestamp) -> Result<(), StoreError>;

    /// Calls whose files were due before `now`, earliest first.
    async fn due_purges(&self, now: Timestamp, limit: usize) -> Result<Vec<PurgeDue>, StoreError>;

    /// Removes a call's retention entry scheduled at `purge.due_at` (its
    /// files were deleted, or it is moved to another time).
    async fn clear_purge(&self, purge: &PurgeDue) -> Result<(), StoreError>;
}
