//! Transcription: the local default transcriber (the media bridge's live
//! transcript, no account needed), a latency-simulating wrapper for
//! measurements, and the transcribe stage of the `Process` job.
//!
//! The stage picks its input by what the configured engine reads: the
//! recording's bytes or blob key for a speech engine, the live transcript
//! otherwise; when the engine's input is missing (no recording: the policy
//! is off, or the download failed) and the bridge stored a live transcript,
//! that one is used. The result is stored as JSON at
//! `transcripts/<campaign>/<call>.segments.json`; the call record keeps the
//! key, the segment count and an excerpt.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tracing::{info, warn};
use voxdial_domain::{
    CallAttempt, RecordingStatus, Segment, Speaker, StageStatus, TranscribeError, Transcriber,
    TranscriberInput, Transcript, TranscriptRecord, TranscriptionRequest,
};

use crate::recordings::call_blob_key;
use crate::{AppError, Engine};

/// The engine name of transcripts made from the bridge's live transcript.
pub const LIVE_ENGINE: &str = "live";

/// The local default: reads the live transcript the media bridge stored
/// (JSON turns: `speaker`, `text`, `start_ms`, `end_ms`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveTranscriber;

#[derive(Deserialize)]
struct LiveTurn {
    speaker: Speaker,
    text: String,
    #[serde(default)]
    start_ms: u64,
    #[serde(default)]
    end_ms: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LiveDoc {
    Turns(Vec<LiveTurn>),
    Wrapped { turns: Vec<LiveTurn> },
}

/// Parses the bridge's live transcript.
pub fn parse_live_transcript(json: &[u8]) -> Result<Transcript, TranscribeError> {
    let doc: LiveDoc = serde_json::from_slice(json)
        .map_err(|e| TranscribeError::Permanent(format!("unreadable live transcript: {e}")))?;
    let turns = match doc {
        LiveDoc::Turns(turns) | LiveDoc::Wrapped { turns } => turns,
    };
    Ok(Transcript {
        engine: LIVE_ENGINE.into(),
        language: None,
        segments: turns
            .into_iter()
            .map(|t| Segment {
                speaker: t.speaker,
                start_ms: t.start_ms,
                end_ms: t.end_ms,
                text: t.text,
            })
            .collect(),
    }
    .normalised())
}

#[async_trait]
impl Transcriber for LiveTranscriber {
    fn name(&self) -> &str {
        LIVE_ENGINE
    }

    fn input(&self) -> TranscriberInput {
        TranscriberInput::LiveTranscript
    }

    async fn transcribe(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<Transcript, TranscribeError> {
        let json = request.live_transcript.as_deref().ok_or_else(|| {
            TranscribeError::NoInput("the bridge stored no live transcript".into())
        })?;
        parse_live_transcript(json)
    }
}

/// Wraps a transcriber with a fixed delay per call: a stand-in for a speech
/// service's latency in measurements and demos.
pub struct DelayedTranscriber<T> {
    inner: T,
    delay: Duration,
}

impl<T> DelayedTranscriber<T> {
    /// `inner`, answering `delay` later.
    pub fn new(inner: T, delay: Duration) -> Self {
        DelayedTranscriber { inner, delay }
    }
}

#[async_trait]
impl<T: Transcriber> Transcriber for DelayedTranscriber<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn input(&self) -> TranscriberInput {
        self.inner.input()
    }

