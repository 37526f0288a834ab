//! The [`Router`] contract, on every router: the fixed-order
//! [`StaticRouter`] and the routing engine's [`EngineRouter`] (its state in
//! the test kit's in-memory routing store, which passes the routing store
//! contract like the SQLite and DynamoDB adapters).
//!
//! What the port's doc leaves open, fixed here: a plan for a callable
//! destination is a chain of configured providers, each named once, under
//! every strategy; a campaign caller ID a provider holds is presented on
//! that provider's step; a replan with nothing recorded since names the same
//! providers in the same order;
//! `cost` is pure and a reported price is the cost; and setup failures,
//! however many, never route to a provider that is not configured.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use voxdial_app::router::{CallEnd, RoutePlan, RouteStep, Router, SetupResult, StaticRouter};
use voxdial_app::routing::EngineRouter;
use voxdial_domain::{AgentId, E164, Money, ProviderId, ProviderStrategy, Timestamp};
use voxdial_routing::RoutingConfig;
use voxdial_testkit::routing::MemoryRoutingStore;

/// A router under test, the providers it was configured with, and a
/// caller ID provider `a` holds.
struct Subject {
    router: Arc<dyn Router>,
    providers: BTreeSet<String>,
    held_caller_id: E164,
}

fn number(text: &str) -> E164 {
    E164::parse(text, None).unwrap()
}

fn pid(id: &str) -> ProviderId {
    ProviderId::parse(id).unwrap()
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap()
}

fn agent() -> AgentId {
    AgentId::parse("default").unwrap()
}

/// A US number none of the routers has a special rule for.
fn callee() -> E164 {
    number("+12125550199")
}

/// A caller ID in provider `a`'s pool.
const HELD: &str = "+12125550101";

fn static_router() -> Subject {
    let order = vec![
        RouteStep::new(pid("a"), number("+12125550150")),
        RouteStep::new(pid("b"), number("+12125550151")),
    ];
    Subject {
        router: Arc::new(StaticRouter::new(order)),
        providers: ["a".into(), "b".into()].into(),
        held_caller_id: number(HELD),
    }
}

fn engine_router() -> Subject {
    let config = RoutingConfig::from_toml(&format!(
        r#"
        [[providers]]
        id = "a"
        kind = "twilio"
        cps = 100
        rates_csv = "1,0.010,60/60,0.001"
        breaker = {{ failure_threshold = 2, cooldown_secs = 30 }}
        pool = {{ caller_id_cps = 100, dids = [{{ number = "{HELD}" }}, {{ number = "+12125550102" }}] }}
        [[providers]]
        id = "b"
        kind = "sanspbx"
        cps = 100
        rates_csv = "1,0.020"
        breaker = {{ failure_threshold = 2, cooldown_secs = 30 }}
        pool = {{ caller_id_cps = 100, dids = [{{ number = "+12125550103" }}] }}
        "#
    ))
    .unwrap();
    let agents: HashMap<AgentId, ProviderId> = [(agent(), pid("b"))].into_iter().collect();
    let router = EngineRouter::new(config, agents, MemoryRoutingStore::shared()).unwrap();
    Subject {
        router: Arc::new(router),
        providers: ["a".into(), "b".into()].into(),
        held_caller_id: number(HELD),
    }
}

const STRATEGIES: [ProviderStrategy; 4] = [
    ProviderStrategy::Cost,
    ProviderStrategy::Quality,
    ProviderStrategy::Hybrid,
    ProviderStrategy::AgentAssigned,
];

fn steps(plan: RoutePlan) -> Vec<RouteStep> {
    match plan {
        RoutePlan::Chain(steps) => steps,
        other => panic!("a callable destination got {other:?}"),
    }
}

