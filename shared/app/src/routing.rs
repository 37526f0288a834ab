//! The routing engine behind the [`Router`] port: [`EngineRouter`] asks
//! `voxdial_routing::RoutingEngine` (strategies, rate tables, Bayesian
//! success estimates, circuit breakers, CPS limits, caller-ID pools) and
//! keeps the statistics the summary, the API and the dashboard show
//! ([`ProviderStatsView`]).
//!
//! # Mapping the port to the engine
//!
//! | port | engine |
//! |---|---|
//! | `plan` | `plan` with a [`Destination`] prepared once per number (cached); the engine's steps are kept by (callee, provider) |
//! | `reserve` | `reserve` of the kept step (CPS tokens, the caller ID's daily cap and rotation, a half-open probe place); a refusal (a stale plan) is logged, the request still goes out |
//! | `record_setup` | `record_setup` (breaker, statistics, success estimate); drops the kept step |
//! | `cost` | the rate of the longest matching prefix applied to the billed time, or the provider's reported price (pure) |
//! | `record_call_end` | `record_call_end` (statistics, estimates, the caller ID's answer rate) |
//!
//! When no provider can take a call now but one that has a rate for it is
//! only *temporarily* unusable (an open circuit, busy half-open probes), the
//! plan is [`RoutePlan::NotBefore`] its reopening, so the lead waits instead
//! of failing; otherwise (no rate, no usable caller ID, caller IDs capped
//! for the day) a [`RoutePlan::NoRoute`] names each provider's reason.
//!
//! The campaign's caller ID, when it has one, is presented by the providers
//! whose pool holds it; the others present their pool's choice (a number
//! outside a pool is not the provider's to present).
//!
//! All state sits behind one `std` mutex, never held across an await: a
//! routing decision takes microseconds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use serde::Serialize;
use tracing::{debug, warn};
use voxdial_domain::{AgentId, E164, Money, ProviderId, ProviderStrategy, Timestamp};
use voxdial_routing::{
    BreakerState, Destination, RejectReason, RouteRequest, RoutingConfig, RoutingEngine,
    RoutingError,
};

use crate::Engine;
use crate::router::{CallEnd, Providers, RoutePlan, RouteStep, Router, SetupResult};

/// How many prepared destinations are kept (a campaign's calls in flight
/// and their retries need far fewer).
const DESTINATION_CACHE: usize = 4096;

/// The [`Router`] port over the routing engine.
pub struct EngineRouter {
    engine: Mutex<RoutingEngine>,
    /// A pristine copy that is only ever planned on, with every pool
    /// restriction lifted, so that [`Router::cost`] can read a provider's
    /// rate for a destination without touching the live state.
    pricer: RoutingEngine,
    kinds: HashMap<ProviderId, String>,
    /// The provider each AI agent uses (`agent_assigned`).
    agents: HashMap<AgentId, ProviderId>,
    /// Which provider's pool holds which caller ID.
    pools: HashSet<(ProviderId, E164)>,
    destinations: Mutex<HashMap<E164, Arc<Destination>>>,
    /// The engine's steps of the latest plan per (callee, provider), until
    /// their setup result is recorded. A number is dialled by one attempt
    /// at a time, so the key is the attempt's.
    planned: Mutex<HashMap<(E164, ProviderId), voxdial_routing::RouteStep>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    /// Plans that gave a chain or no route (a dial attempt reached routing).
    decisions: AtomicU64,
    /// Plans with no route.
    no_route: AtomicU64,
    /// Plans deferred (`NotBefore`).
    deferred: AtomicU64,
    /// Setups a provider accepted.
    accepted: AtomicU64,
    /// Setup rounds run again after a whole chain failed transiently.
    setup_retries: AtomicU64,
}

