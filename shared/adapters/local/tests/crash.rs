//! Crash safety: a child process hammers the store and the queue and is
//! killed with SIGKILL at an arbitrary point, three times; after each kill
//! the files must open, pass SQLite's integrity check and hold the
//! engine's invariants, and the queue must still deliver.
//!
//! The child is this test executable run again with `CHILD_ENV` set and
//! `--ignored --exact crash_child_workload` (a test ignored in normal runs),
//! which loops until killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use voxdial_app::clock::SystemClock;
use voxdial_domain::{
    CallOutcome, CallState, CallStore, Campaign, CampaignId, CampaignStore, Clock, DispatchMessage,
    LeadState, LeadStore, MessageQueue,
};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::{ManualClock, fixtures};

const CHILD_ENV: &str = "VOXDIAL_CRASH_CHILD_DIR";
const MAX_ACTIVE: u32 = 5;
const BATCH: usize = 50;

fn open(dir: &Path, clock: Arc<dyn Clock>) -> (LocalStore, LocalQueue) {
    let store = LocalStore::open(dir.join("store.sqlite3")).expect("open the store");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(60),
        max_receives: 1_000,
    };
    let queue = LocalQueue::open(dir.join("queue.sqlite3"), config, clock).expect("open the queue");
    (store, queue)
}

/// One campaign's share of an iteration: claim, dispatch, call, finish
/// (leaving one call in four live, holding its slot).
async fn work_on(store: LocalStore, queue: LocalQueue, campaign: CampaignId, seed: u64) {
    let now = chrono::Utc::now();
    let claimed = store
        .claim_due(
            &campaign,
            MAX_ACTIVE,
            now,
            now + chrono::Duration::hours(1),
            3,
        )
        .await
        .expect("claim_due");
    for (n, lead) in claimed.into_iter().enumerate() {
        let attempt = lead.state.active_attempt().expect("claimed");
        let message = DispatchMessage {
            campaign_id: campaign.clone(),
            lead_id: lead.id.clone(),
            attempt,
        };
        queue
            .send(std::slice::from_ref(&message), Duration::ZERO)
            .await
            .expect("send");
        let call = fixtures::call_for(&lead, attempt, now);
        store.create_call(&call).await.expect("create_call");
        let ringing = store
            .update_call(&fixtures::advanced(
                &call,
                voxdial_domain::CallEventKind::Ringing,
                now,
            ))
            .await
            .expect("update_call");
        if (seed + n as u64).is_multiple_of(4) {
            continue; // left live
        }
        let done = fixtures::ended(&ringing, CallState::NoAnswer, now);
        let release = if (seed + n as u64).is_multiple_of(3) {
            fixtures::final_release(&lead.id, attempt, CallOutcome::NoAnswer, now)
        } else {
            fixtures::retry_release(&lead.id, attempt, CallOutcome::NoAnswer, now, now)
        };
        let released = store
            .finish_call(&done, &release)
            .await
            .expect("finish_call");
        assert!(released, "the only releaser of this slot");
    }
}

/// The child: loops until killed, printing `tick N` after each iteration.
/// Not a test of its own: the crash test below runs it (`--ignored`).
#[test]
#[ignore = "the child process of killed_mid_write_the_files_reopen_consistent, started by it"]
fn crash_child_workload() {
    let dir = std::env::var(CHILD_ENV)
        .unwrap_or_else(|_| panic!("{CHILD_ENV} is set by the crash test that runs this child"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let (store, queue) = open(Path::new(&dir), Arc::new(SystemClock));
        let pid = std::process::id();
        for i in 0u64.. {
            if i.is_multiple_of(3) {
                let id = format!("crash-{pid}-{i}");
                let campaign = fixtures::campaign(&id, chrono::Utc::now());
                store.insert_campaign(&campaign).await.expect("insert");
                let mut batch = fixtures::leads(&campaign.id, 0..BATCH, chrono::Utc::now());
                for lead in &mut batch {
                    lead.custom.insert("batch".into(), id.clone());
                }
                store
                    .import_leads(&campaign.id, batch)
                    .await
                    .expect("import");
            }
            let campaigns = store.campaigns().await.expect("campaigns");
            let tasks: Vec<_> = campaigns
                .into_iter()
                .take(6)
                .map(|c| tokio::spawn(work_on(store.clone(), queue.clone(), c.id, i)))
                .collect();
            for task in tasks {
                task.await.expect("worker");
            }
            for delivery in queue.receive(10, Duration::ZERO).await.expect("receive") {
                if delivery.message.attempt.is_multiple_of(2) || i.is_multiple_of(2) {
                    queue.ack(&delivery.receipt).await.expect("ack");
                }
            }
            println!("tick {i}");
        }
    });
}

