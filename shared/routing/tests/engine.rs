//! The engine through its public API: strategies, prefixes, caller IDs,
//! rate limits, costs, statistics and persistence.

mod common;

use common::*;
use voxdial_domain::{Money, ProviderStrategy};
use voxdial_routing::{
    BreakerState, CallEnd, EXAMPLE_CONFIG, EngineState, RejectReason, RoutePlan, RouteRequest,
    RoutingConfig, RoutingEngine, RoutingError, SetupResult,
};

/// Three US providers: `cheap` ($0.010), `mid` ($0.015), `premium` ($0.020),
/// priority `premium, cheap, mid`.
fn three(hybrid: &str) -> RoutingEngine {
    let toml = format!(
        "priority = [\"premium\", \"cheap\", \"mid\"]\n{hybrid}\n\
         [estimates]\nprior_success_rate = 0.5\nprior_weight = 4\nmin_evidence = 5\n{}{}{}",
        us_provider("cheap", "0.010", "", &["+12125550101"]),
        us_provider("mid", "0.015", "", &["+12125550102"]),
        us_provider("premium", "0.020", "", &["+12125550103"]),
    );
    RoutingEngine::from_toml(&toml).unwrap()
}

/// Reports `n` calls to `to` through `provider`, `answered` of them answered.
fn history(engine: &mut RoutingEngine, provider: &str, to: &str, n: u32, answered: u32) {
    let to = dest(to);
    for k in 0..n {
        engine
            .record_setup(&pid(provider), &to, SetupResult::Accepted, at(0))
            .unwrap();
        let end = CallEnd {
            answered: k < answered,
            duration_secs: 30,
            reported_price: None,
        };
        engine
            .record_call_end(&pid(provider), &to, None, end, at(0))
            .unwrap();
    }
}

#[test]
fn cost_strategy_orders_by_price_then_priority() {
    let mut engine = three("");
    let ny = dest("+12125550199");
    // GIVEN premium answers far more often.
    history(&mut engine, "premium", "+12125550199", 40, 36);
    // THEN cost ignores it: cheapest first.
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Cost, at(1))),
        ["cheap", "mid", "premium"]
    );
    let steps = chain(plan(&engine, &ny, ProviderStrategy::Cost, at(1)));
    assert_eq!(steps[0].expected_cost, Money(10_000));
    assert_eq!(steps[0].score, 1.0);
    assert_eq!(steps[2].score, 0.5);
}

#[test]
fn equal_prices_fall_back_to_priority_order() {
    let toml = format!(
        "priority = [\"b\", \"a\"]\n{}{}",
        us_provider("a", "0.01", "", &["+12125550101"]),
        us_provider("b", "0.01", "", &["+12125550102"]),
    );
    let engine = RoutingEngine::from_toml(&toml).unwrap();
    let ny = dest("+12125550199");
    for strategy in [
        ProviderStrategy::Cost,
        ProviderStrategy::Quality,
        ProviderStrategy::Hybrid,
        ProviderStrategy::AgentAssigned,
    ] {
        assert_eq!(providers(plan(&engine, &ny, strategy, at(0))), ["b", "a"]);
    }
}

#[test]
fn quality_strategy_orders_by_bayesian_success() {
    let mut engine = three("");
    let ny = dest("+12125550199");
    history(&mut engine, "premium", "+12125550199", 40, 36);
    history(&mut engine, "cheap", "+12125550199", 40, 8);
    // mid has no history: the prior (0.5) sits between 0.2 and 0.9.
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Quality, at(1))),
        ["premium", "mid", "cheap"]
    );
    let steps = chain(plan(&engine, &ny, ProviderStrategy::Quality, at(1)));
    // (2 + 36) / (4 + 40)
    assert!((steps[0].success - 38.0 / 44.0).abs() < 1e-6);
    assert_eq!(steps[0].score, steps[0].success);
}

