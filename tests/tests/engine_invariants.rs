//! Property tests of the engine's invariants (DESIGN.md §3) over random
//! interleavings: concurrent dispatches, duplicated queue deliveries,
//! duplicated, reordered and dropped status callbacks, provider rate limits,
//! outages and refusals, pauses, raised caps, and the sweeper — on the real
//! embedded store and queue, with a model carrier that counts what it sees.
//!
//! For every seed: the carrier never has more live calls of the campaign
//! than its cap, never sees an attempt dialled twice, no call releases its
//! slot twice, every lead ends final, and the campaign completes.
//!
//! The same properties hold on a slow backend: the store on DynamoDB (moto)
//! behind a proxy that holds each request 2–25 ms, so the concurrent
//! dispatches' conditional writes overlap as on a loaded service (the
//! embedded SQLite store serialises its transactions, where latency cannot
//! reorder anything; the dispatch queue stays the embedded one, whose delays
//! follow the test's simulated clock where SQS's follow real time).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use voxdial_aws::testing::Emulator;
use voxdial_tests::world::{Scenario, World};

#[derive(Clone, Copy)]
enum Backend {
    Embedded,
    SlowDynamo,
}

fn run_scenario(s: Scenario, backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = match backend {
            Backend::Embedded => World::new(s).await,
            Backend::SlowDynamo => {
                let moto = slow_moto();
                let (store, _) = moto.store(&moto.clients(None)).await.expect("a table");
                World::on_store(s, Arc::new(store)).await
            }
        };
        world.run().await;
        world.assert_invariants().await;
    });
}

/// This process's moto behind the slow proxy.
fn slow_moto() -> &'static Emulator {
    static SLOW: OnceLock<Emulator> = OnceLock::new();
    SLOW.get_or_init(|| {
        Emulator::get()
            .slowed(Duration::from_millis(2)..=Duration::from_millis(25), 7)
            .expect("the slow proxy")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random seeds, caps, list sizes, with and without faults.
    #[test]
    fn invariants_hold_under_random_interleavings(
        seed in any::<u64>(),
        cap in 1u32..6,
        leads in 1usize..36,
        faults in any::<bool>(),
    ) {
        run_scenario(Scenario { seed, cap, leads, faults }, Backend::Embedded);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same on the slow DynamoDB store: fewer, smaller cases (moto
    /// takes a while over each request).
    #[test]
    fn invariants_hold_on_a_slow_dynamodb_store(
        seed in any::<u64>(),
        cap in 1u32..5,
        leads in 1usize..14,
    ) {
        run_scenario(Scenario { seed, cap, leads, faults: true }, Backend::SlowDynamo);
    }
}

#[test]
fn a_large_faulty_campaign_keeps_every_invariant() {
    for seed in [1, 2, 3] {
        run_scenario(
            Scenario {
                seed,
                cap: 5,
                leads: 120,
                faults: true,
            },
            Backend::Embedded,
        );
    }
}
