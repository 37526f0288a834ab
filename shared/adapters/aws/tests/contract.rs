//! The port contract suites of `voxdial-testkit`, unchanged, against the
//! AWS adapters on the moto emulator: each case gets a fresh table, queue
//! or bucket with a unique name on this process's moto server.

use std::sync::Arc;
use std::time::Duration;

use voxdial_aws::SqsQueue;
use voxdial_domain::{DispatchMessage, MessageQueue};

use voxdial_aws::testing::Emulator;
use voxdial_testkit::queue::QUEUE_MAX_RECEIVES;
use voxdial_testkit::{AgentSubject, BlobSubject, QueueSubject, QueueTime, StoreSubject};

/// Real seconds: SQS counts delays and visibility in whole seconds, and the
/// suite waits half of this around each deadline.
const VISIBILITY: Duration = Duration::from_secs(4);

async fn store() -> StoreSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    StoreSubject::new(store)
}

async fn agents() -> AgentSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    AgentSubject::new(store)
}

async fn routing() -> voxdial_testkit::RoutingSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    voxdial_testkit::RoutingSubject::new(store)
}

async fn fleet() -> voxdial_testkit::FleetSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    voxdial_testkit::FleetSubject::new(store)
}

async fn queue() -> QueueSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let queue = moto
        .queue(&clients, VISIBILITY, QUEUE_MAX_RECEIVES)
        .await
        .expect("a fresh queue");
    // Reopening is a new client on the same queue URL: SQS keeps the messages.
    let (client, url) = (clients.sqs.clone(), queue.url().to_string());
    QueueSubject::new(queue, VISIBILITY, QueueTime::Real).with_reopen(Box::new(move || {
        let queue = SqsQueue::new(client.clone(), url.clone());
        Box::pin(async move { Arc::new(queue) as Arc<dyn MessageQueue<DispatchMessage>> })
    }))
}

async fn jobs() -> QueueSubject<voxdial_domain::Job> {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let queue = moto
        .job_queue(&clients, VISIBILITY, QUEUE_MAX_RECEIVES)
        .await
        .expect("a fresh job queue");
    QueueSubject::new(queue, VISIBILITY, QueueTime::Real)
}

async fn blobs() -> BlobSubject {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    BlobSubject::new(moto.blobs(&clients).await.expect("a fresh bucket"))
}

voxdial_testkit::store_contract!(store());
voxdial_testkit::privacy_contract!(store());
voxdial_testkit::key_contract!(store());
voxdial_testkit::ai_agent_contract!(store());
voxdial_testkit::aggregate_contract!(store());
voxdial_testkit::routing_contract!(routing());
voxdial_testkit::fleet_contract!(fleet());
voxdial_testkit::import_contract!(store());
voxdial_testkit::job_queue_contract!(jobs());
voxdial_testkit::agent_contract!(agents());
voxdial_testkit::queue_contract!(queue());
voxdial_testkit::durable_queue_contract!(queue());
voxdial_testkit::blob_contract!(blobs());
