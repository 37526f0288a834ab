//! The local all-in-one runtime: every function of the AWS deployment
//! hosted in one process on embedded adapters. The API and the webhooks on
//! one HTTP server, the dispatcher and the sweeper as in-process workers,
//! the store on SQLite, the queue on SQLite, recordings on disk.
//!
//! - [`config`]: the typed settings of `voxdial serve`'s TOML file.
//! - [`postcall`]: the post-call pipeline on a local job queue.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use voxdial_app::csv_import::MAX_CSV_BYTES;
use voxdial_app::router::Providers;
use voxdial_app::routing::unpriced_routing;
use voxdial_app::session::SessionKey;
use voxdial_app::workers::{run_dispatcher, run_sweeper};
use voxdial_app::{Engine, EngineConfig};
use voxdial_bridge::{Bridge, BridgeConfig, TWILIO_PATH};
use voxdial_domain::{AgentId, Clock, E164, ProviderId, TelephonyProvider};
use voxdial_gemini::WsConnector;
use voxdial_host::{Agents, BridgeObserver, EngineHost};
use voxdial_local::LocalBlobStore;
use voxdial_providers::{TwilioConfig, TwilioProvider};
use voxdial_routing::RoutingConfig;
use voxdial_wire::media_token::MediaTokenKey;
use voxdial_wire::twilio::signature::SigningKeys;

use crate::backend::{Backend, EngineParts};

pub mod config;
pub mod postcall;

pub use crate::backend::STORE_FILE;

/// A Twilio account (or the simulated carrier speaking as one), for the
/// single-provider setup of a config file with only a `[twilio]` section.
#[derive(Clone, Debug)]
pub struct TwilioAccount {
    /// The account SID.
    pub account_sid: String,
    /// The Auth Token.
    pub auth_token: String,
    /// Twilio's REST API base URL (the simulator's, in a simulation).
    pub api_base: String,
    /// The number calls present.
    pub caller_id: E164,
}

impl TwilioAccount {
    /// The account as the only provider, presenting its one caller ID
    /// (unpriced routing: `unpriced_routing`).
    pub fn into_routes(self, clock: Arc<dyn Clock>) -> anyhow::Result<Routes> {
        let provider_id = ProviderId::parse("twilio").expect("static id");
        let mut twilio = TwilioConfig::new(provider_id.clone(), self.account_sid, self.auth_token);
        twilio.api_base = self.api_base;
        twilio.clock = clock;
        let provider = TwilioProvider::new(twilio).context("cannot build the HTTP client")?;
        let caller_id = self.caller_id;
        let routing = unpriced_routing(&[(provider_id, "twilio")], |_| caller_id.clone())
            .context("the caller ID cannot be routed")?;
        Ok(Routes {
            providers: vec![Arc::new(provider)],
            routing,
            agents: HashMap::new(),
        })
    }
}

/// The provider accounts and how the routing engine chooses among them;
/// the runtime builds the router over its store, where the engine's state
/// (statistics, breakers, CPS budgets, caller-ID usage) survives restarts.
#[derive(Clone)]
pub struct Routes {
    /// The provider accounts.
    pub providers: Vec<Arc<dyn TelephonyProvider>>,
    /// How the routing engine chooses among them.
    pub routing: RoutingConfig,
    /// The provider each AI agent uses (`agent_assigned`).
    pub agents: HashMap<AgentId, ProviderId>,
}

/// The media bridge the runtime hosts itself: AI conversations for answered
/// calls, on the same HTTP server as the API.
pub struct MediaOptions {
    /// Where the bridge opens model sessions: Gemini Live, or the simulator.
    pub connector: Arc<WsConnector>,
    /// The Gemini model, when not the bridge's default.
    pub model: Option<String>,
    /// The AI agents' configurations.
    pub agents: Agents,
    /// The Auth Token Twilio signs the stream upgrade with (no check without).
    pub twilio_auth_token: Option<String>,
    /// The bridge's capacity: beyond it, answered calls get the voicemail
    /// message and a callback instead of a stream (`None`: no limit).
    pub max_live_calls: Option<u32>,
}

