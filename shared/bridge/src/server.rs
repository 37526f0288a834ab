//! The service: router, live-call registry, early model sessions, drain.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, mpsc, watch};
use tracing::{Instrument, info, info_span, warn};
use voxdial_conversation::CallContext;
use voxdial_conversation::codec::ProviderStream;
use voxdial_domain::{AnsweredBy, CallId};
use voxdial_gemini::{Connector, LiveSession, SessionConfig, build_setup};
use voxdial_wire::media_token::TOKEN_PARAMETER;
use voxdial_wire::sanspbx::{REVERSE_MEDIA_EVENT, StreamEvent, StreamIds, parse_stream_event};
use voxdial_wire::twilio::media::{InboundMessage, parse_inbound};
use voxdial_wire::twilio::signature::{
    SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, SignedRequest, SigningKeys, public_url,
    validate_request,
};

use crate::browser;
use crate::driver::{CallParts, Notice, Protocol, run_call};
use crate::host::BridgeHost;
use crate::limits;
use crate::metrics::CallStats;
use crate::spool::{Spool, SpoolDir};

/// Path of the Twilio Media Streams WebSocket.
pub const TWILIO_PATH: &str = "/media/twilio";
/// Path of the SansPBX media WebSocket.
pub const SANSPBX_PATH: &str = "/media/sanspbx";

/// Read and write buffer of a provider socket. Media messages are under
/// 1 KiB; tungstenite's 128 KiB default would be ~256 KiB of RSS per call
/// for nothing (a larger message, up to [`limits::MAX_MESSAGE`], still gets
/// through: the buffer grows).
const WS_BUFFER: usize = 8 * 1024;

/// The bridge's configuration (read once by the composition root).
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Public base URL Twilio connects to (`wss://media.example.com`); the
    /// upgrade signature covers `{base}/media/twilio`.
    pub public_wss_base: String,
    /// Keys to verify `X-Twilio-Signature`; `None` disables the check
    /// (local simulations without a token only).
    pub twilio_keys: Option<SigningKeys>,
    /// The token SansPBX must send as `?token=` (compared in constant
    /// time); `None` refuses every SansPBX stream.
    pub sanspbx_token: Option<String>,
    /// The Gemini model id.
    pub model: String,
    /// Model session tuning.
    pub session: SessionConfig,
    /// How long an early session waits for its media stream.
    pub preopen_ttl: Duration,
    /// Longest wait for the first messages (`connected`, `start`) of a
    /// socket not yet tied to a call; then it is closed (1008).
    pub start_timeout: Duration,
    /// Simulations only: how many times faster than real time calls run
    /// (the simulated caller and model run as fast). The conversation's
    /// clock and timers scale with it; 1 in production.
    pub time_scale: f64,
    /// How often a live call whose provider verdict is due asks the host
    /// for it ([`BridgeHost::answered_by`]: one store read on AWS).
    pub verdict_poll: Duration,
    /// How long after the stream starts it keeps asking (Twilio gives up
    /// detecting after `MachineDetectionTimeout`, 30 s by default).
    pub verdict_wait: Duration,
    /// Where recorded calls are spooled while they last (task storage; see
    /// `spool`): the bridge makes its own locked directory under it and
    /// removes what dead bridges left there.
    pub recording_dir: PathBuf,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            public_wss_base: "wss://localhost".into(),
            twilio_keys: None,
            sanspbx_token: None,
            model: "gemini-2.5-flash-native-audio-preview-12-2025".into(),
            session: SessionConfig::default(),
            preopen_ttl: Duration::from_secs(90),
            start_timeout: Duration::from_secs(5),
            time_scale: 1.0,
            verdict_poll: Duration::from_millis(500),
            verdict_wait: Duration::from_secs(35),
            recording_dir: std::env::temp_dir().join("voxdial-recordings"),
        }
    }
}

struct Preopened {
    ctx: CallContext,
    session: LiveSession,
    at: tokio::time::Instant,
}

struct Inner<H, C> {
    cfg: BridgeConfig,
    host: Arc<H>,
    connector: Arc<C>,
    live: AtomicUsize,
    total: AtomicU64,
    rejected: AtomicU64,
    idle: Notify,
    calls: Mutex<HashMap<CallId, mpsc::Sender<Notice>>>,
    preopened: Mutex<HashMap<CallId, Preopened>>,
    shutdown: watch::Sender<bool>,
    seq: AtomicU64,
    /// Ended calls' reports, folded (one lock per ended call).
    stats: Mutex<CallStats>,
    /// Where recordings are spooled; `None` when the directory could not
    /// be made (calls then go on unrecorded, each saying so).
    spool: Option<SpoolDir>,
    /// The keys (organisations) with a test call live.
    test_calls: Arc<Mutex<HashSet<String>>>,
}

