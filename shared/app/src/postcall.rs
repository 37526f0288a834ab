//! The post-call pipeline: what happens to a call after it ended, as
//! durable jobs on the [`JobQueue`].
//!
//! ```text
//! provider recording webhook ──► FetchRecording ──► stored ─┐
//! bridge recording (save_recording) ──────────────► stored ─┤
//! call ends (first terminal event) ───────────────────────── ┼─► Process: transcribe ─► analyse ─► Deliver
//! bridge report (record_conversation) ─────────────────────┘        (selective keep, retention)   (signed POST)
//! ```
//!
//! # Idempotency
//!
//! Every job names one call; every stage writes its result on the call
//! record with the call's versioned update and is skipped when already
//! done. A job delivered twice, a webhook duplicated or reordered, or two
//! triggers of `Process` store, transcribe, analyse and post once.
//!
//! # Readiness
//!
//! `Process` waits (the job is postponed) while the call is live, while a
//! provider recording is announced but not stored yet, or while the media
//! bridge is expected to report the conversation (its live transcript) and
//! has not; each wait is bounded ([`PostCallConfig::recording_wait`],
//! [`PostCallConfig::bridge_wait`]), after which the call is processed with
//! what there is. A recording that arrives after the analysis is stored (and
//! subject to retention) but not transcribed again.
//!
//! # Failures
//!
//! Transient failures (provider 5xx, transcriber rate limit) postpone the
//! job with exponential backoff on the queue's clock; after the configured
//! attempts the stage is marked failed on the call record with the reason,
//! and the pipeline goes on without it (an analysis without a transcript,
//! a transcript from the live one when the recording failed).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, warn};
use voxdial_domain::{
    Analyser, CallAttempt, CallState, ConsentRules, Delivery, Job, JobQueue, Transcriber,
    WebhookPoster,
};

use crate::delivery::{Deleter, Settlement, settle};
use crate::{AppError, Engine};

/// Settings of the post-call pipeline.
#[derive(Clone, Debug)]
pub struct PostCallConfig {
    /// Delete the provider's copy of a recording once a verified copy is
    /// stored (default true).
    pub delete_provider_copy: bool,
    /// Download attempts of a provider recording before it fails.
    pub fetch_attempts: u32,
    /// Transcription and analysis attempts before the stage fails.
    pub process_attempts: u32,
    /// Outbound webhook POSTs before the delivery fails.
    pub delivery_attempts: u32,
    /// The first retry delay (doubles each attempt, on the queue's clock).
    pub backoff_base: Duration,
    /// The longest retry delay.
    pub backoff_cap: Duration,
    /// How long `Process` waits for an announced provider recording.
    pub recording_wait: Duration,
    /// How long `Process` waits for the media bridge's report.
    pub bridge_wait: Duration,
    /// How often a waiting `Process` looks again.
    pub readiness_poll: Duration,
    /// Days a call's files are kept when the campaign does not say.
    pub retention_days: u32,
    /// Where the recording notice is required.
    pub consent: ConsentRules,
    /// The key of the suppression digests of erased numbers (keep it
    /// secret and stable: digests made under another key do not match).
    pub suppression_key: Vec<u8>,
    /// Whether a media bridge runs (its live transcript is then awaited).
    pub bridge: bool,
    /// Batches of an uploaded lead file one job run stores before it
    /// queues itself again (so that no run outlives a Lambda's timeout).
    pub import_batches_per_run: u32,
    /// Leads an uploaded file's batch holds (each batch is stored, then its
    /// progress recorded).
    pub import_batch_rows: usize,
}

impl Default for PostCallConfig {
    fn default() -> Self {
        PostCallConfig {
            delete_provider_copy: true,
            fetch_attempts: 5,
            process_attempts: 5,
            delivery_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(3600),
            recording_wait: Duration::from_secs(600),
            bridge_wait: Duration::from_secs(120),
            readiness_poll: Duration::from_secs(5),
            retention_days: 90,
            consent: ConsentRules::default(),
            suppression_key: Vec::new(),
            bridge: false,
            import_batches_per_run: 100,
            import_batch_rows: crate::csv_import::BATCH_ROWS,
        }
    }
}

impl PostCallConfig {
    /// The delay before attempt `attempt + 1` (attempt counts from 1).
    pub fn backoff(&self, attempt: u32, base: Duration) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        base.saturating_mul(factor).min(self.backoff_cap)
    }
}

