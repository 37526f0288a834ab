//! The routing engine: plans, reservations, reports, state snapshots.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use voxdial_domain::{E164, Money, ProviderId, ProviderStrategy, Timestamp};

use crate::breaker::{Admit, Breaker, BreakerState, Health};
use crate::config::{Compiled, CompiledProvider, RoutingConfig};
use crate::destination::Destination;
use crate::dids::{DidState, NoDid};
use crate::error::RoutingError;
use crate::estimate::Evidence;
use crate::pacer::Pacer;
use crate::rates::{PrefixPath, Rate};
use crate::stats::{PrefixStats, ProviderStats, Stats, StatsReport};

/// One routing question: where to send a call to `to` at `now`.
#[derive(Clone, Debug)]
pub struct RouteRequest<'a> {
    /// The callee, prepared with [`Destination::new`].
    pub to: &'a Destination,
    /// The campaign's or AI agent's strategy.
    pub strategy: ProviderStrategy,
    /// The provider named by the AI agent's configuration, used first by
    /// [`ProviderStrategy::AgentAssigned`] (ignored by the other strategies).
    pub agent_provider: Option<&'a ProviderId>,
    /// The current time.
    pub now: Timestamp,
}

/// The answer to a [`RouteRequest`].
#[derive(Clone, Debug, PartialEq)]
pub enum RoutePlan {
    /// Providers to try in order: the primary, then fallbacks. Every step can
    /// be sent at `now`; none repeats a provider; at most `max_chain_len`.
    Chain(Vec<RouteStep>),
    /// No provider can take the call now, and at least one is only rate
    /// limited (account or caller-ID CPS): plan again at this instant, not
    /// before. It is the earliest instant a rate-limited provider has its
    /// tokens or an open circuit turns half-open.
    NotBefore(Timestamp),
    /// No provider can take the call and none is merely rate limited; one
    /// entry per provider saying why.
    NoRoute(Vec<Rejection>),
}

/// One provider of a [`RoutePlan::Chain`].
#[derive(Clone, Debug, PartialEq)]
pub struct RouteStep {
    /// The provider.
    pub provider: ProviderId,
    /// The caller ID to present, from the provider's pool.
    pub caller_id: E164,
    /// The rate row that prices the call (longest matching prefix).
    pub rate: Rate,
    /// The strategy's score, higher is better; comparable within one plan.
    /// `cost`: cheapest expected cost / this cost; `quality`: the success
    /// estimate; `hybrid` and `agent_assigned`: the hybrid score.
    pub score: f64,
    /// The Bayesian success (answer) estimate for this destination.
    pub success: f64,
    /// What an answered call of `hybrid.expected_call_secs` would cost.
    pub expected_cost: Money,
    /// The provider's circuit is half-open: this call is a probe.
    pub probe: bool,
    /// The DIDs the caller ID was rotated among (indices in the pool).
    cohort: Vec<u32>,
}

/// Why a provider is not in a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The provider.
    pub provider: ProviderId,
    /// The reason.
    pub reason: RejectReason,
}

/// The reason a provider cannot take a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Its rate table has no prefix of the destination.
    NoRate,
    /// Its circuit is open until the instant.
    CircuitOpen {
        /// End of the cooldown.
        until: Timestamp,
    },
    /// Its circuit is half-open and every probe place is taken.
    ProbesBusy {
        /// When the oldest probe's place times out.
        until: Timestamp,
    },
    /// Its pool has no caller ID of a country allowed for the destination.
    NoLocalCallerId,
    /// Every allowed caller ID reached its daily cap.
    CallerIdsCapped {
        /// The earliest reset.
        until: Timestamp,
    },
}

/// The result of a call setup request (the provider's answer to "place call").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupResult {
    /// The provider accepted the call.
    Accepted,
    /// The provider did not place the call. `transient`: a 5xx, a timeout, a
    /// connection error or a 429 that outlived its retries, which count
    /// toward the circuit breaker; otherwise a permanent rejection of this
    /// call (invalid number, geo permission), which does not.
    Failed {
        /// Whether the failure says something about the provider's health.
        transient: bool,
    },
}

/// How a placed call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallEnd {
    /// A person or machine picked up.
    pub answered: bool,
    /// Seconds from answer to hang-up (0 when unanswered).
    pub duration_secs: u32,
    /// The price the provider reported, when it did.
    pub reported_price: Option<Money>,
}

