//! The media-bridge container: reads its configuration from the environment
//! once, logs JSON, wires the bridge to the campaign engine on the AWS
//! adapters (the same table, queues, bucket and provider accounts as the
//! functions), serves the bridge's router and drains live calls on SIGTERM.
//!
//! | variable | meaning |
//! |---|---|
//! | `BIND_ADDR` | listen address (default `0.0.0.0:8080`) |
//! | `PUBLIC_WSS_BASE` | public `wss://` base Twilio connects to (signature URL) |
//! | `TWILIO_AUTH_TOKEN` | verifies `X-Twilio-Signature` (required unless `BRIDGE_INSECURE=1`) |
//! | `SANSPBX_TOKEN` | `?token=` SansPBX must send (optional) |
//! | `GEMINI_API_KEY`, `GEMINI_HOST`, `GEMINI_API_VERSION`, `GEMINI_MODEL` | model endpoint |
//! | `MAX_CALL_SECS` | the longest call: the agent ends a call then (default 600) |
//! | `MAX_LIVE_CALLS` | the task's capacity: new streams beyond it get 503 (default 20) |
//! | `DRAIN_SECS` | how long SIGTERM waits for live calls to end by themselves before each is ended politely (default 60) |
//! | `METRICS_ADDR` | the Prometheus `/metrics` listener, not the load balancer's port (default `0.0.0.0:9090`) |
//! | `ECS_AGENT_URI` | set by ECS: task scale-in protection while calls are live ([`protection`]) |
//! | `EMF_SERVICE_NAME` | the `ServiceName` of the `LiveCalls` EMF metric on stdout ([`emf`]; unset: none) |
//! | `VOXDIAL_*` | the engine's settings, as for every function (`voxdial_lambda::config`); the media token key (`voxdial.media_token_key` of the secret, or `VOXDIAL_MEDIA_TOKEN_KEY`) is required: every stream must carry its call's token |
//!
//! # Drain
//!
//! A deploy or a scale-in never cuts a call: ECS deregisters the task from
//! the load balancer, which keeps its live WebSockets for the
//! deregistration delay (the longest call and a minute) while sending it no
//! new ones, and only then sends SIGTERM. On SIGTERM (or a drain for any
//! other reason) the [`gate`] refuses new streams and fails `/healthz`,
//! the live calls go on to their natural end, and only those still live
//! after `DRAIN_SECS` are ended with a goodbye. While calls are live the
//! task is protected from scale-in ([`protection`]), so ECS stops idle
//! tasks first.
//!
//! The host is the engine's [`EngineHost`]: each call's context (campaign,
//! lead, voicemail and recording policy, consent notice) is read from the
//! table; dispositions, transfers, callbacks, opt-outs, recordings and live
//! transcripts are written through the same use cases the functions run.
//! What the local runtime does in-process and a deployment does not: the
//! status-callback function cannot reach this container, so the Gemini
//! session opens when the stream starts (not while the phone rings), and
//! an asynchronous AMD verdict reaches the call only through the table (the
//! bridge's own audio classifier decides meanwhile).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::middleware::from_fn_with_state;
use axum::serve::ListenerExt as _;
use voxdial_bridge::{Bridge, BridgeConfig};
use voxdial_conversation::AgentConfig;
use voxdial_gemini::WsConnector;
use voxdial_host::{Agents, EngineHost};
use voxdial_lambda::{Deps, LambdaConfig, logs};
use voxdial_providers::ProvidersConfig;
use voxdial_wire::gemini::LiveEndpoint;
use voxdial_wire::twilio::signature::SigningKeys;

mod emf;
mod gate;
mod protection;

/// How long the calls still live at the end of a drain get to say goodbye.
const GOODBYE: Duration = Duration::from_secs(10);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A whole-number setting, or its default.
fn number(name: &str, default: u64) -> anyhow::Result<u64> {
    env(name).map_or(Ok(default), |v| {
        v.parse()
            .with_context(|| format!("{name} must be a whole number, not {v:?}"))
    })
}

/// Resolves when the process is told to stop.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Waits until no call is live or `timeout` passes; returns the calls
/// still live.
async fn wait_idle(gate: &gate::Gate, timeout: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + timeout;
    while gate.live() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    gate.live()
}

