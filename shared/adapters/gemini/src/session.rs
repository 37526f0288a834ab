//! One Live session per call, as a task: connect, `setup`, forward frames,
//! and resume transparently on `goAway` or a dropped connection.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, warn};
use voxdial_wire::gemini::{ClientMessage, ServerPayload, Setup, parse_server_message};

use crate::GeminiClientError;
use crate::socket::{Connector, WsSocket};

/// Session tuning.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Time allowed for connect + `setupComplete`.
    pub setup_timeout: Duration,
    /// Reconnects allowed per session (goAway or drops).
    pub max_reconnects: u32,
    /// Input frames held while switching connections (about 20 ms each).
    pub max_buffered: usize,
    /// Capacity of the input queue.
    pub input_capacity: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            setup_timeout: Duration::from_secs(10),
            max_reconnects: 20,
            max_buffered: 500,
            input_capacity: 1024,
        }
    }
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `setupComplete` on the first connection.
    Ready,
    /// A server frame (JSON, from a text or binary WebSocket frame) other
    /// than the session plumbing (`setupComplete`, `goAway`,
    /// `sessionResumptionUpdate`), which the session handles itself.
    Frame(Bytes),
    /// The session moved to a new connection with the resumption handle.
    Resumed,
    /// The session is gone for good.
    Failed(String),
}

/// A running session. Dropping it closes the connection.
#[derive(Debug)]
pub struct LiveSession {
    input: mpsc::Sender<String>,
    events: mpsc::Receiver<SessionEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LiveSession {
    /// Starts connecting at once (call it while the phone rings); `setup`
    /// is sent on every connection, with the latest resumption handle.
    pub fn open<C: Connector>(connector: Arc<C>, setup: Setup, config: SessionConfig) -> Self {
        let (in_tx, in_rx) = mpsc::channel(config.input_capacity);
        let (ev_tx, ev_rx) = mpsc::channel(256);
        let task = tokio::spawn(run(connector, setup, config, in_rx, ev_tx));
        Self {
            input: in_tx,
            events: ev_rx,
            task,
        }
    }

    /// Queues a client message (JSON text) without waiting. Fails when the
    /// session is gone or its queue is full (the frame is dropped).
    pub fn send(&self, json: String) -> Result<(), GeminiClientError> {
        self.input
            .try_send(json)
            .map_err(|_| GeminiClientError::Closed)
    }

    /// The next event; `None` once the session task has ended.
    pub async fn recv(&mut self) -> Option<SessionEvent> {
        self.events.recv().await
    }
}

type Connecting<S> = Pin<Box<dyn Future<Output = Result<S, GeminiClientError>> + Send>>;

/// Connects, sends `setup`, waits for `setupComplete`.
async fn connect_and_setup<C: Connector>(
    connector: Arc<C>,
    setup_json: String,
    timeout: Duration,
) -> Result<C::Socket, GeminiClientError> {
    let fut = async move {
        let mut ws = connector.connect().await?;
        ws.send(Message::text(setup_json)).await?;
        while let Some(msg) = ws.next().await {
            let bytes = match msg? {
                Message::Text(t) => Bytes::from(t),
                Message::Binary(b) => b,
                Message::Close(c) => {
                    return Err(GeminiClientError::Setup(format!(
                        "closed before setupComplete: {c:?}"
                    )));
                }
                _ => continue,
            };
            match parse_server_message(&bytes) {
                Ok(m) if matches!(m.payload, ServerPayload::SetupComplete(_)) => return Ok(ws),
                Ok(_) => continue,
                Err(e) => return Err(GeminiClientError::Setup(e.to_string())),
            }
        }
        Err(GeminiClientError::Setup(
            "closed before setupComplete".into(),
        ))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| GeminiClientError::Timeout)?
}

fn setup_json(setup: &Setup, handle: Option<&str>) -> String {
    let mut s = setup.clone();
    let mut r = s.session_resumption.take().unwrap_or_default();
    r.handle = handle.map(str::to_owned);
    s.session_resumption = Some(r);
    ClientMessage::Setup(Box::new(s)).to_json()
}

/// Whether a frame may carry session plumbing (cheap sniff: big model
/// audio frames start with `serverContent` and are passed on unparsed).
fn may_be_control(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(24)];
    !(head.windows(13).any(|w| w == b"serverContent")
        || head.windows(14).any(|w| w == b"server_content"))
}

