//! Property tests over random configurations and random sequences of
//! decisions, reservations and reports on a simulated clock.
//!
//! Each case checks, against a small model written from the documented
//! rules (not from the engine's code):
//! - every plan: no provider whose circuit is open or whose probe places
//!   are taken, no caller ID that is not usable for the destination (wrong
//!   pool, wrong country, capped today), no provider twice, at most
//!   `max_chain_len` steps, the longest matching rate prefix; planning is
//!   pure; every step of a fresh plan can be reserved;
//! - the circuit breaker follows the documented state machine;
//! - over the whole run, no account and no caller ID exceeds its CPS in any
//!   one-second window;
//! - the statistics and the total cost add up exactly to the calls reported
//!   (per prefix, per provider, overall).

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use voxdial_domain::{E164, Money, ProviderId, ProviderStrategy};
use voxdial_routing::{
    BreakerConfig, BreakerState, CallEnd, Destination, DidConfig, EngineState, PoolConfig,
    ProviderConfig, ProviderKind, RateRow, RoutePlan, RouteRequest, RoutingConfig, RoutingEngine,
    SetupResult,
};

use common::at;

const DIDS: [&str; 14] = [
    "+12125550101",
    "+12125550102",
    "+12125550103",
    "+13105550101",
    "+13125550101",
    "+14165550101",
    "+15145550101",
    "+442071838750",
    "+442071838751",
    "+441612345678",
    "+912240001234",
    "+912240001235",
    "+918040001234",
    "+61291234567",
];

const PREFIXES: [&str; 12] = [
    "1", "12", "121", "1212", "1310", "1416", "44", "4420", "91", "9122", "9180", "919",
];

const DESTS: [&str; 10] = [
    "+12125550199",
    "+12125550188",
    "+13105550199",
    "+13125550199",
    "+14165550199",
    "+442071838799",
    "+447911123456",
    "+912261234567",
    "+919876543210",
    "+33142345678",
];

const INCREMENTS: [(&str, u64, u64); 3] = [("60/60", 60, 60), ("1/1", 1, 1), ("30/6", 30, 6)];
const CPS: [f64; 5] = [0.5, 1.0, 2.0, 3.0, 5.0];

#[derive(Clone, Debug)]
struct RateSpec {
    prefix: usize,
    micros: i64,
    increment: usize,
    fee_micros: i64,
}

#[derive(Clone, Debug)]
struct ProviderSpec {
    rates: Vec<RateSpec>,
    cps: usize,
    caller_cps: usize,
    cap: Option<u32>,
    fallback: bool,
    require_in: bool,
    threshold: u32,
    cooldown_secs: u32,
    probes: u32,
}

#[derive(Clone, Debug)]
struct ConfigSpec {
    providers: Vec<ProviderSpec>,
    /// Owner of each DID beyond the first `providers.len()` (which belong to
    /// provider i); `None`: unused.
    owners: Vec<Option<usize>>,
    max_chain_len: usize,
    priority: Vec<usize>,
}

fn rate_spec() -> impl Strategy<Value = Vec<RateSpec>> {
    proptest::sample::subsequence((0..PREFIXES.len()).collect::<Vec<_>>(), 1..=6).prop_flat_map(
        |prefixes| {
            let n = prefixes.len();
            (
                Just(prefixes),
                proptest::collection::vec(
                    (
                        1_000i64..50_000,
                        0usize..3,
                        prop_oneof![Just(0i64), Just(1_500i64)],
                    ),
                    n,
                ),
            )
                .prop_map(|(prefixes, rows)| {
                    prefixes
                        .into_iter()
                        .zip(rows)
                        .map(|(prefix, (micros, increment, fee_micros))| RateSpec {
                            prefix,
                            micros,
                            increment,
                            fee_micros,
                        })
                        .collect()
                })
        },
    )
}

