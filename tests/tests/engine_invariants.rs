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
//!
//! One interleaving the random driver cannot reach is driven by hand: a
//! call that ends before its create response reaches the dispatcher.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use voxdial_app::router::{CallEnd, RoutePlan, RouteStep, Router, SetupResult, StaticRouter};
use voxdial_app::workers::handle_delivery;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    AgentId, CallId, E164, MessageQueue, Money, NewLead, ProviderId, ProviderStrategy, Timestamp,
};
use voxdial_testkit::fixtures::phone;
use voxdial_tests::model::ModelFaults;
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

/// Counts every call end the engine reports to routing.
struct CountingRouter {
    inner: StaticRouter,
    ends: Arc<Mutex<Vec<(ProviderId, CallEnd)>>>,
}

#[async_trait]
impl Router for CountingRouter {
    async fn plan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.inner.plan(to, strategy, agent, caller_id, now).await
    }

    async fn reserve(&self, step: &RouteStep, to: &E164, now: Timestamp) {
        self.inner.reserve(step, to, now).await;
    }

    async fn record_setup(
        &self,
        provider: &ProviderId,
        to: &E164,
        result: SetupResult,
        now: Timestamp,
    ) {
        self.inner.record_setup(provider, to, result, now).await;
    }

    fn cost(&self, provider: &ProviderId, to: &E164, end: &CallEnd) -> Option<Money> {
        self.inner.cost(provider, to, end)
    }

    async fn record_call_end(
        &self,
        provider: &ProviderId,
        _: &E164,
        _: Option<&E164>,
        end: &CallEnd,
        _: Timestamp,
    ) {
        self.ends
            .lock()
            .unwrap()
            .push((provider.clone(), end.clone()));
    }
}

/// One interleaving the random driver cannot reach (its carrier answers
/// every create at once): the call rings, is answered and ends before its
/// create response reaches the dispatcher, as a short call can on a loaded
/// machine. Its end is still counted once against the provider that carried
/// it, with the talk time the carrier reported (so its cost is known), and
/// the record says which number called.
#[tokio::test]
async fn a_call_that_ends_before_its_create_response_is_counted_against_its_provider() {
    let ends = Arc::new(Mutex::new(Vec::new()));
    let counted = ends.clone();
    let lead = NewLead {
        phone: phone(0),
        name: "Early".into(),
        time_zone: None,
        custom: Default::default(),
        consent: true,
    };
    let scenario = Scenario {
        seed: 3,
        cap: 1,
        leads: 1,
        faults: false,
    };
    let world = World::build_routed(
        scenario,
        vec![lead],
        &[("model", ModelFaults::default())],
        move |inner| {
            Arc::new(CountingRouter {
                inner,
                ends: counted,
            })
        },
    )
    .await;
    world.carrier.hold_responses();
    let delivery = world
        .queue
        .receive(1, Duration::ZERO)
        .await
        .unwrap()
        .pop()
        .expect("the lead's dispatch message");
    let call_id = CallId::for_attempt(&delivery.message.lead_id, delivery.message.attempt);

    let (carrier, engine) = (world.carrier.clone(), world.engine.clone());
    let whole_call_first = async move {
        while carrier.live_calls().is_empty() {
            tokio::task::yield_now().await;
        }
        let sid = carrier.live_calls().remove(0);
        while carrier.step_call(&sid) {}
        let mut talk = None;
        while let Some(event) = carrier.take_delivery() {
            if event.kind.is_terminal() {
                talk = event.duration_secs;
            }
            engine.apply_event(&event).await.unwrap();
        }
        carrier.release_responses(1);
        talk.expect("the call ended")
    };
    let (_, talk) = tokio::join!(
        handle_delivery(&world.engine, world.queue.as_ref(), delivery),
        whole_call_first
    );

    let ends = ends.lock().unwrap().clone();
    assert_eq!(ends.len(), 1, "the end is counted once: {ends:?}");
    assert_eq!(ends[0].0.as_str(), "model");
    assert_eq!(ends[0].1.duration_secs, talk);
    let call = world.engine.call(&call_id).await.unwrap();
    assert!(call.state.is_terminal(), "{call:?}");
    assert_eq!(
        call.provider.as_ref().map(ProviderId::as_str),
        Some("model")
    );
    assert_eq!(call.from, Some(E164::parse("+14155550100", None).unwrap()));
}
