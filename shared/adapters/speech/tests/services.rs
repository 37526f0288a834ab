//! Each adapter against a local HTTP server on 127.0.0.1 that answers like
//! the real service: its request shapes checked, its answers and its error
//! shapes returned. No network.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use voxdial_domain::{
    AnalyseError, Analyser, AnalysisDisposition, AnalysisRequest, Campaign, CampaignId,
    CampaignSettings, Speaker, TranscribeError, Transcriber, TranscriptionRequest,
};
use voxdial_speech::gemini::{GeminiAnalyser, GeminiConfig, GeminiTranscriber};
use voxdial_speech::google::{GoogleAuth, GoogleSpeech, GoogleSpeechConfig};
use voxdial_speech::transcribe::{AwsTranscribe, AwsTranscribeConfig};

/// One request the server saw.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
}

type Answer = Arc<dyn Fn(&Seen, usize, &str) -> (u16, Value) + Send + Sync>;

#[derive(Clone)]
struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Answer,
    base: Arc<Mutex<String>>,
}

async fn handle(State(s): State<Server>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let seen = Seen {
        path: uri.path().to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let n = {
        let mut all = s.seen.lock().unwrap();
        all.push(seen.clone());
        all.len()
    };
    let base = s.base.lock().unwrap().clone();
    let (status, value) = (s.answer)(&seen, n, &base);
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(value.clone()),
    )
        .into_response();
    if status >= 400
        && let Some(kind) = value["__type"].as_str()
    {
        // AWS JSON 1.1 errors name their type in a header and in the body.
        response
            .headers_mut()
            .insert("x-amzn-errortype", kind.parse().unwrap());
    }
    response
}

async fn serve(
    answer: impl Fn(&Seen, usize, &str) -> (u16, Value) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Server {
        seen: Arc::new(Mutex::new(Vec::new())),
        answer: Arc::new(answer),
        base: Arc::new(Mutex::new(base.clone())),
    };
    let seen = server.seen.clone();
    let app = axum::Router::new().fallback(handle).with_state(server);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// A two-channel PCM WAV of `secs` seconds at 8 kHz.
fn wav(secs: usize) -> Vec<u8> {
    let data = secs * 8000 * 4;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((36 + data) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&32000u32.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data as u32).to_le_bytes());
    b.resize(44 + data, 0);
    b
}

fn audio_request(secs: usize) -> TranscriptionRequest {
    TranscriptionRequest {
        call_id: Some(voxdial_domain::CallId::parse("ld_t.1").unwrap()),
        recording_key: Some("recordings/c/ld_t.1.provider.wav".into()),
        audio: Some(wav(secs)),
        content_type: Some("audio/wav".into()),
        ..Default::default()
    }
}

fn google(base: &str, max_sync_secs: u64) -> GoogleSpeech {
    let mut config = GoogleSpeechConfig::new(GoogleAuth::ApiKey("test-key".into()));
    config.endpoint = base.to_string();
    config.max_sync_secs = max_sync_secs;
    config.poll_interval = Duration::from_millis(10);
    GoogleSpeech::new(config).unwrap()
}

fn google_results() -> Value {
    json!({"results": [
        {"alternatives": [{"transcript": "Hi, this is Ava, an AI assistant.", "confidence": 0.93,
            "words": [{"startTime": "0.200s", "endTime": "0.500s", "word": "Hi"}]}],
         "channelTag": 2, "resultEndTime": "2.100s", "languageCode": "en-us"},
        {"alternatives": [{"transcript": "No thanks.", "confidence": 0.9,
            "words": [{"startTime": "2.600s", "endTime": "2.900s", "word": "No"}]}],
         "channelTag": 1, "resultEndTime": "3.300s", "languageCode": "en-us"}
    ], "totalBilledTime": "4s", "requestId": "1"})
}

