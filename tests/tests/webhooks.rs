//! Status webhooks through the HTTP router: the public URL is rebuilt from
//! the configured base, the Twilio signature is checked over it, and a
//! missing, wrong or tampered signature gets 403 and changes nothing; so do
//! an unsigned raw body, another account's webhook and a webhook naming
//! another provider call than the one stored.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use voxdial_app::EngineConfig;
use voxdial_domain::{CallAttempt, CallState, CallStore};
use voxdial_local::LocalStore;
use voxdial_tests::DialledCalls;
use voxdial_wire::twilio::forms::encode_form;
use voxdial_wire::twilio::signature::{SignatureAlgorithm, compute_signature};

const TOKEN: &str = "webhook-test-token";
const PUBLIC: &str = "https://hooks.example.com";

struct Setup {
    app: axum::Router,
    store: Arc<LocalStore>,
    call: CallAttempt,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        public_base_url: PUBLIC.into(),
        ..EngineConfig::default()
    };
    let world = DialledCalls::new(dir.path(), 1, TOKEN, config).await;
    Setup {
        app: voxdial_http::webhooks::router(world.engine, Some(PUBLIC.into())),
        store: world.store,
        call: world.calls[0].clone(),
        _dir: dir,
    }
}

fn ringing(call: &CallAttempt) -> (String, Vec<(String, String)>) {
    let path = format!(
        "/webhooks/twilio/status?campaign_id={}&call_id={}",
        call.campaign_id, call.id
    );
    let pairs = [
        ("AccountSid", "AC123"),
        ("CallSid", "CA0001"),
        ("CallStatus", "ringing"),
        ("SequenceNumber", "1"),
        ("To", call.to.as_str()),
        ("CallerZip", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    (path, pairs)
}

fn post(path: &str, body: String, signature: Option<String>) -> Request<Body> {
    let mut request =
        Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    request.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn a_signed_callback_is_applied_over_the_public_url() {
    let s = setup().await;
    let (path, pairs) = ringing(&s.call);
    let signature = compute_signature(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{PUBLIC}{path}"),
        &pairs,
    );
    let response = s
        .app
        .clone()
        .oneshot(post(&path, encode_form(&pairs), Some(signature)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stored = s.store.call(&s.call.id).await.unwrap().unwrap();
    assert_eq!(stored.state, CallState::Ringing);
    assert_eq!(stored.provider_sid.unwrap().as_str(), "CA0001");
}

#[tokio::test]
async fn bad_signatures_get_403_and_change_nothing() {
    let s = setup().await;
    let (path, pairs) = ringing(&s.call);
    let public = format!("{PUBLIC}{path}");
    let wrong_key = compute_signature(
        b"another-token",
        SignatureAlgorithm::HmacSha1,
        &public,
        &pairs,
    );
    let internal_url = compute_signature(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("http://127.0.0.1:8080{path}"),
        &pairs,
    );
    let good = compute_signature(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &public,
        &pairs,
    );
    let mut tampered = pairs.clone();
    tampered[2].1 = "completed".into();
    let cases = [
        ("unsigned", encode_form(&pairs), None),
        ("wrong key", encode_form(&pairs), Some(wrong_key)),
        (
            "signed over the internal URL",
            encode_form(&pairs),
            Some(internal_url),
        ),
        ("tampered body", encode_form(&tampered), Some(good)),
    ];
    for (name, body, signature) in cases {
        let response = s
            .app
            .clone()
            .oneshot(post(&path, body, signature))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        assert_eq!(
            s.store.call(&s.call.id).await.unwrap().unwrap(),
            s.call,
            "{name} changed the call"
        );
    }
}

#[tokio::test]
async fn malformed_callbacks_get_400() {
    let s = setup().await;
    let path = "/webhooks/twilio/status?call_id=bad%20id".to_string();
    let pairs = vec![("CallSid".to_string(), "CA1".to_string())];
    let signature = compute_signature(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{PUBLIC}{path}"),
        &pairs,
    );
    let response = s
        .app
        .clone()
        .oneshot(post(&path, encode_form(&pairs), Some(signature)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let unknown = s
        .app
        .clone()
        .oneshot(post("/webhooks/nobody/status", String::new(), None))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

fn signed(path: &str, pairs: &[(String, String)]) -> Request<Body> {
    let signature = compute_signature(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{PUBLIC}{path}"),
        pairs,
    );
    post(path, encode_form(pairs), Some(signature))
}

fn with(pairs: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), if k == name { value.into() } else { v.clone() }))
        .collect()
}

#[tokio::test]
async fn a_raw_body_signed_by_the_url_alone_gets_403_and_changes_nothing() {
    let s = setup().await;
    let (path, pairs) = ringing(&s.call);
    // GIVEN a signature over the URL alone (what a captured GET carries)
    let url_only = compute_signature::<&str, &str>(
        TOKEN.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{PUBLIC}{path}"),
        &[],
    );
    for content_type in [Some("text/plain"), None] {
        // WHEN a status body rides along without a form content type
        let mut request = Request::post(&path).header("x-twilio-signature", &url_only);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let request = request.body(Body::from(encode_form(&pairs))).unwrap();
        let response = s.app.clone().oneshot(request).await.unwrap();
        // THEN it is refused and the call is untouched
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{content_type:?}");
        assert_eq!(s.store.call(&s.call.id).await.unwrap().unwrap(), s.call);
    }
}

#[tokio::test]
async fn another_accounts_webhook_gets_403_and_changes_nothing() {
    let s = setup().await;
    let (path, pairs) = ringing(&s.call);
    let foreign = with(&pairs, "AccountSid", "AC999");
    let response = s
        .app
        .clone()
        .oneshot(signed(&path, &foreign))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.store.call(&s.call.id).await.unwrap().unwrap(), s.call);
}

#[tokio::test]
async fn a_callback_for_another_provider_call_gets_403_and_changes_nothing() {
    let s = setup().await;
    let (path, pairs) = ringing(&s.call);
    // GIVEN the call is known to the provider as CA0001
    let response = s.app.clone().oneshot(signed(&path, &pairs)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ringing = s.store.call(&s.call.id).await.unwrap().unwrap();
    // WHEN a signed callback of another provider call names this call's id
    let other = with(&pairs, "CallSid", "CA0002");
    let completed = with(
        &with(&other, "CallStatus", "completed"),
        "SequenceNumber",
        "2",
    );
    for body in [other, completed] {
        let response = s.app.clone().oneshot(signed(&path, &body)).await.unwrap();
        // THEN it is refused and the call keeps its state
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(s.store.call(&s.call.id).await.unwrap().unwrap(), ringing);
    }
    // The same for its answer webhook.
    let answer_path = path.replace("/status?", "/answer?");
    let answer = vec![
        ("AccountSid".to_string(), "AC123".to_string()),
        ("CallSid".to_string(), "CA0002".to_string()),
        ("CallStatus".to_string(), "in-progress".to_string()),
        ("AnsweredBy".to_string(), "machine_end_beep".to_string()),
    ];
    let response = s
        .app
        .clone()
        .oneshot(signed(&answer_path, &answer))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.store.call(&s.call.id).await.unwrap().unwrap(), ringing);
}
