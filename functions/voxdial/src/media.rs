//! Simulated media for local runs: the Gemini Live simulator the hosted
//! bridge talks to, and the simulated callee the carrier connects to the
//! bridge for each answered call (its Media Streams client).
//!
//! Both sides play the same persona: the lead's `persona` custom field
//! (`interested`, `callback`, `transfer`, `opt_out`, …), or the voicemail
//! persona when the carrier decided a machine answers. The voice simulator
//! reads the persona from the system instruction, which carries the lead's
//! custom fields.
//!
//! The simulator can drop a share of its connections and send `goAway` on
//! another share mid-call ([`model_faults`], the `[simulator]` section's
//! `model_go_away` and `model_drop`): the bridge resumes those sessions.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use voxdial_app::Engine;
use voxdial_domain::CallId;
use voxdial_gemini::WsConnector;
use voxdial_sim::caller::answer_stream;
use voxdial_sim::carrier::{StreamHook, StreamRequest};
use voxdial_sim::voice::{ConnectionFaults, Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::gemini::LiveEndpoint;

/// When a configured model connection fault strikes after the session's
/// setup, simulated time: within a conversation's first exchanges, so that
/// it lands mid-call.
const MODEL_FAULT_WINDOW: (Duration, Duration) =
    (Duration::from_millis(500), Duration::from_secs(6));

/// The simulated model's connection faults: `go_away` and `drop` are the
/// shares of connections sent `goAway` and dropped (none when both are 0).
pub(crate) fn model_faults(go_away: f64, drop: f64) -> anyhow::Result<Option<ConnectionFaults>> {
    let share = 0.0..=1.0;
    if !share.contains(&go_away) || !share.contains(&drop) || go_away + drop > 1.0 {
        anyhow::bail!(
            "model_go_away ({go_away}) and model_drop ({drop}) are shares of connections: \
             each from 0 to 1, together at most 1"
        );
    }
    Ok((go_away > 0.0 || drop > 0.0).then_some(ConnectionFaults {
        go_away,
        drop,
        within: MODEL_FAULT_WINDOW,
    }))
}

/// Starts the Gemini Live simulator on loopback: its endpoint, the
/// simulator (for its counters) and the task serving it.
pub(crate) async fn serve_voice(
    config: VoiceSimConfig,
) -> anyhow::Result<(LiveEndpoint, Arc<VoiceSim>, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = LiveEndpoint {
        host: listener.local_addr()?.to_string(),
        insecure: true,
        ..LiveEndpoint::default()
    };
    let sim = VoiceSim::new(config);
    let task = tokio::spawn(serve_tcp(listener, sim.clone()));
    Ok((endpoint, sim, task))
}

/// Starts the Gemini Live simulator on loopback; returns the connector the
/// bridge opens model sessions with.
pub(crate) async fn simulated_voice(
    seed: u64,
    time_scale: f64,
    connection_faults: Option<ConnectionFaults>,
) -> anyhow::Result<(Arc<WsConnector>, JoinHandle<()>)> {
    let (endpoint, _, task) = serve_voice(VoiceSimConfig {
        seed,
        time_scale,
        connection_faults,
        ..VoiceSimConfig::default()
    })
    .await?;
    Ok((Arc::new(WsConnector::new(&endpoint, None)), task))
}

/// A Gemini Live endpoint from `--gemini-endpoint`: `host[:port]` (TLS), or
/// `ws://host:port` for a simulator without TLS, on loopback only: the API
/// key travels in the URL and must never cross a network in clear.
pub(crate) fn live_endpoint(url: Option<&str>) -> anyhow::Result<LiveEndpoint> {
    let Some(url) = url else {
        return Ok(LiveEndpoint::default());
    };
    let (host, insecure) = match url.strip_prefix("ws://") {
        Some(host) => (host, true),
        None => (url.strip_prefix("wss://").unwrap_or(url), false),
    };
    let host = host.trim_end_matches('/');
    if insecure && !is_loopback(host) {
        anyhow::bail!(
            "--gemini-endpoint {url}: plain ws:// is for a simulator on 127.0.0.1 only; \
             use host[:port] (TLS) for anything else"
        );
    }
    Ok(LiveEndpoint {
        host: host.to_string(),
        insecure,
        ..LiveEndpoint::default()
    })
}

/// Whether `host[:port]` names this machine's loopback interface.
fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    name == "localhost"
        || name
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whose persona the simulated callee plays.
#[derive(Clone)]
pub(crate) enum Personas {
    /// The lead's `persona` custom field, read through the runtime's engine
    /// once it is known (`not_interested` without one).
    OfLead(Arc<OnceLock<Engine>>),
    /// The same persona for every person who answers.
    Every(&'static str),
}

/// The carrier's stream hook: a simulated callee for each answered call,
/// once the runtime's engine (to read the lead's persona) and the Twilio
/// Auth Token (to sign the stream upgrade) are known.
pub(crate) fn simulated_callee(
    personas: Personas,
    auth_token: Arc<OnceLock<String>>,
    time_scale: f64,
) -> StreamHook {
    Arc::new(move |request: StreamRequest| {
        let (personas, auth_token) = (personas.clone(), auth_token.clone());
        Box::pin(async move {
            let persona = persona_of(&personas, &request).await;
            answer_stream(request, persona, auth_token.get().cloned(), time_scale).await;
        })
    })
}

async fn persona_of(personas: &Personas, request: &StreamRequest) -> Persona {
    let fallback = || Persona::by_name("not_interested").expect("a catalog persona");
    if request.machine {
        return Persona::by_name("voicemail").unwrap_or_else(fallback);
    }
    let engine = match personas {
        Personas::OfLead(engine) => engine,
        Personas::Every(name) => return Persona::by_name(name).unwrap_or_else(fallback),
    };
    let call_id = request
        .parameters
        .iter()
        .find(|(k, _)| k == "call_id")
        .and_then(|(_, v)| CallId::parse(v).ok());
    let (Some(engine), Some(call_id)) = (engine.get(), call_id) else {
        return fallback();
    };
    let named = match engine.call_facts(&call_id).await {
        Ok(facts) => facts
            .lead
            .custom
            .get("persona")
            .and_then(|name| Persona::by_name(name)),
        Err(_) => None,
    };
    // A person never plays the voicemail persona.
    named
        .filter(|p| p.name != "voicemail")
        .unwrap_or_else(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_faults_are_shares_of_connections() {
        assert_eq!(model_faults(0.0, 0.0).unwrap(), None);
        let faults = model_faults(0.2, 0.1).unwrap().unwrap();
        assert_eq!((faults.go_away, faults.drop), (0.2, 0.1));
        assert_eq!(faults.within, MODEL_FAULT_WINDOW);
        for (go_away, drop) in [(1.5, 0.0), (0.0, -0.1), (0.6, 0.6), (f64::NAN, 0.0)] {
            let error = model_faults(go_away, drop).unwrap_err().to_string();
            assert!(error.contains("shares of connections"), "{error}");
        }
    }

    #[test]
    fn a_live_endpoint_is_a_host_or_a_plain_websocket_url_on_loopback() {
        assert_eq!(live_endpoint(None).unwrap(), LiveEndpoint::default());
        let sim = live_endpoint(Some("ws://127.0.0.1:9000/")).unwrap();
        assert_eq!((sim.host.as_str(), sim.insecure), ("127.0.0.1:9000", true));
        assert!(sim.url().starts_with("ws://127.0.0.1:9000/ws/"));
        assert!(live_endpoint(Some("ws://[::1]:9000")).unwrap().insecure);
        assert!(live_endpoint(Some("ws://localhost:9000")).unwrap().insecure);
        let edge = live_endpoint(Some("wss://edge.example.com")).unwrap();
        assert_eq!(
            (edge.host.as_str(), edge.insecure),
            ("edge.example.com", false)
        );
        assert!(!live_endpoint(Some("edge.example.com")).unwrap().insecure);
        for clear in [
            "ws://edge.example.com",
            "ws://10.0.0.5:9000",
            "ws://127.0.0.1.example.com",
        ] {
            let error = live_endpoint(Some(clear)).unwrap_err().to_string();
            assert!(
                error.contains("loopback") || error.contains("127.0.0.1 only"),
                "{error}"
            );
        }
    }
}
