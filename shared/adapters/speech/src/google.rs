//! [`GoogleSpeech`]: Google Cloud Speech-to-Text v1 over REST.
//!
//! - Calls up to [`GoogleSpeechConfig::max_sync_secs`] long go to
//!   `POST {endpoint}/v1/speech:recognize`; longer ones to
//!   `POST {endpoint}/v1/speech:longrunningrecognize`, whose operation is
//!   polled at `GET {endpoint}/v1/operations/{name}` until `done`.
//! - The audio goes inline (`audio.content`, base64: at most 10 MB, about
//!   ten minutes of two-channel μ-law); the config asks for
//!   `audioChannelCount: 2`, `enableSeparateRecognitionPerChannel: true`
//!   (channel 1 is the caller, 2 the agent) and `enableWordTimeOffsets`.
//! - Each result becomes a segment: its channel's speaker, its first word's
//!   start, its `resultEndTime` (durations are strings such as `"1.300s"`).
//! - Errors are Google's `{"error":{"code":…,"message":…,"status":…}}`:
//!   429, 408 and 5xx are transient, the rest permanent; an operation that
//!   ends with `error` is permanent.
//! - Auth: an API key (`x-goog-api-key`) or an OAuth access token (`Bearer`).

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use voxdial_domain::{
    Segment, Speaker, TranscribeError, Transcriber, TranscriberInput, Transcript,
    TranscriptionRequest,
};

use crate::{google_message, http_transcribe_error, retry_after, wav};

/// How requests authenticate.
#[derive(Clone)]
pub enum GoogleAuth {
    /// An API key, sent as the `x-goog-api-key` header.
    ApiKey(String),
    /// An OAuth 2 access token, sent as `Authorization: Bearer`.
    Bearer(String),
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GoogleAuth::ApiKey(_) => "ApiKey(<redacted>)",
            GoogleAuth::Bearer(_) => "Bearer(<redacted>)",
        })
    }
}

/// Settings of [`GoogleSpeech`].
#[derive(Clone, Debug)]
pub struct GoogleSpeechConfig {
    /// `https://speech.googleapis.com`, or a test server.
    pub endpoint: String,
    /// Credentials.
    pub auth: GoogleAuth,
    /// The language when the campaign names none (BCP-47).
    pub language: String,
    /// The recognition model (`phone_call`).
    pub model: Option<String>,
    /// Calls up to this long use the synchronous method (its limit is 60 s).
    pub max_sync_secs: u64,
    /// How often a long-running operation is polled.
    pub poll_interval: Duration,
    /// How long to poll before giving up (transient: the job retries).
    pub max_wait: Duration,
    /// One request's timeout.
    pub timeout: Duration,
}

