//! Scenario: provider A fails every setup for a while. Its circuit opens,
//! traffic moves to B, probes test A after each cooldown, and when A is
//! healthy again traffic returns to it as the strategy says.

mod common;

use common::*;
use voxdial_domain::{ProviderStrategy, Timestamp};
use voxdial_routing::{BreakerState, CallEnd, RejectReason, RoutePlan, RoutingEngine, SetupResult};

/// One attempt on one provider.
#[derive(Debug, Clone, PartialEq)]
struct Attempt {
    t: i64,
    provider: String,
    probe: bool,
    accepted: bool,
}

const OUTAGE: std::ops::Range<i64> = 100..200;

fn engine() -> RoutingEngine {
    let a = us_provider(
        "a",
        "0.010",
        "[providers.breaker]\nfailure_threshold = 5\ncooldown_secs = 30\nhalf_open_probes = 1",
        &["+12125550101"],
    )
    .replacen("cps = 100", "cps = 1", 1);
    let b = us_provider("b", "0.020", "", &["+12125550102"]).replacen("cps = 100", "cps = 1", 1);
    RoutingEngine::from_toml(&format!("{a}\n{b}")).unwrap()
}

/// The host: plans, then walks the chain, reserving each step before
/// "sending" it; A is down during the outage, B always up. Returns the
/// attempts made for this call.
fn dial(engine: &mut RoutingEngine, t: i64, n: u32) -> Vec<Attempt> {
    let ny = dest("+12125550199");
    let now: Timestamp = at(t);
    let steps = chain(plan(engine, &ny, ProviderStrategy::Hybrid, now));
    let mut attempts = Vec::new();
    for step in steps {
        engine
            .reserve(&step, now)
            .expect("a fresh plan's step reserves");
        let up = !(step.provider.as_str() == "a" && OUTAGE.contains(&t));
        if step.probe {
            // While the probe is in flight, A takes no other call.
            let again = chain(plan(engine, &ny, ProviderStrategy::Hybrid, now));
            assert!(again.iter().all(|s| s.provider.as_str() != "a"), "t={t}");
        }
        let result = if up {
            SetupResult::Accepted
        } else {
            SetupResult::Failed { transient: true }
        };
        engine
            .record_setup(&step.provider, &ny, result, now)
            .unwrap();
        attempts.push(Attempt {
            t,
            provider: step.provider.as_str().to_owned(),
            probe: step.probe,
            accepted: up,
        });
        if up {
            let end = CallEnd {
                answered: !n.is_multiple_of(3),
                duration_secs: 40,
                reported_price: None,
            };
            engine
                .record_call_end(&step.provider, &ny, Some(&step.caller_id), end, now)
                .unwrap();
            break;
        }
    }
    attempts
}

#[test]
fn outage_opens_the_circuit_probes_recover_and_traffic_returns() {
    let mut engine = engine();
    let a = pid("a");
    let mut log: Vec<Attempt> = Vec::new();
    let mut placed_on: Vec<(i64, String)> = Vec::new();
    for (n, t) in (0..400).step_by(2).enumerate() {
        let attempts = dial(&mut engine, t, n as u32);
        let last = attempts.last().expect("every call has a route");
        assert!(
            last.accepted,
            "B is always up: every call is placed (t={t})"
        );
        placed_on.push((t, last.provider.clone()));
        log.extend(attempts);
        if t == 108 {
            // THEN the fifth consecutive failure opened A's circuit.
            assert_eq!(
                engine.breaker_state(&a, at(t)),
                Some(BreakerState::Open { until: at(138) })
            );
        }
        if (110..138).contains(&t) {
            // WHILE open, plans leave A out (one second later: B just took
            // a call and its 1 CPS is spent for this second).
            let ny = dest("+12125550199");
            let plan = plan(&engine, &ny, ProviderStrategy::Hybrid, at(t + 1));
            let RoutePlan::Chain(steps) = plan else {
                panic!("{plan:?}")
            };
            assert!(steps.iter().all(|s| s.provider != a));
        }
    }

    // GIVEN A healthy, every call before the outage went to A.
    assert!(
        placed_on
            .iter()
            .filter(|(t, _)| *t < 100)
            .all(|(_, p)| p == "a")
    );

    // WHEN A fails: the first five calls of the outage try A, fail, and
    // fall back to B in the same dial.
    let on_a: Vec<&Attempt> = log
        .iter()
        .filter(|x| x.provider == "a" && OUTAGE.contains(&x.t))
        .collect();
    let first_five: Vec<i64> = on_a.iter().take(5).map(|x| x.t).collect();
    assert_eq!(first_five, [100, 102, 104, 106, 108]);
    assert!(on_a.iter().take(5).all(|x| !x.accepted && !x.probe));

    // THEN after the circuit opens A only sees one probe per cooldown: at
    // 138, 168 and 198 (each failing and re-opening it) ...
    let probes: Vec<(i64, bool)> = log
        .iter()
        .filter(|x| x.provider == "a" && x.probe)
        .map(|x| (x.t, x.accepted))
        .collect();
    // ... and at 228, A is healthy: the probe succeeds and closes the circuit.
    assert_eq!(
        probes,
        [(138, false), (168, false), (198, false), (228, true)]
    );
    assert_eq!(on_a.len(), 5 + 3);
    assert!(
        placed_on
            .iter()
            .filter(|(t, _)| (110..228).contains(t))
            .all(|(_, p)| p == "b")
    );

    // AND from then on traffic is back on A (cheaper, and its success
    // estimate still leads under the hybrid strategy).
    assert!(
        placed_on
            .iter()
            .filter(|(t, _)| *t >= 228)
            .all(|(_, p)| p == "a")
    );
    assert_eq!(
        engine.breaker_state(&a, at(400)),
        Some(BreakerState::Closed {
            consecutive_failures: 0
        })
    );

    // The statistics saw every attempt: 200 calls placed, 8 failed setups on A.
    let stats = engine.stats();
    let total = stats.total();
    assert_eq!(total.attempts, 200 + 8);
    assert_eq!(total.setup_failures, 8);
    assert_eq!(total.ended, 200);
    assert_eq!(stats.providers[0].total.setup_failures, 8);
}

