//! What a call record keeps about its life after the call: the recording,
//! the transcript, the analysis, the outbound webhook delivery and the
//! retention of its files. All of it lives inside the call record
//! ([`CallAttempt::post_call`](crate::CallAttempt::post_call)), so both
//! store adapters keep it without new tables, and every stage writes its
//! result with the call's versioned update: a stage is done exactly once
//! even when its job is delivered twice.

use serde::{Deserialize, Serialize};

use crate::{AnalysisDisposition, OnDemandRecording, RecordingRecord, SentimentLabel, Timestamp};

/// The post-call state of a call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostCall {
    /// The recording, when there is (or will be) one.
    pub recording: Option<RecordingRecord>,
    /// Recording switched on through the API (`on_demand` policy).
    pub on_demand: Option<OnDemandRecording>,
    /// The transcript.
    pub transcript: Option<TranscriptRecord>,
    /// The analysis.
    pub analysis: Option<AnalysisRecord>,
    /// The outbound webhook.
    pub delivery: Option<DeliveryRecord>,
    /// When the call's files are deleted, and whether they were.
    pub retention: Option<RetentionRecord>,
}

impl PostCall {
    /// Whether nothing happened after the call.
    pub fn is_empty(&self) -> bool {
        self == &PostCall::default()
    }
}

/// A stage's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Queued or being retried.
    Pending,
    /// Done.
    Done,
    /// Failed for good (see `failure`).
    Failed,
    /// Not needed (nothing to transcribe, no webhook configured).
    Skipped,
}

/// The call's transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptRecord {
    /// Progress.
    pub status: StageStatus,
    /// The engine.
    pub engine: String,
    /// The blob key of the transcript JSON.
    #[serde(default)]
    pub key: Option<String>,
    /// Segments.
    #[serde(default)]
    pub segments: u32,
    /// The first words.
    #[serde(default)]
    pub excerpt: Option<String>,
    /// Attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Why it failed (last attempt).
    #[serde(default)]
    pub failure: Option<String>,
    /// When it was made.
    pub at: Timestamp,
}

/// The call's analysis, in brief (the full one is a blob).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// Progress.
    pub status: StageStatus,
    /// The engine.
    pub engine: String,
    /// The blob key of the full analysis.
    #[serde(default)]
    pub key: Option<String>,
    /// The disposition.
    #[serde(default)]
    pub disposition: Option<AnalysisDisposition>,
    /// The callback time asked for.
    #[serde(default)]
    pub callback_at: Option<Timestamp>,
    /// Overall sentiment.
    #[serde(default)]
    pub sentiment: Option<SentimentLabel>,
    /// Principles kept and broken.
    #[serde(default)]
    pub principles_passed: u32,
    /// Principles broken.
    #[serde(default)]
    pub principles_failed: u32,
    /// The summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Why it failed (last attempt).
    #[serde(default)]
    pub failure: Option<String>,
    /// Milliseconds from the call's end to this analysis (on the engine's clock).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Requests to outside services this call's post-call work made so far
    /// (provider, transcriber, analyser; the webhook is counted on the
    /// delivery).
    #[serde(default)]
    pub external_calls: u32,
    /// When it was made.
    pub at: Timestamp,
}

/// The outbound webhook of the call's analysis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Progress.
    pub status: StageStatus,
    /// POSTs so far.
    pub attempts: u32,
    /// The receiver's last HTTP status.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub failure: Option<String>,
    /// When it was accepted.
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
}

/// The retention of the call's files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRecord {
    /// When the recording, transcripts and analysis are deleted.
    pub purge_at: Timestamp,
    /// When they were.
    #[serde(default)]
    pub purged_at: Option<Timestamp>,
}

/// Where a campaign's analyses are POSTed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundWebhook {
    /// The receiver (`https://`; `http://` only to a loopback address in
    /// local mode; see [`crate::destination`]).
    pub url: String,
    /// The HMAC-SHA256 key (at least 16 characters). Write-only: the API
    /// never returns it ([`OutboundWebhook::redacted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl OutboundWebhook {
    /// The settings without the secret, as the API shows them.
    pub fn redacted(&self) -> OutboundWebhook {
        OutboundWebhook {
            url: self.url.clone(),
            secret: None,
        }
    }

    /// Checks the URL and the secret.
    pub fn validate(&self) -> Result<(), String> {
        crate::destination::check_url(&self.url)?;
        match &self.secret {
            Some(secret) if secret.chars().count() >= 16 => Ok(()),
            _ => Err("a secret of at least 16 characters is required".into()),
        }
    }
}

/// An outbound HTTP POST failed before an answer came.
#[derive(Debug, thiserror::Error)]
#[error("webhook POST failed: {message}")]
pub struct PostError {
    /// What failed (connect, timeout).
    pub message: String,
}

/// Sends an outbound webhook: one POST, the receiver's status back.
#[async_trait::async_trait]
pub trait WebhookPoster: Send + Sync {
    /// POSTs `body` to `url` with `headers`; the HTTP status of the answer.
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u16, PostError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_parsed_not_prefix_matched() {
        let hook = |url: &str| OutboundWebhook {
            url: url.into(),
            secret: Some("0123456789abcdef".into()),
        };
        // The host here is any-host: "http://127.0.0.1" is only user info.
        assert!(hook("http://127.0.0.1@any-host/").validate().is_err());
        assert!(hook("https://169.254.169.254/latest").validate().is_err());
        assert!(hook("https://hooks.example.com/voxdial").validate().is_ok());
        assert!(hook("http://127.0.0.1:9000/hook").validate().is_ok());
    }

    #[test]
    fn a_secret_has_at_least_sixteen_characters() {
        let hook = |secret: Option<&str>| OutboundWebhook {
            url: "https://hooks.example.com/voxdial".into(),
            secret: secret.map(str::to_owned),
        };
        assert!(hook(Some("0123456789abcdef")).validate().is_ok());
        assert!(hook(Some("0123456789abcde")).validate().is_err());
        assert!(hook(None).validate().is_err());
    }

    #[test]
    fn a_post_call_record_is_empty_until_a_stage_ran() {
        let mut record = PostCall::default();
        assert!(record.is_empty());
        record.retention = Some(RetentionRecord {
            purge_at: chrono::DateTime::UNIX_EPOCH,
            purged_at: None,
        });
        assert!(!record.is_empty());
    }
}