fn provider_spec() -> impl Strategy<Value = ProviderSpec> {
    (
        rate_spec(),
        0usize..CPS.len(),
        0usize..3,
        prop_oneof![Just(None), (1u32..4).prop_map(Some)],
        any::<bool>(),
        any::<bool>(),
        1u32..4,
        1u32..20,
        1u32..3,
    )
        .prop_map(
            |(
                rates,
                cps,
                caller_cps,
                cap,
                fallback,
                require_in,
                threshold,
                cooldown_secs,
                probes,
            )| {
                ProviderSpec {
                    rates,
                    cps,
                    caller_cps,
                    cap,
                    fallback,
                    require_in,
                    threshold,
                    cooldown_secs,
                    probes,
                }
            },
        )
}

fn config_spec() -> impl Strategy<Value = ConfigSpec> {
    proptest::collection::vec(provider_spec(), 1..=5).prop_flat_map(|providers| {
        let n = providers.len();
        (
            Just(providers),
            proptest::collection::vec(proptest::option::of(0..n), DIDS.len()),
            1usize..=4,
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            0..=n,
        )
            .prop_map(|(providers, owners, max_chain_len, order, k)| ConfigSpec {
                providers,
                owners,
                max_chain_len,
                priority: order[..k].to_vec(),
            })
    })
}

fn provider_name(i: usize) -> String {
    format!("p{i}")
}

impl ConfigSpec {
    fn owner(&self, did: usize) -> Option<usize> {
        if did < self.providers.len() {
            Some(did)
        } else {
            self.owners[did]
        }
    }

    fn config(&self) -> RoutingConfig {
        let providers = self
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| ProviderConfig {
                id: ProviderId::parse(provider_name(i)).unwrap(),
                kind: if i % 2 == 0 {
                    ProviderKind::Twilio
                } else {
                    ProviderKind::Sanspbx
                },
                cps: Some(CPS[p.cps]),
                default_increment: None,
                breaker: BreakerConfig {
                    failure_threshold: p.threshold,
                    cooldown_secs: f64::from(p.cooldown_secs),
                    half_open_probes: p.probes,
                    probe_timeout_secs: 10.0,
                },
                rates: p
                    .rates
                    .iter()
                    .map(|r| RateRow {
                        prefix: PREFIXES[r.prefix].into(),
                        rate_per_min_usd: r.micros as f64 / 1e6,
                        increment: Some(INCREMENTS[r.increment].0.into()),
                        setup_fee_usd: Some(r.fee_micros as f64 / 1e6),
                    })
                    .collect(),
                rates_csv: None,
                pool: PoolConfig {
                    any_country_fallback: p.fallback,
                    require_local_in: if p.require_in {
                        vec!["IN".into()]
                    } else {
                        vec![]
                    },
                    caller_id_cps: CPS[p.caller_cps],
                    daily_cap: p.cap,
                    local_digits: 2,
                    dids: (0..DIDS.len())
                        .filter(|&d| self.owner(d) == Some(i))
                        .map(|d| DidConfig {
                            number: DIDS[d].into(),
                            labels: vec![],
                            daily_cap: None,
                        })
                        .collect(),
                },
            })
            .collect();
        RoutingConfig {
            max_chain_len: self.max_chain_len,
            priority: self
                .priority
                .iter()
                .map(|&i| ProviderId::parse(provider_name(i)).unwrap())
                .collect(),
            hybrid: Default::default(),
            estimates: Default::default(),
            providers,
        }
    }

    /// The longest configured prefix of `digits` for provider `p` (`""`: none).
    fn longest_prefix(&self, p: usize, digits: &str) -> Option<&RateSpec> {
        self.providers[p]
            .rates
            .iter()
            .filter(|r| digits.starts_with(PREFIXES[r.prefix]))
            .max_by_key(|r| PREFIXES[r.prefix].len())
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u32),
    AdvanceHours(u32),
    Plan {
        dest: usize,
        strategy: usize,
        agent: usize,
        take: usize,
    },
    Setup {
        provider: usize,
        dest: usize,
        outcome: usize,
    },
    End {
        provider: usize,
        dest: usize,
        did: Option<usize>,
        answered: bool,
        secs: u32,
        price: Option<i64>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..1_500).prop_map(Op::Advance),
        1 => (1u32..13).prop_map(Op::AdvanceHours),
        6 => (0..DESTS.len(), 0usize..4, 0usize..6, 0usize..4)
            .prop_map(|(dest, strategy, agent, take)| Op::Plan { dest, strategy, agent, take }),
        3 => (0usize..5, 0..DESTS.len(), 0usize..3)
            .prop_map(|(provider, dest, outcome)| Op::Setup { provider, dest, outcome }),
        3 => (
            0usize..5,
            0..DESTS.len(),
            proptest::option::of(0..DIDS.len()),
            any::<bool>(),
            0u32..400,
            proptest::option::of(0i64..100_000),
        )
            .prop_map(|(provider, dest, did, answered, secs, price)| Op::End {
                provider, dest, did, answered, secs, price,
            }),
    ]
}