#[test]
fn hybrid_weighs_cost_against_success() {
    let ny = dest("+12125550199");
    let prepare = |weights: &str| {
        let mut engine = three(weights);
        history(&mut engine, "premium", "+12125550199", 40, 36); // ~0.86
        history(&mut engine, "cheap", "+12125550199", 40, 16); // ~0.41
        history(&mut engine, "mid", "+12125550199", 40, 20); // 0.5
        engine
    };
    // Default weights (0.6 quality, 0.4 cost):
    // premium 0.6*0.864 + 0.4*0.5 = 0.718; cheap 0.6*0.409 + 0.4 = 0.645;
    // mid 0.6*0.5 + 0.4*0.667 = 0.567.
    let engine = prepare("");
    let steps = chain(plan(&engine, &ny, ProviderStrategy::Hybrid, at(1)));
    let names: Vec<_> = steps.iter().map(|s| s.provider.as_str()).collect();
    assert_eq!(names, ["premium", "cheap", "mid"]);
    let expected = 0.6 * (38.0 / 44.0) + 0.4 * 0.5;
    assert!(
        (steps[0].score - expected).abs() < 1e-6,
        "{}",
        steps[0].score
    );
    // Hybrid is the default strategy.
    assert_eq!(ProviderStrategy::default(), ProviderStrategy::Hybrid);
    // Weights are relative: 2 and 3 score as 0.4 and 0.6.
    let engine = prepare("[hybrid]\ncost = 2.0\nquality = 3.0");
    let steps = chain(plan(&engine, &ny, ProviderStrategy::Hybrid, at(1)));
    assert!(
        (steps[0].score - expected).abs() < 1e-6,
        "{}",
        steps[0].score
    );
    // All weight on cost: the cost order.
    let engine = prepare("[hybrid]\ncost = 1.0\nquality = 0.0");
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Hybrid, at(1))),
        ["cheap", "mid", "premium"]
    );
    // All weight on quality: the quality order.
    let engine = prepare("[hybrid]\ncost = 0.0\nquality = 1.0");
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Hybrid, at(1))),
        ["premium", "mid", "cheap"]
    );
}

#[test]
fn agent_assigned_puts_the_agents_provider_first_then_priority() {
    let engine = three("");
    let ny = dest("+12125550199");
    let mid = pid("mid");
    let req = |agent| RouteRequest {
        to: &ny,
        strategy: ProviderStrategy::AgentAssigned,
        agent_provider: agent,
        now: at(0),
    };
    assert_eq!(
        providers(engine.plan(&req(Some(&mid)))),
        ["mid", "premium", "cheap"]
    );
    // Without (or with an unknown) agent provider: the priority order.
    assert_eq!(
        providers(engine.plan(&req(None))),
        ["premium", "cheap", "mid"]
    );
    let ghost = pid("ghost");
    assert_eq!(
        providers(engine.plan(&req(Some(&ghost)))),
        ["premium", "cheap", "mid"]
    );
}

#[test]
fn chain_length_is_capped() {
    let toml = format!(
        "max_chain_len = 2\n{}{}{}",
        us_provider("a", "0.01", "", &["+12125550101"]),
        us_provider("b", "0.02", "", &["+12125550102"]),
        us_provider("c", "0.03", "", &["+12125550103"]),
    );
    let engine = RoutingEngine::from_toml(&toml).unwrap();
    let steps = providers(plan(
        &engine,
        &dest("+12125550199"),
        ProviderStrategy::Cost,
        at(0),
    ));
    assert_eq!(steps, ["a", "b"]);
}