impl EngineRouter {
    /// A router over `config` (validated here); `agents` maps AI agents to
    /// the provider `agent_assigned` puts first.
    pub fn new(
        config: RoutingConfig,
        agents: HashMap<AgentId, ProviderId>,
    ) -> Result<EngineRouter, RoutingError> {
        let engine = RoutingEngine::new(config.clone())?;
        let mut pools = HashSet::new();
        let mut kinds = HashMap::new();
        for p in &config.providers {
            kinds.insert(p.id.clone(), p.kind.to_string());
            for did in &p.pool.dids {
                if let Ok(number) = E164::parse(&did.number, None) {
                    pools.insert((p.id.clone(), number));
                }
            }
        }
        for (agent, provider) in &agents {
            if !kinds.contains_key(provider) {
                return Err(RoutingError::Config {
                    provider: None,
                    field: format!("agents.{agent}"),
                    reason: format!("unknown provider `{provider}`"),
                });
            }
        }
        let pricer = RoutingEngine::new(pricing_config(config))?;
        Ok(EngineRouter {
            engine: Mutex::new(engine),
            pricer,
            kinds,
            agents,
            pools,
            destinations: Mutex::new(HashMap::new()),
            planned: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// Checks that every provider routing may choose is configured, and
    /// that every configured provider is routed.
    pub fn check_providers(&self, providers: &Providers) -> Result<(), String> {
        let mut missing: Vec<&str> = self
            .kinds
            .keys()
            .filter(|id| providers.get(id).is_none())
            .map(ProviderId::as_str)
            .collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            return Err(format!(
                "routing names providers with no account: {}",
                missing.join(", ")
            ));
        }
        let mut unrouted: Vec<&str> = providers
            .all()
            .map(|p| p.id())
            .filter(|id| !self.kinds.contains_key(*id))
            .map(ProviderId::as_str)
            .collect();
        unrouted.sort_unstable();
        if !unrouted.is_empty() {
            return Err(format!(
                "provider accounts with no routing section (no rates, no caller IDs): {}",
                unrouted.join(", ")
            ));
        }
        Ok(())
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, RoutingEngine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `to` prepared for routing, from the cache when planned before.
    fn destination(&self, to: &E164) -> Arc<Destination> {
        let mut cache = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(to) {
            return d.clone();
        }
        if cache.len() >= DESTINATION_CACHE {
            cache.clear();
        }
        let d = Arc::new(Destination::new(to));
        cache.insert(to.clone(), d.clone());
        d
    }

    /// Counts a first plan in `counter`: a retry's plan was counted once
    /// as a retry by [`Router::replan`].
    fn count(&self, retry: bool, counter: &AtomicU64) {
        if !retry {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A plan for a call to `to`; `retry` when the attempt's chain failed
    /// before (counted as a setup retry, not as another decision).
    fn route(
        &self,
        retry: bool,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        let destination = self.destination(to);
        let plan = {
            let engine = self.engine();
            let request = |at| RouteRequest {
                to: &destination,
                strategy: strategy.clone(),
                agent_provider: self.agents.get(agent),
                now: at,
            };
            let mut plan = engine.plan(&request(now));
            if let voxdial_routing::RoutePlan::Chain(steps) = &mut plan {
                append_soon_ready(&engine, steps, &request(now + FALLBACK_HORIZON), now);
            }
            plan
        };
        match plan {
            voxdial_routing::RoutePlan::Chain(steps) => {
                self.count(retry, &self.counters.decisions);
                let mut planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
                if planned.len() >= DESTINATION_CACHE {
                    // Plans never sent (duplicate messages) are forgotten.
                    planned.clear();
                }
                RoutePlan::Chain(
                    steps
                        .into_iter()
                        .map(|mut step| {
                            if let Some(number) = campaign_caller_id
                                && self
                                    .pools
                                    .contains(&(step.provider.clone(), number.clone()))
                            {
                                step.caller_id = number.clone();
                            }
                            let out = RouteStep::new(step.provider.clone(), step.caller_id.clone());
                            planned.insert((to.clone(), step.provider.clone()), step);
                            out
                        })
                        .collect(),
                )
            }
            voxdial_routing::RoutePlan::NotBefore(at) => {
                self.count(retry, &self.counters.deferred);
                RoutePlan::NotBefore(at)
            }
            voxdial_routing::RoutePlan::NoRoute(rejections) => {
                // A provider whose circuit reopens soon is worth waiting for.
                let reopening = rejections
                    .iter()
                    .filter_map(|r| match r.reason {
                        RejectReason::CircuitOpen { until }
                        | RejectReason::ProbesBusy { until } => Some(until),
                        _ => None,
                    })
                    .min();
                if let Some(at) = reopening {
                    self.count(retry, &self.counters.deferred);
                    return RoutePlan::NotBefore(at.max(now));
                }
                self.count(retry, &self.counters.decisions);
                self.count(retry, &self.counters.no_route);
                let reasons: Vec<String> = rejections
                    .iter()
                    .map(|r| format!("{}: {}", r.provider, reason_text(&r.reason)))
                    .collect();
                RoutePlan::NoRoute(if reasons.is_empty() {
                    "no telephony provider is configured".into()
                } else {
                    reasons.join("; ")
                })
            }
        }
    }

    /// The engine's statistics with the router's counters, as of `now`.
    pub fn stats_view(&self, now: Timestamp) -> ProviderStatsView {
        let engine = self.engine();
        let report = engine.stats();
        let providers = report
            .providers
            .iter()
            .map(|p| {
                let t = &p.total;
                let accepted = t.attempts - t.setup_failures;
                ProviderRow {
                    provider: p.provider.clone(),
                    kind: self.kinds.get(&p.provider).cloned().unwrap_or_default(),
                    setup_attempts: t.attempts,
                    calls: accepted,
                    setup_failures: t.setup_failures,
                    setup_success_rate: ratio(accepted, t.attempts),
                    ended: t.ended,
                    answered: t.answers,
                    answer_seizure_ratio: t.answer_seizure_ratio(),
                    average_answered_secs: t.average_answered_secs(),
                    cost_usd: t.total_cost.dollars(),
                    cost_per_call_usd: (t.ended > 0)
                        .then(|| t.total_cost.dollars() / t.ended as f64),
                    circuit: engine
                        .breaker_state(&p.provider, now)
                        .map(|b| circuit_label(&b))
                        .unwrap_or_default(),
                    prefixes: p
                        .prefixes
                        .iter()
                        .map(|row| PrefixRow {
                            prefix: row.prefix.clone(),
                            calls: row.stats.attempts - row.stats.setup_failures,
                            answer_seizure_ratio: row.stats.answer_seizure_ratio(),
                            cost_usd: row.stats.total_cost.dollars(),
                        })
                        .collect(),
                }
            })
            .collect();
        let decisions = self.counters.decisions.load(Ordering::Relaxed);
        let accepted = self.counters.accepted.load(Ordering::Relaxed);
        ProviderStatsView {
            decisions,
            placed: accepted,
            no_route: self.counters.no_route.load(Ordering::Relaxed),
            deferred: self.counters.deferred.load(Ordering::Relaxed),
            setup_retries: self.counters.setup_retries.load(Ordering::Relaxed),
            setup_success_rate: ratio(accepted, decisions),
            providers,
        }
    }
}

/// How far ahead a fallback may be ready: a provider at its calls-per-second
/// limit now but not then joins the end of the chain, since falling over
/// to it comes only after the earlier steps failed and were retried.
const FALLBACK_HORIZON: chrono::Duration = chrono::Duration::seconds(1);

/// Appends to `steps` the providers of a plan for `later` that are missing
/// from it only because they are rate limited now (their circuit is
/// closed), up to the chain's length limit. Without this, a call whose
/// only other provider just took a call would have no fallback at all.
fn append_soon_ready(
    engine: &RoutingEngine,
    steps: &mut Vec<voxdial_routing::RouteStep>,
    later: &RouteRequest<'_>,
    now: Timestamp,
) {
    let limit = engine.config().max_chain_len;
    if steps.len() >= limit {
        return;
    }
    let voxdial_routing::RoutePlan::Chain(candidates) = engine.plan(later) else {
        return;
    };
    for step in candidates {
        if steps.len() >= limit {
            break;
        }
        let closed = matches!(
            engine.breaker_state(&step.provider, now),
            Some(BreakerState::Closed { .. })
        );
        if closed && !steps.iter().any(|s| s.provider == step.provider) {
            steps.push(step);
        }
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn circuit_label(state: &BreakerState) -> String {
    match state {
        BreakerState::Closed { .. } => "closed".into(),
        BreakerState::Open { until } => format!("open until {}", until.to_rfc3339()),
        BreakerState::HalfOpen { .. } => "half-open".into(),
    }
}

/// The configuration of the pricing copy: every provider can take every
/// destination it has a rate for, with no limits in the way.
fn pricing_config(mut config: RoutingConfig) -> RoutingConfig {
    config.max_chain_len = config.providers.len().max(1);
    for p in &mut config.providers {
        p.cps = Some(10_000.0);
        p.pool.any_country_fallback = true;
        p.pool.require_local_in.clear();
        p.pool.daily_cap = None;
        p.pool.caller_id_cps = 10_000.0;
        for did in &mut p.pool.dids {
            did.daily_cap = None;
        }
    }
    config
}

/// Every provider's figures and the router's own counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProviderStatsView {
    /// Dial attempts that reached routing (a chain or no route).
    pub decisions: u64,
    /// Of those, calls some provider accepted.
    pub placed: u64,
    /// Attempts no provider could take.
    pub no_route: u64,
    /// Plans deferred because every provider was briefly unusable.
    pub deferred: u64,
    /// Setup rounds run again for an attempt whose whole chain had failed
    /// with transient errors (`EngineConfig::setup_retries`).
    pub setup_retries: u64,
    /// `placed / decisions`.
    pub setup_success_rate: Option<f64>,
    /// One row per provider, in rank order.
    pub providers: Vec<ProviderRow>,
}

/// One provider's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderRow {
    /// The provider.
    pub provider: ProviderId,
    /// Its backend (`twilio`, `sanspbx`).
    pub kind: String,
    /// Setup requests answered (after the provider's own retries).
    pub setup_attempts: u64,
    /// Calls it accepted.
    pub calls: u64,
    /// Setups it failed.
    pub setup_failures: u64,
    /// `calls / setup_attempts`.
    pub setup_success_rate: Option<f64>,
    /// Calls it placed that have ended.
    pub ended: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Answer-seizure ratio: answers per setup attempt.
    pub answer_seizure_ratio: Option<f64>,
    /// Mean talk time of answered calls.
    pub average_answered_secs: Option<f64>,
    /// What its ended calls cost.
    pub cost_usd: f64,
    /// Cost per ended call.
    pub cost_per_call_usd: Option<f64>,
    /// Its circuit breaker.
    pub circuit: String,
    /// Per destination prefix.
    pub prefixes: Vec<PrefixRow>,
}

/// One destination prefix of a provider.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrefixRow {
    /// The longest rate prefix of the numbers called (`""`: none).
    pub prefix: String,
    /// Calls accepted.
    pub calls: u64,
    /// Answers per setup attempt.
    pub answer_seizure_ratio: Option<f64>,
    /// Cost of the ended calls.
    pub cost_usd: f64,
}

fn engine_result(result: SetupResult) -> voxdial_routing::SetupResult {
    match result {
        SetupResult::Accepted => voxdial_routing::SetupResult::Accepted,
        SetupResult::Failed { transient } => voxdial_routing::SetupResult::Failed { transient },
    }
}

fn engine_end(end: &CallEnd) -> voxdial_routing::CallEnd {
    voxdial_routing::CallEnd {
        answered: end.answered,
        duration_secs: end.duration_secs,
        reported_price: end.reported_price,
    }
}

fn reason_text(reason: &RejectReason) -> String {
    match reason {
        RejectReason::NoRate => "no rate for this destination".into(),
        RejectReason::CircuitOpen { until } => {
            format!("circuit open until {}", until.to_rfc3339())
        }
        RejectReason::ProbesBusy { until } => {
            format!(
                "circuit half-open, probes busy until {}",
                until.to_rfc3339()
            )
        }
        RejectReason::NoLocalCallerId => "no caller ID allowed for this destination".into(),
        RejectReason::CallerIdsCapped { until } => {
            format!(
                "every caller ID at its daily cap until {}",
                until.to_rfc3339()
            )
        }
    }
}

impl Router for EngineRouter {
    fn plan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.route(false, to, strategy, agent, campaign_caller_id, now)
    }

    fn replan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.counters.setup_retries.fetch_add(1, Ordering::Relaxed);
        self.route(true, to, strategy, agent, campaign_caller_id, now)
    }

    fn reserve(&self, step: &RouteStep, to: &E164, now: Timestamp) {
        let kept = self
            .planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(to.clone(), step.provider.clone()))
            .filter(|kept| kept.caller_id == step.caller_id)
            .cloned();
        let Some(kept) = kept else {
            warn!(provider = %step.provider, "no plan kept for this step; not reserved");
            return;
        };
        if let Err(error) = self.engine().reserve(&kept, now) {
            // A stale plan (a retry of the same step, a race for the last
            // token): the request goes out anyway, the provider queues or
            // refuses it.
            debug!(provider = %step.provider, %error, "routing reservation refused");
        }
    }

    fn record_setup(&self, provider: &ProviderId, to: &E164, result: SetupResult, now: Timestamp) {
        if result == SetupResult::Accepted {
            self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        }
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(to.clone(), provider.clone()));
        let destination = self.destination(to);
        if let Err(error) =
            self.engine()
                .record_setup(provider, &destination, engine_result(result), now)
        {
            warn!(%provider, %error, "setup result not recorded");
        }
    }

