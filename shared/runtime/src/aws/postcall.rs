//! The post-call pipeline on AWS: recordings and transcripts on S3, jobs on
//! SQS (the `transcriber` function drains them), the transcriber and the
//! analyser chosen by `VOXDIAL_TRANSCRIBER` and `VOXDIAL_ANALYSER`.

use std::sync::Arc;
use std::time::Duration;

use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{PostCallConfig, PostCallDeps};
use voxdial_aws::Clients;
use voxdial_domain::{Analyser, JobQueue, Transcriber};
use voxdial_providers::{HttpWebhookPoster, SecretSource};
use voxdial_speech::gemini::{GeminiAnalyser, GeminiConfig, GeminiTranscriber};
use voxdial_speech::google::{GoogleAuth, GoogleSpeech, GoogleSpeechConfig};
use voxdial_speech::transcribe::{AwsTranscribe, AwsTranscribeConfig};

use super::InitError;
use super::config::LambdaConfig;

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

/// Adds the blob store and, with a job queue, the post-call pipeline to
/// `engine`.
/// The post-call pipeline on `jobs` (none without a job queue): the
/// configured transcriber and analyser, outbound webhooks, the deployment's
/// retention and suppression key.
pub(crate) fn deps(
    config: &LambdaConfig,
    clients: &Clients,
    secrets: &dyn SecretSource,
    jobs: Option<Arc<dyn JobQueue>>,
) -> Result<Option<PostCallDeps>, InitError> {
    let Some(jobs) = jobs else {
        return Ok(None);
    };
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
    Ok(Some(PostCallDeps {
        jobs,
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
    }))
}