#[test]
fn the_longest_prefix_prices_the_call() {
    let engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let price = |to: &str| {
        let steps = chain(plan(&engine, &dest(to), ProviderStrategy::Cost, at(0)));
        steps
            .iter()
            .map(|s| (s.provider.as_str().to_owned(), s.rate.prefix.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(price("+12125550199"), [("twilio".into(), "1212".into())]);
    assert_eq!(price("+13125550199"), [("twilio".into(), "1".into())]);
    // India: SansPBX (cheaper) by its Mumbai row; Twilio has no Indian DID
    // and India requires a local caller ID.
    assert_eq!(price("+912261234567"), [("sanspbx".into(), "9122".into())]);
    assert_eq!(price("+919876543210"), [("sanspbx".into(), "919".into())]);
    // No rate anywhere: no route, with a reason per provider.
    match plan(
        &engine,
        &dest("+33142345678"),
        ProviderStrategy::Cost,
        at(0),
    ) {
        RoutePlan::NoRoute(reasons) => {
            assert_eq!(reasons.len(), 2);
            assert!(reasons.iter().all(|r| r.reason == RejectReason::NoRate));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn local_caller_id_is_preferred_and_india_needs_one() {
    let engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let caller = |to: &str| {
        chain(plan(&engine, &dest(to), ProviderStrategy::Cost, at(0)))[0]
            .caller_id
            .as_str()
            .to_owned()
    };
    assert_eq!(caller("+12125550199"), "+12125550101"); // same area code
    assert_eq!(caller("+13105550199"), "+13105550102"); // same area code
    assert_eq!(caller("+442071838799"), "+442071838750"); // same area "20"
    assert_eq!(caller("+912261234567"), "+912240001234"); // Mumbai area "22"
    assert_eq!(caller("+918061234567"), "+918040001234"); // Bengaluru area "80"
}

#[test]
fn daily_caps_exhaust_then_fall_back_to_another_provider() {
    let toml = format!(
        "{}\n{}",
        us_provider("a", "0.01", "", &["+12125550101", "+12125550102"])
            .replace("caller_id_cps = 100", "caller_id_cps = 100\ndaily_cap = 2"),
        us_provider("b", "0.02", "", &["+13105550101"]),
    );
    let mut engine = RoutingEngine::from_toml(&toml).unwrap();
    let ny = dest("+12125550199");
    let mut used = Vec::new();
    for k in 0..4 {
        let step = chain(plan(&engine, &ny, ProviderStrategy::Cost, at(k))).remove(0);
        assert_eq!(step.provider.as_str(), "a");
        engine.reserve(&step, at(k)).unwrap();
        used.push(step.caller_id.as_str().to_owned());
    }
    // Both DIDs rotate (equal weights) and each reaches its cap of 2.
    used.sort();
    assert_eq!(
        used,
        [
            "+12125550101",
            "+12125550101",
            "+12125550102",
            "+12125550102"
        ]
    );
    // THEN `a` has no usable caller ID: the call goes to `b`.
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Cost, at(5))),
        ["b"]
    );
    // AND after midnight in New York (05:00 UTC) `a` is back.
    let next_day = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 3, 5, 0, 0).unwrap();
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Cost, next_day)),
        ["a", "b"]
    );
}

#[test]
fn rate_limited_providers_give_way_then_the_plan_says_not_before() {
    let toml = format!(
        "{}\n{}",
        us_provider("a", "0.01", "", &["+12125550101"]).replacen("cps = 100", "cps = 1", 1),
        us_provider("b", "0.02", "", &["+12125550102"]).replacen("cps = 100", "cps = 2", 1),
    );
    let mut engine = RoutingEngine::from_toml(&toml).unwrap();
    let ny = dest("+12125550199");
    let t = at(0);
    let first = chain(plan(&engine, &ny, ProviderStrategy::Cost, t));
    // Planning is pure: planning again gives the same plan.
    assert_eq!(first, chain(plan(&engine, &ny, ProviderStrategy::Cost, t)));
    engine.reserve(&first[0], t).unwrap();
    // Reserving the same step again in the same second would break 1 CPS.
    assert!(matches!(
        engine.reserve(&first[0], t),
        Err(RoutingError::RateLimited { until, .. }) if until == at(1)
    ));
    // `a` is limited: `b` takes the next call...
    let second = chain(plan(&engine, &ny, ProviderStrategy::Cost, t));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].provider.as_str(), "b");
    engine.reserve(&second[0], t).unwrap();
    // ... and now both are limited (b's caller ID at 100 CPS, its account at 2).
    let half = t + chrono::Duration::milliseconds(500);
    assert_eq!(
        plan(&engine, &ny, ProviderStrategy::Cost, t),
        RoutePlan::NotBefore(half)
    );
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Cost, half)),
        ["b"]
    );
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Cost, at(1))),
        ["a", "b"]
    );
}

