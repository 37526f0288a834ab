//! One scenario suite, two backends (issue 11): each scenario is written
//! once against a [`Deployment`] and runs on the local backend and on AWS
//! (`local::…` and `aws::…`), asserting the same outcomes through the same
//! public surfaces (the API, the simulated carrier's ledger).
//!
//! | scenario | what it proves on both backends |
//! |---|---|
//! | [`a_provider_outage_under_every_strategy`] | two Twilio accounts down for the whole campaign: under `cost`, `quality`, `hybrid` and `agent_assigned` every call is set up through SansPBX, the cap holds, `GET /v1/providers` shows the failures and the calls |
//! | [`a_restart_mid_campaign_loses_and_repeats_nothing`] | every process lost at once mid-campaign and started again: every lead final, no attempt dialled twice, the cap held, no call left live |
//! | [`transfers_take_an_available_human_and_release_them`] | AI agents configured for cold and warm transfers hand a caller who asks for a person to the human agent with the right skills (warm: who hears the call's summary first), who is available again afterwards; with nobody available the call is not transferred |
//! | [`a_configured_ivr_menu_decides_what_a_key_does`] | the same key (9) opts out with the built-in menu and reaches a human with an AI agent whose menu says so |
//! | [`a_machine_hears_the_configured_agent_s_voicemail`] | Twilio's asynchronous AMD verdict and the configured agent's voicemail message on a machine |
//! | [`an_operator_records_a_live_call_on_demand`] | `POST /v1/calls/{id}/recording/start` on a live call: the provider records it and calls back, the recording is stored with the call |
//!
//! The scenarios with media run in real time: the container's bridge runs
//! on the system clock, as in production. Their leads are numbers whose
//! calling window is open now ([`numbers_open_now`]). Those with a person
//! on the line also report how soon the agent spoke (`first audio`: from
//! answer, as the callee heard it, and after the caller's first turn), a
//! figure, not a verdict.

#[path = "../../../../tests/tests/aws_functions/mod.rs"]
mod aws_functions;
#[path = "../common/mod.rs"]
mod common;
mod deployment;

use std::fmt::Write as _;

use chrono::{Timelike, Utc};
use deployment::{Backend, Deployment, Setup};
use serde_json::{Value, json};
use voxdial_sim::soak::{is_terminal, lead_number, sum_of};

/// Runs each scenario on both backends: `local::name` and `aws::name`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Local).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Aws).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_provider_outage_under_every_strategy,
    a_restart_mid_campaign_loses_and_repeats_nothing,
    transfers_take_an_available_human_and_release_them,
    a_configured_ivr_menu_decides_what_a_key_does,
    a_machine_hears_the_configured_agent_s_voicemail,
    an_operator_records_a_live_call_on_demand,
);

/// Campaign settings: `cap` calls at once, one attempt per lead unless
/// `attempts` says more.
fn settings(name: &str, cap: u32, attempts: u32) -> Value {
    json!({
        "name": name,
        "max_concurrency": cap,
        "retry": {
            "max_attempts": attempts,
            "busy_delay_secs": 300,
            "no_answer_delay_secs": 600,
            "failed_delay_secs": 300,
            "voicemail_delay_secs": null
        }
    })
}

/// A CSV of `numbers`, each callee playing `persona` (what the simulated
/// voice model reads from the lead's fields; the callee's audio plays the
/// deployment's).
fn csv(numbers: &[String], persona: &str) -> String {
    let mut csv = String::from("phone,name,consent,persona\n");
    for (i, number) in numbers.iter().enumerate() {
        let _ = writeln!(csv, "{number},Lead {i},yes,{persona}");
    }
    csv
}

/// `n` numbers whose calling window (the legal floor, in the callee's
/// local time, every day of the week) is open now and for at least the
/// next hour: Hawaii from 00:00 to 04:00 UTC (14:00–18:00 there), India
/// from 04:00 to 15:00 (09:30–20:30), New York from 15:00 to 24:00
/// (10:00–19:00, or 11:00–20:00 in summer).
fn numbers_open_now(n: usize, offset: usize) -> Vec<String> {
    let now = Utc::now();
    numbers_at(now.hour() * 60 + now.minute(), n, offset)
}

