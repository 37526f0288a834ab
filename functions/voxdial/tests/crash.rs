//! Crash safety on real processes: `voxdial serve` is killed with SIGKILL in
//! the middle of a campaign and started again on the same data directory.
//! The campaign must complete with every lead final, no attempt dialled
//! twice and never more calls in flight than the cap — as counted by the
//! simulated carrier, which runs as its own process and outlives the crash.

mod common;

use std::time::Duration;

use common::{Process, free_port, voxdial, wait_for};
use serde_json::{Value, json};

const TOKEN: &str = "crash-test-token";
const ACCOUNT: &str = "AC00000000000000000000000000demo";
/// A Monday at 15:00 UTC: every US zone is inside its calling window.
const SIM_START: &str = "2026-06-01T15:00:00Z";
/// Calls last seconds of real time (a 60 s call, 3 s), so that 4 of them
/// overlap however slowly a loaded machine dials.
const SCALE: &str = "20";
/// How long a wait may take before the test calls it a hang: far beyond
/// what any machine needs (about 45 s in all on two idle cores), so the
/// verdict never depends on this machine's speed.
const HANG_GUARD: Duration = Duration::from_secs(600);

fn serve(port: u16, carrier: u16, data: &std::path::Path, epoch: u64) -> Process {
    let mut command = voxdial();
    command.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        data.to_str().unwrap(),
        "--twilio-api-base",
        &format!("http://127.0.0.1:{carrier}"),
        "--twilio-account-sid",
        ACCOUNT,
        "--twilio-auth-token",
        TOKEN,
        "--time-scale",
        SCALE,
        "--sim-start",
        SIM_START,
        "--sim-epoch",
        &epoch.to_string(),
        "--sweep-interval-ms",
        "200",
        // Leases long enough (ring 20 + call 120 + 1200 s = 67 real s)
        // that only reconciling with the provider recovers within 10 s.
        "--call-lease-margin-secs",
        "1200",
    ]);
    Process::spawn(command)
}

/// An admin key made with `voxdial keys create` on the server's data.
fn api_key(data: &std::path::Path) -> String {
    let output = voxdial()
        .args(["keys", "create", "--role", "admin", "--data-dir"])
        .arg(data)
        .output()
        .expect("voxdial runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_the_campaign_without_loss_or_double_dials() {
    let data = tempfile::tempdir().unwrap();
    let (api, carrier_port) = (free_port(), free_port());
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let base = format!("http://127.0.0.1:{api}");
    let key = api_key(data.path());
    let http = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        )]))
        .build()
        .unwrap();

    let mut carrier_cmd = voxdial();
    carrier_cmd.args([
        "sim-carrier",
        "--listen",
        &format!("127.0.0.1:{carrier_port}"),
        "--account-sid",
        ACCOUNT,
        "--auth-token",
        TOKEN,
        "--disposition-api",
        &base,
        "--disposition-key",
        &key,
        "--seed",
        "11",
        "--time-scale",
        SCALE,
        "--sim-start",
        SIM_START,
        "--sim-epoch",
        &epoch.to_string(),
    ]);
    let _carrier = Process::spawn(carrier_cmd);
    let mut server = serve(api, carrier_port, data.path(), epoch);
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.ok()?.json::<Value>().await.ok() }
    };
    wait_for("the server", HANG_GUARD, || {
        get(format!("{base}/v1/campaigns"))
    })
    .await;

    // GIVEN a running campaign of 40 leads with cap 4
    let campaign: Value = http
        .post(format!("{base}/v1/campaigns"))
        .json(&json!({
            "name": "crash test",
            "max_concurrency": 4,
            "max_call_secs": 120,
            "ring_timeout_secs": 20,
            "retry": {"max_attempts": 2, "busy_delay_secs": 60, "no_answer_delay_secs": 60, "failed_delay_secs": 60}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = campaign["id"].as_str().unwrap().to_string();
    let csv: String = std::iter::once("phone,name,consent".to_string())
        .chain((0..40).map(|n| format!("+1 212 555 {:04},Lead {n},yes", 100 + n)))
        .collect::<Vec<_>>()
        .join("\n");
    let report: Value = http
        .post(format!("{base}/v1/campaigns/{id}/leads"))
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["inserted"], 40, "{report}");
    http.post(format!("{base}/v1/campaigns/{id}/start"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    // WHEN the server is killed with SIGKILL once some leads are final and calls are live
    wait_for("calls in flight with some leads done", HANG_GUARD, || {
        let get = get(format!("{base}/v1/campaigns/{id}"));
        async move {
            let view = get.await?;
            let finals: u64 = view["progress"]["finals"]
                .as_object()?
                .values()
                .filter_map(Value::as_u64)
                .sum();
            (finals >= 8 && view["progress"]["active"].as_u64()? > 0).then_some(())
        }
    })
    .await;
    server.kill9();
    // AND every call it had in flight ends while it is down (their final
    // callbacks are lost, so their slots look taken until reconciled)
    let carrier_stats = format!("http://127.0.0.1:{carrier_port}/sim/stats");
    wait_for("the calls in flight to end", HANG_GUARD, || {
        let get = get(carrier_stats.clone());
        async move { (get.await?["live_calls"].as_u64()? == 0).then_some(()) }
    })
    .await;

    // AND it is started again on the same data (the carrier marks the
    // moment, and times from it when the campaign's calls in flight reach
    // each count)
    http.post(format!("http://127.0.0.1:{carrier_port}/sim/mark"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let _server = serve(api, carrier_port, data.path(), epoch);

    // THEN the campaign completes with every lead final
    let view = wait_for("the campaign to complete", HANG_GUARD, || {
        let get = get(format!("{base}/v1/campaigns/{id}"));
        async move {
            let view = get.await?;
            (view["campaign"]["status"] == "completed").then_some(view)
        }
    })
    .await;
    let finals: u64 = view["progress"]["finals"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(finals, 40, "{view}");
    assert_eq!(view["progress"]["active"], 0, "{view}");

    // AND the carrier never saw an attempt dialled twice or more than 4 calls at once
    let stats = get(format!("http://127.0.0.1:{carrier_port}/sim/stats"))
        .await
        .unwrap();
    assert_eq!(stats["max_dials_per_attempt"], 1, "{stats}");
    let peak = stats["max_concurrent_by_campaign"][&id].as_u64().unwrap();
    assert!(peak <= 4, "peak {peak}: {stats}");
    // AND it was back at the full cap of 4 calls in flight within 10 s of
    // real time after the restart, as the carrier saw it: the sweeper asks
    // the provider about the stale calls at once instead of waiting for
    // their leases (1,340 simulated s, 67 real s here; about 12 minutes
    // with default settings)
    let recovery = stats["reached_since_mark"][&id]["4"]
        .as_u64()
        .unwrap_or_else(|| panic!("never back at the full cap after the restart: {stats}"));
    assert!(
        recovery <= 10_000,
        "back at full cap {recovery} ms after the restart: {stats}"
    );
}