#[test]
fn cost_is_the_reported_price_else_rate_times_billed_minutes() {
    let mut engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let twilio = pid("twilio");
    let sans = pid("sanspbx");
    let ny = dest("+12125550199");
    let end = |answered, secs, price| CallEnd {
        answered,
        duration_secs: secs,
        reported_price: price,
    };
    // 1212 at $0.013, 60/60: 61 s = 2 minutes.
    let c = engine.record_call_end(&twilio, &ny, None, end(true, 61, None), at(0));
    assert_eq!(c.unwrap(), Money(26_000));
    // A reported price wins.
    let c = engine.record_call_end(
        &twilio,
        &ny,
        None,
        end(true, 61, Some(Money(31_000))),
        at(0),
    );
    assert_eq!(c.unwrap(), Money(31_000));
    // Unanswered: nothing.
    let c = engine.record_call_end(&twilio, &ny, None, end(false, 0, None), at(0));
    assert_eq!(c.unwrap(), Money::ZERO);
    // Twilio to India: $0.0435, 60/60, setup fee $0.002.
    let c = engine.record_call_end(
        &twilio,
        &dest("+919876543210"),
        None,
        end(true, 10, None),
        at(0),
    );
    assert_eq!(c.unwrap(), Money(43_500 + 2_000));
    // SansPBX 919 at $0.0062, 30/6: 31 s bill 36 s = 3720 micro-dollars.
    let c = engine.record_call_end(
        &sans,
        &dest("+919876543210"),
        None,
        end(true, 31, None),
        at(0),
    );
    assert_eq!(c.unwrap(), Money(3_720));
    // SansPBX 91 at $0.0065, 1/1 (the provider default): 7 s = 758.3 -> 758.
    let c = engine.record_call_end(
        &sans,
        &dest("+917012345678"),
        None,
        end(true, 7, None),
        at(0),
    );
    assert_eq!(c.unwrap(), Money(758));
    let stats = engine.stats();
    assert_eq!(
        stats.total().total_cost,
        Money(26_000 + 31_000 + 45_500 + 3_720 + 758)
    );
    let tw = &stats.providers[0];
    assert_eq!(tw.provider.as_str(), "twilio");
    let rows: Vec<_> = tw
        .prefixes
        .iter()
        .map(|r| (r.prefix.as_str(), r.stats.ended))
        .collect();
    assert_eq!(rows, [("1212", 3), ("91", 1)]);
    assert_eq!(tw.total.answers, 3);
    assert_eq!(tw.total.average_answered_secs(), Some(44.0));
}

#[test]
fn statistics_count_attempts_failures_answers_and_asr() {
    let mut engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let twilio = pid("twilio");
    let ny = dest("+12125550199");
    let la = dest("+13105550199");
    engine
        .record_setup(&twilio, &ny, SetupResult::Accepted, at(0))
        .unwrap();
    engine
        .record_setup(&twilio, &ny, SetupResult::Failed { transient: true }, at(0))
        .unwrap();
    engine
        .record_setup(&twilio, &la, SetupResult::Accepted, at(0))
        .unwrap();
    engine
        .record_setup(
            &twilio,
            &la,
            SetupResult::Failed { transient: false },
            at(0),
        )
        .unwrap();
    let answered = CallEnd {
        answered: true,
        duration_secs: 90,
        reported_price: None,
    };
    engine
        .record_call_end(&twilio, &ny, None, answered, at(1))
        .unwrap();
    let stats = engine.stats();
    let tw = &stats.providers[0].total;
    assert_eq!(
        (tw.attempts, tw.setup_failures, tw.answers, tw.ended),
        (4, 2, 1, 1)
    );
    assert_eq!(tw.answer_seizure_ratio(), Some(0.25));
    let rows: Vec<_> = stats.providers[0]
        .prefixes
        .iter()
        .map(|r| (r.prefix.as_str(), r.stats.attempts))
        .collect();
    assert_eq!(rows, [("1212", 2), ("1310", 2)]);
    // Unknown providers and caller IDs are refused without counting anything.
    assert!(matches!(
        engine.record_setup(&pid("nobody"), &ny, SetupResult::Accepted, at(2)),
        Err(RoutingError::UnknownProvider(_))
    ));
    let stranger = number("+14155550100");
    assert!(matches!(
        engine.record_call_end(&twilio, &ny, Some(&stranger), answered, at(2)),
        Err(RoutingError::UnknownCallerId { .. })
    ));
    assert_eq!(engine.stats(), stats);
}

