//! The in-memory routing-state store passes the contract the real adapters pass.

use voxdial_testkit::RoutingSubject;
use voxdial_testkit::routing::MemoryRoutingStore;

async fn routing() -> RoutingSubject {
    RoutingSubject::new(MemoryRoutingStore::default())
}

voxdial_testkit::routing_contract!(routing());
