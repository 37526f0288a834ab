//! The media-bridge container: reads its configuration from the environment
//! once (`voxdial_runtime::container`, the composition root), logs JSON, wires the bridge to the campaign engine on the AWS
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
//! | `PEER_ADDR` | where the other tasks reach this one (`ip:port`), for relayed listen-in and live-event sockets ([`peer`]; default on ECS: the task's private IPv4 from `ECS_CONTAINER_METADATA_URI_V4` and the port of `BIND_ADDR`) |
//! | `RECORDING_DIR` | where recorded calls are spooled while they last, on task storage (default `$TMPDIR/voxdial-recordings`; the image mounts a writable volume at `/var/spool/voxdial`) |
//! | `EMF_SERVICE_NAME` | the `ServiceName` of the `LiveCalls` EMF metric on stdout ([`emf`]; unset: none) |
//! | `VOXDIAL_*` | the engine's settings, as for every function (`voxdial_runtime::aws::config`); the media token key (`voxdial.media_token_key` of the secret, or `VOXDIAL_MEDIA_TOKEN_KEY`) is required: every stream must carry its call's token |
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
//! # Capacity
//!
//! Beyond `MAX_LIVE_CALLS` the [`gate`] refuses streams, and the answer
//! webhook never sends one there: the task reports its live calls and
//! capacity (zero while draining) to the table's `BRIDGE_FLEET` items on
//! every change and every 10 s, each report valid for 30 s
//! ([`voxdial_bridge::fleet`]); when no task has a free place, the answer
//! function answers with the voicemail message and schedules a callback.
//!
//! The public listener also serves listen-in (`GET /v1/calls/{id}/listen`,
//! `voxdial_http::listen`): the same guarded route as the local server's,
//! streaming the calls this task holds (the ALB sends `/v1/calls/*/listen`
//! here; the API function cannot hold a WebSocket), and browser test calls
//! (`GET /v1/ai-agents/{id}/test-call`, `voxdial_http::test_call`), run on
//! this task's bridge with nothing stored, and a live call's events (`GET
//! /v1/calls/{id}/live`, `voxdial_http::live`: its transcript, state, AMD
//! verdict, fillers and barge-ins). The console opens them here with a
//! media ticket the API function issued (`?ticket=`,
//! `voxdial_http::ticket`), checked with the session key both hold
//! (`voxdial.session_key` of the keys secret): its cookie of the API's
//! domain never reaches this one. The load balancer may send such a
//! socket to a task that does not hold the call: that task relays it to
//! the one that does (`voxdial_http::forward`), found in the fleet's
//! reports, which list each task's calls and private address ([`peer`]).
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
use voxdial_bridge::Bridge;
use voxdial_gemini::WsConnector;
use voxdial_host::{Agents, EngineHost};
use voxdial_lambda::{Deps, logs};
use voxdial_runtime::container::{BridgeSettings, ContainerSettings};

mod emf;
mod gate;
mod peer;
mod protection;

/// How long the calls still live at the end of a drain get to say goodbye.
const GOODBYE: Duration = Duration::from_secs(10);

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

/// How often the task reports its load to the fleet when it does not change.
const FLEET_HEARTBEAT: Duration = Duration::from_secs(10);

/// How long a report counts: three heartbeats, so one or two lost writes
/// never drop a live task from the fleet, and a dead one is gone in 30 s.
const FLEET_TTL_SECS: i64 = 30;

