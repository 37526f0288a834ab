//! The port contract suites of `voxdial-testkit`, run against the embedded
//! adapters: each case gets a fresh database file (or blob root) in its own
//! temporary directory.

use std::sync::Arc;
use std::time::Duration;

use voxdial_domain::{Clock, DispatchMessage, MessageQueue};
use voxdial_local::{LocalBlobStore, LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::queue::QUEUE_MAX_RECEIVES;
use voxdial_testkit::{BlobSubject, ManualClock, QueueSubject, QueueTime, StoreSubject, fixtures};

const VISIBILITY: Duration = Duration::from_secs(30);

async fn store() -> StoreSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = LocalStore::open(dir.path().join("voxdial.sqlite3")).expect("open the store");
    StoreSubject::new(store).with_guard(dir)
}

async fn agents() -> voxdial_testkit::AgentSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = LocalStore::open(dir.path().join("voxdial.sqlite3")).expect("open the store");
    voxdial_testkit::AgentSubject::new(store).with_guard(dir)
}

async fn routing() -> voxdial_testkit::RoutingSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = LocalStore::open(dir.path().join("voxdial.sqlite3")).expect("open the store");
    voxdial_testkit::RoutingSubject::new(store).with_guard(dir)
}

async fn fleet() -> voxdial_testkit::FleetSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = LocalStore::open(dir.path().join("voxdial.sqlite3")).expect("open the store");
    voxdial_testkit::FleetSubject::new(store).with_guard(dir)
}

fn open_queue(path: &std::path::Path, clock: Arc<ManualClock>) -> LocalQueue {
    let config = QueueConfig {
        visibility_timeout: VISIBILITY,
        max_receives: QUEUE_MAX_RECEIVES,
    };
    LocalQueue::open(path, config, clock).expect("open the queue")
}

async fn queue() -> QueueSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("queue.sqlite3");
    let clock = ManualClock::shared(fixtures::t0());
    let queue = open_queue(&path, clock.clone());
    let reopen_clock = clock.clone();
    QueueSubject::new(queue, VISIBILITY, QueueTime::Manual(clock))
        .with_reopen(Box::new(move || {
            let (path, clock) = (path.clone(), reopen_clock.clone());
            Box::pin(async move {
                Arc::new(open_queue(&path, clock)) as Arc<dyn MessageQueue<DispatchMessage>>
            })
        }))
        .with_guard(dir)
}

async fn jobs() -> QueueSubject<voxdial_domain::Job> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clock = ManualClock::shared(fixtures::t0());
    let config = QueueConfig {
        visibility_timeout: VISIBILITY,
        max_receives: QUEUE_MAX_RECEIVES,
    };
    let queue =
        voxdial_local::LocalJobQueue::open(dir.path().join("jobs.sqlite3"), config, clock.clone())
            .expect("open the job queue");
    QueueSubject::new(queue, VISIBILITY, QueueTime::Manual(clock)).with_guard(dir)
}

async fn blobs() -> BlobSubject {
    let dir = tempfile::tempdir().expect("a temp dir");
    let clock: Arc<dyn Clock> = ManualClock::shared(fixtures::t0());
    let blobs = LocalBlobStore::open(
        dir.path(),
        "http://127.0.0.1:8080/",
        b"test-secret".to_vec(),
        clock,
    )
    .expect("open the blob store");
    BlobSubject::new(blobs).with_guard(dir)
}

voxdial_testkit::store_contract!(store());
voxdial_testkit::privacy_contract!(store());
voxdial_testkit::key_contract!(store());
voxdial_testkit::ai_agent_contract!(store());
voxdial_testkit::aggregate_contract!(store());
voxdial_testkit::import_contract!(store());
voxdial_testkit::job_queue_contract!(jobs());
voxdial_testkit::agent_contract!(agents());
voxdial_testkit::routing_contract!(routing());
voxdial_testkit::fleet_contract!(fleet());
voxdial_testkit::queue_contract!(queue());
voxdial_testkit::durable_queue_contract!(queue());
voxdial_testkit::blob_contract!(blobs());
