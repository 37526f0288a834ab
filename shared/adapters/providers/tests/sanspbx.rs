//! The SansPBX adapter against the simulated PBX over real HTTP on
//! 127.0.0.1: token caching, refresh before expiry, one retry after a 401;
//! dial, disconnect, status lookup; 429, 5xx, outages, refusals, an
//! unanswered dial; number rules; the webhook's shared secret.

mod common;

use std::time::Duration;

use common::*;
use voxdial_domain::{
    AnswerInstruction, CallEventKind, ProviderCallSid, ProviderError, TelephonyProvider,
    TransferTarget, WebhookError,
};
use voxdial_providers::SansPbxProvider;
use voxdial_providers::sanspbx::{InternationalFormat, NumberRules, WebhookAuth};
use voxdial_sim::carrier::{CreateFault, Outage};

const MUMBAI: &str = "+919876543210";
const DID: &str = "+912240001234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sanspbx_adapter_keeps_the_provider_contract() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let mut config = sim.sanspbx_config();
    config.api.status_path = Some(voxdial_sim::sanspbx::Paths::default().status);
    let pbx = SansPbxProvider::new(config).unwrap();
    lifecycle_contract(&pbx, &hooks, place(&hooks, "sanspbx", 1, MUMBAI, DID)).await;
    let stats = sim.carrier.stats();
    assert_eq!(stats.by_provider["sanspbx"].calls_created, 1);
    assert_eq!(sim.pbx.stats().tokens_issued, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_refreshed_before_expiry_and_renewed_after_a_401() {
    let sim = Sim::with(|_, pbx| pbx.token_ttl_secs = 3600).await;
    let hooks = Hooks::start().await;
    let pbx = sim.sanspbx();

    // GIVEN two dials: one token serves both.
    for n in 0..2 {
        pbx.place_call(&place(&hooks, "sanspbx", 10 + n, MUMBAI, DID))
            .await
            .unwrap();
    }
    assert_eq!(sim.pbx.stats().tokens_issued, 1);

    // WHEN the token is within a minute of its expiry, a new one is fetched
    // before dialling: the PBX never sees the old one refused.
    sim.clock
        .advance_to(now(&sim) + chrono::Duration::seconds(3600 - 30));
    pbx.place_call(&place(&hooks, "sanspbx", 12, MUMBAI, DID))
        .await
        .unwrap();
    let stats = sim.pbx.stats();
    assert_eq!((stats.tokens_issued, stats.unauthorized), (2, 0));

    // WHEN the PBX forgets its tokens (a restart), the dial is refused with
    // 401, the adapter fetches a token and sends the dial once more.
    sim.pbx.revoke_tokens();
    pbx.place_call(&place(&hooks, "sanspbx", 13, MUMBAI, DID))
        .await
        .unwrap();
    let stats = sim.pbx.stats();
    assert_eq!((stats.tokens_issued, stats.unauthorized), (3, 1));
    assert_eq!(sim.carrier.stats().calls_created, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_access_key_is_transient_and_dials_nothing() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let mut config = sim.sanspbx_config();
    config.access_key = "wrong".into();
    let pbx = SansPbxProvider::new(config).unwrap();
    let error = pbx
        .place_call(&place(&hooks, "sanspbx", 20, MUMBAI, DID))
        .await
        .unwrap_err();
    assert!(error.allows_fallback(), "{error:?}");
    assert_eq!(sim.pbx.stats().dial_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_classified() {
    let start = start_time();
    let sim = Sim::with(move |_, pbx| {
        pbx.outages = vec![Outage {
            from: start + chrono::Duration::hours(1),
            until: start + chrono::Duration::hours(2),
        }];
    })
    .await;
    let hooks = Hooks::start().await;
    let pbx = sim.sanspbx();
    sim.pbx.script_dial_faults([
        CreateFault::RateLimited,
        CreateFault::ServerError,
        CreateFault::InvalidNumber,
        CreateFault::GeoPermission,
    ]);
    let mut results = Vec::new();
    for n in 0..4 {
        results.push(
            pbx.place_call(&place(&hooks, "sanspbx", 30 + n, MUMBAI, DID))
                .await
                .unwrap_err(),
        );
    }
    assert!(matches!(results[0], ProviderError::RateLimited { .. }));
    assert!(matches!(results[1], ProviderError::Transient { .. }));
    for refused in &results[2..] {
        assert!(
            matches!(refused, ProviderError::Permanent { code, .. } if code == "http-400"),
            "{refused:?}"
        );
        assert!(!refused.allows_fallback());
    }
    sim.clock.advance_to(start + chrono::Duration::minutes(90));
    let error = pbx
        .place_call(&place(&hooks, "sanspbx", 34, MUMBAI, DID))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
    let stats = sim.carrier.stats();
    assert_eq!(stats.calls_created, 0);
    assert_eq!(stats.by_provider["sanspbx"].outage_refusals, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_whose_answer_never_comes_is_not_retried() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let mut config = sim.sanspbx_config();
    config.request_timeout = Duration::from_millis(300);
    let pbx = SansPbxProvider::new(config).unwrap();
    // The token first, so that only the dial stalls.
    pbx.place_call(&place(&hooks, "sanspbx", 40, MUMBAI, DID))
        .await
        .unwrap();
    sim.pbx
        .script_dial_faults([CreateFault::Stall { millis: 1_500 }]);
    let error = pbx
        .place_call(&place(&hooks, "sanspbx", 41, MUMBAI, DID))
        .await
        .unwrap_err();
    // The PBX did create it; the adapter cannot know, so it neither retries
    // nor lets the dispatcher fall over to another provider.
    assert!(
        matches!(&error, ProviderError::Permanent { code, .. } if code == "ambiguous"),
        "{error:?}"
    );
    assert!(!error.allows_fallback());
    assert_eq!(sim.carrier.stats().max_dials_per_attempt, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_formatted_or_refused_before_any_request() {
    let sim = Sim::start().await;
    let hooks = Hooks::start().await;
    let domestic_only = sim.sanspbx();
    let error = domestic_only
        .place_call(&place(&hooks, "sanspbx", 50, "+12125550100", DID))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProviderError::Permanent { code, .. } if code == "number"),
        "{error:?}"
    );
    assert_eq!(sim.pbx.stats().dial_requests, 0);

    let mut config = sim.sanspbx_config();
    config.numbers = NumberRules {
        international: InternationalFormat::Prefix00,
        ..NumberRules::default()
    };
    let abroad = SansPbxProvider::new(config).unwrap();
    abroad
        .place_call(&place(&hooks, "sanspbx", 51, "+12125550100", DID))
        .await
        .unwrap();
    // The simulated PBX read `0012125550100` back as the US number.
    assert_eq!(sim.carrier.stats().calls_created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_lookup_and_what_sanspbx_cannot_do() {
    let sim = Sim::with(|config, _| config.profile.ring_secs = (400.0, 500.0)).await;
    let hooks = Hooks::start().await;
    let mut config = sim.sanspbx_config();
    config.api.status_path = Some(voxdial_sim::sanspbx::Paths::default().status);
    let pbx = SansPbxProvider::new(config).unwrap();
    let placed = pbx
        .place_call(&place(&hooks, "sanspbx", 60, MUMBAI, DID))
        .await
        .unwrap();
    let view = pbx.fetch_call(&placed.sid).await.unwrap();
    assert!(!view.status.is_terminal(), "{view:?}");

    let transfer = TransferTarget::Cold {
        to: number("+919812345678"),
        caller_id: number(DID),
    };
    for error in [
        pbx.transfer(&placed.sid, &transfer).await.unwrap_err(),
        pbx.redirect(
            &placed.sid,
            &AnswerInstruction::Say {
                text: "hello".into(),
            },
        )
        .await
        .unwrap_err(),
    ] {
        assert!(
            matches!(&error, ProviderError::Permanent { code, .. } if code == "not-supported"),
            "{error:?}"
        );
    }
    assert!(
        pbx.find_call(
            &place(&hooks, "sanspbx", 60, MUMBAI, DID).call_id,
            &number(MUMBAI),
            now(&sim)
        )
        .await
        .unwrap()
        .is_none()
    );

    // Hanging up (as a redirect to "hang up" does) cancels the ringing call.
    pbx.redirect(&placed.sid, &AnswerInstruction::Hangup)
        .await
        .unwrap();
    let (events, _) = hooks.events_until_end(&pbx).await;
    let end = events.iter().find(|e| e.kind.is_terminal()).unwrap();
    assert_eq!(end.kind, CallEventKind::Canceled);
    let view = pbx.fetch_call(&placed.sid).await.unwrap();
    assert_eq!(view.status, CallEventKind::Canceled);
    // Hanging up again, or an unknown call, is not an error.
    pbx.hangup(&placed.sid).await.unwrap();
    pbx.hangup(&ProviderCallSid::parse("999").unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_status_endpoint_the_sweeper_s_lookup_ends_the_call() {
    let sim = Sim::with(|config, _| config.profile.ring_secs = (400.0, 500.0)).await;
    let hooks = Hooks::start().await;
    let pbx = sim.sanspbx();
    let placed = pbx
        .place_call(&place(&hooks, "sanspbx", 70, MUMBAI, DID))
        .await
        .unwrap();
    let view = pbx.fetch_call(&placed.sid).await.unwrap();
    assert_eq!(view.status, CallEventKind::Failed);
    let stats = sim.pbx.stats();
    assert_eq!((stats.disconnect_requests, stats.status_requests), (1, 0));
    let carrier = sim.carrier.clone();
    eventually("the call to end", move || carrier.stats().live_calls == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_secrets_are_checked() {
    // GIVEN a PBX that also sends a shared-secret header
    let sim = Sim::with(|_, pbx| {
        pbx.webhook_header = Some(("X-Voxdial-Secret".into(), WEBHOOK_SECRET.into()));
    })
    .await;
    let hooks = Hooks::start().await;
    let signed = sim.sanspbx();
    signed
        .place_call(&place(&hooks, "sanspbx", 80, MUMBAI, DID))
        .await
        .unwrap();
    let (events, raw) = hooks.events_until_end(&signed).await;
    let end = events.iter().position(|e| e.kind.is_terminal()).unwrap();
    assert_eq!(events[end].kind, CallEventKind::Completed);
    let genuine = raw[end].clone();

    // A header-checking adapter accepts the header, not a wrong one or none.
    let mut config = sim.sanspbx_config();
    config.webhook_auth = WebhookAuth::Header {
        name: "X-Voxdial-Secret".into(),
    };
    let by_header = SansPbxProvider::new(config).unwrap();
    assert!(by_header.parse_status_webhook(&genuine).is_ok());
    let mut wrong = genuine.clone();
    for (name, value) in &mut wrong.headers {
        if name == "x-voxdial-secret" {
            *value = "a-webhook-secret-of-some-lengtH".into();
        }
    }
    let mut none = genuine.clone();
    none.headers.retain(|(name, _)| name != "x-voxdial-secret");
    for request in [&wrong, &none] {
        assert!(matches!(
            by_header.parse_status_webhook(request),
            Err(WebhookError::Forbidden)
        ));
    }

    // A signed URL made with another secret is refused.
    let mut config = sim.sanspbx_config();
    config.webhook_secret = "another-secret-of-some-length".into();
    let other = SansPbxProvider::new(config).unwrap();
    assert!(matches!(
        other.parse_status_webhook(&genuine),
        Err(WebhookError::Forbidden)
    ));
    // SansPBX has no answer webhook.
    assert!(matches!(
        signed.parse_answer_webhook(&genuine),
        Err(WebhookError::BadRequest(_))
    ));
}