/// The breaker as documented, for comparison.
#[derive(Clone, Debug)]
struct BreakerModel {
    state: BreakerState,
    threshold: u32,
    cooldown: Duration,
    probes: u32,
    timeout: Duration,
}

impl BreakerModel {
    fn at(&self, now: DateTime<Utc>) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if until <= now => BreakerState::HalfOpen {
                probes_in_flight: 0,
                last_probe_at: None,
            },
            ref s => s.clone(),
        }
    }

    /// Whether a call may go now, and whether as a probe.
    fn admits(&self, now: DateTime<Utc>) -> Option<bool> {
        match self.at(now) {
            BreakerState::Closed { .. } => Some(false),
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                probes_in_flight,
                last_probe_at,
            } => {
                let timed_out = last_probe_at.is_some_and(|t| t + self.timeout <= now);
                (probes_in_flight < self.probes || timed_out).then_some(true)
            }
        }
    }

    fn reserve(&mut self, now: DateTime<Utc>) {
        self.state = self.at(now);
        if let BreakerState::HalfOpen {
            probes_in_flight,
            last_probe_at,
        } = &mut self.state
        {
            if last_probe_at.is_some_and(|t| t + self.timeout <= now) {
                *probes_in_flight = 0;
            }
            *probes_in_flight += 1;
            *last_probe_at = Some(now);
        }
    }

    fn result(&mut self, outcome: usize, now: DateTime<Utc>) {
        self.state = self.at(now);
        let open = BreakerState::Open {
            until: now + self.cooldown,
        };
        self.state = match (self.state.clone(), outcome) {
            (BreakerState::Open { until }, _) => BreakerState::Open { until },
            (_, 0) => BreakerState::Closed {
                consecutive_failures: 0,
            },
            (
                BreakerState::Closed {
                    consecutive_failures,
                },
                1,
            ) => {
                if consecutive_failures + 1 >= self.threshold {
                    open
                } else {
                    BreakerState::Closed {
                        consecutive_failures: consecutive_failures + 1,
                    }
                }
            }
            (BreakerState::HalfOpen { .. }, 1) => open,
            (
                BreakerState::HalfOpen {
                    probes_in_flight,
                    last_probe_at,
                },
                _,
            ) => BreakerState::HalfOpen {
                probes_in_flight: probes_in_flight.saturating_sub(1),
                last_probe_at,
            },
            (s, _) => s,
        };
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    attempts: u64,
    failures: u64,
    ended: u64,
    answers: u64,
    secs: u64,
    cost: i64,
}

/// The local date of `t` for a caller ID (its first zone, else UTC).
fn local_day(number: &E164, t: DateTime<Utc>) -> NaiveDate {
    match number.time_zones().first() {
        Some(zone) => t.with_timezone(zone).date_naive(),
        None => t.date_naive(),
    }
}

fn strategy(i: usize) -> ProviderStrategy {
    [
        ProviderStrategy::Cost,
        ProviderStrategy::Quality,
        ProviderStrategy::Hybrid,
        ProviderStrategy::AgentAssigned,
    ][i]
        .clone()
}

