//! The engine's campaign (the demo's: the bundled sample list, three
//! numbers on the do-not-call list, cap 5, retries, the simulated carrier
//! with every fault on) end to end on emulated AWS: DynamoDB and SQS on
//! moto, and the Lambda handlers invoked as Lambda invokes them.
//!
//! - An API Gateway stand-in on 127.0.0.1 turns every HTTP request (the
//!   test's API calls, the carrier's signed callbacks and disposition
//!   reports) into an HTTP API payload 2.0 event with a base64 body,
//!   deserialises it with `lambda_http`, and calls the `api`,
//!   `status-callback` or `answer` handler by route.
//! - An event source mapping stand-in long-polls the SQS queue and hands
//!   batches of up to 10 records (JSON events, deserialised as the runtime
//!   does) to the dispatcher handler, then deletes the messages not
//!   reported as failures.
//! - A schedule stand-in invokes the sweeper handler with EventBridge
//!   events.
//!
//! The carrier sees every call, so it checks the invariants: never more
//! than the cap in flight, never two dials of one attempt; the campaign
//! completes with every lead final. The routing engine's statistics, kept
//! in the table by the dispatcher and webhook functions, show through the
//! API function's `GET /v1/providers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use axum::extract::State;
use base64::Engine as _;
use lambda_http::IntoResponse;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use voxdial_app::access::create_api_key;
use voxdial_app::clock::ScaledClock;
use voxdial_aws::RequestCounter;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{Clock, OrgId, Role};
use voxdial_lambda::{Deps, LambdaConfig, Secrets, api, dispatch, sweep, webhook};
use voxdial_sim::carrier::{Carrier, CarrierConfig, Faults};
use voxdial_sim::time::SimTime;

const ACCOUNT: &str = "AC00000000000000000000000000000aws";
const SCALE: f64 = 600.0;

/// How long the campaign's progress may stay the same (real time) before
/// the test calls it stuck: a hang guard, not a speed limit (a loaded
/// machine still moves it every few seconds; the stuck state issue 9
/// found, a pending lead nothing would claim, never moves).
const STALLED: Duration = Duration::from_secs(180);
const CAP: u64 = 5;
const SAMPLE: &[u8] = include_bytes!("../../functions/voxdial/assets/sample_leads.csv");

/// The functions' shared settings, as the template sets them.
fn config(table: &str, queue: &str, public: &str, carrier: &str) -> LambdaConfig {
    let providers = format!(
        "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\napi_base = \"{carrier}\"\n\
         account_sid = {{ secret = \"twilio.account_sid\" }}\nauth_token = {{ secret = \"twilio.auth_token\" }}\n"
    );
    let lease = ((2.0 * SCALE).max(900.0) as u32).to_string();
    let margin = ((2.0 * SCALE).max(120.0) as u32).to_string();
    let vars = [
        ("VOXDIAL_TABLE", table.to_string()),
        ("VOXDIAL_DISPATCH_QUEUE_URL", queue.to_string()),
        ("VOXDIAL_PUBLIC_BASE_URL", public.to_string()),
        ("VOXDIAL_CALLER_ID", "+14155550100".to_string()),
        ("VOXDIAL_PROVIDERS", providers),
        ("VOXDIAL_DISPATCH_LEASE_SECS", lease),
        ("VOXDIAL_CALL_LEASE_MARGIN_SECS", margin),
    ];
    LambdaConfig::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("the functions' settings")
}

/// The API Gateway stand-in: what it routes to.
#[derive(Clone)]
struct Gateway {
    /// The engine behind the webhook and API functions.
    deps: Deps,
    public: String,
    events: Arc<AtomicU64>,
}

/// An HTTP request as API Gateway (HTTP API, payload 2.0) delivers it.
fn gateway_event(parts: &http::request::Parts, body: &[u8]) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default().to_string();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default()))
            })
            .or_insert(Value::String(value));
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "voxdial-tests"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jun/2026:15:00:00 +0000",
            "timeEpoch": 0
        },
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true
    })
}