/// `n` numbers whose window is open `minute` minutes after midnight UTC.
fn numbers_at(minute: u32, n: usize, offset: usize) -> Vec<String> {
    (offset..offset + n)
        .map(|i| match minute {
            0..240 => format!("+1808200{i:04}"),
            240..900 => format!("+9198765{i:05}"),
            _ => format!("+1212200{i:04}"),
        })
        .collect()
}

/// Whatever the hour, the numbers are valid mobile or fixed-line numbers
/// (an import refuses the others).
#[test]
fn the_numbers_of_every_hour_are_valid() {
    for minute in [0, 240, 900] {
        for number in numbers_at(minute, 3, 0) {
            let parsed = voxdial_domain::E164::parse(&number, None)
                .unwrap_or_else(|e| panic!("{number}: {e}"));
            assert!(
                matches!(
                    parsed.number_type(),
                    voxdial_domain::NumberType::Mobile
                        | voxdial_domain::NumberType::FixedLine
                        | voxdial_domain::NumberType::FixedLineOrMobile
                ),
                "{number}: {:?}",
                parsed.number_type()
            );
        }
    }
}

/// The campaign's figures that must hold on any backend: completed, every
/// lead final, the cap held and every attempt dialled once (as the
/// carrier saw them), no call left live.
async fn assert_invariants(d: &Deployment, id: &str, view: &Value, cap: u32) {
    let progress = &view["progress"];
    let total = progress["total"].as_u64().unwrap();
    let finals = sum_of(progress, "finals");
    assert_eq!(finals, total, "every lead final: {progress}");
    assert!(
        progress["finals"]["screened_out"].as_u64().unwrap_or(0) < total,
        "nothing was dialled: {progress}"
    );
    assert_eq!(progress["active"], 0, "{progress}");
    let stats = d.accounts.carrier.stats();
    let peak = stats
        .max_concurrent_by_campaign
        .get(id)
        .copied()
        .unwrap_or(0);
    assert!(peak <= cap, "cap {cap} exceeded: {peak}");
    assert_eq!(stats.max_dials_per_attempt, 1, "an attempt dialled twice");
    let calls = d.calls(id).await;
    assert!(calls.iter().all(is_terminal), "a call left live: {calls:?}");
}

/// How soon the agent speaks: from answer to the first agent audio each
/// person heard, and from the end of the caller's first turn to the agent's
/// audio (the bridge's figure on the call). Reported beside the backend,
/// not judged (real time on a shared machine).
fn report_first_audio(d: &Deployment, backend: Backend, scenario: &str, calls: &[Value]) {
    let mut heard = d.heard.lock().unwrap().clone();
    heard.sort_unstable();
    let mut turns: Vec<u64> = calls
        .iter()
        .filter_map(|c| c["conversation"]["first_audio_ms"].as_array())
        .filter_map(|a| a.first().and_then(Value::as_u64))
        .collect();
    turns.sort_unstable();
    eprintln!(
        "first audio ({backend:?}, {scenario}): answer to the agent's first audio {heard:?} ms; \
         end of the caller's first turn to the agent's audio {turns:?} ms"
    );
}

/// The call records of `id`, one per lead here (one attempt each).
async fn only_calls(d: &Deployment, id: &str, n: usize) -> Vec<Value> {
    let calls = d.calls(id).await;
    assert_eq!(calls.len(), n, "{calls:?}");
    calls
}

