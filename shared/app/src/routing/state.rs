//! The routing engine's state in the shared routing store
//! ([`RoutingStateStore`]), with a short-lived copy in memory.
//!
//! # What is written when
//!
//! - Reservations, setup results and call ends change records (a
//!   provider's breaker, CPS budget and evidence; a caller ID's usage):
//!   [`SharedEngine::commit`] applies the change to the cached engine and
//!   writes the changed records on condition of the versions it read. A
//!   lost race (another instance wrote first) reloads the state and applies
//!   the change again, so no update is lost and a token is never taken
//!   twice.
//! - Statistics and the router's counts are counters, added to as the
//!   outcomes arrive: atomic adds never conflict. An outcome that also
//!   changes records (a setup result, a call end) adds its counters in the
//!   records' write ([`SharedEngine::commit`]), one store request for both;
//!   the others add them alone ([`SharedEngine::add`]).
//!
//! # Reads
//!
//! Planning and the statistics read the cached engine, reloaded from the
//! store (one read of every entry) when it is older than [`REFRESH`] on the
//! clock the router is given. An instance's own writes update its copy at
//! once; other instances' writes show within [`REFRESH`], and a commit over
//! a stale copy finds out by its condition.
//!
//! Writes and reloads of one process are serialised by an async lock (one
//! store round trip each); the `std` mutex around the copy is never held
//! across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Duration;
use tracing::warn;
use voxdial_domain::{
    E164, Money, ProviderId, RoutingAdd, RoutingKey, RoutingState, RoutingStateStore, RoutingWrite,
    StoreError, Timestamp,
};
use voxdial_routing::{EngineState, RoutingEngine, RoutingError, Stats};

/// How old the cached state may get before a read reloads it.
pub(crate) const REFRESH: Duration = Duration::seconds(1);

/// Rounds of apply-and-write before a contended commit gives up.
const COMMIT_ROUNDS: u32 = 32;

/// Counter names of a statistics row.
pub(crate) mod stat {
    pub(crate) const ATTEMPTS: &str = "attempts";
    pub(crate) const SETUP_FAILURES: &str = "setup_failures";
    pub(crate) const ENDED: &str = "ended";
    pub(crate) const ANSWERS: &str = "answers";
    pub(crate) const ANSWERED_SECS: &str = "answered_secs";
    /// Micro-dollars.
    pub(crate) const COST: &str = "cost_micros";
}

/// Why a routing state change was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// The engine refused the change (a stale plan, an unknown provider).
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other instances kept winning the race.
    #[error("routing state contended: {0} rounds lost")]
    Contended(u32),
}

/// The cached copy.
struct Cache {
    engine: RoutingEngine,
    /// The version of each record as last read or written.
    versions: HashMap<RoutingKey, u64>,
    /// The router's own counters.
    router: BTreeMap<String, i64>,
    /// When the copy was loaded (none: never).
    loaded_at: Option<Timestamp>,
}

/// A routing engine whose state lives in a [`RoutingStateStore`].
pub(crate) struct SharedEngine {
    cache: Mutex<Cache>,
    /// Serialises this process's writes and reloads.
    writer: tokio::sync::Mutex<()>,
    store: Arc<dyn RoutingStateStore>,
}

