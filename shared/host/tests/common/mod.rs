//! What the host's tests share.

use std::sync::Arc;

use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::Clock;
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

/// An engine on a fresh SQLite store and queue in `dir`: no providers, a
/// manual clock at [`t0`].
pub(crate) fn local_engine(dir: &std::path::Path) -> Engine {
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.join("s.sqlite")).unwrap());
    let queue =
        LocalQueue::open(dir.join("q.sqlite"), QueueConfig::default(), clock.clone()).unwrap();
    Engine::new(
        store,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    )
}
