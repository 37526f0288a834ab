//! [`RoutingStateStore`] on the table: every routing entry under the one
//! partition `RT`, so that [`RoutingStateStore::routing_state`] is a single
//! query. Counters are attributes `c_<name>` changed with `ADD` (atomic,
//! never conflicting); records carry `rv` and `ver` and are written in one
//! `TransactWriteItems`, each `Put` on condition of the version read, with
//! an `Update` for each counter row the same outcome adds to.
//!
//! The partition takes a few writes per call (a reservation, a setup
//! result, a call end), well under a partition's 1,000 writes per second
//! for the calls-per-second limits of telephony accounts. Counters written
//! with records cost a transaction's two write units instead of one, and
//! save a request each.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use voxdial_domain::{
    RoutingAdd, RoutingKey, RoutingRecord, RoutingState, RoutingStateStore, RoutingWrite,
    StoreError,
};

use super::DynamoStore;
use super::table::{PK, SK};

/// The partition of every routing entry.
const PARTITION: &str = "RT";
/// Sort key prefix of counter rows.
const COUNTERS: &str = "C#";
/// Sort key prefix of records.
const RECORDS: &str = "R#";
/// Counter attributes are `c_<name>`.
const COUNTER: &str = "c_";
/// A record's value.
const VALUE: &str = "rv";
/// A record's version.
const VERSION: &str = "ver";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_owned(), s(PARTITION)), (SK.to_owned(), s(sk))])
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("routing entry without a number {name}")))
}

/// A record's conditional put.
fn put(table: &str, write: &RoutingWrite) -> Result<TransactWriteItem, StoreError> {
    let mut item = key(format!("{RECORDS}{}", write.key));
    item.insert(VALUE.to_owned(), s(write.value.clone()));
    item.insert(VERSION.to_owned(), n(write.expected_version + 1));
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .expression_attribute_names("#v", VERSION);
    put = if write.expected_version == 0 {
        put.condition_expression("attribute_not_exists(#v)")
    } else {
        put.condition_expression("#v = :v")
            .expression_attribute_values(":v", n(write.expected_version))
    };
    let put = put
        .build()
        .map_err(|e| StoreError::Invalid(format!("a routing record write: {e}")))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

type Names = HashMap<String, String>;
type Values = HashMap<String, AttributeValue>;

/// The `ADD` expression of a counter row's deltas, with its names and values.
fn additions(deltas: &[(&str, i64)]) -> (String, Names, Values) {
    let mut parts = Vec::with_capacity(deltas.len());
    let (mut names, mut values) = (HashMap::new(), HashMap::new());
    for (i, (name, delta)) in deltas.iter().enumerate() {
        parts.push(format!("#c{i} :c{i}"));
        names.insert(format!("#c{i}"), format!("{COUNTER}{name}"));
        values.insert(format!(":c{i}"), n(delta));
    }
    (format!("ADD {}", parts.join(", ")), names, values)
}

/// A counter row's additions inside a transaction.
fn add(table: &str, add: &RoutingAdd<'_>) -> Result<TransactWriteItem, StoreError> {
    let (expression, names, values) = additions(add.deltas);
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(format!("{COUNTERS}{}", add.key))))
        .update_expression(expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| StoreError::Invalid(format!("a routing counter update: {e}")))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Adds one stored item to `state`.
fn absorb(
    state: &mut RoutingState,
    item: &HashMap<String, AttributeValue>,
) -> Result<(), StoreError> {
    let sk = item
        .get(SK)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("routing entry without a sort key".into()))?;
    if let Some(text) = sk.strip_prefix(COUNTERS) {
        let row = state.counters.entry(text.parse()?).or_default();
        for name in item.keys() {
            if let Some(counter) = name.strip_prefix(COUNTER) {
                row.insert(counter.to_owned(), number(item, name)?);
            }
        }
    } else if let Some(text) = sk.strip_prefix(RECORDS) {
        let value = item
            .get(VALUE)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("routing record {text} without a value")))?;
        let version = u64::try_from(number(item, VERSION)?).unwrap_or(0);
        state.records.insert(
            text.parse()?,
            RoutingRecord {
                value: value.clone(),
                version,
            },
        );
    }
    Ok(())
}

#[async_trait]
impl RoutingStateStore for DynamoStore {
    async fn add_routing_counters(
        &self,
        routing_key: &RoutingKey,
        deltas: &[(&str, i64)],
    ) -> Result<(), StoreError> {
        if deltas.is_empty() {
            return Ok(());
        }
        let (client, table) = self.table.parts();
        let (expression, names, values) = additions(deltas);
        client
            .update_item()
            .table_name(table)
            .set_key(Some(key(format!("{COUNTERS}{routing_key}"))))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| StoreError::unavailable("cannot add to routing counters", e))?;
        Ok(())
    }

    async fn put_routing_records(
        &self,
        writes: &[RoutingWrite],
        adds: &[RoutingAdd<'_>],
    ) -> Result<bool, StoreError> {
        let adds: Vec<&RoutingAdd<'_>> = adds.iter().filter(|a| !a.deltas.is_empty()).collect();
        if writes.is_empty() && adds.is_empty() {
            return Ok(true);
        }
        let (client, table) = self.table.parts();
        let items = writes
            .iter()
            .map(|w| put(table, w))
            .chain(adds.into_iter().map(|a| add(table, a)))
            .collect::<Result<Vec<_>, _>>()?;
        match client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                // A failed condition, or another transaction on the same
                // records: either way the caller reloads and retries.
                TransactWriteItemsError::TransactionCanceledException(_) => Ok(false),
                other => Err(StoreError::unavailable(
                    "cannot write routing records",
                    other,
                )),
            },
        }
    }

    async fn routing_state(&self) -> Result<RoutingState, StoreError> {
        let (client, table) = self.table.parts();
        let mut state = RoutingState::default();
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
                .map_err(|e| StoreError::unavailable("cannot read the routing state", e))?;
            for item in page.items() {
                absorb(&mut state, item)?;
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(state);
            }
        }
    }
}
