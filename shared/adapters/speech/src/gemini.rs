//! Gemini over `generateContent`: a transcriber ([`GeminiTranscriber`]:
//! the recording inline, a response schema for segments with speakers and
//! times) and the post-call analyser ([`GeminiAnalyser`]: the transcript
//! in, the analysis out under a response schema built from the campaign's
//! fields, principles and dispositions).
//!
//! # Requests
//!
//! `POST {endpoint}/{version}/models/{model}:generateContent` with the
//! header `x-goog-api-key`, `generationConfig.responseMimeType =
//! application/json` and `responseSchema` (OpenAPI subset: `type`
//! `OBJECT|ARRAY|STRING|INTEGER|NUMBER|BOOLEAN`, `properties`, `items`,
//! `required`, `enum`, `nullable`). The answer's
//! `candidates[0].content.parts[].text` is the JSON. Errors are Google's
//! `{"error":{"code":…,"message":…,"status":…}}` (429 `RESOURCE_EXHAUSTED`
//! and 5xx transient); a prompt blocked by safety filters
//! (`promptFeedback.blockReason`) is permanent.
//!
//! # The campaign's fixed prompt, cached
//!
//! The analyser's system instruction (what the campaign is about, the
//! disposition definitions, its fields and principles) is the same for
//! every call of a campaign. When it is long enough for explicit caching
//! ([`GeminiConfig::min_cache_chars`]; Gemini refuses small caches), it is
//! stored once with `POST {endpoint}/{version}/cachedContents`
//! (`model`, `systemInstruction`, `ttl`) and each call's request names the
//! cache in `cachedContent` instead of repeating it (a request using a
//! cache must not carry its own system instruction). The cache's name is
//! kept in memory per process until shortly before it expires; a cache
//! the API refuses (too small, unsupported model) is not tried again for
//! that prompt, and a cache that vanished (404) is recreated once. Gemini's
//! implicit caching of repeated prefixes applies either way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use voxdial_domain::{
    AnalyseError, Analyser, Analysis, AnalysisDisposition, AnalysisRequest, FieldKind,
    PrincipleScore, Segment, Sentiment, Sentiments, Speaker, TranscribeError, Transcriber,
    TranscriberInput, Transcript, TranscriptionRequest, Verdict, final_disposition,
};

use crate::{google_message, http_analyse_error, http_transcribe_error, retry_after};

