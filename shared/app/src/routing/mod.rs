//! The routing engine behind the [`Router`] port: [`EngineRouter`] asks
//! `voxdial_routing::RoutingEngine` (strategies, rate tables, Bayesian
//! success estimates, circuit breakers, CPS limits, caller-ID pools) and
//! keeps the statistics the summary, the API and the dashboard show
//! ([`ProviderStatsView`]). Its state lives in the shared routing store
//! ([`RoutingStateStore`]: SQLite locally, DynamoDB on AWS), so every
//! process that routes calls (each Lambda instance) shares one set of
//! breakers, CPS budgets, caller-ID caps and statistics, and a restart
//! keeps them (see `state` for what is written when and how it is read).
//!
//! # Mapping the port to the engine
//!
//! | port | engine | store |
//! |---|---|---|
//! | `plan` | `plan` with a [`Destination`] prepared once per number (cached); the engine's steps are kept by (callee, provider) | reads the cached state (reloaded when older than a second); adds to the router's counters |
//! | `reserve` | `reserve` of the kept step (CPS tokens, the caller ID's daily cap and rotation, a half-open probe place); a refusal (a stale plan) is logged, the request still goes out | conditional write of the provider's and the caller ID's records |
//! | `record_setup` | `record_setup` (breaker, statistics, success estimate); drops the kept step | conditional write of the provider's record; adds to its statistics row |
//! | `cost` | the rate of the longest matching prefix applied to the billed time, or the provider's reported price (pure) | none |
//! | `record_call_end` | `record_call_end` (statistics, estimates, the caller ID's answer rate) | conditional write of the provider's (and caller ID's) record; adds to its statistics row |
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
//! A store failure never stops a call: it is logged and the call goes on
//! with the cached state.

mod state;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::DateTime;
use serde::Serialize;
use tracing::{debug, warn};
use voxdial_domain::{
    AgentId, E164, Money, ProviderId, ProviderStrategy, RoutingAdd, RoutingKey, RoutingStateStore,
    Timestamp,
};
use voxdial_routing::{
    BreakerConfig, BreakerState, Destination, DidConfig, EstimatorConfig, HybridWeights,
    PoolConfig, ProviderConfig, ProviderKind, RateRow, RejectReason, RouteRequest, RoutingConfig,
    RoutingEngine, RoutingError,
};

use crate::Engine;
use crate::router::{CallEnd, Providers, RoutePlan, RouteStep, Router, SetupResult};
use state::{SharedEngine, caller_key, stat, stats_key};

/// How many prepared destinations are kept (a campaign's calls in flight
/// and their retries need far fewer).
const DESTINATION_CACHE: usize = 4096;

/// Names of the router's own counters.
mod count {
    /// Plans that gave a chain or no route (a dial attempt reached routing).
    pub(super) const DECISIONS: &str = "decisions";
    /// Plans with no route.
    pub(super) const NO_ROUTE: &str = "no_route";
    /// Plans deferred (`NotBefore`).
    pub(super) const DEFERRED: &str = "deferred";
    /// Setups a provider accepted.
    pub(super) const ACCEPTED: &str = "accepted";
    /// Setup rounds run again after a whole chain failed transiently.
    pub(super) const SETUP_RETRIES: &str = "setup_retries";
}

/// The [`Router`] port over the routing engine.
pub struct EngineRouter {
    engine: SharedEngine,
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
}

