//! The console's live updates through the router: the campaign's event
//! stream sends a snapshot at once, then one per change (and nothing while
//! nothing changes), masked for viewers; the polling route answers the same
//! snapshot; the live events of the campaign's calls (transcript lines,
//! verdicts, fillers, barge-ins) come between snapshots as they happen,
//! a late watcher first gets what the live calls showed so far, and
//! viewers get the lines' text masked.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use serde_json::Value;
use tower::ServiceExt;
use voxdial_app::{Engine, EngineConfig};
use voxdial_conversation::{LiveEvent, Speaker};
use voxdial_domain::{OrgId, Role};
use voxdial_http::auth::MASKED;
use voxdial_testkit::fixtures::{call_for, campaign, lead, t0};

/// Guards only against a hang; a stream answers within one poll normally.
const HANG: Duration = Duration::from_secs(30);

struct World {
    engine: Engine,
    campaign: voxdial_domain::CampaignId,
    phone: String,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store) =
        voxdial_tests::local_engine_with_store(dir.path(), EngineConfig::default());
    let c = campaign("camp-live", t0());
    store.insert_campaign(&c).await.unwrap();
    let l = lead(&c.id, 1, t0());
    store.import_leads(&c.id, vec![l.clone()]).await.unwrap();
    store.create_call(&call_for(&l, 1, t0())).await.unwrap();
    World {
        engine,
        campaign: c.id,
        phone: l.phone.as_str().to_string(),
        _dir: dir,
    }
}

async fn bearer(engine: &Engine, role: Role) -> String {
    let (_, secret) = engine
        .create_api_key(&OrgId::default(), role, "watch")
        .await
        .unwrap();
    format!("Bearer {}", secret.expose())
}

fn get(path: String, auth: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap()
}

/// Reads server-sent events off a body: `(event, data)` pairs.
struct Events {
    body: axum::body::BodyDataStream,
    buffer: String,
}

impl Events {
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_string())
                };
                // Keep-alive comments carry no event.
                if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                    return (event, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(HANG, self.body.next())
                .await
                .expect("no event before the hang guard")
                .expect("the stream ended")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

async fn watch(w: &World, auth: &str) -> Events {
    let app = voxdial_http::api::router(w.engine.clone());
    let path = format!("/v1/campaigns/{}/events", w.campaign);
    let response = app.oneshot(get(path, auth)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Events {
        body: response.into_body().into_data_stream(),
        buffer: String::new(),
    }
}

#[tokio::test]
async fn a_watcher_gets_a_snapshot_at_once_and_another_on_each_change() {
    let w = world().await;
    let auth = bearer(&w.engine, Role::Operator).await;
    let mut events = watch(&w, &auth).await;

    // GIVEN a watcher: the first snapshot comes at once
    let (event, first) = events.next().await;
    assert_eq!(event, "snapshot");
    assert_eq!(first["progress"]["total"], 1);
    assert_eq!(first["calls"][0]["to"], w.phone.as_str());
    let before = first["campaign"]["settings"]["max_concurrency"].clone();

    // WHEN the campaign changes
    w.engine.set_max_concurrency(&w.campaign, 9).await.unwrap();

    // THEN the next event is the changed picture (an unchanged one is never sent)
    let (event, second) = events.next().await;
    assert_eq!(event, "snapshot");
    assert_ne!(before, 9);
    assert_eq!(second["campaign"]["settings"]["max_concurrency"], 9);
    assert_eq!(second["progress"], first["progress"]);
}

#[tokio::test]
async fn viewers_watch_masked_and_the_polling_route_answers_the_same_snapshot() {
    let w = world().await;
    let viewer = bearer(&w.engine, Role::Viewer).await;
    let (_, streamed) = watch(&w, &viewer).await.next().await;
    assert_eq!(streamed["calls"][0]["to"], MASKED);
    assert!(!streamed.to_string().contains(&w.phone));

    let app = voxdial_http::api::router(w.engine.clone());
    let path = format!("/v1/campaigns/{}/snapshot", w.campaign);
    let response = app.oneshot(get(path, &viewer)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let polled: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(polled, streamed);
}

fn line(index: usize, text: &str) -> LiveEvent {
    LiveEvent::Line {
        index,
        speaker: Speaker::Caller,
        at_ms: 1200,
        transcript: text.into(),
    }
}

/// The next `live` event (snapshots skipped).
async fn next_live(events: &mut Events) -> Value {
    loop {
        let (event, data) = events.next().await;
        if event == "live" {
            return data;
        }
    }
}

#[tokio::test]
async fn transcript_lines_reach_watchers_as_they_are_spoken() {
    let w = world().await;
    let call = w.engine.store().calls(&w.campaign, None, 1).await.unwrap()[0]
        .id
        .clone();
    // GIVEN a live call that said something before anyone watched
    let feed = w.engine.live().open(&call, &w.campaign);
    feed.publish(line(0, "Hello, is this Ana?"));
    let auth = bearer(&w.engine, Role::Operator).await;
    let mut events = watch(&w, &auth).await;

    // THEN a watcher gets the snapshot, then what the call showed so far
    assert_eq!(events.next().await.0, "snapshot");
    let first = next_live(&mut events).await;
    assert_eq!(first["call_id"], call.as_str());
    assert_eq!(first["type"], "line");
    assert_eq!(first["transcript"], "Hello, is this Ana?");

    // WHEN the call goes on: a line grows, a barge-in, a line of another campaign's call
    let elsewhere = w.engine.live().open(
        &voxdial_domain::CallId::parse("elsewhere").unwrap(),
        &voxdial_domain::CampaignId::parse("other-campaign").unwrap(),
    );
    elsewhere.publish(line(0, "not this campaign"));
    feed.publish(line(1, "Yes, speaking"));
    feed.publish(LiveEvent::BargeIn { count: 1 });

    // THEN the watcher gets this campaign's events, in order, at once
    let grown = next_live(&mut events).await;
    assert_eq!(
        (grown["index"].as_u64(), grown["transcript"].as_str()),
        (Some(1), Some("Yes, speaking"))
    );
    assert_eq!(grown["speaker"], "caller");
    assert_eq!(grown["at_ms"], 1200);
    let barge = next_live(&mut events).await;
    assert_eq!(
        (barge["type"].as_str(), barge["count"].as_u64()),
        (Some("barge_in"), Some(1))
    );
}

#[tokio::test]
async fn viewers_see_live_lines_masked() {
    let w = world().await;
    let call = w.engine.store().calls(&w.campaign, None, 1).await.unwrap()[0]
        .id
        .clone();
    let viewer = bearer(&w.engine, Role::Viewer).await;
    let mut events = watch(&w, &viewer).await;
    assert_eq!(events.next().await.0, "snapshot");
    let feed = w.engine.live().open(&call, &w.campaign);
    feed.publish(line(0, "my card number is 4111"));
    let masked = next_live(&mut events).await;
    assert_eq!(masked["transcript"], MASKED);
    assert_eq!(masked["type"], "line");
}
