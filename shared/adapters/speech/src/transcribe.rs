//! [`AwsTranscribe`]: Amazon Transcribe batch jobs on the recording's S3
//! object.
//!
//! 1. `StartTranscriptionJob` named `{prefix}-{call}` (dots become
//!    dashes) on `s3://{bucket}/{key}`, `MediaFormat` from the key,
//!    `Settings.ChannelIdentification = true`. A job of that name existing
//!    already (a retried job) is `ConflictException`: it is polled as is.
//! 2. `GetTranscriptionJob` every [`AwsTranscribeConfig::poll_interval`]
//!    until `COMPLETED` or `FAILED` (failed: permanent, with its
//!    `FailureReason`).
//! 3. The transcript JSON is fetched from `Transcript.TranscriptFileUri`
//!    (a presigned URL to the service's bucket) and read: its
//!    `audio_segments` when present (each with a `channel_label`), else
//!    the words of `channel_labels.channels[].items`, split at pauses of a
//!    second.
//! 4. `DeleteTranscriptionJob` removes the job and the service's copy of
//!    the transcript (voxdial keeps its own, under retention and erasure).
//!
//! Channel `ch_0` is the caller, `ch_1` the agent. Throttling, limits and
//! internal failures are transient; `BadRequestException` is permanent.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_transcribe::Client;
use aws_sdk_transcribe::error::ProvideErrorMetadata;
use aws_sdk_transcribe::types::{
    LanguageCode, Media, MediaFormat, Settings, TranscriptionJobStatus,
};
use serde::Deserialize;
use voxdial_domain::{
    Segment, Speaker, TranscribeError, Transcriber, TranscriberInput, Transcript,
    TranscriptionRequest,
};

/// Settings of [`AwsTranscribe`].
#[derive(Clone, Debug)]
pub struct AwsTranscribeConfig {
    /// The bucket the recordings are in.
    pub bucket: String,
    /// The language when the campaign names none.
    pub language: String,
    /// Job names start with this.
    pub job_prefix: String,
    /// How often the job is polled.
    pub poll_interval: Duration,
    /// How long to poll before giving up (transient: the pipeline retries,
    /// and the retry finds the same job).
    pub max_wait: Duration,
}

impl AwsTranscribeConfig {
    /// Defaults for recordings in `bucket`.
    pub fn new(bucket: impl Into<String>) -> AwsTranscribeConfig {
        AwsTranscribeConfig {
            bucket: bucket.into(),
            language: "en-US".into(),
            job_prefix: "voxdial".into(),
            poll_interval: Duration::from_secs(3),
            max_wait: Duration::from_secs(600),
        }
    }
}

/// Amazon Transcribe as a transcriber.
#[derive(Clone, Debug)]
pub struct AwsTranscribe {
    client: Client,
    http: reqwest::Client,
    config: AwsTranscribeConfig,
}

#[derive(Deserialize)]
struct Output {
    results: Results,
}

#[derive(Deserialize)]
struct Results {
    #[serde(default)]
    audio_segments: Vec<AudioSegment>,
    #[serde(default)]
    channel_labels: Option<ChannelLabels>,
    #[serde(default)]
    language_code: Option<String>,
}

#[derive(Deserialize)]
struct AudioSegment {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    channel_label: Option<String>,
}

#[derive(Deserialize)]
struct ChannelLabels {
    #[serde(default)]
    channels: Vec<Channel>,
}

#[derive(Deserialize)]
struct Channel {
    channel_label: String,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    alternatives: Vec<ItemAlternative>,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct ItemAlternative {
    #[serde(default)]
    content: String,
}

fn ms(text: Option<&str>) -> Option<u64> {
    let secs: f64 = text?.trim().parse().ok()?;
    Some((secs * 1000.0).round().max(0.0) as u64)
}

fn speaker(label: Option<&str>) -> Speaker {
    match label {
        Some("ch_0") | None => Speaker::Caller,
        _ => Speaker::Agent,
    }
}

/// Reads Transcribe's output JSON into segments.
pub fn parse_output(json: &[u8]) -> Result<Transcript, TranscribeError> {
    let output: Output = serde_json::from_slice(json)
        .map_err(|e| TranscribeError::Permanent(format!("unreadable Transcribe output: {e}")))?;
    let mut segments = Vec::new();
    if !output.results.audio_segments.is_empty() {
        for s in output.results.audio_segments {
            segments.push(Segment {
                speaker: speaker(s.channel_label.as_deref()),
                start_ms: ms(s.start_time.as_deref()).unwrap_or(0),
                end_ms: ms(s.end_time.as_deref()).unwrap_or(0),
                text: s.transcript,
            });
        }
    } else {
        for channel in output
            .results
            .channel_labels
            .map(|c| c.channels)
            .unwrap_or_default()
        {
            let who = speaker(Some(&channel.channel_label));
            let mut current: Option<Segment> = None;
            for item in channel.items {
                let word = item
                    .alternatives
                    .first()
                    .map(|a| a.content.clone())
                    .unwrap_or_default();
                if item.kind == "punctuation" {
                    if let Some(s) = current.as_mut() {
                        s.text.push_str(&word);
                    }
                    continue;
                }
                let (start, end) = (
                    ms(item.start_time.as_deref()).unwrap_or(0),
                    ms(item.end_time.as_deref()).unwrap_or(0),
                );
                match current.as_mut() {
                    Some(s) if start.saturating_sub(s.end_ms) < 1_000 => {
                        s.text.push(' ');
                        s.text.push_str(&word);
                        s.end_ms = end;
                    }
                    _ => {
                        segments.extend(current.take());
                        current = Some(Segment {
                            speaker: who,
                            start_ms: start,
                            end_ms: end,
                            text: word,
                        });
                    }
                }
            }
            segments.extend(current);
        }
    }
    Ok(Transcript {
        engine: "aws-transcribe".into(),
        language: output.results.language_code,
        segments,
    }
    .normalised())
}

fn sdk_error<E: ProvideErrorMetadata + std::fmt::Display>(what: &str, e: &E) -> TranscribeError {
    let code = e.code().unwrap_or("");
    let message = format!("{what}: {code}: {}", e.message().unwrap_or(""));
    match code {
        "BadRequestException" | "NotFoundException" => TranscribeError::Permanent(message),
        _ => TranscribeError::Transient {
            message,
            retry_after: None,
        },
    }
}

impl AwsTranscribe {
    /// A transcriber over `client` (the function's credentials and region,
    /// or a test endpoint).
    pub fn new(client: Client, config: AwsTranscribeConfig) -> AwsTranscribe {
        AwsTranscribe {
            client,
            http: reqwest::Client::new(),
            config,
        }
    }

