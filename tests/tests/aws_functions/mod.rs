//! The Lambda functions as AWS runs them, on 127.0.0.1, for the campaign
//! tests on moto (`aws_campaign`, `aws_soak`).
//!
//! - An API Gateway stand-in turns every HTTP request (the test's API
//!   calls, the carrier's signed callbacks and disposition reports) into an
//!   HTTP API payload 2.0 event with a base64 body, deserialises it with
//!   `lambda_http`, and calls the `api` or webhook handler by route.
//! - An event source mapping stand-in long-polls the SQS queue and hands
//!   batches of up to 10 records (JSON events, deserialised as the runtime
//!   does) to the dispatcher handler, then deletes the messages not
//!   reported as failures.
//! - A schedule stand-in invokes the sweeper handler with EventBridge
//!   events.
//! - With a transcriber instance, a second event source mapping hands the
//!   post-call job queue's batches to the transcriber handler.
//!
//! [`Functions::kill`] loses every instance at once, as a region-wide
//! Lambda failure or a bad deploy would: requests and batches in flight
//! are dropped where they stand (a batch's messages come back after the
//! visibility timeout), and until [`Functions::restart`] the gateway
//! answers 503 and nothing polls the queue or sweeps.

// Each test binary uses what it needs.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use axum::extract::State;
use base64::Engine as _;
use lambda_http::IntoResponse;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use voxdial_app::access::create_api_key;
use voxdial_app::clock::ScaledClock;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{Clock, OrgId, Role};
use voxdial_lambda::{Deps, LambdaConfig, api, dispatch, postcall, sweep, webhook};

/// How often the schedule stand-in runs the sweeper.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// Event source mappings polling the dispatch queue.
const POLLERS: usize = 2;

