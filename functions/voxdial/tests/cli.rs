//! The campaign commands of the CLI against a running `voxdial serve
//! --simulate`, as an operator uses them.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{Process, free_port, voxdial, wait_for};
use serde_json::Value;

fn run(server: &str, args: &[&str]) -> Output {
    voxdial()
        .args(args)
        .args(["--server", server])
        .env("VOXDIAL_LOG", "error")
        .output()
        .expect("voxdial runs")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_runs_a_campaign_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let mut serve = voxdial();
    serve.args([
        "serve",
        "--simulate",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ]);
    serve.arg(data.path());
    serve.args([
        "--time-scale",
        "300",
        "--sim-start",
        "2026-06-01T15:00:00Z",
        "--sweep-interval-ms",
        "200",
    ]);
    let _serve = Process::spawn(serve);
    let http = reqwest::Client::new();
    wait_for("the server", Duration::from_secs(600), || {
        let http = http.clone();
        let url = format!("{server}/healthz");
        async move {
            http.get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        }
    })
    .await;

    // create, import, start
    let campaign = json(&run(
        &server,
        &["campaign", "create", "--name", "cli", "--concurrency", "2"],
    ));
    let id = campaign["id"].as_str().unwrap().to_string();
    assert_eq!(campaign["settings"]["max_concurrency"], 2);
    let csv = data.path().join("leads.csv");
    let rows: Vec<String> = (0..12)
        .map(|n| format!("212555{:04},Lead {n},yes", 100 + n))
        .collect();
    std::fs::write(
        &csv,
        format!(
            "phone,name,consent\n{}\nnot-a-number,Bad,yes\n",
            rows.join("\n")
        ),
    )
    .unwrap();
    let report = json(&run(
        &server,
        &[
            "campaign",
            "import",
            &id,
            csv.to_str().unwrap(),
            "--region",
            "US",
        ],
    ));
    assert_eq!(report["inserted"], 12, "{report}");
    assert_eq!(report["rejected"][0]["line"], 14, "{report}");
    assert_eq!(
        json(&run(&server, &["campaign", "start", &id]))["status"],
        "running"
    );

    // pause and resume, and a new cap, on the running campaign
    assert_eq!(
        json(&run(&server, &["campaign", "pause", &id]))["status"],
        "paused"
    );
    assert_eq!(
        json(&run(&server, &["campaign", "resume", &id]))["status"],
        "running"
    );
    let raised = json(&run(&server, &["campaign", "concurrency", &id, "4"]));
    assert_eq!(raised["settings"]["max_concurrency"], 4);

    // status --watch follows the campaign to its end
    let watched = run(&server, &["campaign", "status", &id, "--watch"]);
    assert!(watched.status.success());
    let lines = String::from_utf8_lossy(&watched.stdout);
    assert!(
        lines
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("completed"),
        "{lines}"
    );
    let status = json(&run(&server, &["campaign", "status", &id]));
    let finals: u64 = status["progress"]["finals"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(finals, 12, "{status}");

    // a finished campaign refuses new actions with the reason
    let refused = run(&server, &["campaign", "resume", &id]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("cannot Resume a campaign that is Completed")
    );
}

#[test]
fn commands_say_when_no_server_runs() {
    let output = run(
        &format!("http://127.0.0.1:{}", free_port()),
        &["campaign", "status", "cmp_x"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is `voxdial serve` running?"), "{stderr}");
}