#[test]
fn prefix_estimates_need_enough_evidence() {
    let mut engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let twilio = pid("twilio");
    let ny = dest("+12125550199");
    // No evidence: the prior (0.35), provider-wide.
    let e = engine.success_estimate(&twilio, &ny, at(0)).unwrap();
    assert_eq!((e.rate, e.evidence, e.prefix.as_str()), (0.35, 0.0, ""));
    // 10 answered calls to New York: below min_evidence (20) for "1212" and "1".
    history(&mut engine, "twilio", "+12125550199", 10, 10);
    let e = engine.success_estimate(&twilio, &ny, at(0)).unwrap();
    assert_eq!(e.prefix, "");
    // 30 unanswered calls to Los Angeles: "1" has 40 observations, "1212" 10.
    history(&mut engine, "twilio", "+13105550199", 30, 0);
    let e = engine.success_estimate(&twilio, &ny, at(0)).unwrap();
    assert_eq!(e.prefix, "1");
    assert!((e.rate - 13.5 / 50.0).abs() < 1e-6);
    // 10 more answered calls to New York: "1212" has 20, its own estimate.
    history(&mut engine, "twilio", "+12125550199", 10, 10);
    let e = engine.success_estimate(&twilio, &ny, at(0)).unwrap();
    assert_eq!(e.prefix, "1212");
    assert!((e.rate - 23.5 / 30.0).abs() < 1e-6);
}

#[test]
fn state_survives_serialisation() {
    let mut engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let twilio = pid("twilio");
    let ny = dest("+12125550199");
    let step = chain(plan(&engine, &ny, ProviderStrategy::Hybrid, at(0))).remove(0);
    engine.reserve(&step, at(0)).unwrap();
    for _ in 0..5 {
        engine
            .record_setup(&twilio, &ny, SetupResult::Failed { transient: true }, at(0))
            .unwrap();
    }
    history(&mut engine, "sanspbx", "+919876543210", 7, 3);
    // The whole engine, config included.
    let json = serde_json::to_string(&engine).unwrap();
    let back: RoutingEngine = serde_json::from_str(&json).unwrap();
    assert_eq!(back.state(), engine.state());
    assert_eq!(back.stats(), engine.stats());
    for to in ["+12125550199", "+919876543210", "+442071838799"] {
        for t in [at(0), at(31), at(100)] {
            let to = dest(to);
            assert_eq!(
                plan(&back, &to, ProviderStrategy::Hybrid, t),
                plan(&engine, &to, ProviderStrategy::Hybrid, t)
            );
        }
    }
    // The state alone, restored under the same config.
    let state_json = serde_json::to_string(&engine.state()).unwrap();
    let restored = RoutingEngine::restore(
        RoutingConfig::from_toml(EXAMPLE_CONFIG).unwrap(),
        serde_json::from_str(&state_json).unwrap(),
    )
    .unwrap();
    assert_eq!(restored.state(), engine.state());
}

#[test]
fn the_records_a_store_keeps_rebuild_the_whole_state() {
    // GIVEN an engine with reservations, an open breaker, evidence,
    // caller-ID usage and statistics
    let mut engine = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    let twilio = pid("twilio");
    let ny = dest("+12125550199");
    let step = chain(plan(&engine, &ny, ProviderStrategy::Hybrid, at(0))).remove(0);
    engine.reserve(&step, at(0)).unwrap();
    for _ in 0..5 {
        engine
            .record_setup(&twilio, &ny, SetupResult::Failed { transient: true }, at(0))
            .unwrap();
    }
    history(&mut engine, "sanspbx", "+919876543210", 7, 3);
    // WHEN a store's records of it (one per provider, one per caller ID, one
    // statistics row per provider and prefix) are loaded into a fresh engine
    let mut records = EngineState::default();
    for report in engine.stats().providers {
        let id = report.provider.clone();
        records.set_provider(id.clone(), engine.provider_record(&id).unwrap());
        for row in report.prefixes {
            records.set_stats(id.clone(), row.prefix, row.stats);
        }
    }
    for number in [
        "+12125550101",
        "+13105550102",
        "+442071838750",
        "+912240001234",
        "+918040001234",
    ] {
        let number = voxdial_domain::E164::parse(number, None).unwrap();
        records.set_caller_id(number.clone(), engine.caller_id_record(&number).unwrap());
    }
    let mut fresh = RoutingEngine::from_toml(EXAMPLE_CONFIG).unwrap();
    fresh.set_state(records);
    // THEN it is the same engine: same state, same plans
    assert_eq!(fresh.state(), engine.state());
    assert!(matches!(
        engine.provider_record(&twilio).unwrap().breaker(),
        BreakerState::Open { .. }
    ));
    for t in [at(0), at(31)] {
        assert_eq!(
            plan(&fresh, &ny, ProviderStrategy::Hybrid, t),
            plan(&engine, &ny, ProviderStrategy::Hybrid, t)
        );
    }
    // AND the statistics row a report counts in is the longest rate prefix
    assert_eq!(engine.stats_prefix(&twilio, &ny).unwrap(), "1212");
    assert_eq!(
        engine.stats_prefix(&twilio, &dest("+61255501234")).unwrap(),
        ""
    );
    assert!(
        engine
            .caller_id_record(&voxdial_domain::E164::parse("+14155550100", None).unwrap())
            .is_none()
    );
}

