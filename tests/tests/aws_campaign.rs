//! The engine's campaign (the demo's: the bundled sample list, three
//! numbers on the do-not-call list, cap 5, retries, the simulated carrier
//! with every fault on) end to end on emulated AWS: DynamoDB and SQS on
//! moto, and the Lambda handlers invoked as Lambda invokes them.
//!
//! The functions run as AWS runs them (`aws_functions`: the API Gateway,
//! event source mapping and schedule stand-ins).
//!
//! The carrier sees every call, so it checks the invariants: never more
//! than the cap in flight, never two dials of one attempt; the campaign
//! completes with every lead final. The routing engine's statistics, kept
//! in the table by the dispatcher and webhook functions, show through the
//! API function's `GET /v1/providers`.

mod aws_functions;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_functions::{Aws, Instances, StallGuard, api_client, call, skip_idle};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use voxdial_aws::RequestCounter;
use voxdial_aws::testing::Emulator;
use voxdial_lambda::{Deps, Secrets};
use voxdial_sim::carrier::{Carrier, CarrierConfig, Faults};
use voxdial_sim::time::SimTime;

const ACCOUNT: &str = "AC00000000000000000000000000000aws";
const SCALE: f64 = 600.0;

const CAP: u64 = 5;
const SAMPLE: &[u8] = include_bytes!("../../functions/voxdial/assets/sample_leads.csv");

/// The one Twilio account, its credentials from the functions' secret.
fn providers(carrier: &str) -> String {
    format!(
        "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\napi_base = \"{carrier}\"\n\
         account_sid = {{ secret = \"twilio.account_sid\" }}\nauth_token = {{ secret = \"twilio.auth_token\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_campaign_runs_on_emulated_aws_and_keeps_every_invariant() {
    let wall = Instant::now();
    let moto = Emulator::get();
    let start = "2026-06-01T15:00:00Z".parse().expect("an instant");
    let Aws {
        scaled,
        clock,
        table,
        queue_url,
        key,
        mut lambdas,
        ..
    } = Aws::start(start, SCALE).await;
    // The simulated carrier, every fault on, and the API Gateway stand-in.
    let public = lambdas.public.clone();
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
    let settings = aws_functions::config(
        &table,
        &queue_url,
        &public,
        &providers(&carrier_url),
        SCALE,
        &[],
    );
    // Every function's clients count their AWS requests.
    let counters: [RequestCounter; 4] = std::array::from_fn(|_| RequestCounter::new());
    let [
        dispatcher_requests,
        webhook_requests,
        api_requests,
        sweeper_requests,
    ] = &counters;
    let instance = |counter: &RequestCounter| {
        Deps::assemble(
            settings.clone(),
            &moto.clients(Some(counter)),
            &secrets,
            clock.clone(),
        )
        .unwrap()
    };
    lambdas.restart(Instances {
        dispatcher: instance(dispatcher_requests),
        api: instance(api_requests),
        webhooks: instance(webhook_requests),
        sweeper: instance(sweeper_requests),
        transcriber: None,
    });

    // GIVEN the campaign created, its leads imported and three numbers on
    // the do-not-call list, through the API function
    let http = api_client(&key);
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
    let mut stall = StallGuard::new();
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
        stall.check(&view);
        skip_idle(&view["progress"], &scaled);
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
    let events = lambdas.events.load(Ordering::Relaxed);
    let webhook_events = lambdas.webhook_events.load(Ordering::Relaxed).max(1);
    let handled = lambdas.messages.load(Ordering::Relaxed).max(1);
    drop(lambdas);
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
    let calls = stats.calls_created.max(1) as f64;
    // What running the campaign costs, without the test's own API calls
    // (setup and polling the campaign every 200 ms).
    let campaign_requests =
        dispatcher_requests.total() + webhook_requests.total() + sweeper_requests.total();
    eprintln!(
        "aws e2e: {total} leads ({} rows, {} merged, {} rejected), outcomes {}, {} calls, \
         max {max_concurrent} in flight (cap {CAP}), max dials per attempt {}, \
         callbacks sent {} dup {} reordered {} delayed {} dropped {}, 429s {}, 5xx {}, \
         {events} gateway events ({webhook_events} webhooks), {handled} dispatch messages, wall {:.1} s\n\
         AWS requests for the campaign: {campaign_requests} ({:.1} per call)\n  \
         dispatcher {} ({:.1} per message): {:?}\n  \
         webhooks {} ({:.1} per webhook event): {:?}\n  \
         sweeper {}: {:?}\n\
         the test's API calls: {} ({:?})\n\
         DynamoDB requests by the items they name:\n  \
         dispatcher {:?}\n  webhooks {:?}\n  sweeper {:?}",
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
        wall.elapsed().as_secs_f64(),
        campaign_requests as f64 / calls,
        dispatcher_requests.total(),
        dispatcher_requests.total() as f64 / handled as f64,
        dispatcher_requests.snapshot(),
        webhook_requests.total(),
        webhook_requests.total() as f64 / webhook_events as f64,
        webhook_requests.snapshot(),
        sweeper_requests.total(),
        sweeper_requests.snapshot(),
        api_requests.total(),
        api_requests.snapshot(),
        dispatcher_requests.by_item(),
        webhook_requests.by_item(),
        sweeper_requests.by_item(),
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