#[tokio::test]
async fn google_recognizes_short_calls_per_channel() {
    let (base, seen) = serve(|_, _, _| (200, google_results())).await;
    let t = google(&base, 55)
        .transcribe(&audio_request(3))
        .await
        .unwrap();
    assert_eq!(t.engine, "google");
    assert_eq!(t.segments.len(), 2);
    assert_eq!(t.segments[0].speaker, Speaker::Agent);
    assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (200, 2100));
    assert_eq!(t.segments[1].speaker, Speaker::Caller);
    assert_eq!(t.segments[1].text, "No thanks.");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/speech:recognize");
    assert_eq!(seen[0].headers["x-goog-api-key"], "test-key");
    let config = &seen[0].body["config"];
    assert_eq!(config["audioChannelCount"], 2);
    assert_eq!(config["enableSeparateRecognitionPerChannel"], true);
    assert_eq!(config["enableWordTimeOffsets"], true);
    assert_eq!(config["encoding"], "LINEAR16");
    assert_eq!(config["sampleRateHertz"], 8000);
    assert!(seen[0].body["audio"]["content"].as_str().unwrap().len() > 1000);
}

#[tokio::test]
async fn google_polls_long_running_operations() {
    let (base, seen) = serve(|s, n, _| match s.path.as_str() {
        "/v1/speech:longrunningrecognize" => (200, json!({"name": "4242"})),
        "/v1/operations/4242" if n < 4 => (
            200,
            json!({"name": "4242", "metadata": {"progressPercent": 50}}),
        ),
        "/v1/operations/4242" => (
            200,
            json!({"name": "4242", "done": true, "response": google_results()}),
        ),
        _ => (
            404,
            json!({"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}}),
        ),
    })
    .await;
    let t = google(&base, 1)
        .transcribe(&audio_request(3))
        .await
        .unwrap();
    assert_eq!(t.segments.len(), 2);
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths[0], "/v1/speech:longrunningrecognize");
    assert_eq!(paths.len(), 4, "{paths:?}");
}

#[tokio::test]
async fn google_errors_are_transient_or_permanent_by_status() {
    let (base, _) = serve(|_, _, _| {
        (429, json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}))
    })
    .await;
    let err = google(&base, 55)
        .transcribe(&audio_request(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TranscribeError::Transient { message, .. } if message.contains("RESOURCE_EXHAUSTED")),
        "{err}"
    );
    let (base, _) = serve(|_, _, _| {
        (400, json!({"error": {"code": 400, "message": "bad encoding", "status": "INVALID_ARGUMENT"}}))
    })
    .await;
    let err = google(&base, 55)
        .transcribe(&audio_request(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TranscribeError::Permanent(m) if m.contains("INVALID_ARGUMENT")),
        "{err}"
    );
    let (base, _) = serve(|s, _, _| match s.path.as_str() {
        "/v1/speech:longrunningrecognize" => (200, json!({"name": "9"})),
        _ => (
            200,
            json!({"name": "9", "done": true, "error": {"code": 3, "message": "audio too long"}}),
        ),
    })
    .await;
    let err = google(&base, 1)
        .transcribe(&audio_request(3))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TranscribeError::Permanent(m) if m.contains("audio too long")),
        "{err}"
    );
    let no_audio = TranscriptionRequest::default();
    assert!(matches!(
        google(&base, 1).transcribe(&no_audio).await,
        Err(TranscribeError::NoInput(_))
    ));
}

