//! What a contract factory hands the suites: the adapter under test, behind
//! its port trait, plus whatever must live as long as it (a temporary
//! directory, a table to drop) and, for queues, how to move time.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use voxdial_domain::{
    BlobStore, BridgeFleet, DispatchMessage, HumanAgentStore, MessageQueue, QueueMessage,
    RoutingStateStore, Store,
};

use crate::ManualClock;

/// Anything kept alive beside the adapter and dropped after it.
type Guard = Option<Box<dyn Any + Send + Sync>>;

/// A store under test.
pub struct StoreSubject {
    // Field order matters: the store is dropped before its guard.
    store: Arc<dyn Store>,
    _guard: Guard,
}

impl StoreSubject {
    /// Wraps a fresh, empty store.
    pub fn new(store: impl Store + 'static) -> StoreSubject {
        StoreSubject::from_arc(Arc::new(store))
    }

    /// Wraps a fresh, empty store already shared.
    pub fn from_arc(store: Arc<dyn Store>) -> StoreSubject {
        StoreSubject {
            store,
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the store is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> StoreSubject {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

/// A human-agent store under test.
pub struct AgentSubject {
    agents: Arc<dyn HumanAgentStore>,
    _guard: Guard,
}

impl AgentSubject {
    /// Wraps a fresh, empty human-agent store.
    pub fn new(agents: impl HumanAgentStore + 'static) -> AgentSubject {
        AgentSubject {
            agents: Arc::new(agents),
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the store is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> AgentSubject {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The store.
    pub fn agents(&self) -> Arc<dyn HumanAgentStore> {
        self.agents.clone()
    }
}

/// A routing-state store under test.
pub struct RoutingSubject {
    routing: Arc<dyn RoutingStateStore>,
    _guard: Guard,
}

impl RoutingSubject {
    /// Wraps a fresh, empty routing-state store.
    pub fn new(routing: impl RoutingStateStore + 'static) -> RoutingSubject {
        RoutingSubject {
            routing: Arc::new(routing),
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the store is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> RoutingSubject {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The store.
    pub fn routing(&self) -> Arc<dyn RoutingStateStore> {
        self.routing.clone()
    }
}

/// A bridge fleet under test.
pub struct FleetSubject {
    fleet: Arc<dyn BridgeFleet>,
    _guard: Guard,
}

impl FleetSubject {
    /// Wraps a fresh, empty fleet.
    pub fn new(fleet: impl BridgeFleet + 'static) -> FleetSubject {
        FleetSubject {
            fleet: Arc::new(fleet),
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the fleet is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> FleetSubject {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The fleet.
    pub fn fleet(&self) -> Arc<dyn BridgeFleet> {
        self.fleet.clone()
    }
}

/// A blob store under test.
pub struct BlobSubject {
    blobs: Arc<dyn BlobStore>,
    _guard: Guard,
}

impl BlobSubject {
    /// Wraps a fresh, empty blob store.
    pub fn new(blobs: impl BlobStore + 'static) -> BlobSubject {
        BlobSubject {
            blobs: Arc::new(blobs),
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the blob store is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> BlobSubject {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The blob store.
    pub fn blobs(&self) -> Arc<dyn BlobStore> {
        self.blobs.clone()
    }
}

/// How a queue's clock moves in the suite.
#[derive(Clone, Debug)]
pub enum QueueTime {
    /// The adapter reads this clock: the suite advances it, no test sleeps.
    Manual(Arc<ManualClock>),
    /// The adapter uses real time (a cloud queue): the suite sleeps.
    Real,
}

impl QueueTime {
    /// Lets `by` pass on the adapter's clock.
    pub async fn advance(&self, by: Duration) {
        match self {
            QueueTime::Manual(clock) => {
                clock.advance(by);
            }
            QueueTime::Real => tokio::time::sleep(by).await,
        }
    }

    /// Whether a check that nothing is visible yet, started now, certainly
    /// ends before `deadline` past `since`: always on a manual clock; on
    /// real time only with a second to spare, so that a slow machine (or a
    /// slow emulator) skips the check instead of failing it. The check that
    /// the message does come back after the deadline is always made.
    pub(crate) fn still_before(&self, since: std::time::Instant, deadline: Duration) -> bool {
        match self {
            QueueTime::Manual(_) => true,
            QueueTime::Real => since.elapsed() + Duration::from_secs(1) < deadline,
        }
    }

    /// How close to a deadline the suite checks that nothing is visible yet:
    /// 1 ms on a manual clock, half the interval on real time.
    pub(crate) fn margin(&self, interval: Duration) -> Duration {
        match self {
            QueueTime::Manual(_) => Duration::from_millis(1).min(interval / 2),
            QueueTime::Real => interval / 2,
        }
    }
}

/// Opens the same queue again (same storage), after the previous handle was dropped.
pub type Reopen<M = DispatchMessage> =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn MessageQueue<M>>> + Send>> + Send + Sync>;

/// A queue of messages `M` under test (dispatch messages unless said
/// otherwise).
///
/// The suites assume the queue was built with
/// [`QUEUE_MAX_RECEIVES`](crate::queue::QUEUE_MAX_RECEIVES) receives before
/// dead-lettering and with the visibility timeout given here.
pub struct QueueSubject<M: QueueMessage = DispatchMessage> {
    queue: Option<Arc<dyn MessageQueue<M>>>,
    visibility: Duration,
    time: QueueTime,
    reopen: Option<Reopen<M>>,
    _guard: Guard,
}

impl<M: QueueMessage> fmt::Debug for QueueSubject<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSubject")
            .field("visibility", &self.visibility)
            .field("time", &self.time)
            .field("reopen", &self.reopen.is_some())
            .finish_non_exhaustive()
    }
}

impl<M: QueueMessage> QueueSubject<M> {
    /// Wraps a fresh, empty queue whose messages become visible again
    /// `visibility` after a receive, on the clock `time` moves. The suite
    /// also uses `visibility` as a send delay and `visibility / 2` as a
    /// `retry_later` delay, so with [`QueueTime::Real`] on a queue counting
    /// whole seconds (SQS) it should be an even number of seconds, 2 or more.
    pub fn new(
        queue: impl MessageQueue<M> + 'static,
        visibility: Duration,
        time: QueueTime,
    ) -> QueueSubject<M> {
        QueueSubject {
            queue: Some(Arc::new(queue)),
            visibility,
            time,
            reopen: None,
            _guard: None,
        }
    }

    /// Tells how to open the same queue again (needed by
    /// [`durable_queue_contract!`](crate::durable_queue_contract)).
    pub fn with_reopen(mut self, reopen: Reopen<M>) -> QueueSubject<M> {
        self.reopen = Some(reopen);
        self
    }

    /// Keeps `guard` alive until the queue is dropped.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> QueueSubject<M> {
        self._guard = Some(Box::new(guard));
        self
    }

    /// The queue.
    pub fn queue(&self) -> Arc<dyn MessageQueue<M>> {
        self.queue.clone().expect("the queue is open")
    }

    /// The visibility timeout the queue was built with.
    pub fn visibility(&self) -> Duration {
        self.visibility
    }

    /// How time moves.
    pub fn time(&self) -> &QueueTime {
        &self.time
    }

    /// Drops the queue handle (which must be the last one) and opens the same
    /// queue again. Panics if no reopen function was given.
    pub async fn reopen(&mut self) -> Arc<dyn MessageQueue<M>> {
        let reopen = self
            .reopen
            .as_ref()
            .expect("durable_queue_contract! needs QueueSubject::with_reopen");
        let old = self.queue.take().expect("the queue is open");
        assert_eq!(
            Arc::strong_count(&old),
            1,
            "the suite must hold the only handle before reopening"
        );
        drop(old);
        let queue = reopen().await;
        self.queue = Some(queue.clone());
        queue
    }
}

impl<M: QueueMessage> Drop for QueueSubject<M> {
    fn drop(&mut self) {
        // The queue goes before the guard (a temp dir must outlive its files).
        self.queue = None;
    }
}
