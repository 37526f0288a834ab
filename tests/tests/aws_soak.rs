//! `voxdial soak` at a small size on emulated AWS: the Lambda handlers on
//! DynamoDB and SQS (moto), three provider accounts (two Twilio, one
//! SansPBX) routed with a three-step chain, every callback fault on,
//! random 429s and 5xx, the seeded plan's provider outages and 429 storms,
//! and every function instance lost at once at planned points, then
//! cold-started again after 0.3–3 s. Callbacks sent while the functions
//! are down are lost, batches in flight come back after the queue's
//! visibility timeout, and the sweeper must reconcile with the providers.
//!
//! The verdict is the local soak's (`voxdial_sim::soak::violations`): the
//! cap as the carrier saw it, one dial per attempt, every lead final, no
//! slot leaked, no call left live, and call setup success. The recovery
//! after each kill (real time until the carrier sees the cap's worth of
//! calls live again) is reported, not judged.

mod aws_functions;

use std::time::{Duration, Instant};

use aws_functions::{Aws, Instances, StallGuard, api_client, call, skip_idle};
use serde_json::{Value, json};
use voxdial_aws::testing::Emulator;
use voxdial_lambda::{Deps, Secrets};
use voxdial_sim::carrier::{CarrierConfig, Faults};
use voxdial_sim::soak::{
    ACCOUNT_SID, Accounts, Disruption, Figures, SIM_START, Setup, is_terminal, leads_csv, plan,
    sum_of, violations,
};
use voxdial_sim::time::SimTime;

/// Calls last seconds of real time, so the cap fills however slowly moto
/// answers (at x600 they end before the next dial on a loaded machine, and the cap
/// is never full for the recovery time to be measured).
const SCALE: f64 = 20.0;
const LEADS: usize = 60;
const CAP: u32 = 5;
const KILLS: u32 = 3;
const SEED: u64 = 13;
/// The storms hit every provider at once and kills interrupt dials in
/// flight (as `voxdial soak`'s default).
const MIN_SETUP_SUCCESS: f64 = 0.8;
/// Progress lines (shown when the test fails, or with `--no-capture`) this
/// often.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Every attempt record of the campaign, page by page.
async fn calls(http: &reqwest::Client, public: &str, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let url = match &before {
            Some(call) => format!("{public}/v1/campaigns/{id}/calls?limit=1000&before={call}"),
            None => format!("{public}/v1/campaigns/{id}/calls?limit=1000"),
        };
        let page = call(http, reqwest::Method::GET, url, None).await;
        let page = page.as_array().expect("a page of calls").clone();
        let Some(last) = page.last() else { break };
        before = last["id"].as_str().map(str::to_string);
        all.extend(page);
        if before.is_none() {
            break;
        }
    }
    all
}

/// What happened after one kill, in real seconds after the restart.
struct Kill {
    at_finals: u64,
    down_ms: u64,
    /// Until the carrier created a call again.
    dialling_again: Option<f64>,
    /// Until the carrier saw the cap's worth of calls live (on a loaded
    /// machine moto's setup latency keeps it below the cap most of the
    /// time, killed or not, so this may not happen before the next kill).
    full_cap: Option<f64>,
}

