//! [`BridgeFleet`] on the store file: `bridge_fleet`, one row per task
//! (see `store_fleet.sql`); a read skips the rows expired at its `now`.

use async_trait::async_trait;
use rusqlite::params;
use voxdial_domain::{BridgeFleet, BridgeLoad, StoreError, Timestamp};

use super::{LocalStore, Sql, decode, encode};
use crate::sqlite::nanos;

#[async_trait]
impl BridgeFleet for LocalStore {
    async fn report_bridge_load(&self, load: &BridgeLoad) -> Result<(), StoreError> {
        let record = encode("cannot encode a bridge load", load)?;
        let (task, expires) = (load.task.to_string(), nanos(load.expires_at));
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO bridge_fleet (task, expires, record) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (task) DO UPDATE SET expires = excluded.expires, record = excluded.record",
            )
            .and_then(|mut stmt| stmt.execute(params![task, expires, record]))
            .sql("cannot report a bridge load")
            .map(drop)
        })
        .await
    }

    async fn bridge_loads(&self, now: Timestamp) -> Result<Vec<BridgeLoad>, StoreError> {
        let now = nanos(now);
        self.read(move |conn| {
            let rows: Vec<(String, String)> = conn
                .prepare_cached(
                    "SELECT task, record FROM bridge_fleet WHERE expires > ?1 ORDER BY task",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([now], |row| Ok((row.get(0)?, row.get(1)?)))
                        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                })
                .sql("cannot read the bridge fleet")?;
            rows.iter()
                .map(|(task, record)| decode("bridge load", task, record))
                .collect()
        })
        .await
    }
}
