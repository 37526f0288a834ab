//! Concurrency load and click-through latency: N simulated callers ⇄
//! bridge ⇄ simulated Gemini over real WebSockets on 127.0.0.1, 50 frames/s
//! each way per call, clicks timestamped end to end (probe mode).
//!
//! ```text
//! ulimit -n 65536
//! cargo build --release -p voxdial-bridge --example load
//! target/release/examples/load [CALLS=1000] [SECONDS=30] [CHUNK_MS=40] [multi|current] [record]
//! ```
//!
//! `record` records every call (both channels, as a campaign with
//! recording on): the RSS per call then includes what a recording costs
//! while the call is live.
//!
//! The bridge runs in its own process (this binary, re-executed with
//! `--bridge-child`), so its RSS and CPU are its own; the callers and the
//! simulator share this process. Each caller sends a click at sample 0 of
//! a Twilio frame every 500 ms; the simulator sends one at sample 0 of a
//! 24 kHz chunk every 500 ms. Each side finds the other's clicks in what
//! it receives and logs when, and at which sample of the frame. Printed,
//! per direction, over the clicks heard once every call is up:
//!
//! - the wall time from send to receipt (p50/p99/p99.9/max): both socket
//!   hops, the bridge's work and any queueing in it;
//! - the click's position in the received frame, i.e. the filter delay
//!   the bridge added to the audio (8 kHz sample 0 in, 16 kHz sample `k`
//!   out: `k / 16` ms; 24 kHz sample 0 in, 8 kHz sample `k` out: `k / 8`
//!   ms). Whole frames arriving late would show in the wall time.
//!
//! Also the bridge process's RSS (per call: peak minus idle, over the
//! calls live) and CPU time.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt as _;
use hdrhistogram::Histogram;
use voxdial_bridge::{Bridge, BridgeConfig, MemoryHost};
use voxdial_conversation::{AgentConfig, CallContext};
use voxdial_domain::{AnsweredBy, CallId, CampaignId};
use voxdial_gemini::WsConnector;
use voxdial_sim::caller::{CallerConfig, ProbeLog, run_caller};
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::gemini::LiveEndpoint;