impl std::fmt::Display for Kill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |s: Option<f64>| s.map_or("never".into(), |s| format!("{s:.1} s"));
        write!(
            f,
            "at {} final, down {} ms: dialling again after {}, full cap after {}",
            self.at_finals,
            self.down_ms,
            secs(self.dialling_again),
            secs(self.full_cap)
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_soak_on_emulated_aws_keeps_every_invariant_through_kills_outages_and_storms() {
    let wall = Instant::now();
    let Aws {
        scaled,
        clock,
        table,
        queue_url,
        key,
        mut lambdas,
        ..
    } = Aws::start(SIM_START.parse().expect("an instant"), SCALE).await;
    let public = lambdas.public.clone();
    // The three provider accounts
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut carrier = CarrierConfig::new(ACCOUNT_SID, token, SEED);
    carrier.faults = Faults::chaos();
    carrier.disposition_api = Some(public.clone());
    carrier.disposition_key = Some(key.clone());
    let accounts = Accounts::start(carrier, SimTime::new(clock.clone(), SCALE))
        .await
        .expect("the simulated carrier");
    let settings = aws_functions::config(
        &table,
        &queue_url,
        &public,
        &accounts.providers_toml,
        SCALE,
        &[],
    );
    // A cold start of every function: settings, clients, a fresh engine.
    let cold_start = || {
        let instance = || {
            Deps::assemble(
                settings.clone(),
                &Emulator::get().clients(None),
                &Secrets::default(),
                clock.clone(),
            )
            .expect("the functions start")
        };
        Instances {
            dispatcher: instance(),
            api: instance(),
            webhooks: instance(),
            sweeper: instance(),
            transcriber: None,
        }
    };
    lambdas.restart(cold_start());

    // GIVEN a campaign of generated leads through the API function
    let http = api_client(&key);
    let created = call(
        &http,
        reqwest::Method::POST,
        format!("{public}/v1/campaigns"),
        Some(json!({
            "name": format!("aws soak seed {SEED}"),
            "max_concurrency": CAP,
            "max_call_secs": 120,
            "ring_timeout_secs": 20,
            "retry": {"max_attempts": 2, "busy_delay_secs": 60,
                      "no_answer_delay_secs": 60, "failed_delay_secs": 60}
        })),
    )
    .await;
    let id = created["id"].as_str().expect("a campaign id").to_string();
    let imported = http
        .post(format!("{public}/v1/campaigns/{id}/leads"))
        .header("content-type", "text/csv")
        .body(leads_csv(LEADS))
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success());
    let imported: Value = imported.json().await.unwrap();
    assert_eq!(imported["inserted"], LEADS, "{imported}");

    // WHEN it runs through the plan's kills, outages and storms
    call(
        &http,
        reqwest::Method::POST,
        format!("{public}/v1/campaigns/{id}/start"),
        None,
    )
    .await;
    let plan = plan(SEED, LEADS, KILLS);
    let mut next = 0;
    let mut kills: Vec<Kill> = Vec::new();
    // The restart, and the carrier's calls created then.
    let mut restarted: Option<(Instant, u64)> = None;
    let mut stall = StallGuard::new();
    let mut printed = Instant::now();
    let view = loop {
        let view = call(
            &http,
            reqwest::Method::GET,
            format!("{public}/v1/campaigns/{id}"),
            None,
        )
        .await;
        let carrier = accounts.carrier.stats();
        let live = carrier.live_calls;
        if let Some((at, created)) = restarted
            && let Some(last) = kills.last_mut()
        {
            let since = Some(at.elapsed().as_secs_f64());
            if last.dialling_again.is_none() && carrier.calls_created > created {
                last.dialling_again = since;
            }
            if live >= u64::from(CAP) {
                last.full_cap = since;
                restarted = None;
            }
        }
        if view["campaign"]["status"] == "completed" {
            break view;
        }
        stall.check(&view);
        let finals = sum_of(&view["progress"], "finals");
        if printed.elapsed() >= PROGRESS_EVERY {
            printed = Instant::now();
            eprintln!(
                "[{:>6.1}s] {finals}/{LEADS} final, {} slots held ({}), {live} calls live at the \
                 carrier, {} pending",
                wall.elapsed().as_secs_f64(),
                view["progress"]["active"],
                view["progress"]["live_calls"],
                view["progress"]["pending"],
            );
        }
        while let Some(step) = plan.get(next).filter(|p| p.after_finals <= finals) {
            next += 1;
            match step.disruption {
                Disruption::Kill { down_ms } => {
                    lambdas.kill();
                    eprintln!(
                        "[{:>6.1}s] every function lost at {finals} final; back in {down_ms} ms",
                        wall.elapsed().as_secs_f64()
                    );
                    tokio::time::sleep(Duration::from_millis(down_ms)).await;
                    lambdas.restart(cold_start());
                    restarted = Some((Instant::now(), accounts.carrier.stats().calls_created));
                    kills.push(Kill {
                        at_finals: finals,
                        down_ms,
                        dialling_again: None,
                        full_cap: None,
                    });
                }
                other => accounts.inject(other),
            }
        }
        skip_idle(&view["progress"], &scaled);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let calls = calls(&http, &public, &id).await;
    let stats = accounts.carrier.stats();
    drop(lambdas);

    // THEN every invariant holds, as the carrier and the store saw it
    let progress = &view["progress"];
    let setup = Setup::of(&calls);
    let peak = stats
        .max_concurrent_by_campaign
        .get(&id)
        .copied()
        .unwrap_or(0);
    let figures = Figures {
        cap: CAP,
        peak_concurrent: peak,
        max_dials_per_attempt: stats.max_dials_per_attempt,
        lost_leads: progress["total"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(sum_of(progress, "finals")),
        leaked_slots: progress["active"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(stats.live_calls),
        calls_left_live: calls.iter().filter(|c| !is_terminal(c)).count() as u64,
        faulted_without_outcome: 0,
        setup_success: setup.success_rate,
        min_setup_success: MIN_SETUP_SUCCESS,
        kills_done: kills.len() as u32,
        kills_planned: KILLS,
    };
    let calls_by_provider: Vec<(String, u64)> = stats
        .by_provider
        .iter()
        .map(|(k, p)| (k.clone(), p.calls_created))
        .collect();
    eprintln!(
        "aws soak: {LEADS} leads, cap {CAP}, seed {SEED}, outcomes {}, peak {peak}, \
         max dials per attempt {}, setup {} of {} accepted, calls by provider {calls_by_provider:?}, \
         kills [{}], callbacks sent {} dup {} \
         reordered {} delayed {} dropped {} lost to dead functions {}, 429s {}, 5xx {}, \
         outage refusals {}, wall {:.1} s",
        progress["finals"],
        stats.max_dials_per_attempt,
        setup.accepted,
        setup.dial_attempts,
        kills
            .iter()
            .map(Kill::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        stats.callbacks_sent,
        stats.callbacks_duplicated,
        stats.callbacks_reordered,
        stats.callbacks_delayed,
        stats.callbacks_dropped,
        stats.callback_failures,
        stats.rate_limited,
        stats.server_errors,
        stats.outage_refusals,
        wall.elapsed().as_secs_f64(),
    );
    let broken = violations(&figures);
    assert!(broken.is_empty(), "broken invariants: {broken:?}");
    // AND the faults were there to survive: callbacks duplicated and
    // lost, dials refused; and calls were carried (the routing prefers the
    // two Twilio accounts, SansPBX takes what they refuse: how many it
    // takes depends on how the storms meet the dials in real time, so it is
    // reported, not judged; the scenario suite proves the failover)
    assert!(stats.callbacks_duplicated > 0 && stats.callbacks_dropped > 0);
    assert!(
        stats.rate_limited + stats.server_errors > 0,
        "no dial was refused"
    );
    assert!(
        calls_by_provider
            .iter()
            .any(|(kind, n)| kind == "twilio" && *n > 0),
        "{calls_by_provider:?}"
    );
}