/// The task's load to the fleet the answer webhook reads (issue 13): its
/// live calls and its capacity, none while it drains; and which calls it
/// holds and where it is reached, for relayed sockets.
fn spawn_fleet_reporter(
    engine: &voxdial_app::Engine,
    gate: &gate::Gate,
    peer: Option<std::net::SocketAddr>,
) {
    let Some(fleet) = engine.bridge_fleet().cloned() else {
        return;
    };
    let task = voxdial_domain::BridgeTaskId::parse(uuid::Uuid::new_v4().simple().to_string())
        .expect("a UUID is a task id");
    let reporting = voxdial_bridge::fleet::FleetReporting {
        fleet,
        clock: engine.clock().clone(),
        task,
        peer,
        heartbeat: FLEET_HEARTBEAT,
        ttl: chrono::Duration::seconds(FLEET_TTL_SECS),
    };
    let gate = gate.clone();
    let hub = engine.live().clone();
    tokio::spawn(voxdial_bridge::fleet::report_load(reporting, move || {
        voxdial_bridge::fleet::Load {
            live: u32::try_from(gate.live()).unwrap_or(u32::MAX),
            capacity: u32::try_from(gate.capacity()).unwrap_or(u32::MAX),
            calls: hub.calls(),
        }
    }));
}

/// On ECS: task scale-in protection while calls are live, and the
/// `LiveCalls` metric the service scales on.
fn spawn_reporters(settings: &BridgeSettings, live: &gate::LiveCalls) {
    if let Some(agent_uri) = &settings.ecs_agent_uri {
        let live = live.clone();
        let agent = protection::Agent::new(agent_uri);
        tokio::spawn(protection::run(agent, settings.max_call, move || live()));
    }
    if let Some(service) = settings.emf_service.clone() {
        let live = live.clone();
        tokio::spawn(emf::run(service, settings.max_live, move || live()));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    logs::init();
    let ContainerSettings {
        bridge: settings,
        engine: config,
    } = ContainerSettings::from_env()?;
    let deps = Deps::init(config).await.context("cannot wire the engine")?;
    anyhow::ensure!(
        deps.engine.config().media_token_key.is_some(),
        "the media token key is required (voxdial.media_token_key in the keys secret, or VOXDIAL_MEDIA_TOKEN_KEY)"
    );
    // The listen-in and live-events routes read the calls this task holds
    // from the engine's hub.
    let listen = voxdial_http::listen::router(deps.engine.clone());
    let live_events = voxdial_http::live::router(deps.engine.clone());
    // Browser test calls and the fleet's load reports run on this task's bridge.
    let engine = deps.engine.clone();
    let host = Arc::new(EngineHost::new(
        deps.engine,
        Agents::new(settings.agent_config()?),
    ));
    let connector = Arc::new(WsConnector::new(
        &settings.gemini,
        settings.gemini_api_key.clone(),
    ));
    let bridge = Bridge::new(settings.bridge_config(), host, connector);
    let live: gate::LiveCalls = {
        let b = bridge.clone();
        Arc::new(move || b.live_calls())
    };
    let gate = gate::Gate::new(settings.max_live, live.clone());
    spawn_reporters(&settings, &live);
    let peer = peer::discover(
        settings.peer_addr,
        settings.ecs_metadata_uri.as_deref(),
        &settings.bind_addr,
    )
    .await;
    tracing::info!(?peer, "reached by the other tasks at");
    spawn_fleet_reporter(&engine, &gate, peer);
    let metrics_addr = &settings.metrics_addr;
    let metrics = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .context("bind METRICS_ADDR")?;
    let metrics_app = bridge.metrics_router();
    tokio::spawn(async move { axum::serve(metrics, metrics_app).await });
    let addr = &settings.bind_addr;
    // TCP_NODELAY on every media socket: a 20 ms frame must not wait for
    // Nagle and a delayed ACK (40 ms on Linux).
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .context("bind")?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    tracing::info!(%addr, %metrics_addr, max_live = settings.max_live, "media bridge listening");
    let test_calls = voxdial_http::test_call::router(engine, voxdial_host::test_calls(&bridge));
    let app = bridge
        .router()
        .merge(listen)
        .merge(live_events)
        .merge(test_calls)
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
    let left = wait_idle(&gate, settings.drain).await;
    if left > 0 {
        tracing::warn!(left, "calls still live after DRAIN_SECS: ending them");
    }
    let unfinished = bridge.drain(GOODBYE).await;
    tracing::info!(left, unfinished, "media bridge stopped");
    Ok(())
}
