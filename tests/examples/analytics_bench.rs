//! Analytics query time over 1,000,000 calls, on the local store (SQLite)
//! and on DynamoDB (moto).
//!
//! ```text
//! cargo run --release -p voxdial-tests --example analytics_bench -- local
//! cargo run --release -p voxdial-tests --example analytics_bench -- dynamodb
//! ```
//!
//! Seeding: 1,000,000 calls spread over 90 days and 10 campaigns (three AI
//! agents, two providers) are written through the aggregate store port as
//! one event per (hour, campaign) whose change is the sum of that hour's
//! calls of that campaign: the buckets are exactly those 1,000,000 single
//! call-end and analysis events would leave (a query reads buckets, never
//! events), in 21,600 writes instead of 2,000,000. Each hour's calls carry
//! outcomes, sentiment, four principles and quality scores, so buckets are
//! as wide as real ones. On DynamoDB the same buckets are summed first and
//! written whole, 25 to a `BatchWriteItem` (`DynamoStore::seed_aggregates`):
//! one transaction per event through moto would take hours.
//!
//! Each query goes through `Engine::analytics` (read the buckets, fill the
//! empty ones, derive the figures) and is encoded to JSON, as the API does;
//! the time of 30 runs is reported (median, p95, max), and on DynamoDB the
//! AWS requests one run makes (by operation). On DynamoDB the time
//! includes moto's overhead (a Python server applying one request at a
//! time), far above DynamoDB's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use voxdial_app::analytics::AnalyticsQuery;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_aws::RequestCounter;
use voxdial_domain::{
    AgentId, AggregateEvent, CallId, Campaign, CampaignId, CampaignSettings, Clock, Dimension,
    EventKind, Granularity, OrgId, PrincipleTally, ProviderId, Store, Tally, Timestamp,
};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;

const CALLS: i64 = 1_000_000;
const DAYS: i64 = 90;
const CAMPAIGNS: i64 = 10;
const RUNS: usize = 30;

fn start() -> Timestamp {
    "2026-03-01T00:00:00Z".parse().expect("an instant")
}

/// The change `calls` calls of one hour make (fixed shares per outcome,
/// sentiment and principle).
fn hour_tally(calls: i64, seed: i64) -> Tally {
    let answered = calls * 6 / 10;
    let mut t = Tally {
        calls,
        answered,
        talk_secs: answered * 95,
        handle_secs: calls * 40 + answered * 95,
        cost_micros: answered * 95 * 230 + (calls - answered) * 500,
        quality_milli: answered * 71_500,
        quality_count: answered,
        ..Tally::default()
    };
    let outcomes = [
        ("interested", answered / 5),
        ("not_interested", answered / 4),
        ("callback_requested", answered / 10),
        ("transferred", answered / 20),
        ("voicemail_left", answered / 5),
        (
            "no_conversation",
            answered - answered / 5 - answered / 4 - answered / 10 - answered / 20 - answered / 5,
        ),
        ("no_answer", (calls - answered) * 7 / 10),
        ("busy", (calls - answered) * 2 / 10),
        (
            "failed",
            (calls - answered) - (calls - answered) * 7 / 10 - (calls - answered) * 2 / 10,
        ),
    ];
    for (label, n) in outcomes {
        t.add_counter(&format!("outcome:{label}"), n);
    }
    t.qualified = answered / 5 + answered / 10 + answered / 20;
    let analysed = answered - answered / 5;
    t.add_counter("sentiment:positive", analysed / 2);
    t.add_counter("sentiment:neutral", analysed / 3 + seed % 2);
    t.add_counter(
        "sentiment:negative",
        analysed - analysed / 2 - analysed / 3 - seed % 2,
    );
    for (i, principle) in voxdial_domain::analysis::default_principles()
        .iter()
        .enumerate()
    {
        let total = analysed;
        t.principles.insert(
            principle.clone(),
            PrincipleTally {
                passed: total - total / (i as i64 + 5),
                total,
            },
        );
    }
    t
}

/// The campaigns, and one event per hour and campaign carrying that hour's
/// calls: the buckets 1,000,000 call events leave.
fn history(org: &OrgId) -> (Vec<CampaignId>, Vec<AggregateEvent>) {
    let hours = DAYS * 24;
    let per_hour = CALLS / (hours * CAMPAIGNS);
    let mut extra = CALLS - per_hour * hours * CAMPAIGNS;
    let campaigns: Vec<CampaignId> = (0..CAMPAIGNS)
        .map(|c| CampaignId::parse(format!("bench-c{c}")).expect("an id"))
        .collect();
    let mut events = Vec::new();
    for h in 0..hours {
        for (c, campaign) in campaigns.iter().enumerate() {
            let calls = per_hour + i64::from(extra > 0);
            extra -= i64::from(extra > 0);
            events.push(AggregateEvent {
                org: org.clone(),
                call_id: CallId::parse(format!("bench-{h}-{c}")).expect("an id"),
                kind: EventKind::CallEnded,
                at: start() + chrono::Duration::hours(h) + chrono::Duration::minutes(17),
                dimensions: vec![
                    Dimension::All,
                    Dimension::Campaign(campaign.clone()),
                    Dimension::Agent(AgentId::parse(format!("agent-{}", c % 3)).expect("an id")),
                    Dimension::Provider(
                        ProviderId::parse(if c % 2 == 0 { "twilio" } else { "sanspbx" })
                            .expect("an id"),
                    ),
                ],
                delta: hour_tally(calls, h),
            });
        }
    }
    assert_eq!(events.iter().map(|e| e.delta.calls).sum::<i64>(), CALLS);
    (campaigns, events)
}