/// GIVEN both Twilio accounts down for the whole campaign, SansPBX up,
/// and a campaign under each routing strategy (`agent_assigned` with an AI
/// agent that prefers a Twilio account)
/// WHEN the campaigns run
/// THEN every call the carrier set up went through SansPBX, every lead is
/// final, and the provider statistics show the Twilio failures and the
/// SansPBX calls.
async fn a_provider_outage_under_every_strategy(backend: Backend) {
    const CAP: u32 = 2;
    const LEADS: usize = 5;
    let d = Deployment::start(backend, Setup::simulated(600.0, true)).await;
    let agent = d
        .ai_agent(json!({
            "preferred_provider": "twilio_a",
            "config": {"name": "Tia", "system_prompt": "You are Tia from Sunrise Dental."}
        }))
        .await;
    let strategies = ["cost", "quality", "hybrid", "agent_assigned"];
    let mut campaigns = Vec::new();
    for (n, strategy) in strategies.iter().enumerate() {
        let mut body = settings(strategy, CAP, 2);
        body["provider_strategy"] = json!({ "strategy": strategy });
        if *strategy == "agent_assigned" {
            body["agent_id"] = json!(agent);
        }
        let numbers: Vec<String> = (n * LEADS..(n + 1) * LEADS).map(lead_number).collect();
        campaigns.push((
            strategy,
            d.campaign(body, csv(&numbers, "interested")).await,
        ));
    }
    for (strategy, id) in &campaigns {
        let view = d.completed(id).await;
        assert_invariants(&d, id, &view, CAP).await;
        let calls = d.calls(id).await;
        let set_up: Vec<&Value> = calls
            .iter()
            .filter(|c| !c["provider_sid"].is_null())
            .collect();
        assert!(!set_up.is_empty(), "{strategy}: no call was set up");
        for call in set_up {
            assert_eq!(call["provider"], "sanspbx", "{strategy}: {call}");
        }
    }
    let stats = d.accounts.carrier.stats();
    assert!(stats.outage_refusals > 0, "Twilio was never tried");
    let providers = d.api(reqwest::Method::GET, "/v1/providers", None).await;
    let row = |id: &str| {
        providers["providers"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["provider"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no {id} row: {providers}"))
    };
    assert!(row("sanspbx")["calls"].as_u64().unwrap() > 0, "{providers}");
    for twilio in ["twilio_a", "twilio_b"] {
        assert_eq!(row(twilio)["calls"], 0, "{providers}");
    }
    assert!(
        row("twilio_a")["setup_failures"].as_u64().unwrap() > 0,
        "{providers}"
    );
}

/// GIVEN a campaign of 24 leads at cap 4 under the default call profile
/// (retries, busy lines, machines)
/// WHEN every process is lost at once after a third of the leads are final,
/// and started again on the same data
/// THEN the campaign completes with every lead final, no attempt dialled
/// twice, the cap held and no call left live.
async fn a_restart_mid_campaign_loses_and_repeats_nothing(backend: Backend) {
    const CAP: u32 = 4;
    const LEADS: usize = 24;
    let mut d = Deployment::start(backend, Setup::simulated(120.0, false)).await;
    let numbers: Vec<String> = (0..LEADS).map(lead_number).collect();
    let id = d
        .campaign(settings("restart", CAP, 3), csv(&numbers, "interested"))
        .await;
    loop {
        let view = d.view(&id).await;
        if sum_of(&view["progress"], "finals") >= LEADS as u64 / 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.restart().await;
    let view = d.completed(&id).await;
    assert_invariants(&d, &id, &view, CAP).await;
}

/// An AI agent that transfers `mode` to a human with `skill`.
fn transferring_agent(name: &str, mode: &str, skill: &str) -> Value {
    json!({"config": {
        "name": name,
        "system_prompt": format!("You are {name} from Sunrise Dental."),
        "tools": ["transfer_call", "record_outcome", "end_call"],
        "transfer": {"mode": mode, "default_skills": [skill]}
    }})
}

/// GIVEN human agents Ana (skill `cold_desk`) and Ben (`warm_desk`), both
/// available, and three campaigns of one caller who asks for a person:
/// one with an AI agent that transfers cold to `cold_desk`, one warm to
/// `warm_desk`, one to `night_desk`, which nobody has
/// WHEN the campaigns run
/// THEN the first call is transferred cold to Ana and the second warm to
/// Ben (the carrier followed a `<Dial>` and dialled an agent leg into a
/// conference, where Ben heard the call's summary before he joined), the
/// third is not transferred, and Ana and Ben are available again once
/// their calls ended.
async fn transfers_take_an_available_human_and_release_them(backend: Backend) {
    let d = Deployment::start(backend, Setup::real_time("transfer", false)).await;
    const BEN: &str = "+14155550198";
    for (agent, number, skill) in [
        ("ana", "+14155550199", "cold_desk"),
        ("ben", BEN, "warm_desk"),
    ] {
        d.api(
            reqwest::Method::PUT,
            &format!("/v1/agents/{agent}"),
            Some(
                json!({"name": agent, "number": number, "skills": [skill], "status": "available"}),
            ),
        )
        .await;
    }
    let mut campaigns = Vec::new();
    for (n, (name, mode, skill)) in [
        ("Cora", "cold", "cold_desk"),
        ("Wes", "warm", "warm_desk"),
        ("Nell", "cold", "night_desk"),
    ]
    .into_iter()
    .enumerate()
    {
        let agent = d.ai_agent(transferring_agent(name, mode, skill)).await;
        let mut body = settings(name, 1, 1);
        body["agent_id"] = json!(agent);
        campaigns.push(
            d.campaign(body, csv(&numbers_open_now(1, n), "transfer"))
                .await,
        );
    }
    let mut calls = Vec::new();
    for id in &campaigns {
        let view = d.completed(id).await;
        assert_invariants(&d, id, &view, 1).await;
        calls.push(only_calls(&d, id, 1).await.remove(0));
    }
    let (cold, warm, nobody) = (&calls[0], &calls[1], &calls[2]);
    assert_eq!(cold["transfer"]["mode"], "cold", "{cold}");
    assert_eq!(cold["transfer"]["agent_id"], "ana", "{cold}");
    assert_eq!(cold["disposition"], "transferred", "{cold}");
    assert_eq!(warm["transfer"]["mode"], "warm", "{warm}");
    assert_eq!(warm["transfer"]["agent_id"], "ben", "{warm}");
    assert_eq!(warm["disposition"], "transferred", "{warm}");
    assert!(nobody["transfer"].is_null(), "{nobody}");
    assert_ne!(nobody["disposition"], "transferred", "{nobody}");
    let stats = d.accounts.carrier.stats();
    assert_eq!(
        stats.transfers, 2,
        "one <Dial> each: the cold one, the warm conference"
    );
    assert_eq!(stats.agent_legs, 1, "the warm transfer's agent leg");
    // Ben heard the call's summary before he joined (the whisper).
    let whispers = d.accounts.carrier.whispers();
    let summary = warm["transfer"]["summary"].as_str().unwrap_or_default();
    assert!(!summary.is_empty(), "{warm}");
    assert!(
        whispers
            .iter()
            .any(|w| w.to == BEN && w.said.iter().any(|s| s.contains(summary))),
        "{summary:?} never said to Ben: {whispers:?}"
    );
    for agent in ["ana", "ben"] {
        let now = d.human_agent_now(agent).await;
        assert_eq!(now["status"], "available", "{now}");
    }
    report_first_audio(&d, backend, "transfers", &calls);
}

/// GIVEN Ivy, a human agent with skill `ivr_desk`, and two campaigns of a
/// caller who presses 9 after the greeting: one with the built-in agent
/// (9 opts out), one with an AI agent whose menu sends 9 to `ivr_desk`
/// WHEN the campaigns run
/// THEN the first caller is opted out, the second transferred to Ivy.
async fn a_configured_ivr_menu_decides_what_a_key_does(backend: Backend) {
    let d = Deployment::start(backend, Setup::real_time("opt_out", false)).await;
    d.api(
        reqwest::Method::PUT,
        "/v1/agents/ivy",
        Some(json!({"name": "Ivy", "number": "+14155550199", "skills": ["ivr_desk"], "status": "available"})),
    )
    .await;
    let agent = d
        .ai_agent(json!({"config": {
            "name": "Iris",
            "system_prompt": "You are Iris from Sunrise Dental.",
            "ivr": {"options": [
                {"digit": "9", "action": "human_agent", "skills": ["ivr_desk"], "label": "press 9 for the front desk"}
            ]}
        }}))
        .await;
    let built_in = d
        .campaign(
            settings("built-in menu", 1, 1),
            csv(&numbers_open_now(1, 0), "opt_out"),
        )
        .await;
    let mut body = settings("Iris's menu", 1, 1);
    body["agent_id"] = json!(agent);
    let configured = d
        .campaign(body, csv(&numbers_open_now(1, 1), "opt_out"))
        .await;
    let mut calls = Vec::new();
    for id in [&built_in, &configured] {
        let view = d.completed(id).await;
        assert_invariants(&d, id, &view, 1).await;
        calls.push(only_calls(&d, id, 1).await.remove(0));
    }
    assert_eq!(calls[0]["disposition"], "opted_out", "{}", calls[0]);
    assert!(calls[0]["transfer"].is_null(), "{}", calls[0]);
    assert_eq!(calls[1]["transfer"]["agent_id"], "ivy", "{}", calls[1]);
    assert_eq!(calls[1]["disposition"], "transferred", "{}", calls[1]);
    report_first_audio(&d, backend, "ivr", &calls);
}

/// GIVEN an AI agent with its own voicemail message and a campaign that
/// leaves messages, whose callee's answering machine picks up (Twilio's
/// asynchronous AMD on)
/// WHEN the campaign runs
/// THEN the call is known as a machine, the message was left and its text
/// is in the transcript's excerpt, said by the configured agent.
async fn a_machine_hears_the_configured_agent_s_voicemail(backend: Backend) {
    const MESSAGE: &str = "Hi, this is Maya from Sunrise Dental. Please call us back.";
    let d = Deployment::start(backend, Setup::real_time("interested", true)).await;
    let agent = d
        .ai_agent(json!({"config": {
            "name": "Maya",
            "system_prompt": "You are Maya from Sunrise Dental.",
            "voicemail": {"text": MESSAGE}
        }}))
        .await;
    let mut body = settings("voicemail", 1, 1);
    body["agent_id"] = json!(agent);
    body["voicemail"] = json!({ "mode": "leave_message" });
    body["amd"] = json!("async");
    let id = d
        .campaign(body, csv(&numbers_open_now(1, 0), "interested"))
        .await;
    let view = d.completed(&id).await;
    assert_invariants(&d, &id, &view, 1).await;
    let call_id = only_calls(&d, &id, 1).await.remove(0)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The bridge's conversation record and the post-call transcript land
    // after the call's end.
    let call = d
        .call_when(&call_id, |call| {
            !call["conversation"]["excerpt"].is_null()
                && !matches!(
                    call["post_call"]["transcript"]["status"].as_str(),
                    None | Some("pending")
                )
        })
        .await;
    assert!(
        call["answered_by"]
            .as_str()
            .unwrap_or("")
            .starts_with("machine"),
        "{call}"
    );
    assert!(!call["voicemail_left_at"].is_null(), "{call}");
    let conversation = &call["conversation"];
    assert_eq!(conversation["agent"]["name"], "Maya", "{call}");
    assert!(
        conversation["excerpt"]
            .as_str()
            .is_some_and(|t| t.contains(MESSAGE)),
        "{call}"
    );
}

/// GIVEN a campaign that records on demand and a caller who talks for a
/// while
/// WHEN an operator starts the recording through the API once the call is
/// answered
/// THEN the provider records the call and calls back with it (an absolute
/// callback URL), and the recording is stored with the call.
async fn an_operator_records_a_live_call_on_demand(backend: Backend) {
    let d = Deployment::start(backend, Setup::real_time("interested", false)).await;
    let mut body = settings("on demand", 1, 1);
    body["recording"] = json!("on_demand");
    let id = d
        .campaign(body, csv(&numbers_open_now(1, 0), "interested"))
        .await;
    // (a hang guard, not a speed limit: the call is answered in seconds)
    let mut live = None;
    for _ in 0..1200 {
        live = d
            .calls(&id)
            .await
            .into_iter()
            .find(|c| c["state"] == "answered");
        if live.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let call_id = live.expect("the call was answered")["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.api(
        reqwest::Method::POST,
        &format!("/v1/calls/{call_id}/recording/start"),
        None,
    )
    .await;
    let view = d.completed(&id).await;
    assert_invariants(&d, &id, &view, 1).await;
    assert_eq!(d.accounts.carrier.stats().recordings_created, 1);
    // The post-call pipeline stores the recording after the call ends.
    let call = d
        .call_when(&call_id, |call| {
            !matches!(
                call["post_call"]["recording"]["status"].as_str(),
                None | Some("recording" | "available")
            )
        })
        .await;
    assert!(
        call["post_call"]["on_demand"]["recording_sid"].is_string(),
        "{call}"
    );
    assert_eq!(call["post_call"]["recording"]["status"], "stored", "{call}");
    assert_eq!(
        call["post_call"]["recording"]["source"], "provider",
        "{call}"
    );
    report_first_audio(&d, backend, "on demand", &[call]);
}