#[test]
fn old_failures_weigh_less_than_recent_ones_in_the_ranking() {
    // Default half-life: 7 days.
    let mut engine = three("");
    let ny = dest("+12125550199");
    let failed = SetupResult::Failed { transient: false };
    // GIVEN premium failed 20 calls 30 days ago and mid 20 calls an hour ago.
    for _ in 0..20 {
        engine
            .record_setup(&pid("premium"), &ny, failed, at(-30 * 86_400))
            .unwrap();
        engine
            .record_setup(&pid("mid"), &ny, failed, at(-3_600))
            .unwrap();
    }
    // THEN premium's old failures count about 20 * 2^(-30/7) ~ 1: it ranks
    // above mid, just under the untried cheap (the prior, 0.5).
    let premium = engine
        .success_estimate(&pid("premium"), &ny, at(0))
        .unwrap();
    let mid = engine.success_estimate(&pid("mid"), &ny, at(0)).unwrap();
    assert!((premium.evidence - 20.0 * (-30.0f64 / 7.0).exp2()).abs() < 1e-6);
    assert!(premium.rate > 0.39 && mid.rate < 0.1, "{premium:?} {mid:?}");
    assert_eq!(
        providers(plan(&engine, &ny, ProviderStrategy::Quality, at(0))),
        ["cheap", "premium", "mid"]
    );
}

/// Plans a call to `to` at `now` and reserves its first step; the caller ID.
fn call_from(engine: &mut RoutingEngine, to: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let step = chain(plan(engine, &dest(to), ProviderStrategy::Cost, now)).remove(0);
    engine.reserve(&step, now).unwrap();
    step.caller_id.as_str().to_owned()
}

/// Provider `a` with two New York caller IDs.
fn two_new_york_caller_ids() -> RoutingEngine {
    let toml = us_provider("a", "0.01", "", &["+12125550101", "+12125550102"]);
    RoutingEngine::from_toml(&toml).unwrap()
}

#[test]
fn equal_caller_ids_take_turns_starting_with_the_first() {
    let mut engine = two_new_york_caller_ids();
    let used: Vec<String> = (0..4)
        .map(|k| call_from(&mut engine, "+12125550199", at(k)))
        .collect();
    assert_eq!(
        used,
        [
            "+12125550101",
            "+12125550102",
            "+12125550101",
            "+12125550102"
        ]
    );
}

