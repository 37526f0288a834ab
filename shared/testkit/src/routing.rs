//! The [`RoutingStateStore`](voxdial_domain::RoutingStateStore) contract,
//! one function per case; [`routing_contract!`](crate::routing_contract)
//! turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here: a counter row holds
//! only the counters ever added to; `routing_state` returns every row and
//! record, whatever their kind of key; an empty list of writes succeeds.

use std::collections::BTreeMap;
use std::sync::Arc;

use voxdial_domain::{E164, ProviderId, RoutingAdd, RoutingKey, RoutingStateStore, RoutingWrite};

use crate::RoutingSubject;

fn provider(id: &str) -> ProviderId {
    ProviderId::parse(id).expect("a valid provider id")
}

fn stats(id: &str, prefix: &str) -> RoutingKey {
    RoutingKey::Stats {
        provider: provider(id),
        prefix: prefix.into(),
    }
}

fn write(key: &RoutingKey, value: &str, expected_version: u64) -> RoutingWrite {
    RoutingWrite {
        key: key.clone(),
        value: value.into(),
        expected_version,
    }
}

/// Counters add up per row and name; a record is created on version 0,
/// then only written over the version read.
pub async fn counters_add_up_and_records_are_versioned(subject: RoutingSubject) {
    let store = subject.routing();
    assert_eq!(store.routing_state().await.unwrap(), Default::default());
    let us = stats("twilio", "1212");
    let none = stats("twilio", "");
    store
        .add_routing_counters(&us, &[("attempts", 2), ("cost", 1_500)])
        .await
        .unwrap();
    store
        .add_routing_counters(&us, &[("attempts", 1), ("cost", -500)])
        .await
        .unwrap();
    store
        .add_routing_counters(&none, &[("ended", 1)])
        .await
        .unwrap();
    store
        .add_routing_counters(&RoutingKey::Router, &[("decisions", 7)])
        .await
        .unwrap();
    let state = store.routing_state().await.unwrap();
    let row = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(
        state.counters[&us],
        row(&[("attempts", 3), ("cost", 1_000)])
    );
    assert_eq!(state.counters[&none], row(&[("ended", 1)]));
    assert_eq!(
        state.counters[&RoutingKey::Router],
        row(&[("decisions", 7)])
    );
    assert!(state.records.is_empty());

    let breaker = RoutingKey::Provider(provider("twilio"));
    let caller = RoutingKey::CallerId(E164::from_trusted("+12125550101").unwrap());
    assert!(store.put_routing_records(&[], &[]).await.unwrap());
    assert!(
        store
            .put_routing_records(&[write(&breaker, "open", 0), write(&caller, "{}", 0)], &[])
            .await
            .unwrap()
    );
    // A second creation, or a write over a version never read, is refused.
    assert!(
        !store
            .put_routing_records(&[write(&breaker, "closed", 0)], &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_routing_records(&[write(&breaker, "closed", 2)], &[])
            .await
            .unwrap()
    );
    assert!(
        store
            .put_routing_records(&[write(&breaker, "closed", 1)], &[])
            .await
            .unwrap()
    );
    let state = store.routing_state().await.unwrap();
    assert_eq!(state.records[&breaker].value, "closed");
    assert_eq!(state.records[&breaker].version, 2);
    assert_eq!(state.records[&caller].value, "{}");
    assert_eq!(state.records[&caller].version, 1);
}

/// When one condition of a batch fails, no record of it is written.
pub async fn record_writes_are_all_or_nothing(subject: RoutingSubject) {
    let store = subject.routing();
    let a = RoutingKey::Provider(provider("a"));
    let b = RoutingKey::Provider(provider("b"));
    assert!(
        store
            .put_routing_records(&[write(&a, "a1", 0), write(&b, "b1", 0)], &[])
            .await
            .unwrap()
    );
    // GIVEN a batch whose second write expects a stale version of b
    let batch = [write(&a, "a2", 1), write(&b, "b2", 0)];
    // WHEN it is written, THEN it is refused and a keeps its value
    assert!(!store.put_routing_records(&batch, &[]).await.unwrap());
    let state = store.routing_state().await.unwrap();
    assert_eq!(
        (state.records[&a].value.as_str(), state.records[&a].version),
        ("a1", 1)
    );
    assert_eq!(state.records[&b].value, "b1");
}

/// Counters written with records are added when the records are written,
/// and not at all when a condition refuses them.
pub async fn counters_with_records_are_added_all_or_nothing(subject: RoutingSubject) {
    let store = subject.routing();
    let breaker = RoutingKey::Provider(provider("twilio"));
    let us = stats("twilio", "1212");
    let ended = [("ended", 1), ("cost_micros", 2_500)];
    let accepted = [("accepted", 1)];
    let adds = [
        RoutingAdd {
            key: &us,
            deltas: &ended,
        },
        RoutingAdd {
            key: &RoutingKey::Router,
            deltas: &accepted,
        },
    ];
    // GIVEN a record written once, its counters with it
    assert!(
        store
            .put_routing_records(&[write(&breaker, "closed", 0)], &adds)
            .await
            .unwrap()
    );
    // WHEN a write over a stale version carries counters, THEN they are not added
    assert!(
        !store
            .put_routing_records(&[write(&breaker, "open", 0)], &adds)
            .await
            .unwrap()
    );
    // AND a write over the version read adds them again; counters alone add too
    assert!(
        store
            .put_routing_records(&[write(&breaker, "open", 1)], &adds[..1])
            .await
            .unwrap()
    );
    assert!(store.put_routing_records(&[], &adds[1..]).await.unwrap());
    let state = store.routing_state().await.unwrap();
    assert_eq!(state.records[&breaker].value, "open");
    assert_eq!(state.counters[&us]["ended"], 2);
    assert_eq!(state.counters[&us]["cost_micros"], 5_000);
    assert_eq!(state.counters[&RoutingKey::Router]["accepted"], 2);
}

/// Tasks adding to the same counters at once: every add counts.
pub async fn concurrent_counter_adds_are_never_lost(subject: RoutingSubject) {
    const TASKS: i64 = 12;
    const ADDS: i64 = 8;
    let store = subject.routing();
    let key = stats("twilio", "91");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            for _ in 0..ADDS {
                store
                    .add_routing_counters(&key, &[("attempts", 1), ("cost", 3)])
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let state = store.routing_state().await.unwrap();
    assert_eq!(state.counters[&key]["attempts"], TASKS * ADDS);
    assert_eq!(state.counters[&key]["cost"], 3 * TASKS * ADDS);
}

/// Reads `key`'s number and writes it plus one over the version read,
/// again until a write succeeds.
async fn increment(store: &Arc<dyn RoutingStateStore>, key: &RoutingKey) {
    loop {
        let state = store.routing_state().await.unwrap();
        let (value, version) = state
            .records
            .get(key)
            .map_or((0, 0), |r| (r.value.parse::<u64>().unwrap(), r.version));
        let next = write(key, &(value + 1).to_string(), version);
        if store.put_routing_records(&[next], &[]).await.unwrap() {
            return;
        }
    }
}

/// Tasks that read a record and write it over the version read, retrying
/// when they lose a race (what a breaker transition or a CPS token does):
/// no increment is lost.
pub async fn concurrent_conditional_updates_are_never_lost(subject: RoutingSubject) {
    const TASKS: u64 = 8;
    const UPDATES: u64 = 5;
    let store = subject.routing();
    let key = RoutingKey::Provider(provider("twilio"));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            for _ in 0..UPDATES {
                increment(&store, &key).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let record = &store.routing_state().await.unwrap().records[&key];
    assert_eq!(record.value, (TASKS * UPDATES).to_string());
    assert_eq!(record.version, TASKS * UPDATES);
}

/// A [`RoutingStateStore`] in memory, for tests of routers that need no
/// durable store (it passes this contract like the real adapters).
#[derive(Debug, Default)]
pub struct MemoryRoutingStore {
    state: std::sync::Mutex<voxdial_domain::RoutingState>,
}

impl MemoryRoutingStore {
    /// An empty store, shared.
    pub fn shared() -> Arc<MemoryRoutingStore> {
        Arc::new(MemoryRoutingStore::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, voxdial_domain::RoutingState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl RoutingStateStore for MemoryRoutingStore {
    async fn add_routing_counters(
        &self,
        key: &RoutingKey,
        deltas: &[(&str, i64)],
    ) -> Result<(), voxdial_domain::StoreError> {
        let mut state = self.state();
        let row = state.counters.entry(key.clone()).or_default();
        for (name, delta) in deltas {
            *row.entry((*name).to_owned()).or_default() += delta;
        }
        Ok(())
    }

    async fn put_routing_records(
        &self,
        writes: &[RoutingWrite],
        adds: &[RoutingAdd<'_>],
    ) -> Result<bool, voxdial_domain::StoreError> {
        let mut state = self.state();
        let current = |key: &RoutingKey| state.records.get(key).map_or(0, |r| r.version);
        if writes.iter().any(|w| current(&w.key) != w.expected_version) {
            return Ok(false);
        }
        for add in adds {
            let row = state.counters.entry(add.key.clone()).or_default();
            for (name, delta) in add.deltas {
                *row.entry((*name).to_owned()).or_default() += delta;
            }
        }
        for w in writes {
            state.records.insert(
                w.key.clone(),
                voxdial_domain::RoutingRecord {
                    value: w.value.clone(),
                    version: w.expected_version + 1,
                },
            );
        }
        Ok(true)
    }

    async fn routing_state(
        &self,
    ) -> Result<voxdial_domain::RoutingState, voxdial_domain::StoreError> {
        Ok(self.state().clone())
    }
}