    fn cost(&self, provider: &ProviderId, to: &E164, end: &CallEnd) -> Option<Money> {
        if let Some(price) = end.reported_price {
            return Some(price);
        }
        let destination = self.destination(to);
        let plan = self.pricer.plan(&RouteRequest {
            to: &destination,
            strategy: ProviderStrategy::Hybrid,
            agent_provider: None,
            now: DateTime::UNIX_EPOCH,
        });
        let voxdial_routing::RoutePlan::Chain(steps) = plan else {
            return None;
        };
        steps
            .iter()
            .find(|s| &s.provider == provider)
            .map(|s| s.rate.cost(end.answered, end.duration_secs))
    }

    fn record_call_end(
        &self,
        provider: &ProviderId,
        to: &E164,
        caller_id: Option<&E164>,
        end: &CallEnd,
        now: Timestamp,
    ) {
        let destination = self.destination(to);
        // A caller ID outside the pool (a campaign's own) is not counted
        // against any DID.
        let caller_id =
            caller_id.filter(|number| self.pools.contains(&(provider.clone(), (*number).clone())));
        if let Err(error) =
            self.engine()
                .record_call_end(provider, &destination, caller_id, engine_end(end), now)
        {
            warn!(%provider, %error, "call end not recorded");
        }
    }

