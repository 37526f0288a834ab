//! CSV import memory and time: imports a generated file of N rows (default
//! 100,000) into a fresh local (SQLite) engine and prints the process's
//! resident memory before and at its peak, and the import's duration.
//!
//! ```text
//! cargo run --release -p voxdial-local --example csv_import_memory -- 1000000
//! ```
//!
//! Run one size per process: the peak (`VmHWM`) never goes down.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{CampaignSettings, Clock, Store};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

/// `VmRSS` and `VmHWM` of this process, in MiB (Linux).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `rows` distinct valid US numbers with a name, consent and a custom field.
fn generated_csv(rows: u64) -> Vec<u8> {
    const AREAS: [&str; 4] = ["212", "617", "415", "206"];
    let mut csv = String::with_capacity(rows as usize * 48);
    csv.push_str("phone,name,consent,plan\n");
    for i in 0..rows {
        let area = AREAS[(i / 8_000_000) as usize % AREAS.len()];
        let local = i % 8_000_000;
        let _ = writeln!(
            csv,
            "+1{area}{}{:04},Lead {i},yes,gold",
            200 + local / 10_000,
            local % 10_000
        );
    }
    csv.into_bytes()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite"))?);
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )?;
    let engine = Engine::new(
        store as Arc<dyn Store>,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    );
    let campaign = engine
        .create_campaign(
            &voxdial_domain::OrgId::default(),
            CampaignSettings::default(),
        )
        .await?;
    let csv = generated_csv(rows);
    let (rss_before, _) = memory();
    let started = Instant::now();
    let report = engine.import_csv(&campaign.id, &csv, None).await?;
    let took = started.elapsed();
    let (rss_after, peak) = memory();
    println!(
        "rows {rows}: file {} MiB, inserted {}, rejected {}; {:.1} s; RSS before {rss_before} MiB \
         (file held), peak {peak} MiB (+{} MiB), after {rss_after} MiB",
        csv.len() / (1024 * 1024),
        report.inserted,
        report.rejected_rows,
        took.as_secs_f64(),
        peak.saturating_sub(rss_before),
    );
    Ok(())
}