/// A provider's success estimate for one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct SuccessEstimate {
    /// Posterior mean success rate.
    pub rate: f64,
    /// Decayed observations behind it (0: the prior alone).
    pub evidence: f64,
    /// The prefix whose evidence was used (`""`: provider-wide).
    pub prefix: String,
}

/// The mutable state of one provider.
#[derive(Clone, Debug, Default)]
struct ProviderState {
    breaker: Breaker,
    pacer: Pacer,
    /// Success evidence per rate-table slot (slot 0: provider-wide).
    evidence: Vec<Evidence>,
    /// Statistics per longest matching prefix.
    stats: BTreeMap<String, Stats>,
}

/// The provider routing engine: configuration plus learned and counted state.
///
/// Invariants: `providers[i]` and `dids[i]` belong to
/// `compiled.providers[i]` (rank order); `providers[i].evidence` has one
/// entry per slot of that provider's rate table; `dids[i]` one per DID.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "Snapshot", try_from = "Snapshot")]
pub struct RoutingEngine {
    config: RoutingConfig,
    compiled: Compiled,
    providers: Vec<ProviderState>,
    dids: Vec<Vec<DidState>>,
}

/// The engine's state without its configuration, keyed by provider id,
/// prefix and caller-ID number so that it survives configuration changes:
/// on restore, entries for providers, prefixes or numbers no longer
/// configured are dropped (statistics rows are kept under their prefix).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    providers: BTreeMap<ProviderId, ProviderSnapshot>,
    caller_ids: BTreeMap<E164, DidState>,
}

impl EngineState {
    /// Sets a provider's breaker, CPS budget and evidence (a store's record).
    pub fn set_provider(&mut self, provider: ProviderId, record: ProviderRecord) {
        let snap = self.providers.entry(provider).or_default();
        snap.breaker = record.breaker;
        snap.pacer = record.pacer;
        snap.evidence = record.evidence;
    }

    /// Sets a provider's statistics row for `prefix`.
    pub fn set_stats(&mut self, provider: ProviderId, prefix: String, stats: Stats) {
        self.providers
            .entry(provider)
            .or_default()
            .stats
            .insert(prefix, stats);
    }

    /// Sets a caller ID's usage (a store's record).
    pub fn set_caller_id(&mut self, number: E164, record: CallerIdRecord) {
        self.caller_ids.insert(number, record.0);
    }
}

/// A provider's circuit breaker, calls-per-second budget and success
/// evidence per prefix: the part of its state a store keeps as one record,
/// changed by reservations and setup results. Opaque; serialisable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderRecord {
    breaker: BreakerState,
    pacer: Pacer,
    evidence: BTreeMap<String, Evidence>,
}

impl ProviderRecord {
    /// The stored breaker state (an open circuit whose cooldown has passed
    /// is still `Open` here; [`RoutingEngine::breaker_state`] tells the
    /// state at an instant).
    pub fn breaker(&self) -> &BreakerState {
        &self.breaker
    }
}

/// A caller ID's usage: its daily count, CPS budget, answer rate and
/// rotation weight, as a store keeps it. Opaque; serialisable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallerIdRecord(DidState);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ProviderSnapshot {
    breaker: BreakerState,
    pacer: Pacer,
    evidence: BTreeMap<String, Evidence>,
    stats: BTreeMap<String, Stats>,
}

/// What a serialised engine holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Snapshot {
    config: RoutingConfig,
    state: EngineState,
}

impl From<RoutingEngine> for Snapshot {
    fn from(engine: RoutingEngine) -> Snapshot {
        Snapshot {
            state: engine.state(),
            config: engine.config,
        }
    }
}

impl TryFrom<Snapshot> for RoutingEngine {
    type Error = RoutingError;
    fn try_from(snapshot: Snapshot) -> Result<Self, RoutingError> {
        RoutingEngine::restore(snapshot.config, snapshot.state)
    }
}

/// A provider that could take the call now.
struct Candidate {
    rank: usize,
    slot: usize,
    success: f64,
    cost: Money,
    probe: bool,
    score: f64,
}

impl RoutingEngine {
    /// Validates `config` and starts with no history: closed circuits, full
    /// buckets, prior estimates, zero statistics.
    pub fn new(config: RoutingConfig) -> Result<Self, RoutingError> {
        RoutingEngine::restore(config, EngineState::default())
    }

