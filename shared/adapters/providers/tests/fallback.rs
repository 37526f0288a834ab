//! The dispatcher over both real adapters and the simulated carrier, over
//! real HTTP: a rate limit is backed off and retried on the same provider;
//! server errors fall over to the next provider; a permanent refusal fails
//! the attempt without asking another; a wrongly signed status webhook gets
//! 403 and changes nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use voxdial_app::router::{Providers, RouteStep, Router, StaticRouter};
use voxdial_app::routing::EngineRouter;
use voxdial_app::{DispatchOutcome, Engine, EngineConfig};
use voxdial_domain::{
    CallState, CampaignAction, CampaignSettings, MessageQueue, ProviderStrategy, TelephonyProvider,
};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_providers::SansPbxProvider;
use voxdial_providers::sanspbx::{InternationalFormat, NumberRules};
use voxdial_sim::carrier::CreateFault;

struct World {
    sim: Sim,
    hooks: Hooks,
    engine: Engine,
    queue: Arc<LocalQueue>,
    _dir: tempfile::TempDir,
}

async fn world(router: impl FnOnce(&Sim) -> Arc<dyn Router>) -> World {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("voxdial.sqlite")).unwrap();
    let queue = Arc::new(
        LocalQueue::open(
            dir.path().join("queue.sqlite"),
            QueueConfig::default(),
            sim.clock.clone(),
        )
        .unwrap(),
    );
    let mut sans = sim.sanspbx_config();
    sans.numbers = NumberRules {
        international: InternationalFormat::Prefix00,
        ..NumberRules::default()
    };
    let twilio: Arc<dyn TelephonyProvider> = Arc::new(sim.twilio());
    let sanspbx: Arc<dyn TelephonyProvider> = Arc::new(SansPbxProvider::new(sans).unwrap());
    let engine = Engine::new(
        Arc::new(store),
        queue.clone(),
        Providers::new().with(twilio).with(sanspbx),
        router(&sim),
        sim.clock.clone(),
        EngineConfig {
            public_base_url: hooks.base_url.clone(),
            backoff_base: Duration::from_millis(10),
            tries_per_provider: 3,
            ..EngineConfig::default()
        },
    );
    World {
        sim,
        hooks,
        engine,
        queue,
        _dir: dir,
    }
}

fn static_router(_: &Sim) -> Arc<dyn Router> {
    Arc::new(StaticRouter::new(vec![
        RouteStep::new(pid("twilio"), number("+14155550100")),
        RouteStep::new(pid("sanspbx"), number("+912240001234")),
    ]))
}

