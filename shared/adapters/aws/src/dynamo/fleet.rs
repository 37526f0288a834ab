//! [`BridgeFleet`] on the table: one item per bridge task under the one
//! partition `BRIDGE_FLEET` (sort key: the task id), so the answer
//! webhook reads the whole fleet with one query. Each item carries the
//! report as JSON (`rec`) and its expiry as the table's TTL attribute
//! (`expires_at`, epoch seconds rounded up), so DynamoDB deletes a dead
//! task's item by itself; since that deletion may come much later than
//! the expiry, a read keeps only the reports whose own expiry is after
//! its `now`.
//!
//! Each task writes its item when its load changes (debounced) and on a
//! heartbeat: a few writes a second for the whole fleet, far under a
//! partition's 1,000.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use voxdial_domain::{BridgeFleet, BridgeLoad, StoreError, Timestamp};

use super::DynamoStore;
use super::table::{PK, SK, TTL};

/// The partition of every task's report.
const PARTITION: &str = "BRIDGE_FLEET";
/// The report, as JSON.
const REC: &str = "rec";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Epoch seconds at or after `at`: TTL never deletes a report still valid.
fn ttl_seconds(at: Timestamp) -> i64 {
    let whole = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<BridgeLoad, StoreError> {
    let task = item.get(SK).and_then(|v| v.as_s().ok());
    let record = item
        .get(REC)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("bridge load {task:?} without a record")))?;
    serde_json::from_str(record)
        .map_err(|e| StoreError::Corrupt(format!("bridge load {task:?}: {e}")))
}

#[async_trait]
impl BridgeFleet for DynamoStore {
    async fn report_bridge_load(&self, load: &BridgeLoad) -> Result<(), StoreError> {
        let record = serde_json::to_string(load)
            .map_err(|e| StoreError::unavailable("cannot encode a bridge load", e))?;
        let (client, table) = self.table.parts();
        client
            .put_item()
            .table_name(table)
            .item(PK, s(PARTITION))
            .item(SK, s(load.task.as_str()))
            .item(REC, s(record))
            .item(
                TTL,
                AttributeValue::N(ttl_seconds(load.expires_at).to_string()),
            )
            .send()
            .await
            .map_err(|e| StoreError::unavailable("cannot report a bridge load", e))?;
        Ok(())
    }

    async fn bridge_loads(&self, now: Timestamp) -> Result<Vec<BridgeLoad>, StoreError> {
        let (client, table) = self.table.parts();
        let mut loads = Vec::new();
        let mut start = None;
        loop {
            let page = client
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(PARTITION))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::unavailable("cannot read the bridge fleet", e))?;
            for item in page.items() {
                let load = decode(item)?;
                if load.expires_at > now {
                    loads.push(load);
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(loads);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_never_comes_before_the_expiry() {
        let whole = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(ttl_seconds(whole), 1_700_000_000);
        let later = chrono::DateTime::from_timestamp(1_700_000_000, 1).unwrap();
        assert_eq!(ttl_seconds(later), 1_700_000_001);
    }
}