/// The checks after a kill.
async fn verify(dir: &Path) {
    for file in ["store.sqlite3", "queue.sqlite3"] {
        let conn = rusqlite::Connection::open(dir.join(file)).expect("open");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok", "{file}");
    }
    let clock = ManualClock::shared(chrono::Utc::now() + chrono::Duration::days(1));
    let (store, queue) = open(dir, clock.clone());
    let campaigns: Vec<Campaign> = store.campaigns().await.expect("campaigns");
    assert!(!campaigns.is_empty(), "the child did some work");
    let mut dials = 0;
    for campaign in &campaigns {
        let leads = store.leads(&campaign.id, None, 10_000).await.unwrap();
        assert!(
            leads.is_empty() || leads.len() == BATCH,
            "a torn import: {} leads in {}",
            leads.len(),
            campaign.id
        );
        let progress = store.progress(&campaign.id).await.unwrap();
        let active = leads
            .iter()
            .filter(|l| matches!(l.state, LeadState::Active { .. }))
            .count() as u64;
        let pending = leads
            .iter()
            .filter(|l| matches!(l.state, LeadState::Pending { .. }))
            .count() as u64;
        let mut finals = BTreeMap::new();
        for l in &leads {
            if let LeadState::Final { outcome, .. } = &l.state {
                *finals.entry(outcome.label().to_string()).or_insert(0u64) += 1;
            }
        }
        assert_eq!(progress.active, active, "columns and records disagree");
        assert_eq!(progress.pending, pending);
        assert_eq!(progress.finals, finals);
        assert_eq!(progress.total, leads.len() as u64);
        assert!(active <= u64::from(MAX_ACTIVE), "{active} slots held");

        let calls = store.calls(&campaign.id, None, 10_000).await.unwrap();
        for lead in &leads {
            let mine: Vec<_> = calls.iter().filter(|c| c.lead_id == lead.id).collect();
            let ended = mine.iter().filter(|c| c.state.is_terminal()).count() as u32;
            assert_eq!(
                lead.attempts, ended,
                "{}: a finish_call stored the call without the release, or the reverse",
                lead.id
            );
            for call in mine.iter().filter(|c| !c.state.is_terminal()) {
                assert_eq!(
                    lead.state.active_attempt(),
                    Some(call.attempt),
                    "a live call whose lead does not hold its slot"
                );
            }
            dials += mine.len();
        }
    }
    assert!(dials > 0, "the child dialled");

    let mut delivered = 0;
    loop {
        let batch = queue.receive(10, Duration::ZERO).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        for d in batch {
            queue.ack(&d.receipt).await.expect("ack");
            delivered += 1;
        }
    }
    assert!(
        queue.dead_letters().await.unwrap().is_empty(),
        "no message was torn"
    );
    let probe = DispatchMessage {
        campaign_id: campaigns[0].id.clone(),
        lead_id: fixtures::lead_id("probe"),
        attempt: 1,
    };
    queue
        .send(std::slice::from_ref(&probe), Duration::ZERO)
        .await
        .unwrap();
    let got = queue.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, probe);
    queue.ack(&got[0].receipt).await.unwrap();
    eprintln!(
        "verified {} campaigns, {dials} calls, {delivered} queued messages",
        campaigns.len()
    );
}

#[test]
fn killed_mid_write_the_files_reopen_consistent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (round, ticks) in [(0u64, 12u64), (1, 7), (2, 15)] {
        // GIVEN a child process working on the files
        let mut child = Command::new(std::env::current_exe().expect("test exe"))
            .args([
                "--exact",
                "--ignored",
                "crash_child_workload",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        // Kept open until the kill: a closed pipe would end the child itself.
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut seen = 0;
        let mut line = String::new();
        while seen < ticks {
            line.clear();
            if stdout.read_line(&mut line).expect("child output") == 0 {
                break;
            }
            if line.starts_with("tick ") {
                seen += 1;
            }
        }
        assert_eq!(seen, ticks, "the child stopped early");
        // WHEN it is killed mid-iteration (SIGKILL)
        std::thread::sleep(Duration::from_millis(3 * round));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the child died of SIGKILL, not of its own: {status:?}"
        );
        drop(stdout);
        // THEN the files reopen with every invariant intact
        runtime.block_on(verify(dir.path()));
    }
}
