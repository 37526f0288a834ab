//! `voxdial demo --json --faults`: the main job, run as a user runs it, with
//! fault injection, must pass the engine's invariants on its own summary.

mod common;

use serde_json::Value;

#[test]
fn the_demo_with_faults_keeps_every_invariant() {
    let output = common::voxdial()
        .args([
            "demo",
            "--json",
            "--faults",
            // The engine under callback faults is the subject: no audio (at
            // x600 it would only load the machine; the default demo below
            // holds the conversations).
            "--no-media",
            "--seed",
            "3",
            "--time-scale",
            "600",
            "--start",
            "2026-06-01T15:00:00Z",
        ])
        // A hang guard only: nextest ends a hung test; a slow machine is no failure.
        .args(["--timeout-secs", "1200"])
        .env("VOXDIAL_LOG", "error")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");

    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["leads_not_final"], 0);
    assert_eq!(summary["invariants_hold"], true);
    let cap = summary["max_concurrency"].as_u64().unwrap();
    assert!(
        summary["max_concurrent_calls_seen_by_carrier"]
            .as_u64()
            .unwrap()
            <= cap,
        "{summary}"
    );
    assert!(
        summary["max_concurrent_calls_seen_by_carrier"]
            .as_u64()
            .unwrap()
            > 0,
        "{summary}"
    );
    assert_eq!(
        summary["max_dials_per_attempt_seen_by_carrier"], 1,
        "{summary}"
    );
    // The faults really were injected.
    let callbacks = &summary["callbacks"];
    for fault in ["duplicated", "reordered", "delayed", "dropped"] {
        assert!(
            callbacks[fault].as_u64().unwrap() > 0,
            "no {fault} callbacks: {summary}"
        );
    }
    // Every lead is accounted for in an outcome.
    let finals: u64 = summary["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(
        finals,
        summary["total_leads"].as_u64().unwrap(),
        "{summary}"
    );
    // The sample's bad rows are reported with their line numbers.
    let rejected = summary["rejected_rows"].as_array().unwrap();
    assert_eq!(rejected.len(), 4, "{summary}");
    assert!(
        rejected
            .iter()
            .all(|r| r.as_str().unwrap().starts_with("line "))
    );
}

#[test]
fn the_default_demo_holds_its_conversations_through_the_media_bridge() {
    let output = common::voxdial()
        .args(["demo", "--json", "--start", "2026-06-01T15:00:00Z"])
        // A hang guard only: nextest ends a hung test; a slow machine is no failure.
        .args(["--timeout-secs", "1200"])
        .env("VOXDIAL_LOG", "error")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(summary["invariants_hold"], true, "{summary}");
    let c = &summary["conversations"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    // Answered calls stream real audio through the bridge to the simulated
    // model, are recorded, and the bridge tells machines from people.
    assert!(n("conversations") >= 50, "{c}");
    assert_eq!(n("recordings"), n("conversations"), "{c}");
    assert!(n("machines_detected") >= 10, "{c}");
    // Measured on the callee's audio timeline (the hold too), so neither
    // depends on how fast this machine is.
    assert!(c["amd_verdict_p50_ms"].as_u64().unwrap() <= 4_000, "{c}");
    assert!(c["first_audio_p50_ms"].as_u64().is_some(), "{c}");
    // The simulated model reports its tokens as Gemini does, and the
    // engine prices them: between the cheapest and the dearest rate per
    // million tokens (text in 0.50 USD, audio out 12 USD).
    let tokens = n("model_tokens") as f64;
    let cost = c["model_cost_usd"].as_f64().unwrap();
    assert!(tokens > 0.0 && cost > 0.0, "{c}");
    assert!((0.5e-6 * tokens..=12e-6 * tokens).contains(&cost), "{c}");
    // Each human agent is released when its transferred call ends: none
    // is left busy once the campaign is over.
    assert_eq!(n("agents_still_busy"), 0, "{c}");
    // The personas' dispositions come from the conversation's tool calls.
    let outcomes = &summary["outcomes"];
    for d in ["interested", "not_interested", "voicemail_left"] {
        assert!(outcomes[d].as_u64().unwrap_or(0) > 0, "no {d}: {summary}");
    }
    // The campaign passes from one stored AI agent to the next as its
    // leads finish; every conversation names the agent (and version) that
    // held it.
    let agents = summary["agents"].as_array().expect("agents");
    let held: u64 = agents
        .iter()
        .map(|a| a["conversations"].as_u64().unwrap())
        .sum();
    assert!(held >= n("conversations"), "{agents:?}");
    assert!(agents.len() >= 2, "one agent held every call: {agents:?}");
    for agent in agents {
        let name = agent["name"].as_str().unwrap();
        assert!(["Maya", "Raj", "Zoe"].contains(&name), "{agent}");
        assert_eq!(agent["version"], 1, "{agent}");
        assert!(agent["id"].as_str().unwrap().starts_with("agt_"), "{agent}");
    }
}
