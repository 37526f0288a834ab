//! `voxdial soak` at a small size: 80 leads over three simulated provider
//! accounts with every callback fault, outages and 429 storms, the server
//! SIGKILLed and restarted five times, and media on: answered calls talk
//! through the server's bridge to a simulated Gemini Live model that sends
//! `goAway` to a share of its connections and drops another share mid-call.
//! The verdict is the engine's invariants only; the recovery times are real
//! time and only reported.

mod common;

use serde_json::Value;

#[test]
fn a_small_soak_keeps_every_invariant_through_five_kills() {
    let output = common::voxdial()
        .args([
            "soak",
            "--json",
            "--leads",
            "80",
            "--concurrency",
            "5",
            "--kills",
            "5",
            "--seed",
            "13",
            // Higher shares than the defaults, so that both faults strike
            // some of the few dozen conversations of a small run.
            "--model-go-away",
            "0.3",
            "--model-drop",
            "0.2",
            // A hang guard only: nextest ends a hung test; a slow machine is
            // no failure (the run takes about a minute on two idle cores).
            "--duration",
            "1500",
        ])
        .env("VOXDIAL_LOG", "error")
        .output()
        .expect("the soak runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "no JSON report (exit {:?})\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });

    // GIVEN the planned disruptions all happened
    let kills = report["kills"].as_array().unwrap();
    assert_eq!(kills.len(), 5, "{report}");
    let planned = report["plan"].as_array().unwrap();
    assert!(
        planned.iter().any(|p| p["kind"] == "outage")
            && planned.iter().any(|p| p["kind"] == "rate_limit_storm"),
        "{report}"
    );
    // AND the callback faults were injected and some callbacks found the server dead
    let injected = &report["injected"];
    for fault in [
        "callbacks_duplicated",
        "callbacks_reordered",
        "callbacks_delayed",
        "callbacks_dropped",
        "rate_limited",
        "server_errors",
    ] {
        assert!(
            injected[fault].as_u64().unwrap() > 0,
            "no {fault}: {report}"
        );
    }
    // AND calls were carried (the routing prefers the two Twilio accounts;
    // SansPBX takes what they refuse)
    assert!(
        injected["calls_by_provider"]["twilio"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{report}"
    );

    // AND conversations ran through the bridge, whose model connections were
    // sent goAway and dropped mid-call, and resumed
    let media = &report["media"];
    for figure in [
        "conversations",
        "go_aways",
        "drops",
        "resumed",
        "faulted_calls",
    ] {
        assert!(media[figure].as_u64().unwrap() > 0, "no {figure}: {report}");
    }

    // THEN the campaign completed with every invariant held
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["timed_out"], false, "{report}");
    assert_eq!(report["cap_breaches"], 0, "{report}");
    assert!(report["peak_concurrent"].as_u64().unwrap() <= 5, "{report}");
    assert_eq!(report["max_dials_per_attempt"], 1, "{report}");
    assert_eq!(report["double_dials"], 0, "{report}");
    assert_eq!(report["lost_leads"], 0, "{report}");
    assert_eq!(report["leaked_slots"], 0, "{report}");
    assert_eq!(report["calls_left_live"], 0, "{report}");
    // AND every call hit by a model fault ended with a final outcome
    assert_eq!(media["faulted_without_outcome"], 0, "{report}");
    assert_eq!(
        media["faulted_calls"],
        media["faulted_recovered"].as_u64().unwrap()
            + media["faulted_ended_with_outcome"].as_u64().unwrap(),
        "{report}"
    );
    let setup = &report["setup"];
    assert!(setup["dial_attempts"].as_u64().unwrap() >= 80, "{report}");
    assert!(
        setup["success_rate"].as_f64().unwrap() >= report["min_setup_success"].as_f64().unwrap(),
        "{report}"
    );
    assert_eq!(report["violations"], Value::Array(vec![]), "{report}");
    assert_eq!(report["invariants_hold"], true, "{report}");
    // AND the process says so
    assert!(output.status.success(), "exit {:?}", output.status);
}
