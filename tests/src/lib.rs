//! Shared helpers of voxdial's end-to-end tests.
//!
//! # Layout
//!
//! - [`model`]: a deterministic model of a carrier ([`model::ModelCarrier`])
//!   that implements the provider port in-process, counts what a carrier
//!   sees (simultaneous calls per campaign, dials per attempt) and hands
//!   its status events to the test to deliver in any order, duplicated or
//!   not at all.
//! - [`world`]: the engine on the embedded store and queue with a manual
//!   clock and model carriers, and the random driver of the property tests.

pub mod model;
pub mod world;

use std::sync::Arc;

/// An engine answering Twilio's webhooks: one Twilio account (`AC123`,
/// signing with `auth_token`), a manual clock at
/// [`voxdial_testkit::fixtures::t0`], and one campaign whose first `n`
/// leads each hold a dialled call. For the webhook tests.
pub struct DialledCalls {
    /// The engine, with `config`.
    pub engine: voxdial_app::Engine,
    /// Its clock.
    pub clock: Arc<voxdial_testkit::ManualClock>,
    /// Its store.
    pub store: Arc<voxdial_local::LocalStore>,
    /// The dialled calls, one per lead.
    pub calls: Vec<voxdial_domain::CallAttempt>,
}

impl DialledCalls {
    /// Builds it in `dir`.
    pub async fn new(
        dir: &std::path::Path,
        n: usize,
        auth_token: &str,
        config: voxdial_app::EngineConfig,
    ) -> DialledCalls {
        use voxdial_domain::{CallStore, CampaignStore, LeadStore};
        use voxdial_testkit::fixtures::{call_for, campaign, leads, t0};
        let clock = voxdial_testkit::ManualClock::shared(t0());
        let clock_port: Arc<dyn voxdial_domain::Clock> = clock.clone();
        let store =
            Arc::new(voxdial_local::LocalStore::open(dir.join("s.sqlite")).expect("a store"));
        let queue = voxdial_local::LocalQueue::open(
            dir.join("q.sqlite"),
            voxdial_local::QueueConfig::default(),
            clock_port.clone(),
        )
        .expect("a queue");
        let c = campaign("camp", t0());
        store.insert_campaign(&c).await.expect("the campaign");
        store
            .import_leads(&c.id, leads(&c.id, 0..n, t0()))
            .await
            .expect("the leads");
        let claimed = store
            .claim_due(&c.id, 5, t0(), t0() + chrono::Duration::hours(1), n)
            .await
            .expect("the leads' slots");
        let mut calls = Vec::new();
        for lead in &claimed {
            let call = call_for(lead, 1, t0());
            store.create_call(&call).await.expect("the call");
            calls.push(call);
        }
        let twilio = voxdial_providers::TwilioProvider::new(voxdial_providers::TwilioConfig::new(
            voxdial_domain::ProviderId::parse("twilio").expect("an id"),
            "AC123",
            auth_token,
        ))
        .expect("a Twilio account");
        let engine = voxdial_app::Engine::new(
            store.clone(),
            Arc::new(queue),
            voxdial_app::router::Providers::new().with(Arc::new(twilio)),
            Arc::new(voxdial_app::router::StaticRouter::new(Vec::new())),
            clock_port,
            config,
        );
        DialledCalls {
            engine,
            clock,
            store,
            calls,
        }
    }
}

/// An engine on a fresh SQLite store and queue in `dir`: no providers, a
/// manual clock at [`voxdial_testkit::fixtures::t0`], human agents kept in
/// the store. For tests that drive the API or the engine directly.
pub fn local_engine(
    dir: &std::path::Path,
    config: voxdial_app::EngineConfig,
) -> voxdial_app::Engine {
    local_engine_with_store(dir, config).0
}

/// [`local_engine`] and the store under it, for tests that seed records
/// directly.
pub fn local_engine_with_store(
    dir: &std::path::Path,
    config: voxdial_app::EngineConfig,
) -> (
    voxdial_app::Engine,
    std::sync::Arc<dyn voxdial_domain::Store>,
) {
    let (engine, store) = local_engine_parts(dir, config);
    (engine, store)
}

/// [`local_engine`] and its SQLite store as itself, for tests that use
/// more of its ports than [`voxdial_domain::Store`].
pub fn local_engine_parts(
    dir: &std::path::Path,
    config: voxdial_app::EngineConfig,
) -> (
    voxdial_app::Engine,
    std::sync::Arc<voxdial_local::LocalStore>,
) {
    use std::sync::Arc;
    let clock: Arc<dyn voxdial_domain::Clock> =
        voxdial_testkit::ManualClock::shared(voxdial_testkit::fixtures::t0());
    let store = Arc::new(voxdial_local::LocalStore::open(dir.join("s.sqlite")).expect("a store"));
    let queue = voxdial_local::LocalQueue::open(
        dir.join("q.sqlite"),
        voxdial_local::QueueConfig::default(),
        clock.clone(),
    )
    .expect("a queue");
    let engine = voxdial_app::Engine::new(
        store.clone(),
        Arc::new(queue),
        voxdial_app::router::Providers::new(),
        Arc::new(voxdial_app::router::StaticRouter::new(Vec::new())),
        clock,
        config,
    )
    .with_agents(store.clone());
    (engine, store)
}

/// Twilio asks `app` (the webhook router, serving at `public`) what to do
/// with the answered `call` whose Twilio sid is `call_sid`, signed with
/// `auth_token` as Twilio signs; returns the TwiML (the answer must be 200).
pub async fn twilio_answer(
    app: &axum::Router,
    auth_token: &str,
    public: &str,
    call: &voxdial_domain::CallAttempt,
    call_sid: &str,
) -> String {
    use tower::ServiceExt;
    use voxdial_wire::twilio::signature::{SignatureAlgorithm, compute_signature};
    let path = format!(
        "/webhooks/twilio/answer?campaign_id={}&call_id={}",
        call.campaign_id, call.id
    );
    let pairs: Vec<(String, String)> = [
        ("AccountSid", "AC123"),
        ("CallSid", call_sid),
        ("CallStatus", "in-progress"),
        ("To", call.to.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = compute_signature(
        auth_token.as_bytes(),
        SignatureAlgorithm::HmacSha1,
        &format!("{public}{path}"),
        &pairs,
    );
    let request = axum::http::Request::post(&path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(axum::body::Body::from(
            voxdial_wire::twilio::forms::encode_form(&pairs),
        ))
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("the TwiML");
    String::from_utf8(body.to_vec()).expect("UTF-8 TwiML")
}
