//! Media streams are tied to their call (issue 10, item 2): the answer
//! webhook puts a per-call token in the TwiML, and the engine admits a
//! stream only with that call's unexpired token, for a call that is
//! answered, not ended and never streamed before.
//!
//! Findings reproduced: a `start` naming any call id ran an agent session;
//! a `start` naming a completed call did too; one captured upgrade
//! signature (which covers only the bridge's fixed URL) opened a stream for
//! any call, forever.

use std::sync::Arc;
use std::time::Duration;

use voxdial_app::{AppError, Engine, EngineConfig};
use voxdial_domain::{
    CallAttempt, CallEvent, CallEventKind, CallState, CallStore, ProviderCallSid, WebhookError,
};
use voxdial_local::LocalStore;
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::{provider, t0};
use voxdial_tests::{DialledCalls, twilio_answer};
use voxdial_wire::media_token::MediaTokenKey;

const AUTH_TOKEN: &str = "media-admission-auth-token";
const PUBLIC: &str = "https://hooks.example.com";
const SECRET: &str = "media-admission-token-secret";

struct Setup {
    app: axum::Router,
    engine: Engine,
    clock: Arc<ManualClock>,
    store: Arc<LocalStore>,
    calls: Vec<CallAttempt>,
    _dir: tempfile::TempDir,
}

/// An engine with a media bridge URL and a token key, and two dialled calls.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let world = DialledCalls::new(
        dir.path(),
        2,
        AUTH_TOKEN,
        EngineConfig {
            public_base_url: PUBLIC.into(),
            media_url: Some("wss://media.example.com/media/twilio".into()),
            media_token_key: MediaTokenKey::new(SECRET),
            ..EngineConfig::default()
        },
    )
    .await;
    Setup {
        app: voxdial_http::webhooks::router(world.engine.clone(), Some(PUBLIC.into())),
        engine: world.engine,
        clock: world.clock,
        store: world.store,
        calls: world.calls,
        _dir: dir,
    }
}

/// Twilio asks what to do with the answered `call`; returns the TwiML.
async fn answer(s: &Setup, call: &CallAttempt) -> String {
    twilio_answer(&s.app, AUTH_TOKEN, PUBLIC, call, &sid_of(call)).await
}

/// The provider's id of `call` (its lead's number, in Twilio's shape).
fn sid_of(call: &CallAttempt) -> String {
    format!("CA{:0>32}", call.to.as_str().trim_start_matches('+'))
}

/// The value of the TwiML's `token` parameter.
fn token_in(twiml: &str) -> String {
    let at = twiml
        .find(r#"<Parameter name="token" value=""#)
        .unwrap_or_else(|| panic!("no token parameter in {twiml}"));
    let rest = &twiml[at + r#"<Parameter name="token" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn forbidden(result: Result<CallAttempt, AppError>) -> bool {
    matches!(result, Err(AppError::Webhook(WebhookError::Forbidden)))
}

fn conflict(result: Result<CallAttempt, AppError>) -> bool {
    matches!(result, Err(AppError::Conflict(_)))
}

#[tokio::test]
async fn the_answer_twiml_carries_a_token_that_admits_one_stream_of_its_call() {
    // GIVEN a call Twilio has just answered (its status callback not yet in)
    let s = setup().await;
    let call = &s.calls[0];
    // WHEN the answer webhook builds the TwiML
    let twiml = answer(&s, call).await;
    let token = token_in(&twiml);
    // THEN the call counts as answered, and its token admits its stream once
    let stored = s.store.call(&call.id).await.unwrap().unwrap();
    assert_eq!(stored.state, CallState::Answered);
    let admitted = s
        .engine
        .admit_media_stream(&call.id, Some(&token))
        .await
        .unwrap();
    assert_eq!(admitted.media_stream_at, Some(t0()));
    // AND a second stream for the same call is refused
    assert!(conflict(
        s.engine.admit_media_stream(&call.id, Some(&token)).await
    ));
}

#[tokio::test]
async fn a_stream_without_a_token_is_refused() {
    // Finding: a `start` naming any call id ran an agent session.
    let s = setup().await;
    let call = &s.calls[0];
    answer(&s, call).await;
    assert!(forbidden(s.engine.admit_media_stream(&call.id, None).await));
    assert!(forbidden(
        s.engine.admit_media_stream(&call.id, Some("")).await
    ));
    let stored = s.store.call(&call.id).await.unwrap().unwrap();
    assert_eq!(stored.media_stream_at, None);
}

#[tokio::test]
async fn one_call_s_token_does_not_open_another_call() {
    // Finding: one captured upgrade signature opened a stream for any call.
    let s = setup().await;
    let (a, b) = (&s.calls[0], &s.calls[1]);
    let token_a = token_in(&answer(&s, a).await);
    answer(&s, b).await;
    assert!(forbidden(
        s.engine.admit_media_stream(&b.id, Some(&token_a)).await
    ));
}

#[tokio::test]
async fn a_token_expires_five_minutes_after_the_answer() {
    // Finding: the captured signature worked forever.
    let s = setup().await;
    let call = &s.calls[0];
    let token = token_in(&answer(&s, call).await);
    s.clock.advance(Duration::from_secs(300));
    assert!(forbidden(
        s.engine.admit_media_stream(&call.id, Some(&token)).await
    ));
}

#[tokio::test]
async fn a_completed_call_gets_no_stream_even_with_its_token() {
    // Finding: a `start` naming an already completed call ran a session and
    // overwrote its recording, transcript and conversation figures.
    let s = setup().await;
    let call = &s.calls[0];
    let token = token_in(&answer(&s, call).await);
    let mut completed = CallEvent::new(provider(), Some(call.id.clone()), CallEventKind::Completed);
    completed.provider_sid = Some(ProviderCallSid::parse(sid_of(call)).unwrap());
    completed.sequence = Some(9);
    s.engine.apply_event(&completed).await.unwrap();
    assert!(conflict(
        s.engine.admit_media_stream(&call.id, Some(&token)).await
    ));
}

#[tokio::test]
async fn a_call_that_was_not_answered_gets_no_stream() {
    // GIVEN a valid token for a call that is still ringing (a SansPBX
    // token is issued at dial time)
    let s = setup().await;
    let call = &s.calls[0];
    let key = MediaTokenKey::new(SECRET).unwrap();
    let token = key.issue(call.id.as_str(), t0().timestamp() + 60);
    // THEN its stream is refused until the call is answered
    assert!(conflict(
        s.engine.admit_media_stream(&call.id, Some(&token)).await
    ));
}
