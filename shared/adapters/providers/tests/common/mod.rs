//! Helpers of the adapter tests: the simulated carrier with both
//! personalities on 127.0.0.1, a webhook receiver, bounded waits, and the
//! contract every `TelephonyProvider` adapter must keep.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::any;
use chrono::{TimeZone, Utc};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use voxdial_app::clock::ScaledClock;
use voxdial_domain::{
    AmdMode, CallEvent, CallEventKind, CallId, CampaignId, Clock, E164, LeadId, PlaceCall,
    ProviderId, TelephonyProvider, WebhookError, WebhookRequest,
};
use voxdial_providers::{SansPbxConfig, SansPbxProvider, TwilioConfig, TwilioProvider};
use voxdial_sim::carrier::{CallProfile, Carrier, CarrierConfig};
use voxdial_sim::sanspbx::{SansPbx, SansPbxConfig as PbxConfig};
use voxdial_sim::time::SimTime;

pub const ACCOUNT_SID: &str = "AC00000000000000000000000000test";
pub const AUTH_TOKEN: &str = "test-auth-token";
pub const ACCESS_TOKEN: &str = "pbx-access-token";
pub const ACCESS_KEY: &str = "pbx-access-key";
pub const WEBHOOK_SECRET: &str = "a-webhook-secret-of-some-length";
/// How many times faster than real time the simulated clock runs.
pub const SCALE: f64 = 200.0;

