//! `voxdial demo --providers twilio,sanspbx --outage twilio`: a whole
//! campaign with Twilio down from start to end (and the usual faults).
//! Every call must still be set up, through SansPBX: call setup success
//! (attempts some provider accepted / dial attempts that reached routing)
//! stays at or above 99.5 %, and the engine's invariants hold.

mod common;

use serde_json::Value;

fn demo(args: &[&str]) -> Value {
    let output = common::voxdial()
        .args(["demo", "--json", "--start", "2026-06-01T15:00:00Z"])
        .args(args)
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
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

fn provider<'a>(summary: &'a Value, id: &str) -> &'a Value {
    summary["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no provider {id} in {summary}"))
}

#[test]
fn with_twilio_down_for_the_whole_campaign_calls_are_set_up_through_sanspbx() {
    let summary = demo(&[
        "--providers",
        "twilio,sanspbx",
        "--outage",
        "twilio",
        "--faults",
        // Call setup is the subject: no audio (at x600 it would only load
        // the machine and slow the provider requests under test).
        "--no-media",
        "--leads",
        "300",
        "--seed",
        "11",
        "--time-scale",
        "600",
    ]);

    // The engine's invariants: every lead final, the cap held, no attempt
    // dialled twice (counted across both providers by the carrier).
    assert_eq!(summary["status"], "completed", "{summary}");
    assert_eq!(summary["leads_not_final"], 0, "{summary}");
    assert_eq!(summary["invariants_hold"], true, "{summary}");
    assert!(
        summary["max_concurrent_calls_seen_by_carrier"]
            .as_u64()
            .unwrap()
            <= summary["max_concurrency"].as_u64().unwrap(),
        "{summary}"
    );
    assert_eq!(summary["max_dials_per_attempt_seen_by_carrier"], 1);

    // Call setup success through the other provider.
    let setup = &summary["setup"];
    let attempts = setup["dial_attempts"].as_u64().unwrap();
    let accepted = setup["accepted"].as_u64().unwrap();
    assert!(attempts >= 300, "{setup}");
    let rate = accepted as f64 / attempts as f64;
    assert!(rate >= 0.995, "setup success {rate:.4} < 99.5 %: {setup}");
    assert!((setup["setup_success_rate"].as_f64().unwrap() - rate).abs() < 1e-9);

    // Twilio was asked (until its circuit opened) and took nothing; SansPBX
    // took every call, and the carrier agrees.
    let twilio = provider(&summary, "twilio");
    let sanspbx = provider(&summary, "sanspbx");
    assert_eq!(twilio["calls"], 0, "{twilio}");
    assert_eq!(twilio["carrier_calls_created"], 0, "{twilio}");
    assert!(twilio["setup_attempts"].as_u64().unwrap() >= 1, "{twilio}");
    assert!(
        twilio["carrier_refusals"].as_u64().unwrap() >= twilio["setup_attempts"].as_u64().unwrap(),
        "{twilio}"
    );
    assert_eq!(sanspbx["calls"].as_u64().unwrap(), accepted, "{sanspbx}");
    assert_eq!(sanspbx["carrier_calls_created"].as_u64().unwrap(), accepted);
    assert!(sanspbx["cost_usd"].as_f64().unwrap() > 0.0, "{sanspbx}");
    assert_eq!(summary["calls_placed"].as_u64().unwrap(), accepted);
}

/// Also on a loaded machine, where a short call can end before its create
/// response reaches the dispatcher: its end is still priced and counted
/// against the provider that carried it.
#[test]
fn without_an_outage_both_providers_carry_calls_and_cost_is_known() {
    let summary = demo(&[
        "--providers",
        "twilio,sanspbx",
        "--leads",
        "60",
        "--seed",
        "5",
        "--time-scale",
        "600",
    ]);
    assert_eq!(summary["invariants_hold"], true, "{summary}");
    let setup = &summary["setup"];
    assert_eq!(setup["accepted"], setup["dial_attempts"], "{setup}");
    // Hybrid routing: Twilio is cheaper for US numbers, SansPBX for Indian
    // ones, and the generated list has both.
    for id in ["twilio", "sanspbx"] {
        let p = provider(&summary, id);
        assert!(p["calls"].as_u64().unwrap() > 0, "{p}");
        assert!(p["cost_usd"].as_f64().unwrap() > 0.0, "{p}");
        // voxdial's cost (rate table × billed minutes) matches the bill.
        let billed = p["carrier_billed_usd"].as_f64().unwrap();
        assert!(
            (p["cost_usd"].as_f64().unwrap() - billed).abs() < 1e-6,
            "{p}"
        );
    }
}
