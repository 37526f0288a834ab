//! The transcriber and analyser contracts (`voxdial_testkit::speech`) on
//! the engines behind a service: Google Speech-to-Text and Gemini, each
//! against a stub of its service on 127.0.0.1 that answers the suite's
//! conversation in the service's format, or fails as the suite says, in the
//! service's error shape.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use voxdial_domain::{Analyser, Speaker, Transcriber, TranscriptionRequest};
use voxdial_speech::gemini::{GeminiAnalyser, GeminiConfig, GeminiTranscriber};
use voxdial_speech::google::{GoogleAuth, GoogleSpeech, GoogleSpeechConfig};
use voxdial_testkit::speech::{
    AnalyserSubject, FaultySubject, RETRY_AFTER_SECS, ServiceFault, TranscriberSubject,
    conversation,
};

/// Each engine's own request timeout in the suite: long enough for any
/// local answer on a loaded machine, waited once by the hang case.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A stub service: `answer` unless told to fail.
#[derive(Clone)]
struct Stub {
    fault: Arc<Mutex<Option<ServiceFault>>>,
    answer: Value,
}

async fn handle(State(stub): State<Stub>) -> Response {
    let fault = *stub.fault.lock().unwrap();
    let (status, reason) = match fault {
        None => return axum::Json(stub.answer.clone()).into_response(),
        Some(ServiceFault::Hang) => std::future::pending().await,
        Some(ServiceFault::RateLimited) => (429, "RESOURCE_EXHAUSTED"),
        Some(ServiceFault::Unavailable) => (503, "UNAVAILABLE"),
        Some(ServiceFault::Refused) => (400, "INVALID_ARGUMENT"),
    };
    // Google APIs' error body.
    let body = json!({"error": {"code": status, "message": "the stub says no", "status": reason}});
    let mut response = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if status == 429 {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&RETRY_AFTER_SECS.to_string()).unwrap(),
        );
    }
    response
}

/// A stub answering `answer`, and its base URL.
async fn stub(answer: Value) -> (String, Stub) {
    let stub = Stub {
        fault: Arc::new(Mutex::new(None)),
        answer,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, stub)
}

/// A two-channel 16-bit WAV of `secs` seconds of silence (the stub does
/// not listen; the engines read the header).
fn wav(secs: usize) -> Vec<u8> {
    let data = secs * 8000 * 4;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&u32::try_from(36 + data).unwrap().to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&32000u32.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&u32::try_from(data).unwrap().to_le_bytes());
    b.resize(44 + data, 0);
    b
}

/// A request with every input: the engines read the bytes.
fn audio_request() -> TranscriptionRequest {
    TranscriptionRequest {
        call_id: Some(voxdial_domain::CallId::parse("ld_contract.1").unwrap()),
        recording_key: Some("recordings/c/ld_contract.1.provider.wav".into()),
        audio: Some(wav(6)),
        content_type: Some("audio/wav".into()),
        live_transcript: Some(b"[]".to_vec()),
        ..Default::default()
    }
}

struct Subject<E> {
    engine: E,
    stub: Stub,
}

impl<E: Send + Sync> FaultySubject for Subject<E> {
    fn fail(&self, fault: ServiceFault) {
        *self.stub.fault.lock().unwrap() = Some(fault);
    }

    fn timeout(&self) -> Duration {
        TIMEOUT
    }
}

impl<E: Transcriber> TranscriberSubject for Subject<E> {
    fn transcriber(&self) -> &dyn Transcriber {
        &self.engine
    }

    fn request(&self) -> TranscriptionRequest {
        audio_request()
    }
}

impl<E: Analyser> AnalyserSubject for Subject<E> {
    fn analyser(&self) -> &dyn Analyser {
        &self.engine
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// The conversation as `speech:recognize` answers it: one result per
/// segment, the caller on channel 1, the agent on channel 2.
fn google_answer() -> Value {
    let results: Vec<Value> = conversation()
        .into_iter()
        .map(|s| {
            let first = s.text.split(' ').next().unwrap_or_default().to_string();
            json!({
                "alternatives": [{"transcript": s.text, "confidence": 0.9, "words": [
                    {"startTime": seconds(s.start_ms), "endTime": seconds(s.start_ms + 300), "word": first}
                ]}],
                "channelTag": if s.speaker == Speaker::Caller { 1 } else { 2 },
                "resultEndTime": seconds(s.end_ms),
                "languageCode": "en-us",
            })
        })
        .collect();
    json!({"results": results, "totalBilledTime": "6s"})
}

async fn google() -> Subject<GoogleSpeech> {
    let (base, stub) = stub(google_answer()).await;
    let mut config = GoogleSpeechConfig::new(GoogleAuth::ApiKey("test-key".into()));
    config.endpoint = base;
    config.timeout = TIMEOUT;
    Subject {
        engine: GoogleSpeech::new(config).unwrap(),
        stub,
    }
}

/// A `generateContent` answer whose text is `value` as JSON.
fn candidate(value: &Value) -> Value {
    json!({"candidates": [{"content": {"parts": [{"text": value.to_string()}], "role": "model"},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}})
}

fn gemini_config(base: String) -> GeminiConfig {
    let mut config = GeminiConfig::new("gemini-key");
    config.endpoint = base;
    config.timeout = TIMEOUT;
    // No context cache: every analysis is one generateContent request.
    config.min_cache_chars = usize::MAX;
    config
}

async fn gemini_transcriber() -> Subject<GeminiTranscriber> {
    let segments = serde_json::to_value(conversation()).unwrap();
    let (base, stub) = stub(candidate(&json!({"segments": segments}))).await;
    Subject {
        engine: GeminiTranscriber::new(gemini_config(base)).unwrap(),
        stub,
    }
}

/// What the model answers for the suite's call: a callback asked for, one
/// of the campaign's fields and one it never asked for, its principles in
/// reverse order with one it never named (a model's answer is not held to
/// the campaign; the engine holds the analysis to it).
fn analysis_answer() -> Value {
    let campaign = voxdial_testkit::speech::analysed_campaign();
    let mut principles: Vec<Value> = campaign
        .settings
        .analysis
        .principles
        .iter()
        .map(|p| json!({"principle": p, "verdict": "pass", "evidence": "Ava, an AI assistant"}))
        .collect();
    principles.reverse();
    principles.push(json!({"principle": "Made up by the model", "verdict": "fail"}));
    let score = json!({"score": 0.2, "label": "positive"});
    json!({
        "disposition": "callback_requested",
        "callback_at": "2026-06-02T14:00:00Z",
        "fields": {"budget": 5000, "favourite_colour": "green"},
        "sentiment": {"caller": score, "agent": score, "overall": score},
        "summary": "The caller asked to be called back tomorrow.",
        "principles": principles,
    })
}

async fn gemini_analyser() -> Subject<GeminiAnalyser> {
    let (base, stub) = stub(candidate(&analysis_answer())).await;
    Subject {
        engine: GeminiAnalyser::new(gemini_config(base)).unwrap(),
        stub,
    }
}

mod google_speech {
    use super::*;
    voxdial_testkit::transcriber_contract!(google());
    voxdial_testkit::service_transcriber_contract!(google());
}

mod gemini_transcription {
    use super::*;
    voxdial_testkit::transcriber_contract!(gemini_transcriber());
    voxdial_testkit::service_transcriber_contract!(gemini_transcriber());
}

mod gemini_analysis {
    use super::*;
    voxdial_testkit::analyser_contract!(gemini_analyser());
    voxdial_testkit::service_analyser_contract!(gemini_analyser());
}
