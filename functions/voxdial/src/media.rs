//! Simulated media for local runs: the Gemini Live simulator the hosted
//! bridge talks to, and the simulated callee the carrier connects to the
//! bridge for each answered call (its Media Streams client).
//!
//! Both sides play the same persona: the lead's `persona` custom field
//! (`interested`, `callback`, `transfer`, `opt_out`, …), or the voicemail
//! persona when the carrier decided a machine answers. The voice simulator
//! reads the persona from the system instruction, which carries the lead's
//! custom fields.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use voxdial_app::Engine;
use voxdial_domain::CallId;
use voxdial_gemini::WsConnector;
use voxdial_sim::caller::{CallerConfig, run_caller};
use voxdial_sim::carrier::{StreamHook, StreamRequest};
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::gemini::LiveEndpoint;

/// Starts the Gemini Live simulator on loopback; returns the connector the
/// bridge opens model sessions with.
pub(crate) async fn simulated_voice(
    seed: u64,
    time_scale: f64,
) -> anyhow::Result<(Arc<WsConnector>, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = LiveEndpoint {
        host: listener.local_addr()?.to_string(),
        insecure: true,
        ..LiveEndpoint::default()
    };
    let sim = VoiceSim::new(VoiceSimConfig {
        seed,
        time_scale,
        ..VoiceSimConfig::default()
    });
    let task = tokio::spawn(serve_tcp(listener, sim));
    Ok((Arc::new(WsConnector::new(&endpoint, None)), task))
}

/// The carrier's stream hook: a simulated callee for each answered call,
/// once the runtime's engine (to read the lead's persona) and the Twilio
/// Auth Token (to sign the stream upgrade) are known.
pub(crate) fn simulated_callee(
    engine: Arc<OnceLock<Engine>>,
    auth_token: Arc<OnceLock<String>>,
    time_scale: f64,
) -> StreamHook {
    Arc::new(move |request: StreamRequest| {
        let (engine, auth_token) = (engine.clone(), auth_token.clone());
        Box::pin(async move {
            let persona = persona_of(&engine, &request).await;
            let call_id = request
                .parameters
                .iter()
                .find(|(k, _)| k == "call_id")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut config = CallerConfig::new(request.url.clone(), &call_id, persona);
            config.custom_parameters = request.parameters.iter().cloned().collect();
            config.auth_token = auth_token.get().cloned();
            config.account_sid = request.account_sid.clone();
            config.call_sid = request.call_sid.clone();
            config.stream_sid = format!("MZ{}", request.call_sid.trim_start_matches("CA"));
            config.seed = request.seed;
            config.time_scale = time_scale;
            config.max_duration = Duration::from_secs(600);
            tokio::select! {
                result = run_caller(config) => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "simulated callee ended with an error");
                    }
                }
                _ = request.hangup.notified() => {}
            }
        })
    })
}

async fn persona_of(engine: &OnceLock<Engine>, request: &StreamRequest) -> Persona {
    let fallback = || Persona::by_name("not_interested").expect("a catalog persona");
    if request.machine {
        return Persona::by_name("voicemail").unwrap_or_else(fallback);
    }
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
