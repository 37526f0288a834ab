//! Analytics end to end, on the local store (SQLite) and on DynamoDB
//! (moto) through the same engine code: a call ends (its terminal event
//! delivered twice), the bridge reports its model tokens (twice), the
//! post-call pipeline analyses it (its job run twice), and `/v1/analytics` and `/v1/analytics.csv` show it once, in
//! the hour it ended, in every dimension it belongs to and only to its
//! organisation; bad ranges get a clear 400.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::postcall::handle_job_delivery;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{Engine, EngineConfig, EventOutcome, JobOutcome, PostCallConfig, PostCallDeps};
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    CallAttempt, CallEvent, CallEventKind, Campaign, CampaignSettings, Clock, Conversation,
    IgnoreReason, Job, MessageQueue, ModelUsage, Money, OrgId, ProviderId, Role, Store,
    quality_score,
};
use voxdial_local::{LocalBlobStore, LocalJobQueue, LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::{compliance, t0};

struct World {
    engine: Engine,
    jobs: Arc<LocalJobQueue>,
    clock: Arc<ManualClock>,
    campaign: Campaign,
    call: CallAttempt,
    _dir: tempfile::TempDir,
}

async fn world(store: Arc<dyn Store>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::shared(t0());
    let clock_port: Arc<dyn Clock> = clock.clone();
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock_port.clone(),
    )
    .unwrap();
    let jobs = Arc::new(
        LocalJobQueue::open(
            dir.path().join("jobs.sqlite"),
            QueueConfig::default(),
            clock_port.clone(),
        )
        .unwrap(),
    );
    let blobs = LocalBlobStore::open(
        dir.path().join("blobs"),
        "http://127.0.0.1:1",
        b"blob-secret".to_vec(),
        clock_port.clone(),
    )
    .unwrap();
    let engine = Engine::new(
        store.clone(),
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock_port,
        EngineConfig::default(),
    )
    .with_blobs(Arc::new(blobs))
    .with_post_call(PostCallDeps {
        jobs: jobs.clone(),
        transcriber: Arc::new(LiveTranscriber),
        analyser: Arc::new(LocalAnalyser),
        poster: None,
        config: PostCallConfig::default(),
    });
    let campaign = engine
        .create_campaign(&OrgId::parse("acme").unwrap(), CampaignSettings::default())
        .await
        .unwrap();
    let csv = "phone,name,consent\n+14155550142,Rosalind Quixote,yes\n";
    engine
        .import_csv(&campaign.id, csv.as_bytes(), Some("US"))
        .await
        .unwrap();
    let claimed = store
        .claim_due(&campaign.id, 5, t0(), t0() + chrono::Duration::hours(1), 1)
        .await
        .unwrap();
    let lead = &claimed[0];
    let mut call = CallAttempt::new(
        campaign.id.clone(),
        lead.id.clone(),
        1,
        lead.phone.clone(),
        compliance(1, t0()),
        t0(),
    );
    call.provider = Some(ProviderId::parse("twilio").unwrap());
    store.create_call(&call).await.unwrap();
    let turns = serde_json::json!([
        {"speaker": "agent", "text": "Hi, this is Ava, an AI assistant calling about solar panels.", "start_ms": 0, "end_ms": 3000},
        {"speaker": "caller", "text": "Yes, I'm interested, tell me more.", "start_ms": 3400, "end_ms": 5000},
    ]);
    engine
        .save_transcript(
            &call.id,
            serde_json::to_vec(&turns).unwrap(),
            "agent: Hi".into(),
        )
        .await
        .unwrap();
    World {
        engine,
        jobs,
        clock,
        campaign,
        call,
        _dir: dir,
    }
}

fn event(w: &World, kind: CallEventKind, sequence: u64) -> CallEvent {
    let mut e = CallEvent::new(
        ProviderId::parse("twilio").unwrap(),
        Some(w.call.id.clone()),
        kind,
    );
    e.sequence = Some(sequence);
    e
}

