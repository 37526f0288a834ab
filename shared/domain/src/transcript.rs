//! Transcripts and the transcriber port.
//!
//! A [`Transcript`] is a list of [`Segment`]s, each said by the caller or
//! the agent, with start and end times in milliseconds from the start of
//! the recording (or of the media stream, for the bridge's live
//! transcript). It is stored as JSON beside the recording; the call record
//! keeps a short excerpt.
//!
//! Adapters: the bridge's live transcript (the local default, no account
//! needed), Google Cloud Speech-to-Text, Amazon Transcribe and Gemini
//! (`voxdial-speech`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{CallId, CampaignId};

/// Who spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The person called (the recording's first channel, left).
    Caller,
    /// The AI agent (second channel, right).
    Agent,
}

impl Speaker {
    /// The speaker of a recording channel (0: caller, 1: agent).
    pub fn of_channel(channel: usize) -> Speaker {
        if channel == 0 {
            Speaker::Caller
        } else {
            Speaker::Agent
        }
    }
}

/// One stretch of speech.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Who said it.
    pub speaker: Speaker,
    /// Start, ms.
    pub start_ms: u64,
    /// End, ms.
    pub end_ms: u64,
    /// What was said.
    pub text: String,
}

/// A call's transcript.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// The engine that made it (`live`, `google`, `aws-transcribe`, `gemini`).
    pub engine: String,
    /// The language, when known (BCP-47).
    #[serde(default)]
    pub language: Option<String>,
    /// The segments in time order.
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// Sorts the segments by start time (speaker as a tie-break) and drops
    /// empty ones.
    pub fn normalised(mut self) -> Transcript {
        self.segments.retain(|s| !s.text.trim().is_empty());
        for s in &mut self.segments {
            s.text = s.text.trim().to_string();
            s.end_ms = s.end_ms.max(s.start_ms);
        }
        self.segments
            .sort_by_key(|s| (s.start_ms, s.speaker == Speaker::Agent));
        self
    }

    /// The first words, for lists and the call record (at most `max` chars).
    pub fn excerpt(&self, max: usize) -> String {
        let mut out = String::new();
        for s in &self.segments {
            let who = match s.speaker {
                Speaker::Caller => "caller",
                Speaker::Agent => "agent",
            };
            let line = format!("{who}: {}", s.text);
            if !out.is_empty() {
                out.push_str(" / ");
            }
            out.push_str(&line);
            if out.chars().count() >= max {
                break;
            }
        }
        if out.chars().count() > max {
            let cut: String = out.chars().take(max.saturating_sub(1)).collect();
            return format!("{cut}…");
        }
        out
    }

    /// Whether the caller said anything.
    pub fn caller_spoke(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.speaker == Speaker::Caller && s.text.chars().any(char::is_alphanumeric))
    }
}

/// What a transcriber reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranscriberInput {
    /// The media bridge's live transcript (no audio needed).
    LiveTranscript,
    /// The recording's bytes.
    AudioBytes,
    /// The recording's blob key (the engine reads it where it is stored,
    /// e.g. Amazon Transcribe from S3).
    BlobKey,
}

/// One call to transcribe.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TranscriptionRequest {
    /// The call.
    pub call_id: Option<CallId>,
    /// Its campaign.
    pub campaign_id: Option<CampaignId>,
    /// The expected language (BCP-47), when the campaign says.
    pub language: Option<String>,
    /// The recording's blob key.
    pub recording_key: Option<String>,
    /// The recording's bytes, for engines that read [`TranscriberInput::AudioBytes`].
    pub audio: Option<Vec<u8>>,
    /// The recording's content type (`audio/wav`).
    pub content_type: Option<String>,
    /// The bridge's live transcript (JSON turns), when it stored one.
    pub live_transcript: Option<Vec<u8>>,
}

/// A transcription failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// Trying again later may work (rate limit, 5xx, timeout).
    #[error("transcription failed for now: {message}")]
    Transient {
        /// What failed.
        message: String,
        /// How long the service asked to wait, when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The request cannot succeed (bad audio, bad credentials, refused).
    #[error("transcription failed: {0}")]
    Permanent(String),
    /// The engine has nothing to transcribe (no recording, no live transcript).
    #[error("nothing to transcribe: {0}")]
    NoInput(String),
}

/// Turns a call's audio (or live transcript) into a [`Transcript`].
#[async_trait]
pub trait Transcriber: Send + Sync {
    /// The engine's name, stored with each transcript.
    fn name(&self) -> &str;

    /// What the engine reads.
    fn input(&self) -> TranscriberInput;

    /// Transcribes one call. Each call of this method is one unit of work at
    /// the engine (one or more HTTP requests).
    async fn transcribe(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<Transcript, TranscribeError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(speaker: Speaker, start_ms: u64, text: &str) -> Segment {
        Segment {
            speaker,
            start_ms,
            end_ms: start_ms + 500,
            text: text.into(),
        }
    }

    #[test]
    fn normalised_sorts_and_drops_empty_segments_and_excerpt_is_bounded() {
        let t = Transcript {
            engine: "x".into(),
            language: None,
            segments: vec![
                seg(Speaker::Caller, 900, " yes please "),
                seg(Speaker::Agent, 0, "Hello, I am an AI assistant."),
                seg(Speaker::Caller, 400, "  "),
            ],
        }
        .normalised();
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].speaker, Speaker::Agent);
        assert_eq!(t.segments[1].text, "yes please");
        assert!(t.caller_spoke());
        assert_eq!(
            t.excerpt(200),
            "agent: Hello, I am an AI assistant. / caller: yes please"
        );
        assert_eq!(t.excerpt(10).chars().count(), 10);
    }

    #[test]
    fn channel_0_is_the_caller_and_the_caller_spoke_only_with_words() {
        assert_eq!(Speaker::of_channel(0), Speaker::Caller);
        assert_eq!(Speaker::of_channel(1), Speaker::Agent);
        let with = |segments| Transcript {
            segments,
            ..Transcript::default()
        };
        assert!(with(vec![seg(Speaker::Caller, 0, "yes")]).caller_spoke());
        assert!(!with(vec![seg(Speaker::Caller, 0, "...")]).caller_spoke());
        assert!(!with(vec![seg(Speaker::Agent, 0, "Hello")]).caller_spoke());
        assert!(!with(vec![]).caller_spoke());
    }

    #[test]
    fn at_the_same_start_the_caller_comes_first() {
        let t = Transcript {
            segments: vec![
                seg(Speaker::Agent, 100, "Hello"),
                seg(Speaker::Caller, 100, "Hi"),
            ],
            ..Transcript::default()
        }
        .normalised();
        let order: Vec<Speaker> = t.segments.iter().map(|s| s.speaker).collect();
        assert_eq!(order, [Speaker::Caller, Speaker::Agent]);
        assert_eq!(t.excerpt(10), "caller: Hi");
        assert_eq!(t.excerpt(9), "caller: …");
    }
}