/// Plans a call to New York at `t` and reserves its first step, which then
/// fails (`up` false) or is accepted.
fn place(engine: &mut RoutingEngine, t: i64, up: bool) -> String {
    let ny = dest("+12125550199");
    let step = chain(plan(engine, &ny, ProviderStrategy::Hybrid, at(t))).remove(0);
    engine.reserve(&step, at(t)).unwrap();
    let result = if up {
        SetupResult::Accepted
    } else {
        SetupResult::Failed { transient: true }
    };
    engine
        .record_setup(&step.provider, &ny, result, at(t))
        .unwrap();
    step.provider.as_str().to_owned()
}

#[test]
fn an_open_circuit_alone_is_no_route_and_beside_a_rate_limit_a_wait() {
    let ny = dest("+12125550199");
    let a = us_provider(
        "a",
        "0.010",
        "[providers.breaker]\nfailure_threshold = 2\ncooldown_secs = 30\nhalf_open_probes = 1",
        &["+12125550101"],
    );
    // GIVEN A alone, whose two failed setups open its circuit until 31 s.
    let mut alone = RoutingEngine::from_toml(&a).unwrap();
    place(&mut alone, 0, false);
    place(&mut alone, 1, false);
    // THEN no provider is merely rate limited: no route, and why.
    let open = RejectReason::CircuitOpen { until: at(31) };
    match plan(&alone, &ny, ProviderStrategy::Hybrid, at(2)) {
        RoutePlan::NoRoute(rejections) => {
            assert_eq!(rejections.len(), 1);
            assert_eq!(rejections[0].provider, pid("a"));
            assert_eq!(rejections[0].reason, open);
        }
        other => panic!("{other:?}"),
    }
    // AND once the probe is out, the busy probe is the reason.
    let probe = chain(plan(&alone, &ny, ProviderStrategy::Hybrid, at(31))).remove(0);
    assert!(probe.probe);
    alone.reserve(&probe, at(31)).unwrap();
    match plan(&alone, &ny, ProviderStrategy::Hybrid, at(31)) {
        RoutePlan::NoRoute(rejections) => assert!(
            matches!(rejections[0].reason, RejectReason::ProbesBusy { .. }),
            "{rejections:?}"
        ),
        other => panic!("{other:?}"),
    }

    // GIVEN beside it B at 1 call a second, which has just taken one.
    let b = us_provider("b", "0.020", "", &["+12125550102"]).replacen("cps = 100", "cps = 1", 1);
    let mut both = RoutingEngine::from_toml(&format!("{a}\n{b}")).unwrap();
    assert_eq!(place(&mut both, 0, false), "a");
    assert_eq!(place(&mut both, 1, false), "a");
    assert_eq!(place(&mut both, 2, true), "b");
    // THEN plan again when B has its token, not when A's circuit half-opens.
    assert_eq!(
        plan(&both, &ny, ProviderStrategy::Hybrid, at(2)),
        RoutePlan::NotBefore(at(3))
    );
}
