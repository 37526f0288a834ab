//! Store throughput: the per-call write cycle of the engine and the status
//! callback's single update, alone and from many tasks at once.
//!
//! `cargo bench -p voxdial-local --bench store` (criterion prints
//! `thrpt` in operations per second: one element is one operation).

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voxdial_domain::{
    CallAttempt, CallEventKind, CallOutcome, CallState, CallStore, CampaignId, CampaignStore,
    LeadStore, Timestamp,
};
use voxdial_local::LocalStore;
use voxdial_testkit::fixtures::{self, at, t0};

/// Tasks sending updates at once in the concurrent benches.
const TASKS: usize = 16;

struct Bench {
    runtime: tokio::runtime::Runtime,
    store: LocalStore,
    campaign: CampaignId,
    _dir: tempfile::TempDir,
}

fn setup(leads: usize) -> Bench {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::open(dir.path().join("bench.sqlite3")).expect("open");
    let campaign = fixtures::campaign("bench", t0());
    runtime.block_on(async {
        store.insert_campaign(&campaign).await.expect("campaign");
        store
            .import_leads(&campaign.id, fixtures::leads(&campaign.id, 0..leads, t0()))
            .await
            .expect("import");
    });
    Bench {
        runtime,
        store,
        campaign: campaign.id,
        _dir: dir,
    }
}

/// Claims `n` leads and creates a ringing call for each.
async fn ringing_calls(store: &LocalStore, campaign: &CampaignId, n: usize) -> Vec<CallAttempt> {
    let claimed = store
        .claim_due(campaign, 10_000, at(1), at(3_600), n)
        .await
        .expect("claim");
    let mut calls = Vec::new();
    for lead in claimed {
        let call = fixtures::call_for(&lead, lead.state.active_attempt().expect("active"), t0());
        store.create_call(&call).await.expect("create");
        let ringing = fixtures::advanced(&call, CallEventKind::Ringing, t0());
        calls.push(store.update_call(&ringing).await.expect("update"));
    }
    calls
}

/// claim_due(1) + create_call + update_call + finish_call, the lead released
/// to pending so the pool never runs dry.
fn call_cycle(c: &mut Criterion) {
    let bench = setup(1_000);
    let due = AtomicI64::new(0);
    let far: Timestamp = at(365 * 86_400);
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function("call_cycle", |b| {
        b.iter(|| {
            bench.runtime.block_on(async {
                let store = &bench.store;
                let lead = store
                    .claim_due(&bench.campaign, 10_000, far, far, 1)
                    .await
                    .expect("claim")
                    .pop()
                    .expect("a due lead");
                let attempt = lead.state.active_attempt().expect("active");
                let call = fixtures::call_for(&lead, attempt, t0());
                store.create_call(&call).await.expect("create");
                let ringing = store
                    .update_call(&fixtures::advanced(&call, CallEventKind::Ringing, t0()))
                    .await
                    .expect("update");
                let done = fixtures::ended(&ringing, CallState::NoAnswer, t0());
                let next_due =
                    t0() + chrono::Duration::nanoseconds(due.fetch_add(1, Ordering::Relaxed));
                let release = fixtures::retry_release(
                    &lead.id,
                    attempt,
                    CallOutcome::NoAnswer,
                    next_due,
                    t0(),
                );
                assert!(store.finish_call(&done, &release).await.expect("finish"));
            })
        })
    });
    group.finish();
}

/// One update_call at a time, on one call.
fn update_call(c: &mut Criterion) {
    let bench = setup(1);
    let mut call = bench
        .runtime
        .block_on(ringing_calls(&bench.store, &bench.campaign, 1))
        .pop()
        .expect("a call");
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function("update_call", |b| {
        b.iter(|| {
            call.last_sequence = Some(call.version);
            call = bench
                .runtime
                .block_on(bench.store.update_call(&call))
                .expect("update");
        })
    });
    group.finish();
}

/// Status callbacks from `TASKS` tasks at once: each reads its call and
/// writes it back (`call` + `update_call`), the webhook's store work.
fn concurrent_status_callbacks(c: &mut Criterion) {
    let bench = setup(TASKS);
    let calls = bench
        .runtime
        .block_on(ringing_calls(&bench.store, &bench.campaign, TASKS));
    let calls: Vec<Arc<tokio::sync::Mutex<CallAttempt>>> = calls
        .into_iter()
        .map(|c| Arc::new(tokio::sync::Mutex::new(c)))
        .collect();
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("status_callback_x{TASKS}"), |b| {
        b.iter_custom(|iters| {
            let per_task = iters.div_ceil(TASKS as u64);
            bench.runtime.block_on(async {
                let started = Instant::now();
                let tasks: Vec<_> = calls
                    .iter()
                    .map(|slot| {
                        let (store, slot) = (bench.store.clone(), slot.clone());
                        tokio::spawn(async move {
                            let mut held = slot.lock().await;
                            for _ in 0..per_task {
                                let mut call =
                                    store.call(&held.id).await.expect("read").expect("stored");
                                call.last_sequence = Some(call.version);
                                *held = store.update_call(&call).await.expect("update");
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("task");
                }
                // Scale to the iterations asked for (tasks round up).
                started
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * TASKS as u64) as f64)
            })
        })
    });
    group.finish();
}

/// The floor under every store call: one empty `spawn_blocking` round trip
/// (what the writer-mutex design costs per operation beyond SQLite).
fn blocking_round_trip(c: &mut Criterion) {
    let bench = setup(1);
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.bench_function("spawn_blocking_round_trip", |b| {
        b.iter(|| {
            bench
                .runtime
                .block_on(async { tokio::task::spawn_blocking(|| ()).await })
                .expect("join")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = call_cycle, update_call, concurrent_status_callbacks, blocking_round_trip
}
criterion_main!(benches);