    fn stats(&self, now: Timestamp) -> Option<ProviderStatsView> {
        Some(self.stats_view(now))
    }
}

impl Engine {
    /// Per-provider statistics (calls, setup success, answer-seizure ratio,
    /// cost), when the router keeps them.
    pub fn provider_stats(&self) -> Option<ProviderStatsView> {
        self.router.stats(self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap() + Duration::seconds(secs)
    }

    fn number(text: &str) -> E164 {
        E164::parse(text, None).unwrap()
    }

    fn pid(id: &str) -> ProviderId {
        ProviderId::parse(id).unwrap()
    }

    fn agent() -> AgentId {
        AgentId::parse("default").unwrap()
    }

    /// `a` is cheaper than `b` for US numbers; only `b` calls India.
    fn router(a_cps: f64) -> EngineRouter {
        let config = RoutingConfig::from_toml(&format!(
            r#"
            [[providers]]
            id = "a"
            kind = "twilio"
            cps = {a_cps}
            rates_csv = "1,0.010,60/60,0.001"
            breaker = {{ failure_threshold = 2, cooldown_secs = 30 }}
            pool = {{ caller_id_cps = 100, dids = [{{ number = "+12125550101" }}, {{ number = "+12125550102" }}] }}
            [[providers]]
            id = "b"
            kind = "sanspbx"
            cps = 100
            rates_csv = "1,0.020\n91,0.006"
            breaker = {{ failure_threshold = 2, cooldown_secs = 30 }}
            pool = {{ caller_id_cps = 100, any_country_fallback = true, dids = [{{ number = "+912240001234" }}] }}
            "#
        ))
        .unwrap();
        let agents = [(agent(), pid("b"))].into_iter().collect();
        EngineRouter::new(config, agents).unwrap()
    }

    fn chain(plan: RoutePlan) -> Vec<(String, String)> {
        match plan {
            RoutePlan::Chain(steps) => steps
                .into_iter()
                .map(|s| (s.provider.to_string(), s.caller_id.as_str().to_string()))
                .collect(),
            other => panic!("expected a chain, got {other:?}"),
        }
    }

    #[test]
    fn plans_follow_the_strategy_and_the_agent() {
        let r = router(100.0);
        let ny = number("+12125550199");
        let plan = |strategy| r.plan(&ny, &strategy, &agent(), None, at(0));
        let providers = |plan| -> Vec<String> { chain(plan).into_iter().map(|s| s.0).collect() };
        assert_eq!(providers(plan(ProviderStrategy::Cost)), ["a", "b"]);
        assert_eq!(providers(plan(ProviderStrategy::AgentAssigned)), ["b", "a"]);
        // India: only b has a rate.
        let mumbai = number("+919876543210");
        let plan = r.plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(0));
        assert_eq!(chain(plan), [("b".into(), "+912240001234".into())]);
        // The campaign's caller ID is used where a pool holds it.
        let own = number("+12125550102");
        let plan = r.plan(&ny, &ProviderStrategy::Cost, &agent(), Some(&own), at(0));
        assert_eq!(
            chain(plan),
            [
                ("a".into(), "+12125550102".into()),
                ("b".into(), "+912240001234".into())
            ]
        );
        let view = r.stats_view(at(0));
        assert_eq!((view.decisions, view.placed), (4, 0));
    }

