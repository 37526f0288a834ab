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
//! | `SANSPBX_TOKEN` | `?token=` SansPBX must send; required when a SansPBX account is configured (without it every SansPBX stream is refused) |
//! | `METRICS_ADDR` | where `GET /metrics` listens (default `127.0.0.1:9090`: not on the public listener) |
//! | `GEMINI_API_KEY`, `GEMINI_HOST`, `GEMINI_API_VERSION`, `GEMINI_MODEL` | model endpoint |
//! | `DRAIN_SECS` | how long SIGTERM waits for live calls (default 60) |
//! | `VOXDIAL_*` | the engine's settings, as for every function (`voxdial_lambda::config`); the media token key (`voxdial.media_token_key` of the secret, or `VOXDIAL_MEDIA_TOKEN_KEY`) is required: every stream must carry its call's token |
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
use axum::serve::ListenerExt as _;
use voxdial_bridge::{Bridge, BridgeConfig};
use voxdial_conversation::AgentConfig;
use voxdial_gemini::WsConnector;
use voxdial_host::{Agents, EngineHost};
use voxdial_lambda::{Deps, LambdaConfig, logs};
use voxdial_providers::ProvidersConfig;
use voxdial_wire::gemini::LiveEndpoint;
use voxdial_wire::twilio::signature::SigningKeys;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
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
    let drain = Duration::from_secs(env("DRAIN_SECS").and_then(|s| s.parse().ok()).unwrap_or(60));
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
        Agents::new(AgentConfig::default()),
    ));
    let connector = Arc::new(WsConnector::new(&endpoint, env("GEMINI_API_KEY")));
    let bridge = Bridge::new(cfg, host, connector);
    let addr = env("BIND_ADDR").unwrap_or_else(|| "0.0.0.0:8080".into());
    // TCP_NODELAY on every media socket: a 20 ms frame must not wait for
    // Nagle and a delayed ACK (40 ms on Linux).
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .context("bind")?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    tracing::info!(%addr, "media bridge listening");
    let metrics_addr = env("METRICS_ADDR").unwrap_or_else(|| "127.0.0.1:9090".into());
    let metrics = tokio::net::TcpListener::bind(&metrics_addr)
        .await
        .context("bind the metrics listener")?;
    let metrics_app = bridge.metrics_router();
    tokio::spawn(async move { axum::serve(metrics, metrics_app).await });
    let b = bridge.clone();
    axum::serve(listener, bridge.router())
        .with_graceful_shutdown(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("draining live calls");
            b.begin_shutdown();
        })
        .await?;
    let left = bridge.drain(drain).await;
    tracing::info!(left, "media bridge stopped");
    Ok(())
}