fn check_chain(s: &Subject, steps: &[RouteStep]) {
    assert!(!steps.is_empty());
    let named: Vec<String> = steps.iter().map(|st| st.provider.to_string()).collect();
    let distinct: BTreeSet<String> = named.iter().cloned().collect();
    assert_eq!(distinct.len(), named.len(), "each provider once: {named:?}");
    assert!(distinct.is_subset(&s.providers), "{named:?}");
}

async fn plans_a_chain_of_configured_providers_each_once(s: Subject) {
    for strategy in STRATEGIES {
        let plan = s
            .router
            .plan(&callee(), &strategy, &agent(), None, now())
            .await;
        check_chain(&s, &steps(plan));
    }
}

async fn presents_a_held_campaign_caller_id(s: Subject) {
    for strategy in STRATEGIES {
        let plan = s
            .router
            .plan(
                &callee(),
                &strategy,
                &agent(),
                Some(&s.held_caller_id),
                now(),
            )
            .await;
        let steps = steps(plan);
        let held = steps
            .iter()
            .filter(|step| step.provider == pid("a"))
            .collect::<Vec<_>>();
        assert_eq!(held.len(), 1, "{strategy:?}: {steps:?}");
        assert_eq!(held[0].caller_id, s.held_caller_id, "{strategy:?}");
    }
}

async fn a_replan_with_nothing_recorded_names_the_same_providers(s: Subject) {
    let strategy = ProviderStrategy::Hybrid;
    let plan = s
        .router
        .plan(&callee(), &strategy, &agent(), None, now())
        .await;
    let replan = s
        .router
        .replan(&callee(), &strategy, &agent(), None, now())
        .await;
    // The same providers in the same order (a pool may present another of
    // its caller IDs on each decision).
    let providers = |plan: RoutePlan| -> Vec<ProviderId> {
        steps(plan).into_iter().map(|st| st.provider).collect()
    };
    assert_eq!(providers(replan), providers(plan));
}

async fn cost_is_pure_and_a_reported_price_is_the_cost(s: Subject) {
    let to = callee();
    for provider in &s.providers {
        let provider = pid(provider);
        let reported = CallEnd {
            answered: true,
            duration_secs: 95,
            reported_price: Some(Money(1234)),
        };
        assert_eq!(s.router.cost(&provider, &to, &reported), Some(Money(1234)));
        let unreported = CallEnd {
            reported_price: None,
            ..reported
        };
        let first = s.router.cost(&provider, &to, &unreported);
        assert_eq!(s.router.cost(&provider, &to, &unreported), first);
    }
}

async fn setup_failures_never_route_to_an_unconfigured_provider(s: Subject) {
    let to = callee();
    let first = steps(
        s.router
            .plan(&to, &ProviderStrategy::Cost, &agent(), None, now())
            .await,
    );
    for _ in 0..5 {
        for step in &first {
            s.router.reserve(step, &to, now()).await;
            s.router
                .record_setup(
                    &step.provider,
                    &to,
                    SetupResult::Failed { transient: true },
                    now(),
                )
                .await;
        }
    }
    match s
        .router
        .plan(&to, &ProviderStrategy::Cost, &agent(), None, now())
        .await
    {
        RoutePlan::Chain(steps) => check_chain(&s, &steps),
        RoutePlan::NotBefore(at) => assert!(at > now(), "{at}"),
        RoutePlan::NoRoute(why) => assert!(!why.is_empty()),
    }
}

/// The tests of one router: one per case.
macro_rules! router_cases {
    ($router:ident; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                super::$case(super::$router()).await;
            }
        )+
    };
}

/// The contract on one router, from the one list of cases.
macro_rules! router_contract {
    ($router:ident) => {
        mod $router {
            router_cases!($router;
                plans_a_chain_of_configured_providers_each_once,
                presents_a_held_campaign_caller_id,
                a_replan_with_nothing_recorded_names_the_same_providers,
                cost_is_pure_and_a_reported_price_is_the_cost,
                setup_failures_never_route_to_an_unconfigured_provider,
            );
        }
    };
}

router_contract!(static_router);
router_contract!(engine_router);