/// The media bridge: mount [`Bridge::router`] in any axum server.
pub struct Bridge<H, C> {
    inner: Arc<Inner<H, C>>,
}

impl<H, C> Clone for Bridge<H, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<H: BridgeHost, C: Connector> Bridge<H, C> {
    /// A bridge using `host` for storage/provider actions and `connector`
    /// for model sessions.
    pub fn new(cfg: BridgeConfig, host: Arc<H>, connector: Arc<C>) -> Self {
        let spool = SpoolDir::open(&cfg.recording_dir)
            .inspect_err(|e| {
                warn!(dir = %cfg.recording_dir.display(), error = %e, "no recording spool: recorded calls will not be recorded");
            })
            .ok();
        Self {
            inner: Arc::new(Inner {
                cfg,
                host,
                connector,
                live: AtomicUsize::new(0),
                total: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                idle: Notify::new(),
                calls: Mutex::new(HashMap::new()),
                preopened: Mutex::new(HashMap::new()),
                shutdown: watch::channel(false).0,
                seq: AtomicU64::new(0),
                stats: Mutex::new(CallStats::default()),
                spool,
                test_calls: Arc::default(),
            }),
        }
    }

    /// `GET /media/twilio` and `/media/sanspbx` (WebSocket upgrades) and
    /// `GET /healthz`: the bridge as its own public service. Metrics are
    /// not on it: serve [`Self::metrics_router`] on a private address.
    pub fn router(&self) -> Router {
        self.media_router()
            .route("/healthz", get(healthz::<H, C>))
            .with_state(self.clone())
    }

    /// `GET /metrics` (Prometheus text), for a listener only the monitoring
    /// side reaches (the container binds it to `METRICS_ADDR`, loopback by
    /// default).
    pub fn metrics_router(&self) -> Router {
        Router::new()
            .route("/metrics", get(metrics::<H, C>))
            .with_state(self.clone())
    }

    /// The WebSocket upgrades, for a server that already has its own
    /// `/healthz` (the local all-in-one runtime).
    pub fn media_router(&self) -> Router<Self> {
        Router::new()
            .route(TWILIO_PATH, get(twilio_upgrade::<H, C>))
            .route(SANSPBX_PATH, get(sanspbx_upgrade::<H, C>))
    }