/// Runs queued jobs until none is left, moving the clock past each delay.
async fn drain(w: &World) {
    for _ in 0..200 {
        let got = w.jobs.receive(10, Duration::from_millis(20)).await.unwrap();
        if got.is_empty() {
            if w.jobs.stats().await.unwrap().hidden == 0 {
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

async fn get(app: &axum::Router, key: &str, path: &str) -> (StatusCode, String, String) {
    let request = Request::get(path)
        .header("authorization", key)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn key(engine: &Engine, org: &str) -> String {
    let (_, secret) = engine
        .create_api_key(&OrgId::parse(org).unwrap(), Role::Viewer, "analytics")
        .await
        .unwrap();
    format!("Bearer {}", secret.expose())
}

const DAY: &str = "from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z";

async fn a_call_counts_once_in_every_view_of_its_organisation(store: Arc<dyn Store>) {
    // GIVEN a call of acme that is answered and ends 90 s after its dial
    let w = world(store).await;
    w.engine
        .apply_event(&event(&w, CallEventKind::Answered, 1))
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(90));
    let mut end = event(&w, CallEventKind::Completed, 2);
    end.duration_secs = Some(80);
    end.price = Some(Money(15_000));
    // WHEN its end is delivered twice and its Process job runs twice
    assert_eq!(
        w.engine.apply_event(&end).await.unwrap(),
        EventOutcome::Ended { released: true }
    );
    assert_eq!(
        w.engine.apply_event(&end).await.unwrap(),
        EventOutcome::Ignored(IgnoreReason::AlreadyTerminal)
    );
    // ... and the bridge reports the model's tokens after the end, twice
    let usage = ModelUsage {
        prompt_tokens: 1_000,
        prompt_audio_tokens: 200,
        response_tokens: 300,
        response_audio_tokens: 250,
        reports: 2,
        cost: None,
    };
    for _ in 0..2 {
        let report = Conversation {
            model_usage: Some(usage),
            ..Conversation::default()
        };
        w.engine
            .record_conversation(&w.call.id, report)
            .await
            .unwrap();
    }
    drain(&w).await;
    let process = Job::Process {
        call_id: w.call.id.clone(),
    };
    assert_eq!(
        w.engine.handle_job(&process, 2).await.unwrap(),
        JobOutcome::Done
    );
    let call = w.engine.call(&w.call.id).await.unwrap();
    let analysis = w.engine.analysis(&w.call.id).await.unwrap();

    // THEN the organisation's analytics show it once, in the 15:00 bucket
    let app = voxdial_http::api::router(w.engine.clone());
    let viewer = key(&w.engine, "acme").await;
    let (status, content_type, body) =
        get(&app, &viewer, &format!("/v1/analytics?{DAY}&bucket=hour")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"));
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["bucket"], "hour");
    let series = report["series"].as_array().unwrap();
    assert_eq!(series.len(), 24, "every hour of the day, zeros included");
    let busy: Vec<&Value> = series.iter().filter(|p| p["calls"] != 0).collect();
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0]["start"], "2026-06-01T15:00:00Z");
    let totals = &report["totals"];
    assert_eq!(totals["calls"], 1);
    assert_eq!(totals["answered"], 1);
    assert_eq!(totals["answer_rate"], 1.0);
    assert_eq!(totals["avg_handle_secs"], 90.0);
    // The call's cost is the carrier's price and the model's tokens at the
    // default rates: text in 800 × 0.5 + audio in 200 × 3 + text out 50 × 2
    // + audio out 250 × 12 USD per million = 4,100 µUSD.
    let priced = call.conversation.as_ref().and_then(|c| c.model_usage);
    assert_eq!(priced.and_then(|u| u.cost), Some(Money(4_100)));
    assert_eq!(totals["cost_micros"], 19_100);
    assert_eq!(totals["cost_per_minute_micros"], 19_100.0 * 60.0 / 80.0);
    // The analysis moved the outcome from `answered` to `interested`.
    assert_eq!(analysis.disposition.label(), "interested");
    assert_eq!(totals["outcomes"], serde_json::json!({"interested": 1}));
    assert_eq!(totals["qualified"], 1);
    assert_eq!(totals["cost_per_qualified_micros"], 19_100.0);
    let sentiment = &totals["sentiment"];
    let label = serde_json::to_value(analysis.sentiment.overall.label).unwrap();
    assert_eq!(sentiment[label.as_str().unwrap()], 1);
    assert_eq!(
        sentiment
            .as_object()
            .unwrap()
            .values()
            .filter(|v| *v == 1)
            .count(),
        1
    );
    for p in &analysis.principles {
        let counted = &totals["principles"][&p.principle];
        match p.verdict {
            voxdial_domain::Verdict::NotApplicable => assert!(counted.is_null()),
            verdict => {
                let passed = i64::from(verdict == voxdial_domain::Verdict::Pass);
                assert_eq!(counted, &serde_json::json!({"passed": passed, "total": 1}));
            }
        }
    }
    let quality = quality_score(&call, &analysis).unwrap();
    let shown = totals["quality_avg"].as_f64().unwrap();
    assert!((shown - quality).abs() < 0.001, "{shown} vs {quality}");
    assert_eq!(totals["quality_count"], 1);

    // ... in every dimension the call belongs to, and in no other
    let agent = w.campaign.settings.agent_id.clone();
    for (filter, calls) in [
        (format!("campaign_id={}", w.campaign.id), 1),
        (format!("agent={agent}"), 1),
        ("provider=twilio".to_string(), 1),
        ("provider=sanspbx".to_string(), 0),
        ("agent=someone-else".to_string(), 0),
    ] {
        let (status, _, body) = get(&app, &viewer, &format!("/v1/analytics?{DAY}&{filter}")).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(report["totals"]["calls"], calls, "{filter}");
        assert_eq!(report["series"].as_array().unwrap().len(), 1, "one day");
    }
    // ... as CSV
    let (status, content_type, csv) = get(
        &app,
        &viewer,
        &format!("/v1/analytics.csv?{DAY}&bucket=hour"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 24 + 1, "header, 24 hours, total");
    assert!(lines[0].starts_with("start,calls,answered,answer_rate,"));
    assert!(lines[0].contains("outcome:interested"));
    assert!(
        lines[16].starts_with("2026-06-01T15:00:00Z,1,1,1,"),
        "{}",
        lines[16]
    );
    assert!(lines[25].starts_with("total,1,1,1,"), "{}", lines[25]);

    // ... and never to another organisation
    let rival = key(&w.engine, "rival").await;
    let (status, _, body) = get(&app, &rival, &format!("/v1/analytics?{DAY}")).await;
    assert_eq!(status, StatusCode::OK);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["totals"]["calls"], 0);
    let (status, _, body) = get(
        &app,
        &rival,
        &format!("/v1/analytics?{DAY}&campaign_id={}", w.campaign.id),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Bad requests say why.
    for (query, why) in [
        ("bucket=week", "bucket"),
        (
            "from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z",
            "must be before",
        ),
        (
            "from=2025-01-01T00:00:00Z&to=2026-06-01T00:00:00Z&bucket=hour",
            "366 days",
        ),
        ("from=yesterday", "RFC 3339"),
        ("campaign_id=c1&provider=twilio", "at most one"),
    ] {
        for route in ["/v1/analytics", "/v1/analytics.csv"] {
            let (status, _, body) = get(&app, &viewer, &format!("{route}?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}?{query}: {body}");
            assert!(body.contains(why), "{route}?{query}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_counts_once_in_every_view_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    a_call_counts_once_in_every_view_of_its_organisation(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_counts_once_in_every_view_on_dynamodb() {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    a_call_counts_once_in_every_view_of_its_organisation(Arc::new(store)).await;
}