impl EngineRouter {
    /// A router over `config` (validated here) whose state lives in
    /// `store`; `agents` maps AI agents to the provider `agent_assigned`
    /// puts first.
    pub fn new(
        config: RoutingConfig,
        agents: HashMap<AgentId, ProviderId>,
        store: Arc<dyn RoutingStateStore>,
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
            engine: SharedEngine::new(engine, store),
            pricer,
            kinds,
            agents,
            pools,
            destinations: Mutex::new(HashMap::new()),
            planned: Mutex::new(HashMap::new()),
        })
    }

    /// The statistics row of a call of `provider` to `destination`.
    fn prefix(
        &self,
        provider: &ProviderId,
        destination: &Destination,
    ) -> Result<String, RoutingError> {
        self.engine.read(|engine, _| {
            engine
                .stats_prefix(provider, destination)
                .map(str::to_owned)
        })
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
    async fn count(&self, retry: bool, counters: &[&str]) {
        if !retry {
            let deltas: Vec<(&str, i64)> = counters.iter().map(|c| (*c, 1)).collect();
            self.engine.add(&RoutingKey::Router, &deltas).await;
        }
    }

    /// A plan for a call to `to`; `retry` when the attempt's chain failed
    /// before (counted as a setup retry, not as another decision).
    async fn route(
        &self,
        retry: bool,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        let destination = self.destination(to);
        self.engine.refresh(now).await;
        let plan = self.engine.read(|engine, _| {
            let request = |at| RouteRequest {
                to: &destination,
                strategy: strategy.clone(),
                agent_provider: self.agents.get(agent),
                now: at,
            };
            let mut plan = engine.plan(&request(now));
            if let voxdial_routing::RoutePlan::Chain(steps) = &mut plan {
                append_soon_ready(engine, steps, &request(now + FALLBACK_HORIZON), now);
            }
            plan
        });
        match plan {
            voxdial_routing::RoutePlan::Chain(steps) => {
                let chain = self.keep(to, steps, campaign_caller_id);
                self.count(retry, &[count::DECISIONS]).await;
                chain
            }
            voxdial_routing::RoutePlan::NotBefore(at) => {
                self.count(retry, &[count::DEFERRED]).await;
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
                    self.count(retry, &[count::DEFERRED]).await;
                    return RoutePlan::NotBefore(at.max(now));
                }
                self.count(retry, &[count::DECISIONS, count::NO_ROUTE])
                    .await;
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

    /// Keeps the engine's steps for their reservation and returns the
    /// port's chain, presenting the campaign's caller ID where a pool holds it.
    fn keep(
        &self,
        to: &E164,
        steps: Vec<voxdial_routing::RouteStep>,
        campaign_caller_id: Option<&E164>,
    ) -> RoutePlan {
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

    /// The engine's statistics with the router's counters, as of `now`
    /// (reloading the shared state when the copy is older than a second).
    pub async fn stats_view(&self, now: Timestamp) -> ProviderStatsView {
        self.engine.refresh(now).await;
        self.engine.read(|engine, counters| {
            let counter = |name: &str| {
                counters
                    .get(name)
                    .copied()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0)
            };
            let providers = engine
                .stats()
                .providers
                .iter()
                .map(|p| self.row(engine, p, now))
                .collect();
            let decisions = counter(count::DECISIONS);
            let accepted = counter(count::ACCEPTED);
            ProviderStatsView {
                decisions,
                placed: accepted,
                no_route: counter(count::NO_ROUTE),
                deferred: counter(count::DEFERRED),
                setup_retries: counter(count::SETUP_RETRIES),
                setup_success_rate: ratio(accepted, decisions),
                providers,
            }
        })
    }

    /// One provider's row of the view.
    fn row(
        &self,
        engine: &RoutingEngine,
        p: &voxdial_routing::ProviderStats,
        now: Timestamp,
    ) -> ProviderRow {
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
            cost_per_call_usd: (t.ended > 0).then(|| t.total_cost.dollars() / t.ended as f64),
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
    }
}

/// Checks that every provider `routing` may choose has an account in
/// `providers`, and that every account is routed.
pub fn check_accounts(routing: &RoutingConfig, providers: &Providers) -> Result<(), String> {
    let mut missing: Vec<&str> = routing
        .providers
        .iter()
        .map(|p| &p.id)
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
        .filter(|id| !routing.providers.iter().any(|p| &p.id == *id))
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

/// The routing of provider accounts that have no `[routing]` section:
/// each account presents its one caller ID (`caller_id_for`) and routes
/// every destination (a catch-all rate row per leading digit) at the
/// smallest price the engine accepts, $0.000001 a minute: unpriced, so the
/// `cost` strategy keeps the declaration order and the statistics count
/// the prices the providers report. Breakers, CPS budgets, the caller ID's
/// pacing and the statistics work as with any configuration.
pub fn unpriced_routing(
    accounts: &[(ProviderId, &str)],
    caller_id_for: impl Fn(&ProviderId) -> E164,
) -> Result<RoutingConfig, RoutingError> {
    let providers = accounts
        .iter()
        .map(|(id, kind)| ProviderConfig {
            id: id.clone(),
            kind: ProviderKind::from((*kind).to_owned()),
            cps: None,
            default_increment: None,
            breaker: BreakerConfig::default(),
            rates: (1..=9)
                .map(|digit| RateRow {
                    prefix: digit.to_string(),
                    rate_per_min_usd: 0.000_001,
                    increment: None,
                    setup_fee_usd: None,
                })
                .collect(),
            rates_csv: None,
            pool: PoolConfig {
                any_country_fallback: true,
                dids: vec![DidConfig {
                    number: caller_id_for(id).as_str().to_owned(),
                    labels: Vec::new(),
                    daily_cap: None,
                }],
                ..PoolConfig::default()
            },
        })
        .collect();
    let config = RoutingConfig {
        max_chain_len: accounts.len().max(1),
        priority: Vec::new(),
        hybrid: HybridWeights::default(),
        estimates: EstimatorConfig::default(),
        providers,
    };
    config.validate()?;
    Ok(config)
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

#[async_trait]
impl Router for EngineRouter {
    async fn plan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.route(false, to, strategy, agent, campaign_caller_id, now)
            .await
    }

    async fn replan(
        &self,
        to: &E164,
        strategy: &ProviderStrategy,
        agent: &AgentId,
        campaign_caller_id: Option<&E164>,
        now: Timestamp,
    ) -> RoutePlan {
        self.engine
            .add(&RoutingKey::Router, &[(count::SETUP_RETRIES, 1)])
            .await;
        self.route(true, to, strategy, agent, campaign_caller_id, now)
            .await
    }

    async fn reserve(&self, step: &RouteStep, to: &E164, now: Timestamp) {
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
        let touched = [
            RoutingKey::Provider(kept.provider.clone()),
            caller_key(&kept.caller_id),
        ];
        let reserved = self
            .engine
            .commit(now, &touched, &[], |engine| engine.reserve(&kept, now))
            .await;
        if let Err(error) = reserved {
            // A stale plan (a retry of the same step, a race for the last
            // token, won by another instance): the request goes out
            // anyway, the provider queues or refuses it.
            debug!(provider = %step.provider, %error, "routing reservation refused");
        }
    }

    async fn record_setup(
        &self,
        provider: &ProviderId,
        to: &E164,
        result: SetupResult,
        now: Timestamp,
    ) {
        self.planned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(to.clone(), provider.clone()));
        let destination = self.destination(to);
        let prefix = match self.prefix(provider, &destination) {
            Ok(prefix) => prefix,
            Err(error) => {
                warn!(%provider, %error, "setup result not recorded");
                return;
            }
        };
        let touched = [RoutingKey::Provider(provider.clone())];
        let failed = i64::from(result != SetupResult::Accepted);
        let attempts = [(stat::ATTEMPTS, 1), (stat::SETUP_FAILURES, failed)];
        let accepted = [(count::ACCEPTED, 1)];
        let stats = stats_key(provider, &prefix);
        let adds = [
            RoutingAdd {
                key: &stats,
                deltas: &attempts,
            },
            RoutingAdd {
                key: &RoutingKey::Router,
                deltas: &accepted,
            },
        ];
        let adds = if failed == 0 { &adds[..] } else { &adds[..1] };
        let recorded = self
            .engine
            .commit(now, &touched, adds, |engine| {
                engine.record_setup(provider, &destination, engine_result(result), now)
            })
            .await;
        if let Err(error) = recorded {
            warn!(%provider, %error, "setup result not applied to the breaker");
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

    async fn record_call_end(
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
        let prefix = match self.prefix(provider, &destination) {
            Ok(prefix) => prefix,
            Err(error) => {
                warn!(%provider, %error, "call end not recorded");
                return;
            }
        };
        let cost = self.cost(provider, to, end).unwrap_or(Money::ZERO);
        let mut touched = vec![RoutingKey::Provider(provider.clone())];
        touched.extend(caller_id.map(caller_key));
        let answered_secs = if end.answered {
            i64::from(end.duration_secs)
        } else {
            0
        };
        let ended = [
            (stat::ENDED, 1),
            (stat::ANSWERS, i64::from(end.answered)),
            (stat::ANSWERED_SECS, answered_secs),
            (stat::COST, cost.0),
        ];
        let adds = [RoutingAdd {
            key: &stats_key(provider, &prefix),
            deltas: &ended,
        }];
        let recorded = self
            .engine
            .commit(now, &touched, &adds, |engine| {
                engine.record_call_end(provider, &destination, caller_id, engine_end(end), now)
            })
            .await;
        if let Err(error) = recorded {
            warn!(%provider, %error, "call end not applied to the estimates");
        }
    }

    async fn stats(&self, now: Timestamp) -> Option<ProviderStatsView> {
        Some(self.stats_view(now).await)
    }
}

impl Engine {
    /// Per-provider statistics (calls, setup success, answer-seizure ratio,
    /// cost), when the router keeps them.
    pub async fn provider_stats(&self) -> Option<ProviderStatsView> {
        self.router.stats(self.clock.now()).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use voxdial_domain::StoreError;
    use voxdial_testkit::routing::MemoryRoutingStore;

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
        router_on(a_cps, MemoryRoutingStore::shared())
    }

    /// [`router`] whose state lives in `store`.
    fn router_on(a_cps: f64, store: Arc<dyn RoutingStateStore>) -> EngineRouter {
        let agents = [(agent(), pid("b"))].into_iter().collect();
        EngineRouter::new(config(a_cps), agents, store).unwrap()
    }

    /// `a` (`a_cps` calls a second) and `b`.
    fn config(a_cps: f64) -> RoutingConfig {
        RoutingConfig::from_toml(&format!(
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
        .unwrap()
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

    #[tokio::test]
    async fn plans_follow_the_strategy_and_the_agent() {
        let r = router(100.0);
        let ny = number("+12125550199");
        let providers = |plan| -> Vec<String> { chain(plan).into_iter().map(|s| s.0).collect() };
        for (strategy, order) in [
            (ProviderStrategy::Cost, ["a", "b"]),
            (ProviderStrategy::AgentAssigned, ["b", "a"]),
        ] {
            let plan = r.plan(&ny, &strategy, &agent(), None, at(0)).await;
            assert_eq!(providers(plan), order);
        }
        // India: only b has a rate.
        let mumbai = number("+919876543210");
        let plan = r
            .plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(0))
            .await;
        assert_eq!(chain(plan), [("b".into(), "+912240001234".into())]);
        // The campaign's caller ID is used where a pool holds it.
        let own = number("+12125550102");
        let plan = r
            .plan(&ny, &ProviderStrategy::Cost, &agent(), Some(&own), at(0))
            .await;
        assert_eq!(
            chain(plan),
            [
                ("a".into(), "+12125550102".into()),
                ("b".into(), "+912240001234".into())
            ]
        );
        let view = r.stats_view(at(0)).await;
        assert_eq!((view.decisions, view.placed), (4, 0));
    }

    #[tokio::test]
    async fn no_route_names_each_provider_s_reason() {
        let r = router(100.0);
        let london = number("+442071838750");
        let RoutePlan::NoRoute(reason) = r
            .plan(&london, &ProviderStrategy::Hybrid, &agent(), None, at(0))
            .await
        else {
            panic!()
        };
        assert_eq!(
            reason,
            "a: no rate for this destination; b: no rate for this destination"
        );
        assert_eq!(r.stats_view(at(0)).await.no_route, 1);
    }

    #[tokio::test]
    async fn an_open_circuit_defers_instead_of_failing() {
        let r = router(100.0);
        let mumbai = number("+919876543210");
        // GIVEN b (the only provider for India) fails twice: its circuit opens
        for t in 0..2 {
            let plan = r
                .plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(t))
                .await;
            let RoutePlan::Chain(steps) = plan else {
                panic!()
            };
            r.reserve(&steps[0], &mumbai, at(t)).await;
            r.record_setup(
                &pid("b"),
                &mumbai,
                SetupResult::Failed { transient: true },
                at(t),
            )
            .await;
        }
        // THEN the next plan waits for the cooldown rather than failing
        let plan = r
            .plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(2))
            .await;
        assert_eq!(plan, RoutePlan::NotBefore(at(31)));
        let view = r.stats_view(at(2)).await;
        assert!(view.providers[1].circuit.starts_with("open until"));
        assert_eq!(view.providers[1].setup_failures, 2);
        assert_eq!(view.deferred, 1);
    }

    #[tokio::test]
    async fn a_provider_at_its_rate_limit_still_backs_the_chain_up() {
        // a: one call per second. After it takes a call, a plan a moment
        // later still offers a as a fallback, behind b.
        let r = router(1.0);
        let ny = number("+12125550199");
        let plan = r
            .plan(&ny, &ProviderStrategy::Cost, &agent(), None, at(0))
            .await;
        let RoutePlan::Chain(steps) = plan else {
            panic!()
        };
        r.reserve(&steps[0], &ny, at(0)).await;
        r.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(0))
            .await;
        let other = number("+12125550198");
        let plan = r
            .plan(&other, &ProviderStrategy::Cost, &agent(), None, at(0))
            .await;
        let providers: Vec<String> = chain(plan).into_iter().map(|s| s.0).collect();
        assert_eq!(providers, ["b", "a"]);
    }

    #[tokio::test]
    async fn cost_is_pure_and_matches_what_the_end_records() {
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
        assert_eq!(r.stats_view(at(0)).await.providers[0].ended, 0);
        let reported = CallEnd {
            reported_price: Some(Money(5)),
            ..end.clone()
        };
        assert_eq!(r.cost(&pid("a"), &ny, &reported), Some(Money(5)));
        // No rate for the UK: no price.
        assert_eq!(r.cost(&pid("a"), &number("+442071838750"), &end), None);

        r.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(0))
            .await;
        r.record_call_end(&pid("a"), &ny, Some(&number("+12125550101")), &end, at(60))
            .await;
        let view = r.stats_view(at(60)).await;
        let a = &view.providers[0];
        assert_eq!((a.calls, a.ended, a.answered), (1, 1, 1));
        assert!((a.cost_usd - expected.dollars()).abs() < 1e-9);
        assert_eq!(view.setup_success_rate, None);
    }

    #[tokio::test]
    async fn routing_and_accounts_must_agree() {
        let error = check_accounts(&config(100.0), &Providers::new()).unwrap_err();
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
        assert!(EngineRouter::new(config, agents, MemoryRoutingStore::shared()).is_err());
    }

    #[tokio::test]
    async fn routers_on_one_store_share_breakers_tokens_and_statistics() {
        // GIVEN two routers on one store: two Lambda instances
        let store = MemoryRoutingStore::shared();
        let (one, two) = (router_on(1.0, store.clone()), router_on(1.0, store));
        let (ny, mumbai) = (number("+12125550199"), number("+919876543210"));
        // WHEN the first opens b's circuit and takes a's token for this second
        for t in 0..2 {
            one.record_setup(
                &pid("b"),
                &mumbai,
                SetupResult::Failed { transient: true },
                at(t),
            )
            .await;
        }
        let RoutePlan::Chain(steps) = one
            .plan(&ny, &ProviderStrategy::Cost, &agent(), None, at(2))
            .await
        else {
            panic!()
        };
        assert_eq!(steps[0].provider.as_str(), "a");
        one.reserve(&steps[0], &ny, at(2)).await;
        one.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(2))
            .await;
        // THEN the second sees the open circuit, the spent token and the figures
        let plan = two
            .plan(&mumbai, &ProviderStrategy::Hybrid, &agent(), None, at(2))
            .await;
        assert_eq!(plan, RoutePlan::NotBefore(at(31)));
        let plan = two
            .plan(&ny, &ProviderStrategy::Cost, &agent(), None, at(2))
            .await;
        assert_eq!(
            plan,
            RoutePlan::NotBefore(at(3)),
            "a took its one call of this second"
        );
        let view = two.stats_view(at(2)).await;
        assert_eq!(
            (view.providers[0].calls, view.providers[1].setup_failures),
            (1, 2)
        );
        assert_eq!((view.decisions, view.placed, view.deferred), (1, 1, 2));
        assert!(view.providers[1].circuit.starts_with("open until"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_routers_lose_no_result() {
        // GIVEN eight routers on one store, each reporting the same
        // provider's results at once (they race on its record)
        const ROUTERS: u64 = 8;
        const RESULTS: u64 = 6;
        let store = MemoryRoutingStore::shared();
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..ROUTERS {
            let r = router_on(100.0, store.clone());
            tasks.spawn(async move {
                let ny = number("+12125550199");
                for i in 0..RESULTS {
                    let result = if (k + i) % 2 == 0 {
                        SetupResult::Accepted
                    } else {
                        SetupResult::Failed { transient: false }
                    };
                    r.record_setup(&pid("a"), &ny, result, at(0)).await;
                    let end = CallEnd {
                        answered: true,
                        duration_secs: 30,
                        reported_price: None,
                    };
                    r.record_call_end(&pid("a"), &ny, Some(&number("+12125550101")), &end, at(1))
                        .await;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        // THEN a fresh router counts every one of them
        let view = router_on(100.0, store).stats_view(at(1)).await;
        let a = &view.providers[0];
        assert_eq!(a.setup_attempts, ROUTERS * RESULTS);
        assert_eq!(a.setup_failures, ROUTERS * RESULTS / 2);
        assert_eq!(
            (a.ended, a.answered),
            (ROUTERS * RESULTS, ROUTERS * RESULTS)
        );
        assert_eq!(view.placed, ROUTERS * RESULTS / 2);
    }

    /// A store whose record writes fail; counters added alone go through.
    struct RecordsDown(Arc<MemoryRoutingStore>);

    #[async_trait]
    impl RoutingStateStore for RecordsDown {
        async fn add_routing_counters(
            &self,
            key: &RoutingKey,
            deltas: &[(&str, i64)],
        ) -> Result<(), StoreError> {
            self.0.add_routing_counters(key, deltas).await
        }

        async fn put_routing_records(
            &self,
            _: &[voxdial_domain::RoutingWrite],
            _: &[RoutingAdd<'_>],
        ) -> Result<bool, StoreError> {
            Err(StoreError::unavailable(
                "records down",
                std::io::Error::other("down"),
            ))
        }

        async fn routing_state(&self) -> Result<voxdial_domain::RoutingState, StoreError> {
            self.0.routing_state().await
        }
    }

    #[tokio::test]
    async fn outcomes_are_counted_when_their_records_cannot_be_written() {
        // GIVEN a router whose record writes fail
        let memory = MemoryRoutingStore::shared();
        let r = router_on(100.0, Arc::new(RecordsDown(memory.clone())));
        let ny = number("+12125550199");
        // WHEN it reports a placed call, a failed one, and an end
        r.record_setup(&pid("a"), &ny, SetupResult::Accepted, at(0))
            .await;
        r.record_setup(
            &pid("a"),
            &ny,
            SetupResult::Failed { transient: true },
            at(0),
        )
        .await;
        let end = CallEnd {
            answered: true,
            duration_secs: 42,
            reported_price: None,
        };
        r.record_call_end(&pid("a"), &ny, None, &end, at(1)).await;
        // THEN the counters the records would have carried are stored
        let view = router_on(100.0, memory).stats_view(at(2)).await;
        let a = &view.providers[0];
        assert_eq!((a.setup_attempts, a.setup_failures), (2, 1));
        assert_eq!((a.ended, a.answered, view.placed), (1, 1, 1));
    }

    #[tokio::test]
    async fn unpriced_routing_calls_anywhere_from_each_account_s_caller_id() {
        let accounts = [(pid("twilio"), "twilio"), (pid("sanspbx"), "sanspbx")];
        let config = unpriced_routing(&accounts, |id| {
            number(if id.as_str() == "twilio" {
                "+14155550100"
            } else {
                "+912240001234"
            })
        })
        .unwrap();
        let r = EngineRouter::new(config, HashMap::new(), MemoryRoutingStore::shared()).unwrap();
        for to in ["+12125550199", "+919876543210", "+442071838750"] {
            let plan = r
                .plan(
                    &number(to),
                    &ProviderStrategy::Hybrid,
                    &agent(),
                    None,
                    at(0),
                )
                .await;
            assert_eq!(
                chain(plan),
                [
                    ("twilio".into(), "+14155550100".into()),
                    ("sanspbx".into(), "+912240001234".into())
                ],
                "{to}"
            );
        }
        // A caller ID with no country cannot be routed.
        let bad = unpriced_routing(&accounts[..1], |_| E164::from_trusted("+999").unwrap());
        assert!(bad.is_err());
    }
}