    /// Calls in progress.
    pub fn live_calls(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Opens the model session for `call_id` now (while the phone rings),
    /// so the greeting can start on answer. Idempotent.
    pub async fn prepare_call(&self, call_id: &CallId) {
        if self
            .inner
            .preopened
            .lock()
            .expect("lock")
            .contains_key(call_id)
        {
            return;
        }
        let ctx = match self.inner.host.call_context(call_id).await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, %call_id, "no context for an early session");
                return;
            }
        };
        let session = self.open_session(&ctx);
        let mut map = self.inner.preopened.lock().expect("lock");
        let ttl = self.inner.cfg.preopen_ttl;
        map.retain(|_, p| p.at.elapsed() < ttl);
        map.insert(
            call_id.clone(),
            Preopened {
                ctx,
                session,
                at: tokio::time::Instant::now(),
            },
        );
    }

    /// Passes the provider's (async) AMD verdict to a live call; false if
    /// the call is not on this bridge.
    pub fn notify_answered_by(&self, call_id: &CallId, verdict: AnsweredBy) -> bool {
        let tx = self.inner.calls.lock().expect("lock").get(call_id).cloned();
        tx.is_some_and(|tx| tx.try_send(Notice::AnsweredBy(verdict)).is_ok())
    }

    /// Stops taking new streams and asks every live call to end politely.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// [`Self::begin_shutdown`], then waits until no call is live or
    /// `timeout` passes; returns the calls still live.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.begin_shutdown();
        let wait = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.live_calls() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.live_calls()
    }

    fn open_session(&self, ctx: &CallContext) -> LiveSession {
        let setup = build_setup(ctx, &self.inner.cfg.model, None);
        LiveSession::open(
            self.inner.connector.clone(),
            setup,
            self.inner.cfg.session.clone(),
        )
    }

    fn shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Runs one provider socket to the end (after the upgrade). Generic
    /// over the socket so tests drive it with channels.
    ///
    /// The socket must send `start` within `start_timeout`, naming its call
    /// and carrying the call's token; the call must not be live on this
    /// bridge, and the host must admit it (token, answered, not ended, never
    /// streamed). Otherwise the socket is closed with 1008 (policy
    /// violation) and nothing of the call is read or written.
    pub async fn serve_stream<P, E>(&self, mut socket: P, protocol: Protocol)
    where
        P: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
        E: std::error::Error + 'static,
    {
        let start = tokio::time::timeout(
            self.inner.cfg.start_timeout,
            read_start(&mut socket, protocol),
        )
        .await;
        let start = match start {
            Ok(Ok(start)) => start,
            Ok(Err(close)) => return self.refuse(socket, close, "bad frames before start").await,
            Err(_) => {
                let close = limits::close(close_code::POLICY, "no start in time");
                return self.refuse(socket, Some(close), "no start in time").await;
            }
        };
        let Some(call_id) = start.call_id.and_then(|id| CallId::parse(id).ok()) else {
            let close = limits::close(close_code::POLICY, "no call");
            return self
                .refuse(socket, Some(close), "start names no valid call")
                .await;
        };
        let span = info_span!("call", call_id = %call_id);
        let (tx, notices) = mpsc::channel(8);
        let verdicts = tx.clone();
        if !self.reserve(&call_id, tx) {
            let close = limits::close(close_code::POLICY, "call already streaming");
            return self
                .refuse(socket, Some(close), "a second stream for a live call")
                .instrument(span)
                .await;
        }
        if let Err(e) = self
            .inner
            .host
            .admit_stream(&call_id, start.token.as_deref())
            .await
        {
            self.inner.calls.lock().expect("lock").remove(&call_id);
            warn!(parent: &span, error = %e, "media stream not admitted");
            let close = limits::close(close_code::POLICY, "not admitted");
            return self.refuse(socket, Some(close), "not admitted").await;
        }
        let pre = self.inner.preopened.lock().expect("lock").remove(&call_id);
        let (ctx, session) = match pre {
            Some(p) => (p.ctx, p.session),
            None => match self.inner.host.call_context(&call_id).await {
                Ok(ctx) => {
                    let s = self.open_session(&ctx);
                    (ctx, s)
                }
                Err(e) => {
                    warn!(parent: &span, error = %e, "no call context");
                    self.inner.calls.lock().expect("lock").remove(&call_id);
                    return;
                }
            },
        };
        if ctx.provider_verdict_due && ctx.answered_by.is_none() {
            let poll = self
                .clone()
                .await_provider_verdict(call_id.clone(), verdicts);
            tokio::spawn(poll.instrument(span.clone()));
        }
        self.inner.live.fetch_add(1, Ordering::SeqCst);
        self.inner.total.fetch_add(1, Ordering::Relaxed);
        let seed = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let spool = if ctx.record {
            self.spool().instrument(span.clone()).await
        } else {
            None
        };
        let parts = CallParts {
            call_id: call_id.clone(),
            ctx,
            stream: start.stream,
            session,
            host: self.inner.host.clone(),
            notices,
            shutdown: self.inner.shutdown.subscribe(),
            seed,
            time_scale: self.inner.cfg.time_scale,
            spool,
        };
        let summary = run_call(socket, parts).instrument(span.clone()).await;
        info!(parent: &span, end = ?summary.report.end_reason, disposition = ?summary.report.disposition, "call ended");
        self.inner
            .stats
            .lock()
            .expect("lock")
            .record(&summary.report);
        self.inner.calls.lock().expect("lock").remove(&call_id);
        self.inner.live.fetch_sub(1, Ordering::SeqCst);
        self.inner.idle.notify_waiters();
    }

    /// Asks the host for the provider's machine-detection verdict on a live
    /// call every `verdict_poll` until it comes (then hands it to the
    /// conversation), the call ends or `verdict_wait` passes. Locally the
    /// engine also pushes it ([`Self::notify_answered_by`]); on AWS it
    /// reaches the status-callback function, and this is how it gets here.
    /// A verdict that comes twice changes nothing the second time.
    async fn await_provider_verdict(self, call_id: CallId, notices: mpsc::Sender<Notice>) {
        let scale = self.inner.cfg.time_scale.max(1e-3);
        let every = self.inner.cfg.verdict_poll.div_f64(scale);
        let until = tokio::time::Instant::now() + self.inner.cfg.verdict_wait.div_f64(scale);
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(every).await;
            if notices.is_closed() {
                return;
            }
            match self.inner.host.answered_by(&call_id).await {
                Ok(Some(verdict)) => {
                    let _ = notices.send(Notice::AnsweredBy(verdict)).await;
                    return;
                }
                Ok(None) => {}
                Err(e) => warn!(error = %e, "cannot read the provider's verdict"),
            }
        }
    }

    /// A recorded call's spool, or `None` (said in the log) when none can
    /// be made.
    async fn spool(&self) -> Option<Spool> {
        let Some(dir) = &self.inner.spool else {
            warn!("no recording spool: the call is not recorded");
            return None;
        };
        dir.spool(voxdial_conversation::Conversation::recording_spec())
            .await
            .inspect_err(
                |e| warn!(error = %e, "cannot spool the recording: the call is not recorded"),
            )
            .ok()
    }

    /// Registers `call_id` as live on this bridge; false if it already is.
    fn reserve(&self, call_id: &CallId, tx: mpsc::Sender<Notice>) -> bool {
        match self
            .inner
            .calls
            .lock()
            .expect("lock")
            .entry(call_id.clone())
        {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(tx);
                true
            }
        }
    }

    /// Counts a refused stream, tells the peer why (when it should hear it)
    /// and closes the socket.
    async fn refuse<P>(&self, mut socket: P, close: Option<Message>, why: &'static str)
    where
        P: Sink<Message> + Unpin,
    {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        warn!(why, "media stream refused");
        if let Some(close) = close {
            let _ = socket.send(close).await;
        }
        let _ = socket.close().await;
    }
}

