//! Test calls from the browser: the browser is the "provider" side of one
//! conversation with an AI agent, through the same driver and conversation
//! core as a phone call ([`crate::Bridge::serve_test_call`]).
//!
//! # The browser's protocol
//!
//! | Direction | Message | Content |
//! |---|---|---|
//! | browser → bridge | binary | the microphone: 16-bit little-endian PCM, mono, **8 kHz** ([`FRAME_BYTES`] per 20 ms; any even length is taken) |
//! | bridge → browser | binary | the agent's voice, same format, 20 ms per message |
//! | bridge → browser | text | a [`LiveEvent`] as JSON (`{"type":"state","state":"listening"}`, `{"type":"line",…}`, …): the state machine's state and the transcript as it grows |
//! | either | close | the call ends (the bridge closes with 1000 when the conversation ends) |
//!
//! Inside, the browser leg speaks the SansPBX stream protocol to the driver
//! (PCM16 at 8 kHz, no marks, no clear), so nothing of the driver changes.
//! What a phone call does through the host does nothing here: no call
//! record, no transcript, recording or report stored, no disposition, no
//! do-not-call entry, no transfer or callback (the agent is told they
//! failed).
//!
//! Nothing the browser is slow to take holds the call up: the messages to
//! it go through a queue of [`OUT_QUEUE`] and what does not fit is dropped.

use std::collections::VecDeque;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, close_code};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use voxdial_conversation::b64;
use voxdial_conversation::{
    CallContext, CallReport, HumanAgent, LiveEvent, TranscriptTurn, TransferPlan,
};
use voxdial_domain::{AnsweredBy, CallId, Disposition, HumanAgentId, Timestamp};
use voxdial_wire::sanspbx::parse_outbound_media;

use crate::host::{BridgeHost, HostError};
use crate::live::LiveFeed;

/// Bytes of 20 ms of the browser's audio (160 samples of 16-bit PCM).
pub const FRAME_BYTES: usize = 320;

/// Messages waiting for the browser (about 5 s of audio with its events).
pub const OUT_QUEUE: usize = 256;

/// How long the end of a test call waits for its last messages to reach
/// the browser.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The longest test call, ms: the agent says goodbye then, whatever its
/// own limit.
pub const MAX_TEST_CALL_MS: u64 = 5 * 60 * 1000;

/// The context of a test call with `ctx`'s agent: a human on the line (no
/// answering-machine detection), nothing recorded, at most
/// [`MAX_TEST_CALL_MS`].
pub(crate) fn test_context(mut ctx: CallContext) -> CallContext {
    ctx.answered_by = Some(AnsweredBy::Human);
    ctx.provider_verdict_due = false;
    ctx.record = false;
    ctx.agent.max_call_ms = ctx.agent.max_call_ms.min(MAX_TEST_CALL_MS);
    ctx
}

/// The browser's socket cut in two: the leg the driver reads and writes,
/// and the task writing to the browser.
pub(crate) fn split<S, E>(socket: S) -> (BrowserLeg<S>, BrowserFeed, JoinHandle<()>)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Send + 'static,
{
    let (sink, stream) = socket.split();
    let (out, rx) = mpsc::channel(OUT_QUEUE);
    let writer = tokio::spawn(write_to_browser(sink, rx));
    let leg = BrowserLeg {
        stream,
        out: out.clone(),
        pending: VecDeque::new(),
        scratch: Vec::new(),
    };
    (leg, BrowserFeed { out }, writer)
}

/// Sends the queued messages to the browser until every sender is gone,
/// then closes the socket.
async fn write_to_browser<S>(mut sink: SplitSink<S, Message>, mut rx: mpsc::Receiver<Message>)
where
    S: Sink<Message>,
{
    while let Some(m) = rx.recv().await {
        if matches!(m, Message::Close(_)) {
            let _ = sink.send(m).await;
            return;
        }
        if sink.send(m).await.is_err() {
            return;
        }
    }
    // The conversation ended: the browser hears so.
    let close = CloseFrame {
        code: close_code::NORMAL,
        reason: "the call ended".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
    let _ = sink.close().await;
}

/// The browser as the driver's provider socket (SansPBX protocol inside).
pub(crate) struct BrowserLeg<S> {
    stream: SplitStream<S>,
    out: mpsc::Sender<Message>,
    /// Media events made from the browser's last message, not yet read.
    pending: VecDeque<Message>,
    scratch: Vec<u8>,
}

impl<S> BrowserLeg<S> {
    /// Cuts the browser's audio into 20 ms SansPBX `media` events.
    fn queue_audio(&mut self, pcm: &[u8]) {
        for chunk in pcm.chunks(FRAME_BYTES) {
            let mut text = String::with_capacity(32 + chunk.len().div_ceil(3) * 4);
            text.push_str(r#"{"event":"media","payload":""#);
            b64::encode_into(chunk, &mut self.scratch, &mut text);
            text.push_str(r#""}"#);
            self.pending.push_back(Message::text(text));
        }
    }
}

impl<S, E> Stream for BrowserLeg<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message>,
{
    type Item = Result<Message, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(m) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(m)));
            }
            match std::task::ready!(this.stream.poll_next_unpin(cx)) {
                Some(Ok(Message::Binary(pcm))) => this.queue_audio(&pcm),
                // Text from the browser means nothing yet; pings are
                // answered by the socket.
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                other => return Poll::Ready(other),
            }
        }
    }
}

