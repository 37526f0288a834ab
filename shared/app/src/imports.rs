//! Asynchronous imports of large lead files, by presigned upload.
//!
//! The API never holds such a file: the same flow runs on both backends.
//!
//! 1. [`Engine::create_import`] (`POST /v1/campaigns/{id}/imports`) stores
//!    an import record (awaiting upload) and answers a presigned `PUT` URL
//!    for its blob key `imports/<campaign>/<import>.csv`, valid for
//!    [`UPLOAD_URL_TTL`] (S3 on AWS; the local server's `/blobs/` route).
//! 2. The client uploads the file with a plain HTTP `PUT` to that URL.
//! 3. [`Engine::start_import`] (`POST …/imports/{import}/start`) checks that
//!    the file is there, marks the import queued and sends a
//!    [`Job::ImportLeads`] on the post-call job queue.
//! 4. The job copies the file to a temporary file in
//!    [`SPOOL_CHUNK_BYTES`] range reads (memory stays flat whatever the
//!    size), checks its shape like the direct route, then reads at most
//!    [`PostCallConfig::import_batches_per_run`](crate::PostCallConfig)
//!    batches of [`PostCallConfig::import_batch_rows`](crate::PostCallConfig) rows from the record's
//!    cursor: each batch is stored (one atomic write), then the record's
//!    cursor, counts and first rejections are updated over its version.
//!    It queues itself again until the file is read, so no run outlives a
//!    Lambda's timeout.
//!
//! An explicit start rather than an S3 event notification: it works the
//! same on both backends, needs no bucket notification in the template,
//! and the client says when its upload is complete.
//!
//! # Crashes and replays
//!
//! A run that dies after storing a batch but before recording it leaves
//! the cursor before that batch: the next run stores it again, and the
//! store merges each lead into the one with its number (a campaign's leads
//! are keyed by number), so nothing is duplicated; those rows then count
//! as `merged` rather than `inserted`. `rows`, `accepted` and `rejected`
//! are exact whatever the replays. Two runs of one import at once (a
//! duplicated message) race on the record's version: the loser stops.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};
use voxdial_domain::{
    BlobError, BlobStore, Campaign, ImportId, ImportProgress, ImportStatus, Job, LeadImport,
    StoreError,
};

use crate::csv_import::{FileError, LeadBatches, MAX_CSV_BYTES};
use crate::engine::new_id;
use crate::postcall::JobOutcome;
use crate::{AppError, Engine};

/// How long an upload URL is valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// The size of each range read of an uploaded file.
pub const SPOOL_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// A new import and where to upload its file.
#[derive(Clone, Debug, Serialize)]
pub struct NewImport {
    /// The import record.
    pub import: LeadImport,
    /// Where to `PUT` the file (with no other header needed).
    pub upload_url: String,
    /// The HTTP method of the upload: `PUT`.
    pub upload_method: &'static str,
    /// Seconds the URL stays valid.
    pub expires_in_secs: u64,
}

fn spool_error(source: std::io::Error) -> AppError {
    AppError::Blob(BlobError::Unavailable {
        message: "cannot copy the uploaded file to a temporary file".into(),
        source: Box::new(source),
    })
}

/// The blob copied to an anonymous temporary file (a little more than
/// [`MAX_CSV_BYTES`] at most: a larger file is refused by its size);
/// `None` when nothing was uploaded.
async fn spool(blobs: &dyn BlobStore, key: &str) -> Result<Option<std::fs::File>, AppError> {
    let mut file = tempfile::tempfile().map_err(spool_error)?;
    let mut start = 0u64;
    while start <= MAX_CSV_BYTES as u64 {
        let Some(chunk) = blobs.get_range(key, start, SPOOL_CHUNK_BYTES).await? else {
            return Ok(None);
        };
        file.write_all(&chunk).map_err(spool_error)?;
        start += chunk.len() as u64;
        if (chunk.len() as u64) < SPOOL_CHUNK_BYTES {
            break;
        }
    }
    Ok(Some(file))
}

