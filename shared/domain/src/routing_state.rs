//! The routing-state store: what the provider routing engine learns and
//! counts (statistics per provider and destination prefix, circuit
//! breakers, calls-per-second budgets, success estimates, caller-ID usage),
//! kept where every process that routes calls shares it and a restart finds
//! it.
//!
//! Two kinds of entries, both addressed by a [`RoutingKey`]:
//!
//! - **Counters** ([`RoutingStateStore::add_routing_counters`]): named
//!   integers that only ever grow by an atomic add (DynamoDB `ADD`, an
//!   SQLite upsert adding to the row), so concurrent writers never lose an
//!   update and never conflict. Statistics and the router's own counts.
//! - **Records** ([`RoutingStateStore::put_routing_records`]): an opaque
//!   text value (the routing engine's JSON) with a version, written on
//!   condition of the version read, several at once all or none. Breaker
//!   transitions, CPS tokens, evidence and caller-ID usage: a writer that
//!   lost a race reloads and applies its change again. The counters an
//!   outcome adds go in the same write (one request on DynamoDB instead of
//!   one per row).

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::{E164, ProviderId, StoreError};

/// What a routing-state entry is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoutingKey {
    /// The router's own counters (decisions, deferrals, placed calls).
    Router,
    /// A provider's statistics for one destination prefix (counters).
    Stats {
        /// The provider.
        provider: ProviderId,
        /// The longest rate-table prefix of the numbers called (`""`: none).
        prefix: String,
    },
    /// A provider's learned state: breaker, CPS budget, success evidence (a record).
    Provider(ProviderId),
    /// A caller ID's usage: daily count, CPS budget, answer rate, rotation (a record).
    CallerId(E164),
}

impl fmt::Display for RoutingKey {
    /// The key as stored: `router`, `stats#<provider>#<prefix>`,
    /// `provider#<provider>`, `caller#<e164>` (`#` is in no id or number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutingKey::Router => f.write_str("router"),
            RoutingKey::Stats { provider, prefix } => write!(f, "stats#{provider}#{prefix}"),
            RoutingKey::Provider(provider) => write!(f, "provider#{provider}"),
            RoutingKey::CallerId(number) => write!(f, "caller#{}", number.as_str()),
        }
    }
}

impl std::str::FromStr for RoutingKey {
    type Err = StoreError;

    /// Reads a key written by [`fmt::Display`].
    fn from_str(text: &str) -> Result<RoutingKey, StoreError> {
        let bad = || StoreError::Corrupt(format!("routing key {text:?}"));
        let (kind, rest) = text.split_once('#').unwrap_or((text, ""));
        match kind {
            "router" if rest.is_empty() => Ok(RoutingKey::Router),
            "stats" => {
                let (provider, prefix) = rest.split_once('#').ok_or_else(bad)?;
                if !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                Ok(RoutingKey::Stats {
                    provider: ProviderId::parse(provider).map_err(|_| bad())?,
                    prefix: prefix.to_owned(),
                })
            }
            "provider" => Ok(RoutingKey::Provider(
                ProviderId::parse(rest).map_err(|_| bad())?,
            )),
            "caller" => Ok(RoutingKey::CallerId(
                E164::from_trusted(rest).map_err(|_| bad())?,
            )),
            _ => Err(bad()),
        }
    }
}

/// A stored record and the version it was written with (1 for the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingRecord {
    /// The routing engine's text for the entry.
    pub value: String,
    /// Incremented by every write.
    pub version: u64,
}

/// One conditional write of [`RoutingStateStore::put_routing_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingWrite {
    /// The entry.
    pub key: RoutingKey,
    /// Its new value.
    pub value: String,
    /// The version the writer read: 0 when the record did not exist.
    pub expected_version: u64,
}

/// Additions to the counters of one row, made with the records of
/// [`RoutingStateStore::put_routing_records`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutingAdd<'a> {
    /// The counter row.
    pub key: &'a RoutingKey,
    /// `(name, delta)` for each counter.
    pub deltas: &'a [(&'a str, i64)],
}

/// Everything stored: every counter row and every record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingState {
    /// Counter rows: counter name to value.
    pub counters: BTreeMap<RoutingKey, BTreeMap<String, i64>>,
    /// Records with their versions.
    pub records: BTreeMap<RoutingKey, RoutingRecord>,
}

/// The routing engine's shared state. Global, not per organisation: the
/// provider accounts and their caller IDs are the deployment's.
#[async_trait]
pub trait RoutingStateStore: Send + Sync {
    /// Adds each `(name, delta)` to the counter `name` of the row `key`
    /// atomically (a counter never written counts from 0). Concurrent adds
    /// all count.
    async fn add_routing_counters(
        &self,
        key: &RoutingKey,
        deltas: &[(&str, i64)],
    ) -> Result<(), StoreError>;

    /// Writes every record of `writes`, each on condition that its stored
    /// version is its `expected_version` (0: absent), and adds `adds` to
    /// their counter rows, all or none; the written records' versions
    /// become `expected_version + 1`. `Ok(false)` when a condition failed
    /// (nothing was written or added): reload and retry. No key appears
    /// twice in `writes`, nor twice in `adds`.
    async fn put_routing_records(
        &self,
        writes: &[RoutingWrite],
        adds: &[RoutingAdd<'_>],
    ) -> Result<bool, StoreError>;

    /// Every counter row and record, read at once.
    async fn routing_state(&self) -> Result<RoutingState, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_as_written_and_nothing_else_reads() {
        let provider = ProviderId::parse("twilio").unwrap();
        let keys = [
            RoutingKey::Router,
            RoutingKey::Stats {
                provider: provider.clone(),
                prefix: "91".into(),
            },
            RoutingKey::Stats {
                provider: provider.clone(),
                prefix: String::new(),
            },
            RoutingKey::Provider(provider),
            RoutingKey::CallerId(E164::from_trusted("+12125550100").unwrap()),
        ];
        for key in keys {
            assert_eq!(key.to_string().parse::<RoutingKey>().unwrap(), key, "{key}");
        }
        for bad in [
            "router#x",
            "stats#twilio",
            "stats#twilio#9a",
            "provider#",
            "caller#12",
            "queue#x",
            "",
        ] {
            assert!(bad.parse::<RoutingKey>().is_err(), "{bad:?}");
        }
    }
}