/// Test calls live at once on one bridge, whatever their keys.
pub const MAX_TEST_CALLS: usize = 4;

/// A test call's place, taken by [`Bridge::reserve_test_call`] and given
/// back when dropped.
pub struct TestCallSeat {
    seats: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for TestCallSeat {
    fn drop(&mut self) {
        self.seats.lock().expect("lock").remove(&self.key);
    }
}

impl<H: BridgeHost, C: Connector> Bridge<H, C> {
    /// Takes a test call's place for `key` (the caller's organisation):
    /// `None` while `key` has one live, [`MAX_TEST_CALLS`] are, or the
    /// bridge is shutting down.
    pub fn reserve_test_call(&self, key: &str) -> Option<TestCallSeat> {
        let mut seats = self.inner.test_calls.lock().expect("lock");
        if self.shutting_down() || seats.len() >= MAX_TEST_CALLS || !seats.insert(key.into()) {
            return None;
        }
        Some(TestCallSeat {
            seats: self.inner.test_calls.clone(),
            key: key.into(),
        })
    }

    /// Runs one test call in its `seat` with `ctx`'s agent over the
    /// browser's `socket` ([`crate::browser`]), through the same driver
    /// and conversation core as a phone call, until the conversation ends
    /// or the browser leaves. Nothing of it is stored; the bridge's drain
    /// waits for it like for any call.
    pub async fn serve_test_call<S, E>(
        &self,
        socket: S,
        seat: TestCallSeat,
        ctx: CallContext,
    ) -> voxdial_conversation::CallSummary
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message> + Send + 'static,
        E: std::error::Error + 'static,
    {
        let ctx = browser::test_context(ctx);
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        let call_id = CallId::parse(format!("test-{seq}")).expect("a valid id");
        let span = info_span!("test_call", call_id = %call_id, org = %seat.key);
        let (leg, feed, writer) = browser::split(socket);
        let (_notify, notices) = mpsc::channel(1);
        self.inner.live.fetch_add(1, Ordering::SeqCst);
        let parts = CallParts {
            call_id,
            session: self.open_session(&ctx),
            host: Arc::new(browser::TestCallHost::new(ctx.clone(), feed)),
            ctx,
            stream: ProviderStream::SansPbx {
                ids: StreamIds::default(),
                event: REVERSE_MEDIA_EVENT.into(),
            },
            notices,
            shutdown: self.inner.shutdown.subscribe(),
            seed: seq,
            // A person on the line: real time, whatever a simulation's scale.
            time_scale: 1.0,
            spool: None,
        };
        let summary = run_call(leg, parts).instrument(span.clone()).await;
        info!(parent: &span, end = ?summary.report.end_reason, "test call ended");
        // The last messages and the close, unless the browser stopped
        // reading: then it is left behind.
        let abort = writer.abort_handle();
        if tokio::time::timeout(browser::CLOSE_GRACE, writer)
            .await
            .is_err()
        {
            abort.abort();
        }
        drop(seat);
        self.inner.live.fetch_sub(1, Ordering::SeqCst);
        self.inner.idle.notify_waiters();
        summary
    }
}

/// What a stream's `start` says.
struct Start {
    call_id: Option<String>,
    token: Option<String>,
    stream: ProviderStream,
}

/// Reads until `start`. `Err` carries the close frame for a read error
/// (an oversized message: 1009), or `None` when the socket is gone.
async fn read_start<P, E>(socket: &mut P, protocol: Protocol) -> Result<Start, Option<Message>>
where
    P: Stream<Item = Result<Message, E>> + Unpin,
    E: std::error::Error + 'static,
{
    while let Some(msg) = socket.next().await {
        let t = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) => return Err(None),
            Ok(_) => continue,
            Err(e) => return Err(limits::close_for_error(&e)),
        };
        match protocol {
            Protocol::Twilio => {
                if let Ok(InboundMessage::Start(s)) = parse_inbound(t.as_str()) {
                    let params = &s.start.custom_parameters;
                    return Ok(Start {
                        call_id: params.get("call_id").cloned(),
                        token: params.get(TOKEN_PARAMETER).cloned(),
                        stream: ProviderStream::Twilio {
                            stream_sid: s.stream_sid,
                        },
                    });
                }
            }
            Protocol::SansPbx => {
                if let Ok(StreamEvent::Start(s)) = parse_stream_event(t.as_str()) {
                    let fields = &s.custom_field;
                    return Ok(Start {
                        call_id: fields
                            .get("call_id")
                            .cloned()
                            .or_else(|| s.ids.call_id.clone()),
                        token: fields.get(TOKEN_PARAMETER).cloned(),
                        stream: ProviderStream::SansPbx {
                            ids: s.ids,
                            event: REVERSE_MEDIA_EVENT.into(),
                        },
                    });
                }
            }
        }
    }
    Err(None)
}

