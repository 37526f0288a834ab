//! The post-call pipeline on AWS: recordings and transcripts on S3, jobs on
//! SQS (the `transcriber` function drains them), the transcriber and the
//! analyser chosen by `VOXDIAL_TRANSCRIBER` and `VOXDIAL_ANALYSER`, and the
//! `transcriber` function's SQS handler (partial batch failures).
//!
//! A job is settled as everywhere ([`voxdial_app::delivery`]); a body that
//! is not a job is reported failed: the dead-letter queue takes it.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{Instrument, error, info_span};
use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::delivery::{Deleter, Settlement, settle};
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{Engine, PostCallConfig, PostCallDeps};
use voxdial_aws::sqs::decode_message;
use voxdial_aws::{Clients, S3BlobStore, SqsJobQueue};
use voxdial_domain::{Analyser, Job, JobQueue, Receipt, Transcriber};
use voxdial_providers::{HttpWebhookPoster, SecretSource};
use voxdial_speech::gemini::{GeminiAnalyser, GeminiConfig, GeminiTranscriber};
use voxdial_speech::google::{GoogleAuth, GoogleSpeech, GoogleSpeechConfig};
use voxdial_speech::transcribe::{AwsTranscribe, AwsTranscribeConfig};

use crate::config::LambdaConfig;
use crate::deps::InitError;

fn bad(reason: impl Into<String>) -> InitError {
    InitError::PostCall(reason.into())
}

fn gemini(config: &LambdaConfig, secrets: &dyn SecretSource) -> Result<GeminiConfig, InitError> {
    let key = secrets
        .secret("gemini.api_key")
        .ok_or_else(|| bad("no gemini.api_key in the function's secrets (the models secret)"))?;
    let mut gemini = GeminiConfig::new(key);
    if let Some(model) = &config.gemini_model {
        gemini.model = model.clone();
    }
    Ok(gemini)
}

/// Adds the blob store and, with a job queue configured, the post-call
/// pipeline to `engine`.
pub(crate) fn wire(
    mut engine: Engine,
    config: &LambdaConfig,
    clients: &Clients,
    secrets: &dyn SecretSource,
) -> Result<(Engine, Option<Arc<dyn JobQueue>>), InitError> {
    if let Some(bucket) = &config.recordings_bucket {
        engine = engine.with_blobs(Arc::new(S3BlobStore::new(clients.s3.clone(), bucket)));
    }
    let Some(url) = &config.job_queue_url else {
        return Ok((engine, None));
    };
    let jobs: Arc<dyn JobQueue> = Arc::new(SqsJobQueue::new(clients.sqs.clone(), url));
    let http = |e: reqwest::Error| bad(format!("cannot build an HTTP client: {e}"));
    let transcriber: Arc<dyn Transcriber> = match config.transcriber.as_str() {
        "live" => Arc::new(LiveTranscriber),
        "google" => {
            let key = secrets.secret("google.speech_api_key").ok_or_else(|| {
                bad("no google.speech_api_key in the function's secrets (the models secret)")
            })?;
            Arc::new(
                GoogleSpeech::new(GoogleSpeechConfig::new(GoogleAuth::ApiKey(key)))
                    .map_err(http)?,
            )
        }
        "aws-transcribe" => {
            let bucket = config
                .recordings_bucket
                .clone()
                .ok_or_else(|| bad("aws-transcribe needs VOXDIAL_RECORDINGS_BUCKET"))?;
            Arc::new(AwsTranscribe::new(
                clients.transcribe.clone(),
                AwsTranscribeConfig::new(bucket),
            ))
        }
        "gemini" => Arc::new(GeminiTranscriber::new(gemini(config, secrets)?).map_err(http)?),
        other => return Err(bad(format!("unknown VOXDIAL_TRANSCRIBER {other:?}"))),
    };
    let analyser: Arc<dyn Analyser> = match config.analyser.as_str() {
        "local" => Arc::new(LocalAnalyser),
        "gemini" => Arc::new(GeminiAnalyser::new(gemini(config, secrets)?).map_err(http)?),
        other => return Err(bad(format!("unknown VOXDIAL_ANALYSER {other:?}"))),
    };
    let defaults = PostCallConfig::default();
    let deps = PostCallDeps {
        jobs: jobs.clone(),
        transcriber,
        analyser,
        poster: Some(Arc::new(
            HttpWebhookPoster::new(Duration::from_secs(10)).map_err(http)?,
        )),
        config: PostCallConfig {
            delete_provider_copy: config.delete_provider_recordings,
            retention_days: config.retention_days.unwrap_or(defaults.retention_days),
            suppression_key: secrets
                .secret("voxdial.suppression_key")
                .map(String::into_bytes)
                .unwrap_or_default(),
            bridge: config.media_url.is_some(),
            consent: config.consent.clone(),
            ..defaults
        },
    };
    Ok((engine.with_post_call(deps), Some(jobs)))
}

/// Whether one job message succeeded.
async fn one(engine: &Engine, queue: &dyn JobQueue, record: &SqsMessage) -> bool {
    let body = record.body.as_deref().unwrap_or_default();
    let job: Job = match decode_message(body) {
        Ok(job) => job,
        Err(e) => {
            error!(error = %e, message_id = record.message_id.as_deref().unwrap_or("?"), "not a post-call job");
            return false;
        }
    };
    let receive_count: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let span = info_span!(
        "job",
        job = job.kind(),
        subject = job.subject(),
        receive_count
    );
    async {
        let result = engine.handle_job(&job, receive_count).await;
        let receipt = record.receipt_handle.clone().map(Receipt);
        settle(
            queue,
            &job,
            receipt.as_ref(),
            Settlement::of(&result),
            Deleter::Host,
        )
        .await
    }
    .instrument(span)
    .await
}

/// Handles a batch of post-call jobs; the failed ones are reported by id.
pub async fn handle_jobs(
    engine: &Engine,
    queue: &dyn JobQueue,
    event: SqsEvent,
) -> SqsBatchResponse {
    crate::dispatch::each_record(&event, |record| one(engine, queue, record)).await
}