    fn job_name(&self, request: &TranscriptionRequest) -> String {
        let call = request
            .call_id
            .as_ref()
            .map_or_else(|| "call".to_string(), |c| c.to_string());
        let name: String = format!("{}-{call}", self.config.job_prefix)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        name.chars().take(200).collect()
    }
}

#[async_trait]
impl Transcriber for AwsTranscribe {
    fn name(&self) -> &str {
        "aws-transcribe"
    }

    fn input(&self) -> TranscriberInput {
        TranscriberInput::BlobKey
    }

    async fn transcribe(
        &self,
        request: &TranscriptionRequest,
    ) -> Result<Transcript, TranscribeError> {
        let key = request
            .recording_key
            .as_deref()
            .ok_or_else(|| TranscribeError::NoInput("no stored recording".into()))?;
        let job = self.job_name(request);
        let format = if key.ends_with(".mp3") {
            MediaFormat::Mp3
        } else {
            MediaFormat::Wav
        };
        let language = request
            .language
            .clone()
            .unwrap_or_else(|| self.config.language.clone());
        let started = self
            .client
            .start_transcription_job()
            .transcription_job_name(&job)
            .media(
                Media::builder()
                    .media_file_uri(format!("s3://{}/{key}", self.config.bucket))
                    .build(),
            )
            .media_format(format)
            .language_code(LanguageCode::from(language.as_str()))
            .settings(Settings::builder().channel_identification(true).build())
            .send()
            .await;
        if let Err(e) = started {
            let e = e.into_service_error();
            if e.code() != Some("ConflictException") {
                return Err(sdk_error("StartTranscriptionJob", &e));
            }
        }
        let begun = tokio::time::Instant::now();
        let uri = loop {
            let got = self
                .client
                .get_transcription_job()
                .transcription_job_name(&job)
                .send()
                .await
                .map_err(|e| sdk_error("GetTranscriptionJob", &e.into_service_error()))?;
            let Some(state) = got.transcription_job() else {
                return Err(TranscribeError::Transient {
                    message: "GetTranscriptionJob named no job".into(),
                    retry_after: None,
                });
            };
            match state.transcription_job_status() {
                Some(TranscriptionJobStatus::Completed) => {
                    break state
                        .transcript()
                        .and_then(|t| t.transcript_file_uri())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            TranscribeError::Permanent(
                                "a completed job without a transcript".into(),
                            )
                        })?;
                }
                Some(TranscriptionJobStatus::Failed) => {
                    let reason = state
                        .failure_reason()
                        .unwrap_or("no reason given")
                        .to_string();
                    let _ = self
                        .client
                        .delete_transcription_job()
                        .transcription_job_name(&job)
                        .send()
                        .await;
                    return Err(TranscribeError::Permanent(format!(
                        "the job failed: {reason}"
                    )));
                }
                _ => {}
            }
            if begun.elapsed() > self.config.max_wait {
                return Err(TranscribeError::Transient {
                    message: format!("job {job} still running"),
                    retry_after: None,
                });
            }
            tokio::time::sleep(self.config.poll_interval).await;
        };
        let response =
            self.http
                .get(&uri)
                .send()
                .await
                .map_err(|e| TranscribeError::Transient {
                    message: format!(
                        "cannot fetch the transcript: {}",
                        crate::google::without_url(&e)
                    ),
                    retry_after: None,
                })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| TranscribeError::Transient {
                message: format!(
                    "the transcript broke off: {}",
                    crate::google::without_url(&e)
                ),
                retry_after: None,
            })?;
        if !(200..300).contains(&status) {
            return Err(crate::http_transcribe_error(
                status,
                "fetching the transcript".into(),
                None,
            ));
        }
        let transcript = parse_output(&body)?;
        if let Err(e) = self
            .client
            .delete_transcription_job()
            .transcription_job_name(&job)
            .send()
            .await
        {
            tracing::warn!(error = %sdk_error("DeleteTranscriptionJob", &e.into_service_error()), "could not delete a transcription job");
        }
        Ok(transcript)
    }
}
