//! Recording intake: the provider's signed recording webhook, the download
//! (provider credentials, retries with backoff, integrity check), the
//! verified copy in the blob store, the optional deletion of the provider's
//! copy; the media bridge's recordings joining the same path; on-demand
//! recording through the API.
//!
//! # Duplicates and order
//!
//! A call keeps one recording. The webhook moves it forward only
//! (`recording → available → stored | failed | absent`): a duplicate
//! `completed` of the same recording, an `in-progress` arriving after it,
//! or a second recording of a call that has one change nothing, so the
//! download (and the transcription after it) happens once.
//!
//! # Integrity
//!
//! A download is accepted when its length matches the announced
//! `Content-Length`, the file is a well-formed WAV whose chunk sizes match
//! the bytes present, its channel count is the announced one, and its
//! length is within two seconds of the announced duration. The copy is then
//! read back from the blob store and its SHA-256 compared before the
//! provider's copy may be deleted.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tracing::{info, warn};
use voxdial_domain::{
    CallAttempt, CallId, Job, OnDemandRecording, ProviderError, ProviderId, RecordingEvent,
    RecordingEventKind, RecordingPolicy, RecordingRecord, RecordingSource, RecordingStatus,
    WebhookRequest, WebhookResponse,
};

use crate::postcall::JobOutcome;
use crate::{AppError, Engine};

/// The blob key of a call's file: `{kind}/{campaign}/{call}.{suffix}`. Every
/// file of a call starts with `{kind}/{campaign}/{call}.`, which erasure
/// and retention sweep by prefix.
pub fn call_blob_key(call: &CallAttempt, kind: &str, suffix: &str) -> String {
    format!("{kind}/{}/{}.{suffix}", call.campaign_id, call.id)
}

/// The prefixes under which a call's files live.
pub fn call_blob_prefixes(call: &CallAttempt) -> Vec<String> {
    ["recordings", "transcripts", "analyses"]
        .iter()
        .map(|kind| format!("{kind}/{}/{}.", call.campaign_id, call.id))
        .collect()
}

/// What a WAV file's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    /// Channels.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
    /// Length in milliseconds.
    pub duration_ms: u64,
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Checks a WAV file strictly: RIFF size, `fmt ` before `data`, the
/// `data` chunk's size equal to the bytes present.
pub fn check_wav(bytes: &[u8]) -> Result<WavInfo, String> {
    check_wav_head(bytes, bytes.len())
}

/// [`check_wav`] on the first bytes of a file of `total` bytes (`head`
/// holds at least its chunks up to the `data` chunk's header).
fn check_wav_head(bytes: &[u8], total: usize) -> Result<WavInfo, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let riff = le_u32(bytes, 4).ok_or("truncated header")? as usize;
    if riff + 8 != total {
        return Err(format!(
            "the RIFF size says {} bytes, the file has {total}",
            riff + 8,
        ));
    }
    let mut at = 12;
    let mut format = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = le_u32(bytes, at + 4).ok_or("truncated chunk")? as usize;
        let body = at + 8;
        if id == b"fmt " {
            let channels = le_u16(bytes, body + 2).ok_or("truncated fmt")?;
            let rate = le_u32(bytes, body + 4).ok_or("truncated fmt")?;
            let byte_rate = le_u32(bytes, body + 8).ok_or("truncated fmt")?;
            if channels == 0 || rate == 0 || byte_rate == 0 {
                return Err("a fmt chunk with zero channels or rate".into());
            }
            format = Some((channels, rate, byte_rate));
        } else if id == b"data" {
            let (channels, sample_rate, byte_rate) = format.ok_or("data before fmt")?;
            if body + len != total && body + len + (len & 1) != total {
                return Err(format!(
                    "the data chunk says {len} bytes, {} follow",
                    total.saturating_sub(body)
                ));
            }
            return Ok(WavInfo {
                channels,
                sample_rate,
                duration_ms: len as u64 * 1000 / u64::from(byte_rate),
            });
        }
        at = body.saturating_add(len).saturating_add(len & 1);
    }
    Err("no data chunk".into())
}

/// What the pipeline keeps of a bridge recording, computed before the
/// bytes are handed to the blob store.
#[derive(Clone, Debug)]
pub struct BridgeRecording {
    /// Hex SHA-256.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// The WAV header, when it is one.
    pub info: Option<WavInfo>,
}