    async fn transcribe(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<Transcript, TranscribeError> {
        tokio::time::sleep(self.delay).await;
        self.inner.transcribe(request).await
    }
}

/// The engine name a stage's claim carries while it runs.
pub(crate) const CLAIM: &str = "running";

/// How long a stage's claim holds before another worker may take over (a
/// worker that crashed mid-stage): longer than any engine's own wait.
pub(crate) fn stage_lease() -> chrono::Duration {
    chrono::Duration::minutes(20)
}

/// Whether a stage (its record's status, engine and time) is not this
/// run's to do at `now`: settled, or claimed by a run whose lease lasts.
pub(crate) fn stage_taken(
    status: StageStatus,
    engine: &str,
    at: voxdial_domain::Timestamp,
    now: voxdial_domain::Timestamp,
) -> bool {
    status != StageStatus::Pending || (engine == CLAIM && now - at < stage_lease())
}

/// What the transcribe stage did.
pub(crate) enum Transcribed {
    /// A transcript (stored), or none to be had.
    Settled(Option<Transcript>),
    /// Try again after this delay.
    Retry(Duration),
}

impl Engine {
    /// Reads the call's stored transcript, if the stage already ran.
    pub(crate) async fn stored_transcript(
        &self,
        call: &CallAttempt,
    ) -> Result<Option<Transcript>, AppError> {
        let Some(key) = call
            .post_call
            .transcript
            .as_ref()
            .and_then(|t| t.key.clone())
        else {
            return Ok(None);
        };
        let Some(blobs) = &self.blobs else {
            return Ok(None);
        };
        let bytes = blobs
            .get(&key)
            .await
            .map_err(|e| AppError::Conflict(format!("cannot read {key}: {e}")))?;
        Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    async fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        match &self.blobs {
            Some(blobs) => blobs
                .get(key)
                .await
                .map_err(|e| AppError::Conflict(format!("cannot read {key}: {e}"))),
            None => Ok(None),
        }
    }