/// Starts a one-lead campaign to `phone` and dispatches its message.
async fn dispatch_one(world: &World, phone: &str) -> DispatchOutcome {
    let settings = CampaignSettings {
        provider_strategy: ProviderStrategy::Cost,
        ..CampaignSettings::default()
    };
    let campaign = world
        .engine
        .create_campaign(&voxdial_domain::OrgId::default(), settings)
        .await
        .unwrap();
    let csv = format!("phone,name,consent\n{phone},Lead,yes\n");
    world
        .engine
        .import_csv(&campaign.id, csv.as_bytes(), None)
        .await
        .unwrap();
    world
        .engine
        .act(&campaign.id, CampaignAction::Start)
        .await
        .unwrap();
    let deliveries = world
        .queue
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    let outcome = world.engine.dispatch(&deliveries[0].message).await.unwrap();
    world.queue.ack(&deliveries[0].receipt).await.unwrap();
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_backed_off_and_retried_on_the_same_provider() {
    let world = world(static_router).await;
    world
        .sim
        .carrier
        .script_create_faults([CreateFault::RateLimited, CreateFault::RateLimited]);
    let outcome = dispatch_one(&world, "+12125550100").await;
    assert_eq!(
        outcome,
        DispatchOutcome::Placed {
            provider: pid("twilio")
        }
    );
    let stats = world.sim.carrier.stats();
    assert_eq!(stats.rate_limited, 2);
    assert_eq!(stats.by_provider["twilio"].calls_created, 1);
    assert!(!stats.by_provider.contains_key("sanspbx"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_fall_over_to_the_next_provider() {
    let world = world(static_router).await;
    world.sim.carrier.script_create_faults([
        CreateFault::ServerError,
        CreateFault::Unavailable,
        CreateFault::ServerError,
    ]);
    let outcome = dispatch_one(&world, "+12125550100").await;
    assert_eq!(
        outcome,
        DispatchOutcome::Placed {
            provider: pid("sanspbx")
        }
    );
    let stats = world.sim.carrier.stats();
    assert_eq!(stats.server_errors, 3);
    assert_eq!(stats.calls_created, 1);
    assert_eq!(stats.by_provider["sanspbx"].calls_created, 1);
    assert_eq!(stats.max_dials_per_attempt, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_the_attempt_without_fallback() {
    let world = world(static_router).await;
    world
        .sim
        .carrier
        .script_create_faults([CreateFault::InvalidNumber]);
    let outcome = dispatch_one(&world, "+12125550100").await;
    let DispatchOutcome::Failed { reason } = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert!(reason.contains("21211"), "{reason}");
    // One request, to Twilio; SansPBX was never asked.
    assert_eq!(world.sim.carrier.stats().invalid_requests, 1);
    assert_eq!(world.sim.pbx.stats().dial_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routing_engine_falls_over_and_opens_the_circuit() {
    let world = world(|_| {
        let config = voxdial_routing::RoutingConfig::from_toml(
            r#"
            [[providers]]
            id = "twilio"
            kind = "twilio"
            cps = 100
            rates_csv = "1,0.014"
            breaker = { failure_threshold = 2, cooldown_secs = 600 }
            pool = { caller_id_cps = 100, dids = [{ number = "+14155550100" }] }
            [[providers]]
            id = "sanspbx"
            kind = "sanspbx"
            cps = 100
            rates_csv = "1,0.02"
            pool = { caller_id_cps = 100, any_country_fallback = true, dids = [{ number = "+912240001234" }] }
            "#,
        )
        .unwrap();
        Arc::new(
            EngineRouter::new(
                config,
                Default::default(),
                voxdial_testkit::routing::MemoryRoutingStore::shared(),
            )
            .unwrap(),
        )
    })
    .await;
    // GIVEN Twilio (the cheaper) fails every request of two calls
    world
        .sim
        .carrier
        .script_create_faults(std::iter::repeat_n(CreateFault::Unavailable, 6));
    for n in 0..3 {
        let outcome = dispatch_one(&world, &format!("+1212555010{n}")).await;
        // THEN every call is placed through SansPBX ...
        assert_eq!(
            outcome,
            DispatchOutcome::Placed {
                provider: pid("sanspbx")
            }
        );
    }
    // ... and after the second failure Twilio's circuit is open: the third
    // call did not ask it.
    let stats = world.sim.carrier.stats();
    assert_eq!(stats.server_errors, 6);
    let view = world.engine.provider_stats().await.unwrap();
    let twilio = &view.providers[0];
    assert_eq!((twilio.setup_attempts, twilio.calls), (2, 0));
    assert!(twilio.circuit.starts_with("open"), "{}", twilio.circuit);
    assert_eq!(view.providers[1].calls, 3);
    assert_eq!(view.setup_success_rate, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_signed_status_webhook_gets_403_and_changes_nothing() {
    let world = world(static_router).await;
    let outcome = dispatch_one(&world, "+12125550100").await;
    assert!(matches!(outcome, DispatchOutcome::Placed { .. }));
    let request = loop {
        let request = world.hooks.next(20).await.expect("a callback");
        if request.public_url.contains("/status") {
            break request;
        }
    };
    let call_id = request.query_param("call_id").unwrap();
    let call_id = voxdial_domain::CallId::parse(call_id).unwrap();
    let before = world.engine.call(&call_id).await.unwrap();

    let mut forged = request.clone();
    forged.body = String::from_utf8_lossy(&forged.body)
        .replace("CallStatus=initiated", "CallStatus=completed")
        .replace("CallStatus=ringing", "CallStatus=completed")
        .into_bytes();
    let mut unsigned = request.clone();
    unsigned.headers.clear();
    for bad in [forged, unsigned] {
        let response = world
            .engine
            .handle_status_webhook(&pid("twilio"), &bad)
            .await;
        assert_eq!(response.status, 403);
    }
    let after = world.engine.call(&call_id).await.unwrap();
    assert_eq!(after, before);
    assert_ne!(after.state, CallState::Completed);

    // The genuine one is applied.
    let response = world
        .engine
        .handle_status_webhook(&pid("twilio"), &request)
        .await;
    assert_eq!(response.status, 200);
}
