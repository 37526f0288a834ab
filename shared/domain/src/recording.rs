//! Call recordings: what a provider reports about one (its recording
//! webhook), the file it serves, what the call record keeps, and the
//! per-campaign rules of the `selective` policy.
//!
//! A call keeps at most one recording. It comes from the provider
//! (Twilio `Record=true` or the Call Recordings API, announced by a signed
//! `RecordingStatusCallback`) or from the media bridge (both channels,
//! written at the end of the stream); from "stored" on, both take the same
//! path: transcription, analysis, retention, erasure.

use serde::{Deserialize, Serialize};

use crate::{CallId, ProviderCallSid, ProviderId, Timestamp};

/// A provider's recording of a call, as its webhook names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRecording {
    /// The provider account.
    pub provider: ProviderId,
    /// The provider's id of the recording (Twilio `RecordingSid`).
    pub sid: String,
    /// Where to download it (Twilio `RecordingUrl`, without extension).
    pub url: Option<String>,
    /// Channels (2: caller and agent apart).
    pub channels: Option<u8>,
    /// Length in seconds, as the provider reports it.
    pub duration_secs: Option<u32>,
    /// When recording started.
    pub started_at: Option<Timestamp>,
}

/// What a recording webhook says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingEventKind {
    /// Recording started.
    InProgress,
    /// Recording finished and can be downloaded.
    Completed,
    /// Nothing was recorded (silence, or the call ended at once).
    Absent,
    /// The provider failed to record.
    Failed,
}

/// A parsed, signature-checked recording webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingEvent {
    /// voxdial's id of the call, carried in the callback URL.
    pub call_id: CallId,
    /// The provider's id of the call.
    pub provider_sid: Option<ProviderCallSid>,
    /// What happened.
    pub kind: RecordingEventKind,
    /// The recording.
    pub recording: ProviderRecording,
    /// The provider's error code, when it reports one.
    pub error: Option<String>,
}

/// A downloaded recording file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingFile {
    /// The bytes.
    pub data: Vec<u8>,
    /// Its `Content-Type`.
    pub content_type: String,
    /// The length the server announced (`Content-Length`), to detect a
    /// truncated download.
    pub declared_len: Option<u64>,
}

/// Where a call's recording came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingSource {
    /// The telephony provider recorded it.
    Provider,
    /// The media bridge recorded it.
    Bridge,
}

/// Where a call's recording is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// Recording is under way at the provider.
    Recording,
    /// The provider has it; the download is queued or being retried.
    Available,
    /// A verified copy is in the blob store.
    Stored,
    /// The download failed for good (see `failure`).
    Failed,
    /// The provider recorded nothing.
    Absent,
    /// Not kept: the campaign's selective rules did not select the call.
    Discarded,
    /// Deleted when its retention ended.
    Purged,
}

impl RecordingStatus {
    /// The order statuses move in; a webhook never moves a recording back.
    pub fn rank(self) -> u8 {
        match self {
            RecordingStatus::Recording => 0,
            RecordingStatus::Available => 1,
            _ => 2,
        }
    }
}

/// What a call record keeps about its recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingRecord {
    /// Who recorded it.
    pub source: RecordingSource,
    /// Where it is.
    pub status: RecordingStatus,
    /// The provider's recording, for provider recordings.
    #[serde(default)]
    pub provider_recording: Option<ProviderRecording>,
    /// The blob key of the stored copy.
    #[serde(default)]
    pub key: Option<String>,
    /// Hex SHA-256 of the stored bytes (checked by reading the copy back).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size of the stored copy.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Length in seconds (from the file).
    #[serde(default)]
    pub duration_secs: Option<u32>,
    /// Channels of the file.
    #[serde(default)]
    pub channels: Option<u8>,
    /// Download attempts so far.
    #[serde(default)]
    pub fetch_attempts: u32,
    /// Why the last attempt failed, or why the recording failed for good.
    #[serde(default)]
    pub failure: Option<String>,
    /// Whether the provider's copy was deleted after the verified copy.
    #[serde(default)]
    pub provider_copy_deleted: bool,
    /// When the copy was stored.
    #[serde(default)]
    pub stored_at: Option<Timestamp>,
    /// When this record last changed.
    pub updated_at: Timestamp,
}

