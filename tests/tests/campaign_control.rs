//! The engine's behaviour on operator actions and provider failures, step
//! by step: cancel, a lowered cap, the calling window, fallback between
//! providers and permanent refusals.

use std::time::Duration;

use chrono::TimeZone;
use voxdial_app::workers::handle_delivery;
use voxdial_domain::MessageQueue;
use voxdial_domain::{
    CallId, CallOutcome, CampaignAction, CampaignStatus, E164, LeadOutcome, LeadState, NewLead,
    PendingReason,
};
use voxdial_tests::model::ModelFaults;
use voxdial_tests::world::{Scenario, World};

fn scenario(cap: u32, leads: usize) -> Scenario {
    Scenario {
        seed: 1,
        cap,
        leads,
        faults: false,
    }
}

fn lead(number: &str) -> NewLead {
    NewLead {
        phone: E164::parse(number, None).unwrap(),
        name: "Lead".into(),
        time_zone: None,
        custom: Default::default(),
        consent: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_finalises_pending_leads_and_lets_live_calls_finish() {
    // GIVEN a running campaign with 3 calls live and 17 leads pending
    let mut w = World::new(scenario(3, 20)).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().live, 3);

    // WHEN it is canceled
    w.engine
        .act(&w.campaign, CampaignAction::Cancel)
        .await
        .unwrap();

    // THEN the pending leads are final as canceled at once, no new call is placed
    let view = w.engine.campaign_view(&w.campaign).await.unwrap();
    assert_eq!(view.campaign.status, CampaignStatus::Canceled);
    assert_eq!(view.progress.finals.get("campaign_canceled"), Some(&17));
    assert_eq!(view.progress.active, 3);
    w.dispatch(10).await;
    w.tick(3_600).await;
    assert_eq!(w.carrier.stats().created, 3);

    // AND the live calls finish with their own outcome, never retried
    let carrier = w.carrier.clone();
    w.end_calls(&carrier).await;
    let view = w.engine.campaign_view(&w.campaign).await.unwrap();
    assert_eq!(view.progress.open(), 0, "{:?}", view.progress);
    assert_eq!(view.progress.active, 0);
    assert_eq!(w.carrier.stats().created, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_cap_stops_new_dials_until_the_campaign_is_under_it() {
    // GIVEN 5 live calls at cap 5
    let mut w = World::new(scenario(5, 30)).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().live, 5);

    // WHEN the cap is lowered to 2 on the running campaign
    w.engine.set_max_concurrency(&w.campaign, 2).await.unwrap();

    // THEN ending live calls dials nothing until fewer than 2 are live
    for expected_live in [4, 3, 2] {
        let sid = w.carrier.live_calls()[0].clone();
        while w.carrier.step_call(&sid) {}
        while w.deliver_one().await {}
        w.dispatch(10).await;
        assert_eq!(w.carrier.stats().live, expected_live);
        assert_eq!(
            w.carrier.stats().created,
            5,
            "no new dial above the new cap"
        );
    }
    let sid = w.carrier.live_calls()[0].clone();
    while w.carrier.step_call(&sid) {}
    while w.deliver_one().await {}
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().live, 2, "one new dial once under the cap");
    assert_eq!(w.carrier.stats().created, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_outside_its_window_waits_for_the_opening_and_is_then_called() {
    // GIVEN a Honolulu lead at 15:00 UTC (05:00 HST) and a New York lead (11:00 EDT)
    let leads = vec![lead("+18085550100"), lead("+12125550100")];
    let mut w = World::build(scenario(5, 0), leads, &[("model", ModelFaults::default())]).await;
    w.dispatch(10).await;

    // THEN only New York is dialled; Honolulu waits for 08:00 HST = 18:00 UTC
    assert_eq!(w.carrier.stats().created, 1);
    let leads = w.engine.leads_page(&w.campaign, None, 10).await.unwrap();
    let honolulu = leads
        .iter()
        .find(|l| l.phone.as_str() == "+18085550100")
        .unwrap();
    let opening = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 18, 0, 0).unwrap();
    assert_eq!(
        honolulu.state,
        LeadState::Pending {
            due_at: opening,
            reason: PendingReason::CallingWindow
        }
    );
    assert_eq!(honolulu.attempts, 0, "a rescheduled lead used no attempt");

    // WHEN the clock passes the opening and the sweeper runs
    w.tick(3 * 3_600 - 1).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().created, 1, "not a second early");
    w.tick(1).await;
    w.dispatch(10).await;

    // THEN the lead is called, with a compliance record of its local time
    assert_eq!(w.carrier.stats().created, 2);
    let calls = w.engine.calls_page(&w.campaign, None, 10).await.unwrap();
    let call = calls
        .iter()
        .find(|c| c.to.as_str() == "+18085550100")
        .unwrap();
    assert_eq!(
        call.compliance.local_times["Pacific/Honolulu"],
        "2026-06-01T08:00:00-10:00 Mon"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_falls_over_to_the_next_provider() {
    let down = ModelFaults {
        transient: 1.0,
        ..ModelFaults::default()
    };
    let mut w = World::build(
        scenario(5, 0),
        vec![lead("+12125550100")],
        &[("primary", down), ("secondary", ModelFaults::default())],
    )
    .await;
    w.dispatch(1).await;
    let calls = w.engine.calls_page(&w.campaign, None, 10).await.unwrap();
    assert_eq!(
        calls[0].provider.as_ref().map(|p| p.as_str()),
        Some("secondary")
    );
    assert_eq!(w.carrier.stats().created, 0, "the primary created nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_the_attempt_without_fallback_or_retry() {
    let refuses = ModelFaults {
        permanent: 1.0,
        ..ModelFaults::default()
    };
    let mut w = World::build(
        scenario(5, 0),
        vec![lead("+12125550100")],
        &[("primary", refuses), ("secondary", ModelFaults::default())],
    )
    .await;
    w.dispatch(1).await;
    w.tick(86_400).await;
    w.dispatch(1).await;
    let leads = w.engine.leads_page(&w.campaign, None, 10).await.unwrap();
    match &leads[0].state {
        LeadState::Final {
            outcome:
                LeadOutcome::Called {
                    outcome:
                        CallOutcome::Failed {
                            retryable: false,
                            reason,
                        },
                },
            ..
        } => {
            assert!(reason.contains("21211"), "{reason}");
        }
        other => panic!("expected a final, non-retryable failure, got {other:?}"),
    }
    assert_eq!(leads[0].attempts, 1);
    assert_eq!(
        w.engine.campaign(&w.campaign).await.unwrap().status,
        CampaignStatus::Completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_on_the_same_provider() {
    // Half the requests are rate limited: with backoff, every lead still gets
    // exactly one call at the first provider.
    let limited = ModelFaults {
        rate_limit: 0.5,
        ..ModelFaults::default()
    };
    let mut w = World::build(
        Scenario {
            seed: 9,
            cap: 5,
            leads: 0,
            faults: false,
        },
        (0..5).map(|n| lead(&format!("+1212555010{n}"))).collect(),
        &[("primary", limited)],
    )
    .await;
    tokio::time::timeout(Duration::from_secs(30), w.dispatch(10))
        .await
        .unwrap();
    let calls = w.engine.calls_page(&w.campaign, None, 10).await.unwrap();
    let placed = calls.iter().filter(|c| c.provider_sid.is_some()).count();
    let failed = calls
        .iter()
        .filter(|c| c.state == voxdial_domain::CallState::Failed)
        .count();
    assert_eq!(placed + failed, 5);
    assert!(
        placed >= 3,
        "backoff should get most calls through: {placed}"
    );
    assert_eq!(w.carrier.stats().max_dials, 1);
}

async fn answered_call_ends(w: &World, call: &voxdial_domain::CallAttempt) {
    let provider = call.provider.clone().unwrap();
    let mut answered = voxdial_domain::CallEvent::new(
        provider.clone(),
        Some(call.id.clone()),
        voxdial_domain::CallEventKind::Answered,
    );
    answered.sequence = Some(100);
    w.engine.apply_event(&answered).await.unwrap();
    let mut done = voxdial_domain::CallEvent::new(
        provider,
        Some(call.id.clone()),
        voxdial_domain::CallEventKind::Completed,
    );
    done.sequence = Some(101);
    done.duration_secs = Some(60);
    w.engine.apply_event(&done).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_callback_is_dialled_again_at_the_time_asked() {
    let mut w = World::build(
        scenario(5, 0),
        vec![lead("+12125550100")],
        &[("model", ModelFaults::default())],
    )
    .await;
    w.dispatch(1).await;
    let call = w
        .engine
        .calls_page(&w.campaign, None, 1)
        .await
        .unwrap()
        .remove(0);
    let at = voxdial_testkit::fixtures::at(2 * 3600);
    w.engine
        .schedule_callback(&call.id, Some(at))
        .await
        .unwrap();
    answered_call_ends(&w, &call).await;
    let lead = w
        .engine
        .leads_page(&w.campaign, None, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        lead.state,
        LeadState::Pending {
            due_at: at,
            reason: PendingReason::Retry
        }
    );
    assert_eq!(
        lead.last_outcome,
        Some(CallOutcome::Human {
            disposition: Some(voxdial_domain::Disposition::CallbackRequested)
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_without_a_time_follows_the_no_answer_delay() {
    let mut w = World::build(
        scenario(5, 0),
        vec![lead("+12125550100")],
        &[("model", ModelFaults::default())],
    )
    .await;
    w.dispatch(1).await;
    let call = w
        .engine
        .calls_page(&w.campaign, None, 1)
        .await
        .unwrap()
        .remove(0);
    w.engine
        .record_disposition(&call.id, voxdial_domain::Disposition::CallbackRequested)
        .await
        .unwrap();
    answered_call_ends(&w, &call).await;
    let lead = w
        .engine
        .leads_page(&w.campaign, None, 1)
        .await
        .unwrap()
        .remove(0);
    // The world's no-answer delay is 120 s.
    let due = w.engine.clock().now() + chrono::Duration::seconds(120);
    assert_eq!(
        lead.state,
        LeadState::Pending {
            due_at: due,
            reason: PendingReason::Retry
        }
    );
}

/// A plan in, the plan to use out: `retry` for a setup round's re-plan.
type Shape = dyn Fn(
        voxdial_app::router::RoutePlan,
        bool,
        voxdial_domain::Timestamp,
    ) -> voxdial_app::router::RoutePlan
    + Send
    + Sync;

/// The world's static router with its plans passed through `shape`; the
/// port's other methods go to the static router.
struct Shaped {
    inner: voxdial_app::router::StaticRouter,
    shape: Box<Shape>,
}

#[async_trait::async_trait]
impl voxdial_app::router::Router for Shaped {
    async fn plan(
        &self,
        to: &E164,
        strategy: &voxdial_domain::ProviderStrategy,
        agent: &voxdial_domain::AgentId,
        caller_id: Option<&E164>,
        now: voxdial_domain::Timestamp,
    ) -> voxdial_app::router::RoutePlan {
        (self.shape)(
            self.inner.plan(to, strategy, agent, caller_id, now).await,
            false,
            now,
        )
    }

    async fn replan(
        &self,
        to: &E164,
        strategy: &voxdial_domain::ProviderStrategy,
        agent: &voxdial_domain::AgentId,
        caller_id: Option<&E164>,
        now: voxdial_domain::Timestamp,
    ) -> voxdial_app::router::RoutePlan {
        (self.shape)(
            self.inner.plan(to, strategy, agent, caller_id, now).await,
            true,
            now,
        )
    }

    async fn reserve(
        &self,
        step: &voxdial_app::router::RouteStep,
        to: &E164,
        now: voxdial_domain::Timestamp,
    ) {
        self.inner.reserve(step, to, now).await
    }

    async fn record_setup(
        &self,
        provider: &voxdial_domain::ProviderId,
        to: &E164,
        result: voxdial_app::router::SetupResult,
        now: voxdial_domain::Timestamp,
    ) {
        self.inner.record_setup(provider, to, result, now).await
    }

    fn cost(
        &self,
        provider: &voxdial_domain::ProviderId,
        to: &E164,
        end: &voxdial_app::router::CallEnd,
    ) -> Option<voxdial_domain::Money> {
        self.inner.cost(provider, to, end)
    }

    async fn record_call_end(
        &self,
        provider: &voxdial_domain::ProviderId,
        to: &E164,
        caller_id: Option<&E164>,
        end: &voxdial_app::router::CallEnd,
        now: voxdial_domain::Timestamp,
    ) {
        self.inner
            .record_call_end(provider, to, caller_id, end, now)
            .await
    }
}

/// Refuses the first `refusals` plans with "not before one second from
/// now" (a provider at its calls-per-second limit), then routes.
fn throttled(inner: voxdial_app::router::StaticRouter, refusals: u32) -> std::sync::Arc<Shaped> {
    let left = std::sync::atomic::AtomicU32::new(refusals);
    std::sync::Arc::new(Shaped {
        inner,
        shape: Box::new(move |plan, _, now| {
            use std::sync::atomic::Ordering;
            if left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return voxdial_app::router::RoutePlan::NotBefore(
                    now + chrono::Duration::seconds(1),
                );
            }
            plan
        }),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_lead_waits_without_reaching_the_dead_letter_queue() {
    // GIVEN one lead whose provider is at its calls-per-second limit for
    // longer than the queue's 50 receives allow
    let w = World::build_routed(
        scenario(1, 1),
        vec![lead("+12125550100")],
        &[("model", ModelFaults::default())],
        |inner| throttled(inner, 60),
    )
    .await;

    // WHEN it is dispatched and told to wait, again and again
    for _ in 0..61 {
        let deliveries = w.queue.receive(10, Duration::ZERO).await.unwrap();
        for delivery in deliveries {
            handle_delivery(&w.engine, w.queue.as_ref(), delivery).await;
        }
        w.clock.advance(Duration::from_secs(1));
    }

    // THEN the call is placed once the limit allows, and nothing was
    // dead-lettered on the way
    assert_eq!(w.carrier.stats().created, 1);
    assert!(w.queue.dead_letters().await.unwrap().is_empty());
}

/// The world with a primary and maybe a fallback, and a router that plans
/// only the first provider on a first plan (its fallback is briefly at its
/// rate limit, say) and the whole order when the attempt's chain is planned
/// again; the counter counts those second plans.
async fn first_step_first_world(
    carriers: &[(&str, ModelFaults)],
) -> (World, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::atomic::{AtomicU32, Ordering};
    let replans = std::sync::Arc::new(AtomicU32::new(0));
    let counted = replans.clone();
    let w = World::build_routed(
        scenario(1, 0),
        vec![lead("+12125550100")],
        carriers,
        move |inner| {
            std::sync::Arc::new(Shaped {
                inner,
                shape: Box::new(move |plan, retry, _| match plan {
                    _ if retry => {
                        counted.fetch_add(1, Ordering::SeqCst);
                        plan
                    }
                    voxdial_app::router::RoutePlan::Chain(mut steps) => {
                        steps.truncate(1);
                        voxdial_app::router::RoutePlan::Chain(steps)
                    }
                    other => other,
                }),
            })
        },
    )
    .await;
    (w, replans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_that_failed_whole_is_planned_again_before_the_attempt_fails() {
    // GIVEN a primary that is down and a first plan that holds only it
    let down = ModelFaults {
        transient: 1.0,
        ..ModelFaults::default()
    };
    let (mut w, replans) =
        first_step_first_world(&[("primary", down), ("secondary", ModelFaults::default())]).await;

    // WHEN the lead is dispatched
    w.dispatch(1).await;

    // THEN the chain is planned again after the primary failed, and the
    // same attempt is placed through the secondary: no failed attempt
    let calls = w.engine.calls_page(&w.campaign, None, 10).await.unwrap();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].provider.as_ref().map(|p| p.as_str()),
        Some("secondary")
    );
    assert!(calls[0].provider_sid.is_some(), "{:?}", calls[0]);
    assert_eq!(replans.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(w.carrier.stats().created, 0, "the primary created nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_rounds_are_bounded_and_then_the_attempt_fails_retryably() {
    // GIVEN the only provider is down
    let down = ModelFaults {
        transient: 1.0,
        ..ModelFaults::default()
    };
    let (mut w, replans) = first_step_first_world(&[("primary", down)]).await;

    // WHEN the lead is dispatched
    w.dispatch(1).await;

    // THEN the chain was tried 1 + setup_retries times, then the attempt
    // failed as retryable (the retry policy calls the lead again later)
    let retries = voxdial_app::EngineConfig::default().setup_retries;
    assert_eq!(replans.load(std::sync::atomic::Ordering::SeqCst), retries);
    let calls = w.engine.calls_page(&w.campaign, None, 10).await.unwrap();
    assert_eq!(calls.len(), 1);
    match &calls[0].outcome {
        Some(CallOutcome::Failed {
            retryable: true,
            reason,
        }) => {
            assert!(reason.contains("primary"), "{reason}")
        }
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

/// Ends every live call at the carrier and loses its callbacks (the
/// server that should have received them was down).
fn end_calls_unheard(w: &World) {
    for sid in w.carrier.live_calls() {
        while w.carrier.step_call(&sid) {}
    }
    while w.carrier.take_delivery().is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_frees_the_slots_of_calls_that_ended_unheard_without_waiting_for_leases() {
    // GIVEN two live calls at cap 2 that end while their callbacks are lost
    let mut w = World::new(scenario(2, 6)).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().created, 2);
    end_calls_unheard(&w);

    // WHEN the (restarted) engine runs its first sweep, long before any lease ends
    w.tick(0).await;
    w.dispatch(10).await;

    // THEN the provider was asked, the slots are free and refilled at once
    assert_eq!(w.carrier.stats().created, 4);
    let view = w.engine.campaign_view(&w.campaign).await.unwrap();
    assert_eq!(view.progress.active, 2, "{:?}", view.progress);

    // AND later on, calls that end unheard are found by the periodic check,
    // not by every sweep
    end_calls_unheard(&w);
    w.tick(1).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().created, 4, "not checked on every sweep");
    let interval = voxdial_app::EngineConfig::default().reconcile_interval_secs;
    w.tick(u64::from(interval)).await;
    w.dispatch(10).await;
    assert_eq!(w.carrier.stats().created, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_dispatches_again_what_the_dead_process_left_half_done() {
    // GIVEN a campaign whose process took every dispatch message and died
    // having placed one call: two leads hold slots with no call placed
    let w = World::new(scenario(3, 6)).await;
    let taken = w
        .queue
        .receive(10, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(taken.len(), 3);
    w.engine.dispatch(&taken[0].message).await.unwrap();
    assert_eq!(w.carrier.live_calls().len(), 1);
    w.clock.advance(Duration::from_secs(1));
    let started = voxdial_domain::Clock::now(w.clock.as_ref());

    // WHEN a process that started before those claims looks, nothing ends
    let earlier = started - chrono::Duration::seconds(60);
    assert_eq!(w.engine.end_dead_dispatches(earlier).await.unwrap(), 0);
    // AND a process started after them ends the two dispatches' leases
    assert_eq!(w.engine.end_dead_dispatches(started).await.unwrap(), 2);

    // THEN its first sweep queues those two again at once, not after their
    // lease, and the cap's worth of calls is live once they are dispatched
    w.engine.sweep().await.unwrap();
    let again = w.queue.receive(10, Duration::ZERO).await.unwrap();
    let mut leads: Vec<_> = again.iter().map(|d| d.message.lead_id.clone()).collect();
    let mut left: Vec<_> = taken[1..]
        .iter()
        .map(|d| d.message.lead_id.clone())
        .collect();
    leads.sort();
    left.sort();
    assert_eq!(leads, left);
    for delivery in again {
        handle_delivery(&w.engine, w.queue.as_ref(), delivery).await;
    }
    assert_eq!(w.carrier.live_calls().len(), 3);
    // AND nothing was dialled twice
    w.check_carrier();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_settles_the_call_setups_the_dead_process_left_at_once() {
    // GIVEN a process that took both dispatch messages of a cap-2 campaign
    // and died placing both calls: one create request never reached the
    // carrier, the other did (the call rings) but its answer was lost
    let mut w = World::new(scenario(2, 6)).await;
    let store = w.engine.store().clone();
    let taken = w
        .queue
        .receive(10, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    let ids: Vec<CallId> = taken
        .iter()
        .map(|d| CallId::for_attempt(&d.message.lead_id, d.message.attempt))
        .collect();
    w.carrier.hold_requests();
    w.carrier.hold_responses();
    let setups: Vec<_> = taken
        .iter()
        .map(|delivery| {
            let (engine, message) = (w.engine.clone(), delivery.message.clone());
            tokio::spawn(async move { engine.dispatch(&message).await })
        })
        .collect();
    for id in &ids {
        while store.call(id).await.unwrap().is_none() {
            tokio::task::yield_now().await;
        }
    }
    w.carrier.release_requests(1);
    while w.carrier.live_calls().is_empty() {
        tokio::task::yield_now().await;
    }
    for setup in setups {
        setup.abort();
        assert!(setup.await.unwrap_err().is_cancelled());
    }
    w.clock.advance(Duration::from_secs(1));
    let started = voxdial_domain::Clock::now(w.clock.as_ref());

    // WHEN the next process starts: both setups are the dead process's
    assert_eq!(w.engine.end_dead_dispatches(started).await.unwrap(), 2);
    // AND its sweeps run through the grace a last request needs to land
    w.tick(0).await;
    let view = w.engine.campaign_view(&w.campaign).await.unwrap();
    assert_eq!(
        view.progress.active, 2,
        "held in the grace: {:?}",
        view.progress
    );
    w.tick(31).await;

    // THEN the call the carrier never got failed (its lead is retried
    // later), the one it has goes on with its provider id, and the freed
    // slot is refilled at once, not when the dead process's lease of a
    // whole call would have ended
    let mut calls = Vec::new();
    for id in &ids {
        calls.push(store.call(id).await.unwrap().unwrap());
    }
    calls.sort_by_key(|call| call.provider_sid.is_some());
    let [lost, placed] = &calls[..] else {
        unreachable!()
    };
    match &lost.outcome {
        Some(CallOutcome::Failed { reason, .. }) => {
            assert!(reason.contains("no provider"), "{reason}")
        }
        other => panic!("expected a failed setup, got {other:?}"),
    }
    assert!(placed.provider_sid.is_some(), "{placed:?}");
    assert!(!placed.state.is_terminal(), "{placed:?}");
    w.carrier.release_requests(10);
    w.carrier.release_responses(10);
    w.dispatch(10).await;
    assert_eq!(w.carrier.live_calls().len(), 2);
    let view = w.engine.campaign_view(&w.campaign).await.unwrap();
    assert_eq!(view.progress.active, 2, "{:?}", view.progress);
    // AND nothing was dialled twice or over the cap
    w.check_carrier();
}
