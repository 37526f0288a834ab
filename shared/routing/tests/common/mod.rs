//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use voxdial_domain::{E164, ProviderId, ProviderStrategy};
use voxdial_routing::{Destination, RoutePlan, RouteRequest, RouteStep, RoutingEngine};

/// An instant on the simulated clock: `secs` after 2026-03-02 15:00 UTC
/// (10:00 in New York, 20:30 in Mumbai).
pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap() + Duration::seconds(secs)
}

pub fn number(text: &str) -> E164 {
    E164::parse(text, None).unwrap()
}

pub fn dest(text: &str) -> Destination {
    Destination::new(&number(text))
}

pub fn pid(id: &str) -> ProviderId {
    ProviderId::parse(id).unwrap()
}

/// Plans with `strategy` and no agent provider.
pub fn plan(
    engine: &RoutingEngine,
    to: &Destination,
    strategy: ProviderStrategy,
    now: DateTime<Utc>,
) -> RoutePlan {
    engine.plan(&RouteRequest {
        to,
        strategy,
        agent_provider: None,
        now,
    })
}

/// The chain's steps, panicking on any other plan.
pub fn chain(plan: RoutePlan) -> Vec<RouteStep> {
    match plan {
        RoutePlan::Chain(steps) => steps,
        other => panic!("expected a chain, got {other:?}"),
    }
}

/// The chain's provider ids.
pub fn providers(plan: RoutePlan) -> Vec<String> {
    chain(plan)
        .into_iter()
        .map(|s| s.provider.as_str().to_owned())
        .collect()
}

/// A provider section with US rates and New York DIDs.
pub fn us_provider(id: &str, rate_1: &str, extra: &str, dids: &[&str]) -> String {
    let mut s = format!(
        "[[providers]]\nid = \"{id}\"\nkind = \"twilio\"\ncps = 100\n{extra}\n\
         [[providers.rates]]\nprefix = \"1\"\nrate_per_min_usd = {rate_1}\n\
         [providers.pool]\ncaller_id_cps = 100\n"
    );
    for d in dids {
        s.push_str(&format!("[[providers.pool.dids]]\nnumber = \"{d}\"\n"));
    }
    s
}
