//! The post-call pipeline end to end on the embedded adapters: signed
//! recording webhooks through the HTTP router, downloads from a local
//! server answering like Twilio's recordings API (Basic auth, 503s on
//! demand), the job queue drained on a manual clock, the live transcript,
//! the local analyser, the signed outbound webhook, and erasure.
//!
//! - Duplicate and reordered recording webhooks store once and transcribe
//!   once; a bad signature changes nothing.
//! - Download failures retry with backoff, then fail visibly.
//! - The analysis is POSTed signed, retried after a 500, with the call as
//!   idempotency key.
//! - After an erasure, no file of the data directory and no log line keeps
//!   the lead's number, name or audio; the number stays suppressed.

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::IntoResponse;
use tower::ServiceExt;
use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::postcall::handle_job_delivery;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{Engine, EngineConfig, PostCallConfig, PostCallDeps};
use voxdial_domain::{
    BlobStore, CallAttempt, CallEvent, CallEventKind, CallId, CampaignSettings, Clock,
    Conversation, Disposition, DncScope, LeadStore, MessageQueue, OutboundWebhook, ProviderCallSid,
    ProviderId, RecordingPolicy, RecordingStatus, StageStatus, Store, TranscribeError, Transcriber,
    TranscriberInput, Transcript, TranscriptionRequest,
};
use voxdial_local::{LocalBlobStore, LocalJobQueue, LocalQueue, LocalStore, QueueConfig};
use voxdial_providers::{HttpWebhookPoster, TwilioConfig, TwilioProvider};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;
use voxdial_wire::twilio::forms::encode_form;
use voxdial_wire::twilio::signature::{SignatureAlgorithm, compute_signature};

const ACCOUNT: &str = "AC00000000000000000000000000postc";
const TOKEN: &str = "postcall-test-token";
const PUBLIC: &str = "https://hooks.example.com";
const SECRET: &str = "a-webhook-secret-of-some-length";
/// Bytes in every test recording, to find audio left anywhere.
const AUDIO_MARK: &[u8] = b"VOXDIAL-AUDIO-MARK";

/// The live transcript transcriber, counting its calls.
struct Counting(AtomicU32);

#[async_trait]
impl Transcriber for Counting {
    fn name(&self) -> &str {
        "live"
    }
    fn input(&self) -> TranscriberInput {
        TranscriberInput::LiveTranscript
    }
    async fn transcribe(&self, r: &TranscriptionRequest) -> Result<Transcript, TranscribeError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        LiveTranscriber.transcribe(r).await
    }
}

/// What the fake Twilio recordings API and webhook receiver saw.
#[derive(Default)]
struct Remote {
    downloads: AtomicU32,
    deletes: AtomicU32,
    failing: AtomicU32,
    posts: Mutex<Vec<(HeaderMap, Bytes)>>,
    webhook_failures: AtomicU32,
}

fn recording_wav() -> Vec<u8> {
    // Two channels, 8 kHz, 16-bit, 2 s; the data carries a marker.
    let data_len = 2 * 8000 * 4;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&32000u32.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data_len as u32).to_le_bytes());
    let mut data = vec![0u8; data_len];
    for chunk in data.chunks_mut(4096) {
        let n = AUDIO_MARK.len().min(chunk.len());
        chunk[..n].copy_from_slice(&AUDIO_MARK[..n]);
    }
    b.extend_from_slice(&data);
    b
}

async fn remote_server(remote: Arc<Remote>) -> String {
    async fn download(
        State(r): State<Arc<Remote>>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        r.downloads.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let expected = {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
            )
        };
        if auth != expected {
            return (StatusCode::UNAUTHORIZED, "{\"code\":20003}").into_response();
        }
        if r.failing.load(Ordering::SeqCst) > 0 {
            r.failing.fetch_sub(1, Ordering::SeqCst);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "{\"code\":20503,\"message\":\"Service Unavailable\",\"status\":503}",
            )
                .into_response();
        }
        ([("content-type", "audio/x-wav")], recording_wav()).into_response()
    }
    async fn delete(State(r): State<Arc<Remote>>) -> StatusCode {
        r.deletes.fetch_add(1, Ordering::SeqCst);
        StatusCode::NO_CONTENT
    }
    async fn hook(State(r): State<Arc<Remote>>, headers: HeaderMap, body: Bytes) -> StatusCode {
        r.posts.lock().unwrap().push((headers, body));
        if r.webhook_failures.load(Ordering::SeqCst) > 0 {
            r.webhook_failures.fetch_sub(1, Ordering::SeqCst);
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        StatusCode::OK
    }
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Recordings/{rec}",
            axum::routing::get(download).delete(delete),
        )
        .route("/hook", axum::routing::post(hook))
        .with_state(remote);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