    /// Parses and validates a TOML configuration, then [`RoutingEngine::new`].
    pub fn from_toml(text: &str) -> Result<Self, RoutingError> {
        RoutingEngine::new(RoutingConfig::from_toml(text)?)
    }

    /// Validates `config` and resumes from a state taken with
    /// [`RoutingEngine::state`] (see [`EngineState`] for what a changed
    /// configuration keeps).
    pub fn restore(config: RoutingConfig, state: EngineState) -> Result<Self, RoutingError> {
        let compiled = Compiled::new(&config)?;
        let mut engine = RoutingEngine {
            config,
            compiled,
            providers: Vec::new(),
            dids: Vec::new(),
        };
        engine.set_state(state);
        Ok(engine)
    }

    /// Replaces every learned and counted value with `state`, keeping the
    /// configuration: what [`RoutingEngine::restore`] does without
    /// validating the configuration again (a host reloading shared state).
    pub fn set_state(&mut self, mut state: EngineState) {
        let compiled = &self.compiled;
        self.providers = Vec::with_capacity(compiled.providers.len());
        self.dids = Vec::with_capacity(compiled.providers.len());
        for p in &compiled.providers {
            let snap = state.providers.remove(&p.id).unwrap_or_default();
            let mut evidence = vec![Evidence::default(); p.table.slots()];
            for (prefix, e) in snap.evidence {
                if let Some(slot) = p.table.slot_of(&prefix) {
                    evidence[slot] = e;
                }
            }
            self.providers.push(ProviderState {
                breaker: Breaker::from_state(snap.breaker),
                pacer: snap.pacer,
                evidence,
                stats: snap.stats,
            });
            self.dids.push(
                p.pool
                    .dids
                    .iter()
                    .map(|d| state.caller_ids.remove(&d.number).unwrap_or_default())
                    .collect(),
            );
        }
    }

    /// A provider's breaker, CPS budget and success evidence, for a store.
    pub fn provider_record(&self, provider: &ProviderId) -> Result<ProviderRecord, RoutingError> {
        let rank = self.rank(provider)?;
        let p = &self.compiled.providers[rank];
        let s = &self.providers[rank];
        Ok(ProviderRecord {
            breaker: s.breaker.stored().clone(),
            pacer: s.pacer,
            evidence: evidence_by_prefix(p, &s.evidence),
        })
    }

    /// A caller ID's usage (daily count, CPS budget, answer rate, rotation
    /// weight), for a store; none for a number in no pool.
    pub fn caller_id_record(&self, number: &E164) -> Option<CallerIdRecord> {
        self.compiled
            .providers
            .iter()
            .zip(&self.dids)
            .find_map(|(p, states)| p.pool.position(number).map(|i| states[i].clone()))
            .map(CallerIdRecord)
    }

    /// The statistics row a call of `provider` to `to` counts in: the
    /// longest prefix of the provider's rate table that matches (`""`: none).
    pub fn stats_prefix(
        &self,
        provider: &ProviderId,
        to: &Destination,
    ) -> Result<&str, RoutingError> {
        let p = &self.compiled.providers[self.rank(provider)?];
        Ok(p.table.prefix(p.table.path(to.digit_values()).longest()))
    }

    /// A copy of the state, for a host to persist.
    pub fn state(&self) -> EngineState {
        let mut out = EngineState::default();
        for (rank, p) in self.compiled.providers.iter().enumerate() {
            let s = &self.providers[rank];
            out.providers.insert(
                p.id.clone(),
                ProviderSnapshot {
                    breaker: s.breaker.stored().clone(),
                    pacer: s.pacer,
                    evidence: evidence_by_prefix(p, &s.evidence),
                    stats: s.stats.clone(),
                },
            );
            for (did, st) in p.pool.dids.iter().zip(&self.dids[rank]) {
                out.caller_ids.insert(did.number.clone(), st.clone());
            }
        }
        out
    }

    /// The configuration the engine runs.
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    fn rank(&self, provider: &ProviderId) -> Result<usize, RoutingError> {
        self.compiled
            .by_id
            .get(provider)
            .copied()
            .ok_or_else(|| RoutingError::UnknownProvider(provider.clone()))
    }

    /// The provider's circuit as of `now` (none for an unknown provider).
    pub fn breaker_state(&self, provider: &ProviderId, now: Timestamp) -> Option<BreakerState> {
        let rank = self.rank(provider).ok()?;
        Some(self.providers[rank].breaker.state_at(now))
    }