/// How to start the runtime.
pub struct RuntimeOptions {
    /// Where the SQLite files and the blobs are kept.
    pub data_dir: PathBuf,
    /// The HTTP server's socket.
    pub listener: TcpListener,
    /// What providers call back (default: the listener's `http://` URL).
    pub public_url: Option<String>,
    /// The URL of a media bridge running elsewhere (ignored with `media`).
    pub media_url: Option<String>,
    /// A media bridge hosted by this runtime.
    pub media: Option<MediaOptions>,
    /// The engine's clock (simulated in a simulation).
    pub clock: Arc<dyn Clock>,
    /// How many times faster than real time `clock` runs.
    pub time_scale: f64,
    /// The provider accounts and the routing.
    pub routes: Routes,
    /// A queued lead's slot lease, seconds.
    pub dispatch_lease_secs: u32,
    /// Added to ring time and the longest call for a live call's lease, seconds.
    pub call_lease_margin_secs: u32,
    /// How often the sweeper runs.
    pub sweep_interval: Duration,
    /// Dispatch messages handled at once.
    pub dispatch_parallelism: usize,
    /// Where callees hear that the call is recorded.
    pub consent: voxdial_domain::ConsentRules,
    /// The voice model's prices, for each call's tokens.
    pub model_prices: voxdial_domain::ModelPrices,
}

/// A running local runtime.
pub struct Runtime {
    /// The engine every handler and worker runs.
    pub engine: Engine,
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
    /// `http://` + `addr`.
    pub base_url: String,
    bridge: Option<Bridge<EngineHost, WsConnector>>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Runtime {
    /// Opens the data directory, wires the engine and starts serving.
    pub async fn start(options: RuntimeOptions) -> anyhow::Result<Runtime> {
        std::fs::create_dir_all(&options.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                options.data_dir.display()
            )
        })?;
        let addr = options.listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let public_url = options
            .public_url
            .clone()
            .unwrap_or_else(|| base_url.clone());
        // The hosted bridge listens on this server: `ws(s)://` + the public host.
        let public_wss_base = public_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
            .trim_end_matches('/')
            .to_string();
        let media_url = match &options.media {
            Some(_) => Some(format!("{public_wss_base}{TWILIO_PATH}")),
            None => options.media_url.clone(),
        };

        // Visibility in simulated time: five real seconds at any time scale.
        let visibility = Duration::from_secs_f64((5.0 * options.time_scale).max(30.0));
        let ports = Backend::Local {
            data_dir: &options.data_dir,
            clock: options.clock.clone(),
            visibility,
        }
        .ports()?;

