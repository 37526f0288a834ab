//! The per-call driver: a `select!` beside the conversation core that only
//! turns IO into inputs and outputs into IO.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};
use voxdial_conversation::codec::{
    InboundCodec, ModelMessage, OutboundCodec, ProviderStream, ProviderWriter, TwilioInbound,
    parse_model, parse_twilio,
};
use voxdial_conversation::{
    CallContext, CallSummary, Conversation, HostRequest, Input, ModelRequest, Output, ProviderCaps,
};
use voxdial_domain::{AnsweredBy, CallId, ModelUsage};
use voxdial_gemini::{LiveSession, SessionEvent};
use voxdial_wire::gemini::{
    ClientContent, ClientMessage, FunctionResponse, ModalityTokenCount, ServerPayload,
    ToolResponse, UsageMetadata, pcm_rate,
};
use voxdial_wire::sanspbx::{StreamEvent, parse_stream_event};
use voxdial_wire::twilio::media::InboundMessage;

use crate::host::BridgeHost;
use crate::live::LiveTap;
use crate::spool::Spool;

/// Which media protocol the provider socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Twilio Media Streams (μ-law).
    Twilio,
    /// SansPBX media WebSocket (PCM16).
    SansPbx,
}

/// Something pushed into a live call from outside (the status webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The provider's async AMD verdict.
    AnsweredBy(AnsweredBy),
}

/// An answer from a host task.
#[derive(Debug)]
enum HostReply {
    HumanAgent(Option<voxdial_conversation::HumanAgent>),
    TransferDone(Result<(), String>),
    CallbackScheduled(Result<(), String>),
}

/// Everything one call needs, gathered before the loop starts.
pub struct CallParts<H: BridgeHost> {
    /// The call.
    pub call_id: CallId,
    /// Its context.
    pub ctx: CallContext,
    /// The provider stream (ids for outbound messages).
    pub stream: ProviderStream,
    /// The model session (opened early when possible).
    pub session: LiveSession,
    /// The host.
    pub host: Arc<H>,
    /// Notices from outside.
    pub notices: mpsc::Receiver<Notice>,
    /// Becomes true when the bridge shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Seed of the call's random choices.
    pub seed: u64,
    /// How many times faster than real time the call runs (simulations).
    pub time_scale: f64,
    /// Where the recording goes as it is captured, when the call is
    /// recorded (`None`: not recorded, or no spool could be made).
    pub(crate) spool: Option<Spool>,
}

