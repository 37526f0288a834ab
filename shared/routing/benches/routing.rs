//! Routing decision cost: 10 providers x 1,000 rate prefixes each, random
//! destinations across ten countries, some history fed in so estimates and
//! caller-ID weights are non-trivial. Target: < 5 us per `plan`.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use voxdial_domain::{E164, Money, ProviderId, ProviderStrategy};
use voxdial_routing::{
    CallEnd, Destination, DidConfig, PoolConfig, ProviderConfig, ProviderKind, RateRow,
    RouteRequest, RoutingConfig, RoutingEngine, SetupResult,
};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

const COUNTRY_CODES: [&str; 10] = ["1", "44", "91", "49", "33", "61", "81", "55", "52", "34"];

fn valid(text: &str) -> Option<E164> {
    E164::parse(text, None)
        .ok()
        .filter(|n| n.region().is_some())
}

fn config(rng: &mut Rng) -> RoutingConfig {
    let providers = (0..10)
        .map(|p| {
            let mut seen = HashSet::new();
            let mut rates = Vec::new();
            for cc in COUNTRY_CODES {
                seen.insert(cc.to_owned());
                rates.push(row(rng, cc.to_owned()));
            }
            while rates.len() < 1_000 {
                let cc = COUNTRY_CODES[rng.below(10) as usize];
                let extra = 1 + rng.below(5) as usize;
                let prefix = format!("{cc}{}", rng.digits(extra));
                if seen.insert(prefix.clone()) {
                    rates.push(row(rng, prefix));
                }
            }
            let candidates = [
                format!("+1212555{:04}", 100 + p * 10 + 1),
                format!("+1310555{:04}", 100 + p * 10 + 2),
                format!("+1312555{:04}", 100 + p * 10 + 3),
                format!("+44207183{:04}", p * 10 + 4),
                format!("+9122400{:05}", p * 10 + 5),
                format!("+9180400{:05}", p * 10 + 6),
            ];
            let dids = candidates
                .iter()
                .filter(|n| valid(n).is_some())
                .map(|n| DidConfig {
                    number: n.clone(),
                    labels: vec![],
                    daily_cap: Some(1_000),
                })
                .collect();
            ProviderConfig {
                id: ProviderId::parse(format!("provider-{p}")).unwrap(),
                kind: if p % 2 == 0 {
                    ProviderKind::Twilio
                } else {
                    ProviderKind::Sanspbx
                },
                cps: Some(5.0),
                default_increment: None,
                breaker: Default::default(),
                rates,
                rates_csv: None,
                pool: PoolConfig {
                    any_country_fallback: p % 3 == 0,
                    require_local_in: vec!["IN".into()],
                    dids,
                    ..PoolConfig::default()
                },
            }
        })
        .collect();
    RoutingConfig {
        max_chain_len: 3,
        priority: vec![],
        hybrid: Default::default(),
        estimates: Default::default(),
        providers,
    }
}

fn row(rng: &mut Rng, prefix: String) -> RateRow {
    RateRow {
        prefix,
        rate_per_min_usd: (1 + rng.below(500)) as f64 / 10_000.0,
        increment: Some(["60/60", "1/1", "30/6"][rng.below(3) as usize].into()),
        setup_fee_usd: None,
    }
}

fn destinations(rng: &mut Rng, n: usize) -> Vec<Destination> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let text = match rng.below(4) {
            0 => {
                let area = 2 + rng.below(8);
                format!("+1{area}{}", rng.digits(9))
            }
            1 => format!("+4420{}", rng.digits(8)),
            2 => {
                let first = 6 + rng.below(4);
                format!("+91{first}{}", rng.digits(9))
            }
            _ => {
                let cc = COUNTRY_CODES[rng.below(10) as usize];
                format!("+{cc}{}", rng.digits(9))
            }
        };
        if let Some(number) = valid(&text) {
            out.push(Destination::new(&number));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut engine = RoutingEngine::new(config(&mut rng)).expect("valid bench config");
    let dests = destinations(&mut rng, 1_000);
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
    // History: 20,000 reported calls spread over providers and destinations.
    let ids: Vec<ProviderId> = (0..10)
        .map(|p| ProviderId::parse(format!("provider-{p}")).unwrap())
        .collect();
    for k in 0..20_000u64 {
        let p = &ids[rng.below(10) as usize];
        let to = &dests[rng.below(dests.len() as u64) as usize];
        let t = now - chrono::Duration::seconds(rng.below(7 * 86_400) as i64);
        engine
            .record_setup(p, to, SetupResult::Accepted, t)
            .unwrap();
        let end = CallEnd {
            answered: !k.is_multiple_of(3),
            duration_secs: rng.below(300) as u32,
            reported_price: k.is_multiple_of(5).then_some(Money(12_345)),
        };
        engine.record_call_end(p, to, None, end, t).unwrap();
    }

    let strategies = [
        ProviderStrategy::Hybrid,
        ProviderStrategy::Cost,
        ProviderStrategy::Quality,
    ];
    let mut group = c.benchmark_group("routing");
    let mut i = 0usize;
    group.bench_function("plan_hybrid_10x1000", |b| {
        b.iter(|| {
            i = (i + 1) % dests.len();
            let req = RouteRequest {
                to: &dests[i],
                strategy: ProviderStrategy::Hybrid,
                agent_provider: None,
                now,
            };
            black_box(engine.plan(black_box(&req)))
        })
    });
    let mut j = 0usize;
    group.bench_function("plan_mixed_strategies_10x1000", |b| {
        b.iter(|| {
            j = (j + 1) % dests.len();
            let req = RouteRequest {
                to: &dests[j],
                strategy: strategies[j % 3].clone(),
                agent_provider: None,
                now,
            };
            black_box(engine.plan(black_box(&req)))
        })
    });
    let numbers: Vec<E164> = dests.iter().map(|d| d.number().clone()).collect();
    let mut k = 0usize;
    group.bench_function("destination_new", |b| {
        b.iter(|| {
            k = (k + 1) % numbers.len();
            black_box(Destination::new(black_box(&numbers[k])))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