        let providers = options
            .routes
            .providers
            .iter()
            .fold(Providers::new(), |set, p| set.with(p.clone()));
        let queue_port = ports.queue.clone();
        let blobs = LocalBlobStore::open(
            options.data_dir.join("blobs"),
            base_url.clone(),
            uuid::Uuid::new_v4().as_bytes().to_vec(),
            options.clock.clone(),
        )
        .context("cannot open the blob store")?;
        let fleet_store = ports.fleet.clone();
        // The post-call pipeline: its own durable job queue, the live
        // transcript and the local analyser (no account needed).
        let jobs = ports
            .jobs
            .clone()
            .context("the local backend has a job queue")?;
        let post_call = postcall::deps(
            &options.data_dir,
            jobs.clone(),
            media_url.is_some(),
            options.consent.clone(),
        )?;
        // The hosted bridge is the fleet when it has a capacity (issue 13).
        let ask_fleet = options
            .media
            .as_ref()
            .is_some_and(|m| m.max_live_calls.is_some());
        let engine = EngineParts {
            ports,
            providers,
            routing: options.routes.routing.clone(),
            agents: options.routes.agents.clone(),
            clock: options.clock.clone(),
            config: EngineConfig {
                public_base_url: public_url.clone(),
                media_url: media_url.clone(),
                // Signs each call's media stream token. The hosted bridge
                // asks this engine to admit streams, so a fresh secret per
                // run is shared by construction (an external bridge has
                // its own engine and secret: no token of this one opens it).
                media_token_key: media_url
                    .as_ref()
                    .and_then(|_| MediaTokenKey::new(uuid::Uuid::new_v4().as_bytes().to_vec())),
                // Signs console sessions: fresh per run, so a restart
                // signs everybody out.
                session_key: SessionKey::new(uuid::Uuid::new_v4().as_bytes().to_vec()),
                dispatch_lease_secs: options.dispatch_lease_secs,
                call_lease_margin_secs: options.call_lease_margin_secs,
                model_prices: options.model_prices,
                ..EngineConfig::default()
            },
            blobs: Some(Arc::new(blobs.clone())),
            post_call: Some(post_call),
            ask_fleet,
        }
        .build()?;
        let mut fleet_reporter = None;
        let (engine, bridge) = match options.media {
            Some(media) => {
                let mut config = BridgeConfig {
                    public_wss_base,
                    twilio_keys: media
                        .twilio_auth_token
                        .as_deref()
                        .map(SigningKeys::auth_token),
                    time_scale: options.time_scale,
                    ..BridgeConfig::default()
                };
                if let Some(model) = media.model {
                    config.model = model;
                }
                let host = EngineHost::new(engine.clone(), media.agents);
                let bridge = Bridge::new(config, Arc::new(host), media.connector);
                let engine = engine.with_observer(Arc::new(BridgeObserver::new(bridge.clone())));
                if let Some(capacity) = media.max_live_calls {
                    fleet_reporter = Some(local_fleet_reporting(
                        fleet_store.clone(),
                        &options.clock,
                        options.time_scale,
                        &bridge,
                        capacity,
                    ));
                }
                (engine, Some(bridge))
            }
            None => (engine, None),
        };