impl RecordingRecord {
    /// A record of `source` in `status`, nothing else known yet.
    pub fn new(source: RecordingSource, status: RecordingStatus, now: Timestamp) -> Self {
        RecordingRecord {
            source,
            status,
            provider_recording: None,
            key: None,
            sha256: None,
            bytes: None,
            duration_secs: None,
            channels: None,
            fetch_attempts: 0,
            failure: None,
            provider_copy_deleted: false,
            stored_at: None,
            updated_at: now,
        }
    }
}

/// An on-demand recording switched on (and maybe off) through the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDemandRecording {
    /// When recording was started.
    pub started_at: Timestamp,
    /// When it was stopped, if it was.
    #[serde(default)]
    pub stopped_at: Option<Timestamp>,
    /// The provider's id of the recording, when it gave one.
    #[serde(default)]
    pub recording_sid: Option<String>,
}

/// The `selective` policy's rules: a call's recording is kept when any
/// rule selects it, and deleted after analysis otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectiveRecording {
    /// The rules; a rule with several conditions needs all of them.
    pub keep: Vec<KeepRule>,
}

/// One rule of the `selective` policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeepRule {
    /// The callee's jurisdiction is one of these: ISO country codes (`IN`)
    /// or, for US numbers, `US-` and the state (`US-CA`).
    pub jurisdictions: Vec<String>,
    /// The analysed disposition is one of these labels (`interested`,
    /// `opted_out`, `voicemail`, ...).
    pub dispositions: Vec<String>,
}

impl KeepRule {
    /// Whether the rule selects a call in `jurisdictions` (the callee's, most
    /// specific first) whose disposition label is `disposition`.
    pub fn selects(&self, jurisdictions: &[String], disposition: Option<&str>) -> bool {
        if self.jurisdictions.is_empty() && self.dispositions.is_empty() {
            return false;
        }
        let place = self.jurisdictions.is_empty()
            || self
                .jurisdictions
                .iter()
                .any(|j| jurisdictions.iter().any(|c| c.eq_ignore_ascii_case(j)));
        let outcome = self.dispositions.is_empty()
            || disposition.is_some_and(|d| self.dispositions.iter().any(|x| x == d));
        place && outcome
    }
}

impl SelectiveRecording {
    /// Whether any rule keeps the call.
    pub fn keeps(&self, jurisdictions: &[String], disposition: Option<&str>) -> bool {
        self.keep
            .iter()
            .any(|rule| rule.selects(jurisdictions, disposition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selective_rules_need_every_condition_of_one_rule() {
        let rules = SelectiveRecording {
            keep: vec![
                KeepRule {
                    jurisdictions: vec!["US-CA".into()],
                    dispositions: vec![],
                },
                KeepRule {
                    jurisdictions: vec!["IN".into()],
                    dispositions: vec!["interested".into()],
                },
            ],
        };
        let ca = ["US-CA".to_string(), "US".to_string()];
        let india = ["IN".to_string()];
        assert!(rules.keeps(&ca, Some("not_interested")));
        assert!(rules.keeps(&india, Some("interested")));
        assert!(!rules.keeps(&india, Some("not_interested")));
        assert!(!rules.keeps(&["US-NY".into(), "US".into()], Some("interested")));
        assert!(!SelectiveRecording::default().keeps(&ca, None));
        assert!(!KeepRule::default().selects(&ca, Some("interested")));
    }

    #[test]
    fn statuses_move_from_recording_to_available_to_an_end() {
        use RecordingStatus::*;
        assert_eq!(
            [Recording, Available, Stored, Failed, Purged].map(RecordingStatus::rank),
            [0, 1, 2, 2, 2]
        );
    }
}
