//! The Lambda handlers, called with real event fixtures the way the
//! runtime calls them (the JSON event deserialised by `lambda_http` or
//! `serde`), on the AWS adapters against the moto emulator.
//!
//! Fixtures (`tests/fixtures`): API Gateway HTTP API payload 2.0 events
//! for the webhooks (base64 and plain bodies, a named stage and the
//! `$default` one, Twilio signatures computed by `make_fixtures.py`), for
//! the API (JSON, base64 CSV, a stage prefix), an SQS batch and an
//! EventBridge schedule event, in the shapes AWS documents.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use chrono::TimeZone;
use lambda_http::{Body, IntoResponse, Request};
use voxdial_app::clock::SystemClock;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    CallAttempt, CallState, Campaign, CampaignId, CampaignSettings, E164, LeadId, NewLead, OrgId,
    Role,
};
use voxdial_lambda::{Deps, LambdaConfig, Secrets, api, dispatch, sweep, webhook};

const BASE: &str = "https://abc123defg.execute-api.ap-south-1.amazonaws.com/dev";
const SECRET: &str = r#"{"twilio": {"account_sid": "AC00000000000000000000000000000001", "auth_token": "fixture-auth-token"}}"#;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An API Gateway event as the runtime hands it to `lambda_http`.
fn http_event(json: &str) -> Request {
    lambda_http::request::from_str(json).expect("an API Gateway HTTP API event")
}

async fn body_text(response: impl IntoResponse) -> (u16, String) {
    let response = response.into_response().await;
    let status = response.status().as_u16();
    let text = match response.into_body() {
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    };
    (status, text)
}

/// Fresh table and queue on moto, the engine wired as a function's cold
/// start wires it (from its variables and secret), the fixture's campaign,
/// lead and call attempt stored.
async fn deps() -> Deps {
    deps_with(&[]).await
}

/// [`deps`] with more variables.
async fn deps_with(extra: &[(&str, &str)]) -> Deps {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, table) = moto.store(&clients).await.expect("a table");
    let queue = moto
        .queue(&clients, std::time::Duration::from_secs(30), 5)
        .await
        .expect("a queue");
    let vars = [
        ("VOXDIAL_TABLE", table.as_str()),
        ("VOXDIAL_DISPATCH_QUEUE_URL", queue.url()),
        ("VOXDIAL_PUBLIC_BASE_URL", BASE),
        ("VOXDIAL_CALLER_ID", "+14155550100"),
        (
            "VOXDIAL_PROVIDERS",
            "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\napi_base = \"http://127.0.0.1:9\"\n\
             account_sid = { secret = \"twilio.account_sid\" }\nauth_token = { secret = \"twilio.auth_token\" }\n",
        ),
    ];
    let config = LambdaConfig::from_vars(|name| {
        vars.iter()
            .chain(extra)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("config");
    let secrets = Secrets::from_json("fixture", SECRET).expect("secret");
    let deps = Deps::assemble(config, &clients, &secrets, Arc::new(SystemClock)).expect("deps");

    // The fixture's campaign, lead (claimed) and call attempt 1.
    use voxdial_domain::{CallStore, CampaignStore, LeadStore};
    let now = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap();
    let mut campaign = Campaign::new(
        CampaignId::parse("cmp_fixture").unwrap(),
        CampaignSettings::default(),
        now,
    )
    .unwrap();
    campaign
        .apply(voxdial_domain::CampaignAction::Start, now)
        .unwrap();
    store.insert_campaign(&campaign).await.unwrap();
    let lead = NewLead {
        phone: E164::parse("+12125550100", None).unwrap(),
        name: "Fixture".into(),
        time_zone: None,
        custom: Default::default(),
        consent: true,
    }
    .into_lead(
        LeadId::parse("ld_fixture").unwrap(),
        campaign.id.clone(),
        now,
    );
    store.import_leads(&campaign.id, vec![lead]).await.unwrap();
    let claimed = store
        .claim_due(&campaign.id, 5, now, lease_end(), 1)
        .await
        .unwrap();
    let compliance = voxdial_testkit::fixtures::compliance(1, now);
    let mut call = CallAttempt::new(
        campaign.id.clone(),
        claimed[0].id.clone(),
        1,
        claimed[0].phone.clone(),
        compliance,
        now,
    );
    call.provider = Some(voxdial_domain::ProviderId::parse("twilio").unwrap());
    store.create_call(&call).await.unwrap();
    deps
}

/// The fixture lead's lease: far ahead of any system clock.
fn lease_end() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap()
}

