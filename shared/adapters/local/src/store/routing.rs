//! [`RoutingStateStore`] on the store file: `routing_counters` (one row per
//! counter, added to by an upsert) and `routing_records` (versioned values,
//! written in one transaction on condition of their versions); see
//! `store_routing.sql`.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use voxdial_domain::{
    RoutingAdd, RoutingKey, RoutingRecord, RoutingState, RoutingStateStore, RoutingWrite,
    StoreError,
};

use super::{LocalStore, Sql, count, immediate, int};
use crate::sqlite::begin;

/// A counter row's key and deltas, owned for the store's thread.
type Additions = (String, Vec<(String, i64)>);

fn owned(key: &RoutingKey, deltas: &[(&str, i64)]) -> Additions {
    let deltas = deltas.iter().map(|(n, d)| ((*n).to_owned(), *d)).collect();
    (key.to_string(), deltas)
}

/// Adds to one counter row inside the caller's transaction.
fn add(conn: &Connection, (key, deltas): &Additions) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO routing_counters (key, name, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key, name) DO UPDATE SET value = value + excluded.value",
        )
        .sql("cannot add to a routing counter")?;
    for (name, delta) in deltas {
        stmt.execute(params![key, name, delta])
            .sql("cannot add to a routing counter")?;
    }
    Ok(())
}

#[async_trait]
impl RoutingStateStore for LocalStore {
    async fn add_routing_counters(
        &self,
        key: &RoutingKey,
        deltas: &[(&str, i64)],
    ) -> Result<(), StoreError> {
        let additions = owned(key, deltas);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            add(&tx, &additions)?;
            tx.commit().sql("cannot add to a routing counter")
        })
        .await
    }

    async fn put_routing_records(
        &self,
        writes: &[RoutingWrite],
        adds: &[RoutingAdd<'_>],
    ) -> Result<bool, StoreError> {
        let writes = writes.to_vec();
        let adds: Vec<Additions> = adds.iter().map(|a| owned(a.key, a.deltas)).collect();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            for w in &writes {
                let key = w.key.to_string();
                let stored: Option<i64> = tx
                    .prepare_cached("SELECT version FROM routing_records WHERE key = ?1")
                    .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)).optional())
                    .sql("cannot read a routing record")?;
                if stored.map_or(0, count) != w.expected_version {
                    // Dropping the transaction rolls back what it wrote.
                    return Ok(false);
                }
                tx.prepare_cached(
                    "INSERT INTO routing_records (key, version, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![key, int(w.expected_version + 1), w.value])
                })
                .sql("cannot write a routing record")?;
            }
            for additions in &adds {
                add(&tx, additions)?;
            }
            tx.commit().sql("cannot write routing records")?;
            Ok(true)
        })
        .await
    }

    async fn routing_state(&self) -> Result<RoutingState, StoreError> {
        let (counters, records) = self
            .read(|conn| {
                let tx = begin(conn, TransactionBehavior::Deferred)
                    .sql("cannot read the routing state")?;
                let counters: Vec<(String, String, i64)> = tx
                    .prepare_cached("SELECT key, name, value FROM routing_counters")
                    .and_then(|mut stmt| {
                        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    })
                    .sql("cannot read the routing counters")?;
                let records: Vec<(String, i64, String)> = tx
                    .prepare_cached("SELECT key, version, value FROM routing_records")
                    .and_then(|mut stmt| {
                        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    })
                    .sql("cannot read the routing records")?;
                Ok((counters, records))
            })
            .await?;
        let mut state = RoutingState::default();
        for (key, name, value) in counters {
            state
                .counters
                .entry(key.parse()?)
                .or_default()
                .insert(name, value);
        }
        for (key, version, value) in records {
            let record = RoutingRecord {
                value,
                version: count(version),
            };
            state.records.insert(key.parse()?, record);
        }
        Ok(state)
    }
}
