//! The post-call pipeline's figures for the demo's summary (the pipeline
//! itself is wired by `voxdial_runtime::local::postcall`).

use std::time::Duration;

use voxdial_app::Engine;

/// What the post-call pipeline did for a campaign, for the demo's summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct PostCallFigures {
    /// Answered calls (human or machine): the ones analysed.
    pub(crate) answered_calls: u64,
    /// Calls with a stored recording.
    pub(crate) recordings_stored: u64,
    /// Recordings whose download failed for good.
    pub(crate) recordings_failed: u64,
    /// Calls with a transcript.
    pub(crate) transcripts: u64,
    /// Calls with an analysis.
    pub(crate) analyses: u64,
    /// Analyses by disposition.
    pub(crate) dispositions: std::collections::BTreeMap<String, u64>,
    /// Principles kept and broken, over every analysis.
    pub(crate) principles_passed: u64,
    /// Principles broken.
    pub(crate) principles_failed: u64,
    /// Call end to analysis available, simulated milliseconds: median and
    /// 95th percentile.
    pub(crate) latency_ms_p50: Option<u64>,
    /// 95th percentile.
    pub(crate) latency_ms_p95: Option<u64>,
    /// Requests to outside services per analysed call (provider downloads
    /// and deletes, transcriber, analyser; webhooks not counted).
    pub(crate) external_calls_per_call: Option<f64>,
}

/// Waits (bounded) until every answered call of the campaign is analysed,
/// then counts.
pub(crate) async fn figures(
    engine: &Engine,
    campaign: &voxdial_domain::CampaignId,
    wait: Duration,
) -> anyhow::Result<PostCallFigures> {
    use voxdial_domain::{CallState, RecordingStatus, StageStatus};
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut f = PostCallFigures::default();
        let mut latencies = Vec::new();
        let mut external = 0u64;
        let mut before = None;
        loop {
            let page = engine.calls_page(campaign, before.as_ref(), 500).await?;
            let Some(last) = page.last() else { break };
            before = Some(last.id.clone());
            for call in &page {
                if !matches!(call.state, CallState::Completed | CallState::Voicemail) {
                    continue;
                }
                f.answered_calls += 1;
                let p = &call.post_call;
                match p.recording.as_ref().map(|r| r.status) {
                    Some(RecordingStatus::Stored) => f.recordings_stored += 1,
                    Some(RecordingStatus::Failed) => f.recordings_failed += 1,
                    _ => {}
                }
                if p.transcript
                    .as_ref()
                    .is_some_and(|t| t.status == StageStatus::Done)
                {
                    f.transcripts += 1;
                }
                if let Some(a) = p
                    .analysis
                    .as_ref()
                    .filter(|a| a.status == StageStatus::Done)
                {
                    f.analyses += 1;
                    if let Some(d) = a.disposition {
                        *f.dispositions.entry(d.label().to_string()).or_default() += 1;
                    }
                    f.principles_passed += u64::from(a.principles_passed);
                    f.principles_failed += u64::from(a.principles_failed);
                    latencies.extend(a.latency_ms);
                    external += u64::from(a.external_calls);
                }
            }
        }
        if f.analyses >= f.answered_calls || tokio::time::Instant::now() >= deadline {
            latencies.sort_unstable();
            let pick = |q: f64| {
                (!latencies.is_empty())
                    .then(|| latencies[((latencies.len() - 1) as f64 * q).round() as usize])
            };
            f.latency_ms_p50 = pick(0.5);
            f.latency_ms_p95 = pick(0.95);
            f.external_calls_per_call =
                (f.analyses > 0).then(|| external as f64 / f.analyses as f64);
            return Ok(f);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints the post-call lines of the demo's table.
pub(crate) fn print(f: &PostCallFigures) {
    println!();
    println!(
        "  post-call: {} answered calls, {} recordings stored ({} failed), {} transcripts, {} analyses",
        f.answered_calls, f.recordings_stored, f.recordings_failed, f.transcripts, f.analyses
    );
    for (label, n) in &f.dispositions {
        println!("    analysed {label:<23}{n:>8}");
    }
    println!(
        "  {:<34}{:>8}  ({} broken)",
        "principles kept", f.principles_passed, f.principles_failed
    );
    if let (Some(p50), Some(p95)) = (f.latency_ms_p50, f.latency_ms_p95) {
        println!(
            "  {:<34}{:>8}  (p95 {p95} ms, simulated time)",
            "call end to analysis, p50 ms", p50
        );
    }
    if let Some(n) = f.external_calls_per_call {
        println!("  {:<34}{:>8.2}", "external requests per call", n);
    }
}