    /// The provider's success estimate for `to` at `now`: the longest
    /// matching prefix with at least `min_evidence` decayed observations,
    /// else the provider-wide evidence (the prior when there is none).
    pub fn success_estimate(
        &self,
        provider: &ProviderId,
        to: &Destination,
        now: Timestamp,
    ) -> Option<SuccessEstimate> {
        let rank = self.rank(provider).ok()?;
        let path = self.compiled.providers[rank].table.path(to.digit_values());
        let (rate, evidence, slot) = self.estimate(rank, &path, now);
        Some(SuccessEstimate {
            rate,
            evidence,
            prefix: self.compiled.providers[rank].table.prefix(slot).to_owned(),
        })
    }

    fn estimate(&self, rank: usize, path: &PrefixPath, now: Timestamp) -> (f64, f64, usize) {
        let prior = &self.compiled.prior;
        let evidence = &self.providers[rank].evidence;
        for slot in path.longest_first() {
            let (mean, n) = evidence[slot].estimate(now, prior);
            if slot == 0 || n >= prior.min_evidence {
                return (mean, n, slot);
            }
        }
        (prior.mean(0.0, 0.0), 0.0, 0)
    }

    /// Plans a call. Pure: reads the state as of `req.now` and changes
    /// nothing, so planning twice costs nothing and gives the same plan.
    pub fn plan(&self, req: &RouteRequest<'_>) -> RoutePlan {
        let now = req.now;
        let c = &self.compiled;
        let mut candidates: Vec<Candidate> = Vec::with_capacity(c.providers.len());
        let mut rejected: Vec<(usize, RejectReason)> = Vec::new();
        let mut wait_until: Option<Timestamp> = None;
        let mut any_limited = false;
        for (rank, p) in c.providers.iter().enumerate() {
            let state = &self.providers[rank];
            let path = p.table.path(req.to.digit_values());
            let slot = path.longest();
            if slot == 0 {
                rejected.push((rank, RejectReason::NoRate));
                continue;
            }
            let probe = match state.breaker.admit(now, &p.breaker) {
                Admit::Yes { probe } => probe,
                Admit::Open(until) => {
                    wait_until = Some(wait_until.map_or(until, |w| w.min(until)));
                    rejected.push((rank, RejectReason::CircuitOpen { until }));
                    continue;
                }
                Admit::ProbesBusy(until) => {
                    wait_until = Some(wait_until.map_or(until, |w| w.min(until)));
                    rejected.push((rank, RejectReason::ProbesBusy { until }));
                    continue;
                }
            };
            let pick = match p.pool.select(&self.dids[rank], req.to, now, &c.prior, None) {
                Ok(pick) => pick,
                Err(NoDid::WrongCountry) => {
                    rejected.push((rank, RejectReason::NoLocalCallerId));
                    continue;
                }
                Err(NoDid::AllCapped(until)) => {
                    rejected.push((rank, RejectReason::CallerIdsCapped { until }));
                    continue;
                }
            };
            let ready_at = pick.ready_at.max(state.pacer.ready_at(now));
            if ready_at > now {
                // Rate limited: never in a `NoRoute`, which is only returned
                // when no provider is (else the plan is `NotBefore`).
                any_limited = true;
                wait_until = Some(wait_until.map_or(ready_at, |w| w.min(ready_at)));
                continue;
            }
            let (success, _, _) = self.estimate(rank, &path, now);
            let rate = p.table.rate(slot).expect("slot > 0 has a rate");
            candidates.push(Candidate {
                rank,
                slot,
                success,
                cost: rate.cost(true, c.expected_call_secs),
                probe,
                score: 0.0,
            });
        }
        if candidates.is_empty() {
            return match wait_until {
                Some(t) if any_limited => RoutePlan::NotBefore(t),
                _ => RoutePlan::NoRoute(
                    rejected
                        .into_iter()
                        .map(|(rank, reason)| Rejection {
                            provider: c.providers[rank].id.clone(),
                            reason,
                        })
                        .collect(),
                ),
            };
        }
        self.rank_candidates(&mut candidates, req);
        let steps = candidates
            .iter()
            .take(c.max_chain_len)
            .map(|cand| self.step(cand, req))
            .collect();
        RoutePlan::Chain(steps)
    }