/// The browser is gone: nothing more can reach it.
#[derive(Debug, thiserror::Error)]
#[error("the browser left")]
pub(crate) struct BrowserGone;

impl<S> Sink<Message> for BrowserLeg<S> {
    type Error = BrowserGone;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), BrowserGone>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), BrowserGone> {
        let this = self.get_mut();
        let message = match item {
            // The agent's audio: a SansPBX `reverse-media` event.
            Message::Text(t) => {
                let Ok(media) = parse_outbound_media(t.as_str()) else {
                    return Ok(());
                };
                this.scratch.clear();
                if b64::decode_map(media.payload.as_bytes(), &mut this.scratch, |b| b).is_err() {
                    return Ok(());
                }
                Message::Binary(Bytes::copy_from_slice(&this.scratch))
            }
            other => other,
        };
        offer(&this.out, message)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), BrowserGone>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), BrowserGone>> {
        Poll::Ready(Ok(()))
    }
}

/// Queues `message` for the browser, dropping it when the queue is full.
fn offer(out: &mpsc::Sender<Message>, message: Message) -> Result<(), BrowserGone> {
    match out.try_send(message) {
        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(BrowserGone),
    }
}

/// The test call's live events, as JSON text messages to the browser.
pub(crate) struct BrowserFeed {
    out: mpsc::Sender<Message>,
}

impl LiveFeed for BrowserFeed {
    fn event(&self, event: LiveEvent) {
        if let Ok(json) = serde_json::to_string(&event) {
            let _ = offer(&self.out, Message::text(json));
        }
    }
    fn wants_audio(&self) -> bool {
        false
    }
    fn audio(&self, _: &[u8]) {}
}

/// The host of a test call: its live feed goes to the browser, and
/// nothing is stored or done at a provider (see the module doc).
pub(crate) struct TestCallHost {
    ctx: CallContext,
    feed: Mutex<Option<BrowserFeed>>,
}

impl TestCallHost {
    /// A host for one test call in `ctx`, publishing to `feed`.
    pub(crate) fn new(ctx: CallContext, feed: BrowserFeed) -> Self {
        Self {
            ctx,
            feed: Mutex::new(Some(feed)),
        }
    }
}

/// What the agent is told when it tries what a test call cannot do.
fn not_on_a_test_call() -> HostError {
    HostError("not available on a test call".into())
}

#[async_trait]
impl BridgeHost for TestCallHost {
    async fn call_context(&self, _: &CallId) -> Result<CallContext, HostError> {
        Ok(self.ctx.clone())
    }
    async fn admit_stream(&self, _: &CallId, _: Option<&str>) -> Result<(), HostError> {
        Ok(())
    }
    async fn answered_by(&self, _: &CallId) -> Result<Option<AnsweredBy>, HostError> {
        Ok(Some(AnsweredBy::Human))
    }
    async fn record_disposition(&self, _: &CallId, _: Disposition) -> Result<(), HostError> {
        Ok(())
    }
    async fn opt_out(&self, _: &CallId) -> Result<(), HostError> {
        Ok(())
    }
    async fn pick_human_agent(
        &self,
        _: &CallId,
        _: &[String],
    ) -> Result<Option<HumanAgent>, HostError> {
        Ok(None)
    }
    async fn release_human_agent(&self, _: &CallId, _: &HumanAgentId) -> Result<(), HostError> {
        Ok(())
    }
    async fn transfer(&self, _: &CallId, _: TransferPlan) -> Result<(), HostError> {
        Err(not_on_a_test_call())
    }
    async fn schedule_callback(&self, _: &CallId, _: Option<Timestamp>) -> Result<(), HostError> {
        Err(not_on_a_test_call())
    }
    async fn hang_up(&self, _: &CallId) -> Result<(), HostError> {
        Ok(())
    }
    async fn voicemail_left(&self, _: &CallId) -> Result<(), HostError> {
        Ok(())
    }
    async fn save_recording(&self, _: &CallId, _: &Path) -> Result<(), HostError> {
        Ok(())
    }
    async fn save_transcript(&self, _: &CallId, _: Vec<TranscriptTurn>) -> Result<(), HostError> {
        Ok(())
    }
    async fn report(&self, _: &CallId, _: CallReport) -> Result<(), HostError> {
        Ok(())
    }
    fn live_feed(&self, _: &CallId, _: &CallContext) -> Option<Box<dyn LiveFeed>> {
        let feed = self.feed.lock().expect("lock").take()?;
        Some(Box::new(feed))
    }
}