impl SharedEngine {
    /// An engine that loads its state from `store` on first use.
    pub(crate) fn new(engine: RoutingEngine, store: Arc<dyn RoutingStateStore>) -> SharedEngine {
        SharedEngine {
            cache: Mutex::new(Cache {
                engine,
                versions: HashMap::new(),
                router: BTreeMap::new(),
                loaded_at: None,
            }),
            writer: tokio::sync::Mutex::new(()),
            store,
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the cached engine and the router's counters.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&RoutingEngine, &BTreeMap<String, i64>) -> T) -> T {
        let cache = self.cache();
        f(&cache.engine, &cache.router)
    }

    fn stale(&self, now: Timestamp) -> bool {
        self.cache()
            .loaded_at
            .is_none_or(|at| now < at || now - at >= REFRESH)
    }

    /// Reloads the copy when it is older than [`REFRESH`]; on a store
    /// failure the old copy stays in use (and the failure is logged).
    pub(crate) async fn refresh(&self, now: Timestamp) {
        if !self.stale(now) {
            return;
        }
        let _writer = self.writer.lock().await;
        if self.stale(now)
            && let Err(error) = self.reload(now).await
        {
            warn!(%error, "routing state not reloaded; using the cached copy");
        }
    }

    /// Replaces the copy with the store's state (callers hold `writer`).
    async fn reload(&self, now: Timestamp) -> Result<(), StoreError> {
        let stored = self.store.routing_state().await?;
        let mut cache = self.cache();
        load(&mut cache, stored);
        cache.loaded_at = Some(now);
        Ok(())
    }

    /// Applies `op` to the engine and stores the records named by
    /// `touched`, with the counters `adds`, on condition of the versions
    /// read; when another writer won, reloads and applies `op` again. `op`
    /// must change nothing when it fails (the engine's reports and
    /// reservations do not). The counters count whatever becomes of the
    /// records: when they were not stored with them (the engine refused the
    /// change, other instances kept winning, the store failed), they are
    /// added alone. A write the store failed to confirm but made (a lost
    /// response) is then counted twice: statistics, never a token.
    pub(crate) async fn commit<T>(
        &self,
        now: Timestamp,
        touched: &[RoutingKey],
        adds: &[RoutingAdd<'_>],
        op: impl Fn(&mut RoutingEngine) -> Result<T, RoutingError>,
    ) -> Result<T, StateError> {
        let result = self.commit_records(now, touched, adds, op).await;
        if result.is_err() {
            for add in adds {
                self.add(add.key, add.deltas).await;
            }
        }
        result
    }

    async fn commit_records<T>(
        &self,
        now: Timestamp,
        touched: &[RoutingKey],
        adds: &[RoutingAdd<'_>],
        op: impl Fn(&mut RoutingEngine) -> Result<T, RoutingError>,
    ) -> Result<T, StateError> {
        let _writer = self.writer.lock().await;
        if self.stale(now) {
            self.reload(now).await?;
        }
        for _ in 0..COMMIT_ROUNDS {
            let (out, writes) = {
                let mut cache = self.cache();
                let out = op(&mut cache.engine)?;
                let writes = touched
                    .iter()
                    .map(|key| write(&cache, key))
                    .collect::<Result<Vec<_>, _>>()?;
                (out, writes)
            };
            match self.store.put_routing_records(&writes, adds).await {
                Ok(true) => {
                    let mut cache = self.cache();
                    for w in writes {
                        cache.versions.insert(w.key, w.expected_version + 1);
                    }
                    for add in adds {
                        count_router(&mut cache, add);
                    }
                    return Ok(out);
                }
                // Lost a race: the reload drops this round's change.
                Ok(false) => self.reload(now).await?,
                Err(error) => {
                    // Drop the change that was not stored.
                    if self.reload(now).await.is_err() {
                        self.cache().loaded_at = None;
                    }
                    return Err(error.into());
                }
            }
        }
        Err(StateError::Contended(COMMIT_ROUNDS))
    }

    /// Adds to counters in the store and in the copy of the router's own
    /// counters (the engine's statistics rows were counted in the copy by
    /// the `commit` that reported them).
    pub(crate) async fn add(&self, key: &RoutingKey, deltas: &[(&str, i64)]) {
        if let Err(error) = self.store.add_routing_counters(key, deltas).await {
            warn!(%error, %key, "routing counters not stored");
            return;
        }
        count_router(&mut self.cache(), &RoutingAdd { key, deltas });
    }
}

/// Counts `add` in the copy of the router's own counters, if it is theirs.
fn count_router(cache: &mut Cache, add: &RoutingAdd<'_>) {
    if *add.key == RoutingKey::Router {
        for (name, delta) in add.deltas {
            *cache.router.entry((*name).to_owned()).or_default() += delta;
        }
    }
}

/// The write of `key`'s current value over the version last seen.
fn write(cache: &Cache, key: &RoutingKey) -> Result<RoutingWrite, StateError> {
    let value = match key {
        RoutingKey::Provider(provider) => json(&cache.engine.provider_record(provider)?),
        RoutingKey::CallerId(number) => {
            json(&cache.engine.caller_id_record(number).ok_or_else(|| {
                StoreError::Invalid(format!("caller ID {} is in no pool", number.masked()))
            })?)
        }
        other => {
            return Err(
                StoreError::Invalid(format!("{other} is a counter row, not a record")).into(),
            );
        }
    };
    Ok(RoutingWrite {
        key: key.clone(),
        value,
        expected_version: cache.versions.get(key).copied().unwrap_or(0),
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("routing records serialise")
}

/// Loads the store's entries into the copy. An entry the engine cannot read
/// (written by another version) is left at its default and overwritten by
/// the next change, over its version.
fn load(cache: &mut Cache, stored: RoutingState) {
    let mut state = EngineState::default();
    cache.versions.clear();
    for (key, record) in stored.records {
        let parsed =
            match &key {
                RoutingKey::Provider(provider) => serde_json::from_str(&record.value)
                    .map(|r| state.set_provider(provider.clone(), r)),
                RoutingKey::CallerId(number) => serde_json::from_str(&record.value)
                    .map(|r| state.set_caller_id(number.clone(), r)),
                _ => Ok(()),
            };
        if let Err(error) = parsed {
            warn!(%key, %error, "unreadable routing record ignored");
        }
        cache.versions.insert(key, record.version);
    }
    cache.router.clear();
    for (key, counters) in stored.counters {
        match key {
            RoutingKey::Stats { provider, prefix } => {
                state.set_stats(provider, prefix, stats(&counters));
            }
            RoutingKey::Router => cache.router = counters,
            _ => {}
        }
    }
    cache.engine.set_state(state);
}

/// A statistics row from its counters.
fn stats(counters: &BTreeMap<String, i64>) -> Stats {
    let get = |name: &str| counters.get(name).copied().unwrap_or(0);
    let count = |name: &str| u64::try_from(get(name)).unwrap_or(0);
    Stats {
        attempts: count(stat::ATTEMPTS),
        setup_failures: count(stat::SETUP_FAILURES),
        ended: count(stat::ENDED),
        answers: count(stat::ANSWERS),
        answered_secs: count(stat::ANSWERED_SECS),
        total_cost: Money(get(stat::COST)),
    }
}

/// The statistics row key of `provider` and `prefix`.
pub(crate) fn stats_key(provider: &ProviderId, prefix: &str) -> RoutingKey {
    RoutingKey::Stats {
        provider: provider.clone(),
        prefix: prefix.to_owned(),
    }
}

/// The record key of a caller ID.
pub(crate) fn caller_key(number: &E164) -> RoutingKey {
    RoutingKey::CallerId(number.clone())
}