    /// The transcribe stage; counts its outside requests in `calls`.
    pub(crate) async fn transcribe_stage(
        &self,
        call: &CallAttempt,
        calls: &mut u32,
    ) -> Result<Transcribed, AppError> {
        if let Some(t) = &call.post_call.transcript
            && t.status != StageStatus::Pending
        {
            return Ok(Transcribed::Settled(self.stored_transcript(call).await?));
        }
        let post = self.post()?.clone();
        let campaign = self.campaign(&call.campaign_id).await?;
        let recording = call
            .post_call
            .recording
            .as_ref()
            .filter(|r| r.status == RecordingStatus::Stored);
        let live_key = call
            .conversation
            .as_ref()
            .and_then(|c| c.transcript.clone());
        let live = match &live_key {
            Some(key) => self.blob(key).await?,
            None => None,
        };
        let mut request = TranscriptionRequest {
            call_id: Some(call.id.clone()),
            campaign_id: Some(call.campaign_id.clone()),
            language: campaign.settings.analysis.language.clone(),
            recording_key: recording.and_then(|r| r.key.clone()),
            audio: None,
            content_type: Some("audio/wav".into()),
            live_transcript: live,
        };
        let engine: &dyn voxdial_domain::Transcriber = match post.transcriber.input() {
            TranscriberInput::LiveTranscript => post.transcriber.as_ref(),
            TranscriberInput::BlobKey if request.recording_key.is_some() => {
                post.transcriber.as_ref()
            }
            TranscriberInput::AudioBytes if request.recording_key.is_some() => {
                let key = request.recording_key.clone().unwrap_or_default();
                request.audio = self.blob(&key).await?;
                post.transcriber.as_ref()
            }
            // The engine's input is missing: the live transcript, if any.
            _ => &LiveTranscriber,
        };
        let now = self.clock.now();
        // Claim the stage (a versioned write): two deliveries of `Process`
        // running at once never both ask the engine.
        let mut claimed = None;
        self.modify_call(&call.id, |c| {
            claimed = None;
            if let Some(t) = &c.post_call.transcript
                && stage_taken(t.status, &t.engine, t.at, now)
            {
                return Ok(());
            }
            let attempts = c.post_call.transcript.as_ref().map_or(0, |t| t.attempts) + 1;
            c.post_call.transcript = Some(TranscriptRecord {
                status: StageStatus::Pending,
                engine: CLAIM.into(),
                key: None,
                segments: 0,
                excerpt: None,
                attempts,
                failure: None,
                at: now,
            });
            claimed = Some(attempts);
            Ok(())
        })
        .await?;
        let Some(attempts) = claimed else {
            // Settled meanwhile, or another worker holds the claim.
            let fresh = self.call(&call.id).await?;
            return Ok(match &fresh.post_call.transcript {
                Some(t) if t.status != StageStatus::Pending => {
                    Transcribed::Settled(self.stored_transcript(&fresh).await?)
                }
                _ => Transcribed::Retry(post.config.readiness_poll),
            });
        };
        if engine.input() != TranscriberInput::LiveTranscript {
            *calls += 1;
        }
        let result = engine.transcribe(&request).await;
        let (record, transcript, retry) = match result {
            Ok(transcript) => {
                let transcript = transcript.normalised();
                let key = call_blob_key(call, "transcripts", "segments.json");
                let json = serde_json::to_vec(&transcript)
                    .map_err(|e| AppError::Invalid(format!("cannot encode a transcript: {e}")))?;
                let blobs = self
                    .blobs
                    .as_ref()
                    .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))?;
                blobs
                    .put(&key, json, "application/json")
                    .await
                    .map_err(|e| AppError::Conflict(format!("cannot store {key}: {e}")))?;
                info!(call_id = %call.id, engine = engine.name(), segments = transcript.segments.len(), "transcribed");
                let record = TranscriptRecord {
                    status: StageStatus::Done,
                    engine: engine.name().to_string(),
                    key: Some(key),
                    segments: u32::try_from(transcript.segments.len()).unwrap_or(u32::MAX),
                    excerpt: Some(transcript.excerpt(160)),
                    attempts,
                    failure: None,
                    at: now,
                };
                (record, Some(transcript), None)
            }
            Err(TranscribeError::NoInput(why)) => {
                let record = TranscriptRecord {
                    status: StageStatus::Skipped,
                    engine: engine.name().to_string(),
                    key: None,
                    segments: 0,
                    excerpt: None,
                    attempts,
                    failure: Some(why),
                    at: now,
                };
                (record, None, None)
            }
            Err(error) => {
                let retry_after = match &error {
                    TranscribeError::Transient { retry_after, .. } => Some(*retry_after),
                    _ => None,
                };
                let last = retry_after.is_none() || attempts >= post.config.process_attempts;
                warn!(call_id = %call.id, attempts, %error, last, "transcription failed");
                let record = TranscriptRecord {
                    status: if last {
                        StageStatus::Failed
                    } else {
                        StageStatus::Pending
                    },
                    engine: engine.name().to_string(),
                    key: None,
                    segments: 0,
                    excerpt: None,
                    attempts,
                    failure: Some(error.to_string()),
                    at: now,
                };
                let retry = (!last).then(|| {
                    post.config
                        .backoff(attempts, post.config.backoff_base)
                        .max(retry_after.flatten().unwrap_or_default())
                });
                (record, None, retry)
            }
        };
        let mut kept = None;
        self.modify_call(&call.id, |c| {
            let ours = c
                .post_call
                .transcript
                .as_ref()
                .is_some_and(|t| t.status == StageStatus::Pending && t.attempts == attempts);
            if ours {
                c.post_call.transcript = Some(record.clone());
            }
            kept = c.post_call.transcript.clone();
            Ok(())
        })
        .await?;
        if let Some(wait) = retry {
            return Ok(Transcribed::Retry(wait));
        }
        // Another run may have settled it first: use what the record says.
        if kept.as_ref().and_then(|k| k.key.clone()) != record.key {
            let mut fresh = call.clone();
            fresh.post_call.transcript = kept;
            return Ok(Transcribed::Settled(self.stored_transcript(&fresh).await?));
        }
        Ok(Transcribed::Settled(transcript))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridges_turns_become_segments() {
        let json = br#"[{"speaker":"agent","text":"Hi, I'm Ava, an AI assistant.","start_ms":0,"end_ms":1800,"interrupted":false,"heard_ms":null},
                         {"speaker":"caller","text":"No thanks.","start_ms":2100,"end_ms":2900}]"#;
        let t = parse_live_transcript(json).unwrap();
        assert_eq!(t.engine, "live");
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[1].speaker, Speaker::Caller);
        let wrapped = br#"{"turns":[{"speaker":"caller","text":"Hello?"}]}"#;
        assert_eq!(parse_live_transcript(wrapped).unwrap().segments.len(), 1);
        assert!(parse_live_transcript(b"[1,2]").is_err());
    }
}