fn aws(base: &str) -> AwsTranscribe {
    use aws_sdk_transcribe::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_transcribe::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("ap-south-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(base)
        .build();
    let mut settings = AwsTranscribeConfig::new("voxdial-recordings");
    settings.poll_interval = Duration::from_millis(10);
    AwsTranscribe::new(aws_sdk_transcribe::Client::from_conf(config), settings)
}

fn target(s: &Seen) -> String {
    s.headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn aws_output() -> Value {
    json!({"jobName": "voxdial-ld_t-1", "accountId": "111122223333", "status": "COMPLETED",
    "results": {
        "transcripts": [{"transcript": "Hello. Not interested."}],
        "channel_labels": {"number_of_channels": 2, "channels": [
            {"channel_label": "ch_1", "items": [
                {"channel_label": "ch_1", "start_time": "0.1", "end_time": "0.5", "alternatives": [{"confidence": "1.0", "content": "Hello"}], "type": "pronunciation"},
                {"channel_label": "ch_1", "alternatives": [{"confidence": "0.0", "content": "."}], "type": "punctuation"}
            ]},
            {"channel_label": "ch_0", "items": [
                {"channel_label": "ch_0", "start_time": "1.2", "end_time": "1.5", "alternatives": [{"confidence": "1.0", "content": "Not"}], "type": "pronunciation"},
                {"channel_label": "ch_0", "start_time": "1.5", "end_time": "2.0", "alternatives": [{"confidence": "1.0", "content": "interested"}], "type": "pronunciation"},
                {"channel_label": "ch_0", "start_time": "4.0", "end_time": "4.3", "alternatives": [{"confidence": "1.0", "content": "Bye"}], "type": "pronunciation"}
            ]}
        ]}
    }})
}

#[tokio::test]
async fn aws_transcribe_runs_a_job_with_channel_identification() {
    let (base, seen) = serve(|s, n, base| {
        if s.path == "/transcript.json" {
            return (200, aws_output());
        }
        match target(s).as_str() {
            "Transcribe.StartTranscriptionJob" => (200, json!({"TranscriptionJob": {"TranscriptionJobName": "voxdial-ld_t-1", "TranscriptionJobStatus": "IN_PROGRESS"}})),
            "Transcribe.GetTranscriptionJob" if n < 4 => (200, json!({"TranscriptionJob": {"TranscriptionJobName": "voxdial-ld_t-1", "TranscriptionJobStatus": "IN_PROGRESS"}})),
            "Transcribe.GetTranscriptionJob" => (200, json!({"TranscriptionJob": {"TranscriptionJobName": "voxdial-ld_t-1", "TranscriptionJobStatus": "COMPLETED",
                "Transcript": {"TranscriptFileUri": format!("{base}/transcript.json")}}})),
            "Transcribe.DeleteTranscriptionJob" => (200, json!({})),
            other => (400, json!({"__type": "UnknownOperationException", "message": other})),
        }
    })
    .await;
    let t = aws(&base).transcribe(&audio_request(1)).await.unwrap();
    assert_eq!(t.engine, "aws-transcribe");
    let lines: Vec<(Speaker, &str)> = t
        .segments
        .iter()
        .map(|s| (s.speaker, s.text.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (Speaker::Agent, "Hello."),
            (Speaker::Caller, "Not interested"),
            (Speaker::Caller, "Bye")
        ]
    );
    let seen = seen.lock().unwrap();
    let start = seen
        .iter()
        .find(|s| target(s) == "Transcribe.StartTranscriptionJob")
        .unwrap();
    assert_eq!(start.body["Settings"]["ChannelIdentification"], true);
    assert_eq!(
        start.body["Media"]["MediaFileUri"],
        "s3://voxdial-recordings/recordings/c/ld_t.1.provider.wav"
    );
    assert_eq!(start.body["MediaFormat"], "wav");
    assert!(
        seen.iter()
            .any(|s| target(s) == "Transcribe.DeleteTranscriptionJob"),
        "the job is deleted"
    );
}

#[tokio::test]
async fn aws_transcribe_errors_and_failed_jobs() {
    let (base, _) = serve(|_, _, _| {
        (400, json!({"__type": "BadRequestException", "Message": "The language code is not supported."}))
    })
    .await;
    let err = aws(&base).transcribe(&audio_request(1)).await.unwrap_err();
    assert!(
        matches!(&err, TranscribeError::Permanent(m) if m.contains("BadRequestException")),
        "{err}"
    );
    let (base, _) = serve(|s, _, _| match target(s).as_str() {
        "Transcribe.StartTranscriptionJob" => (
            400,
            json!({"__type": "LimitExceededException", "Message": "Too many jobs"}),
        ),
        _ => (200, json!({})),
    })
    .await;
    let err = aws(&base).transcribe(&audio_request(1)).await.unwrap_err();
    assert!(matches!(&err, TranscribeError::Transient { .. }), "{err}");
    let (base, _) = serve(|s, _, _| match target(s).as_str() {
        "Transcribe.GetTranscriptionJob" => (200, json!({"TranscriptionJob": {"TranscriptionJobStatus": "FAILED", "FailureReason": "Unsupported audio"}})),
        _ => (200, json!({"TranscriptionJob": {"TranscriptionJobStatus": "IN_PROGRESS"}})),
    })
    .await;
    let err = aws(&base).transcribe(&audio_request(1)).await.unwrap_err();
    assert!(
        matches!(&err, TranscribeError::Permanent(m) if m.contains("Unsupported audio")),
        "{err}"
    );
}

fn gemini(base: &str, min_cache_chars: usize) -> GeminiConfig {
    let mut config = GeminiConfig::new("gemini-key");
    config.endpoint = base.to_string();
    config.min_cache_chars = min_cache_chars;
    config
}

fn candidate(value: Value) -> Value {
    json!({"candidates": [{"content": {"parts": [{"text": value.to_string()}], "role": "model"}, "finishReason": "STOP"}],
           "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5}})
}

#[tokio::test]
async fn gemini_transcribes_with_inline_audio_and_a_schema() {
    let (base, seen) = serve(|_, _, _| {
        (200, candidate(json!({"segments": [
            {"speaker": "agent", "start_ms": 0, "end_ms": 1500, "text": "Hello, I'm an AI assistant."},
            {"speaker": "caller", "start_ms": 1800, "end_ms": 2500, "text": "Call me tomorrow."}
        ]})))
    })
    .await;
    let t = GeminiTranscriber::new(gemini(&base, 10))
        .unwrap()
        .transcribe(&audio_request(1))
        .await
        .unwrap();
    assert_eq!(t.segments.len(), 2);
    assert_eq!(t.segments[1].speaker, Speaker::Caller);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(seen[0].headers["x-goog-api-key"], "gemini-key");
    let parts = &seen[0].body["contents"][0]["parts"];
    assert_eq!(parts[0]["inlineData"]["mimeType"], "audio/wav");
    assert_eq!(
        seen[0].body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        seen[0].body["generationConfig"]["responseSchema"]["properties"]["segments"]["items"]["properties"]
            ["speaker"]["enum"],
        json!(["caller", "agent"])
    );
}

fn analysis_request() -> AnalysisRequest {
    let campaign_id = CampaignId::parse("cmp_g").unwrap();
    let mut settings = CampaignSettings::default();
    settings.analysis.fields = serde_json::from_value(
        json!([{"name": "budget", "type": "number", "description": "monthly budget in USD"}]),
    )
    .unwrap();
    let now = chrono::Utc::now();
    let campaign = Campaign::new(campaign_id.clone(), settings, now).unwrap();
    let lead = voxdial_domain::LeadId::parse("ld_g").unwrap();
    let record = voxdial_domain::ComplianceRecord {
        rules: "t".into(),
        checked_at: now,
        attempt: 1,
        max_attempts: 3,
        region: None,
        window: "x".into(),
        local_times: Default::default(),
        zone_source: "x".into(),
        dnc_global_clear: true,
        dnc_campaign_clear: true,
        consent_required: false,
        consent: true,
        floor: "US-NY: TCPA 08:00-21:00".into(),
    };
    let call = voxdial_domain::CallAttempt::new(
        campaign_id,
        lead,
        1,
        voxdial_domain::E164::parse("+14155550100", None).unwrap(),
        record,
        now,
    );
    AnalysisRequest {
        call,
        campaign,
        transcript: None,
        time_zone: None,
    }
}

fn analysis_answer() -> Value {
    candidate(json!({
        "disposition": "interested", "callback_at": null, "fields": {"budget": 500},
        "sentiment": {"caller": {"score": 0.6}, "agent": {"score": 0.4}, "overall": {"score": 0.5}},
        "summary": "Interested; budget 500.",
        "principles": [{"principle": "Say early that you are an AI assistant.", "verdict": "pass", "evidence": "agent: I'm an AI assistant."}]
    }))
}

#[tokio::test]
async fn gemini_analyses_with_a_cached_campaign_prompt() {
    let (base, seen) = serve(|s, _, _| match s.path.as_str() {
        "/v1beta/cachedContents" => (200, json!({"name": "cachedContents/abc123", "model": "models/gemini-2.5-flash", "expireTime": "2099-01-01T00:00:00Z"})),
        _ => (200, analysis_answer()),
    })
    .await;
    let analyser = GeminiAnalyser::new(gemini(&base, 10)).unwrap();
    let request = analysis_request();
    let a = analyser.analyse(&request).await.unwrap();
    assert_eq!(a.analysed_disposition, AnalysisDisposition::Interested);
    assert_eq!(a.fields["budget"], json!(500));
    assert_eq!(a.principles[0].verdict, voxdial_domain::Verdict::Pass);
    analyser.analyse(&request).await.unwrap();
    let seen = seen.lock().unwrap();
    let caches: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path == "/v1beta/cachedContents")
        .collect();
    assert_eq!(caches.len(), 1, "the campaign prompt is cached once");
    assert!(
        caches[0].body["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("budget")
    );
    assert_eq!(caches[0].body["ttl"], "3600s");
    let calls: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.ends_with(":generateContent"))
        .collect();
    assert_eq!(calls.len(), 2);
    for c in calls {
        assert_eq!(c.body["cachedContent"], "cachedContents/abc123");
        assert!(
            c.body.get("systemInstruction").is_none(),
            "a cached request carries no system instruction"
        );
        let schema = &c.body["generationConfig"]["responseSchema"];
        assert_eq!(
            schema["properties"]["fields"]["properties"]["budget"]["type"],
            "NUMBER"
        );
        assert!(
            schema["properties"]["disposition"]["enum"]
                .as_array()
                .unwrap()
                .contains(&json!("opted_out"))
        );
    }
}

#[tokio::test]
async fn gemini_analyser_falls_back_inline_and_maps_errors() {
    // A prompt the API will not cache: inline, and never asked again.
    let (base, seen) = serve(|s, _, _| match s.path.as_str() {
        "/v1beta/cachedContents" => (400, json!({"error": {"code": 400, "message": "Cached content is too small.", "status": "INVALID_ARGUMENT"}})),
        _ => (200, analysis_answer()),
    })
    .await;
    let analyser = GeminiAnalyser::new(gemini(&base, 10)).unwrap();
    analyser.analyse(&analysis_request()).await.unwrap();
    analyser.analyse(&analysis_request()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter()
            .filter(|s| s.path == "/v1beta/cachedContents")
            .count(),
        1
    );
    let last = seen.last().unwrap();
    assert!(last.body["systemInstruction"]["parts"][0]["text"].is_string());
    assert!(last.body.get("cachedContent").is_none());

    let (base, _) = serve(|_, _, _| {
        (429, json!({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}))
    })
    .await;
    let err = GeminiAnalyser::new(gemini(&base, 1_000_000))
        .unwrap()
        .analyse(&analysis_request())
        .await
        .unwrap_err();
    assert!(matches!(err, AnalyseError::Transient { .. }), "{err}");
    let (base, _) = serve(|_, _, _| {
        (400, json!({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}))
    })
    .await;
    let err = GeminiAnalyser::new(gemini(&base, 1_000_000))
        .unwrap()
        .analyse(&analysis_request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AnalyseError::Permanent(m) if m.contains("INVALID_ARGUMENT")),
        "{err}"
    );
    let (base, _) =
        serve(|_, _, _| (200, json!({"promptFeedback": {"blockReason": "SAFETY"}}))).await;
    let err = GeminiAnalyser::new(gemini(&base, 1_000_000))
        .unwrap()
        .analyse(&analysis_request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AnalyseError::Permanent(m) if m.contains("SAFETY")),
        "{err}"
    );
}