/// Runs one call until the conversation ends or the provider closes; then
/// stores the transcript, recording and report through the host.
pub async fn run_call<P, E, H>(mut provider: P, parts: CallParts<H>) -> CallSummary
where
    P: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    E: std::error::Error + 'static,
    H: BridgeHost,
{
    let CallParts {
        call_id,
        ctx,
        stream,
        mut session,
        host,
        mut notices,
        mut shutdown,
        seed,
        time_scale,
        mut spool,
    } = parts;
    let mut tap = host.live_feed(&call_id, &ctx).map(LiveTap::new);
    let protocol = match stream {
        ProviderStream::Twilio { .. } => Protocol::Twilio,
        ProviderStream::SansPbx { .. } => Protocol::SansPbx,
    };
    // Call time: real time since the start, times the simulation's scale.
    let scale = if time_scale > 0.0 { time_scale } else { 1.0 };
    let base = Instant::now();
    let now = || {
        Instant::now()
            .saturating_duration_since(base)
            .mul_f64(scale)
    };
    let caps = ProviderCaps {
        marks_and_clear: stream.has_marks(),
    };
    let mut conv = Conversation::new(now(), &ctx, caps, seed);
    let mut inbound = InboundCodec::new(stream.audio());
    let mut outbound = OutboundCodec::new();
    let mut writer = ProviderWriter::new(stream);
    let (host_tx, mut host_rx) = mpsc::unbounded_channel::<HostReply>();
    let mut model_json = String::with_capacity(2048);
    let mut out_json = String::with_capacity(512);
    let mut provider_open = true;
    let mut session_open = true;
    // The recording's bytes when there is no spool to take them.
    let mut unspooled = Vec::new();

    // Outputs of the constructor (e.g. a provider verdict known at start).
    let mut ended = false;
    // One timer for the whole call, moved only when the core's deadline
    // changes (a fresh `sleep_until` per message would register and drop
    // a timer 100+ times a second).
    let timer = sleep_until(base + Duration::from_secs(86_400));
    tokio::pin!(timer);
    loop {
        // Carry out what the core decided.
        let mut wrote = false;
        while let Some(out) = conv.poll_output() {
            match out {
                Output::CallerAudio(frame) => {
                    if let Some(tap) = tap.as_mut() {
                        tap.agent_frame(&frame);
                    }
                    out_json.clear();
                    writer.write_frame(&frame, &mut out_json);
                    wrote |= provider_open
                        && provider.feed(Message::text(out_json.clone())).await.is_ok();
                }
                Output::Mark(n) => {
                    out_json.clear();
                    if writer.write_mark(&n.to_string(), &mut out_json) {
                        wrote |= provider_open
                            && provider.feed(Message::text(out_json.clone())).await.is_ok();
                    }
                }
                Output::Clear => {
                    if let Some(tap) = tap.as_mut() {
                        tap.agent_cleared();
                    }
                    out_json.clear();
                    if writer.write_clear(&mut out_json) {
                        wrote |= provider_open
                            && provider.feed(Message::text(out_json.clone())).await.is_ok();
                    }
                }
                Output::ResetModelAudio => outbound.reset(),
                Output::Model(req) => {
                    let msg = match req {
                        ModelRequest::Prompt(text) => {
                            ClientMessage::ClientContent(ClientContent::user_text(text, true))
                        }
                        ModelRequest::ToolResponse { id, name, response } => {
                            ClientMessage::ToolResponse(ToolResponse {
                                function_responses: vec![FunctionResponse {
                                    id: Some(id),
                                    name,
                                    response,
                                    ..FunctionResponse::default()
                                }],
                            })
                        }
                    };
                    if session.send(msg.to_json()).is_err() {
                        warn!("model session input dropped");
                    }
                }
                Output::Host(req) => spawn_host(&host, &call_id, req, host_tx.clone()),
                Output::Ended(reason) => {
                    debug!(?reason, "conversation ended");
                    ended = true;
                }
            }
        }
        if wrote {
            let _ = provider.flush().await;
        }
        spool_recording(&mut conv, &mut spool, &mut unspooled).await;
        if let Some(tap) = tap.as_mut() {
            tap.observe(&conv);
        }
        if ended || conv.is_ended() || (!provider_open && !session_open) {
            break;
        }
        let deadline = conv.poll_timeout().map(|d| base + d.div_f64(scale));
        if let Some(d) = deadline
            && timer.deadline() != d
        {
            timer.as_mut().reset(d);
        }
        tokio::select! {
            msg = provider.next(), if provider_open => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        // An oversized message (1009) or a malformed frame
                        // (1002) ends the stream; the peer hears why.
                        if let Some(Err(e)) = &msg
                            && let Some(close) = crate::limits::close_for_error(e)
                        {
                            let _ = provider.send(close).await;
                        }
                        provider_open = false;
                        conv.handle_input(now(), Input::StreamStopped);
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                let t = now();
                match protocol {
                    Protocol::Twilio => match parse_twilio(text.as_str()) {
                        Ok(TwilioInbound::Media(payload)) => {
                            if inbound.decode(payload).is_ok() {
                                conv.handle_input(t, Input::CallerAudio(inbound.pcm()));
                                if let Some(tap) = tap.as_mut() {
                                    tap.caller_frame(inbound.pcm());
                                }
                                forward(&conv, &mut inbound, &session, &mut model_json);
                            }
                        }
                        Ok(TwilioInbound::Other(InboundMessage::Media(m))) => {
                            if inbound.decode(&m.media.payload).is_ok() {
                                conv.handle_input(t, Input::CallerAudio(inbound.pcm()));
                                if let Some(tap) = tap.as_mut() {
                                    tap.caller_frame(inbound.pcm());
                                }
                                forward(&conv, &mut inbound, &session, &mut model_json);
                            }
                        }
                        Ok(TwilioInbound::Other(InboundMessage::Dtmf(d))) => {
                            if let Some(c) = d.dtmf.digit.chars().next() {
                                conv.handle_input(t, Input::Dtmf(c));
                            }
                        }
                        Ok(TwilioInbound::Other(InboundMessage::Mark(m))) => conv.handle_input(t, Input::MarkPlayed(&m.mark.name)),
                        Ok(TwilioInbound::Other(InboundMessage::Stop(_))) => {
                            provider_open = false;
                            conv.handle_input(t, Input::StreamStopped);
                        }
                        Ok(_) => {}
                        Err(e) => debug!(error = %e, "bad Media Streams frame"),
                    },
                    Protocol::SansPbx => match parse_stream_event(text.as_str()) {
                        Ok(StreamEvent::Media { payload, .. }) => {
                            if inbound.decode(&payload).is_ok() {
                                conv.handle_input(t, Input::CallerAudio(inbound.pcm()));
                                if let Some(tap) = tap.as_mut() {
                                    tap.caller_frame(inbound.pcm());
                                }
                                forward(&conv, &mut inbound, &session, &mut model_json);
                            }
                        }
                        Ok(StreamEvent::Dtmf { digit, .. }) => {
                            if let Some(c) = digit.chars().next() {
                                conv.handle_input(t, Input::Dtmf(c));
                            }
                        }
                        Ok(StreamEvent::Stop(_)) => {
                            provider_open = false;
                            conv.handle_input(t, Input::StreamStopped);
                        }
                        Ok(_) => {}
                        Err(e) => debug!(error = %e, "bad SansPBX frame"),
                    },
                }
            }
            ev = session.recv(), if session_open => {
                let t = now();
                match ev {
                    Some(SessionEvent::Ready) => conv.handle_input(t, Input::ModelReady),
                    Some(SessionEvent::Resumed) => conv.handle_input(t, Input::ModelResumed),
                    Some(SessionEvent::Failed(e)) => {
                        warn!(error = %e, "model session failed");
                        session_open = false;
                        conv.handle_input(t, Input::ModelFailed);
                    }
                    None => {
                        session_open = false;
                        conv.handle_input(t, Input::ModelFailed);
                    }
                    Some(SessionEvent::Frame(bytes)) => on_model_frame(&bytes, t, &mut conv, &mut outbound),
                }
            }
            Some(reply) = host_rx.recv() => {
                let t = now();
                match reply {
                    HostReply::HumanAgent(a) => conv.handle_input(t, Input::HumanAgent(a)),
                    HostReply::TransferDone(r) => conv.handle_input(t, Input::TransferDone(r)),
                    HostReply::CallbackScheduled(r) => conv.handle_input(t, Input::CallbackScheduled(r)),
                }
            }
            Some(notice) = notices.recv() => {
                let Notice::AnsweredBy(v) = notice;
                conv.handle_input(now(), Input::ProviderVerdict(v));
            }
            Ok(()) = shutdown.changed() => {
                if *shutdown.borrow() {
                    conv.handle_input(now(), Input::Shutdown);
                }
            }
            _ = &mut timer, if deadline.is_some() => {
                conv.handle_timeout(now());
            }
        }
    }
    let _ = provider.close().await;
    drop(session);
    let summary = conv.finish(now());
    if let Some(mut spool) = spool {
        conv.take_recording(spool.buffer());
        match spool.finish().await {
            Ok(wav) => {
                if let Err(e) = host.save_recording(&call_id, wav).await {
                    warn!(error = %e, "saving the recording failed");
                }
            }
            Err(e) => warn!(error = %e, "finishing the spooled recording failed"),
        }
        // The spool (and its file) goes here.
    }
    if let Err(e) = host
        .save_transcript(&call_id, summary.transcript.clone())
        .await
    {
        warn!(error = %e, "saving the transcript failed");
    }
    if let Err(e) = host.report(&call_id, summary.report.clone()).await {
        warn!(error = %e, "saving the report failed");
    }
    summary
}