async fn run<C: Connector>(
    connector: Arc<C>,
    setup: Setup,
    config: SessionConfig,
    mut input: mpsc::Receiver<String>,
    events: mpsc::Sender<SessionEvent>,
) {
    let mut handle: Option<String> = None;
    let mut reconnects = 0u32;
    let mut socket: Option<C::Socket> = None;
    let mut buffer: VecDeque<String> = VecDeque::new();
    let mut connecting: Option<Connecting<C::Socket>> = Some(Box::pin(connect_and_setup(
        connector.clone(),
        setup_json(&setup, None),
        config.setup_timeout,
    )));
    let mut first = true;

    loop {
        tokio::select! {
            res = async { connecting.as_mut().expect("guarded").await }, if connecting.is_some() => {
                connecting = None;
                match res {
                    Ok(mut ws) => {
                        if let Some(mut old) = socket.take() {
                            let _ = old.close().await;
                        }
                        let mut ok = true;
                        while let Some(m) = buffer.pop_front() {
                            if ws.send(Message::text(m)).await.is_err() {
                                ok = false;
                                break;
                            }
                        }
                        if !ok {
                            // Retry below as a drop.
                            socket = None;
                            if !schedule_reconnect(&connector, &setup, &config, &handle, &mut reconnects, &mut connecting) {
                                let _ = events.send(SessionEvent::Failed("send failed after resume".into())).await;
                                return;
                            }
                            continue;
                        }
                        socket = Some(ws);
                        let ev = if first { SessionEvent::Ready } else { SessionEvent::Resumed };
                        first = false;
                        if events.send(ev).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "Gemini Live connect failed");
                        if first || !schedule_reconnect(&connector, &setup, &config, &handle, &mut reconnects, &mut connecting) {
                            let _ = events.send(SessionEvent::Failed(e.to_string())).await;
                            return;
                        }
                    }
                }
            }
            msg = input.recv() => {
                let Some(msg) = msg else {
                    if let Some(mut ws) = socket.take() {
                        let _ = ws.close().await;
                    }
                    return;
                };
                match (&mut socket, connecting.is_some()) {
                    (Some(ws), false) => {
                        if send_batch(ws, msg, &mut input).await.is_err() {
                            socket = None;
                            if !schedule_reconnect(&connector, &setup, &config, &handle, &mut reconnects, &mut connecting) {
                                let _ = events.send(SessionEvent::Failed("connection lost".into())).await;
                                return;
                            }
                        }
                    }
                    _ => {
                        if buffer.len() >= config.max_buffered {
                            buffer.pop_front();
                        }
                        buffer.push_back(msg);
                    }
                }
            }
            frame = async { socket.as_mut().expect("guarded").next().await }, if socket.is_some() => {
                let bytes = match frame {
                    Some(Ok(Message::Text(t))) => Bytes::from(t),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        socket = None;
                        if connecting.is_none()
                            && !schedule_reconnect(&connector, &setup, &config, &handle, &mut reconnects, &mut connecting)
                        {
                            let _ = events.send(SessionEvent::Failed("connection closed".into())).await;
                            return;
                        }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                if may_be_control(&bytes) {
                    match parse_server_message(&bytes).map(|m| m.payload) {
                        Ok(ServerPayload::SessionResumptionUpdate(u)) => {
                            if u.resumable != Some(false)
                                && let Some(h) = u.new_handle.filter(|h| !h.is_empty())
                            {
                                handle = Some(h);
                            }
                            continue;
                        }
                        Ok(ServerPayload::GoAway(g)) => {
                            debug!(time_left = ?g.time_left, "goAway: resuming on a new connection");
                            if connecting.is_none()
                                && !schedule_reconnect(&connector, &setup, &config, &handle, &mut reconnects, &mut connecting)
                            {
                                let _ = events.send(SessionEvent::Failed("goAway without a resumption handle".into())).await;
                                return;
                            }
                            continue;
                        }
                        Ok(ServerPayload::SetupComplete(_)) => continue,
                        _ => {}
                    }
                }
                if events.send(SessionEvent::Frame(bytes)).await.is_err() {
                    return;
                }
            }
            else => return,
        }
    }
}