async fn twilio_upgrade<H: BridgeHost, C: Connector>(
    State(bridge): State<Bridge<H, C>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if bridge.shutting_down() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if let Some(keys) = &bridge.inner.cfg.twilio_keys {
        let url = public_url(&bridge.inner.cfg.public_wss_base, TWILIO_PATH, None);
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let req = SignedRequest {
            url: &url,
            method: "GET",
            content_type: None,
            body: &[],
            signature: header(SIGNATURE_HEADER),
            signature_settings: header(SIGNATURE_SETTINGS_HEADER),
        };
        if let Err(e) = validate_request(&req, keys) {
            bridge.inner.rejected.fetch_add(1, Ordering::Relaxed);
            warn!(error = %e, "media stream upgrade with a bad signature");
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    bounded(ws).on_upgrade(move |socket: WebSocket| async move {
        bridge.serve_stream(socket, Protocol::Twilio).await;
    })
}

async fn sanspbx_upgrade<H: BridgeHost, C: Connector>(
    State(bridge): State<Bridge<H, C>>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if bridge.shutting_down() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    // SansPBX signs nothing: its stream must carry the shared token, always
    // (no token configured: no SansPBX stream at all).
    let sent = q.get("token").map(String::as_bytes).unwrap_or_default();
    let valid = bridge
        .inner
        .cfg
        .sanspbx_token
        .as_ref()
        .is_some_and(|token| bool::from(token.as_bytes().ct_eq(sent)));
    if !valid {
        bridge.inner.rejected.fetch_add(1, Ordering::Relaxed);
        warn!("SansPBX media stream upgrade without its token");
        return StatusCode::FORBIDDEN.into_response();
    }
    bounded(ws).on_upgrade(move |socket: WebSocket| async move {
        bridge.serve_stream(socket, Protocol::SansPbx).await;
    })
}

/// A provider socket's buffers and limits (see [`limits`]).
fn bounded(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .max_message_size(limits::MAX_MESSAGE)
        .max_frame_size(limits::MAX_MESSAGE)
}

async fn healthz<H: BridgeHost, C: Connector>(State(bridge): State<Bridge<H, C>>) -> Response {
    if bridge.shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

async fn metrics<H: BridgeHost, C: Connector>(State(bridge): State<Bridge<H, C>>) -> String {
    let i = &bridge.inner;
    let mut out = format!(
        "# HELP voxdial_bridge_live_calls Calls with a live media stream.\n\
         # TYPE voxdial_bridge_live_calls gauge\n\
         voxdial_bridge_live_calls {}\n\
         # HELP voxdial_bridge_calls_total Media streams served.\n\
         # TYPE voxdial_bridge_calls_total counter\n\
         voxdial_bridge_calls_total {}\n\
         # HELP voxdial_bridge_rejected_total Upgrades refused (bad signature or token).\n\
         # TYPE voxdial_bridge_rejected_total counter\n\
         voxdial_bridge_rejected_total {}\n",
        i.live.load(Ordering::SeqCst),
        i.total.load(Ordering::Relaxed),
        i.rejected.load(Ordering::Relaxed),
    );
    i.stats.lock().expect("lock").render(&mut out);
    out
}
