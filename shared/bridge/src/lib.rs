//! voxdial's media bridge, as a library.
//!
//! # Layout
//!
//! - [`server`]: [`Bridge`] and its axum [`Bridge::router`]:
//!   `GET /media/twilio` (Twilio Media Streams upgrade, `X-Twilio-Signature`
//!   checked over `{public_wss_base}/media/twilio`), `GET /media/sanspbx`
//!   (SansPBX PCM16 stream, `?token=` required), `GET /healthz`; every
//!   stream's `start` must carry its call's token, which the host admits
//!   once per call. [`Bridge::metrics_router`]: `GET /metrics`, for a
//!   private listener (live calls, totals, and every ended call's report
//!   folded in: end reasons, dispositions, AMD verdicts and their latency,
//!   fillers, barge-ins, re-prompts, resumptions, greeting and
//!   first-agent-audio latency histograms). [`Bridge::prepare_call`] opens
//!   the model session while the phone rings; [`Bridge::notify_answered_by`]
//!   passes an async AMD verdict into a live call; [`Bridge::drain`] stops
//!   new streams and waits for live calls to end (each says goodbye).
//! - [`driver`]: [`driver::run_call`], the per-call `select!` beside the
//!   sans-IO [`voxdial_conversation::Conversation`]: provider socket ⇄
//!   codec ⇄ core ⇄ [`voxdial_gemini::LiveSession`], host requests as
//!   spawned tasks, timers with `sleep_until(poll_timeout)`. Generic over
//!   the provider socket (`Sink + Stream` of axum messages).
//! - [`browser`]: test calls from the browser ([`Bridge::reserve_test_call`],
//!   [`Bridge::serve_test_call`]): the browser's microphone as PCM16 8 kHz
//!   binary frames in, the agent's voice out, the state machine's state
//!   and transcript as JSON text; through the same driver and core, with
//!   nothing stored.
//! - [`fleet`]: [`fleet::report_load`], the task's load (live calls,
//!   capacity) reported to the fleet the answer webhook reads, on change
//!   and on a heartbeat.
//! - [`host`]: the [`BridgeHost`] port the lead implements on the engine,
//!   and [`MemoryHost`] for tests.
//! - `spool`: recorded calls written to a file on task storage as they
//!   are captured (a few KiB of a call's recording in memory, not all of
//!   it); the host uploads the finished WAV from the file, which goes with
//!   the call (a restart sweeps what a crash left).
//! - [`live`]: the live tap: each call's transcript lines, state, AMD
//!   verdict, fillers and barge-ins as [`LiveEvent`](voxdial_conversation::LiveEvent)s,
//!   and its audio (both channels mixed, μ-law) while someone listens,
//!   handed to the host's [`LiveFeed`].
//! - `limits`: the 64 KiB message and frame cap, and the close codes
//!   (1008 refused, 1009 too big, 1002 malformed) a peer is told.
//!
//! # Mounting
//!
//! ```text
//! let bridge = Bridge::new(BridgeConfig { .. }, Arc::new(host), Arc::new(WsConnector::new(&endpoint, key)));
//! let app = other_routes.merge(bridge.router());
//! // TCP_NODELAY, or each 20 ms frame may wait ~40 ms (Nagle + delayed ACK):
//! let listener = listener.tap_io(|tcp| { let _ = tcp.set_nodelay(true); });
//! axum::serve(listener, app).with_graceful_shutdown(signal).await?;
//! bridge.drain(Duration::from_secs(30)).await;
//! ```

pub mod browser;
pub mod driver;
pub mod fleet;
pub mod host;
mod limits;
pub mod live;
mod metrics;
pub mod server;
mod spool;

pub use driver::{Notice, Protocol};
pub use host::{BridgeHost, HostError, MemoryCall, MemoryHost, MemoryLive};
pub use live::LiveFeed;
pub use server::{Bridge, BridgeConfig, MAX_TEST_CALLS, SANSPBX_PATH, TWILIO_PATH, TestCallSeat};

/// Errors of this crate's composition helpers.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// Binding or serving failed.
    #[error("media bridge IO error")]
    Io(#[from] std::io::Error),
    /// A configuration value is missing or malformed.
    #[error("bad media bridge configuration: {0}")]
    Config(String),
}