async fn gateway(
    State(gw): State<Gateway>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let event = gateway_event(&parts, &body);
    let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    gw.events.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_string();
    let engine = &gw.deps.engine;
    let response = if path.starts_with("/webhooks/") {
        let router = webhook::router(engine.clone(), Some(gw.public.clone()));
        webhook::handle(router, request).await
    } else {
        api::handle(api::router(engine.clone()), request).await
    };
    let response = response.into_response().await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The event source mapping stand-in: batches from SQS to the dispatcher.
async fn event_source(
    sqs: aws_sdk_sqs::Client,
    url: String,
    deps: Deps,
    handled: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let received = tokio::select! {
            r = sqs.receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send() => r,
            _ = stop.changed() => break,
        };
        let Ok(received) = received else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if received.messages().is_empty() {
            continue;
        }
        let records: Vec<Value> = received
            .messages()
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:dispatch",
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
        handled.fetch_add(event.records.len() as u64, Ordering::Relaxed);
        let response = dispatch::handle_batch(&deps.engine, deps.queue.as_ref(), event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = received
            .messages()
            .iter()
            .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
            .enumerate()
            .filter_map(|(n, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty() {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(done))
                .send()
                .await;
        }
    }
}

/// The schedule stand-in: the sweeper every `every`.
async fn schedule(deps: Deps, every: Duration, mut stop: watch::Receiver<bool>) {
    let event = json!({
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-06-01T15:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweeper"],
        "detail": {}
    });
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(event.clone()).expect("an EventBridge event");
        let _ = sweep::handle(&deps.engine, event).await;
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_campaign_runs_on_emulated_aws_and_keeps_every_invariant() {
    let wall = Instant::now();
    let moto = Emulator::get();
    let start = chrono::DateTime::parse_from_rfc3339("2026-06-01T15:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let scaled = Arc::new(ScaledClock::new(start, SCALE));
    let clock: Arc<dyn Clock> = scaled.clone();

    // AWS on moto: the table and the dispatch queue with its DLQ.
    let setup = moto.clients(None);
    let (store, table) = moto.store(&setup).await.expect("a table");
    // An admin key of the default organisation, as an operator would
    // create one; the simulated callees report dispositions with it too.
    let (_, key) = create_api_key(
        &store,
        clock.as_ref(),
        &OrgId::default(),
        Role::Admin,
        "e2e",
    )
    .await
    .unwrap();
    let key = key.expose().to_string();
    let queue = moto
        .queue(&setup, Duration::from_secs(30), 5)
        .await
        .expect("a queue");

    // The simulated carrier, every fault on, and the API Gateway stand-in.
    let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", gateway_listener.local_addr().unwrap());
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut carrier_config = CarrierConfig::new(ACCOUNT, token.clone(), 3);
    carrier_config.faults = Faults::chaos();
    carrier_config.disposition_api = Some(public.clone());
    carrier_config.disposition_key = Some(key.clone());
    let carrier = Carrier::new(carrier_config, SimTime::new(clock.clone(), SCALE));
    let carrier_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let carrier_url = format!("http://{}", carrier_listener.local_addr().unwrap());
    let carrier_task = carrier.serve(carrier_listener);

    // Each function's cold start: settings, the secret, clients. The
    // dispatcher's clients count their AWS requests.
    let secret = json!({"twilio": {"account_sid": ACCOUNT, "auth_token": token}}).to_string();
    let secrets = Secrets::from_json("voxdial/twilio", &secret).unwrap();
    let settings = config(&table, queue.url(), &public, &carrier_url);
    let dispatcher_requests = RequestCounter::new();
    let webhook_requests = RequestCounter::new();
    let dispatcher = Deps::assemble(
        settings.clone(),
        &moto.clients(Some(&dispatcher_requests)),
        &secrets,
        clock.clone(),
    )
    .unwrap();
    let functions = Deps::assemble(
        settings.clone(),
        &moto.clients(Some(&webhook_requests)),
        &secrets,
        clock.clone(),
    )
    .unwrap();
    let sweeper = Deps::assemble(settings, &moto.clients(None), &secrets, clock.clone()).unwrap();

    let events = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().fallback(gateway).with_state(Gateway {
        deps: functions,
        public: public.clone(),
        events: events.clone(),
    });
    let gateway_task = tokio::spawn(async move {
        let _ = axum::serve(gateway_listener, app).await;
    });
    let (stop, stopped) = watch::channel(false);
    let messages = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..2 {
        workers.push(tokio::spawn(event_source(
            setup.sqs.clone(),
            queue.url().to_string(),
            dispatcher.clone(),
            messages.clone(),
            stopped.clone(),
        )));
    }
    workers.push(tokio::spawn(schedule(
        sweeper.clone(),
        Duration::from_millis(250),
        stopped.clone(),
    )));

    // GIVEN the campaign created, its leads imported and three numbers on
    // the do-not-call list, through the API function
    let http = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        )]))
        .build()
        .unwrap();
    let created = call(
        &http,
        reqwest::Method::POST,
        format!("{public}/v1/campaigns"),
        Some(json!({
            "name": "voxdial demo on AWS",
            "max_concurrency": CAP,
            "retry": {
                "max_attempts": 3,
                "busy_delay_secs": 300,
                "no_answer_delay_secs": 1800,
                "failed_delay_secs": 600,
                "voicemail_delay_secs": null
            }
        })),
    )
    .await;
    let id = created["id"].as_str().expect("a campaign id").to_string();
    let report = http
        .post(format!("{public}/v1/campaigns/{id}/leads?region=US"))
        .header("content-type", "text/csv")
        .body(SAMPLE.to_vec())
        .send()
        .await
        .unwrap();
    assert!(report.status().is_success());
    let report: Value = report.json().await.unwrap();
    let leads = call(
        &http,
        reqwest::Method::GET,
        format!("{public}/v1/campaigns/{id}/leads?limit=1000"),
        None,
    )
    .await;
    let dnc: Vec<Value> = leads
        .as_array()
        .expect("leads")
        .iter()
        .step_by(29)
        .take(3)
        .map(|l| l["phone"].clone())
        .collect();
    call(
        &http,
        reqwest::Method::POST,
        format!("{public}/v1/dnc"),
        Some(json!({ "numbers": dnc, "campaign_id": null })),
    )
    .await;

    // WHEN it starts
    call(
        &http,
        reqwest::Method::POST,
        format!("{public}/v1/campaigns/{id}/start"),
        None,
    )
    .await;
    // A campaign that stops moving fails; a slow one (a loaded machine, a
    // slow moto) goes on: the verdict does not depend on the machine.
    let mut last_move = (Value::Null, Instant::now());
    let view = loop {
        let view = call(
            &http,
            reqwest::Method::GET,
            format!("{public}/v1/campaigns/{id}"),
            None,
        )
        .await;
        if view["campaign"]["status"] == "completed" {
            break view;
        }
        if view["progress"] != last_move.0 {
            last_move = (view["progress"].clone(), Instant::now());
        }
        assert!(
            last_move.1.elapsed() < STALLED,
            "the campaign stopped moving: {view}"
        );
        // Skip idle stretches (retry delays, closed calling windows) as the
        // demo does: nothing in flight, every pending lead due later.
        let p = &view["progress"];
        let live: u64 = p["live_calls"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        if p["active"] == 0
            && live == 0
            && p["pending"].as_u64().unwrap_or(0) > 0
            && let Some(due) = p["next_due_at"].as_str()
            && let Ok(due) = chrono::DateTime::parse_from_rfc3339(due)
            && due.with_timezone(&chrono::Utc) > scaled.now()
        {
            scaled.advance_to(due.with_timezone(&chrono::Utc));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The provider statistics, as the API function reads them from the
    // table where the dispatcher and the webhook functions counted them.
    let providers = call(
        &http,
        reqwest::Method::GET,
        format!("{public}/v1/providers"),
        None,
    )
    .await;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    gateway_task.abort();
    carrier_task.abort();

    // THEN the invariants hold, as the carrier saw the calls
    let stats = carrier.stats();
    let progress = &view["progress"];
    let total = progress["total"].as_u64().unwrap();
    let finals: u64 = progress["finals"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    let max_concurrent = stats
        .max_concurrent_by_campaign
        .get(&id)
        .copied()
        .unwrap_or(0);
    let handled = messages.load(Ordering::Relaxed).max(1);
    let dispatch_requests = dispatcher_requests.snapshot();
    eprintln!(
        "aws e2e: {total} leads ({} rows, {} merged, {} rejected), outcomes {}, {} calls, \
         max {max_concurrent} in flight (cap {CAP}), max dials per attempt {}, \
         callbacks sent {} dup {} reordered {} delayed {} dropped {}, 429s {}, 5xx {}, \
         {} gateway events, {handled} dispatch messages, dispatcher AWS requests {} ({:.1} per message: {:?}), \
         webhook+API AWS requests {} ({:?}), wall {:.1} s",
        report["rows"],
        report["merged"],
        report["rejected"].as_array().map_or(0, Vec::len),
        progress["finals"],
        stats.calls_created,
        stats.max_dials_per_attempt,
        stats.callbacks_sent,
        stats.callbacks_duplicated,
        stats.callbacks_reordered,
        stats.callbacks_delayed,
        stats.callbacks_dropped,
        stats.rate_limited,
        stats.server_errors,
        events.load(Ordering::Relaxed),
        dispatcher_requests.total(),
        dispatcher_requests.total() as f64 / handled as f64,
        dispatch_requests,
        webhook_requests.total(),
        webhook_requests.snapshot(),
        wall.elapsed().as_secs_f64(),
    );
    assert_eq!(view["campaign"]["status"], "completed");
    assert!(total > 100, "the sample imported: {total}");
    assert_eq!(finals, total, "every lead is final: {progress}");
    assert_eq!(progress["active"], 0);
    assert!(
        max_concurrent as u64 <= CAP,
        "cap exceeded: {max_concurrent}"
    );
    assert!(max_concurrent > 0, "calls were made");
    assert_eq!(stats.max_dials_per_attempt, 1, "an attempt dialled twice");
    assert_eq!(stats.attempts_dialled_twice, 0);
    assert!(
        stats.callbacks_duplicated > 0 && stats.callbacks_dropped > 0,
        "the faults were injected"
    );
    assert!(
        progress["finals"]["screened_out"].as_u64().unwrap_or(0) >= 3,
        "the do-not-call numbers were screened out: {progress}"
    );
    // AND GET /v1/providers shows real figures: every call the carrier
    // accepted, their ends and the router's decisions, shared between
    // the functions through the table
    let twilio = &providers["providers"][0];
    assert_eq!(twilio["provider"], "twilio", "{providers}");
    let placed = twilio["calls"].as_u64().unwrap_or(0);
    assert!(placed > 0, "calls counted: {providers}");
    assert_eq!(providers["placed"].as_u64(), Some(placed), "{providers}");
    let ended = twilio["ended"].as_u64().unwrap_or(0);
    assert!(
        ended > 0 && ended <= placed,
        "call ends counted: {providers}"
    );
    assert!(
        providers["decisions"].as_u64().unwrap_or(0) >= placed,
        "{providers}"
    );
}