/// What the pipeline runs on.
#[derive(Clone)]
pub struct PostCallDeps {
    /// The job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// The transcriber.
    pub transcriber: Arc<dyn Transcriber>,
    /// The analyser.
    pub analyser: Arc<dyn Analyser>,
    /// Sends outbound webhooks (none: deliveries are skipped).
    pub poster: Option<Arc<dyn WebhookPoster>>,
    /// Settings.
    pub config: PostCallConfig,
}

/// What handling a job decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done (or nothing to do): acknowledge.
    Done,
    /// Run it again after this delay.
    RetryAfter(Duration),
}

impl Engine {
    /// Runs the post-call pipeline on `deps`.
    pub fn with_post_call(mut self, deps: PostCallDeps) -> Engine {
        self.post = Some(Arc::new(deps));
        self
    }

    /// The post-call pipeline, or `Conflict` when none is configured.
    pub(crate) fn post(&self) -> Result<&PostCallDeps, AppError> {
        self.post
            .as_deref()
            .ok_or_else(|| AppError::Conflict("no post-call pipeline is configured".into()))
    }

    /// The pipeline's settings (defaults when none is configured).
    pub fn post_call_config(&self) -> PostCallConfig {
        self.post
            .as_ref()
            .map(|p| p.config.clone())
            .unwrap_or_default()
    }

    /// How many post-call jobs are queued, waiting or in flight, where the
    /// job queue counts them exactly; `None` without a pipeline or a count.
    pub async fn post_call_backlog(&self) -> Result<Option<u64>, AppError> {
        match self.post.as_ref() {
            Some(post) => Ok(post.jobs.backlog().await?),
            None => Ok(None),
        }
    }

    /// Queues jobs; a failure is logged (the sweeper's reconciliation or the
    /// next trigger catches up) and returned.
    pub(crate) async fn enqueue(&self, jobs: &[Job], delay: Duration) -> Result<(), AppError> {
        let post = self.post()?;
        post.jobs.send(jobs, delay).await.map_err(|e| {
            warn!(error = %e, "could not queue post-call jobs");
            AppError::from(e)
        })
    }

    /// Called once a call ended (its first terminal event): answered calls
    /// go to processing.
    pub(crate) async fn on_call_ended(&self, call: &CallAttempt) {
        if self.post.is_none() || !matches!(call.state, CallState::Completed | CallState::Voicemail)
        {
            return;
        }
        let job = Job::Process {
            call_id: call.id.clone(),
        };
        let _ = self.enqueue(&[job], Duration::ZERO).await;
    }

    /// Handles one post-call job.
    pub async fn handle_job(&self, job: &Job, receive_count: u32) -> Result<JobOutcome, AppError> {
        match job {
            Job::FetchRecording { call_id } => self.fetch_recording_job(call_id).await,
            Job::Process { call_id } => self.process_job(call_id, receive_count).await,
            Job::Deliver { call_id } => self.deliver_job(call_id).await,
            Job::ImportLeads { import_id } => self.import_job(import_id).await,
        }
    }
}

/// Drains the job queue until `shutdown` turns true, up to `parallel` jobs
/// at once (the local runtime's worker; in AWS the transcriber function).
pub async fn run_job_worker(
    engine: Engine,
    queue: Arc<dyn JobQueue>,
    parallel: usize,
    shutdown: watch::Receiver<bool>,
) {
    let q = &queue;
    crate::workers::drain_queue(
        "jobs",
        parallel,
        shutdown,
        move |max| q.receive(max, Duration::from_millis(500)),
        |delivery| {
            let (engine, queue) = (engine.clone(), queue.clone());
            async move { handle_job_delivery(&engine, queue.as_ref(), delivery).await }
        },
    )
    .await;
}

/// Handles one received job and settles it as the outcome says
/// ([`crate::delivery`]).
pub async fn handle_job_delivery(engine: &Engine, queue: &dyn JobQueue, delivery: Delivery<Job>) {
    let span = tracing::info_span!(
        "job",
        job = delivery.message.kind(),
        subject = delivery.message.subject(),
        receive_count = delivery.receive_count
    );
    async {
        let result = engine
            .handle_job(&delivery.message, delivery.receive_count)
            .await;
        settle(
            queue,
            &delivery.message,
            Some(&delivery.receipt),
            Settlement::of(&result),
            Deleter::Settle,
        )
        .await;
    }
    .instrument(span)
    .await
}
