//! Status-callback throughput and latency of `voxdial serve`, measured from
//! a separate load process on loopback, signatures checked.
//!
//! ```sh
//! cargo bench -p voxdial --bench callback_load            # 10 campaigns x 1,000 live calls
//! VOXDIAL_BENCH_CALLS=2000 VOXDIAL_BENCH_WORKERS=64 cargo bench -p voxdial --bench callback_load
//! ```
//!
//! The bench starts a simulated carrier in this process whose calls ring
//! for ever, and `voxdial serve` as a child process pointed at it. It fills
//! campaigns with live calls, then plays the rest of every call's life as
//! Twilio would post it — `in-progress`, the asynchronous AMD verdict,
//! `completed` — each signed with `X-Twilio-Signature`, and each sent twice
//! (Twilio retries duplicate callbacks; the second must change nothing).
//! It reports requests per second and the latency distribution seen by the
//! load generator.
//!
//! The anchor, measured in the same run: the same signed callbacks replayed,
//! by the same load generator, against the least a status-callback server
//! must do (read the form, check the signature, answer 200), an axum server
//! in its own process like `voxdial serve`. `VOXDIAL_BENCH_ANCHOR=0` skips
//! it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use voxdial_app::clock::ScaledClock;
use voxdial_sim::carrier::{CallProfile, Carrier, CarrierConfig};
use voxdial_sim::time::SimTime;
use voxdial_wire::twilio::forms::encode_form;
use voxdial_wire::twilio::signature::{
    SIGNATURE_HEADER, SignatureAlgorithm, SignedRequest, SigningKeys, compute_signature,
    validate_request,
};

const ACCOUNT: &str = "AC00000000000000000000000000load";
const TOKEN: &str = "load-test-token";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone)]
struct Job {
    url: String,
    pairs: Vec<(String, String)>,
}

fn callback(base: &str, campaign: &str, call: &Value, status: &str, seq: Option<u64>) -> Job {
    let call_id = call["id"].as_str().unwrap();
    let sid = call["provider_sid"].as_str().unwrap();
    let url = format!("{base}/webhooks/twilio/status?campaign_id={campaign}&call_id={call_id}");
    let mut pairs = vec![
        ("AccountSid".to_string(), ACCOUNT.to_string()),
        ("CallSid".to_string(), sid.to_string()),
        ("From".to_string(), "+14155550100".to_string()),
        ("To".to_string(), call["to"].as_str().unwrap().to_string()),
        ("Direction".to_string(), "outbound-api".to_string()),
        ("ApiVersion".to_string(), "2010-04-01".to_string()),
        (
            "CallbackSource".to_string(),
            "call-progress-events".to_string(),
        ),
    ];
    match status {
        "amd" => {
            pairs.retain(|(k, _)| k == "AccountSid" || k == "CallSid");
            pairs.push(("AnsweredBy".into(), "human".into()));
            pairs.push(("MachineDetectionDuration".into(), "1800".into()));
        }
        status => {
            pairs.push(("CallStatus".into(), status.into()));
            if let Some(seq) = seq {
                pairs.push(("SequenceNumber".into(), seq.to_string()));
            }
            if status == "completed" {
                pairs.push(("CallDuration".into(), "42".into()));
                pairs.push(("Duration".into(), "1".into()));
            }
        }
    }
    Job { url, pairs }
}

/// What one load run saw.
struct Load {
    requests: usize,
    elapsed: f64,
    histogram: Histogram<u64>,
    failures: u64,
}

impl Load {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed
    }

    fn print(&self, name: &str, workers: usize) {
        let h = &self.histogram;
        println!(
            "{name}: {} in {:.2} s = {:.0}/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; failures {} ({workers} connections)",
            self.requests,
            self.elapsed,
            self.per_sec(),
            h.value_at_quantile(0.50) as f64 / 1000.0,
            h.value_at_quantile(0.90) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.max() as f64 / 1000.0,
            self.failures
        );
    }
}