/// Webhook requests as the handler sees them.
pub struct Hooks {
    pub base_url: String,
    rx: Mutex<mpsc::UnboundedReceiver<WebhookRequest>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hooks {
    /// A receiver on 127.0.0.1 that answers 200 to everything and keeps
    /// what it got.
    pub async fn start() -> Hooks {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let public = base_url.clone();
        let app = axum::Router::new().fallback(any(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (tx, public) = (tx.clone(), public.clone());
                async move {
                    let request = WebhookRequest {
                        method: method.to_string(),
                        public_url: format!(
                            "{public}{}",
                            uri.path_and_query().map_or("/", |pq| pq.as_str())
                        ),
                        headers: headers
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((
                                    k.as_str().to_ascii_lowercase(),
                                    v.to_str().ok()?.to_string(),
                                ))
                            })
                            .collect(),
                        body: body.to_vec(),
                    };
                    let answer = request.public_url.contains("/answer");
                    let _ = tx.send(request);
                    // The answer webhook gets a few seconds of talk.
                    let twiml = if answer {
                        "<Response><Say>Hello from the test.</Say><Pause length=\"3\"/></Response>"
                    } else {
                        ""
                    };
                    (
                        StatusCode::OK,
                        [(axum::http::header::CONTENT_TYPE, "text/xml")],
                        twiml,
                    )
                }
            },
        ));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Hooks {
            base_url,
            rx: Mutex::new(rx),
            task,
        }
    }

    /// The next request, waiting at most `secs` real seconds.
    pub async fn next(&self, secs: u64) -> Option<WebhookRequest> {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.lock().await.recv())
            .await
            .ok()
            .flatten()
    }

    /// Status webhooks of `provider`, parsed, until a terminal event (or
    /// the wait runs out) and for a moment after it, since webhooks are
    /// separate requests that may overtake one another; answer and
    /// recording webhooks are left out.
    pub async fn events_until_end(
        &self,
        provider: &dyn TelephonyProvider,
    ) -> (Vec<CallEvent>, Vec<WebhookRequest>) {
        let mut events = Vec::new();
        let mut raw = Vec::new();
        // Answer and recording webhooks are not status events; a recording
        // webhook may even overtake the call's last status callback.
        let not_status = |r: &WebhookRequest| {
            r.public_url.contains("/answer") || r.public_url.contains("/recording")
        };
        while let Some(request) = self.next(20).await {
            if not_status(&request) {
                continue;
            }
            let event = provider
                .parse_status_webhook(&request)
                .unwrap_or_else(|e| panic!("webhook refused: {e}: {request:?}"));
            raw.push(request);
            let end = event.kind.is_terminal();
            events.push(event);
            if end {
                break;
            }
        }
        while let Ok(Some(request)) =
            tokio::time::timeout(Duration::from_millis(300), self.next(1)).await
        {
            if not_status(&request) {
                continue;
            }
            if let Ok(event) = provider.parse_status_webhook(&request) {
                events.push(event);
                raw.push(request);
            }
        }
        (events, raw)
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The simulated carrier with its two personalities.
pub struct Sim {
    pub clock: Arc<ScaledClock>,
    pub carrier: Carrier,
    pub pbx: SansPbx,
    pub twilio_url: String,
    pub pbx_url: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Simulated time starts on a weekday morning in New York.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap()
}

impl Sim {
    /// Calls that are answered by people and talk briefly.
    pub async fn start() -> Sim {
        Sim::with(|_, _| {}).await
    }

    /// Like [`Sim::start`], with the configurations adjusted by `tweak`.
    pub async fn with(tweak: impl FnOnce(&mut CarrierConfig, &mut PbxConfig)) -> Sim {
        let clock = Arc::new(ScaledClock::new(start_time(), SCALE));
        let time = SimTime::new(clock.clone(), SCALE);
        let mut config = CarrierConfig::new(ACCOUNT_SID, AUTH_TOKEN, 7);
        config.profile = CallProfile {
            human: 1.0,
            machine: 0.0,
            busy: 0.0,
            failed: 0.0,
            ring_secs: (2.0, 3.0),
            talk_secs: (5.0, 8.0),
            ..CallProfile::default()
        };
        let mut pbx = PbxConfig::new(ACCESS_TOKEN, ACCESS_KEY);
        tweak(&mut config, &mut pbx);
        let carrier = Carrier::new(config, time);
        let pbx = SansPbx::new(&carrier, pbx);
        let twilio_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pbx_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let twilio_url = format!("http://{}", twilio_listener.local_addr().unwrap());
        let pbx_url = format!("http://{}", pbx_listener.local_addr().unwrap());
        let tasks = vec![carrier.serve(twilio_listener), pbx.serve(pbx_listener)];
        Sim {
            clock,
            carrier,
            pbx,
            twilio_url,
            pbx_url,
            tasks,
        }
    }

    /// A Twilio adapter pointed at the simulator.
    pub fn twilio(&self) -> TwilioProvider {
        TwilioProvider::new(self.twilio_config()).unwrap()
    }

    pub fn twilio_config(&self) -> TwilioConfig {
        let mut config = TwilioConfig::new(pid("twilio"), ACCOUNT_SID, AUTH_TOKEN);
        config.api_base = self.twilio_url.clone();
        config.clock = self.clock.clone();
        config.request_timeout = Duration::from_secs(5);
        config
    }

    /// A SansPBX adapter pointed at the simulator.
    pub fn sanspbx(&self) -> SansPbxProvider {
        SansPbxProvider::new(self.sanspbx_config()).unwrap()
    }

    pub fn sanspbx_config(&self) -> SansPbxConfig {
        let mut config = SansPbxConfig::new(
            pid("sanspbx"),
            self.pbx_url.clone(),
            ACCESS_TOKEN,
            ACCESS_KEY,
            1,
            WEBHOOK_SECRET,
        );
        config.clock = self.clock.clone();
        config.request_timeout = Duration::from_secs(5);
        config
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub fn pid(id: &str) -> ProviderId {
    ProviderId::parse(id).unwrap()
}

pub fn number(text: &str) -> E164 {
    E164::parse(text, None).unwrap()
}

/// A call request to `to` from `from` whose webhooks go to `hooks`.
pub fn place(hooks: &Hooks, provider: &str, n: u32, to: &str, from: &str) -> PlaceCall {
    let call_id = CallId::for_attempt(&LeadId::parse(format!("lead{n}")).unwrap(), 1);
    let campaign_id = CampaignId::parse("cmp_test").unwrap();
    let url = |kind: &str| {
        format!(
            "{}/webhooks/{provider}/{kind}?campaign_id={campaign_id}&call_id={call_id}",
            hooks.base_url
        )
    };
    PlaceCall {
        call_id: call_id.clone(),
        campaign_id: campaign_id.clone(),
        to: number(to),
        from: number(from),
        answer_url: url("answer"),
        status_url: url("status"),
        recording_status_url: Some(url("recording")),
        amd: AmdMode::Async,
        amd_status_url: Some(url("status")),
        record: true,
        ring_timeout_secs: 30,
        time_limit_secs: 600,
        media_token: None,
    }
}

/// Waits (bounded, real time) until `done` holds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The contract every adapter keeps against its simulated provider:
/// a placed call's webhooks verify and parse into events of that call, in
/// lifecycle order, ending in one terminal event; the provider then reports
/// the call as ended; hanging up an ended call is not an error; and a
/// webhook whose authentication is tampered with is refused.
pub async fn lifecycle_contract(provider: &dyn TelephonyProvider, hooks: &Hooks, call: PlaceCall) {
    let placed = provider
        .place_call(&call)
        .await
        .expect("the call is placed");
    let (events, raw) = hooks.events_until_end(provider).await;
    let terminal: Vec<&CallEvent> = events.iter().filter(|e| e.kind.is_terminal()).collect();
    assert_eq!(terminal.len(), 1, "one terminal event: {events:?}");
    let last = terminal[0];
    assert_eq!(last.kind, CallEventKind::Completed, "{events:?}");
    assert!(last.duration_secs.unwrap_or(0) > 0, "{last:?}");
    for event in &events {
        assert_eq!(event.call_id.as_ref(), Some(&call.call_id));
        assert_eq!(event.provider_sid.as_ref(), Some(&placed.sid));
        assert_eq!(&event.provider, provider.id());
    }
    let kinds: Vec<CallEventKind> = events
        .iter()
        .map(|e| e.kind)
        .filter(|k| *k != CallEventKind::MachineDetection)
        .collect();
    assert!(kinds.contains(&CallEventKind::Ringing), "{kinds:?}");
    assert!(kinds.contains(&CallEventKind::Answered), "{kinds:?}");
    // Sequence numbers are distinct, the terminal event's the highest
    // (arrival order is not guaranteed).
    let mut sequences: Vec<u64> = events.iter().filter_map(|e| e.sequence).collect();
    sequences.sort_unstable();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    assert_eq!(last.sequence, sequences.last().copied(), "{events:?}");

    // The provider's own view agrees, and hanging up again is harmless.
    let view = provider.fetch_call(&placed.sid).await.expect("fetch");
    assert!(view.status.is_terminal(), "{view:?}");
    provider
        .hangup(&placed.sid)
        .await
        .expect("hanging up an ended call");

    // Tampering with what authenticates a webhook gets it refused.
    let genuine = raw
        .iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains("completed"))
        .expect("the terminal webhook")
        .clone();
    let mut forged = genuine.clone();
    forged.body = String::from_utf8_lossy(&forged.body)
        .replace("completed", "busy")
        .into_bytes();
    let mut unsigned = genuine.clone();
    unsigned.headers.clear();
    unsigned.public_url = strip_query_param(&unsigned.public_url, "sig");
    let mut elsewhere = genuine.clone();
    elsewhere.public_url = elsewhere
        .public_url
        .replace("call_id=", "call_id=x")
        .replace("campaign_id=", "campaign_id=x");
    for (what, request) in [
        ("an unsigned request", unsigned),
        ("a request for another URL", elsewhere),
    ] {
        assert!(
            matches!(
                provider.parse_status_webhook(&request),
                Err(WebhookError::Forbidden)
            ),
            "{what} must be refused"
        );
    }
    // A forged body is refused. Twilio signs the body; SansPBX's secret
    // covers only the URL, so its forged body is one that names another
    // call than the signed URL (a changed status of the same call cannot be
    // detected, see the SansPBX module doc; its provider call id is checked
    // against the stored one by the engine).
    let forged = if provider.id().as_str() == "twilio" {
        forged
    } else {
        let mut other = genuine.clone();
        other.body = String::from_utf8_lossy(&other.body)
            .replace(call.call_id.as_str(), "ca_someone_else_1")
            .into_bytes();
        assert_ne!(other.body, genuine.body, "the body names its call");
        other
    };
    assert!(
        matches!(
            provider.parse_status_webhook(&forged),
            Err(WebhookError::Forbidden)
        ),
        "a forged body must be refused"
    );
}

/// `url` without query parameter `name`.
pub fn strip_query_param(url: &str, name: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| p.split('=').next() != Some(name))
        .collect();
    if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    }
}

/// The clock's current time.
pub fn now(sim: &Sim) -> voxdial_domain::Timestamp {
    sim.clock.now()
}
