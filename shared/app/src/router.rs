//! Choosing the provider (and caller ID) for a call: the port the dispatcher
//! asks. Every backend routes with the routing engine (cost, quality,
//! circuit breakers, CPS limits, DID pools) behind this trait
//! ([`crate::routing::EngineRouter`]), its state in the shared routing
//! store. [`StaticRouter`] is the deliberate fixed-order strategy for tests
//! that need a router with no state and no rates.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use voxdial_domain::{
    AgentId, E164, Money, ProviderId, ProviderStrategy, TelephonyProvider, Timestamp,
};

/// One provider to try, with the caller ID to present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteStep {
    /// The provider.
    pub provider: ProviderId,
    /// The caller ID.
    pub caller_id: E164,
}

impl RouteStep {
    /// A step of `provider` presenting `caller_id`.
    pub fn new(provider: ProviderId, caller_id: E164) -> RouteStep {
        RouteStep {
            provider,
            caller_id,
        }
    }
}

/// The routing decision for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutePlan {
    /// Try these in order until one accepts the call.
    Chain(Vec<RouteStep>),
    /// Every usable provider is at its calls-per-second limit: not before then.
    NotBefore(Timestamp),
    /// No provider can call this destination.
    NoRoute(String),
}

/// How a call-setup request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupResult {
    /// The provider accepted the call.
    Accepted,
    /// The provider failed; `transient` when another try may work.
    Failed {
        /// Outage, timeout or rate limit (as opposed to a refusal).
        transient: bool,
    },
}

/// How a placed call ended, for routing statistics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEnd {
    /// Whether anyone (or anything) answered.
    pub answered: bool,
    /// Talk time in seconds.
    pub duration_secs: u32,
    /// The price the provider reported, when it did.
    pub reported_price: Option<Money>,
}

/// Chooses providers and learns from results.
#[async_trait]
pub trait Router: Send + Sync {
    /// The providers to try for a call to `to`, for a campaign whose AI
    /// agent is `agent` (the `agent_assigned` strategy asks which provider
    /// that agent uses).
    async fn plan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan;

    /// Plans again for an attempt whose whole chain failed with transient
    /// errors (a setup round of the same attempt, not a new decision): the
    /// breakers and rate limits may have moved since. By default the same
    /// as [`Router::plan`]; a router that counts decisions counts a retry.
    async fn replan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.plan(to, strategy, agent, campaign_caller_id, now)
            .await
    }

    /// Takes the rate-limit token for a step of the plan for a call to `to`,
    /// about to be sent.
    async fn reserve(&self, step: &RouteStep, to: &E164, now: Timestamp);

    /// Records a setup result.
    async fn record_setup(
        &self,
        provider: &ProviderId,
        to: &E164,
        result: SetupResult,
        now: Timestamp,
    );

    /// What a call cost: the provider's reported price when given, else the
    /// rate for the destination times the billed time. Pure.
    fn cost(&self, provider: &ProviderId, to: &E164, end: &CallEnd) -> Option<Money>;

    /// Records the end of a placed call (once per call).
    async fn record_call_end(
        &self,
        provider: &ProviderId,
        to: &E164,
        caller_id: Option<&E164>,
        end: &CallEnd,
        now: Timestamp,
    );

    /// Per-provider statistics as of `now`, when the router keeps them.
    async fn stats(&self, _now: Timestamp) -> Option<crate::routing::ProviderStatsView> {
        None
    }
}

/// Tries providers in a fixed order, each with its default caller ID (the
/// campaign's caller ID wins when it has one). A deliberate strategy for
/// tests: no rates, no limits, no statistics (`GET /v1/providers` answers
/// `null` over it); every runtime routes with
/// [`crate::routing::EngineRouter`].
#[derive(Clone, Debug)]
pub struct StaticRouter {
    order: Vec<RouteStep>,
}

impl StaticRouter {
    /// A router over `order`.
    pub fn new(order: Vec<RouteStep>) -> StaticRouter {
        StaticRouter { order }
    }
}

#[async_trait]
impl Router for StaticRouter {
    async fn plan(
        &self,
        _to: &E164,
        _strategy: &ProviderStrategy,
        _agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        _now: Timestamp,
    ) -> RoutePlan {
        if self.order.is_empty() {
            return RoutePlan::NoRoute("no telephony provider is configured".into());
        }
        RoutePlan::Chain(
            self.order
                .iter()
                .map(|step| RouteStep {
                    provider: step.provider.clone(),
                    caller_id: campaign_caller_id
                        .cloned()
                        .unwrap_or_else(|| step.caller_id.clone()),
                })
                .collect(),
        )
    }

    async fn reserve(&self, _step: &RouteStep, _to: &E164, _now: Timestamp) {}

    async fn record_setup(&self, _: &ProviderId, _: &E164, _: SetupResult, _: Timestamp) {}

    fn cost(&self, _: &ProviderId, _: &E164, end: &CallEnd) -> Option<Money> {
        end.reported_price
    }

    async fn record_call_end(
        &self,
        _: &ProviderId,
        _: &E164,
        _: Option<&E164>,
        _: &CallEnd,
        _: Timestamp,
    ) {
    }
}

/// The configured provider accounts, by id (shared by clones: the engine
/// holding them is cloned for every request and job).
#[derive(Clone, Default)]
pub struct Providers {
    by_id: Arc<HashMap<ProviderId, Arc<dyn TelephonyProvider>>>,
}

impl Providers {
    /// An empty set.
    pub fn new() -> Providers {
        Providers::default()
    }

    /// Adds a provider under its own id.
    pub fn with(mut self, provider: Arc<dyn TelephonyProvider>) -> Providers {
        Arc::make_mut(&mut self.by_id).insert(provider.id().clone(), provider);
        self
    }

    /// A provider by id.
    pub fn get(&self, id: &ProviderId) -> Option<&Arc<dyn TelephonyProvider>> {
        self.by_id.get(id)
    }

    /// Every provider.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn TelephonyProvider>> {
        self.by_id.values()
    }

    /// Whether every provider can search its calls: then a call none of
    /// them finds was never placed.
    pub fn all_find_calls(&self) -> bool {
        self.all().all(|provider| provider.finds_calls())
    }
}