        let mut app = voxdial_http::api::router(engine.clone())
            .merge(voxdial_http::webhooks::router(
                engine.clone(),
                Some(public_url),
            ))
            .merge(blob_router(blobs, options.clock.clone()))
            .merge(voxdial_console::router(None));
        if let Some(bridge) = &bridge {
            app = app
                .merge(bridge.media_router().with_state(bridge.clone()))
                // The API's test-call route runs its calls on this bridge.
                .layer(axum::Extension(voxdial_host::test_calls(bridge)));
        }
        let (shutdown, signal) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut server_stop = signal.clone();
        tasks.spawn(async move {
            let stop = async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            };
            // No Nagle delay: media frames are small and must not wait for ACKs.
            let listener = options.listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            // Every route turned into a service once, here: served as a
            // bare `Router`, axum rebuilds the whole route table (a clone
            // of the engine per route) for every connection.
            let app = app.with_state(()).into_make_service();
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(%error, "HTTP server failed");
            }
        });
        // This process is the only dispatcher: what a dead one left is
        // reclaimed by the first sweep, not at the end of its lease.
        engine
            .end_dead_dispatches(options.clock.now())
            .await
            .context("cannot recover the last process's dispatches")?;
        tasks.spawn(run_dispatcher(
            engine.clone(),
            queue_port,
            options.dispatch_parallelism,
            signal.clone(),
        ));
        tasks.spawn(voxdial_app::postcall::run_job_worker(
            engine.clone(),
            jobs,
            8,
            signal.clone(),
        ));
        if let Some(report) = fleet_reporter {
            let mut stop = signal.clone();
            tasks.spawn(async move {
                tokio::select! {
                    () = report => {}
                    _ = stop.wait_for(|stop| *stop) => {}
                }
            });
        }
        tasks.spawn(run_sweeper(engine.clone(), options.sweep_interval, signal));
        Ok(Runtime {
            engine,
            addr,
            base_url,
            bridge,
            shutdown,
            tasks,
        })
    }

    /// Stops the workers and the server, letting running handlers (and live
    /// conversations, for a minute at most) finish.
    pub async fn stop(mut self) {
        if let Some(bridge) = &self.bridge {
            bridge.drain(Duration::from_secs(60)).await;
        }
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The hosted bridge's load reports to the store, as a bridge task's to
/// the table on AWS: one task (`local`), reported every 10 s real time and
/// valid for three of them on the engine's (maybe faster) clock, with no
/// address and no calls listed (nothing to relay to).
fn local_fleet_reporting(
    fleet: Arc<dyn voxdial_domain::BridgeFleet>,
    clock: &Arc<dyn Clock>,
    time_scale: f64,
    bridge: &Bridge<EngineHost, WsConnector>,
    capacity: u32,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    use voxdial_bridge::fleet::{FleetReporting, Load, report_load};
    let heartbeat = Duration::from_secs(10);
    let ttl = chrono::Duration::from_std(heartbeat.mul_f64(3.0 * time_scale.max(1.0)))
        .unwrap_or(chrono::Duration::MAX);
    let reporting = FleetReporting {
        fleet,
        clock: clock.clone(),
        task: voxdial_domain::BridgeTaskId::parse("local").expect("a valid task id"),
        // One process holds every call: no socket is relayed to another.
        peer: None,
        heartbeat,
        ttl,
    };
    let bridge = bridge.clone();
    report_load(reporting, move || Load {
        live: u32::try_from(bridge.live_calls()).unwrap_or(u32::MAX),
        capacity,
        calls: Vec::new(),
    })
}

#[derive(serde::Deserialize)]
struct Presigned {
    expires: i64,
    sig: String,
}

/// Serves presigned blob URLs (`/blobs/{key}?expires=…&sig=…`): `GET`
/// for recordings played back from the dashboard or the API, `PUT` for
/// lead files uploaded to an import's `upload_url` (streamed to disk, at
/// most [`MAX_CSV_BYTES`]).
fn blob_router(blobs: LocalBlobStore, clock: Arc<dyn Clock>) -> axum::Router {
    use axum::extract::{Path, Query, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    async fn serve(
        State((blobs, clock)): State<(LocalBlobStore, Arc<dyn Clock>)>,
        Path(key): Path<String>,
        Query(q): Query<Presigned>,
    ) -> axum::response::Response {
        if !blobs.verify_presigned(&key, q.expires, &q.sig, clock.now()) {
            return (StatusCode::FORBIDDEN, "the link is invalid or has expired").into_response();
        }
        match voxdial_domain::BlobStore::get(&blobs, &key).await {
            Ok(Some(data)) => {
                let kind = if key.ends_with(".wav") {
                    "audio/wav"
                } else if key.ends_with(".json") {
                    "application/json"
                } else {
                    "application/octet-stream"
                };
                ([(header::CONTENT_TYPE, kind)], data).into_response()
            }
            Ok(None) => (StatusCode::NOT_FOUND, "no such blob").into_response(),
            Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        }
    }
    async fn upload(
        State((blobs, clock)): State<(LocalBlobStore, Arc<dyn Clock>)>,
        Path(key): Path<String>,
        Query(q): Query<Presigned>,
        body: axum::body::Body,
    ) -> axum::response::Response {
        use futures_util::StreamExt;
        if !blobs.verify_presigned_put(&key, q.expires, &q.sig, clock.now()) {
            return (StatusCode::FORBIDDEN, "the link is invalid or has expired").into_response();
        }
        let mut upload = match blobs.upload(&key) {
            Ok(upload) => upload,
            Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
        };
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let Ok(chunk) = chunk else {
                return (StatusCode::BAD_REQUEST, "the upload broke off").into_response();
            };
            if upload.bytes() + chunk.len() as u64 > MAX_CSV_BYTES as u64 {
                let reason = format!("the file is larger than {MAX_CSV_BYTES} bytes");
                return (StatusCode::PAYLOAD_TOO_LARGE, reason).into_response();
            }
            if let Err(error) = upload.write(&chunk) {
                return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
            }
        }
        match upload.commit().await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
        }
    }
    axum::Router::new()
        .route("/blobs/{*key}", axum::routing::get(serve).put(upload))
        .with_state((blobs, clock))
}
