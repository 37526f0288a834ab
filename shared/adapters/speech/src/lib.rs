//! Speech and analysis adapters behind the domain's
//! [`Transcriber`](voxdial_domain::Transcriber) and
//! [`Analyser`](voxdial_domain::Analyser) ports.
//!
//! # Layout
//!
//! - [`google`]: Google Cloud Speech-to-Text v1 REST (`speech:recognize`
//!   for short calls, `speech:longrunningrecognize` and operation polling
//!   for longer ones), one channel per speaker, word time offsets.
//! - [`transcribe`]: Amazon Transcribe batch jobs on the recording's S3
//!   object with channel identification; polls the job, reads the
//!   transcript JSON, deletes the job.
//! - [`gemini`]: Gemini `generateContent` with the audio inline and a
//!   response schema for a transcript with speakers and times; and the
//!   Gemini analyser (structured output, the campaign's fixed prompt in a
//!   `cachedContents` entry where the API accepts it).
//! - `wav`: the recording's format, read from its header.
//!
//! Every adapter takes its endpoint from its configuration (tests point
//! them at local servers answering like the real services) and maps the
//! service's error shapes to transient (rate limits, 5xx, timeouts:
//! retried by the pipeline) or permanent errors. No adapter logs audio,
//! transcripts or credentials.

pub mod gemini;
pub mod google;
pub mod transcribe;
mod wav;

use std::time::Duration;

use voxdial_domain::{AnalyseError, TranscribeError};

/// Whether an HTTP status is worth retrying.
pub(crate) fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

/// A transcription error from an HTTP failure.
pub(crate) fn http_transcribe_error(
    status: u16,
    message: String,
    retry_after: Option<Duration>,
) -> TranscribeError {
    if retryable(status) {
        TranscribeError::Transient {
            message: format!("HTTP {status}: {message}"),
            retry_after,
        }
    } else {
        TranscribeError::Permanent(format!("HTTP {status}: {message}"))
    }
}

/// An analysis error from an HTTP failure.
pub(crate) fn http_analyse_error(
    status: u16,
    message: String,
    retry_after: Option<Duration>,
) -> AnalyseError {
    if retryable(status) {
        AnalyseError::Transient {
            message: format!("HTTP {status}: {message}"),
            retry_after,
        }
    } else {
        AnalyseError::Permanent(format!("HTTP {status}: {message}"))
    }
}

/// `Retry-After` in seconds.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// The error body of Google APIs: `{"error":{"code":…,"message":…,"status":…}}`.
#[derive(serde::Deserialize)]
pub(crate) struct GoogleError {
    pub(crate) error: GoogleErrorBody,
}

/// Its inner object.
#[derive(serde::Deserialize)]
pub(crate) struct GoogleErrorBody {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) status: String,
}

/// The message of a Google error body (`STATUS: message`), or the raw text.
pub(crate) fn google_message(body: &[u8]) -> String {
    match serde_json::from_slice::<GoogleError>(body) {
        Ok(e) => format!("{}: {}", e.error.status, e.error.message),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