/// `(VmRSS, VmHWM)` of a process, KiB.
fn rss_kb(pid: &str) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU seconds of a process.
fn cpu_secs(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`; utime and stime are the 14th and 15th.
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn report(name: &str, us: &[u64]) {
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for v in us {
        let _ = h.record(*v);
    }
    println!(
        "{name}: clicks={} p50={:.2}ms p99={:.2}ms p99.9={:.2}ms max={:.2}ms",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.value_at_quantile(0.999) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
}

/// The bridge process: serves on 127.0.0.1:0, prints `LISTEN addr`, runs
/// until its stdin closes.
async fn bridge_child(gemini: String, calls: usize, record: bool) -> anyhow::Result<()> {
    let mut ctx = CallContext::with_agent(CampaignId::parse("load")?, AgentConfig::default());
    ctx.answered_by = Some(AnsweredBy::Human);
    ctx.record = record;
    let host = Arc::new(MemoryHost::new(ctx.clone()));
    for i in 0..calls {
        let mut c = ctx.clone();
        // The simulator keys its probe log by the lead name.
        c.lead_name = Some(format!("L{i}"));
        host.set_context(CallId::parse(format!("L{i}"))?, c);
    }
    let endpoint = LiveEndpoint {
        host: gemini,
        insecure: true,
        ..LiveEndpoint::default()
    };
    let bridge = Bridge::new(
        BridgeConfig::default(),
        host,
        Arc::new(WsConnector::new(&endpoint, None)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("LISTEN {}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    std::io::stdout().flush()?;
    let app = bridge.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Parent gone (stdin closed) = stop.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            line.clear();
        }
    })
    .await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bridge-child") {
        let gemini = args.get(2).cloned().unwrap_or_default();
        let calls = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let rt = match args.get(4).map(String::as_str) {
            Some("current") => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            _ => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?,
        };
        let record = args.get(5).map(String::as_str) == Some("record");
        return rt.block_on(bridge_child(gemini, calls, record));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let calls: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let chunk_ms: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(40);
    // The bridge's runtime: `multi` (as the media-bridge binary) or
    // `current` (one thread).
    let runtime = args.get(4).cloned().unwrap_or_else(|| "multi".into());
    let record = args.get(5).cloned().unwrap_or_default();
    println!("loadavg at start: {}", loadavg());
    let log = Arc::new(ProbeLog::default());

    let sim = VoiceSim::new(VoiceSimConfig {
        probe: Some(log.clone()),
        click_period: Duration::from_millis(500),
        chunk: Duration::from_millis(chunk_ms),
        ..VoiceSimConfig::default()
    });
    let gl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gaddr = gl.local_addr()?;
    tokio::spawn(serve_tcp(gl, sim));

    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--bridge-child",
            &gaddr.to_string(),
            &calls.to_string(),
            &runtime,
            &record,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line)?;
    let baddr = line
        .strip_prefix("LISTEN ")
        .map(str::trim)
        .ok_or_else(|| anyhow::anyhow!("bridge child said {line:?}"))?
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_idle, _) = rss_kb(&pid);
    let cpu0 = cpu_secs(&pid);

    // Ramp up over about 5 s, then measure.
    let ramp = Duration::from_secs(5);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..calls {
        let mut cfg = CallerConfig::new(
            format!("ws://{baddr}/media/twilio"),
            &format!("L{i}"),
            Persona::by_name("silent").expect("persona"),
        );
        cfg.probe = Some(log.clone());
        cfg.max_duration = Duration::from_secs(secs) + ramp;
        tasks.push(tokio::spawn(run_caller(cfg)));
        tokio::time::sleep(ramp / calls.max(1) as u32).await;
    }
    // Let the last calls settle before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let measure_from = Instant::now();
    let cpu1 = cpu_secs(&pid);
    let me = std::process::id().to_string();
    let gen1 = cpu_secs(&me);
    let mut peak_live_rss = 0;
    let mut samples = 0;
    while started.elapsed() < Duration::from_secs(secs) + ramp - Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_live_rss = peak_live_rss.max(rss_kb(&pid).0);
        samples += 1;
    }
    let cpu2 = cpu_secs(&pid);
    let gen2 = cpu_secs(&me);
    let measure_to = Instant::now();
    let measured = (measure_to - measure_from).as_secs_f64();
    let load_end = loadavg();
    let mut failed = 0;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    let (_, hwm) = rss_kb(&pid);
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();

    let r = log.result_between(Some(measure_from), Some(measure_to));
    println!(
        "calls={calls} seconds={secs} chunk_ms={chunk_ms} bridge_runtime={runtime} {record} failed={failed} (ramp {}s; measured over {measured:.1}s, {samples} RSS samples)",
        ramp.as_secs()
    );
    report(
        "caller->model wall (Twilio media -> bridge -> realtimeInput)",
        &r.inbound_us,
    );
    report(
        "model->caller wall (serverContent -> bridge -> Twilio media)",
        &r.outbound_us,
    );
    let avg = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    let (imin, imax) = (
        r.inbound_offsets.iter().min().copied().unwrap_or(0),
        r.inbound_offsets.iter().max().copied().unwrap_or(0),
    );
    let (omin, omax) = (
        r.outbound_offsets.iter().min().copied().unwrap_or(0),
        r.outbound_offsets.iter().max().copied().unwrap_or(0),
    );
    println!(
        "filter delay (click position in the received frame): inbound {:.1} samples @16k = {:.2} ms (min {imin}, max {imax}); outbound {:.1} samples @8k = {:.2} ms (min {omin}, max {omax})",
        avg(&r.inbound_offsets),
        avg(&r.inbound_offsets) / 16.0,
        avg(&r.outbound_offsets),
        avg(&r.outbound_offsets) / 8.0
    );
    println!(
        "bridge process: rss idle {:.1} MiB, peak live {:.1} MiB, high-water {:.1} MiB, per call {:.1} KiB; cpu {:.2} cores while measured ({:.1} µs per call-second)",
        rss_idle as f64 / 1024.0,
        peak_live_rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        peak_live_rss.saturating_sub(rss_idle) as f64 / calls.max(1) as f64,
        (cpu2 - cpu1) / measured,
        (cpu2 - cpu1) / measured / calls.max(1) as f64 * 1e6,
    );
    println!(
        "load generator (callers + simulator, this process): cpu {:.2} cores while measured",
        (gen2 - gen1) / measured
    );
    println!(
        "bridge cpu during ramp-up: {:.2} s; loadavg at end: {load_end}",
        cpu1 - cpu0
    );
    Ok(())
}
