//! Shared helpers of voxdial's end-to-end tests.
//!
//! # Layout
//!
//! - [`model`]: a deterministic model of a carrier ([`model::ModelCarrier`])
//!   that implements the provider port in-process, counts what a carrier
//!   sees (simultaneous calls per campaign, dials per attempt) and hands
//!   its status events to the test to deliver in any order, duplicated or
//!   not at all.
//! - [`world`]: the engine on the embedded store and queue with a manual
//!   clock and model carriers, and the random driver of the property tests.

pub mod model;
pub mod world;

/// An engine on a fresh SQLite store and queue in `dir`: no providers, a
/// manual clock at [`voxdial_testkit::fixtures::t0`], human agents kept in
/// the store. For tests that drive the API or the engine directly.
pub fn local_engine(
    dir: &std::path::Path,
    config: voxdial_app::EngineConfig,
) -> voxdial_app::Engine {
    local_engine_with_store(dir, config).0
}

/// [`local_engine`] and the store under it, for tests that seed records
/// directly.
pub fn local_engine_with_store(
    dir: &std::path::Path,
    config: voxdial_app::EngineConfig,
) -> (
    voxdial_app::Engine,
    std::sync::Arc<dyn voxdial_domain::Store>,
) {
    use std::sync::Arc;
    let clock: Arc<dyn voxdial_domain::Clock> =
        voxdial_testkit::ManualClock::shared(voxdial_testkit::fixtures::t0());
    let store = Arc::new(voxdial_local::LocalStore::open(dir.join("s.sqlite")).expect("a store"));
    let queue = voxdial_local::LocalQueue::open(
        dir.join("q.sqlite"),
        voxdial_local::QueueConfig::default(),
        clock.clone(),
    )
    .expect("a queue");
    let engine = voxdial_app::Engine::new(
        store.clone(),
        Arc::new(queue),
        voxdial_app::router::Providers::new(),
        Arc::new(voxdial_app::router::StaticRouter::new(Vec::new())),
        clock,
        config,
    )
    .with_agents(store.clone());
    (engine, store)
}
