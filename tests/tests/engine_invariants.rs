//! Property tests of the engine's invariants (DESIGN.md §3) over random
//! interleavings: concurrent dispatches, duplicated queue deliveries,
//! duplicated, reordered and dropped status callbacks, provider rate limits,
//! outages and refusals, pauses, raised caps, and the sweeper — on the real
//! embedded store and queue, with a model carrier that counts what it sees.
//!
//! For every seed: the carrier never has more live calls of the campaign
//! than its cap, never sees an attempt dialled twice, no call releases its
//! slot twice, every lead ends final, and the campaign completes.

use proptest::prelude::*;
use voxdial_tests::world::{Scenario, World};

fn run_scenario(s: Scenario) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut world = World::new(s).await;
        world.run().await;
        world.assert_invariants().await;
    });
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
        run_scenario(Scenario { seed, cap, leads, faults });
    }
}

#[test]
fn a_large_faulty_campaign_keeps_every_invariant() {
    for seed in [1, 2, 3] {
        run_scenario(Scenario {
            seed,
            cap: 5,
            leads: 120,
            faults: true,
        });
    }
}