/// Runs one webhook event through the webhook functions' handler.
async fn hook_with(
    deps: &Deps,
    base: Option<String>,
    event: lambda_http::Request,
) -> http::Response<axum::body::Body> {
    webhook::handle(webhook::router(deps.engine.clone(), base), event).await
}

async fn call_state(deps: &Deps) -> CallState {
    let id = voxdial_domain::CallId::parse("ld_fixture.1").unwrap();
    deps.engine.store().call(&id).await.unwrap().unwrap().state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_base64_status_callback_under_a_stage_applies() {
    let deps = deps().await;
    let event = http_event(&fixture("apigw-v2-status-base64.json"));
    let response = hook_with(&deps, Some(BASE.into()), event).await;
    let (status, body) = body_text(response).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(call_state(&deps).await, CallState::Ringing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_body_on_the_default_stage_applies_too() {
    let deps = deps().await;
    let event = http_event(&fixture("apigw-v2-status-plain.json"));
    let response = hook_with(&deps, Some(BASE.into()), event).await;
    assert_eq!(body_text(response).await.0, 200);
    assert_eq!(call_state(&deps).await, CallState::Ringing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_base_url_the_event_url_is_checked() {
    let deps = deps().await;
    // The execute-api domain and the raw path with its stage: what Twilio called.
    let event = http_event(&fixture("apigw-v2-status-base64.json"));
    let response = hook_with(&deps, None, event).await;
    assert_eq!(body_text(response).await.0, 200);
    assert_eq!(call_state(&deps).await, CallState::Ringing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_or_url_is_refused_and_changes_nothing() {
    let deps = deps().await;
    // A tampered signature.
    let json = fixture("apigw-v2-status-base64.json");
    let mut event: serde_json::Value = serde_json::from_str(&json).unwrap();
    event["headers"]["x-twilio-signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let request = http_event(&event.to_string());
    let response = hook_with(&deps, Some(BASE.into()), request).await;
    assert_eq!(body_text(response).await.0, 403);
    // The right signature, checked against another public URL (a function
    // configured with the wrong base URL must not accept it either).
    let request = http_event(&json);
    let response = hook_with(&deps, Some("https://elsewhere.example.com".into()), request).await;
    assert_eq!(body_text(response).await.0, 403);
    // A body changed after signing.
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture("apigw-v2-status-plain.json")).unwrap();
    let body = event["body"]
        .as_str()
        .unwrap()
        .replace("ringing", "completed");
    event["body"] = body.into();
    let response = hook_with(&deps, Some(BASE.into()), http_event(&event.to_string())).await;
    assert_eq!(body_text(response).await.0, 403);
    assert_eq!(call_state(&deps).await, CallState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_webhook_answers_twiml_and_an_unknown_webhook_is_not_found() {
    let deps = deps().await;
    let json = fixture("apigw-v2-answer-base64.json");
    let response = hook_with(&deps, Some(BASE.into()), http_event(&json)).await;
    let response = response.into_response().await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.contains("xml"), "{content_type}");
    let (_, twiml) = body_text(response).await;
    assert!(twiml.contains("<Response>"), "{twiml}");
    // The same event to a webhook that does not exist.
    let renamed = json.replace("/webhooks/twilio/answer", "/webhooks/twilio/transfer");
    assert_ne!(renamed, json);
    let response = hook_with(&deps, Some(BASE.into()), http_event(&renamed)).await;
    assert_eq!(body_text(response).await.0, 404);
}

/// An API event with `Authorization: Bearer` an admin key of the default
/// organisation.
async fn authorized(deps: &Deps, json: &str) -> Request {
    let (_, key) = deps
        .engine
        .create_api_key(&OrgId::default(), Role::Admin, "test")
        .await
        .unwrap();
    let mut event = http_event(json);
    event.headers_mut().insert(
        http::header::AUTHORIZATION,
        format!("Bearer {}", key.expose()).parse().unwrap(),
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_refuses_requests_without_a_key() {
    let deps = deps().await;
    let org = OrgId::default();
    let campaigns = || deps.engine.campaigns(&org);
    let before = campaigns().await.unwrap();
    let router = api::router(deps.engine.clone());
    let refused = api::handle(
        router,
        http_event(&fixture("apigw-v2-api-create-campaign.json")),
    )
    .await;
    let (status, body) = body_text(refused).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(campaigns().await.unwrap(), before, "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_routes_json_base64_csv_and_stage_prefixed_paths() {
    let deps = deps().await;
    let router = api::router(deps.engine.clone());
    let created = api::handle(
        router.clone(),
        authorized(&deps, &fixture("apigw-v2-api-create-campaign.json")).await,
    )
    .await;
    let (status, body) = body_text(created).await;
    assert_eq!(status, 201, "{body}");
    let campaign: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(campaign["settings"]["name"], "Fixture renewals");

    let imported = api::handle(
        router.clone(),
        authorized(&deps, &fixture("apigw-v2-api-import-csv-base64.json")).await,
    )
    .await;
    let (status, body) = body_text(imported).await;
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["inserted"], 2, "{report}");
    assert_eq!(
        report["rejected"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );

    let view = api::handle(
        router,
        authorized(&deps, &fixture("apigw-v2-api-get-campaign-stage.json")).await,
    )
    .await;
    let (status, body) = body_text(view).await;
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["progress"]["total"], 3, "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_reports_only_what_redelivery_can_fix() {
    let deps = deps().await;
    let event: SqsEvent = serde_json::from_str(&fixture("sqs-dispatch-batch.json")).unwrap();
    // 1: the fixture's attempt exists already (skipped: succeeds);
    // 2: an unknown lead (skipped: succeeds); 3: not a dispatch message.
    let response = dispatch::handle_batch(&deps.engine, deps.queue.as_ref(), event.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["9d6b5a30-0003-4c4e-8a1e-000000000003"]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json["batchItemFailures"][0]["itemIdentifier"],
        "9d6b5a30-0003-4c4e-8a1e-000000000003"
    );

    // With the table gone (the store unavailable), every valid message
    // is retryable and reported.
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let broken = LambdaConfig {
        table: "no-such-table".into(),
        ..deps.config.clone()
    };
    let secrets = Secrets::from_json("fixture", SECRET).unwrap();
    let broken = Deps::assemble(broken, &clients, &secrets, Arc::new(SystemClock)).unwrap();
    let response = dispatch::handle_batch(&broken.engine, broken.queue.as_ref(), event).await;
    assert_eq!(response.batch_item_failures.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_runs_on_a_schedule_event() {
    let deps = deps().await;
    // GIVEN a second lead whose dispatcher died: its slot's lease ended in
    // June 2026 and it has no call attempt
    let store = deps.engine.store();
    let campaign = CampaignId::parse("cmp_fixture").unwrap();
    let june = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap();
    let orphan = NewLead {
        phone: E164::parse("+12125550101", None).unwrap(),
        name: "Orphan".into(),
        time_zone: None,
        custom: Default::default(),
        consent: true,
    }
    .into_lead(LeadId::parse("ld_orphan").unwrap(), campaign.clone(), june);
    store.import_leads(&campaign, vec![orphan]).await.unwrap();
    let lease = june + chrono::Duration::minutes(1);
    let claimed = store.claim_due(&campaign, 5, june, lease, 1).await.unwrap();
    assert_eq!(claimed[0].id.as_str(), "ld_orphan");
    // WHEN the schedule invokes the sweeper
    let event: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&fixture("eventbridge-schedule.json")).unwrap();
    let report = sweep::handle(&deps.engine, event).await.expect("a sweep");
    // THEN the orphan's slot is taken back and its dispatch sent again; the
    // fixture's lead (leased until 2100) is left alone
    assert_eq!(
        (report.expired_leases, report.redispatched),
        (1, 1),
        "{report:?}"
    );
    let sent = deps
        .queue
        .receive(10, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    let leads: Vec<&str> = sent.iter().map(|d| d.message.lead_id.as_str()).collect();
    assert_eq!(leads, ["ld_orphan"]);
    assert_eq!(sent[0].message.attempt, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_call_job_that_must_wait_goes_back_on_the_queue_as_new() {
    // GIVEN the transcriber function with its job queue, and a job to
    // process the fixture's call, which is still live (not ready)
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let jobs = moto
        .job_queue(&clients, std::time::Duration::from_secs(30), 2)
        .await
        .expect("a job queue");
    let deps = deps_with(&[("VOXDIAL_JOB_QUEUE_URL", jobs.url())]).await;
    let queue = deps.jobs.clone().expect("the job queue is wired");
    let call_id = deps
        .engine
        .calls_page(&CampaignId::parse("cmp_fixture").unwrap(), None, 10)
        .await
        .unwrap()[0]
        .id
        .clone();
    let job = voxdial_domain::Job::Process {
        call_id: call_id.clone(),
    };
    let mut event: SqsEvent = serde_json::from_str(&fixture("sqs-dispatch-batch.json")).unwrap();
    event.records.truncate(1);
    event.records[0].body = Some(voxdial_aws::sqs::encode_body(&job).unwrap());

    // WHEN the function handles it
    let response = voxdial_lambda::postcall::handle_jobs(&deps.engine, queue.as_ref(), event).await;

    // THEN the record succeeds (Lambda deletes it) and the job is on the
    // queue again as a new message, its receive count starting over
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let again = queue
        .receive(1, std::time::Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, job);
    assert_eq!(again[0].receive_count, 1);
}

/// GIVEN the API function
/// WHEN a browser asks for the console's page, then for an asset it names
/// THEN both are served from the binary (the page never cached, the
/// hashed asset for good), and the live stream still answers 501 (the page
/// polls instead)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_serves_the_console() {
    let deps = deps().await;
    let router = api::router(deps.engine.clone());
    let get = |path: &str| {
        let (router, event) = (router.clone(), http_event(&api_event("GET", path, "")));
        async move { api::handle(router, event).await }
    };
    let page = get("/").await;
    assert_eq!(page.headers()[http::header::CACHE_CONTROL], "no-cache");
    let (status, html) = body_text(page).await;
    assert_eq!(status, 200, "{html}");
    let start = html.find("/assets/").expect("the page names its assets");
    let end = start + html[start..].find('"').expect("a quoted asset path");
    let asset = get(&html[start..end]).await;
    assert_eq!(
        asset.headers()[http::header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let (status, script) = body_text(asset).await;
    assert_eq!(
        (status, script.is_empty()),
        (200, false),
        "{}",
        &html[start..end]
    );
    let (status, _) = body_text(get("/v1/campaigns/cmp_x/events").await).await;
    assert_eq!(status, 501);
}

/// An API event for `method path` with a JSON `body`, in the fixtures' shape.
fn api_event(method: &str, path: &str, body: &str) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture("apigw-v2-api-create-campaign.json")).unwrap();
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("content-length");
    event["body"] = body.into();
    event.to_string()
}

/// `GET /v1/agents` through the API function.
async fn listed_agents(deps: &Deps) -> serde_json::Value {
    let router = api::router(deps.engine.clone());
    let listed = api::handle(
        router,
        authorized(deps, &api_event("GET", "/v1/agents", "")).await,
    );
    let (status, body) = body_text(listed.await).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// GIVEN the API function wired as on AWS (DynamoDB on moto)
/// WHEN an operator adds an available human agent, a call reserves them
/// for its transfer, and the call ends
/// THEN `/v1/agents` lists the agent (no 409), busy on that call during
/// the transfer and available once the call ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_agents_work_on_aws_and_a_transferred_call_releases_its_agent() {
    let deps = deps().await;
    let router = api::router(deps.engine.clone());
    let body = r#"{"name": "Ana", "number": "+12125550188", "status": "available"}"#;
    let put = api::handle(
        router,
        authorized(&deps, &api_event("PUT", "/v1/agents/ana", body)).await,
    );
    let (status, text) = body_text(put.await).await;
    assert_eq!(status, 200, "{text}");

    let call_id = voxdial_domain::CallId::parse("ld_fixture.1").unwrap();
    let agent = deps
        .engine
        .reserve_human_agent(&call_id, &[])
        .await
        .unwrap()
        .expect("the agent is available");
    // The transfer as the engine records it once the provider carried it out.
    let store = deps.engine.store();
    let mut call = store.call(&call_id).await.unwrap().unwrap();
    call.transfer = Some(voxdial_domain::TransferRecord {
        mode: "warm".into(),
        agent_id: agent.id.clone(),
        summary: "Wants a quote".into(),
        reason: "asked for a person".into(),
        at: chrono::Utc::now(),
    });
    store.update_call(&call).await.unwrap();
    let during = listed_agents(&deps).await;
    assert_eq!(during[0]["status"], "busy", "{during}");
    assert_eq!(during[0]["call_id"], "ld_fixture.1", "{during}");

    let provider = voxdial_domain::ProviderId::parse("twilio").unwrap();
    let ended = voxdial_domain::CallEvent::new(
        provider,
        Some(call_id),
        voxdial_domain::CallEventKind::Completed,
    );
    deps.engine.apply_event(&ended).await.unwrap();
    let after = listed_agents(&deps).await;
    assert_eq!(after[0]["status"], "available", "{after}");
    assert!(after[0].get("call_id").is_none(), "{after}");
}