/// Bytes of a file read at a time to hash it, and kept to read its header.
const READ_CHUNK: usize = 64 * 1024;

impl BridgeRecording {
    /// Reads a recording file's hash, size and header, a chunk at a time
    /// (the file may be tens of MB).
    pub async fn of_file(path: &std::path::Path) -> std::io::Result<BridgeRecording> {
        use tokio::io::AsyncReadExt as _;
        let mut file = tokio::fs::File::open(path).await?;
        let (mut sha, mut head, mut bytes) = (Sha256::new(), Vec::new(), 0usize);
        let mut chunk = vec![0; READ_CHUNK];
        loop {
            let n = file.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            sha.update(&chunk[..n]);
            if head.len() < READ_CHUNK {
                let keep = n.min(READ_CHUNK - head.len());
                head.extend_from_slice(&chunk[..keep]);
            }
            bytes += n;
        }
        Ok(BridgeRecording {
            sha256: hex::encode(sha.finalize()),
            bytes: bytes as u64,
            info: check_wav_head(&head, bytes).ok(),
        })
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Engine {
    /// Handles a provider's recording webhook: checks the signature (403
    /// and no change if it is wrong), records the recording on its call,
    /// queues the download once, and answers 200.
    pub async fn handle_recording_webhook(
        &self,
        provider_id: &ProviderId,
        request: &WebhookRequest,
    ) -> WebhookResponse {
        let Some(provider) = self.providers.get(provider_id) else {
            return WebhookResponse::text(404, format!("unknown provider {provider_id}"));
        };
        let event = match provider.parse_recording_webhook(request) {
            Ok(event) => event,
            Err(error) => {
                warn!(provider = %provider_id, error = %voxdial_domain::LogSafe(&error.to_string()), "recording webhook refused");
                return WebhookResponse::from_error(&error);
            }
        };
        match self.apply_recording_event(&event).await {
            Ok(_) => WebhookResponse::text(200, "ok"),
            Err(AppError::NotFound(_)) => WebhookResponse::text(200, "unknown call"),
            Err(error) => {
                warn!(call_id = %event.call_id, %error, "recording event not applied");
                WebhookResponse::text(error.http_status(), error.to_string())
            }
        }
    }

    /// Applies a recording event; true when it queued a download.
    pub async fn apply_recording_event(&self, event: &RecordingEvent) -> Result<bool, AppError> {
        let now = self.clock.now();
        let mut fetch = false;
        self.modify_call(&event.call_id, |call| {
            fetch = false;
            crate::events::check_provider_sid(call, event.provider_sid.as_ref())?;
            let current = call.post_call.recording.as_ref();
            let same = current
                .and_then(|r| r.provider_recording.as_ref())
                .is_some_and(|p| p.sid == event.recording.sid);
            let target = match event.kind {
                RecordingEventKind::InProgress => RecordingStatus::Recording,
                RecordingEventKind::Completed => RecordingStatus::Available,
                RecordingEventKind::Absent => RecordingStatus::Absent,
                RecordingEventKind::Failed => RecordingStatus::Failed,
            };
            let moves = match current {
                None => true,
                // One recording per call: another recording's events, or
                // anything that would move this one back, change nothing.
                Some(r)
                    if r.source == RecordingSource::Provider
                        && (same || r.provider_recording.is_none()) =>
                {
                    target.rank() > r.status.rank()
                }
                Some(_) => false,
            };
            if !moves {
                return Ok(());
            }
            let mut record = current
                .cloned()
                .unwrap_or_else(|| RecordingRecord::new(RecordingSource::Provider, target, now));
            record.status = target;
            record.provider_recording = Some(event.recording.clone());
            record.updated_at = now;
            if let Some(error) = &event.error {
                record.failure = Some(format!("the provider reported error {error}"));
            }
            fetch = target == RecordingStatus::Available;
            call.post_call.recording = Some(record);
            Ok(())
        })
        .await?;
        if fetch {
            info!(call_id = %event.call_id, "recording available; download queued");
            self.enqueue(
                &[Job::FetchRecording {
                    call_id: event.call_id.clone(),
                }],
                Duration::ZERO,
            )
            .await?;
        }
        Ok(fetch)
    }

    /// The `FetchRecording` job: one download attempt.
    pub(crate) async fn fetch_recording_job(
        &self,
        call_id: &CallId,
    ) -> Result<JobOutcome, AppError> {
        let post = self.post()?.clone();
        let Some(call) = self.store.call(call_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let Some(record) = call.post_call.recording.clone() else {
            return Ok(JobOutcome::Done);
        };
        let Some(recording) = record
            .provider_recording
            .clone()
            .filter(|_| record.status == RecordingStatus::Available)
        else {
            return Ok(JobOutcome::Done);
        };
        let Some(provider) = self.providers.get(&recording.provider).cloned() else {
            return self
                .recording_failed(call_id, "the recording's provider is not configured", true)
                .await;
        };
        let attempt = record.fetch_attempts + 1;
        let result = match provider.fetch_recording(&recording).await {
            Ok(file) => verify_download(&file, recording.channels, recording.duration_secs)
                .map(|info| (file, info))
                .map_err(|reason| (format!("integrity check failed: {reason}"), true)),
            Err(e @ ProviderError::Permanent { .. }) | Err(e @ ProviderError::NotFound) => {
                Err((format!("download refused: {e}"), false))
            }
            Err(e) => Err((format!("download failed: {e}"), true)),
        };
        let (file, info) = match result {
            Ok(ok) => ok,
            Err((reason, retryable)) => {
                let last = !retryable || attempt >= post.config.fetch_attempts;
                warn!(call_id = %call_id, attempt, %reason, last, "recording download failed");
                self.modify_call(call_id, |call| {
                    if let Some(r) = call.post_call.recording.as_mut()
                        && r.status == RecordingStatus::Available
                    {
                        r.fetch_attempts = attempt;
                        r.failure = Some(format!("attempt {attempt}: {reason}"));
                        if last {
                            r.status = RecordingStatus::Failed;
                        }
                    }
                    Ok(())
                })
                .await?;
                if last {
                    // The analysis goes on without this recording.
                    self.enqueue(
                        &[Job::Process {
                            call_id: call_id.clone(),
                        }],
                        Duration::ZERO,
                    )
                    .await?;
                    return Ok(JobOutcome::Done);
                }
                return Ok(JobOutcome::RetryAfter(
                    post.config.backoff(attempt, post.config.backoff_base),
                ));
            }
        };
        let extension = if file.content_type.contains("mpeg") {
            "mp3"
        } else {
            "wav"
        };
        let key = call_blob_key(&call, "recordings", &format!("provider.{extension}"));
        let sha = sha256_hex(&file.data);
        let bytes = file.data.len() as u64;
        let stored = self
            .put_verified(&key, file.data, &file.content_type, &sha)
            .await;
        if let Err(reason) = stored {
            warn!(call_id = %call_id, %reason, "storing the recording failed");
            return Ok(JobOutcome::RetryAfter(
                post.config.backoff(attempt, post.config.backoff_base),
            ));
        }
        let now = self.clock.now();
        let mut won = false;
        self.modify_call(call_id, |call| {
            won = false;
            if let Some(r) = call.post_call.recording.as_mut()
                && r.status == RecordingStatus::Available
            {
                r.status = RecordingStatus::Stored;
                r.key = Some(key.clone());
                r.sha256 = Some(sha.clone());
                r.bytes = Some(bytes);
                r.channels = u8::try_from(info.channels).ok();
                r.duration_secs = Some(u32::try_from(info.duration_ms / 1000).unwrap_or(u32::MAX));
                r.fetch_attempts = attempt;
                r.failure = None;
                r.stored_at = Some(now);
                r.updated_at = now;
                won = true;
            }
            Ok(())
        })
        .await?;
        if !won {
            return Ok(JobOutcome::Done);
        }
        info!(call_id = %call_id, bytes, "recording stored");
        if post.config.delete_provider_copy {
            match provider.delete_recording(&recording).await {
                Ok(()) => {
                    self.modify_call(call_id, |call| {
                        if let Some(r) = call.post_call.recording.as_mut() {
                            r.provider_copy_deleted = true;
                        }
                        Ok(())
                    })
                    .await?;
                }
                Err(error) => {
                    warn!(call_id = %call_id, %error, "could not delete the provider's copy")
                }
            }
        }
        self.enqueue(
            &[Job::Process {
                call_id: call_id.clone(),
            }],
            Duration::ZERO,
        )
        .await?;
        Ok(JobOutcome::Done)
    }

    async fn recording_failed(
        &self,
        call_id: &CallId,
        reason: &str,
        then_process: bool,
    ) -> Result<JobOutcome, AppError> {
        self.modify_call(call_id, |call| {
            if let Some(r) = call.post_call.recording.as_mut() {
                r.status = RecordingStatus::Failed;
                r.failure = Some(reason.to_string());
            }
            Ok(())
        })
        .await?;
        if then_process {
            self.enqueue(
                &[Job::Process {
                    call_id: call_id.clone(),
                }],
                Duration::ZERO,
            )
            .await?;
        }
        Ok(JobOutcome::Done)
    }

    /// Puts a blob, reads it back and compares its SHA-256.
    async fn put_verified(
        &self,
        key: &str,
        data: Vec<u8>,
        content_type: &str,
        sha: &str,
    ) -> Result<(), String> {
        let blobs = self.blobs.as_ref().ok_or("no blob store is configured")?;
        blobs
            .put(key, data, content_type)
            .await
            .map_err(|e| format!("cannot store {key}: {e}"))?;
        let back = blobs
            .get(key)
            .await
            .map_err(|e| format!("cannot read {key} back: {e}"))?
            .ok_or_else(|| format!("{key} is missing after it was written"))?;
        if sha256_hex(&back) != sha {
            return Err(format!("{key} differs from what was written"));
        }
        Ok(())
    }

    /// Notes the media bridge's recording (already stored at `key`) as the
    /// call's recording, unless the call has one.
    pub(crate) async fn note_bridge_recording(
        &self,
        call_id: &CallId,
        key: &str,
        meta: &BridgeRecording,
    ) -> Result<CallAttempt, AppError> {
        let now = self.clock.now();
        let (info, sha) = (meta.info, meta.sha256.clone());
        self.modify_call(call_id, |call| {
            if call
                .post_call
                .recording
                .as_ref()
                .is_some_and(|r| r.status == RecordingStatus::Stored)
            {
                return Ok(());
            }
            let mut record =
                RecordingRecord::new(RecordingSource::Bridge, RecordingStatus::Stored, now);
            record.key = Some(key.to_string());
            record.sha256 = Some(sha.clone());
            record.bytes = Some(meta.bytes);
            record.channels = info.and_then(|i| u8::try_from(i.channels).ok());
            record.duration_secs = info.map(|i| u32::try_from(i.duration_ms / 1000).unwrap_or(0));
            record.stored_at = Some(now);
            call.post_call.recording = Some(record);
            Ok(())
        })
        .await
    }

    /// The media bridge reported the conversation (its last word): queue
    /// the call's processing.
    pub(crate) async fn on_conversation_reported(&self, call: &CallAttempt) {
        if self.post.is_none() {
            return;
        }
        let job = Job::Process {
            call_id: call.id.clone(),
        };
        let _ = self.enqueue(&[job], Duration::ZERO).await;
    }

    /// Starts recording a live call (`on_demand` campaigns), both channels.
    pub async fn start_recording(&self, call_id: &CallId) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        let campaign = self.campaign(&call.campaign_id).await?;
        if campaign.settings.recording != RecordingPolicy::OnDemand {
            return Err(AppError::Conflict(format!(
                "campaign {} records {:?}, not on demand",
                campaign.id, campaign.settings.recording
            )));
        }
        if call.state.is_terminal() {
            return Err(AppError::Conflict(format!("call {call_id} has ended")));
        }
        if call.post_call.on_demand.is_some() {
            return Err(AppError::Conflict(format!(
                "call {call_id} was recorded already (one recording per call)"
            )));
        }
        let (sid, provider_id) = match (&call.provider_sid, &call.provider) {
            (Some(sid), Some(p)) => (sid.clone(), p.clone()),
            _ => {
                return Err(AppError::Conflict(format!(
                    "call {call_id} has no provider call yet"
                )));
            }
        };
        let provider = self.providers.get(&provider_id).ok_or_else(|| {
            AppError::Conflict(format!("provider {provider_id} is not configured"))
        })?;
        if self.config.public_base_url.trim().is_empty() {
            // A relative callback URL would never reach us.
            return Err(AppError::Conflict(
                "no public base URL is configured (VOXDIAL_PUBLIC_BASE_URL): the provider could not announce the recording".into(),
            ));
        }
        let url = self.webhook_url(&provider_id, "recording", &call.campaign_id, &call.id);
        let recording_sid = provider
            .start_recording(&sid, &url)
            .await
            .map_err(|e| AppError::Conflict(format!("the provider refused: {e}")))?;
        let now = self.clock.now();
        self.modify_call(call_id, |call| {
            call.post_call.on_demand = Some(OnDemandRecording {
                started_at: now,
                stopped_at: None,
                recording_sid: recording_sid.clone(),
            });
            Ok(())
        })
        .await
    }

    /// Stops the on-demand recording of a live call.
    pub async fn stop_recording(&self, call_id: &CallId) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        let Some(on_demand) = call.post_call.on_demand.clone() else {
            return Err(AppError::Conflict(format!(
                "call {call_id} is not being recorded"
            )));
        };
        if on_demand.stopped_at.is_some() {
            return Ok(call);
        }
        if !call.state.is_terminal()
            && let (Some(sid), Some(provider)) = (
                &call.provider_sid,
                call.provider.as_ref().and_then(|p| self.providers.get(p)),
            )
        {
            provider
                .stop_recording(sid, on_demand.recording_sid.as_deref())
                .await
                .map_err(|e| AppError::Conflict(format!("the provider refused: {e}")))?;
        }
        let now = self.clock.now();
        self.modify_call(call_id, |call| {
            if let Some(o) = call.post_call.on_demand.as_mut() {
                o.stopped_at.get_or_insert(now);
            }
            Ok(())
        })
        .await
    }
}

/// The integrity checks of a download (see the module doc).
fn verify_download(
    file: &voxdial_domain::RecordingFile,
    channels: Option<u8>,
    duration_secs: Option<u32>,
) -> Result<WavInfo, String> {
    if let Some(declared) = file.declared_len
        && declared != file.data.len() as u64
    {
        return Err(format!(
            "{} bytes received, {declared} announced",
            file.data.len()
        ));
    }
    if file.data.is_empty() {
        return Err("an empty file".into());
    }
    if file.content_type.contains("mpeg") {
        // MP3 carries no length to check against; the size check stands.
        return Ok(WavInfo {
            channels: u16::from(channels.unwrap_or(1)),
            sample_rate: 0,
            duration_ms: u64::from(duration_secs.unwrap_or(0)) * 1000,
        });
    }
    let info = check_wav(&file.data)?;
    if let Some(expected) = channels
        && u16::from(expected) != info.channels
    {
        return Err(format!("{} channels, {expected} announced", info.channels));
    }
    if let Some(secs) = duration_secs {
        let announced = u64::from(secs) * 1000;
        if info.duration_ms.abs_diff(announced) > 2_000 {
            return Err(format!(
                "{} ms long, {announced} ms announced",
                info.duration_ms
            ));
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(channels: u16, rate: u32, frames: usize) -> Vec<u8> {
        let data_len = frames * usize::from(channels) * 2;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        b.extend_from_slice(&(channels * 2).to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data_len as u32).to_le_bytes());
        b.resize(44 + data_len, 0);
        b
    }

    fn file(data: Vec<u8>) -> voxdial_domain::RecordingFile {
        voxdial_domain::RecordingFile {
            declared_len: Some(data.len() as u64),
            data,
            content_type: "audio/wav".into(),
        }
    }

    #[test]
    fn well_formed_downloads_pass_and_damaged_ones_say_why() {
        let good = wav(2, 8000, 8000 * 3);
        let info = verify_download(&file(good.clone()), Some(2), Some(3)).unwrap();
        assert_eq!(info.channels, 2);
        assert_eq!(info.duration_ms, 3000);

        let mut truncated = file(good.clone());
        truncated.data.truncate(good.len() - 100);
        let why = verify_download(&truncated, Some(2), Some(3)).unwrap_err();
        assert!(why.contains("announced"), "{why}");

        let mut cut = good.clone();
        cut.truncate(good.len() - 100);
        let why = verify_download(&file(cut), Some(2), Some(3)).unwrap_err();
        assert!(why.contains("RIFF size"), "{why}");

        let why = verify_download(&file(wav(1, 8000, 8000 * 3)), Some(2), Some(3)).unwrap_err();
        assert!(why.contains("channels"), "{why}");
        let why = verify_download(&file(good), Some(2), Some(30)).unwrap_err();
        assert!(why.contains("ms long"), "{why}");
        assert!(verify_download(&file(b"not audio".to_vec()), None, None).is_err());
    }
}
