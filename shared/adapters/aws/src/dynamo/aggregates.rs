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