/// Moves the recording's final bytes from the core to the spool (a write
/// once a chunk is full). Without a spool they are dropped, so the core
/// holds its bounded window whatever happens; a spool that fails to write
/// is given up and the call goes on unrecorded.
async fn spool_recording(
    conv: &mut Conversation,
    spool: &mut Option<Spool>,
    unspooled: &mut Vec<u8>,
) {
    let Some(s) = spool else {
        unspooled.clear();
        conv.take_recording(unspooled);
        return;
    };
    conv.take_recording(s.buffer());
    if let Err(e) = s.write_if_full().await {
        warn!(error = %e, "spooling the recording failed: the rest of the call is not recorded");
        *spool = None;
    }
}

/// Sends the frame just decoded to the model when the core says so.
fn forward(
    conv: &Conversation,
    inbound: &mut InboundCodec,
    session: &LiveSession,
    buf: &mut String,
) {
    if conv.forward_caller_audio() {
        buf.clear();
        inbound.write_model_audio(buf);
        if session.send(buf.clone()).is_err() {
            debug!("model input queue full: caller frame dropped");
        }
    }
}

/// Feeds one server frame to the core.
fn on_model_frame(
    bytes: &[u8],
    t: Duration,
    conv: &mut Conversation,
    outbound: &mut OutboundCodec,
) {
    let msg = match parse_model(bytes) {
        Ok(ModelMessage::Audio(blobs, n)) => {
            // The steady state: audio only.
            for b in &blobs[..n] {
                push_model_audio(b.data, pcm_rate(b.mime_type), t, conv, outbound);
            }
            return;
        }
        Ok(ModelMessage::Other(m)) => m,
        Err(e) => {
            debug!(error = %e, "bad Gemini frame");
            return;
        }
    };
    if let Some(usage) = &msg.usage_metadata {
        conv.handle_input(t, Input::ModelUsage(model_usage(usage)));
    }
    match &msg.payload {
        ServerPayload::ServerContent(sc) => {
            if sc.interrupted == Some(true) {
                outbound.reset();
                conv.handle_input(t, Input::ModelInterrupted);
            }
            for b in msg.audio_chunks() {
                push_model_audio(&b.data, pcm_rate(&b.mime_type), t, conv, outbound);
            }
            if let Some(text) = sc
                .output_transcription
                .as_ref()
                .and_then(|x| x.text.as_deref())
            {
                conv.handle_input(t, Input::AgentTranscript(text));
            }
            if let Some(text) = sc
                .input_transcription
                .as_ref()
                .and_then(|x| x.text.as_deref())
            {
                conv.handle_input(t, Input::CallerTranscript(text));
            }
            if sc.turn_complete == Some(true) {
                outbound.flush(|f| conv.handle_input(t, Input::ModelAudio(f)));
                conv.handle_input(t, Input::ModelTurnComplete);
            }
        }
        ServerPayload::ToolCall(tc) => {
            let empty = serde_json::Map::new();
            for fc in &tc.function_calls {
                conv.handle_input(
                    t,
                    Input::ToolCall {
                        id: fc.id.as_deref().unwrap_or(""),
                        name: &fc.name,
                        args: fc.args.as_ref().unwrap_or(&empty),
                    },
                );
            }
        }
        ServerPayload::ToolCallCancellation(c) => {
            for id in &c.ids {
                conv.handle_input(t, Input::ToolCallCancelled(id));
            }
        }
        _ => {}
    }
}