#[test]
fn when_every_caller_id_waits_the_plan_waits_for_the_first_one_ready() {
    let toml = us_provider("a", "0.01", "", &["+12125550101", "+12125550102"])
        .replace("caller_id_cps = 100", "caller_id_cps = 1");
    let mut engine = RoutingEngine::from_toml(&toml).unwrap();
    let ms = |ms| at(0) + chrono::Duration::milliseconds(ms);
    assert_eq!(
        call_from(&mut engine, "+12125550199", ms(0)),
        "+12125550101"
    );
    assert_eq!(
        call_from(&mut engine, "+12125550199", ms(500)),
        "+12125550102"
    );
    assert_eq!(
        call_from(&mut engine, "+12125550199", ms(1_200)),
        "+12125550101"
    );
    // The first caller ID is ready again at 2.2 s, the second at 1.5 s.
    match plan(
        &engine,
        &dest("+12125550199"),
        ProviderStrategy::Cost,
        ms(1_300),
    ) {
        RoutePlan::NotBefore(t) => assert_eq!(t, ms(1_500)),
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[test]
fn a_capped_home_caller_id_gives_way_to_one_with_the_same_calling_code_first() {
    let toml = us_provider(
        "a",
        "0.01",
        "",
        &["+12125550101", "+442071838750", "+14165550100"],
    )
    .replace(
        "caller_id_cps = 100",
        "caller_id_cps = 100\nany_country_fallback = true\ndaily_cap = 1",
    );
    let mut engine = RoutingEngine::from_toml(&toml).unwrap();
    let ny = "+12125550199";
    assert_eq!(call_from(&mut engine, ny, at(0)), "+12125550101");
    assert_eq!(
        call_from(&mut engine, ny, at(1)),
        "+14165550100",
        "Canada: +1 too"
    );
    assert_eq!(call_from(&mut engine, ny, at(2)), "+442071838750");
}

#[test]
fn with_area_matching_off_a_caller_id_in_the_callee_s_time_zone_comes_first() {
    let toml = "[[providers]]\nid = \"a\"\nkind = \"twilio\"\ncps = 100\n\
        [[providers.rates]]\nprefix = \"61\"\nrate_per_min_usd = 0.02\n\
        [providers.pool]\ncaller_id_cps = 100\nlocal_digits = 0\n\
        [[providers.pool.dids]]\nnumber = \"+61293744000\"\n\
        [[providers.pool.dids]]\nnumber = \"+61892255000\"\n";
    let mut engine = RoutingEngine::from_toml(toml).unwrap();
    // Perth shares its zones with the second caller ID, not with Sydney's.
    assert_eq!(
        call_from(&mut engine, "+61892251234", at(0)),
        "+61892255000"
    );
}

#[test]
fn a_stale_step_cannot_reserve_a_capped_caller_id() {
    let toml = us_provider("a", "0.01", "", &["+12125550101"])
        .replace("caller_id_cps = 100", "caller_id_cps = 100\ndaily_cap = 1");
    let mut engine = RoutingEngine::from_toml(&toml).unwrap();
    let step = chain(plan(
        &engine,
        &dest("+12125550199"),
        ProviderStrategy::Cost,
        at(0),
    ))
    .remove(0);
    engine.reserve(&step, at(0)).unwrap();
    assert!(matches!(
        engine.reserve(&step, at(10)),
        Err(RoutingError::CallerIdCapped { .. })
    ));
}

#[test]
fn caller_ids_that_get_answers_take_more_turns() {
    let mut engine = two_new_york_caller_ids();
    let (a, ny) = (pid("a"), dest("+12125550199"));
    for k in 0..20 {
        for (caller, answered) in [("+12125550101", true), ("+12125550102", false)] {
            let end = CallEnd {
                answered,
                duration_secs: if answered { 60 } else { 0 },
                reported_price: None,
            };
            engine
                .record_call_end(&a, &ny, Some(&number(caller)), end, at(k))
                .unwrap();
        }
    }
    let used: Vec<String> = (0..10)
        .map(|k| call_from(&mut engine, "+12125550199", at(100 + k)))
        .collect();
    // Smooth weighted rotation: weights 1 + 1000 × the answer estimate.
    let turn = |i| used.iter().position(|c| c == "+12125550102") == Some(i);
    let answered_more = used.iter().filter(|c| *c == "+12125550101").count();
    assert!(answered_more == 9 && turn(5), "{used:?}");
}

#[test]
fn ratios_of_nothing_are_none_not_nan() {
    let none = voxdial_routing::Stats::default();
    assert_eq!(none.answer_seizure_ratio(), None);
    assert_eq!(none.average_answered_secs(), None);
    let some = voxdial_routing::Stats {
        attempts: 4,
        answers: 1,
        answered_secs: 30,
        ..none
    };
    assert_eq!(some.answer_seizure_ratio(), Some(0.25));
    assert_eq!(some.average_answered_secs(), Some(30.0));
}