/// Records each event through the aggregate port, as the engine does.
async fn record(store: &dyn Store, events: &[AggregateEvent]) {
    let started = Instant::now();
    for (n, event) in events.iter().enumerate() {
        store.record_aggregate(event).await.expect("seeded");
        if n % 2400 == 2399 {
            eprintln!(
                "seeded {} of {} events ({:.0?})",
                n + 1,
                events.len(),
                started.elapsed()
            );
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Times `query` over [`RUNS`] runs; with `requests` (DynamoDB), also the
/// AWS requests one run makes.
async fn measure(
    engine: &Engine,
    org: &OrgId,
    name: &str,
    query: AnalyticsQuery,
    requests: Option<&RequestCounter>,
) -> i64 {
    let mut times = Vec::with_capacity(RUNS);
    let mut calls = 0;
    if let Some(counter) = requests {
        counter.reset();
    }
    for _ in 0..RUNS {
        let started = Instant::now();
        let report = engine.analytics(org, &query).await.expect("a report");
        let json = serde_json::to_vec(&report).expect("JSON");
        times.push(started.elapsed());
        calls = report.totals.calls;
        std::hint::black_box(json);
    }
    times.sort();
    let per_run = requests.map_or(String::new(), |counter| {
        let counts = counter.snapshot();
        let each: Vec<String> = counts
            .iter()
            .map(|(operation, n)| format!("{operation} {}", *n as f64 / RUNS as f64))
            .collect();
        format!("  requests per run: {}", each.join(", "))
    });
    println!(
        "{name:<40} {:>6} calls  median {:>8.1?}  p95 {:>8.1?}  max {:>8.1?}{per_run}",
        calls,
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1]
    );
    calls
}

fn engine(store: Arc<dyn Store>, dir: &std::path::Path) -> Engine {
    let clock: Arc<dyn Clock> = ManualClock::shared(start());
    let queue = LocalQueue::open(dir.join("q.sqlite"), QueueConfig::default(), clock.clone())
        .expect("a queue");
    Engine::new(
        store,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    )
}

#[tokio::main]
async fn main() {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "local".into());
    let dir = tempfile::tempdir().expect("a temp dir");
    let org = OrgId::parse("bench").expect("an id");
    let (campaigns, events) = history(&org);
    let started = Instant::now();
    let counter = RequestCounter::new();
    let mut requests = None;
    let store: Arc<dyn Store> = match backend.as_str() {
        "local" => {
            let store = LocalStore::open(dir.path().join("s.sqlite")).expect("a store");
            record(&store, &events).await;
            Arc::new(store)
        }
        "dynamodb" => {
            // One transaction per event takes moto hours: the same buckets
            // are written whole (`seed_aggregates`, tested to read back as
            // recorded ones).
            let moto = voxdial_aws::testing::Emulator::get();
            let clients = moto.clients(Some(&counter));
            requests = Some(&counter);
            let store = moto.store(&clients).await.expect("a table").0;
            store.seed_aggregates(&org, &events).await.expect("seeded");
            Arc::new(store)
        }
        other => panic!("unknown backend {other:?}: use local or dynamodb"),
    };
    eprintln!("seeded {CALLS} calls in {:.1?}", started.elapsed());
    let mut campaign = Campaign::new(campaigns[0].clone(), CampaignSettings::default(), start())
        .expect("a campaign");
    campaign.org_id = org.clone();
    store.insert_campaign(&campaign).await.expect("stored");
    let engine = engine(store, dir.path());
    let end = start() + chrono::Duration::days(DAYS);
    let query = |bucket, dimension, days| AnalyticsQuery {
        from: end - chrono::Duration::days(days),
        to: end,
        bucket,
        dimension,
    };
    println!("backend {backend}: {CALLS} calls over {DAYS} days, {RUNS} runs per query");
    let cases = [
        (
            "all, day buckets, 90 days",
            query(Granularity::Day, Dimension::All, 90),
        ),
        (
            "all, hour buckets, 90 days",
            query(Granularity::Hour, Dimension::All, 90),
        ),
        (
            "one campaign, day buckets, 90 days",
            query(
                Granularity::Day,
                Dimension::Campaign(campaigns[0].clone()),
                90,
            ),
        ),
        (
            "one provider, hour buckets, 7 days",
            query(
                Granularity::Hour,
                Dimension::Provider(ProviderId::parse("twilio").expect("an id")),
                7,
            ),
        ),
    ];
    for (name, q) in cases {
        let calls = measure(&engine, &org, name, q, requests).await;
        if name.starts_with("all,") {
            assert_eq!(calls, CALLS, "{name}: every seeded call is counted");
        }
    }
}