    /// Scores and orders candidates by the request's strategy; ties go to
    /// the configured priority order.
    fn rank_candidates(&self, candidates: &mut [Candidate], req: &RouteRequest<'_>) {
        let c = &self.compiled;
        let cheapest = candidates
            .iter()
            .map(|k| k.cost.0)
            .min()
            .unwrap_or(1)
            .max(1);
        let weights = c.cost_weight + c.quality_weight;
        for k in candidates.iter_mut() {
            let cost_term = cheapest as f64 / k.cost.0.max(1) as f64;
            k.score = match req.strategy {
                ProviderStrategy::Cost => cost_term,
                ProviderStrategy::Quality => k.success,
                ProviderStrategy::Hybrid | ProviderStrategy::AgentAssigned => {
                    (c.quality_weight * k.success + c.cost_weight * cost_term) / weights
                }
            };
        }
        let by_success = |a: &Candidate, b: &Candidate| b.success.total_cmp(&a.success);
        let by_cost = |a: &Candidate, b: &Candidate| a.cost.cmp(&b.cost);
        let by_rank = |a: &Candidate, b: &Candidate| a.rank.cmp(&b.rank);
        match req.strategy {
            ProviderStrategy::Cost => {
                candidates.sort_by(|a, b| by_cost(a, b).then(by_success(a, b)).then(by_rank(a, b)))
            }
            ProviderStrategy::Quality => {
                candidates.sort_by(|a, b| by_success(a, b).then(by_cost(a, b)).then(by_rank(a, b)))
            }
            ProviderStrategy::Hybrid => {
                candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(by_rank(a, b)))
            }
            ProviderStrategy::AgentAssigned => {
                let assigned = req.agent_provider.and_then(|id| c.by_id.get(id).copied());
                candidates.sort_by(|a, b| {
                    let first = |k: &Candidate| {
                        if Some(k.rank) == assigned {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    };
                    first(a).cmp(&first(b)).then(by_rank(a, b))
                });
            }
        }
    }

    fn step(&self, cand: &Candidate, req: &RouteRequest<'_>) -> RouteStep {
        let p = &self.compiled.providers[cand.rank];
        let mut cohort = Vec::new();
        // Same inputs as in `plan`, so the same pick; this time with its cohort.
        let did = p
            .pool
            .select(
                &self.dids[cand.rank],
                req.to,
                req.now,
                &self.compiled.prior,
                Some(&mut cohort),
            )
            .map_or(0, |pick| pick.did as usize);
        RouteStep {
            provider: p.id.clone(),
            caller_id: p.pool.dids[did].number.clone(),
            rate: p
                .table
                .rate(cand.slot)
                .cloned()
                .expect("candidate slot has a rate"),
            score: cand.score,
            success: cand.success,
            expected_cost: cand.cost,
            probe: cand.probe,
            cohort,
        }
    }

    /// Commits a step when the host actually sends the request: takes the
    /// account's and the caller ID's CPS tokens, counts the caller ID's
    /// daily cap, advances its rotation and, when the circuit is half-open,
    /// takes a probe place. Fails, changing nothing, when any of that is not
    /// allowed at `now` (a stale plan).
    pub fn reserve(&mut self, step: &RouteStep, now: Timestamp) -> Result<(), RoutingError> {
        let rank = self.rank(&step.provider)?;
        let p = &self.compiled.providers[rank];
        let state = &self.providers[rank];
        match state.breaker.admit(now, &p.breaker) {
            Admit::Yes { .. } => {}
            Admit::Open(until) | Admit::ProbesBusy(until) => {
                return Err(RoutingError::CircuitOpen {
                    provider: step.provider.clone(),
                    until,
                });
            }
        }
        let did =
            p.pool
                .position(&step.caller_id)
                .ok_or_else(|| RoutingError::UnknownCallerId {
                    provider: step.provider.clone(),
                    caller_id: step.caller_id.clone(),
                })?;
        if let Some(until) = p.pool.capped_until(&self.dids[rank], did, now) {
            return Err(RoutingError::CallerIdCapped {
                caller_id: step.caller_id.clone(),
                until,
            });
        }
        let ready_at = state
            .pacer
            .ready_at(now)
            .max(self.dids[rank][did].pacer.ready_at(now));
        if ready_at > now {
            return Err(RoutingError::RateLimited {
                provider: step.provider.clone(),
                until: ready_at,
            });
        }
        let state = &mut self.providers[rank];
        state.breaker.on_reserve(now, &p.breaker);
        state.pacer.take(now, p.interval);
        p.pool.commit(
            &mut self.dids[rank],
            did,
            &step.cohort,
            now,
            &self.compiled.prior,
        );
        Ok(())
    }

