//! The [`AggregateStore`](voxdial_domain::AggregateStore) contract (part of
//! every [`Store`](voxdial_domain::Store)), one function per case;
//! [`aggregate_contract!`](crate::aggregate_contract) turns each into a
//! test.
//!
//! Decisions the port's doc leaves open, fixed here: a bucket reads back
//! its counters exactly (counts that came back to zero are left out of the
//! maps); counter names are any text (principles are the campaign's
//! words).

use std::collections::BTreeMap;
use std::sync::Arc;

use voxdial_domain::{
    AgentId, AggregateEvent, Bucket, CallId, CallOutcome, CallState, Dimension, EventKind,
    Granularity, Money, OrgId, PrincipleTally, ProviderId, Store, Tally, Timestamp,
};

use crate::StoreSubject;
use crate::fixtures::{call_for, campaign_id, lead, t0};

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("a valid organisation id")
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

/// One ended call of `org` in campaign `c1` at `at`, with outcome `label`.
fn ended(org: &OrgId, call: &str, at: Timestamp, label: &str) -> AggregateEvent {
    AggregateEvent {
        org: org.clone(),
        call_id: CallId::parse(call).expect("a valid call id"),
        kind: EventKind::CallEnded,
        at,
        dimensions: vec![Dimension::All, Dimension::Campaign(campaign_id("c1"))],
        delta: Tally {
            calls: 1,
            answered: 1,
            talk_secs: 60,
            cost_micros: 10_000,
            outcomes: BTreeMap::from([(label.to_string(), 1)]),
            ..Tally::default()
        },
    }
}

async fn series(
    store: &dyn Store,
    org: &OrgId,
    dimension: &Dimension,
    width: Granularity,
    from: &str,
    to: &str,
) -> Vec<Bucket> {
    store
        .aggregate_buckets(org, dimension, width, ts(from), ts(to))
        .await
        .expect("the buckets")
}

fn calls(buckets: &[Bucket]) -> Vec<(Timestamp, i64)> {
    buckets.iter().map(|b| (b.start, b.tally.calls)).collect()
}

/// An event delivered again (the same call and kind) is counted once:
/// true the first time, false after, the counters unchanged; the other
/// kind of the same call is a different event.
pub async fn duplicate_events_count_once(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    let event = ended(&acme, "L1.1", ts("2026-06-01T10:15:00Z"), "answered");
    assert!(store.record_aggregate(&event).await.unwrap());
    for _ in 0..3 {
        assert!(!store.record_aggregate(&event).await.unwrap());
    }
    let mut analysed = event.clone();
    analysed.kind = EventKind::Analysed;
    analysed.delta = Tally::default();
    analysed.delta.add_counter("outcome:answered", -1);
    analysed.delta.add_counter("outcome:interested", 1);
    analysed.delta.add_counter("sentiment:positive", 1);
    analysed.delta.qualified = 1;
    assert!(store.record_aggregate(&analysed).await.unwrap());
    assert!(!store.record_aggregate(&analysed).await.unwrap());
    let hours = series(
        store.as_ref(),
        &acme,
        &Dimension::All,
        Granularity::Hour,
        "2026-06-01T00:00:00Z",
        "2026-06-02T00:00:00Z",
    )
    .await;
    assert_eq!(hours.len(), 1);
    let t = &hours[0].tally;
    assert_eq!(
        (t.calls, t.answered, t.talk_secs, t.cost_micros, t.qualified),
        (1, 1, 60, 10_000, 1)
    );
    // The moved outcome: `answered` came back to zero and is left out.
    assert_eq!(t.outcomes, BTreeMap::from([("interested".to_string(), 1)]));
    assert_eq!(t.sentiment, BTreeMap::from([("positive".to_string(), 1)]));
}

