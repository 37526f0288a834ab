//! What `/metrics` shows beyond the live-call gauge: every ended call's
//! report folded into counters and histograms (Prometheus text format).
//!
//! Recording costs one short lock per ended call, never per frame.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use voxdial_conversation::CallReport;

/// Upper bounds (ms) of the latency histograms.
const LATENCY_BUCKETS_MS: &[u64] = &[100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000];

/// A cumulative Prometheus histogram over fixed bounds.
#[derive(Debug, Clone)]
struct Histogram {
    /// Observations `<= LATENCY_BUCKETS_MS[i]` (not yet cumulative).
    counts: Vec<u64>,
    sum: u64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; LATENCY_BUCKETS_MS.len()],
            sum: 0,
            count: 0,
        }
    }
}

impl Histogram {
    fn observe(&mut self, v: u64) {
        if let Some(i) = LATENCY_BUCKETS_MS.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cum = 0;
        for (b, c) in LATENCY_BUCKETS_MS.iter().zip(&self.counts) {
            cum += c;
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cum}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", self.sum, self.count);
    }
}

/// Totals over the calls that ended on this bridge.
#[derive(Debug, Default)]
pub(crate) struct CallStats {
    ended: BTreeMap<String, u64>,
    dispositions: BTreeMap<String, u64>,
    amd_verdicts: BTreeMap<(String, String), u64>,
    fillers: u64,
    barge_ins: u64,
    reprompts: u64,
    model_resumes: u64,
    caller_frames: u64,
    agent_frames: u64,
    amd_latency: Histogram,
    greeting_latency: Histogram,
    first_audio: Histogram,
    model_latency: Histogram,
}

/// A unit-variant enum's wire name (`snake_case`).
fn label<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "other".into(),
    }
}

impl CallStats {
    /// Folds one ended call in.
    pub(crate) fn record(&mut self, r: &CallReport) {
        let reason = r.end_reason.as_ref().map_or("unknown".into(), label);
        *self.ended.entry(reason).or_default() += 1;
        if let Some(d) = &r.disposition {
            *self.dispositions.entry(label(d)).or_default() += 1;
        }
        if let Some(a) = &r.amd {
            *self
                .amd_verdicts
                .entry((label(&a.verdict), label(&a.source)))
                .or_default() += 1;
            self.amd_latency.observe(a.latency_ms);
        }
        let m = &r.metrics;
        self.fillers += u64::from(m.fillers_played);
        self.barge_ins += u64::from(m.barge_ins);
        self.reprompts += u64::from(m.reprompts);
        self.model_resumes += u64::from(m.model_resumes);
        self.caller_frames += m.caller_frames;
        self.agent_frames += m.agent_frames;
        if let Some(g) = m.greeting_latency_ms {
            self.greeting_latency.observe(g);
        }
        for t in &m.turns {
            if let Some(v) = t.first_audio_ms {
                self.first_audio.observe(v);
            }
            if let Some(v) = t.model_latency_ms {
                self.model_latency.observe(v);
            }
        }
    }

