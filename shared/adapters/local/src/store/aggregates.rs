//! [`AggregateStore`] on the store file: `aggregates` (one row per counter
//! of a bucket, added to with an upsert) and `aggregate_events` (the
//! (call, kind) markers), see `store_aggregates.sql`. The marker insert and
//! the counter upserts are one `BEGIN IMMEDIATE` transaction, so a
//! duplicate delivery finds the marker and changes nothing.

use async_trait::async_trait;
use rusqlite::params;
use voxdial_domain::{
    AggregateEvent, AggregateStore, Bucket, Dimension, Granularity, OrgId, StoreError, Tally,
    Timestamp,
};

use super::{LocalStore, Sql, immediate};

fn seconds(at: Timestamp) -> i64 {
    at.timestamp()
}

#[async_trait]
impl AggregateStore for LocalStore {
    async fn record_aggregate(&self, event: &AggregateEvent) -> Result<bool, StoreError> {
        let event = event.clone();
        let counters = event.delta.counters();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let marked = tx
                .prepare_cached(
                    "INSERT INTO aggregate_events (call_id, kind) VALUES (?1, ?2) \
                     ON CONFLICT (call_id, kind) DO NOTHING",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![event.call_id.as_str(), event.kind.label()])
                })
                .sql("cannot mark an aggregate event")?;
            if marked == 0 {
                return Ok(false);
            }
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO aggregates (org_id, dimension, width, start, counter, value) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (org_id, dimension, width, start, counter) \
                         DO UPDATE SET value = value + excluded.value",
                    )
                    .sql("cannot add to the aggregates")?;
                for (dimension, width, start) in event.buckets() {
                    for (counter, by) in &counters {
                        stmt.execute(params![
                            event.org.as_str(),
                            dimension,
                            width.label(),
                            seconds(start),
                            counter,
                            by
                        ])
                        .sql("cannot add to the aggregates")?;
                    }
                }
            }
            tx.commit().sql("cannot commit the aggregates")?;
            Ok(true)
        })
        .await
    }

    async fn aggregate_buckets(
        &self,
        org: &OrgId,
        dimension: &Dimension,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        let (org, dimension) = (org.clone(), dimension.key());
        let rows: Vec<(i64, String, i64)> = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT start, counter, value FROM aggregates \
                         WHERE org_id = ?1 AND dimension = ?2 AND width = ?3 \
                         AND start >= ?4 AND start < ?5 ORDER BY start",
                    )
                    .sql("cannot read the aggregates")?;
                stmt.query_map(
                    params![
                        org.as_str(),
                        dimension,
                        granularity.label(),
                        seconds(from) + i64::from(from.timestamp_subsec_nanos() > 0),
                        seconds(to) + i64::from(to.timestamp_subsec_nanos() > 0)
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .sql("cannot read the aggregates")
            })
            .await?;
        let mut buckets: Vec<(i64, Vec<(String, i64)>)> = Vec::new();
        for (start, counter, value) in rows {
            match buckets.last_mut() {
                Some((s, counters)) if *s == start => counters.push((counter, value)),
                _ => buckets.push((start, vec![(counter, value)])),
            }
        }
        buckets
            .into_iter()
            .map(|(start, counters)| {
                let start = chrono::DateTime::from_timestamp(start, 0).ok_or_else(|| {
                    StoreError::Corrupt(format!("aggregate bucket start {start}"))
                })?;
                Ok(Bucket {
                    start,
                    tally: Tally::from_counters(counters)?,
                })
            })
            .collect()
    }
}
