//! The API's human-agent and provider endpoints, through the router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use voxdial_app::router::{CallEnd, Providers, RoutePlan, Router, SetupResult};
use voxdial_app::routing::{EngineRouter, unpriced_routing};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{
    AgentId, AgentStatus, Clock, E164, HumanAgent, OrgId, ProviderId, ProviderStrategy, Role,
};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

fn engine(dir: &std::path::Path) -> Engine {
    engine_with(dir, EngineConfig::default())
}

fn engine_with(dir: &std::path::Path, config: EngineConfig) -> Engine {
    voxdial_tests::local_engine(dir, config)
}

/// The API router over a fresh engine, and an admin key of the default
/// organisation.
async fn app(dir: &std::path::Path) -> (axum::Router, String) {
    let engine = engine(dir);
    let (_, key) = engine
        .create_api_key(&OrgId::default(), Role::Admin, "test")
        .await
        .unwrap();
    let key = format!("Bearer {}", key.expose());
    (voxdial_http::api::router(engine), key)
}

async fn call(
    (app, key): &(axum::Router, String),
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", key)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn human_agents_are_added_listed_and_their_status_changed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;

    let (status, body) = call(
        &app,
        "PUT",
        "/v1/agents/ana",
        r#"{"name":"Ana","number":"+1 212 555 0188","skills":["spanish"]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&app, "GET", "/v1/agents", "").await;
    assert_eq!(status, StatusCode::OK);
    let agents: Vec<HumanAgent> = serde_json::from_str(&body).unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(
        agents[0].status,
        AgentStatus::Offline,
        "new agents start offline"
    );
    assert_eq!(agents[0].number.as_str(), "+12125550188");

    let (status, _) = call(
        &app,
        "POST",
        "/v1/agents/ana/status",
        r#"{"status":"available"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = call(&app, "GET", "/v1/agents", "").await;
    let agents: Vec<HumanAgent> = serde_json::from_str(&body).unwrap();
    assert_eq!(agents[0].status, AgentStatus::Available);
}

#[tokio::test]
async fn bad_agent_requests_get_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let cases = [
        (
            "PUT",
            "/v1/agents/ana",
            r#"{"name":"Ana","number":"12"}"#,
            StatusCode::BAD_REQUEST,
            "number",
        ),
        (
            "PUT",
            "/v1/agents/ana",
            r#"{"name":" ","number":"+12125550188"}"#,
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            "PUT",
            "/v1/agents/a%20b",
            r#"{"name":"A","number":"+12125550188"}"#,
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            "PUT",
            "/v1/agents/ana",
            r#"{"name":"A","number":"+12125550188","colour":"red"}"#,
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            "POST",
            "/v1/agents/nobody/status",
            r#"{"status":"available"}"#,
            StatusCode::NOT_FOUND,
            "nobody",
        ),
        (
            "POST",
            "/v1/agents/ana/status",
            r#"{"status":"asleep"}"#,
            StatusCode::BAD_REQUEST,
            "asleep",
        ),
    ];
    for (method, path, body, want, mention) in cases {
        let (status, text) = call(&app, method, path, body).await;
        assert_eq!(status, want, "{method} {path} {body}: {text}");
        assert!(
            text.contains(mention),
            "{method} {path}: the error should mention {mention}: {text}"
        );
    }
}

/// An engine on the store file in `dir` routing with the routing engine
/// (one Twilio account, unpriced), its state in that file; and the router,
/// to report outcomes to it directly.
async fn routed_app(dir: &std::path::Path) -> ((axum::Router, String), Arc<EngineRouter>) {
    let twilio = ProviderId::parse("twilio").unwrap();
    let routing = unpriced_routing(&[(twilio, "twilio")], |_| {
        E164::parse("+14155550100", None).unwrap()
    })
    .unwrap();
    let store = Arc::new(LocalStore::open(dir.join("s.sqlite")).unwrap());
    let router = Arc::new(EngineRouter::new(routing, Default::default(), store.clone()).unwrap());
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let queue =
        LocalQueue::open(dir.join("q.sqlite"), QueueConfig::default(), clock.clone()).unwrap();
    let engine = Engine::new(
        store.clone(),
        Arc::new(queue),
        Providers::new(),
        router.clone(),
        clock,
        EngineConfig::default(),
    )
    .with_agents(store);
    let (_, key) = engine
        .create_api_key(&OrgId::default(), Role::Admin, "test")
        .await
        .unwrap();
    let key = format!("Bearer {}", key.expose());
    ((voxdial_http::api::router(engine), key), router)
}

#[tokio::test]
async fn provider_statistics_are_the_routing_engine_s_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let twilio = ProviderId::parse("twilio").unwrap();
    let ny = E164::parse("+12125550100", None).unwrap();
    {
        // GIVEN a placed call that was answered for 30 s, then five
        // transient setup failures in a row (the breaker's threshold)
        let (_, router) = routed_app(dir.path()).await;
        router
            .record_setup(&twilio, &ny, SetupResult::Accepted, t0())
            .await;
        let end = CallEnd {
            answered: true,
            duration_secs: 30,
            reported_price: None,
        };
        router.record_call_end(&twilio, &ny, None, &end, t0()).await;
        for _ in 0..5 {
            let failed = SetupResult::Failed { transient: true };
            router.record_setup(&twilio, &ny, failed, t0()).await;
        }
    }
    // WHEN the process starts again on the same store file
    let (app, router) = routed_app(dir.path()).await;
    // THEN GET /v1/providers shows the figures and the open circuit
    let (status, body) = call(&app, "GET", "/v1/providers", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let row = &view["providers"][0];
    assert_eq!(row["provider"], "twilio", "{view}");
    assert_eq!(row["setup_attempts"], 6, "{view}");
    assert_eq!(row["calls"], 1, "{view}");
    assert_eq!(row["setup_failures"], 5, "{view}");
    assert_eq!(
        (row["ended"].as_u64(), row["answered"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(row["average_answered_secs"], 30.0);
    assert!(
        row["circuit"].as_str().unwrap().starts_with("open until"),
        "{view}"
    );
    assert_eq!(view["placed"], 1, "{view}");
    // AND the rebuilt router still keeps the breaker open: the call waits
    let plan = router
        .plan(
            &ny,
            &ProviderStrategy::Hybrid,
            &AgentId::parse("default").unwrap(),
            None,
            t0(),
        )
        .await;
    assert_eq!(
        plan,
        RoutePlan::NotBefore(t0() + chrono::Duration::seconds(30))
    );
}

#[tokio::test]
async fn keys_are_created_listed_rotated_and_revoked_by_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let admin = app(dir.path()).await;
    let as_key = |secret: &str| (admin.0.clone(), format!("Bearer {secret}"));

    // GIVEN an operator key made by the admin, shown once
    let (status, body) = call(
        &admin,
        "POST",
        "/v1/keys",
        r#"{"role":"operator","name":"ci"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (id, secret) = (
        made["key"]["id"].as_str().unwrap().to_string(),
        made["secret"].as_str().unwrap().to_string(),
    );
    let operator = as_key(&secret);
    assert_eq!(
        call(&operator, "GET", "/v1/campaigns", "").await.0,
        StatusCode::OK
    );
    let (_, listed) = call(&admin, "GET", "/v1/keys", "").await;
    assert!(listed.contains(&id) && !listed.contains(&secret) && !listed.contains("digest"));

    // WHEN it is rotated, THEN only the new secret works
    let (status, body) = call(&admin, "POST", &format!("/v1/keys/{id}/rotate"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated: serde_json::Value = serde_json::from_str(&body).unwrap();
    let fresh = as_key(rotated["secret"].as_str().unwrap());
    assert_eq!(
        call(&operator, "GET", "/v1/campaigns", "").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&fresh, "GET", "/v1/campaigns", "").await.0,
        StatusCode::OK
    );

    // AND an operator may not manage keys
    assert_eq!(
        call(&fresh, "GET", "/v1/keys", "").await.0,
        StatusCode::FORBIDDEN
    );

    // WHEN it is revoked, THEN it is refused and cannot be rotated back
    let (status, body) = call(&admin, "POST", &format!("/v1/keys/{id}/revoke"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""active":false"#), "{body}");
    assert_eq!(
        call(&fresh, "GET", "/v1/campaigns", "").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = call(&admin, "POST", &format!("/v1/keys/{id}/rotate"), "").await;
    assert_eq!(status, StatusCode::CONFLICT);

    // AND the audit trail names each change (the clock stands still here,
    // so their order is not checked)
    let (_, audit) = call(&admin, "GET", "/v1/audit", "").await;
    let audit: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let mut changes: Vec<(String, String)> = audit
        .iter()
        .map(|e| (e["route"].to_string(), e["target"].to_string()))
        .collect();
    changes.sort();
    let target = format!("{id:?}");
    assert_eq!(
        changes,
        [
            (r#""/v1/keys""#.to_string(), "null".to_string()),
            (r#""/v1/keys/{id}/revoke""#.to_string(), target.clone()),
            (r#""/v1/keys/{id}/rotate""#.to_string(), target),
        ]
    );
}

#[tokio::test]
async fn a_campaign_may_not_outlast_the_deployment_s_longest_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        max_call_secs_limit: Some(300),
        ..EngineConfig::default()
    };
    let engine = engine_with(dir.path(), config);
    let (_, key) = engine
        .create_api_key(&OrgId::default(), Role::Admin, "test")
        .await
        .unwrap();
    let app = (
        voxdial_http::api::router(engine),
        format!("Bearer {}", key.expose()),
    );
    let (status, body) = call(
        &app,
        "POST",
        "/v1/campaigns",
        r#"{"name": "long", "max_call_secs": 600}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("300 s"), "{body}");
    let (status, body) = call(
        &app,
        "POST",
        "/v1/campaigns",
        r#"{"name": "short", "max_call_secs": 300}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn an_admin_waives_consent_over_http_and_the_waiver_is_audited() {
    // GIVEN a campaign (consent required by the floor) and an operator key
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    let (admin_key, admin) = engine
        .create_api_key(&OrgId::default(), Role::Admin, "boss")
        .await
        .unwrap();
    let (_, operator) = engine
        .create_api_key(&OrgId::default(), Role::Operator, "ops")
        .await
        .unwrap();
    let router = voxdial_http::api::router(engine.clone());
    let admin = (router.clone(), format!("Bearer {}", admin.expose()));
    let operator = (router, format!("Bearer {}", operator.expose()));
    let (status, created) = call(&admin, "POST", "/v1/campaigns", r#"{"name":"c"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/campaigns/{id}/consent-waiver");
    let body = r#"{"reason": "existing customers, service calls"}"#;

    // WHEN an operator asks, or the reason is missing, blank or too long
    let (status, _) = call(&operator, "POST", &path, body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in [
        "{}".to_string(),
        r#"{"reason": "  "}"#.to_string(),
        format!(r#"{{"reason": "{}"}}"#, "x".repeat(501)),
    ] {
        let (status, text) = call(&admin, "POST", &path, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {text}");
    }
    // THEN consent is still required
    let campaign = engine.campaign(&id.parse().unwrap()).await.unwrap();
    assert!(campaign.settings.require_consent && campaign.consent_waiver.is_none());

    // WHEN an admin waives it with a reason
    let (status, text) = call(&admin, "POST", &path, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // THEN the campaign no longer requires consent and keeps who, why, when
    let campaign = engine.campaign(&id.parse().unwrap()).await.unwrap();
    assert!(!campaign.settings.require_consent);
    let waiver = campaign.consent_waiver.expect("the waiver");
    assert_eq!(waiver.by, format!("key {}", admin_key.id));
    assert_eq!(waiver.reason, "existing customers, service calls");
    assert_eq!(waiver.at, t0());
    // AND the audit trail names the admin's key and the route
    let (_, audit) = call(&admin, "GET", "/v1/audit", "").await;
    let audit: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e["route"] == "/v1/campaigns/{id}/consent-waiver"
                && e["key_id"] == admin_key.id.as_str()
                && e["target"] == id.as_str()),
        "{audit:?}"
    );
}
