//! Asynchronous lead imports from an uploaded file, and their store port.
//!
//! A large CSV file never goes through the API: the API hands out a
//! presigned upload URL for the blob key of a new [`LeadImport`]; once the
//! file is uploaded, a post-call-queue job reads it batch by batch and
//! records its progress here after each batch it stored. The record's
//! [`ImportCursor`] is where the file is read again after a crash or a
//! redelivery: the batch after the last one recorded. A batch stored but
//! not recorded yet is stored again on replay, which changes nothing (a
//! campaign's leads are keyed by their number: the store merges repeats).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{CampaignId, OrgId, StoreError, Timestamp};

/// The most row rejections an import record keeps (the count covers all).
pub const MAX_IMPORT_REJECTIONS: usize = 100;

/// A problem with one row of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The 1-based line number in the file.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Created: the file may be uploaded to its URL, then the import started.
    AwaitingUpload,
    /// Started: a job will read the file.
    Queued,
    /// A job is reading the file (some batches may be stored).
    Running,
    /// Every row was read.
    Done,
    /// The file was refused as a whole (see `failure`); batches stored
    /// before a late failure stay stored.
    Failed,
}

impl ImportStatus {
    /// Whether the import will change no more.
    pub fn is_finished(self) -> bool {
        matches!(self, ImportStatus::Done | ImportStatus::Failed)
    }
}

/// A position in the file: where the next unread record starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCursor {
    /// Byte offset.
    pub byte: u64,
    /// 1-based line number.
    pub line: u64,
    /// 0-based record number (the header is record 0).
    pub record: u64,
}

/// What an import has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    /// Data rows read (good, bad and repeated).
    pub rows: u64,
    /// Good rows (stored as new leads or merged into a lead with their number).
    pub accepted: u64,
    /// New leads stored.
    pub inserted: u64,
    /// Good rows whose number the campaign or an earlier row had.
    pub merged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Batches stored.
    pub batches: u64,
}

/// One asynchronous import of a file of leads into a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadImport {
    /// Its id.
    pub id: crate::ImportId,
    /// The organisation of its campaign.
    pub org_id: OrgId,
    /// The campaign the leads go to.
    pub campaign_id: CampaignId,
    /// Where the file is uploaded, in the blob store.
    pub blob_key: String,
    /// The region national numbers are read in (ISO alpha-2), if any.
    pub region: Option<String>,
    /// Where it stands.
    pub status: ImportStatus,
    /// Why it failed.
    pub failure: Option<String>,
    /// Where reading resumes; `None` before the first batch.
    pub cursor: Option<ImportCursor>,
    /// The counts so far.
    pub progress: ImportProgress,
    /// The first [`MAX_IMPORT_REJECTIONS`] rejected rows.
    pub rejections: Vec<RowError>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Bumped by every stored update (optimistic concurrency).
    pub version: u64,
}

impl LeadImport {
    /// Keeps the rejections of a batch, up to [`MAX_IMPORT_REJECTIONS`] in all.
    pub fn keep_rejections(&mut self, rows: impl IntoIterator<Item = RowError>) {
        let room = MAX_IMPORT_REJECTIONS.saturating_sub(self.rejections.len());
        self.rejections.extend(rows.into_iter().take(room));
    }
}

/// Import records.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Stores a new import; `AlreadyExists` when its id is taken.
    async fn insert_import(&self, import: &LeadImport) -> Result<(), StoreError>;

    /// Reads an import.
    async fn lead_import(&self, id: &crate::ImportId) -> Result<Option<LeadImport>, StoreError>;

    /// Replaces an import read at `import.version`; returns it as stored
    /// (version bumped). `Conflict` if it changed since, `NotFound` if it
    /// does not exist.
    async fn update_import(&self, import: &LeadImport) -> Result<LeadImport, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_kept_up_to_the_cap() {
        let t = chrono::DateTime::from_timestamp(0, 0).unwrap();
        let mut import = LeadImport {
            id: crate::ImportId::parse("im_1").unwrap(),
            org_id: OrgId::default(),
            campaign_id: CampaignId::parse("c1").unwrap(),
            blob_key: "imports/c1/im_1.csv".into(),
            region: None,
            status: ImportStatus::Running,
            failure: None,
            cursor: None,
            progress: ImportProgress::default(),
            rejections: Vec::new(),
            created_at: t,
            updated_at: t,
            version: 0,
        };
        let row = |line| RowError {
            line,
            reason: "bad".into(),
        };
        import.keep_rejections((1..=60).map(row));
        import.keep_rejections((61..=200).map(row));
        assert_eq!(import.rejections.len(), MAX_IMPORT_REJECTIONS);
        assert_eq!(import.rejections.last().unwrap().line, 100);
        assert!(ImportStatus::Failed.is_finished() && !ImportStatus::Queued.is_finished());
    }
}