struct World {
    engine: Engine,
    app: axum::Router,
    /// `Bearer` and an admin key of the default organisation.
    auth: String,
    store: Arc<LocalStore>,
    jobs: Arc<LocalJobQueue>,
    clock: Arc<ManualClock>,
    remote: Arc<Remote>,
    transcriber: Arc<Counting>,
    blobs: LocalBlobStore,
    call: CallAttempt,
    dir: tempfile::TempDir,
}

async fn world(fetch_attempts: u32) -> World {
    world_with(fetch_attempts, 50, Some(Disposition::NotInterested)).await
}

/// The world with `max_receives` deliveries of a job before it is
/// dead-lettered, and the disposition the conversation `recorded` (none:
/// the caller hung up before the agent recorded one).
async fn world_with(
    fetch_attempts: u32,
    max_receives: u32,
    recorded: Option<Disposition>,
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.path().join("voxdial.sqlite")).unwrap());
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    let jobs = Arc::new(
        LocalJobQueue::open(
            dir.path().join("jobs.sqlite"),
            QueueConfig {
                visibility_timeout: Duration::from_secs(60),
                max_receives,
            },
            clock.clone(),
        )
        .unwrap(),
    );
    let blobs = LocalBlobStore::open(
        dir.path().join("blobs"),
        "http://127.0.0.1:1",
        b"blob-secret".to_vec(),
        clock.clone(),
    )
    .unwrap();
    let remote = Arc::new(Remote::default());
    let base = remote_server(remote.clone()).await;
    let mut twilio = TwilioConfig::new(ProviderId::parse("twilio").unwrap(), ACCOUNT, TOKEN);
    twilio.api_base = base.clone();
    let twilio = TwilioProvider::new(twilio).unwrap();
    let transcriber = Arc::new(Counting(AtomicU32::new(0)));
    let engine = Engine::new(
        store.clone() as Arc<dyn Store>,
        Arc::new(queue),
        Providers::new().with(Arc::new(twilio)),
        Arc::new(StaticRouter::new(Vec::new())),
        clock.clone(),
        EngineConfig {
            public_base_url: PUBLIC.into(),
            ..EngineConfig::default()
        },
    )
    .with_blobs(Arc::new(blobs.clone()))
    .with_post_call(PostCallDeps {
        jobs: jobs.clone(),
        transcriber: transcriber.clone(),
        analyser: Arc::new(LocalAnalyser),
        poster: Some(Arc::new(
            HttpWebhookPoster::allowing_loopback(Duration::from_secs(5)).unwrap(),
        )),
        config: PostCallConfig {
            fetch_attempts,
            suppression_key: b"test-suppression-key".to_vec(),
            ..PostCallConfig::default()
        },
    });
    let settings = CampaignSettings {
        recording: RecordingPolicy::All,
        webhook: Some(OutboundWebhook {
            url: format!("{base}/hook"),
            secret: Some(SECRET.into()),
        }),
        ..CampaignSettings::default()
    };
    let campaign = engine
        .create_campaign(&voxdial_domain::OrgId::default(), settings)
        .await
        .unwrap();
    let csv = "phone,name,consent\n+14155550142,Rosalind Quixote,yes\n";
    engine
        .import_csv(&campaign.id, csv.as_bytes(), Some("US"))
        .await
        .unwrap();
    let lead = engine.leads_page(&campaign.id, None, 10).await.unwrap()[0].clone();
    let claimed = store
        .claim_due(&campaign.id, 5, t0(), t0() + chrono::Duration::hours(1), 1)
        .await
        .unwrap();
    assert_eq!(claimed[0].id, lead.id);
    let mut call = CallAttempt::new(
        campaign.id.clone(),
        lead.id.clone(),
        1,
        lead.phone.clone(),
        voxdial_testkit::fixtures::compliance(1, t0()),
        t0(),
    );
    call.provider = Some(ProviderId::parse("twilio").unwrap());
    call.provider_sid = Some(ProviderCallSid::parse("CA0001").unwrap());
    voxdial_domain::CallStore::create_call(&*store, &call)
        .await
        .unwrap();
    // The bridge's live transcript and report, then the call ends.
    let turns = serde_json::json!([
        {"speaker": "agent", "text": "Hi Rosalind, this is Ava, an AI assistant calling about solar panels.", "start_ms": 0, "end_ms": 3000},
        {"speaker": "caller", "text": "No thanks, I'm not interested.", "start_ms": 3400, "end_ms": 5000},
        {"speaker": "agent", "text": "I understand, thank you for your time. Goodbye.", "start_ms": 5300, "end_ms": 7000}
    ]);
    engine
        .save_transcript(
            &call.id,
            serde_json::to_vec(&turns).unwrap(),
            "agent: Hi Rosalind".into(),
        )
        .await
        .unwrap();
    if let Some(d) = recorded {
        engine.record_disposition(&call.id, d).await.unwrap();
    }
    let mut answered = CallEvent::new(
        ProviderId::parse("twilio").unwrap(),
        Some(call.id.clone()),
        CallEventKind::Answered,
    );
    answered.sequence = Some(2);
    engine.apply_event(&answered).await.unwrap();
    engine
        .record_conversation(
            &call.id,
            Conversation {
                duration_ms: 7000,
                end_reason: Some("caller_hung_up".into()),
                ..Conversation::default()
            },
        )
        .await
        .unwrap();
    let mut done = answered.clone();
    done.kind = CallEventKind::Completed;
    done.sequence = Some(3);
    done.duration_secs = Some(7);
    engine.apply_event(&done).await.unwrap();
    let call = engine.call(&call.id).await.unwrap();
    let (_, key) = engine
        .create_api_key(
            &voxdial_domain::OrgId::default(),
            voxdial_domain::Role::Admin,
            "test",
        )
        .await
        .unwrap();
    let auth = format!("Bearer {}", key.expose());
    let app = voxdial_http::api::router(engine.clone()).merge(voxdial_http::webhooks::router(
        engine.clone(),
        Some(PUBLIC.into()),
    ));
    World {
        engine,
        app,
        auth,
        store,
        jobs,
        clock,
        remote,
        transcriber,
        blobs,
        call,
        dir,
    }
}

