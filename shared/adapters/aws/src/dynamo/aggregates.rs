//! [`AggregateStore`] on the table: one item per bucket (`B#<org>#<dimension>#<width>`,
//! sorted by start) whose counters are `ADD`ed, and one marker item per
//! counted (call, kind) (`E#<call>`, sort key the kind). An event is one
//! `TransactWriteItems`: the marker on condition `attribute_not_exists`
//! and the `ADD` to each of its buckets, so a duplicate delivery cancels
//! on the marker and changes nothing; a transaction that collides with
//! another on a bucket is retried.

use async_trait::async_trait;
use voxdial_domain::{
    AggregateEvent, AggregateStore, Bucket, Dimension, Granularity, OrgId, StoreError, Tally,
    Timestamp,
};

use super::DynamoStore;
use super::table::{Cancel, TxError, Write, backoff};

/// Rounds of a transaction that collided with another on a bucket.
const CONFLICT_ROUNDS: u32 = 12;

#[async_trait]
impl AggregateStore for DynamoStore {
    async fn record_aggregate(&self, event: &AggregateEvent) -> Result<bool, StoreError> {
        let counters = event.delta.counters();
        let mut writes = vec![Write::MarkAggregate {
            call: event.call_id.clone(),
            kind: event.kind.label(),
        }];
        writes.extend(
            event
                .buckets()
                .into_iter()
                .map(|(dimension, width, start)| Write::AddAggregate {
                    org: event.org.clone(),
                    dimension,
                    width,
                    start,
                    counters: counters.clone(),
                }),
        );
        for round in 0..CONFLICT_ROUNDS {
            match self.table.transact(&writes).await {
                Ok(()) => return Ok(true),
                Err(TxError::Canceled(reasons)) if reasons.first() == Some(&Cancel::Condition) => {
                    return Ok(false);
                }
                Err(TxError::Canceled(reasons)) if reasons.contains(&Cancel::Conflict) => {
                    backoff(round).await;
                }
                Err(TxError::Canceled(reasons)) => {
                    return Err(StoreError::Conflict(format!(
                        "aggregates of call {}: transaction canceled ({reasons:?})",
                        event.call_id
                    )));
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!(
            "aggregates of call {} kept colliding",
            event.call_id
        )))
    }

    async fn aggregate_buckets(
        &self,
        org: &OrgId,
        dimension: &Dimension,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        self.table
            .aggregate_buckets(org, &dimension.key(), granularity, from, to)
            .await?
            .into_iter()
            .map(|(start, counters)| {
                Ok(Bucket {
                    start,
                    tally: Tally::from_counters(counters)?,
                })
            })
            .collect()
    }
}

#[cfg(any(test, feature = "testing"))]
impl DynamoStore {
    /// Test support: stores the buckets that recording `events` (all of
    /// `org`) would leave, summed per bucket and written whole, without
    /// the per-call markers: a benchmark seeds a long history this way in
    /// minutes where moto takes hours for one transaction per event. The
    /// buckets read back as recorded ones (test
    /// `seeded_buckets_read_back_as_recorded_ones`).
    pub async fn seed_aggregates(
        &self,
        org: &OrgId,
        events: &[AggregateEvent],
    ) -> Result<(), StoreError> {
        let mut sums: std::collections::BTreeMap<_, std::collections::BTreeMap<String, i64>> =
            std::collections::BTreeMap::new();
        for event in events {
            if &event.org != org {
                return Err(StoreError::Conflict(format!(
                    "an event of organisation {} among {org}'s",
                    event.org
                )));
            }
            let counters = event.delta.counters();
            for bucket in event.buckets() {
                let sum = sums.entry(bucket).or_default();
                for (name, by) in &counters {
                    *sum.entry(name.clone()).or_default() += by;
                }
            }
        }
        self.table
            .put_aggregate_buckets(
                org,
                sums.into_iter()
                    .map(|((dimension, width, start), counters)| {
                        (dimension, width, start, counters.into_iter().collect())
                    }),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use voxdial_domain::{CallId, CampaignId, EventKind};

    use super::*;
    use crate::testing::Emulator;

    /// Six calls over two campaigns and two hours of two days, each with
    /// its own counters.
    fn events(org: &OrgId) -> Vec<AggregateEvent> {
        let day = chrono::DateTime::parse_from_rfc3339("2026-06-01T10:17:00Z")
            .unwrap()
            .to_utc();
        (0..6i64)
            .map(|i| {
                let mut delta = Tally::default();
                delta.add_counter("calls", 1);
                delta.add_counter("talk_secs", 30 + i);
                delta.add_counter(
                    &format!("outcome:{}", ["busy", "answered"][i as usize % 2]),
                    1,
                );
                AggregateEvent {
                    org: org.clone(),
                    call_id: CallId::parse(format!("seed-{i}")).unwrap(),
                    kind: EventKind::CallEnded,
                    at: day + chrono::Duration::hours(i % 2) + chrono::Duration::days(i / 3),
                    dimensions: vec![
                        Dimension::All,
                        Dimension::Campaign(CampaignId::parse(format!("c{}", i % 2)).unwrap()),
                    ],
                    delta,
                }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seeded_buckets_read_back_as_recorded_ones() {
        let moto = Emulator::get();
        let (store, _) = moto.store(&moto.clients(None)).await.unwrap();
        let (recorded, seeded) = (OrgId::parse("rec").unwrap(), OrgId::parse("seed").unwrap());
        for event in events(&recorded) {
            assert!(store.record_aggregate(&event).await.unwrap());
        }
        store
            .seed_aggregates(&seeded, &events(&seeded))
            .await
            .unwrap();
        let (from, to) = (
            chrono::DateTime::parse_from_rfc3339("2026-05-31T00:00:00Z")
                .unwrap()
                .to_utc(),
            chrono::DateTime::parse_from_rfc3339("2026-06-04T00:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let dimensions = [
            Dimension::All,
            Dimension::Campaign(CampaignId::parse("c0").unwrap()),
            Dimension::Campaign(CampaignId::parse("c1").unwrap()),
        ];
        for dimension in &dimensions {
            for width in Granularity::ALL {
                let read = |org| store.aggregate_buckets(org, dimension, width, from, to);
                let (want, got) = (read(&recorded).await.unwrap(), read(&seeded).await.unwrap());
                assert!(!want.is_empty(), "{dimension:?} {width:?}");
                assert_eq!(got, want, "{dimension:?} {width:?}");
            }
        }
        // An event of another organisation is refused, nothing written.
        let stray = OrgId::parse("stray").unwrap();
        assert!(
            store
                .seed_aggregates(&stray, &events(&seeded))
                .await
                .is_err()
        );
        let all = store
            .aggregate_buckets(&stray, &Dimension::All, Granularity::Day, from, to)
            .await
            .unwrap();
        assert!(all.is_empty());
    }
}
