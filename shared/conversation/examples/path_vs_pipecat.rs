//! Per-frame path, voxdial vs pipecat 1.14, side by side in one run.
//!
//! ```text
//! cargo build --release -p voxdial-conversation --example path_vs_pipecat
//! cd shared/conversation && ../../target/release/examples/path_vs_pipecat [UNITS=200000] [ROUNDS=5] [PYTHON]
//! ```
//! Each round runs voxdial's path (codec only, and codec + conversation
//! core) for 1 and 100 interleaved streams both ways, then pipecat's
//! anchor script (`../shared/anchors/pipecat_bridge_bench.py`, default
//! venv `~/.cache/pipecat-venv`) on the same machine, so both see the same
//! load. Prints every round, then the medians and the ratio of medians.
//!
//! Units: inbound = one Twilio `media` message (20 ms) → one
//! `realtimeInput`; outbound = one Gemini `serverContent` of 40 ms of
//! 24 kHz audio → two Twilio `media` messages. Throughput is wall-clock
//! units/s like the anchor's; `cpu` is the same over this thread's
//! on-CPU time (`/proc/thread-self/schedstat`), i.e. without the time
//! other processes took the core.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::process::Command;
use std::time::Instant;

use voxdial_conversation::bench_support::{Direction, Fixture};

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Measured {
    units_per_s: f64,
    cpu_units_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

fn measure(mut f: Fixture, units: usize) -> Measured {
    for _ in 0..2000 {
        f.step();
    }
    let mut lat = Vec::with_capacity(units);
    let c0 = cpu_ns();
    let t0 = Instant::now();
    for _ in 0..units {
        let a = Instant::now();
        f.step();
        lat.push(a.elapsed().as_nanos() as u64);
    }
    let el = t0.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => f64::NAN,
    };
    lat.sort_unstable();
    Measured {
        units_per_s: units as f64 / el,
        cpu_units_per_s: units as f64 / cpu,
        p50_us: lat[lat.len() / 2] as f64 / 1000.0,
        p99_us: lat[lat.len() * 99 / 100] as f64 / 1000.0,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

const CASES: [(Direction, usize); 4] = [
    (Direction::Inbound, 1),
    (Direction::Inbound, 100),
    (Direction::Outbound, 1),
    (Direction::Outbound, 100),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let units: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let home = std::env::var("HOME").unwrap_or_default();
    let python = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("{home}/.cache/pipecat-venv/bin/python"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/anchors/pipecat_bridge_bench.py"
    );
    println!("loadavg at start: {}", loadavg());
    // [case] -> per round: (codec, core, pipecat)
    let mut rust: Vec<Vec<(Measured, Measured)>> = CASES.iter().map(|_| Vec::new()).collect();
    let mut py: Vec<Vec<f64>> = CASES.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, &(dir, streams)) in CASES.iter().enumerate() {
            let n = if dir == Direction::Inbound {
                units
            } else {
                units / 2
            };
            let codec = measure(Fixture::new(dir, streams, 40), n);
            let core = measure(Fixture::with_core(dir, streams, 40), n);
            println!(
                "{{\"round\":{round},\"impl\":\"voxdial\",\"dir\":\"{dir:?}\",\"streams\":{streams},\"units_per_s\":{:.0},\"cpu_units_per_s\":{:.0},\"p50_us\":{:.2},\"p99_us\":{:.2},\"with_core_units_per_s\":{:.0},\"with_core_p99_us\":{:.2}}}",
                codec.units_per_s,
                codec.cpu_units_per_s,
                codec.p50_us,
                codec.p99_us,
                core.units_per_s,
                core.p99_us
            );
            rust[i].push((codec, core));
        }
        let out = Command::new(&python)
            .args([
                script,
                "--units",
                "20000",
                "--streams",
                "1,100",
                "--variants",
                "pipecat",
            ])
            .output();
        let Ok(out) = out else {
            println!("pipecat anchor not run: {python} not found (see shared/anchors/README.md)");
            continue;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let dir = if v["dir"] == "inbound" {
                Direction::Inbound
            } else {
                Direction::Outbound
            };
            let streams = v["streams"].as_u64().unwrap_or(0) as usize;
            let ups = v["units_per_s"].as_f64().unwrap_or(f64::NAN);
            println!(
                "{{\"round\":{round},\"impl\":\"py-pipecat\",\"dir\":\"{dir:?}\",\"streams\":{streams},\"units_per_s\":{ups:.0},\"p50_us\":{},\"p99_us\":{}}}",
                v["p50_us"], v["p99_us"]
            );
            if let Some(i) = CASES.iter().position(|c| *c == (dir, streams)) {
                py[i].push(ups);
            }
        }
    }
    println!("\nloadavg at end: {}", loadavg());
    println!("medians over {rounds} rounds (ratio = voxdial median / pipecat median):");
    for (i, (dir, streams)) in CASES.iter().enumerate() {
        let codec = median(rust[i].iter().map(|r| r.0.units_per_s).collect());
        let cpu = median(rust[i].iter().map(|r| r.0.cpu_units_per_s).collect());
        let core = median(rust[i].iter().map(|r| r.1.units_per_s).collect());
        let p = median(py[i].clone());
        let per_round: Vec<String> = rust[i]
            .iter()
            .zip(&py[i])
            .map(|(r, p)| format!("{:.1}", r.0.units_per_s / p))
            .collect();
        println!(
            "  {dir:?} streams={streams}: pipecat {p:.0}/s | voxdial {codec:.0}/s = {:.1}x (per round: {}) | with core {core:.0}/s = {:.1}x | voxdial on-CPU {cpu:.0}/s",
            codec / p,
            per_round.join(", "),
            core / p,
        );
    }
}