fn check_region(region: Option<&str>) -> Result<(), AppError> {
    match region {
        Some(r) if r.len() != 2 || !r.bytes().all(|b| b.is_ascii_uppercase()) => {
            Err(AppError::Invalid(format!(
                "region {:?} is not an ISO 3166 alpha-2 code such as US or IN",
                r.chars().take(16).collect::<String>()
            )))
        }
        _ => Ok(()),
    }
}

impl Engine {
    /// The blob store, or a conflict when none is configured.
    pub(crate) fn blob_store(&self) -> Result<&dyn BlobStore, AppError> {
        self.blobs
            .as_deref()
            .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))
    }

    /// Creates an import into `campaign` (of the caller's organisation, not
    /// finished) and a URL to upload its file to. `region` (ISO alpha-2)
    /// lets numbers be written in national form.
    pub async fn create_import(
        &self,
        campaign: &Campaign,
        region: Option<String>,
    ) -> Result<NewImport, AppError> {
        check_region(region.as_deref())?;
        let campaign = self.open_campaign(&campaign.id).await?;
        let blobs = self.blob_store()?;
        let id = ImportId::parse(new_id("im")).expect("generated ids are valid");
        let blob_key = format!("imports/{}/{id}.csv", campaign.id);
        let upload_url = blobs.presign_put(&blob_key, UPLOAD_URL_TTL).await?;
        let now = self.clock.now();
        let import = LeadImport {
            id,
            org_id: campaign.org_id.clone(),
            campaign_id: campaign.id.clone(),
            blob_key,
            region,
            status: ImportStatus::AwaitingUpload,
            failure: None,
            cursor: None,
            progress: ImportProgress::default(),
            rejections: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        self.store.insert_import(&import).await?;
        info!(campaign_id = %campaign.id, import_id = %import.id, "import created");
        Ok(NewImport {
            import,
            upload_url,
            upload_method: "PUT",
            expires_in_secs: UPLOAD_URL_TTL.as_secs(),
        })
    }

    /// An import of `campaign`; another campaign's (or organisation's)
    /// answers exactly like one that does not exist.
    pub async fn lead_import(
        &self,
        campaign: &Campaign,
        id: &ImportId,
    ) -> Result<LeadImport, AppError> {
        match self.store.lead_import(id).await? {
            Some(import) if import.campaign_id == campaign.id => Ok(import),
            _ => Err(AppError::NotFound(format!("import {id}"))),
        }
    }

    /// Starts reading an uploaded file: the import is queued and its job
    /// sent. Starting a queued import sends its job again (a lost message
    /// is recovered that way); a running or finished one is left as is.
    pub async fn start_import(
        &self,
        campaign: &Campaign,
        id: &ImportId,
    ) -> Result<LeadImport, AppError> {
        let mut import = self.lead_import(campaign, id).await?;
        match import.status {
            ImportStatus::AwaitingUpload => {
                self.post()?;
                let uploaded = self.blob_store()?.get_range(&import.blob_key, 0, 1).await?;
                if uploaded.is_none() {
                    return Err(AppError::Conflict(format!(
                        "nothing was uploaded for import {id}: PUT the file to its upload_url first"
                    )));
                }
                import.status = ImportStatus::Queued;
                import.updated_at = self.clock.now();
                import = self.store.update_import(&import).await?;
            }
            ImportStatus::Queued => {}
            _ => return Ok(import),
        }
        let job = Job::ImportLeads {
            import_id: import.id.clone(),
        };
        self.enqueue(&[job], Duration::ZERO).await?;
        info!(campaign_id = %campaign.id, import_id = %id, "import started");
        Ok(import)
    }

    /// Runs [`Job::ImportLeads`]: the next batches of the file (see the
    /// module doc).
    pub(crate) async fn import_job(&self, id: &ImportId) -> Result<JobOutcome, AppError> {
        let Some(import) = self.store.lead_import(id).await? else {
            warn!(import_id = %id, "a job for an import that does not exist");
            return Ok(JobOutcome::Done);
        };
        if !matches!(import.status, ImportStatus::Queued | ImportStatus::Running) {
            return Ok(JobOutcome::Done);
        }
        let campaign = match self.open_campaign(&import.campaign_id).await {
            Ok(campaign) => campaign,
            Err(e @ (AppError::NotFound(_) | AppError::Conflict(_))) => {
                return self.fail_import(import, e.to_string()).await;
            }
            Err(e) => return Err(e),
        };
        let Some(file) = spool(self.blob_store()?, &import.blob_key).await? else {
            let reason = "the uploaded file is gone".to_string();
            return self.fail_import(import, reason).await;
        };
        let region = import.region.clone();
        let allowed = &campaign.settings.allow_number_types;
        let batches = LeadBatches::from_file(file, region.as_deref(), allowed, import.cursor);
        let rows = self.post_call_config().import_batch_rows;
        match batches {
            Ok(batches) => {
                let batches = batches.with_batch_rows(rows);
                self.import_batches(&campaign, import, batches).await
            }
            Err(FileError::Csv(e)) => self.fail_import(import, e.to_string()).await,
            Err(FileError::Io(e)) => Err(spool_error(e)),
        }
    }

    /// Stores up to a run's batches, recording progress after each.
    async fn import_batches(
        &self,
        campaign: &Campaign,
        mut import: LeadImport,
        mut batches: LeadBatches<'_, std::io::BufReader<std::fs::File>>,
    ) -> Result<JobOutcome, AppError> {
        let per_run = self.post_call_config().import_batches_per_run.max(1);
        for _ in 0..per_run {
            let before = (batches.rows(), batches.rejected(), batches.duplicates());
            let Some(batch) = batches.next_batch() else {
                break;
            };
            let good = batch.len() as u64;
            let stored = self.store_leads(&campaign.id, batch).await?;
            let repeated = batches.duplicates() - before.2;
            let progress = &mut import.progress;
            progress.rows += batches.rows() - before.0;
            progress.rejected += batches.rejected() - before.1;
            progress.accepted += good + repeated;
            progress.inserted += stored.inserted;
            progress.merged += stored.merged + repeated;
            progress.batches += 1;
            import.keep_rejections(batches.take_errors());
            import.cursor = Some(batches.cursor());
            import.status = ImportStatus::Running;
            import.updated_at = self.clock.now();
            import = match self.store.update_import(&import).await {
                Ok(stored) => stored,
                Err(StoreError::Conflict(_)) => {
                    warn!(import_id = %import.id, "another run of this import went ahead; stopping");
                    return Ok(JobOutcome::Done);
                }
                Err(e) => return Err(e.into()),
            };
        }
        if !batches.finished() {
            return Ok(JobOutcome::RetryAfter(Duration::ZERO));
        }
        import.status = ImportStatus::Done;
        import.updated_at = self.clock.now();
        let import = self.store.update_import(&import).await?;
        let p = import.progress;
        info!(campaign_id = %campaign.id, import_id = %import.id, rows = p.rows,
            inserted = p.inserted, merged = p.merged, rejected = p.rejected, "import done");
        if campaign.is_dialling() {
            self.fill_slots(&campaign.id).await?;
        }
        Ok(JobOutcome::Done)
    }

    async fn fail_import(
        &self,
        mut import: LeadImport,
        reason: String,
    ) -> Result<JobOutcome, AppError> {
        warn!(import_id = %import.id, reason = %voxdial_domain::LogSafe(&reason), "import failed");
        import.status = ImportStatus::Failed;
        import.failure = Some(reason);
        import.updated_at = self.clock.now();
        match self.store.update_import(&import).await {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(JobOutcome::Done),
            Err(e) => Err(e.into()),
        }
    }
}