    /// Reports the provider's answer to a call setup: feeds the circuit
    /// breaker, the statistics and, for a failure, the success estimate (a
    /// call that was never placed was not a success).
    pub fn record_setup(
        &mut self,
        provider: &ProviderId,
        to: &Destination,
        result: SetupResult,
        now: Timestamp,
    ) -> Result<(), RoutingError> {
        let rank = self.rank(provider)?;
        let p = &self.compiled.providers[rank];
        let path = p.table.path(to.digit_values());
        let state = &mut self.providers[rank];
        let row = stats_row(&mut state.stats, p.table.prefix(path.longest()));
        row.attempts += 1;
        let health = match result {
            SetupResult::Accepted => Health::Up,
            SetupResult::Failed { transient } => {
                row.setup_failures += 1;
                for slot in path.longest_first() {
                    state.evidence[slot].observe(false, now, &self.compiled.prior);
                }
                if transient {
                    Health::Down
                } else {
                    Health::Neutral
                }
            }
        };
        state.breaker.on_result(health, now, &p.breaker);
        Ok(())
    }

    /// Reports how a placed call ended and returns its cost: the provider's
    /// reported price when given, else the rate of the longest matching
    /// prefix applied to the billed duration, plus the setup fee for an
    /// answered call (zero when no rate matches). Feeds the statistics, the
    /// success estimate at every prefix level of the destination, and the
    /// caller ID's answer rate (its rotation weight).
    pub fn record_call_end(
        &mut self,
        provider: &ProviderId,
        to: &Destination,
        caller_id: Option<&E164>,
        end: CallEnd,
        now: Timestamp,
    ) -> Result<Money, RoutingError> {
        let rank = self.rank(provider)?;
        let p = &self.compiled.providers[rank];
        let did = match caller_id {
            None => None,
            Some(number) => {
                Some(
                    p.pool
                        .position(number)
                        .ok_or_else(|| RoutingError::UnknownCallerId {
                            provider: provider.clone(),
                            caller_id: number.clone(),
                        })?,
                )
            }
        };
        let prior = &self.compiled.prior;
        let path = p.table.path(to.digit_values());
        let slot = path.longest();
        let cost = end.reported_price.unwrap_or_else(|| {
            p.table
                .rate(slot)
                .map_or(Money::ZERO, |r| r.cost(end.answered, end.duration_secs))
        });
        let state = &mut self.providers[rank];
        let row = stats_row(&mut state.stats, p.table.prefix(slot));
        row.ended += 1;
        if end.answered {
            row.answers += 1;
            row.answered_secs += u64::from(end.duration_secs);
        }
        row.total_cost = row.total_cost + cost;
        for s in path.longest_first() {
            state.evidence[s].observe(end.answered, now, prior);
        }
        if let Some(did) = did {
            self.dids[rank][did]
                .answers
                .observe(end.answered, now, prior);
        }
        Ok(cost)
    }

    /// Statistics per provider (rank order) and per prefix.
    pub fn stats(&self) -> StatsReport {
        let providers = self
            .compiled
            .providers
            .iter()
            .zip(&self.providers)
            .map(|(p, s)| {
                let mut total = Stats::default();
                let prefixes = s
                    .stats
                    .iter()
                    .map(|(prefix, stats)| {
                        total.absorb(stats);
                        PrefixStats {
                            prefix: prefix.clone(),
                            stats: *stats,
                        }
                    })
                    .collect();
                ProviderStats {
                    provider: p.id.clone(),
                    total,
                    prefixes,
                }
            })
            .collect();
        StatsReport { providers }
    }
}

/// The evidence of a provider's rate-table slots that saw any, by prefix.
fn evidence_by_prefix(p: &CompiledProvider, evidence: &[Evidence]) -> BTreeMap<String, Evidence> {
    evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| **e != Evidence::default())
        .map(|(slot, e)| (p.table.prefix(slot).to_owned(), *e))
        .collect()
}

fn stats_row<'a>(rows: &'a mut BTreeMap<String, Stats>, prefix: &str) -> &'a mut Stats {
    if !rows.contains_key(prefix) {
        rows.insert(prefix.to_owned(), Stats::default());
    }
    rows.get_mut(prefix).expect("inserted above")
}