/// Most input messages written per socket flush.
const MAX_BATCH: usize = 16;

/// Writes `first` and whatever else is already queued (up to
/// [`MAX_BATCH`]), then flushes once: one socket write for the lot when
/// the call's driver got ahead, instead of one per message.
async fn send_batch<S: WsSocket>(
    ws: &mut S,
    first: String,
    input: &mut mpsc::Receiver<String>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.feed(Message::text(first)).await?;
    for _ in 1..MAX_BATCH {
        let Ok(next) = input.try_recv() else {
            break;
        };
        ws.feed(Message::text(next)).await?;
    }
    ws.flush().await
}

/// Starts a resumption connect; false when not possible (no handle, too
/// many reconnects).
fn schedule_reconnect<C: Connector>(
    connector: &Arc<C>,
    setup: &Setup,
    config: &SessionConfig,
    handle: &Option<String>,
    reconnects: &mut u32,
    connecting: &mut Option<Connecting<C::Socket>>,
) -> bool {
    let Some(h) = handle else {
        return false;
    };
    if *reconnects >= config.max_reconnects {
        return false;
    }
    *reconnects += 1;
    *connecting = Some(
        connect_and_setup(
            connector.clone(),
            setup_json(setup, Some(h)),
            config.setup_timeout,
        )
        .boxed(),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::ChannelConnector;
    use voxdial_wire::gemini::parse_client_message;

    async fn expect_setup(server: &mut crate::socket::ChannelSocket) -> Setup {
        let Some(Ok(Message::Text(t))) = server.next().await else {
            panic!("no setup")
        };
        match parse_client_message(t.as_bytes()).unwrap() {
            ClientMessage::Setup(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn go_away_resumes_with_the_handle_and_replays_buffered_input() {
        let (conn, mut accept) = ChannelConnector::new();
        let mut session = LiveSession::open(
            Arc::new(conn),
            Setup {
                model: "models/m".into(),
                ..Setup::default()
            },
            SessionConfig::default(),
        );
        // GIVEN a first connection that completes setup and hands out a handle
        let mut s1 = accept.recv().await.unwrap();
        let setup1 = expect_setup(&mut s1).await;
        assert_eq!(setup1.session_resumption.unwrap().handle, None);
        s1.send(Message::binary(&br#"{"setupComplete":{}}"#[..]))
            .await
            .unwrap();
        assert_eq!(session.recv().await, Some(SessionEvent::Ready));
        s1.send(Message::text(
            r#"{"sessionResumptionUpdate":{"newHandle":"h-7","resumable":true}}"#,
        ))
        .await
        .unwrap();
        session.send("a".into()).unwrap();
        let Some(Ok(Message::Text(t))) = s1.next().await else {
            panic!()
        };
        assert_eq!(t.as_str(), "a");
        // WHEN the server says goAway
        s1.send(Message::text(r#"{"goAway":{"timeLeft":"5s"}}"#))
            .await
            .unwrap();
        // THEN a new connection opens with the handle; input sent meanwhile waits for it
        let mut s2 = accept.recv().await.unwrap();
        session.send("b".into()).unwrap();
        session.send("c".into()).unwrap();
        let setup2 = expect_setup(&mut s2).await;
        assert_eq!(
            setup2.session_resumption.unwrap().handle.as_deref(),
            Some("h-7")
        );
        s2.send(Message::text(r#"{"setupComplete":{}}"#))
            .await
            .unwrap();
        assert_eq!(session.recv().await, Some(SessionEvent::Resumed));
        for want in ["b", "c"] {
            let Some(Ok(Message::Text(t))) = s2.next().await else {
                panic!()
            };
            assert_eq!(t.as_str(), want);
        }
        // the old connection was closed, the new one carries model frames
        assert!(s1.next().await.is_none());
        s2.send(Message::binary(
            &br#"{"serverContent":{"turnComplete":true}}"#[..],
        ))
        .await
        .unwrap();
        let Some(SessionEvent::Frame(f)) = session.recv().await else {
            panic!()
        };
        assert_eq!(&f[..], br#"{"serverContent":{"turnComplete":true}}"#);
    }

    /// A connector whose sockets count their flushes (socket writes).
    struct Counting {
        inner: ChannelConnector,
        flushes: Arc<std::sync::atomic::AtomicUsize>,
    }

    struct CountingSocket {
        inner: crate::socket::ChannelSocket,
        flushes: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Connector for Counting {
        type Socket = CountingSocket;

        async fn connect(&self) -> Result<CountingSocket, GeminiClientError> {
            Ok(CountingSocket {
                inner: self.inner.connect().await?,
                flushes: self.flushes.clone(),
            })
        }
    }

    impl futures_util::Stream for CountingSocket {
        type Item = Result<Message, tokio_tungstenite::tungstenite::Error>;

        fn poll_next(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            Pin::new(&mut self.inner).poll_next(cx)
        }
    }

    impl futures_util::Sink<Message> for CountingSocket {
        type Error = tokio_tungstenite::tungstenite::Error;

        fn poll_ready(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.inner).poll_ready(cx)
        }

        fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            Pin::new(&mut self.inner).start_send(item)
        }

        fn poll_flush(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_close(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            Pin::new(&mut self.inner).poll_close(cx)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn input_queued_meanwhile_goes_out_in_order_with_one_flush() {
        let (inner, mut accept) = ChannelConnector::new();
        let flushes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let conn = Counting {
            inner,
            flushes: flushes.clone(),
        };
        let mut session =
            LiveSession::open(Arc::new(conn), Setup::default(), SessionConfig::default());
        // GIVEN a session that is ready
        let mut server = accept.recv().await.unwrap();
        expect_setup(&mut server).await;
        server
            .send(Message::text(r#"{"setupComplete":{}}"#))
            .await
            .unwrap();
        assert_eq!(session.recv().await, Some(SessionEvent::Ready));
        let before = flushes.load(std::sync::atomic::Ordering::SeqCst);
        // WHEN three inputs are queued before the session's task runs
        for m in ["a", "b", "c"] {
            session.send(m.into()).unwrap();
        }
        // THEN they arrive in order, written with one flush
        for want in ["a", "b", "c"] {
            let Some(Ok(Message::Text(t))) = server.next().await else {
                panic!("no input")
            };
            assert_eq!(t.as_str(), want);
        }
        let after = flushes.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(after - before, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drop_without_a_handle_fails_and_setup_times_out() {
        let (conn, mut accept) = ChannelConnector::new();
        let conn = Arc::new(conn);
        let mut session =
            LiveSession::open(conn.clone(), Setup::default(), SessionConfig::default());
        let mut s1 = accept.recv().await.unwrap();
        expect_setup(&mut s1).await;
        s1.send(Message::text(r#"{"setupComplete":{}}"#))
            .await
            .unwrap();
        assert_eq!(session.recv().await, Some(SessionEvent::Ready));
        drop(s1);
        assert!(matches!(
            session.recv().await,
            Some(SessionEvent::Failed(_))
        ));
        // a server that never answers setup: timeout
        let mut session = LiveSession::open(conn, Setup::default(), SessionConfig::default());
        let _s = accept.recv().await.unwrap();
        assert!(matches!(
            session.recv().await,
            Some(SessionEvent::Failed(_))
        ));
    }
}