/// One `usageMetadata` report in the call record's terms.
fn model_usage(report: &UsageMetadata) -> ModelUsage {
    let audio = |details: &[ModalityTokenCount]| {
        details
            .iter()
            .filter(|d| d.modality.as_deref() == Some("AUDIO"))
            .filter_map(|d| d.token_count)
            .sum()
    };
    ModelUsage {
        prompt_tokens: report.prompt_token_count.unwrap_or(0),
        prompt_audio_tokens: audio(&report.prompt_tokens_details),
        response_tokens: report.response_token_count.unwrap_or(0),
        response_audio_tokens: audio(&report.response_tokens_details),
        reports: 1,
        cost: None,
    }
}

/// Cuts one model audio blob into 20 ms frames for the core.
fn push_model_audio(
    data: &str,
    rate: Option<u32>,
    t: Duration,
    conv: &mut Conversation,
    outbound: &mut OutboundCodec,
) {
    let r = outbound.push(data, rate, |f| {
        conv.handle_input(t, Input::ModelAudio(f));
    });
    if let Err(e) = r {
        debug!(error = %e, "bad model audio");
    }
}

fn spawn_host<H: BridgeHost>(
    host: &Arc<H>,
    call_id: &CallId,
    req: HostRequest,
    tx: mpsc::UnboundedSender<HostReply>,
) {
    let host = host.clone();
    let call_id = call_id.clone();
    tokio::spawn(async move {
        let err = |e: crate::host::HostError| e.0;
        let reply = match req {
            HostRequest::PickHumanAgent { skills } => Some(HostReply::HumanAgent(
                host.pick_human_agent(&call_id, &skills)
                    .await
                    .unwrap_or_else(|e| {
                        warn!(error = %e, "picking a human agent failed");
                        None
                    }),
            )),
            HostRequest::ReleaseHumanAgent(id) => {
                log(host.release_human_agent(&call_id, &id).await);
                None
            }
            HostRequest::Transfer(plan) => Some(HostReply::TransferDone(
                host.transfer(&call_id, plan).await.map_err(err),
            )),
            HostRequest::ScheduleCallback { at } => Some(HostReply::CallbackScheduled(
                host.schedule_callback(&call_id, at).await.map_err(err),
            )),
            HostRequest::OptOut => {
                log(host.opt_out(&call_id).await);
                None
            }
            HostRequest::RecordDisposition(d) => {
                log(host.record_disposition(&call_id, d).await);
                None
            }
            HostRequest::HangUp => {
                log(host.hang_up(&call_id).await);
                None
            }
            HostRequest::VoicemailLeft => {
                log(host.voicemail_left(&call_id).await);
                None
            }
        };
        if let Some(r) = reply {
            let _ = tx.send(r);
        }
    });
}

fn log(r: Result<(), crate::host::HostError>) {
    if let Err(e) = r {
        warn!(error = %e, "host call failed");
    }
}