/// Concurrent deliveries of distinct events all count, concurrent
/// duplicates of one event count once: 20 calls each delivered three
/// times at once make 20 calls in every bucket they touch.
pub async fn concurrent_deliveries_count_each_event_once(subject: StoreSubject) {
    let store: Arc<dyn Store> = subject.store();
    let acme = org("acme");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        for _ in 0..3 {
            let store = store.clone();
            let event = ended(
                &acme,
                &format!("L{n}.1"),
                ts("2026-06-01T10:30:00Z"),
                "busy",
            );
            tasks.spawn(async move { store.record_aggregate(&event).await.unwrap() });
        }
    }
    let firsts = tasks.join_all().await.into_iter().filter(|f| *f).count();
    assert_eq!(firsts, 20, "each event is counted by exactly one delivery");
    for (dimension, width) in [
        (Dimension::All, Granularity::Hour),
        (Dimension::All, Granularity::Day),
        (Dimension::Campaign(campaign_id("c1")), Granularity::Hour),
    ] {
        let buckets = series(
            store.as_ref(),
            &acme,
            &dimension,
            width,
            "2026-06-01T00:00:00Z",
            "2026-06-02T00:00:00Z",
        )
        .await;
        assert_eq!(buckets.len(), 1, "{dimension:?} {width:?}");
        assert_eq!(buckets[0].tally.calls, 20, "{dimension:?} {width:?}");
        assert_eq!(buckets[0].tally.outcomes["busy"], 20);
        assert_eq!(buckets[0].tally.cost_micros, 200_000);
    }
}

/// An event counts in the hour and the UTC day its instant falls in: the
/// last nanosecond of an hour or day and the first of the next are in
/// different buckets; a query takes the buckets starting in `[from, to)`.
pub async fn events_fall_in_their_hour_and_day(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    let instants = [
        ("a.1", "2026-06-01T09:59:59.999999999Z"),
        ("b.1", "2026-06-01T10:00:00Z"),
        ("c.1", "2026-06-01T23:59:59Z"),
        ("d.1", "2026-06-02T00:00:00Z"),
        ("e.1", "2026-06-02T00:00:01Z"),
    ];
    for (call, at) in instants {
        let event = ended(&acme, call, ts(at), "no_answer");
        assert!(store.record_aggregate(&event).await.unwrap());
    }
    let s = store.as_ref();
    let all = Dimension::All;
    let hours = series(
        s,
        &acme,
        &all,
        Granularity::Hour,
        "2026-06-01T00:00:00Z",
        "2026-06-03T00:00:00Z",
    )
    .await;
    assert_eq!(
        calls(&hours),
        [
            (ts("2026-06-01T09:00:00Z"), 1),
            (ts("2026-06-01T10:00:00Z"), 1),
            (ts("2026-06-01T23:00:00Z"), 1),
            (ts("2026-06-02T00:00:00Z"), 2),
        ]
    );
    let days = series(
        s,
        &acme,
        &all,
        Granularity::Day,
        "2026-05-01T00:00:00Z",
        "2026-07-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        calls(&days),
        [
            (ts("2026-06-01T00:00:00Z"), 3),
            (ts("2026-06-02T00:00:00Z"), 2)
        ]
    );
    // [from, to): the 10:00 bucket starts at `from` (in), the 23:00 one at `to` (out).
    let window = series(
        s,
        &acme,
        &all,
        Granularity::Hour,
        "2026-06-01T10:00:00Z",
        "2026-06-01T23:00:00Z",
    )
    .await;
    assert_eq!(calls(&window), [(ts("2026-06-01T10:00:00Z"), 1)]);
    // A `from` inside a bucket leaves that bucket out (it starts before).
    let inside = series(
        s,
        &acme,
        &all,
        Granularity::Hour,
        "2026-06-01T09:30:00Z",
        "2026-06-01T10:00:00.5Z",
    )
    .await;
    assert_eq!(calls(&inside), [(ts("2026-06-01T10:00:00Z"), 1)]);
    assert!(
        series(
            s,
            &acme,
            &all,
            Granularity::Hour,
            "2026-06-03T00:00:00Z",
            "2026-06-04T00:00:00Z"
        )
        .await
        .is_empty()
    );
}