/// Settings of the Gemini adapters.
#[derive(Clone)]
pub struct GeminiConfig {
    /// `https://generativelanguage.googleapis.com`, or a test server.
    pub endpoint: String,
    /// `v1beta` (`cachedContents` and `responseSchema` live there).
    pub api_version: String,
    /// The model (`gemini-2.5-flash`).
    pub model: String,
    /// The API key.
    pub api_key: String,
    /// One request's timeout.
    pub timeout: Duration,
    /// How long a campaign prompt's cache lives.
    pub cache_ttl: Duration,
    /// Prompts shorter than this are not cached explicitly (Gemini wants
    /// about 1,024 tokens at least, ~4 characters a token).
    pub min_cache_chars: usize,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl GeminiConfig {
    /// The public endpoint, `gemini-2.5-flash`, with `api_key`.
    pub fn new(api_key: impl Into<String>) -> GeminiConfig {
        GeminiConfig {
            endpoint: "https://generativelanguage.googleapis.com".into(),
            api_version: "v1beta".into(),
            model: "gemini-2.5-flash".into(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(120),
            cache_ttl: Duration::from_secs(3600),
            min_cache_chars: 4_096,
        }
    }
}

/// Why a `generateContent` failed.
enum Failure {
    Http {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Blocked(String),
    Unreadable(String),
}

#[derive(Clone)]
struct Client {
    config: GeminiConfig,
    http: reqwest::Client,
}

impl Client {
    fn new(config: GeminiConfig) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(Client { config, http })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.config.endpoint.trim_end_matches('/'),
            self.config.api_version
        )
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let response = self
            .http
            .post(self.url(path))
            .header("x-goog-api-key", &self.config.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| Failure::Http {
                status: 503,
                message: format!("Gemini unreachable: {}", crate::google::without_url(&e)),
                retry_after: None,
            })?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| Failure::Http {
            status: 503,
            message: format!(
                "Gemini's answer broke off: {}",
                crate::google::without_url(&e)
            ),
            retry_after: None,
        })?;
        if !(200..300).contains(&status) {
            return Err(Failure::Http {
                status,
                message: google_message(&bytes),
                retry_after: wait,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Failure::Unreadable(e.to_string()))
    }

    /// `generateContent`; the JSON text of the first candidate, parsed.
    async fn generate(&self, body: &Value) -> Result<Value, Failure> {
        let answer = self
            .post(
                &format!("models/{}:generateContent", self.config.model),
                body,
            )
            .await?;
        if let Some(reason) = answer["promptFeedback"]["blockReason"].as_str() {
            return Err(Failure::Blocked(reason.to_string()));
        }
        let candidate = &answer["candidates"][0];
        if candidate["finishReason"].as_str() == Some("SAFETY") {
            return Err(Failure::Blocked("SAFETY".into()));
        }
        let text: String = candidate["content"]["parts"]
            .as_array()
            .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
            .unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| Failure::Unreadable(e.to_string()))
    }
}

fn transcribe_failure(f: Failure) -> TranscribeError {
    match f {
        Failure::Http {
            status,
            message,
            retry_after,
        } => http_transcribe_error(status, message, retry_after),
        Failure::Blocked(why) => TranscribeError::Permanent(format!("blocked: {why}")),
        Failure::Unreadable(why) => TranscribeError::Transient {
            message: format!("an answer that is not the schema's JSON: {why}"),
            retry_after: None,
        },
    }
}

fn analyse_failure(f: Failure) -> AnalyseError {
    match f {
        Failure::Http {
            status,
            message,
            retry_after,
        } => http_analyse_error(status, message, retry_after),
        Failure::Blocked(why) => AnalyseError::Permanent(format!("blocked: {why}")),
        Failure::Unreadable(why) => AnalyseError::Transient {
            message: format!("an answer that is not the schema's JSON: {why}"),
            retry_after: None,
        },
    }
}

/// Gemini as a transcriber.
#[derive(Clone)]
pub struct GeminiTranscriber {
    client: Client,
}

/// The response schema of a transcript.
pub fn transcript_schema() -> Value {
    json!({
        "type": "OBJECT",
        "properties": {
            "segments": {
                "type": "ARRAY",
                "items": {
                    "type": "OBJECT",
                    "properties": {
                        "speaker": {"type": "STRING", "enum": ["caller", "agent"]},
                        "start_ms": {"type": "INTEGER"},
                        "end_ms": {"type": "INTEGER"},
                        "text": {"type": "STRING"}
                    },
                    "required": ["speaker", "start_ms", "end_ms", "text"]
                }
            }
        },
        "required": ["segments"]
    })
}

#[derive(Deserialize)]
struct SchemaTranscript {
    segments: Vec<Segment>,
}

impl GeminiTranscriber {
    /// A transcriber over `config`.
    pub fn new(config: GeminiConfig) -> Result<GeminiTranscriber, reqwest::Error> {
        Ok(GeminiTranscriber {
            client: Client::new(config)?,
        })
    }
}

#[async_trait]
impl Transcriber for GeminiTranscriber {
    fn name(&self) -> &str {
        "gemini"
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
        let prompt = "Transcribe this phone call. The left channel is the caller, the right \
            channel the agent. Give every stretch of speech as a segment with its speaker, \
            its start and end in milliseconds from the start of the recording, and the words \
            said, in order. Leave out silence and noise.";
        let body = json!({
            "contents": [{"role": "user", "parts": [
                {"inlineData": {
                    "mimeType": request.content_type.as_deref().unwrap_or("audio/wav"),
                    "data": base64::engine::general_purpose::STANDARD.encode(audio)
                }},
                {"text": prompt}
            ]}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": transcript_schema(),
                "temperature": 0
            }
        });
        let value = self
            .client
            .generate(&body)
            .await
            .map_err(transcribe_failure)?;
        let parsed: SchemaTranscript =
            serde_json::from_value(value).map_err(|e| TranscribeError::Transient {
                message: format!("a transcript outside the schema: {e}"),
                retry_after: None,
            })?;
        Ok(Transcript {
            engine: "gemini".into(),
            language: request.language.clone(),
            segments: parsed.segments,
        }
        .normalised())
    }
}

/// Gemini as the post-call analyser.
pub struct GeminiAnalyser {
    client: Client,
    /// Prompt hash → cache name and expiry, or `None`: not cacheable.
    caches: Mutex<HashMap<String, Option<(String, tokio::time::Instant)>>>,
}

/// The campaign's fixed prompt: everything but the call.
pub fn fixed_prompt(campaign: &voxdial_domain::Campaign) -> String {
    let settings = &campaign.settings.analysis;
    let mut p = String::from(
        "You analyse outbound sales and service phone calls made by an AI agent. \
         Read the transcript and the call facts and answer in the JSON schema.\n\n\
         Dispositions:\n\
         - interested: wants the offer or a follow-up\n\
         - not_interested: declined\n\
         - callback_requested: asked to be called back; give callback_at (RFC 3339) when a time was named\n\
         - transferred: handed to a human agent\n\
         - wrong_number: the person is not the one called\n\
         - opted_out: asked not to be called again (always choose it when asked, even mid-call)\n\
         - voicemail: an answering machine\n\
         - no_conversation: nobody said anything usable\n\n\
         Sentiment scores go from -1 (negative) to 1 (positive). The summary is one or two \
         sentences without phone numbers. Score every principle pass, fail or not_applicable, \
         quoting the transcript line that shows it as evidence (\"agent: ...\").\n",
    );
    if !settings.context.is_empty() {
        p.push_str(&format!("\nThe campaign: {}\n", settings.context));
    }
    if !settings.fields.is_empty() {
        p.push_str("\nFields to extract (null when not said):\n");
        for f in &settings.fields {
            p.push_str(&format!("- {}: {}\n", f.name, f.description));
        }
    }
    p.push_str("\nPrinciples:\n");
    for principle in &settings.principles {
        p.push_str(&format!("- {principle}\n"));
    }
    p
}

fn field_schema(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Text => json!({"type": "STRING", "nullable": true}),
        FieldKind::Number => json!({"type": "NUMBER", "nullable": true}),
        FieldKind::Datetime => {
            json!({"type": "STRING", "nullable": true, "description": "RFC 3339"})
        }
        FieldKind::Boolean => json!({"type": "BOOLEAN", "nullable": true}),
        FieldKind::Enum { values } => json!({"type": "STRING", "nullable": true, "enum": values}),
    }
}

