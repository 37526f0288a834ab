//! The post-call pipeline of the local runtime: the job queue on its own
//! SQLite file beside the dispatch queue ([`crate::backend`]), the bridge's live transcript as
//! the transcriber, the deterministic local analyser, outbound webhooks over
//! HTTPS, and the suppression key of erased numbers in the data directory
//! (`suppression.key`, made once with 32 random bytes and kept: digests
//! made under another key would not match). `VOXDIAL_TRANSCRIBER_DELAY_MS`
//! adds a simulated transcription latency (measurements).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{PostCallConfig, PostCallDeps};
use voxdial_domain::{ConsentRules, JobQueue};
use voxdial_providers::HttpWebhookPoster;

/// Reads the suppression key in `data_dir`, making it on first use.
pub fn suppression_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("suppression.key");
    if let Ok(key) = std::fs::read(&path)
        && key.len() >= 32
    {
        return Ok(key);
    }
    let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    std::fs::write(&path, &key)
        .with_context(|| format!("cannot write the suppression key {}", path.display()))?;
    Ok(key)
}

/// The post-call pipeline on `jobs`.
pub fn deps(
    data_dir: &Path,
    jobs: Arc<dyn JobQueue>,
    bridge: bool,
    consent: ConsentRules,
) -> anyhow::Result<PostCallDeps> {
    let poster = HttpWebhookPoster::allowing_loopback(Duration::from_secs(10))
        .context("cannot build the webhook client")?;
    // A stand-in for a speech service's latency, for measurements:
    // `VOXDIAL_TRANSCRIBER_DELAY_MS` real milliseconds per transcription.
    let delay = std::env::var("VOXDIAL_TRANSCRIBER_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let transcriber: Arc<dyn voxdial_domain::Transcriber> = if delay > 0 {
        Arc::new(voxdial_app::transcription::DelayedTranscriber::new(
            LiveTranscriber,
            Duration::from_millis(delay),
        ))
    } else {
        Arc::new(LiveTranscriber)
    };
    Ok(PostCallDeps {
        jobs,
        transcriber,
        analyser: Arc::new(LocalAnalyser),
        poster: Some(Arc::new(poster)),
        config: PostCallConfig {
            suppression_key: suppression_key(data_dir)?,
            bridge,
            consent,
            ..PostCallConfig::default()
        },
    })
}