/// On ECS: task scale-in protection while calls are live, and the
/// `LiveCalls` metric the service scales on.
fn spawn_reporters(live: &gate::LiveCalls, max_call: Duration, max_live: usize) {
    if let Some(agent_uri) = env("ECS_AGENT_URI") {
        let live = live.clone();
        let agent = protection::Agent::new(&agent_uri);
        tokio::spawn(protection::run(agent, max_call, move || live()));
    }
    if let Some(service) = env("EMF_SERVICE_NAME") {
        let live = live.clone();
        tokio::spawn(emf::run(service, max_live, move || live()));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logs::init();
    let insecure = env("BRIDGE_INSECURE").as_deref() == Some("1");
    let twilio_keys = env("TWILIO_AUTH_TOKEN").map(SigningKeys::auth_token);
    anyhow::ensure!(
        twilio_keys.is_some() || insecure,
        "TWILIO_AUTH_TOKEN is required (or BRIDGE_INSECURE=1 for local tests)"
    );
    let endpoint = LiveEndpoint {
        host: env("GEMINI_HOST").unwrap_or_else(|| LiveEndpoint::default().host),
        api_version: env("GEMINI_API_VERSION")
            .unwrap_or_else(|| LiveEndpoint::default().api_version),
        insecure: env("GEMINI_INSECURE").as_deref() == Some("1"),
        ..LiveEndpoint::default()
    };
    let mut cfg = BridgeConfig {
        public_wss_base: env("PUBLIC_WSS_BASE").context("PUBLIC_WSS_BASE is required")?,
        twilio_keys,
        sanspbx_token: env("SANSPBX_TOKEN"),
        ..BridgeConfig::default()
    };
    if let Some(m) = env("GEMINI_MODEL") {
        cfg.model = m;
    }
    let drain = Duration::from_secs(number("DRAIN_SECS", 60)?);
    let max_call = Duration::from_secs(number("MAX_CALL_SECS", 600)?);
    let max_live = usize::try_from(number("MAX_LIVE_CALLS", 20)?)?;
    let deps = Deps::init(LambdaConfig::from_env()?)
        .await
        .context("cannot wire the engine")?;
    anyhow::ensure!(
        deps.engine.config().media_token_key.is_some(),
        "the media token key is required (voxdial.media_token_key in the secret, or VOXDIAL_MEDIA_TOKEN_KEY)"
    );
    let sanspbx = ProvidersConfig::from_toml(&deps.config.providers)?
        .ids()
        .iter()
        .any(|(_, kind)| *kind == "sanspbx");
    anyhow::ensure!(
        !sanspbx || cfg.sanspbx_token.is_some(),
        "SANSPBX_TOKEN is required when a SansPBX account is configured"
    );
    let host = Arc::new(EngineHost::new(
        deps.engine,
        Agents::new(AgentConfig {
            max_call_ms: u64::try_from(max_call.as_millis())?,
            ..AgentConfig::default()
        }),
    ));
    let connector = Arc::new(WsConnector::new(&endpoint, env("GEMINI_API_KEY")));
    let bridge = Bridge::new(cfg, host, connector);
    let live: gate::LiveCalls = {
        let b = bridge.clone();
        Arc::new(move || b.live_calls())
    };
    let gate = gate::Gate::new(max_live, live.clone());
    spawn_reporters(&live, max_call, max_live);
    let metrics_addr = env("METRICS_ADDR").unwrap_or_else(|| "0.0.0.0:9090".into());
    let metrics = tokio::net::TcpListener::bind(&metrics_addr)
        .await
        .context("bind METRICS_ADDR")?;
    let metrics_app = bridge.metrics_router();
    tokio::spawn(async move { axum::serve(metrics, metrics_app).await });
    let addr = env("BIND_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into());
    // TCP_NODELAY on every media socket: a 20 ms frame must not wait for
    // Nagle and a delayed ACK (40 ms on Linux).
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .context("bind")?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    tracing::info!(%addr, %metrics_addr, max_live, "media bridge listening");
    let app = bridge
        .router()
        .layer(from_fn_with_state(gate.clone(), gate::public));
    let draining = gate.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            tracing::info!(
                live = draining.live(),
                "draining: no new streams, live calls go on"
            );
            draining.drain();
        })
        .await?;
    let left = wait_idle(&gate, drain).await;
    if left > 0 {
        tracing::warn!(left, "calls still live after DRAIN_SECS: ending them");
    }
    let unfinished = bridge.drain(GOODBYE).await;
    tracing::info!(left, unfinished, "media bridge stopped");
    Ok(())
}