/// The response schema of an analysis for `campaign`.
pub fn analysis_schema(campaign: &voxdial_domain::Campaign) -> Value {
    let settings = &campaign.settings.analysis;
    let mut fields = serde_json::Map::new();
    for f in &settings.fields {
        fields.insert(f.name.clone(), field_schema(&f.kind));
    }
    let score = json!({"type": "OBJECT", "properties": {"score": {"type": "NUMBER"}}, "required": ["score"]});
    let mut schema = json!({
        "type": "OBJECT",
        "properties": {
            "disposition": {"type": "STRING", "enum": AnalysisDisposition::ALL.iter().map(|d| d.label()).collect::<Vec<_>>()},
            "callback_at": {"type": "STRING", "nullable": true},
            "sentiment": {"type": "OBJECT", "properties": {"caller": score, "agent": score, "overall": score}, "required": ["caller", "agent", "overall"]},
            "summary": {"type": "STRING"},
            "principles": {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {
                "principle": {"type": "STRING"},
                "verdict": {"type": "STRING", "enum": ["pass", "fail", "not_applicable"]},
                "evidence": {"type": "STRING", "nullable": true}
            }, "required": ["principle", "verdict"]}}
        },
        "required": ["disposition", "sentiment", "summary", "principles"]
    });
    if !fields.is_empty() {
        schema["properties"]["fields"] = json!({"type": "OBJECT", "properties": fields});
    }
    schema
}