/// Series are per organisation and per dimension: another organisation's
/// calls, another campaign's, agent's or provider's never show.
pub async fn series_are_scoped_to_organisation_and_dimension(subject: StoreSubject) {
    let store = subject.store();
    let (acme, rival) = (org("acme"), org("rival"));
    let at = ts("2026-06-01T12:00:00Z");
    let provider = ProviderId::parse("twilio").unwrap();
    let agent = AgentId::parse("agent-a").unwrap();
    let mut mine = ended(&acme, "m.1", at, "interested");
    mine.dimensions.push(Dimension::Agent(agent.clone()));
    mine.dimensions.push(Dimension::Provider(provider.clone()));
    let mut theirs = ended(&rival, "t.1", at, "busy");
    theirs.dimensions = vec![Dimension::All, Dimension::Campaign(campaign_id("c2"))];
    for e in [&mine, &theirs] {
        assert!(store.record_aggregate(e).await.unwrap());
    }
    let (from, to) = ("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z");
    let count = |org: OrgId, dimension: Dimension| {
        let store = store.clone();
        async move {
            series(store.as_ref(), &org, &dimension, Granularity::Day, from, to)
                .await
                .iter()
                .map(|b| b.tally.calls)
                .sum::<i64>()
        }
    };
    assert_eq!(count(acme.clone(), Dimension::All).await, 1);
    assert_eq!(count(rival.clone(), Dimension::All).await, 1);
    assert_eq!(
        count(acme.clone(), Dimension::Campaign(campaign_id("c1"))).await,
        1
    );
    assert_eq!(
        count(acme.clone(), Dimension::Campaign(campaign_id("c2"))).await,
        0
    );
    assert_eq!(
        count(rival.clone(), Dimension::Campaign(campaign_id("c1"))).await,
        0
    );
    assert_eq!(
        count(acme.clone(), Dimension::Agent(agent.clone())).await,
        1
    );
    assert_eq!(count(rival.clone(), Dimension::Agent(agent)).await, 0);
    assert_eq!(
        count(acme.clone(), Dimension::Provider(provider.clone())).await,
        1
    );
    assert_eq!(count(rival, Dimension::Provider(provider)).await, 0);
    let other = ProviderId::parse("sanspbx").unwrap();
    assert_eq!(count(acme, Dimension::Provider(other)).await, 0);
}

/// Every counter of a real call's events reads back: a terminal call's
/// end and its analysis figures, principles named in any words (colons,
/// quotes, a leading `=`, non-ASCII).
pub async fn every_counter_round_trips(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    let l = lead(&campaign_id("c1"), 1, t0());
    let mut call = call_for(&l, 1, t0());
    call.state = CallState::Completed;
    call.answered_at = Some(t0() + chrono::Duration::seconds(10));
    call.ended_at = Some(t0() + chrono::Duration::seconds(130));
    call.duration_secs = Some(120);
    call.cost = Some(Money(31_500));
    call.outcome = Some(CallOutcome::Human { disposition: None });
    let agent = AgentId::parse("agent-a").unwrap();
    let end = AggregateEvent::call_ended(&acme, &call, Some(&agent)).expect("a terminal call");
    let mut analysed = end.clone();
    analysed.kind = EventKind::Analysed;
    analysed.delta = Tally {
        quality_milli: 87_500,
        quality_count: 1,
        principles: BTreeMap::from([
            (
                "=HYPERLINK(\"x\"): say you're an AI — früh".to_string(),
                PrincipleTally {
                    passed: 1,
                    total: 1,
                },
            ),
            (
                "Never pressure".to_string(),
                PrincipleTally {
                    passed: 0,
                    total: 1,
                },
            ),
        ]),
        sentiment: BTreeMap::from([("neutral".to_string(), 1)]),
        ..Tally::default()
    };
    assert!(store.record_aggregate(&end).await.unwrap());
    assert!(store.record_aggregate(&analysed).await.unwrap());
    let mut expected = end.delta.clone();
    expected.add(&analysed.delta);
    for dimension in [
        Dimension::All,
        Dimension::Campaign(campaign_id("c1")),
        Dimension::Agent(agent.clone()),
        Dimension::Provider(call.provider.clone().unwrap()),
    ] {
        for width in Granularity::ALL {
            let buckets = store
                .aggregate_buckets(
                    &acme,
                    &dimension,
                    width,
                    t0() - chrono::Duration::days(1),
                    t0() + chrono::Duration::days(1),
                )
                .await
                .unwrap();
            assert_eq!(buckets.len(), 1, "{dimension:?} {width:?}");
            assert_eq!(buckets[0].start, width.start_of(end.at));
            assert_eq!(buckets[0].tally, expected, "{dimension:?} {width:?}");
        }
    }
    assert_eq!(expected.handle_secs, 130);
}