    /// Appends the Prometheus text.
    pub(crate) fn render(&self, out: &mut String) {
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let _ = writeln!(
            out,
            "# HELP voxdial_bridge_calls_ended_total Calls ended, by end reason.\n\
             # TYPE voxdial_bridge_calls_ended_total counter"
        );
        for (reason, n) in &self.ended {
            let _ = writeln!(
                out,
                "voxdial_bridge_calls_ended_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP voxdial_bridge_dispositions_total Conversation outcomes.\n\
             # TYPE voxdial_bridge_dispositions_total counter"
        );
        for (d, n) in &self.dispositions {
            let _ = writeln!(
                out,
                "voxdial_bridge_dispositions_total{{disposition=\"{d}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP voxdial_bridge_amd_verdicts_total Answering-machine verdicts acted on, by verdict and source.\n\
             # TYPE voxdial_bridge_amd_verdicts_total counter"
        );
        for ((v, s), n) in &self.amd_verdicts {
            let _ = writeln!(
                out,
                "voxdial_bridge_amd_verdicts_total{{verdict=\"{v}\",source=\"{s}\"}} {n}"
            );
        }
        counter(
            out,
            "voxdial_bridge_fillers_total",
            "Filler clips played while the model was late.",
            self.fillers,
        );
        counter(
            out,
            "voxdial_bridge_barge_ins_total",
            "Times a caller spoke over the agent.",
            self.barge_ins,
        );
        counter(
            out,
            "voxdial_bridge_reprompts_total",
            "Silence re-prompts.",
            self.reprompts,
        );
        counter(
            out,
            "voxdial_bridge_model_resumes_total",
            "Model sessions resumed after goAway or a drop.",
            self.model_resumes,
        );
        counter(
            out,
            "voxdial_bridge_caller_frames_total",
            "20 ms caller frames received (ended calls).",
            self.caller_frames,
        );
        counter(
            out,
            "voxdial_bridge_agent_frames_total",
            "20 ms agent frames sent (ended calls).",
            self.agent_frames,
        );
        self.amd_latency.render(
            out,
            "voxdial_bridge_amd_verdict_latency_ms",
            "Answer to answering-machine verdict, ms.",
        );
        self.greeting_latency.render(
            out,
            "voxdial_bridge_greeting_latency_ms",
            "Answer to the greeting's first audio, ms.",
        );
        self.first_audio.render(
            out,
            "voxdial_bridge_first_agent_audio_ms",
            "Caller turn end (or prompt) to the first agent audio sent, ms, per response.",
        );
        self.model_latency.render(
            out,
            "voxdial_bridge_model_latency_ms",
            "Caller turn end to the model's first message, ms, per response.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voxdial_conversation::{AmdOutcome, CallMetrics, EndReason, TurnMetrics, VerdictSource};
    use voxdial_domain::{AnsweredBy, Disposition};

    #[test]
    fn reports_fold_into_counters_and_histograms() {
        let mut s = CallStats::default();
        let report = CallReport {
            disposition: Some(Disposition::Interested),
            amd: Some(AmdOutcome {
                verdict: AnsweredBy::Human,
                source: VerdictSource::Local,
                latency_ms: 800,
                provider: None,
                local: Some(AnsweredBy::Human),
            }),
            end_reason: Some(EndReason::AgentHungUp),
            metrics: CallMetrics {
                turns: vec![TurnMetrics {
                    turn_end_ms: 1000,
                    model_latency_ms: Some(400),
                    first_audio_ms: Some(450),
                    filler: true,
                }],
                fillers_played: 1,
                barge_ins: 2,
                greeting_latency_ms: Some(900),
                ..CallMetrics::default()
            },
            talk_ratio: 0.5,
            duration_ms: 30_000,
        };
        s.record(&report);
        s.record(&report);
        let mut out = String::new();
        s.render(&mut out);
        for line in [
            "voxdial_bridge_calls_ended_total{reason=\"agent_hung_up\"} 2",
            "voxdial_bridge_dispositions_total{disposition=\"interested\"} 2",
            "voxdial_bridge_amd_verdicts_total{verdict=\"human\",source=\"local\"} 2",
            "voxdial_bridge_fillers_total 2",
            "voxdial_bridge_barge_ins_total 4",
            "voxdial_bridge_amd_verdict_latency_ms_bucket{le=\"750\"} 0",
            "voxdial_bridge_amd_verdict_latency_ms_bucket{le=\"1000\"} 2",
            "voxdial_bridge_amd_verdict_latency_ms_sum 1600",
            "voxdial_bridge_first_agent_audio_ms_bucket{le=\"500\"} 2",
            "voxdial_bridge_first_agent_audio_ms_count 2",
            "voxdial_bridge_greeting_latency_ms_bucket{le=\"+Inf\"} 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in\n{out}");
        }
    }
}