    #[test]
    fn no_route_names_each_provider_s_reason() {
        let r = router(100.0);
        let london = number("+442071838750");
        let RoutePlan::NoRoute(reason) =
            r.plan(&london, &ProviderStrategy::Hybrid, &agent(), None, at(0))
        else {
            panic!()
        };
        assert_eq!(
            reason,
            "a: no rate for this destination; b: no rate for this destination"
        );
        assert_eq!(r.stats_view(at(0)).no_route, 1);
    }

    #[test]
    fn an_open_circuit_defers_instead_of_failing() {
        let r = router(100.0);
        let mumbai = number("+919876543210");
        // GIVEN b (the only provider for India) fails twice: its circuit opens
        for t in 0..2 {
            let plan = r.plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(t));
            let RoutePlan::Chain(steps) = plan else {
                panic!()
            };
            r.reserve(&steps[0], &mumbai, at(t));
            r.record_setup(
                &pid("b"),
                &mumbai,
                SetupResult::Failed { transient: true },
                at(t),
            );
        }
        // THEN the next plan waits for the cooldown rather than failing
        let plan = r.plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(2));
        assert_eq!(plan, RoutePlan::NotBefore(at(31)));
        let view = r.stats_view(at(2));
        assert!(view.providers[1].circuit.starts_with("open until"));
        assert_eq!(view.providers[1].setup_failures, 2);
        assert_eq!(view.deferred, 1);
    }

    #[test]
    fn a_provider_at_its_rate_limit_still_backs_the_chain_up() {
        // a: one call per second. After it takes a call, a plan a moment
        // later still offers a as a fallback, behind b.
        let r = router(1.0);
        let ny = number("+12125550199");
        let plan = r.plan(&ny, &ProviderStrategy::Cost, &agent(), None, at(0));
        let RoutePlan::Chain(steps) = plan else {
            panic!()
        };
        r.reserve(&steps[0], &ny, at(0));
        r.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(0));
        let other = number("+12125550198");
        let plan = r.plan(&other, &ProviderStrategy::Cost, &agent(), None, at(0));
        let providers: Vec<String> = chain(plan).into_iter().map(|s| s.0).collect();
        assert_eq!(providers, ["b", "a"]);
    }

    #[test]
    fn cost_is_pure_and_matches_what_the_end_records() {
        let r = router(100.0);
        let ny = number("+12125550199");
        let end = CallEnd {
            answered: true,
            duration_secs: 61,
            reported_price: None,
        };
        // Two billed minutes at 0.010 plus the 0.001 setup fee.
        let expected = Money(21_000);
        assert_eq!(r.cost(&pid("a"), &ny, &end), Some(expected));
        assert_eq!(r.cost(&pid("a"), &ny, &end), Some(expected));
        assert_eq!(r.stats_view(at(0)).providers[0].ended, 0);
        let reported = CallEnd {
            reported_price: Some(Money(5)),
            ..end.clone()
        };
        assert_eq!(r.cost(&pid("a"), &ny, &reported), Some(Money(5)));
        // No rate for the UK: no price.
        assert_eq!(r.cost(&pid("a"), &number("+442071838750"), &end), None);

        r.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(0));
        r.record_call_end(&pid("a"), &ny, Some(&number("+12125550101")), &end, at(60));
        let view = r.stats_view(at(60));
        let a = &view.providers[0];
        assert_eq!((a.calls, a.ended, a.answered), (1, 1, 1));
        assert!((a.cost_usd - expected.dollars()).abs() < 1e-9);
        assert_eq!(view.setup_success_rate, None);
    }

    #[test]
    fn routing_and_accounts_must_agree() {
        let r = router(100.0);
        let error = r.check_providers(&Providers::new()).unwrap_err();
        assert_eq!(error, "routing names providers with no account: a, b");
        let config = RoutingConfig::from_toml(
            r#"
            [[providers]]
            id = "a"
            kind = "twilio"
            rates_csv = "1,0.01"
            pool = { dids = [{ number = "+12125550101" }] }
            "#,
        )
        .unwrap();
        let agents = [(agent(), pid("zzz"))].into_iter().collect();
        assert!(EngineRouter::new(config, agents).is_err());
    }
}
