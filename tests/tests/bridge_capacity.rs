//! The answer webhook respects the media bridges' capacity (issue 13,
//! item 3): while a bridge has a free place the answered call gets its
//! media stream; when every bridge is full (or none reported recently) it
//! gets the voicemail-or-callback path, the campaign's voicemail message
//! and a callback scheduled, never a stream nobody takes.

use std::sync::Arc;
use std::time::Duration;

use voxdial_app::EngineConfig;
use voxdial_domain::{
    BridgeFleet, BridgeLoad, BridgeTaskId, CallAttempt, CallStore, Clock, Disposition,
};
use voxdial_local::LocalStore;
use voxdial_testkit::ManualClock;
use voxdial_tests::{DialledCalls, twilio_answer};
use voxdial_wire::media_token::MediaTokenKey;
use voxdial_wire::twilio::twiml::{Response, Verb};

const AUTH_TOKEN: &str = "bridge-capacity-auth-token";
const PUBLIC: &str = "https://hooks.example.com";

struct Setup {
    app: axum::Router,
    clock: Arc<ManualClock>,
    store: Arc<LocalStore>,
    call: CallAttempt,
    _dir: tempfile::TempDir,
}

/// An engine with a media bridge URL whose fleet is the store, and one
/// dialled call.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let world = DialledCalls::new(
        dir.path(),
        1,
        AUTH_TOKEN,
        EngineConfig {
            public_base_url: PUBLIC.into(),
            media_url: Some("wss://media.example.com/media/twilio".into()),
            media_token_key: MediaTokenKey::new("bridge-capacity-token-secret"),
            ..EngineConfig::default()
        },
    )
    .await;
    let engine = world
        .engine
        .with_bridge_fleet(world.store.clone() as Arc<dyn BridgeFleet>);
    Setup {
        app: voxdial_http::webhooks::router(engine, Some(PUBLIC.into())),
        clock: world.clock,
        store: world.store,
        call: world.calls[0].clone(),
        _dir: dir,
    }
}

/// A bridge task reports `live` calls of `capacity`, valid for 30 s.
async fn report(s: &Setup, task: &str, live: u32, capacity: u32) {
    s.store
        .report_bridge_load(&BridgeLoad {
            task: BridgeTaskId::parse(task).unwrap(),
            live,
            capacity,
            expires_at: s.clock.now() + chrono::Duration::seconds(30),
            peer: None,
            calls: Vec::new(),
        })
        .await
        .unwrap();
}

/// Twilio asks what to do with the answered call; returns the TwiML.
async fn answer(s: &Setup) -> String {
    twilio_answer(
        &s.app,
        AUTH_TOKEN,
        PUBLIC,
        &s.call,
        "CA00000000000000000000000000000001",
    )
    .await
}

/// The verbs of a TwiML answer.
fn verbs(twiml: &str) -> Vec<Verb> {
    Response::parse(twiml)
        .unwrap_or_else(|e| panic!("{e}: {twiml}"))
        .verbs
}

/// The TwiML is the voicemail-or-callback path, and the call has its callback.
async fn assert_fallback(s: &Setup, twiml: &str) {
    match verbs(twiml).as_slice() {
        [Verb::Say(say), Verb::Hangup] => {
            assert!(say.text.contains("We will try you again later"), "{twiml}")
        }
        _ => panic!("not the voicemail message and a hang-up: {twiml}"),
    }
    let stored = s.store.call(&s.call.id).await.unwrap().unwrap();
    assert_eq!(stored.disposition, Some(Disposition::CallbackRequested));
    assert!(stored.callback_at.is_some_and(|at| at > s.clock.now()));
}

#[tokio::test]
async fn a_full_fleet_answers_with_the_voicemail_message_and_a_callback() {
    // GIVEN two bridge tasks, one full and one draining
    let s = setup().await;
    report(&s, "task-a", 20, 20).await;
    report(&s, "task-b", 3, 0).await;
    // WHEN a person answers
    let twiml = answer(&s).await;
    // THEN no stream: the voicemail message, and a callback scheduled
    assert_fallback(&s, &twiml).await;
}

#[tokio::test]
async fn a_fleet_with_a_free_place_connects_the_stream() {
    let s = setup().await;
    report(&s, "task-a", 20, 20).await;
    report(&s, "task-b", 19, 20).await;
    let twiml = answer(&s).await;
    assert!(
        matches!(verbs(&twiml).as_slice(), [Verb::Connect(_)]),
        "{twiml}"
    );
    let stored = s.store.call(&s.call.id).await.unwrap().unwrap();
    assert_eq!(stored.callback_at, None);
}

#[tokio::test]
async fn a_fleet_not_heard_from_is_full() {
    // GIVEN a task that reported room, then stopped reporting (it died)
    let s = setup().await;
    report(&s, "task-a", 0, 20).await;
    s.clock.advance(Duration::from_secs(30));
    // WHEN a person answers after its report expired
    let twiml = answer(&s).await;
    // THEN no stream goes to it
    assert_fallback(&s, &twiml).await;
}