/// The functions' shared settings, as the template sets them, and `more`.
/// The dispatch lease and the call lease margin are the engine's defaults
/// (300 s and 120 s), or 2 s of real time at `scale` if that is longer: a
/// dispatch on moto takes that long on a loaded machine.
pub fn config(
    table: &str,
    queue: &str,
    public: &str,
    providers: &str,
    scale: f64,
    more: &[(&str, String)],
) -> LambdaConfig {
    let lease = ((2.0 * scale).max(300.0) as u32).to_string();
    let margin = ((2.0 * scale).max(120.0) as u32).to_string();
    let vars = [
        ("VOXDIAL_TABLE", table.to_string()),
        ("VOXDIAL_DISPATCH_QUEUE_URL", queue.to_string()),
        ("VOXDIAL_PUBLIC_BASE_URL", public.to_string()),
        ("VOXDIAL_CALLER_ID", "+14155550100".to_string()),
        ("VOXDIAL_PROVIDERS", providers.to_string()),
        ("VOXDIAL_DISPATCH_LEASE_SECS", lease),
        ("VOXDIAL_CALL_LEASE_MARGIN_SECS", margin),
    ];
    LambdaConfig::from_vars(|name| {
        vars.iter()
            .chain(more)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("the functions' settings")
}

/// A fresh table, dispatch queue, post-call job queue and recordings
/// bucket on moto, an admin key of the default organisation (as an
/// operator would create one; the simulated callees report dispositions
/// with it too), the functions' gateway bound, and the simulated clock
/// from `start` at `scale`.
pub struct Aws {
    pub scaled: Arc<ScaledClock>,
    pub clock: Arc<dyn Clock>,
    pub table: String,
    pub queue_url: String,
    /// `VOXDIAL_JOB_QUEUE_URL` (the post-call pipeline), for a deployment
    /// with a transcriber.
    pub jobs_url: String,
    /// `VOXDIAL_RECORDINGS_BUCKET`.
    pub bucket: String,
    pub key: String,
    pub lambdas: Functions,
}

impl Aws {
    pub async fn start(start: chrono::DateTime<chrono::Utc>, scale: f64) -> Aws {
        let moto = Emulator::get();
        let scaled = Arc::new(ScaledClock::new(start, scale));
        let clock: Arc<dyn Clock> = scaled.clone();
        let clients = moto.clients(None);
        let (store, table) = moto.store(&clients).await.expect("a table");
        let (_, key) = create_api_key(
            &store,
            clock.as_ref(),
            &OrgId::default(),
            Role::Admin,
            "e2e",
        )
        .await
        .unwrap();
        let queue = moto
            .queue(&clients, Duration::from_secs(30), 5)
            .await
            .expect("a queue");
        let jobs = moto
            .job_queue(&clients, Duration::from_secs(30), 5)
            .await
            .expect("a job queue");
        Aws {
            scaled,
            clock,
            table,
            queue_url: queue.url().to_string(),
            jobs_url: jobs.url().to_string(),
            bucket: moto.bucket(&clients).await.expect("a bucket"),
            key: key.expose().to_string(),
            lambdas: Functions::bind(clients.sqs.clone(), queue.url()).await,
        }
    }
}

/// One generation of function instances.
#[derive(Clone)]
pub struct Instances {
    /// The dispatcher (behind the event source mapping).
    pub dispatcher: Deps,
    /// The API function (behind the gateway).
    pub api: Deps,
    /// The webhook functions (`status-callback`, `answer`, `recording`,
    /// behind the gateway).
    pub webhooks: Deps,
    /// The sweeper (behind the schedule).
    pub sweeper: Deps,
    /// The transcriber (behind the job queue's event source mapping), when
    /// the deployment has a post-call pipeline (`VOXDIAL_JOB_QUEUE_URL`).
    pub transcriber: Option<Deps>,
}

/// Which handler an event source mapping invokes.
#[derive(Clone, Copy)]
enum Handler {
    Dispatcher,
    Transcriber,
}

/// The functions behind the gateway.
#[derive(Clone)]
struct Routed {
    api: Deps,
    webhooks: Deps,
}

/// What the gateway routes to; `None` while the functions are down.
#[derive(Clone)]
struct Gateway {
    live: Arc<RwLock<Option<Routed>>>,
    /// Changes at every kill: requests in flight are dropped.
    generation: watch::Receiver<u64>,
    public: String,
    events: Arc<AtomicU64>,
    webhook_events: Arc<AtomicU64>,
}

/// The functions on 127.0.0.1.
pub struct Functions {
    /// The gateway's base URL (the functions' public base URL).
    pub public: String,
    /// HTTP requests the gateway turned into events.
    pub events: Arc<AtomicU64>,
    /// Those of them for the webhook functions.
    pub webhook_events: Arc<AtomicU64>,
    /// SQS records handed to the dispatcher.
    pub messages: Arc<AtomicU64>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    live: Arc<RwLock<Option<Routed>>>,
    generation: watch::Sender<u64>,
    gateway: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
}

impl Functions {
    /// Binds the gateway (so its URL can go into the functions' settings
    /// before they are built); nothing runs until [`Functions::restart`].
    pub async fn bind(sqs: aws_sdk_sqs::Client, queue_url: &str) -> Functions {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = format!("http://{}", listener.local_addr().unwrap());
        let live = Arc::new(RwLock::new(None));
        let (generation, watching) = watch::channel(0);
        let events = Arc::new(AtomicU64::new(0));
        let webhook_events = Arc::new(AtomicU64::new(0));
        let app = axum::Router::new().fallback(gateway).with_state(Gateway {
            live: live.clone(),
            generation: watching,
            public: public.clone(),
            events: events.clone(),
            webhook_events: webhook_events.clone(),
        });
        let gateway = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Functions {
            public,
            events,
            webhook_events,
            messages: Arc::new(AtomicU64::new(0)),
            sqs,
            queue_url: queue_url.to_string(),
            live,
            generation,
            gateway,
            workers: Vec::new(),
        }
    }

    /// Cold-starts `instances`: the gateway routes to them, the event
    /// source mappings poll the queue, the schedule sweeps.
    pub fn restart(&mut self, instances: Instances) {
        *self.live.write().unwrap() = Some(Routed {
            api: instances.api,
            webhooks: instances.webhooks,
        });
        for _ in 0..POLLERS {
            self.workers.push(tokio::spawn(event_source(
                self.sqs.clone(),
                self.queue_url.clone(),
                (Handler::Dispatcher, instances.dispatcher.clone()),
                self.messages.clone(),
            )));
        }
        if let Some(transcriber) = instances.transcriber {
            let jobs = transcriber.config.job_queue_url.clone();
            let jobs = jobs.expect("a transcriber has VOXDIAL_JOB_QUEUE_URL");
            self.workers.push(tokio::spawn(event_source(
                self.sqs.clone(),
                jobs,
                (Handler::Transcriber, transcriber),
                Arc::new(AtomicU64::new(0)),
            )));
        }
        self.workers.push(tokio::spawn(schedule(instances.sweeper)));
    }

    /// Every instance lost at once.
    pub fn kill(&mut self) {
        *self.live.write().unwrap() = None;
        self.generation.send_modify(|g| *g += 1);
        for worker in self.workers.drain(..) {
            worker.abort();
        }
    }
}

impl Drop for Functions {
    fn drop(&mut self) {
        self.kill();
        self.gateway.abort();
    }
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

/// API Gateway's answer when the function is down or dies mid-request.
fn unavailable() -> axum::response::Response {
    axum::response::IntoResponse::into_response((
        http::StatusCode::SERVICE_UNAVAILABLE,
        "{\"message\":\"Service Unavailable\"}",
    ))
}

async fn gateway(
    State(gw): State<Gateway>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let mut generation = gw.generation.clone();
    generation.mark_unchanged();
    let Some(routed) = gw.live.read().unwrap().clone() else {
        return unavailable();
    };
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let event = gateway_event(&parts, &body);
    let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    gw.events.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_string();
    let invoke = async {
        if path.starts_with("/webhooks/") {
            gw.webhook_events.fetch_add(1, Ordering::Relaxed);
            let engine = routed.webhooks.engine.clone();
            webhook::handle(webhook::router(engine, Some(gw.public.clone())), request).await
        } else {
            api::handle(api::router(routed.api.engine.clone()), request).await
        }
    };
    let response = tokio::select! {
        response = invoke => response,
        _ = generation.changed() => return unavailable(),
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

/// The event source mapping stand-in: batches from SQS to a function.
async fn event_source(
    sqs: aws_sdk_sqs::Client,
    url: String,
    (handler, deps): (Handler, Deps),
    handled: Arc<AtomicU64>,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
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
        let response = match (handler, &deps.jobs) {
            (Handler::Dispatcher, _) => {
                dispatch::handle_batch(&deps.engine, deps.queue.as_ref(), event).await
            }
            (Handler::Transcriber, Some(jobs)) => {
                postcall::handle_jobs(&deps.engine, jobs.as_ref(), event).await
            }
            (Handler::Transcriber, None) => unreachable!("a transcriber without its job queue"),
        };
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

/// The schedule stand-in: the sweeper every [`SWEEP_EVERY`].
async fn schedule(deps: Deps) {
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
        tokio::time::sleep(SWEEP_EVERY).await;
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(event.clone()).expect("an EventBridge event");
        let _ = sweep::handle(&deps.engine, event).await;
    }
}

/// An API call through the gateway; panics on a non-2xx answer.
pub async fn call(
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

/// A client that sends the API key.
pub fn api_client(key: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        )]))
        .build()
        .unwrap()
}

/// How long a campaign's progress may stay the same (real time) before
/// the test calls it stuck: a hang guard, not a speed limit (a loaded
/// machine still moves it every few seconds; the stuck state issue 9
/// found, a pending lead nothing would claim, never moves).
const STALLED: Duration = Duration::from_secs(180);

/// Fails the test when a campaign stops moving for [`STALLED`].
pub struct StallGuard {
    progress: Value,
    since: std::time::Instant,
}

impl StallGuard {
    pub fn new() -> StallGuard {
        StallGuard {
            progress: Value::Null,
            since: std::time::Instant::now(),
        }
    }

    /// Notes the campaign's `view`; panics if its progress has not changed
    /// for [`STALLED`].
    pub fn check(&mut self, view: &Value) {
        if view["progress"] != self.progress {
            self.progress = view["progress"].clone();
            self.since = std::time::Instant::now();
        }
        assert!(
            self.since.elapsed() < STALLED,
            "the campaign stopped moving: {view}"
        );
    }
}

/// Skips an idle stretch (retry delays, a closed calling window) as the
/// demo does: when nothing is in flight and every pending lead is due
/// later, the simulated clock moves to the next due time.
pub fn skip_idle(progress: &Value, clock: &ScaledClock) {
    let live = voxdial_sim::soak::sum_of(progress, "live_calls");
    if progress["active"] == 0
        && live == 0
        && progress["pending"].as_u64().unwrap_or(0) > 0
        && let Some(due) = progress["next_due_at"].as_str()
        && let Ok(due) = chrono::DateTime::parse_from_rfc3339(due)
        && due.with_timezone(&chrono::Utc) > clock.now()
    {
        clock.advance_to(due.with_timezone(&chrono::Utc));
    }
}
