//! The Twilio adapter against the simulated carrier over real HTTP on
//! 127.0.0.1: create, fetch, update (hang-up, redirect, transfer), list;
//! 429, 5xx, outages, permanent refusals, bad credentials, an unanswered
//! create; signed webhooks.

mod common;

use std::time::Duration;

use common::*;
use voxdial_domain::{
    AnswerInstruction, CallEventKind, ProviderError, TelephonyProvider, TransferTarget,
};
use voxdial_sim::carrier::{CreateFault, Outage, Whisper};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twilio_adapter_keeps_the_provider_contract() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    lifecycle_contract(
        &twilio,
        &hooks,
        place(&hooks, "twilio", 1, "+12125550100", "+14155550100"),
    )
    .await;
    assert_eq!(sim.carrier.stats().by_provider["twilio"].calls_created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_fetch_find_update_and_hang_up() {
    let sim = Sim::with(|config, _| {
        // Long rings, so that the call is still live when it is hung up.
        config.profile.ring_secs = (400.0, 500.0);
    })
    .await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    let call = place(&hooks, "twilio", 2, "+12125550100", "+14155550100");
    let since = now(&sim);

    // GIVEN a placed call
    let placed = twilio.place_call(&call).await.unwrap();
    assert!(placed.sid.as_str().starts_with("CA"));

    // THEN fetch sees it live, and the list finds it by number and time.
    let view = twilio.fetch_call(&placed.sid).await.unwrap();
    assert_eq!(view.sid, placed.sid);
    assert!(!view.status.is_terminal(), "{view:?}");
    let found = twilio
        .find_call(&call.call_id, &call.to, since)
        .await
        .unwrap()
        .expect("the list finds the call");
    assert_eq!(found.sid, placed.sid);
    assert_eq!(
        twilio
            .find_call(&call.call_id, &number("+12125550199"), since)
            .await
            .unwrap(),
        None
    );

    // WHEN a redirect is asked of a call not yet answered, the carrier takes
    // the TwiML; WHEN it is hung up before the answer, it is canceled.
    twilio
        .redirect(&placed.sid, &AnswerInstruction::Hangup)
        .await
        .unwrap();
    assert_eq!(sim.carrier.stats().redirects, 1);
    // A warm transfer moves the call into a conference and dials the human
    // agent on a leg of their own, which hears the summary, then joins.
    let warm = TransferTarget::Warm {
        conference: "xfer call-2".into(),
        to: number("+12125550111"),
        caller_id: number("+14155550100"),
        whisper: "Ana, a caller wants a quote for two vans.".into(),
        status_url: Some(format!(
            "{}/webhooks/twilio/status?call_id=call-2&leg=agent",
            hooks.base_url
        )),
    };
    twilio.transfer(&placed.sid, &warm).await.unwrap();
    let stats = sim.carrier.stats();
    assert_eq!((stats.redirects, stats.agent_legs), (2, 1));
    let carrier = sim.carrier.clone();
    eventually("the agent to join", move || !carrier.whispers().is_empty()).await;
    assert_eq!(
        sim.carrier.whispers(),
        [Whisper {
            to: "+12125550111".into(),
            conference: "xfer call-2".into(),
            said: vec!["Ana, a caller wants a quote for two vans.".into()],
        }],
        "the whisper is said on the agent's leg, before it joins"
    );
    twilio.hangup(&placed.sid).await.unwrap();
    let carrier = sim.carrier.clone();
    eventually("the call to end", move || {
        carrier.stats().outcomes.contains_key("canceled")
    })
    .await;
    let ended = twilio.fetch_call(&placed.sid).await.unwrap();
    assert_eq!(ended.status, CallEventKind::Canceled);
    assert_eq!(sim.carrier.stats().hangups, 1);
    // Hanging up or transferring an ended call.
    twilio.hangup(&placed.sid).await.unwrap();
    let transfer = TransferTarget::Cold {
        to: number("+12125550111"),
        caller_id: number("+14155550100"),
    };
    assert!(matches!(
        twilio.transfer(&placed.sid, &transfer).await,
        Err(ProviderError::Permanent { code, .. }) if code == "21220"
    ));
    // An unknown call.
    let unknown = voxdial_domain::ProviderCallSid::parse("CA0000").unwrap();
    assert!(matches!(
        twilio.fetch_call(&unknown).await,
        Err(ProviderError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_rate_limited_with_their_retry_after() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    sim.carrier.script_create_faults([CreateFault::RateLimited]);
    let call = place(&hooks, "twilio", 3, "+12125550100", "+14155550100");
    match twilio.place_call(&call).await {
        Err(ProviderError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Nothing was created, and the retry goes through.
    assert_eq!(sim.carrier.stats().calls_created, 0);
    twilio.place_call(&call).await.unwrap();
    let stats = sim.carrier.stats();
    assert_eq!((stats.calls_created, stats.rate_limited), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_outages_are_transient() {
    let start = start_time();
    let sim = Sim::with(move |config, _| {
        config.outages = vec![Outage {
            from: start + chrono::Duration::hours(1),
            until: start + chrono::Duration::hours(2),
        }];
    })
    .await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    sim.carrier
        .script_create_faults([CreateFault::ServerError, CreateFault::Unavailable]);
    for n in 0..2 {
        let call = place(&hooks, "twilio", 10 + n, "+12125550100", "+14155550100");
        let error = twilio.place_call(&call).await.unwrap_err();
        assert!(
            matches!(error, ProviderError::Transient { .. }) && error.allows_fallback(),
            "{error:?}"
        );
    }
    // During the outage window, every create is refused as unavailable.
    sim.clock.advance_to(start + chrono::Duration::minutes(90));
    let call = place(&hooks, "twilio", 12, "+12125550100", "+14155550100");
    let error = twilio.place_call(&call).await.unwrap_err();
    assert!(error.to_string().contains("503"), "{error}");
    assert_eq!(sim.carrier.stats().outage_refusals, 1);
    assert_eq!(sim.carrier.stats().calls_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusals_carry_twilio_s_code_and_forbid_fallback() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    sim.carrier
        .script_create_faults([CreateFault::InvalidNumber, CreateFault::GeoPermission]);
    for (n, expected) in [(20, "21211"), (21, "21215")] {
        let call = place(&hooks, "twilio", n, "+12125550100", "+14155550100");
        match twilio.place_call(&call).await {
            Err(error @ ProviderError::Permanent { .. }) => {
                assert!(!error.allows_fallback());
                let ProviderError::Permanent { code, .. } = error else {
                    unreachable!()
                };
                assert_eq!(code, expected);
            }
            other => panic!("expected a permanent refusal, got {other:?}"),
        }
    }
    assert_eq!(sim.carrier.stats().calls_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_an_unreachable_api_fall_over() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let mut config = sim.twilio_config();
    config.auth_token = "not-the-token".into();
    let wrong = voxdial_providers::TwilioProvider::new(config).unwrap();
    let call = place(&hooks, "twilio", 30, "+12125550100", "+14155550100");
    let error = wrong.place_call(&call).await.unwrap_err();
    assert!(error.allows_fallback(), "{error:?}");
    assert!(error.to_string().contains("credentials"), "{error}");

    let mut config = sim.twilio_config();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = voxdial_providers::TwilioProvider::new(config).unwrap();
    let error = unreachable.place_call(&call).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    assert_eq!(sim.carrier.stats().calls_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_never_comes_is_found_not_dialled_again() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let mut config = sim.twilio_config();
    // The carrier creates the call as soon as the request arrives: two
    // seconds for that is plenty on any machine, however busy.
    config.request_timeout = Duration::from_secs(2);
    let twilio = voxdial_providers::TwilioProvider::new(config).unwrap();
    // GIVEN Twilio creates the call but answers too late
    sim.carrier
        .script_create_faults([CreateFault::Stall { millis: 60_000 }]);
    let call = place(&hooks, "twilio", 40, "+12125550100", "+14155550100");
    // WHEN the request times out
    let placed = twilio.place_call(&call).await.unwrap();
    // THEN the adapter found the call instead of failing (and a retry
    // dialling a second time)
    let stats = sim.carrier.stats();
    assert_eq!(stats.calls_created, 1);
    assert_eq!(stats.max_dials_per_attempt, 1);
    let view = twilio.fetch_call(&placed.sid).await.unwrap();
    assert_eq!(view.sid, placed.sid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_signed_with_another_token_are_forbidden() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let twilio = sim.twilio();
    twilio
        .place_call(&place(&hooks, "twilio", 50, "+12125550100", "+14155550100"))
        .await
        .unwrap();
    let request = loop {
        let request = hooks.next(20).await.expect("a callback");
        if request.public_url.contains("/status") {
            break request;
        }
    };
    assert!(twilio.parse_status_webhook(&request).is_ok());
    let mut config = sim.twilio_config();
    config.auth_token = "another-token".into();
    let other = voxdial_providers::TwilioProvider::new(config).unwrap();
    assert!(matches!(
        other.parse_status_webhook(&request),
        Err(voxdial_domain::WebhookError::Forbidden)
    ));
    assert!(matches!(
        other.parse_answer_webhook(&request),
        Err(voxdial_domain::WebhookError::Forbidden)
    ));
}
