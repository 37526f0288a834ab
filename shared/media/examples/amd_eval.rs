//! Evaluates the answering-machine classifier on labelled corpora and prints
//! a confusion matrix and verdict latencies.
//!
//! ```text
//! cargo run -p voxdial-media --example amd_eval --release -- [--synth N] [--seed S] [--corpus DIR] [--verbose]
//!     [--machine-greeting-ms MS] [--after-silence-ms MS] [--initial-silence-ms MS] [--max-words N]
//!     [--likely-greeting-ms MS] [--likely-silence-ms MS]
//! ```
//!
//! - The synthetic corpus (`voxdial_media::synth::amd_corpus`, default 400
//!   clips) is always evaluated.
//! - A directory corpus is evaluated when it exists: `--corpus DIR`, else
//!   `$AMD_CORPUS_DIR`, else `shared/media/corpus/amd` (what
//!   `tools/gen_amd_corpus.sh` writes). Its files are 8 kHz mono PCM16 or
//!   μ-law WAVs named `human_*.wav` or `machine_*.wav`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use voxdial_media::amd::{Amd, AmdConfig, AmdDecision, Verdict};
use voxdial_media::beep::{BeepDetector, BeepEvent};
use voxdial_media::{synth, wav};

struct Clip {
    name: String,
    scenario: String,
    label: Verdict,
    /// The line's impairments, when known.
    line: String,
    /// Sample at which the callee starts to make sound, when known.
    onset: Option<usize>,
    samples: Vec<i16>,
}

/// The decision, and when a person became likely (if before it).
fn classify(cfg: &AmdConfig, samples: &[i16]) -> (AmdDecision, Option<AmdDecision>) {
    let mut amd = Amd::new(cfg.clone());
    for frame in samples.chunks(160) {
        if let Some(d) = amd.push(frame) {
            return (d, amd.likely_human());
        }
    }
    let d = amd.finish(amd.elapsed());
    (d, amd.likely_human())
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn evaluate(cfg: &AmdConfig, title: &str, clips: &[Clip], verbose: bool) {
    let mut matrix: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut lat_all = Vec::new();
    // (label, time from the false start to the machine verdict, ms).
    let mut false_starts: Vec<(Verdict, u128)> = Vec::new();
    let mut lat_by: BTreeMap<&str, Vec<u128>> = BTreeMap::new();
    // Scenario -> (errors, clips, latencies).
    let mut errors: BTreeMap<String, (usize, usize, Vec<u128>)> = BTreeMap::new();
    // Scenario -> (clips with a beep detected anywhere in the 8 s, clips).
    let mut beeps: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let name = |v: Verdict| match v {
        Verdict::Human => "human",
        Verdict::Machine => "machine",
        Verdict::Unknown => "unknown",
    };
    for c in clips {
        let (d, likely) = classify(cfg, &c.samples);
        *matrix.entry((name(c.label), name(d.verdict))).or_default() += 1;
        // The agent starts talking at the first sign of a person (a
        // machine verdict after that stops it: a false start).
        let start = likely.map_or(d.at, |l| l.at.min(d.at));
        let false_start = likely.is_some() && d.verdict == Verdict::Machine;
        if false_start {
            false_starts.push((c.label, d.at.saturating_sub(start).as_millis()));
        }
        let ms = if d.verdict == Verdict::Machine {
            d.at
        } else {
            start
        }
        .as_millis();
        // Latency after the callee starts making sound, when known.
        let onset_ms = c.onset.map_or(0, |o| o as u128 / 8);
        lat_all.push(ms.saturating_sub(onset_ms));
        lat_by
            .entry(name(c.label))
            .or_default()
            .push(ms.saturating_sub(onset_ms));
        let mut bd = BeepDetector::default();
        bd.push(&c.samples);
        bd.push(&[0; 800]);
        let heard =
            std::iter::from_fn(|| bd.poll_event()).any(|e| matches!(e, BeepEvent::Ended { .. }));
        let b = beeps
            .entry(format!("{}/{}", name(c.label), c.scenario))
            .or_default();
        b.0 += usize::from(heard);
        b.1 += 1;
        let e = errors.entry(c.scenario.clone()).or_default();
        e.1 += 1;
        e.2.push(ms.saturating_sub(onset_ms));
        if d.verdict != c.label {
            e.0 += 1;
            if verbose {
                println!(
                    "  miss {:<36} {:?} -> {:?} ({:?}) at {} ms  [{}]",
                    c.name, c.label, d.verdict, d.reason, ms, c.line
                );
            }
        }
    }
    lat_all.sort_unstable();
    let humans = clips.iter().filter(|c| c.label == Verdict::Human).count();
    let machines = clips.len() - humans;
    println!(
        "== {title}: {} clips ({humans} human, {machines} machine)",
        clips.len()
    );
    println!(
        "{:>16} {:>8} {:>8} {:>8}",
        "label \\ verdict", "human", "machine", "unknown"
    );
    for label in ["human", "machine"] {
        let get = |v| matrix.get(&(label, v)).copied().unwrap_or(0);
        println!(
            "{:>16} {:>8} {:>8} {:>8}",
            label,
            get("human"),
            get("machine"),
            get("unknown")
        );
    }
    let h_as_m = matrix.get(&("human", "machine")).copied().unwrap_or(0);
    let m_ok = matrix.get(&("machine", "machine")).copied().unwrap_or(0);
    println!(
        "humans called machine: {:.2} %   machines caught: {:.1} %",
        100.0 * h_as_m as f64 / humans.max(1) as f64,
        100.0 * m_ok as f64 / machines.max(1) as f64
    );
    let from = if clips.iter().all(|c| c.onset.is_some()) {
        "after the callee's first sound"
    } else {
        "after answer"
    };
    println!(
        "verdict latency {from} (people: when the agent may start, a likely person or the verdict):"
    );
    let line = |what: &str, l: &[u128]| {
        println!(
            "  {what:<8} p50 {:>5} ms  p90 {:>5} ms  p99 {:>5} ms",
            percentile(l, 0.5),
            percentile(l, 0.9),
            percentile(l, 0.99)
        )
    };
    line("all", &lat_all);
    for (label, mut l) in lat_by {
        l.sort_unstable();
        line(label, &l);
    }
    let mut stops: Vec<u128> = false_starts.iter().map(|&(_, ms)| ms).collect();
    stops.sort_unstable();
    println!(
        "false starts (a person likely, then machine): {} machines, {} humans; machine verdict p50 {} ms / max {} ms after the start",
        false_starts
            .iter()
            .filter(|f| f.0 == Verdict::Machine)
            .count(),
        false_starts
            .iter()
            .filter(|f| f.0 == Verdict::Human)
            .count(),
        percentile(&stops, 0.5),
        stops.last().copied().unwrap_or(0)
    );
    println!("errors and verdict latency p50 / p90 by scenario:");
    for (scenario, (bad, n, mut l)) in errors {
        l.sort_unstable();
        println!(
            "  {scenario:<28} {bad:>3} / {n:<4} {:>5} / {:>5} ms",
            percentile(&l, 0.5),
            percentile(&l, 0.9)
        );
    }
    println!("beep detector over whole clips (clips with a beep / clips):");
    for (scenario, (heard, n)) in beeps {
        println!("  {scenario:<36} {heard:>3} / {n}");
    }
    println!();
}

fn synthetic(seed: u64, n: usize) -> Vec<Clip> {
    synth::amd_corpus(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, c)| Clip {
            name: format!("synth-{i}-{}", c.scenario),
            scenario: c.scenario.to_string(),
            label: c.label,
            line: c.line,
            onset: Some(c.onset),
            samples: c.samples,
        })
        .collect()
}

