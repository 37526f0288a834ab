//! The campaign commands of the CLI against a running `voxdial serve
//! --simulate`, as an operator uses them.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use std::os::unix::fs::PermissionsExt;

use common::{Process, free_port, voxdial, wait_for};
use serde_json::Value;

/// Runs a client command against `server`, whose data directory (and
/// with it the admin key) is `data`.
fn run(server: &str, data: &Path, args: &[&str]) -> Output {
    voxdial()
        .args(args)
        .args(["--server", server])
        .arg("--data-dir")
        .arg(data)
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

    // the first start wrote an admin key only its owner can read, which
    // the commands below send without being told
    let admin_key = data.path().join("admin.key");
    let mode = std::fs::metadata(&admin_key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&admin_key)
            .unwrap()
            .starts_with("vxd_")
    );

    // create, import, start
    let campaign = json(&run(
        &server,
        data.path(),
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
        data.path(),
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

    // the same through the upload route (which files over 4 MiB take):
    // progress on stderr, the final import with its rejections on stdout
    let more = data.path().join("more.csv");
    std::fs::write(
        &more,
        "phone,name,consent\n2125550200,A,yes\n+1 900 555 0123,Premium,yes\n2125550201,B,yes\n2125550100,Again,yes\n",
    )
    .unwrap();
    let uploaded = run(
        &server,
        data.path(),
        &[
            "campaign",
            "import",
            &id,
            more.to_str().unwrap(),
            "--region",
            "US",
            "--upload",
        ],
    );
    let progress = String::from_utf8_lossy(&uploaded.stderr);
    assert!(
        progress.contains(" done: 4 rows read, 2 stored, 1 merged, 1 rejected"),
        "{progress}"
    );
    let done = json(&uploaded);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["rejections"][0]["line"], 3, "{done}");
    assert_eq!(
        json(&run(&server, data.path(), &["campaign", "start", &id]))["status"],
        "running"
    );

    // pause and resume, and a new cap, on the running campaign
    assert_eq!(
        json(&run(&server, data.path(), &["campaign", "pause", &id]))["status"],
        "paused"
    );
    assert_eq!(
        json(&run(&server, data.path(), &["campaign", "resume", &id]))["status"],
        "running"
    );
    let raised = json(&run(
        &server,
        data.path(),
        &["campaign", "concurrency", &id, "4"],
    ));
    assert_eq!(raised["settings"]["max_concurrency"], 4);

    // status --watch follows the campaign to its end
    let watched = run(
        &server,
        data.path(),
        &["campaign", "status", &id, "--watch"],
    );
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
    let status = json(&run(&server, data.path(), &["campaign", "status", &id]));
    let finals: u64 = status["progress"]["finals"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(finals, 14, "{status}");

    // a key of another organisation, made on the same data directory,
    // does not see the campaign; no key at all is refused with a hint
    let made = voxdial()
        .args([
            "keys",
            "create",
            "--org",
            "acme",
            "--role",
            "viewer",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let stdout = String::from_utf8(made.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() == 1 && lines[0].starts_with("vxd_"), "{stdout}");
    let other = run(
        &server,
        data.path(),
        &["campaign", "status", &id, "--api-key", lines[0]],
    );
    assert!(String::from_utf8_lossy(&other.stderr).contains("404"));
    let elsewhere = tempfile::tempdir().unwrap();
    let keyless = run(&server, elsewhere.path(), &["campaign", "status", &id]);
    let stderr = String::from_utf8_lossy(&keyless.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("--api-key"),
        "{stderr}"
    );

    // a finished campaign refuses new actions with the reason
    let refused = run(&server, data.path(), &["campaign", "resume", &id]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("cannot Resume a campaign that is Completed")
    );
}

#[test]
fn commands_say_when_no_server_runs() {
    let data = tempfile::tempdir().unwrap();
    let output = run(
        &format!("http://127.0.0.1:{}", free_port()),
        data.path(),
        &["campaign", "status", "cmp_x"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is `voxdial serve` running?"), "{stderr}");
}