/// Sends every call's callbacks, in order per call, over `workers`
/// connections.
async fn fire(http: &reqwest::Client, jobs: Vec<Vec<Job>>, workers: usize) -> Load {
    let requests: usize = jobs.iter().map(Vec::len).sum();
    let queue = Arc::new(Mutex::new(jobs));
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let failures = Arc::new(Mutex::new(0u64));
    let load = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (queue, histogram, failures, http) = (
            queue.clone(),
            histogram.clone(),
            failures.clone(),
            http.clone(),
        );
        tasks.spawn(async move {
            loop {
                let Some(per_call) = queue.lock().unwrap().pop() else {
                    break;
                };
                for job in per_call {
                    let signature = compute_signature(
                        TOKEN.as_bytes(),
                        SignatureAlgorithm::HmacSha1,
                        &job.url,
                        &job.pairs,
                    );
                    let sent = Instant::now();
                    let response = http
                        .post(&job.url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header(SIGNATURE_HEADER, signature)
                        .body(encode_form(&job.pairs))
                        .send()
                        .await;
                    let micros = sent.elapsed().as_micros() as u64;
                    histogram.lock().unwrap().record(micros.max(1)).unwrap();
                    if !response.is_ok_and(|r| r.status().is_success()) {
                        *failures.lock().unwrap() += 1;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = load.elapsed().as_secs_f64();
    let histogram = histogram.lock().unwrap().clone();
    let failures = *failures.lock().unwrap();
    Load {
        requests,
        elapsed,
        histogram,
        failures,
    }
}

/// The anchor's process: a bare signed-webhook server on 127.0.0.1:0;
/// prints `LISTEN addr`, serves until its stdin closes.
async fn anchor_child() {
    let keys = Arc::new(SigningKeys::auth_token(TOKEN));
    let app = axum::Router::new().route(
        "/webhooks/twilio/status",
        axum::routing::post(
            move |uri: Uri, headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let url = format!("http://{}{uri}", header("host").unwrap_or_default());
                let request = SignedRequest {
                    url: &url,
                    method: "POST",
                    content_type: header("content-type"),
                    body: &body,
                    signature: header(SIGNATURE_HEADER),
                    signature_settings: None,
                };
                match validate_request(&request, &keys) {
                    Ok(()) => StatusCode::OK,
                    Err(_) => StatusCode::FORBIDDEN,
                }
            },
        ),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("LISTEN {}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await
        .unwrap()
        .unwrap();
}

/// Replays `jobs` (signed for `base`) against the anchor, in its own process.
async fn anchor(http: &reqwest::Client, base: &str, jobs: Vec<Vec<Job>>, workers: usize) -> Load {
    let mut child = Server(
        Command::new(std::env::current_exe().unwrap())
            .arg("--anchor-child")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the anchor starts"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let anchor_base = format!("http://{}", line.trim().strip_prefix("LISTEN ").unwrap());
    let jobs = jobs
        .into_iter()
        .map(|per_call| {
            per_call
                .into_iter()
                .map(|job| Job {
                    url: job.url.replacen(base, &anchor_base, 1),
                    pairs: job.pairs,
                })
                .collect()
        })
        .collect();
    fire(http, jobs, workers).await
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("--anchor-child") {
        return anchor_child().await;
    }
    let campaigns = env_usize("VOXDIAL_BENCH_CAMPAIGNS", 10);
    let calls_per = env_usize("VOXDIAL_BENCH_CALLS", 1_000).min(1_000);
    let workers = env_usize("VOXDIAL_BENCH_WORKERS", 32);

    // A carrier whose calls ring for ever and answer nothing by themselves.
    let carrier_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let carrier_url = format!("http://{}", carrier_listener.local_addr().unwrap());
    let mut config = CarrierConfig::new(ACCOUNT, TOKEN, 1);
    config.profile = CallProfile {
        human: 1.0,
        ring_secs: (1e9, 1e9),
        ..CallProfile::default()
    };
    // The leads are New York numbers, screened to 08:00–21:00 there: the
    // carrier and the server share one real-speed clock set to today's noon
    // in New York (16:00 UTC), so the bench runs the same at any hour.
    let epoch = std::time::SystemTime::now();
    let noon = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(16, 0, 0)
        .expect("a time")
        .and_utc();
    let clock = Arc::new(ScaledClock::anchored(epoch, noon, 1.0));
    let carrier = Carrier::new(config, SimTime::new(clock, 1.0));
    let _carrier_task = carrier.serve(carrier_listener);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let data = tempfile::tempdir().unwrap();
    // The one Twilio account with a routing section that lets every lead
    // be dialled at once: without one, an account's single caller ID is
    // paced at 1 call a second, and placing the 10,000 calls would take
    // longer than the load it sets up.
    let config = data.path().join("voxdial.toml");
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\napi_base = \"{carrier_url}\"\n\
             account_sid = {{ env = \"VOXDIAL_TWILIO_ACCOUNT_SID\" }}\n\
             auth_token = {{ env = \"VOXDIAL_TWILIO_AUTH_TOKEN\" }}\n\
             [routing]\n[[routing.providers]]\nid = \"twilio\"\nkind = \"twilio\"\n\
             cps = 10000\nrates_csv = \"1,0.014\"\n\
             pool = {{ caller_id_cps = 10000, dids = [{{ number = \"+12125550100\" }}] }}\n"
        ),
    )
    .unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_voxdial"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(&config)
            .arg("--data-dir")
            .arg(data.path())
            .args(["--sim-start", &noon.to_rfc3339(), "--sim-epoch"])
            .arg(
                epoch
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_secs()
                    .to_string(),
            )
            .env("VOXDIAL_TWILIO_ACCOUNT_SID", ACCOUNT)
            .env("VOXDIAL_TWILIO_AUTH_TOKEN", TOKEN)
            .env("VOXDIAL_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .expect("voxdial serve starts"),
    );
    let started = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The admin key the server wrote on its first start.
    let key = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(workers * 2)
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", key.trim()).parse().unwrap(),
        )]))
        .build()
        .unwrap();

    // Live calls: every lead dialled at once (New York numbers, consenting,
    // at noon there on the shared clock).
    let mut ids = Vec::new();
    for c in 0..campaigns {
        let campaign: Value = http
            .post(format!("{base}/v1/campaigns"))
            .json(&json!({
                "name": format!("load {c}"),
                "max_concurrency": calls_per,
                "amd": "async"
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = campaign["id"].as_str().unwrap().to_string();
        let csv: String = std::iter::once("phone,consent".to_string())
            .chain((0..calls_per).map(|n| format!("+1 212 {:03} {:04},yes", 200 + c, n)))
            .collect::<Vec<_>>()
            .join("\n");
        http.post(format!("{base}/v1/campaigns/{id}/leads"))
            .body(csv)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        http.post(format!("{base}/v1/campaigns/{id}/start"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        ids.push(id);
    }
    let total_calls = campaigns * calls_per;
    let setup = Instant::now();
    loop {
        let stats: Value = http
            .get(format!("{carrier_url}/sim/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["calls_created"].as_u64().unwrap() as usize >= total_calls {
            break;
        }
        assert!(
            setup.elapsed() < Duration::from_secs(300),
            "calls were not placed: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the carrier's own initiated/ringing callbacks land.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut jobs = Vec::new();
    for id in &ids {
        let calls: Value = http
            .get(format!("{base}/v1/campaigns/{id}/calls?limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for call in calls.as_array().unwrap() {
            if call["provider_sid"].is_null() {
                continue;
            }
            let sequence = [
                ("in-progress", Some(2)),
                ("amd", None),
                ("completed", Some(3)),
            ];
            let mut per_call: Vec<Job> = Vec::new();
            for (status, seq) in sequence {
                per_call.push(callback(&base, id, call, status, seq));
                per_call.push(callback(&base, id, call, status, seq));
            }
            jobs.push(per_call);
        }
    }
    let requests: usize = jobs.iter().map(Vec::len).sum();
    println!(
        "{} live calls in {:.1} s; sending {requests} signed callbacks with {workers} connections",
        jobs.len(),
        setup.elapsed().as_secs_f64()
    );

    let replay = (env_usize("VOXDIAL_BENCH_ANCHOR", 1) != 0).then(|| jobs.clone());
    let voxdial = fire(&http, jobs, workers).await;
    voxdial.print("status callbacks", workers);
    // Every call ended exactly once: no slot is held any more.
    for id in &ids {
        let view: Value = http
            .get(format!("{base}/v1/campaigns/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(view["campaign"]["status"], "completed", "{view}");
    }
    if let Some(jobs) = replay {
        let bare = anchor(&http, &base, jobs, workers).await;
        bare.print("anchor (bare signed-webhook server, same load)", workers);
        println!(
            "voxdial / anchor: {:.2} of the requests per second",
            voxdial.per_sec() / bare.per_sec()
        );
    }
}