impl GoogleSpeechConfig {
    /// Google's public endpoint with `auth` and defaults.
    pub fn new(auth: GoogleAuth) -> GoogleSpeechConfig {
        GoogleSpeechConfig {
            endpoint: "https://speech.googleapis.com".into(),
            auth,
            language: "en-US".into(),
            model: Some("phone_call".into()),
            max_sync_secs: 55,
            poll_interval: Duration::from_secs(2),
            max_wait: Duration::from_secs(600),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Google Cloud Speech-to-Text as a transcriber.
#[derive(Clone, Debug)]
pub struct GoogleSpeech {
    config: GoogleSpeechConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecognizeResponse {
    #[serde(default)]
    results: Vec<RecognitionResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecognitionResult {
    #[serde(default)]
    alternatives: Vec<Alternative>,
    #[serde(default)]
    channel_tag: Option<u32>,
    #[serde(default)]
    result_end_time: Option<String>,
    #[serde(default)]
    language_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alternative {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    words: Vec<WordInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WordInfo {
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
}

#[derive(Deserialize)]
struct Operation {
    name: String,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    response: Option<RecognizeResponse>,
    #[serde(default)]
    error: Option<OperationError>,
}

#[derive(Deserialize)]
struct OperationError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// `"1.300s"` as milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let secs: f64 = text.trim().trim_end_matches('s').parse().ok()?;
    Some((secs * 1000.0).round().max(0.0) as u64)
}

fn segments(response: RecognizeResponse) -> (Vec<Segment>, Option<String>) {
    let mut out = Vec::new();
    let mut language = None;
    // Where each channel's previous result ended: a result without word
    // times starts there.
    let mut ends = [0u64; 8];
    for result in response.results {
        let Some(best) = result.alternatives.into_iter().next() else {
            continue;
        };
        let channel = result.channel_tag.unwrap_or(1).max(1) as usize - 1;
        let slot = channel.min(ends.len() - 1);
        let end = result
            .result_end_time
            .as_deref()
            .and_then(duration_ms)
            .or_else(|| best.words.last()?.end_time.as_deref().and_then(duration_ms))
            .unwrap_or(ends[slot]);
        let start = best
            .words
            .first()
            .and_then(|w| w.start_time.as_deref())
            .and_then(duration_ms)
            .unwrap_or(ends[slot]);
        ends[slot] = end;
        language = language.or(result.language_code);
        out.push(Segment {
            speaker: Speaker::of_channel(channel),
            start_ms: start,
            end_ms: end,
            text: best.transcript,
        });
    }
    (out, language)
}

impl GoogleSpeech {
    /// A transcriber over `config`.
    pub fn new(config: GoogleSpeechConfig) -> Result<GoogleSpeech, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(GoogleSpeech { config, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.config.endpoint.trim_end_matches('/'));
        let request = self.http.request(method, url);
        match &self.config.auth {
            GoogleAuth::ApiKey(key) => request.header("x-goog-api-key", key),
            GoogleAuth::Bearer(token) => request.bearer_auth(token),
        }
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, TranscribeError> {
        let response = request
            .send()
            .await
            .map_err(|e| TranscribeError::Transient {
                message: format!("Speech-to-Text unreachable: {}", without_url(&e)),
                retry_after: None,
            })?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| TranscribeError::Transient {
                message: format!("Speech-to-Text answer broke off: {}", without_url(&e)),
                retry_after: None,
            })?;
        if !(200..300).contains(&status) {
            return Err(http_transcribe_error(status, google_message(&body), wait));
        }
        serde_json::from_slice(&body).map_err(|e| {
            TranscribeError::Permanent(format!("unreadable Speech-to-Text answer: {e}"))
        })
    }
}

/// A reqwest error's text without its URL (which carries the API key).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

#[async_trait]
impl Transcriber for GoogleSpeech {
    fn name(&self) -> &str {
        "google"
    }

    fn input(&self) -> TranscriberInput {
        TranscriberInput::AudioBytes
    }

    async fn transcribe(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<Transcript, TranscribeError> {
        let audio = request
            .audio
            .as_deref()
            .ok_or_else(|| TranscribeError::NoInput("no recording".into()))?;
        let format = wav::format(audio)
            .ok_or_else(|| TranscribeError::Permanent("the recording is not a WAV file".into()))?;
        let language = request
            .language
            .clone()
            .unwrap_or_else(|| self.config.language.clone());
        let mut config = json!({
            "encoding": format.google_encoding(),
            "sampleRateHertz": format.sample_rate,
            "languageCode": language,
            "audioChannelCount": format.channels,
            "enableSeparateRecognitionPerChannel": format.channels > 1,
            "enableWordTimeOffsets": true,
            "enableAutomaticPunctuation": true,
        });
        if let Some(model) = &self.config.model {
            config["model"] = json!(model);
        }
        let body = json!({
            "config": config,
            "audio": { "content": base64::engine::general_purpose::STANDARD.encode(audio) },
        });
        let response: RecognizeResponse = if format.duration_ms <= self.config.max_sync_secs * 1000
        {
            self.send(
                self.request(reqwest::Method::POST, "/v1/speech:recognize")
                    .json(&body),
            )
            .await?
        } else {
            let mut op: Operation = self
                .send(
                    self.request(reqwest::Method::POST, "/v1/speech:longrunningrecognize")
                        .json(&body),
                )
                .await?;
            let started = tokio::time::Instant::now();
            while !op.done {
                if started.elapsed() > self.config.max_wait {
                    return Err(TranscribeError::Transient {
                        message: format!("operation {} still running", op.name),
                        retry_after: None,
                    });
                }
                tokio::time::sleep(self.config.poll_interval).await;
                op = self
                    .send(
                        self.request(reqwest::Method::GET, &format!("/v1/operations/{}", op.name)),
                    )
                    .await?;
            }
            if let Some(error) = op.error {
                return Err(TranscribeError::Permanent(format!(
                    "operation failed ({}): {}",
                    error.code, error.message
                )));
            }
            op.response.unwrap_or(RecognizeResponse {
                results: Vec::new(),
            })
        };
        let (segments, detected) = segments(response);
        Ok(Transcript {
            engine: "google".into(),
            language: detected.or(Some(language)),
            segments,
        }
        .normalised())
    }
}