fn recording_form(status: &str) -> Vec<(String, String)> {
    [
        ("AccountSid", ACCOUNT),
        ("CallSid", "CA0001"),
        ("RecordingSid", "RE00000000000000000000000000000001"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE00000000000000000000000000000001",
        ),
        ("RecordingStatus", status),
        ("RecordingDuration", "2"),
        ("RecordingChannels", "2"),
        ("RecordingSource", "OutboundAPI"),
        ("ErrorCode", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn post_recording(w: &World, status: &str, sign_with: &str) -> StatusCode {
    let path = format!(
        "/webhooks/twilio/recording?campaign_id={}&call_id={}",
        w.call.campaign_id, w.call.id
    );
    let pairs = recording_form(status);
    let signature = compute_signature(
        sign_with.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{PUBLIC}{path}"),
        &pairs,
    );
    let request = Request::post(&path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(Body::from(encode_form(&pairs)))
        .unwrap();
    w.app.clone().oneshot(request).await.unwrap().status()
}

/// Runs queued jobs until none is left, moving the clock past each delay.
async fn drain(w: &World) {
    for _ in 0..200 {
        let got = w.jobs.receive(10, Duration::from_millis(20)).await.unwrap();
        if got.is_empty() {
            let stats = w.jobs.stats().await.unwrap();
            if stats.hidden == 0 {
                return;
            }
            w.clock.advance(Duration::from_secs(60));
            continue;
        }
        for delivery in got {
            handle_job_delivery(&w.engine, w.jobs.as_ref(), delivery).await;
        }
    }
    panic!("the job queue did not drain");
}

async fn call(w: &World) -> CallAttempt {
    w.engine.call(&w.call.id).await.unwrap()
}

#[tokio::test]
async fn duplicate_and_reordered_webhooks_store_once_and_transcribe_once() {
    let w = world(5).await;
    // GIVEN a wrongly signed webhook: 403, nothing changes.
    let before = call(&w).await;
    assert_eq!(
        post_recording(&w, "completed", "not-the-token").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call(&w).await, before);
    // WHEN the completed webhook arrives twice, then a late in-progress.
    for status in ["completed", "completed", "in-progress"] {
        assert_eq!(post_recording(&w, status, TOKEN).await, StatusCode::OK);
    }
    drain(&w).await;
    // and once more after everything ran.
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    // THEN one download, one verified copy, the provider's copy deleted,
    // one transcription, one analysis, one delivery.
    let c = call(&w).await;
    let rec = c.post_call.recording.clone().unwrap();
    assert_eq!(rec.status, RecordingStatus::Stored);
    assert_eq!(w.remote.downloads.load(Ordering::SeqCst), 1);
    assert_eq!(w.remote.deletes.load(Ordering::SeqCst), 1);
    assert!(rec.provider_copy_deleted);
    assert_eq!(rec.channels, Some(2));
    assert_eq!(rec.duration_secs, Some(2));
    assert_eq!(
        w.transcriber.0.load(Ordering::SeqCst),
        1,
        "transcribed once"
    );
    let t = c.post_call.transcript.clone().unwrap();
    assert_eq!((t.status, t.segments), (StageStatus::Done, 3));
    let a = c.post_call.analysis.clone().unwrap();
    assert_eq!(a.status, StageStatus::Done);
    assert_eq!(a.disposition.unwrap().label(), "not_interested");
    assert!(a.principles_passed >= 2, "{a:?}");
    // Outside requests: the download and the deletion (the transcriber
    // reads the live transcript, the analyser is local).
    assert_eq!(a.external_calls, 2);
    let analysis = w.engine.analysis(&c.id).await.unwrap();
    assert_eq!(analysis.engine, "local");
    // The blob store has the recording, the transcript and the analysis.
    let keys = w.blobs.list("").await.unwrap();
    for kind in ["provider.wav", "segments.json", "analyses/"] {
        assert_eq!(
            keys.iter().filter(|k| k.contains(kind)).count(),
            1,
            "{kind}: {keys:?}"
        );
    }
    let posts = w.remote.posts.lock().unwrap();
    assert_eq!(posts.len(), 1, "delivered once");
}

#[tokio::test]
async fn download_failures_retry_then_fail_visibly() {
    let w = world(3).await;
    w.remote.failing.store(100, Ordering::SeqCst);
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let c = call(&w).await;
    let rec = c.post_call.recording.clone().unwrap();
    assert_eq!(rec.status, RecordingStatus::Failed);
    assert_eq!(rec.fetch_attempts, 3);
    assert_eq!(
        w.remote.downloads.load(Ordering::SeqCst),
        3,
        "three attempts"
    );
    let why = rec.failure.unwrap();
    assert!(why.contains("attempt 3") && why.contains("503"), "{why}");
    // The analysis went on without the recording (the live transcript).
    assert_eq!(
        c.post_call.analysis.unwrap().disposition.unwrap().label(),
        "not_interested"
    );
}

#[tokio::test]
async fn the_analysis_is_posted_signed_and_retried() {
    let w = world(5).await;
    w.remote.webhook_failures.store(1, Ordering::SeqCst);
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let c = call(&w).await;
    let d = c.post_call.delivery.unwrap();
    assert_eq!(
        (d.status, d.attempts, d.last_status),
        (StageStatus::Done, 2, Some(200))
    );
    let posts = w.remote.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 2);
    for (headers, body) in posts.iter() {
        let signature = headers["voxdial-signature"].to_str().unwrap();
        assert!(voxdial_app::outbound::verify_signature(
            SECRET.as_bytes(),
            signature,
            body,
            w.clock.now(),
            Duration::from_secs(3600),
        ));
        assert_eq!(headers["voxdial-idempotency-key"], c.id.as_str());
        let event: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["analysis"]["disposition"], "not_interested");
    }
    // The API never shows the secret.
    let response = w
        .app
        .clone()
        .oneshot(
            Request::get(format!("/v1/campaigns/{}", c.campaign_id))
                .header("authorization", &w.auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&body).contains(SECRET));
}

/// The lead of the world's call.
async fn lead(w: &World) -> voxdial_domain::Lead {
    w.store.lead(&w.call.lead_id).await.unwrap().unwrap()
}

/// GIVEN a conversation that ended before the agent recorded a disposition
/// (the caller said "not interested" and hung up)
/// WHEN the post-call pipeline analyses it
/// THEN the lead's final outcome is the analysed disposition, with the
/// analysis as its source, and the campaign counts it so.
#[tokio::test]
async fn a_bare_answer_takes_the_analysed_disposition() {
    let w = world_with(5, 50, None).await;
    let before = lead(&w).await;
    assert_eq!(
        before.state.final_call_outcome().map(|o| o.label()),
        Some("answered")
    );
    assert_eq!(
        before.outcome_source,
        Some(voxdial_domain::OutcomeSource::Provider)
    );
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let after = lead(&w).await;
    assert_eq!(
        after.state.final_call_outcome().map(|o| o.label()),
        Some("not_interested")
    );
    assert_eq!(
        after.outcome_source,
        Some(voxdial_domain::OutcomeSource::Analysis)
    );
    let progress = w
        .engine
        .campaign_view(&w.call.campaign_id)
        .await
        .unwrap()
        .progress;
    assert_eq!(
        progress.finals.get("not_interested"),
        Some(&1),
        "{:?}",
        progress.finals
    );
    assert_eq!(
        progress.finals.get("answered"),
        None,
        "{:?}",
        progress.finals
    );
}

/// GIVEN a conversation that recorded its disposition
/// WHEN the post-call pipeline analyses it
/// THEN the outcome stays the conversation's, with that source.
#[tokio::test]
async fn a_recorded_disposition_keeps_the_conversation_as_its_source() {
    let w = world(5).await;
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let after = lead(&w).await;
    assert_eq!(
        after.state.final_call_outcome().map(|o| o.label()),
        Some("not_interested")
    );
    assert_eq!(
        after.outcome_source,
        Some(voxdial_domain::OutcomeSource::Conversation)
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// A log writer shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn erasure_leaves_no_number_name_or_audio_anywhere() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber_for_test(move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = world(5).await;
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let c = call(&w).await;
    assert_eq!(
        c.post_call.recording.as_ref().unwrap().status,
        RecordingStatus::Stored
    );
    // The person opted out on another call: the number is on the list.
    w.engine
        .add_dnc(
            &DncScope::Organisation(voxdial_domain::OrgId::default()),
            std::slice::from_ref(&c.to),
        )
        .await
        .unwrap();
    let number = c.to.as_str().to_string();
    let national = number.trim_start_matches("+1").to_string();
    let name = "Rosalind Quixote";
    let lead = c.lead_id.clone();
    assert!(
        contains_anywhere(w.dir.path(), number.as_bytes()),
        "the number is stored before"
    );

    // WHEN the lead is erased through the API.
    let response = w
        .app
        .clone()
        .oneshot(
            Request::post(format!("/v1/leads/{lead}/erase"))
                .header("authorization", &w.auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stone: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stone["calls_erased"], 1);
    assert_eq!(stone["suppressions_kept"], 1);
    assert!(stone["blobs_erased"].as_u64().unwrap() >= 4, "{stone}");

    // THEN the tombstone reads back, without personal data.
    let again = w
        .app
        .clone()
        .oneshot(
            Request::get(format!("/v1/leads/{lead}/erasure"))
                .header("authorization", &w.auth)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let text = stone.to_string();
    assert!(!text.contains(&national) && !text.contains("Rosalind"));
    // No file keeps the number, the name or the audio.
    for needle in [
        number.as_bytes(),
        national.as_bytes(),
        name.as_bytes(),
        AUDIO_MARK,
    ] {
        assert!(
            !contains_anywhere(w.dir.path(), needle),
            "{:?} is still in a file",
            String::from_utf8_lossy(needle)
        );
    }
    // No log line does.
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("lead erased"), "logs were captured");
    for needle in [&number, &national, &name.to_string()] {
        assert!(!logged.contains(needle.as_str()), "{needle} is in the logs");
    }
    // The number stays suppressed, by its keyed hash.
    let campaign = w.engine.campaign(&c.campaign_id).await.unwrap();
    let hit = w.engine.do_not_call(&campaign, &c.to).await.unwrap();
    assert!(hit.global);
    assert_eq!(w.store.lead(&lead).await.unwrap(), None);
    assert!(w.engine.call(&CallId::for_attempt(&lead, 1)).await.is_err());
}

fn contains_anywhere(dir: &std::path::Path, needle: &[u8]) -> bool {
    walk(dir).iter().any(|path| {
        std::fs::read(path)
            .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

fn tracing_subscriber_for_test(
    make: impl Fn() -> Logs + Send + Sync + 'static,
) -> impl tracing::Subscriber + Send + Sync {
    struct Make<F>(F);
    impl<'a, F: Fn() -> Logs> tracing_subscriber::fmt::MakeWriter<'a> for Make<F> {
        type Writer = Logs;
        fn make_writer(&'a self) -> Logs {
            (self.0)()
        }
    }
    let _ = std::io::stderr().flush();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(Make(make))
        .with_ansi(false)
        .finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callees_under_two_party_consent_hear_the_recording_notice() {
    // GIVEN a recorded campaign and its Californian callee
    let w = world(1).await;
    let mut campaign = w
        .engine
        .campaign_view(&w.call.campaign_id)
        .await
        .unwrap()
        .campaign;
    let california = w.call.to.clone();
    let new_york = voxdial_domain::E164::parse("+12125550100", None).unwrap();

    // THEN California (two-party consent) hears the notice, New York does not
    assert!(w.engine.consent_notice(&campaign, &california));
    assert!(!w.engine.consent_notice(&campaign, &new_york));

    // AND nobody does when the campaign records nothing
    campaign.settings.recording = RecordingPolicy::Off;
    assert!(!w.engine.consent_notice(&campaign, &california));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_recording_needs_no_outside_request() {
    // GIVEN an ended call whose media bridge recorded both channels
    let w = world(1).await;
    let wav = w.dir.path().join("bridge-spool.wav");
    std::fs::write(&wav, recording_wav()).unwrap();
    w.engine.save_recording(&w.call.id, &wav).await.unwrap();

    // WHEN its processing runs
    drain(&w).await;

    // THEN the bridge's copy is the call's recording, nothing was asked of
    // the provider, and the analysis counts no outside request
    let c = call(&w).await;
    let rec = c.post_call.recording.clone().unwrap();
    assert_eq!(
        (rec.source, rec.status),
        (
            voxdial_domain::RecordingSource::Bridge,
            RecordingStatus::Stored
        )
    );
    assert_eq!(w.remote.downloads.load(Ordering::SeqCst), 0);
    assert_eq!(w.remote.deletes.load(Ordering::SeqCst), 0);
    let a = c.post_call.analysis.clone().unwrap();
    assert_eq!(a.status, StageStatus::Done);
    assert_eq!(a.external_calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_recording_never_dead_letters_the_job() {
    // GIVEN a job queue that dead-letters a job after 5 deliveries, and a
    // provider recording announced but never completed
    let w = world_with(5, 5, Some(Disposition::NotInterested)).await;
    assert_eq!(
        post_recording(&w, "in-progress", TOKEN).await,
        StatusCode::OK
    );

    // WHEN the call's processing waits for it (a poll every few seconds,
    // for ten minutes) and then goes on without it
    drain(&w).await;

    // THEN the call is analysed and no job reached the dead letters
    let a = call(&w).await.post_call.analysis.unwrap();
    assert_eq!(a.status, StageStatus::Done);
    assert_eq!(w.jobs.stats().await.unwrap().dead, 0);
}

#[tokio::test]
async fn retention_deletes_the_files_when_it_ends_and_not_before() {
    // GIVEN a stored, transcribed and analysed recording (90 days' retention)
    let w = world(5).await;
    assert_eq!(post_recording(&w, "completed", TOKEN).await, StatusCode::OK);
    drain(&w).await;
    let stored = call(&w).await;
    let purge_at = stored.post_call.retention.clone().unwrap().purge_at;
    let blobs = || async { w.blobs.list("").await.unwrap() };
    let kept = blobs().await;
    assert!(kept.iter().any(|k| k.contains("provider.wav")), "{kept:?}");
    assert!(kept.iter().any(|k| k.contains("analyses/")), "{kept:?}");

    // WHEN the sweeper runs a second before the retention ends
    w.clock.advance(
        (purge_at - w.clock.now() - chrono::Duration::seconds(1))
            .to_std()
            .unwrap(),
    );
    assert_eq!(w.engine.purge_due().await.unwrap(), 0);
    // THEN nothing is deleted
    assert_eq!(blobs().await, kept);

    // WHEN it runs once the retention ended
    w.clock.advance(Duration::from_secs(2));
    assert_eq!(w.engine.purge_due().await.unwrap(), 1);

    // THEN the call's files are gone, the record says so, and a second
    // sweep has nothing left to do
    let left: Vec<String> = blobs()
        .await
        .into_iter()
        .filter(|f| f.contains(stored.id.as_str()))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let c = call(&w).await;
    assert_eq!(
        c.post_call.recording.unwrap().status,
        RecordingStatus::Purged
    );
    assert!(c.post_call.retention.unwrap().purged_at.is_some());
    assert_eq!(w.engine.purge_due().await.unwrap(), 0);
}