fn load_dir(dir: &Path) -> Result<Vec<Clip>, String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    entries.sort();
    let mut clips = Vec::new();
    for path in entries {
        let file = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let label = if file.starts_with("human") {
            Verdict::Human
        } else if file.starts_with("machine") {
            Verdict::Machine
        } else {
            continue;
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let parsed = wav::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if parsed.spec.sample_rate != 8000 || parsed.spec.channels != 1 {
            return Err(format!(
                "{}: want 8 kHz mono, got {:?}",
                path.display(),
                parsed.spec
            ));
        }
        // Scenario: the name without its label and trailing index.
        let scenario = file
            .rsplit_once('_')
            .map(|(a, _)| a)
            .unwrap_or(&file)
            .to_string();
        clips.push(Clip {
            name: file,
            scenario,
            label,
            line: String::new(),
            onset: None,
            samples: parsed.samples(),
        });
    }
    Ok(clips)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut n = 400usize;
    let mut seed = 7u64;
    let mut dir: Option<PathBuf> = None;
    let mut verbose = false;
    let mut cfg = AmdConfig::default();
    let ms = |v: Option<String>| v.and_then(|v| v.parse().ok()).map(Duration::from_millis);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--machine-greeting-ms" => {
                cfg.machine_greeting = ms(args.next()).unwrap_or(cfg.machine_greeting)
            }
            "--after-silence-ms" => {
                cfg.after_greeting_silence = ms(args.next()).unwrap_or(cfg.after_greeting_silence)
            }
            "--likely-greeting-ms" => {
                cfg.likely_human_greeting = ms(args.next()).unwrap_or(cfg.likely_human_greeting)
            }
            "--likely-silence-ms" => {
                cfg.likely_human_silence = ms(args.next()).unwrap_or(cfg.likely_human_silence)
            }
            "--initial-silence-ms" => {
                cfg.initial_silence = ms(args.next()).unwrap_or(cfg.initial_silence)
            }
            "--max-words" => {
                cfg.max_words = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(cfg.max_words)
            }
            "--synth" => n = args.next().and_then(|v| v.parse().ok()).unwrap_or(n),
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            "--corpus" => dir = args.next().map(PathBuf::from),
            "--verbose" | "-v" => verbose = true,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    println!(
        "AMD config: machine_greeting {:?}, likely person after a greeting under {:?} and {:?} of silence, after_greeting_silence {:?}, initial_silence {:?} -> {:?}, max_words {}, total {:?}\n",
        cfg.machine_greeting,
        cfg.likely_human_greeting,
        cfg.likely_human_silence,
        cfg.after_greeting_silence,
        cfg.initial_silence,
        cfg.initial_silence_verdict,
        cfg.max_words,
        cfg.total_analysis
    );
    evaluate(
        &cfg,
        &format!("synthetic corpus (seed {seed})"),
        &synthetic(seed, n),
        verbose,
    );

    let dir = dir
        .or_else(|| std::env::var_os("AMD_CORPUS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/amd"));
    if dir.is_dir() {
        match load_dir(&dir) {
            Ok(clips) if !clips.is_empty() => evaluate(
                &cfg,
                &format!("espeak corpus ({})", dir.display()),
                &clips,
                verbose,
            ),
            Ok(_) => println!("(no labelled clips in {})", dir.display()),
            Err(e) => {
                eprintln!("cannot load corpus: {e}");
                std::process::exit(1);
            }
        }
    } else {
        println!(
            "(no directory corpus at {}: run tools/gen_amd_corpus.sh to make one)",
            dir.display()
        );
    }
}