fn run(spec: &ConfigSpec, ops: &[Op]) -> Result<(), TestCaseError> {
    let config = spec.config();
    let mut engine = RoutingEngine::new(config).expect("generated configs are valid");
    let n = spec.providers.len();
    let ids: Vec<ProviderId> = (0..n)
        .map(|i| ProviderId::parse(provider_name(i)).unwrap())
        .collect();
    let dests: Vec<Destination> = DESTS.iter().map(|d| common::dest(d)).collect();
    let did_numbers: Vec<E164> = DIDS.iter().map(|d| common::number(d)).collect();
    let mut breakers: Vec<BreakerModel> = spec
        .providers
        .iter()
        .map(|p| BreakerModel {
            state: BreakerState::Closed {
                consecutive_failures: 0,
            },
            threshold: p.threshold,
            cooldown: Duration::seconds(i64::from(p.cooldown_secs)),
            probes: p.probes,
            timeout: Duration::seconds(10),
        })
        .collect();
    // (provider, did, time) of every reservation.
    let mut reservations: Vec<(usize, usize, DateTime<Utc>)> = Vec::new();
    let mut counts: BTreeMap<(usize, String), Counts> = BTreeMap::new();
    let mut now = at(0);

    for op in ops {
        match *op {
            Op::Advance(ms) => now += Duration::milliseconds(i64::from(ms)),
            Op::AdvanceHours(h) => now += Duration::hours(i64::from(h)),
            Op::Plan {
                dest,
                strategy: s,
                agent,
                take,
            } => {
                let to = &dests[dest];
                let agent = (agent < n).then(|| &ids[agent]);
                let req = RouteRequest {
                    to,
                    strategy: strategy(s),
                    agent_provider: agent,
                    now,
                };
                let before = engine.state();
                let plan = engine.plan(&req);
                prop_assert_eq!(&plan, &engine.plan(&req), "planning twice differs");
                prop_assert!(engine.state() == before, "planning changed the state");
                match plan {
                    RoutePlan::Chain(steps) => {
                        prop_assert!(!steps.is_empty() && steps.len() <= spec.max_chain_len);
                        for (k, step) in steps.iter().enumerate() {
                            let p = ids.iter().position(|id| *id == step.provider).unwrap();
                            prop_assert!(
                                steps[..k].iter().all(|s| s.provider != step.provider),
                                "duplicate provider"
                            );
                            // The circuit admits it, as a probe exactly when half-open.
                            let admits = breakers[p].admits(now);
                            prop_assert_eq!(
                                admits,
                                Some(step.probe),
                                "breaker {:?}",
                                breakers[p].at(now)
                            );
                            // The rate row is the longest matching prefix.
                            let row = spec.longest_prefix(p, to.number().digits());
                            prop_assert_eq!(
                                Some(step.rate.prefix.as_str()),
                                row.map(|r| PREFIXES[r.prefix])
                            );
                            // The caller ID is the provider's, allowed for the country, not capped.
                            let d = DIDS
                                .iter()
                                .position(|x| *x == step.caller_id.as_str())
                                .unwrap();
                            prop_assert_eq!(spec.owner(d), Some(p), "caller ID of another pool");
                            let pspec = &spec.providers[p];
                            let used_today = |d: usize| {
                                reservations
                                    .iter()
                                    .filter(|(_, r, t)| {
                                        *r == d
                                            && local_day(&did_numbers[d], *t)
                                                == local_day(&did_numbers[d], now)
                                    })
                                    .count() as u32
                            };
                            let uncapped =
                                |d: usize| pspec.cap.is_none_or(|cap| used_today(d) < cap);
                            prop_assert!(uncapped(d), "capped caller ID used");
                            let dest_country = to.country();
                            let did_country = did_numbers[d].region();
                            if did_country.as_deref() != dest_country {
                                let local_usable = (0..DIDS.len()).any(|x| {
                                    spec.owner(x) == Some(p)
                                        && did_numbers[x].region().as_deref() == dest_country
                                        && uncapped(x)
                                });
                                prop_assert!(
                                    pspec.fallback
                                        && !(pspec.require_in && dest_country == Some("IN"))
                                        && !local_usable,
                                    "foreign caller ID without need or permission"
                                );
                            }
                        }
                        // The host sends the first `take` steps (primary, then fallbacks).
                        for step in steps.iter().take(take) {
                            let p = ids.iter().position(|id| *id == step.provider).unwrap();
                            let d = DIDS
                                .iter()
                                .position(|x| *x == step.caller_id.as_str())
                                .unwrap();
                            prop_assert!(engine.reserve(step, now).is_ok(), "fresh step refused");
                            breakers[p].reserve(now);
                            reservations.push((p, d, now));
                        }
                    }
                    RoutePlan::NotBefore(t) => prop_assert!(t > now),
                    RoutePlan::NoRoute(reasons) => prop_assert_eq!(reasons.len(), n),
                }
            }
            Op::Setup {
                provider,
                dest,
                outcome,
            } => {
                let p = provider % n;
                let result = match outcome {
                    0 => SetupResult::Accepted,
                    1 => SetupResult::Failed { transient: true },
                    _ => SetupResult::Failed { transient: false },
                };
                engine
                    .record_setup(&ids[p], &dests[dest], result, now)
                    .unwrap();
                breakers[p].result(outcome, now);
                let prefix = spec
                    .longest_prefix(p, dests[dest].number().digits())
                    .map_or("", |r| PREFIXES[r.prefix]);
                let c = counts.entry((p, prefix.to_owned())).or_default();
                c.attempts += 1;
                c.failures += u64::from(outcome != 0);
            }
            Op::End {
                provider,
                dest,
                did,
                answered,
                secs,
                price,
            } => {
                let p = provider % n;
                // Only the provider's own caller IDs (an unknown one is refused).
                let caller = did
                    .filter(|&d| spec.owner(d) == Some(p))
                    .map(|d| &did_numbers[d]);
                let end = CallEnd {
                    answered,
                    duration_secs: if answered { secs } else { 0 },
                    reported_price: price.map(Money),
                };
                let cost = engine
                    .record_call_end(&ids[p], &dests[dest], caller, end, now)
                    .unwrap();
                let row = spec.longest_prefix(p, dests[dest].number().digits());
                let expected = match (price, row) {
                    (Some(price), _) => price,
                    (None, _) if !answered => 0,
                    (None, None) => 0,
                    (None, Some(r)) => {
                        let (_, first, next) = INCREMENTS[r.increment];
                        let d = u64::from(end.duration_secs);
                        let billed = if d <= first {
                            first
                        } else {
                            first + (d - first).div_ceil(next) * next
                        };
                        (r.micros * billed as i64 + 30) / 60 + r.fee_micros
                    }
                };
                prop_assert_eq!(cost, Money(expected));
                let prefix = row.map_or("", |r| PREFIXES[r.prefix]);
                let c = counts.entry((p, prefix.to_owned())).or_default();
                c.ended += 1;
                c.answers += u64::from(answered);
                c.secs += u64::from(end.duration_secs);
                c.cost += expected;
            }
        }
        for p in 0..n {
            prop_assert_eq!(
                engine.breaker_state(&ids[p], now),
                Some(breakers[p].at(now))
            );
        }
    }

    // CPS: per account and per caller ID, in every one-second window.
    let check_pacing =
        |times: Vec<DateTime<Utc>>, cps: f64, what: &str| -> Result<(), TestCaseError> {
            for (i, t) in times.iter().enumerate() {
                if let Some(next) = times.get(i + 1) {
                    let gap = (*next - *t).num_nanoseconds().unwrap() as f64;
                    prop_assert!(
                        gap >= 1e9 / cps - 1.0,
                        "{} calls {}ns apart at {} CPS",
                        what,
                        gap,
                        cps
                    );
                }
                let in_window = times[i..]
                    .iter()
                    .take_while(|u| **u < *t + Duration::seconds(1))
                    .count();
                prop_assert!(
                    in_window as f64 <= cps.max(1.0),
                    "{} calls in one second on {} at {} CPS",
                    in_window,
                    what,
                    cps
                );
            }
            Ok(())
        };
    for (p, pspec) in spec.providers.iter().enumerate() {
        let times: Vec<_> = reservations
            .iter()
            .filter(|r| r.0 == p)
            .map(|r| r.2)
            .collect();
        check_pacing(times, CPS[pspec.cps], "account")?;
        for d in (0..DIDS.len()).filter(|&d| spec.owner(d) == Some(p)) {
            let times: Vec<_> = reservations
                .iter()
                .filter(|r| r.1 == d)
                .map(|r| r.2)
                .collect();
            check_pacing(times, CPS[pspec.caller_cps], DIDS[d])?;
        }
    }

    // Statistics: rows = the model, provider totals = sum of rows, all = calls made.
    let stats = engine.stats();
    prop_assert_eq!(stats.providers.len(), n);
    let mut all = Counts::default();
    for row in &stats.providers {
        let p = ids.iter().position(|id| *id == row.provider).unwrap();
        let mut sum = Counts::default();
        for prefix_row in &row.prefixes {
            let s = prefix_row.stats;
            let got = Counts {
                attempts: s.attempts,
                failures: s.setup_failures,
                ended: s.ended,
                answers: s.answers,
                secs: s.answered_secs,
                cost: s.total_cost.0,
            };
            prop_assert_eq!(
                Some(&got),
                counts.get(&(p, prefix_row.prefix.clone())),
                "row {}",
                prefix_row.prefix
            );
            sum.attempts += got.attempts;
            sum.failures += got.failures;
            sum.ended += got.ended;
            sum.answers += got.answers;
            sum.secs += got.secs;
            sum.cost += got.cost;
        }
        let model_rows = counts.keys().filter(|(q, _)| *q == p).count();
        prop_assert_eq!(row.prefixes.len(), model_rows);
        let t = row.total;
        prop_assert_eq!(
            (
                t.attempts,
                t.setup_failures,
                t.ended,
                t.answers,
                t.answered_secs,
                t.total_cost.0
            ),
            (
                sum.attempts,
                sum.failures,
                sum.ended,
                sum.answers,
                sum.secs,
                sum.cost
            )
        );
        all.attempts += sum.attempts;
        all.ended += sum.ended;
        all.cost += sum.cost;
    }
    let setups = ops.iter().filter(|o| matches!(o, Op::Setup { .. })).count() as u64;
    let ends = ops.iter().filter(|o| matches!(o, Op::End { .. })).count() as u64;
    let total = stats.total();
    prop_assert_eq!((total.attempts, total.ended), (setups, ends));
    prop_assert_eq!(
        (all.attempts, all.ended, all.cost),
        (setups, ends, total.total_cost.0)
    );

    // The state survives a round trip through JSON.
    let json = serde_json::to_string(&engine).unwrap();
    let back: RoutingEngine = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(back.stats(), stats);
    // (JSON floats may lose a last bit: compare with the state as JSON read it.)
    let reparsed: EngineState =
        serde_json::from_str(&serde_json::to_string(&engine.state()).unwrap()).unwrap();
    prop_assert_eq!(back.state(), reparsed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn plans_limits_and_statistics_hold(spec in config_spec(), ops in proptest::collection::vec(op(), 1..120)) {
        run(&spec, &ops)?;
    }
}

/// A dense burst: many decisions inside one second on a single provider
/// with integer CPS, all steps reserved as soon as a plan allows.
#[test]
fn a_burst_never_exceeds_cps() {
    for cps in [1.0, 2.0, 3.0, 5.0] {
        let spec = ConfigSpec {
            providers: vec![ProviderSpec {
                rates: vec![RateSpec {
                    prefix: 0,
                    micros: 10_000,
                    increment: 0,
                    fee_micros: 0,
                }],
                cps: CPS.iter().position(|c| *c == cps).unwrap(),
                caller_cps: 4,
                cap: None,
                fallback: false,
                require_in: false,
                threshold: 3,
                cooldown_secs: 5,
                probes: 1,
            }],
            owners: vec![Some(0); DIDS.len()],
            max_chain_len: 3,
            priority: vec![],
        };
        let mut ops = Vec::new();
        for _ in 0..400 {
            ops.push(Op::Plan {
                dest: 0,
                strategy: 2,
                agent: 5,
                take: 1,
            });
            ops.push(Op::Advance(7));
        }
        run(&spec, &ops).unwrap();
    }
}