/// The per-call part of the request: the facts and the transcript.
fn call_prompt(request: &AnalysisRequest) -> String {
    let call = &request.call;
    let mut p = format!(
        "Call facts: state {}; answered by {}; disposition recorded during the call: {}; \
         transferred: {}; callback recorded: {}; ended at {}.\n\nTranscript:\n",
        call.state.label(),
        call.answered_by
            .map_or("unknown".into(), |a| format!("{a:?}").to_lowercase()),
        call.disposition.map_or("none", |d| d.label()),
        call.transfer.is_some(),
        call.callback_at.map_or("none".into(), |t| t.to_rfc3339()),
        call.ended_at.map_or("unknown".into(), |t| t.to_rfc3339()),
    );
    match &request.transcript {
        Some(t) if !t.segments.is_empty() => {
            for s in &t.segments {
                let who = if s.speaker == Speaker::Caller {
                    "caller"
                } else {
                    "agent"
                };
                p.push_str(&format!("[{} ms] {who}: {}\n", s.start_ms, s.text));
            }
        }
        _ => p.push_str("(no transcript)\n"),
    }
    p
}

#[derive(Deserialize)]
struct SchemaAnalysis {
    disposition: String,
    #[serde(default)]
    callback_at: Option<String>,
    #[serde(default)]
    fields: serde_json::Map<String, Value>,
    sentiment: SchemaSentiments,
    summary: String,
    #[serde(default)]
    principles: Vec<SchemaPrinciple>,
}

#[derive(Deserialize)]
struct SchemaSentiments {
    caller: SchemaScore,
    agent: SchemaScore,
    overall: SchemaScore,
}

#[derive(Deserialize)]
struct SchemaScore {
    score: f64,
}

#[derive(Deserialize)]
struct SchemaPrinciple {
    principle: String,
    verdict: String,
    #[serde(default)]
    evidence: Option<String>,
}

impl GeminiAnalyser {
    /// An analyser over `config`.
    pub fn new(config: GeminiConfig) -> Result<GeminiAnalyser, reqwest::Error> {
        Ok(GeminiAnalyser {
            client: Client::new(config)?,
            caches: Mutex::new(HashMap::new()),
        })
    }

    /// The cache of `prompt`, made if needed; `None`: send it inline.
    async fn cache_for(&self, prompt: &str) -> Option<String> {
        let config = &self.client.config;
        if prompt.chars().count() < config.min_cache_chars {
            return None;
        }
        let key = hex::encode(Sha256::digest(format!("{}\n{prompt}", config.model)));
        let now = tokio::time::Instant::now();
        if let Some(entry) = self.caches.lock().expect("cache lock").get(&key) {
            match entry {
                None => return None,
                Some((name, expires)) if *expires > now => return Some(name.clone()),
                Some(_) => {}
            }
        }
        let body = json!({
            "model": format!("models/{}", config.model),
            "systemInstruction": {"parts": [{"text": prompt}]},
            "ttl": format!("{}s", config.cache_ttl.as_secs())
        });
        let made = self.client.post("cachedContents", &body).await;
        let entry = match made {
            Ok(answer) => answer["name"].as_str().map(|name| {
                // Renew a minute before the service drops it.
                let life = config.cache_ttl.saturating_sub(Duration::from_secs(60));
                (name.to_string(), now + life)
            }),
            // Refused for good (too small, model without caching): inline.
            Err(Failure::Http { status, .. }) if (400..500).contains(&status) && status != 429 => {
                None
            }
            // A passing failure: inline this time, try caching next time.
            Err(_) => return None,
        };
        let name = entry.as_ref().map(|(n, _)| n.clone());
        self.caches.lock().expect("cache lock").insert(key, entry);
        name
    }

    fn forget(&self, name: &str) {
        self.caches
            .lock()
            .expect("cache lock")
            .retain(|_, v| v.as_ref().is_none_or(|(n, _)| n != name));
    }
}

fn to_analysis(
    parsed: SchemaAnalysis,
    request: &AnalysisRequest,
) -> Result<Analysis, AnalyseError> {
    let analysed = AnalysisDisposition::from_label(&parsed.disposition).ok_or_else(|| {
        AnalyseError::Transient {
            message: format!("unknown disposition {:?}", parsed.disposition),
            retry_after: None,
        }
    })?;
    let disposition = final_disposition(
        analysed == AnalysisDisposition::Voicemail,
        request.call.disposition,
        analysed,
    );
    // A callback time only with a callback (as the local analyser gives it).
    let callback_at = parsed
        .callback_at
        .as_deref()
        .filter(|_| disposition == AnalysisDisposition::CallbackRequested)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let mut fields = serde_json::Map::new();
    for spec in &request.campaign.settings.analysis.fields {
        let value = parsed
            .fields
            .get(&spec.name)
            .cloned()
            .unwrap_or(Value::Null);
        fields.insert(spec.name.clone(), value);
    }
    Ok(Analysis {
        engine: "gemini".into(),
        disposition,
        analysed_disposition: analysed,
        recorded_disposition: request.call.disposition,
        callback_at,
        fields,
        sentiment: Sentiments {
            caller: Sentiment::of(parsed.sentiment.caller.score),
            agent: Sentiment::of(parsed.sentiment.agent.score),
            overall: Sentiment::of(parsed.sentiment.overall.score),
        },
        summary: parsed.summary,
        principles: principle_scores(parsed.principles, request),
    })
}

/// One score per principle of the campaign, in its order, whatever the
/// model answered (a principle it left out is not applicable; one the
/// campaign never named is dropped).
fn principle_scores(
    answered: Vec<SchemaPrinciple>,
    request: &AnalysisRequest,
) -> Vec<PrincipleScore> {
    let mut answered: HashMap<String, SchemaPrinciple> = answered
        .into_iter()
        .map(|p| (p.principle.clone(), p))
        .collect();
    request
        .campaign
        .settings
        .analysis
        .principles
        .iter()
        .map(|principle| {
            let found = answered.remove(principle);
            PrincipleScore {
                principle: principle.clone(),
                verdict: match found.as_ref().map(|p| p.verdict.as_str()) {
                    Some("pass") => Verdict::Pass,
                    Some("fail") => Verdict::Fail,
                    _ => Verdict::NotApplicable,
                },
                evidence: found.and_then(|p| p.evidence),
            }
        })
        .collect()
}

#[async_trait]
impl Analyser for GeminiAnalyser {
    fn name(&self) -> &str {
        "gemini"
    }

    async fn analyse(&self, request: &AnalysisRequest) -> Result<Analysis, AnalyseError> {
        let prompt = fixed_prompt(&request.campaign);
        let generation = json!({
            "responseMimeType": "application/json",
            "responseSchema": analysis_schema(&request.campaign),
            "temperature": 0
        });
        let contents = json!([{"role": "user", "parts": [{"text": call_prompt(request)}]}]);
        let inline = json!({
            "systemInstruction": {"parts": [{"text": prompt}]},
            "contents": contents,
            "generationConfig": generation
        });
        let answer = match self.cache_for(&prompt).await {
            Some(cache) => {
                let cached = json!({
                    "cachedContent": cache,
                    "contents": contents,
                    "generationConfig": generation
                });
                match self.client.generate(&cached).await {
                    Err(Failure::Http {
                        status: 404 | 403, ..
                    }) => {
                        // The cache expired or was deleted: inline, and
                        // make a new one next time.
                        self.forget(&cache);
                        self.client.generate(&inline).await
                    }
                    other => other,
                }
            }
            None => self.client.generate(&inline).await,
        }
        .map_err(analyse_failure)?;
        let parsed: SchemaAnalysis =
            serde_json::from_value(answer).map_err(|e| AnalyseError::Transient {
                message: format!("an analysis outside the schema: {e}"),
                retry_after: None,
            })?;
        to_analysis(parsed, request)
    }
}
