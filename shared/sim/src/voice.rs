//! A simulated Gemini Live server speaking the real wire protocol
//! (`voxdial_wire::gemini`): `setup` → `setupComplete`, resumption handles,
//! `goAway`, model audio at 24 kHz in `serverContent`, output and input
//! transcriptions, `interrupted` when the caller talks over it,
//! `generationComplete` then `turnComplete` with the turn's `usageMetadata`
//! (see [`TurnUsage`]), and tool calls (`record_outcome`, `transfer_call`, `end_call`) scripted by
//! the callee's [`Persona`] (named in the system instruction as
//! `persona: NAME`, e.g. through a lead custom field).
//!
//! It runs over a real TCP listener ([`serve_tcp`]) or any in-memory
//! socket ([`serve_socket`]). Latency, chunk size, pacing and `goAway` are
//! configurable ([`VoiceSimConfig`]); everything random is seeded.
//!
//! In probe mode ([`VoiceSimConfig::probe`]) it instead streams real-time
//! silence with a click every period and timestamps the clicks it hears
//! (see [`crate::caller::ProbeLog`]), to measure the bridge's added latency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use voxdial_domain::Disposition;
use voxdial_gemini::WsSocket;
use voxdial_media::pcm;
use voxdial_media::synth::Synth;
use voxdial_media::vad::{Vad, VadConfig, VadEvent};
use voxdial_wire::gemini::{
    ClientMessage, FunctionCall, GoAway, ModalityTokenCount, ModelTurn, ServerContent,
    ServerMessage, ServerPart, ServerPayload, SessionResumptionUpdate, SetupComplete, ToolCall,
    Transcription, UsageMetadata, format_proto_duration, parse_client_message,
};

use crate::caller::ProbeLog;

/// How the callee behaves, shared by the simulated model (what it says and
/// which tools it calls) and the simulated caller (what it says, when).
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    /// Name (`interested`, `voicemail`, …).
    pub name: String,
    /// A person or an answering machine.
    pub answerer: Answerer,
    /// Length of the callee's first "hello?", ms (0: says nothing).
    pub hello_ms: u64,
    /// What the callee says after each agent line, in order.
    pub turns: Vec<CallerTurn>,
    /// The outcome the model records after the last turn.
    pub disposition: Option<Disposition>,
    /// The model transfers to a human after the last turn.
    pub transfer: bool,
    /// The callee talks over the agent's second line.
    pub barge_in: bool,
    /// A key the callee presses after the greeting.
    pub dtmf: Option<char>,
}

/// Who picks up.
#[derive(Debug, Clone, PartialEq)]
pub enum Answerer {
    /// A person.
    Human,
    /// A voicemail greeting of this length, with or without a beep.
    Voicemail {
        /// Greeting length, ms.
        greeting_ms: u64,
        /// A beep after it.
        beep: bool,
    },
}

/// One thing the callee says.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerTurn {
    /// The words (sent as input transcription by the simulated model).
    pub text: String,
    /// How long it takes to say, ms.
    pub speak_ms: u64,
}

fn turn(text: &str, speak_ms: u64) -> CallerTurn {
    CallerTurn {
        text: text.into(),
        speak_ms,
    }
}

impl Persona {
    fn human(name: &str, turns: Vec<CallerTurn>, disposition: Option<Disposition>) -> Self {
        Self {
            name: name.into(),
            answerer: Answerer::Human,
            hello_ms: 500,
            turns,
            disposition,
            transfer: false,
            barge_in: false,
            dtmf: None,
        }
    }

    /// Every persona, in a fixed order.
    pub fn catalog() -> Vec<Persona> {
        use Disposition::*;
        vec![
            Persona::human(
                "interested",
                vec![
                    turn("Yes, tell me more.", 900),
                    turn("Sounds good, sign me up.", 1100),
                ],
                Some(Interested),
            ),
            Persona::human(
                "not_interested",
                vec![turn("No thanks, I'm not interested.", 1200)],
                Some(NotInterested),
            ),
            Persona::human(
                "callback",
                vec![turn("I'm busy, call me tomorrow morning.", 1300)],
                Some(CallbackRequested),
            ),
            Persona {
                transfer: true,
                ..Persona::human(
                    "transfer",
                    vec![turn("Can I talk to a real person?", 1200)],
                    None,
                )
            },
            Persona::human(
                "wrong_number",
                vec![turn("You have the wrong number.", 1000)],
                Some(WrongNumber),
            ),
            Persona {
                dtmf: Some('9'),
                ..Persona::human("opt_out", vec![], None)
            },
            Persona {
                barge_in: true,
                ..Persona::human(
                    "barge_in",
                    vec![
                        turn("Okay.", 500),
                        turn("Wait, how much does it cost?", 1200),
                    ],
                    Some(Interested),
                )
            },
            Persona {
                hello_ms: 0,
                ..Persona::human("silent", vec![], None)
            },
            Persona {
                answerer: Answerer::Voicemail {
                    greeting_ms: 5000,
                    beep: true,
                },
                hello_ms: 0,
                ..Persona::human("voicemail", vec![], None)
            },
        ]
    }

    /// A persona by name.
    pub fn by_name(name: &str) -> Option<Persona> {
        Self::catalog().into_iter().find(|p| p.name == name)
    }

    /// A persona picked deterministically from `seed`.
    pub fn pick(seed: u64) -> Persona {
        let all = Self::catalog();
        let i = (Synth::new(seed).next_u64() % all.len() as u64) as usize;
        all[i].clone()
    }
}

/// How the simulated model behaves.
#[derive(Debug, Clone)]
pub struct VoiceSimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Delay before the first audio of a reply.
    pub latency: Duration,
    /// Extra random delay, up to this much.
    pub latency_jitter: Duration,
    /// Audio per `serverContent` message.
    pub chunk: Duration,
    /// How fast audio is sent relative to real time (2.0 = twice as fast).
    pub speed: f64,
    /// Send `goAway` this long after each connection starts.
    pub go_away_after: Option<Duration>,
    /// `timeLeft` announced in `goAway`; the connection closes after it.
    pub go_away_time_left: Duration,
    /// Random `goAway`s and dropped connections (none by default).
    pub connection_faults: Option<ConnectionFaults>,
    /// Probe mode: stream clicks and log clicks heard.
    pub probe: Option<Arc<ProbeLog>>,
    /// Click period in probe mode.
    pub click_period: Duration,
    /// Divide every wait by this (fast simulations).
    pub time_scale: f64,
}

/// Random disruptions of model connections, each connection's fate drawn
/// from the simulator's seed and the connection's number: a `goAway` (with
/// `go_away_time_left`, then the close) as the service sends before it
/// recycles a connection, or a drop (the socket ends with no `goAway` and no
/// close frame, as a network failure ends it).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionFaults {
    /// The share of connections sent `goAway`.
    pub go_away: f64,
    /// The share of connections dropped.
    pub drop: f64,
    /// When, after the setup: uniform in this window (divided by
    /// `time_scale`).
    pub within: (Duration, Duration),
}

/// What [`ConnectionFaults`] does to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionFault {
    /// `goAway`, then the close after `timeLeft`.
    GoAway,
    /// The socket ends abruptly.
    Drop,
}

impl ConnectionFaults {
    /// The fate of connection `n` under `seed`, and when it strikes.
    pub fn draw(&self, seed: u64, n: u64) -> Option<(ConnectionFault, Duration)> {
        let unit = |salt: u64| {
            (crate::carrier::mix(seed ^ n.wrapping_mul(0x9E37_79B9) ^ salt) >> 11) as f64
                / (1u64 << 53) as f64
        };
        let roll = unit(0x60A7);
        let fault = if roll < self.go_away {
            ConnectionFault::GoAway
        } else if roll < self.go_away + self.drop {
            ConnectionFault::Drop
        } else {
            return None;
        };
        let (lo, hi) = self.within;
        Some((fault, lo + hi.saturating_sub(lo).mul_f64(unit(0xD80F))))
    }
}

impl Default for VoiceSimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            latency: Duration::from_millis(400),
            latency_jitter: Duration::from_millis(200),
            chunk: Duration::from_millis(40),
            speed: 1.5,
            go_away_after: None,
            go_away_time_left: Duration::from_secs(2),
            connection_faults: None,
            probe: None,
            click_period: Duration::from_millis(500),
            time_scale: 1.0,
        }
    }
}

/// What the simulator's sessions and [`ConnectionFaults`] did, for reports
/// (a soak's figures).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Sessions set up, resumptions included.
    pub setups: u64,
    /// Setups that resumed a session with a handle this simulator issued.
    pub resumed: u64,
    /// Connections sent `goAway`.
    pub go_aways: u64,
    /// Connections dropped.
    pub drops: u64,
    /// The callee of each connection sent `goAway` or dropped, in order:
    /// the name after `You are calling ` in the system instruction.
    pub faulted_callees: Vec<String>,
}

/// The simulator: shared by all sessions (resumption handles live here).
#[derive(Debug)]
pub struct VoiceSim {
    cfg: VoiceSimConfig,
    sessions: AtomicU64,
    resumable: Mutex<HashMap<String, Script>>,
    stats: Mutex<ConnectionStats>,
    /// Setups received (model names and handles), for tests.
    pub setups: Mutex<Vec<voxdial_wire::gemini::Setup>>,
}

impl VoiceSim {
    /// A simulator with `cfg`.
    pub fn new(cfg: VoiceSimConfig) -> Arc<Self> {
        Arc::new(Self {
            cfg,
            sessions: AtomicU64::new(0),
            resumable: Mutex::new(HashMap::new()),
            stats: Mutex::new(ConnectionStats::default()),
            setups: Mutex::new(Vec::new()),
        })
    }

    /// What the sessions and connection faults did so far.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.stats.lock().expect("lock").clone()
    }

    fn count(&self, update: impl FnOnce(&mut ConnectionStats)) {
        update(&mut self.stats.lock().expect("lock"));
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.cfg.time_scale.max(1e-3))
    }
}

/// Accepts WebSocket connections on `listener` forever (spawn it).
pub async fn serve_tcp(listener: TcpListener, sim: Arc<VoiceSim>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let _ = tcp.set_nodelay(true);
        let sim = sim.clone();
        tokio::spawn(async move {
            let cfg = Some(voxdial_gemini::socket::ws_config());
            if let Ok(ws) = tokio_tungstenite::accept_async_with_config(tcp, cfg).await {
                serve_socket(sim, ws).await;
            }
        });
    }
}

/// Where a session is in its persona's script (kept across resumptions).
#[derive(Debug, Clone)]
struct Script {
    persona: Persona,
    line: usize,
    tools_done: bool,
}

/// What the model says next: the greeting, a reply per caller turn, the
/// last reply being the closing (a goodbye or a handoff notice).
fn agent_line(script: &Script) -> (String, u64) {
    let t = script.persona.turns.len();
    match script.line {
        0 => (
            "Hi, this is Ava, an AI assistant from voxdial. Do you have a minute?".into(),
            2400,
        ),
        n if n >= t && script.persona.transfer => {
            ("Sure, connecting you to a colleague now.".into(), 1600)
        }
        n if n >= t => ("Thank you for your time. Goodbye!".into(), 1400),
        _ => (
            "I understand. Let me tell you about our offer.".into(),
            2000,
        ),
    }
}

/// Serves one Live session on `ws` until it closes.
pub async fn serve_socket<S: WsSocket>(sim: Arc<VoiceSim>, mut ws: S) {
    let n = sim.sessions.fetch_add(1, Ordering::Relaxed);
    // setup
    let setup = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match parse_client_message(t.as_bytes()) {
                Ok(ClientMessage::Setup(s)) => break *s,
                _ => return,
            },
            Some(Ok(Message::Binary(b))) => match parse_client_message(&b) {
                Ok(ClientMessage::Setup(s)) => break *s,
                _ => return,
            },
            Some(Ok(_)) => continue,
            _ => return,
        }
    };
    sim.setups.lock().expect("lock").push(setup.clone());
    let instruction = setup
        .system_instruction
        .as_ref()
        .and_then(|c| c.parts.first())
        .and_then(|p| p.text.clone())
        .unwrap_or_default();
    let handle = setup
        .session_resumption
        .as_ref()
        .and_then(|r| r.handle.clone());
    let resumed = handle
        .as_ref()
        .and_then(|h| sim.resumable.lock().expect("lock").get(h).cloned());
    let was_resumed = resumed.is_some();
    let mut script = resumed.unwrap_or_else(|| {
        let name = instruction
            .split("persona: ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("interested");
        Script {
            persona: Persona::by_name(name).unwrap_or_else(|| Persona::catalog().remove(0)),
            line: 0,
            tools_done: false,
        }
    });
    let probe_name = instruction
        .split("You are calling ")
        .nth(1)
        .and_then(|s| s.split('.').next())
        .unwrap_or("")
        .to_owned();
    sim.count(|s| {
        s.setups += 1;
        s.resumed += u64::from(was_resumed);
    });
    if send(
        &mut ws,
        &ServerPayload::SetupComplete(SetupComplete::default()),
    )
    .await
    .is_err()
    {
        return;
    }
    let mut handle_seq = 0u64;
    let mut new_handle = |script: &Script| {
        handle_seq += 1;
        let h = format!("sim-{n}-{handle_seq}");
        sim.resumable
            .lock()
            .expect("lock")
            .insert(h.clone(), script.clone());
        h
    };
    let h = new_handle(&script);
    let _ = send(
        &mut ws,
        &ServerPayload::SessionResumptionUpdate(SessionResumptionUpdate {
            new_handle: Some(h),
            resumable: Some(true),
            last_consumed_client_message_index: None,
        }),
    )
    .await;

    if let Some(log) = sim.cfg.probe.clone() {
        probe_session(&sim, ws, log, probe_name).await;
        return;
    }

    let mut synth = Synth::with_rate(sim.cfg.seed ^ (n << 8), 24_000);
    let mut vad = Vad::new(VadConfig {
        sample_rate: 16_000,
        ..VadConfig::default()
    });
    let far = Instant::now() + Duration::from_secs(86_400);
    let mut go_away_at = sim
        .cfg
        .go_away_after
        .map(|d| Instant::now() + sim.scaled(d));
    let mut drop_at: Option<Instant> = None;
    match sim
        .cfg
        .connection_faults
        .as_ref()
        .and_then(|f| f.draw(sim.cfg.seed, n))
    {
        Some((ConnectionFault::GoAway, at)) => {
            go_away_at = go_away_at.or(Some(Instant::now() + sim.scaled(at)));
        }
        Some((ConnectionFault::Drop, at)) => drop_at = Some(Instant::now() + sim.scaled(at)),
        None => {}
    }
    let mut close_at: Option<Instant> = None;
    let mut reply_at: Option<Instant> = None;
    // Audio being spoken: samples left and the next chunk time.
    let mut speaking: Option<(Vec<i16>, usize, Instant)> = None;
    let mut awaiting_tool = false;
    let mut call_seq = 0u64;
    let mut pcm16 = Vec::new();
    let mut usage = TurnUsage::new(&instruction);
    let chunk_samples = (24_000.0 * sim.cfg.chunk.as_secs_f64()) as usize;
    let chunk_every = sim.scaled(sim.cfg.chunk.div_f64(sim.cfg.speed.max(0.01)));

    loop {
        let next_chunk = speaking.as_ref().map(|s| s.2).unwrap_or(far);
        let wake = [
            next_chunk,
            reply_at.unwrap_or(far),
            go_away_at.unwrap_or(far),
            close_at.unwrap_or(far),
            drop_at.unwrap_or(far),
        ]
        .into_iter()
        .min()
        .unwrap_or(far);
        tokio::select! {
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(_)) => continue,
                    _ => return,
                };
                let Ok(m) = parse_client_message(&text) else { continue };
                match m {
                    ClientMessage::RealtimeInput(ri) => {
                        let Some(audio) = ri.audio else { continue };
                        let Ok(bytes) = audio.decode() else { continue };
                        pcm16.clear();
                        pcm::bytes_to_samples_extend(&bytes, &mut pcm16);
                        usage.heard(pcm16.len(), 16_000);
                        vad.push_pcm(&pcm16);
                        while let Some(ev) = vad.poll_event() {
                            match ev {
                                VadEvent::SpeechStart { .. } => {
                                    reply_at = None;
                                    if speaking.take().is_some() {
                                        let _ = send(&mut ws, &content(ServerContent { interrupted: Some(true), ..Default::default() })).await;
                                    }
                                }
                                VadEvent::SpeechEnd { .. } => {
                                    if script.line > 0 && script.line <= script.persona.turns.len() {
                                        let t = script.persona.turns[script.line - 1].text.clone();
                                        let _ = send(&mut ws, &content(ServerContent {
                                            input_transcription: Some(Transcription { text: Some(t.into()), finished: Some(true) }),
                                            ..Default::default()
                                        })).await;
                                    }
                                    reply_at = Some(Instant::now() + reply_delay(&sim, &mut synth));
                                }
                            }
                        }
                    }
                    ClientMessage::ClientContent(_) => {
                        reply_at = Some(Instant::now() + reply_delay(&sim, &mut synth));
                    }
                    ClientMessage::ToolResponse(_) => {
                        if awaiting_tool {
                            awaiting_tool = false;
                            reply_at = Some(Instant::now() + sim.scaled(Duration::from_millis(150)));
                        }
                    }
                    ClientMessage::Setup(_) => {}
                }
            }
            _ = sleep_until(wake) => {
                let now = Instant::now();
                if drop_at.is_some_and(|t| now >= t) {
                    // No close frame: the socket just ends.
                    sim.count(|s| {
                        s.drops += 1;
                        s.faulted_callees.push(probe_name);
                    });
                    return;
                }
                if close_at.is_some_and(|t| now >= t) {
                    let _ = ws.close().await;
                    return;
                }
                if go_away_at.is_some_and(|t| now >= t) {
                    go_away_at = None;
                    let h = new_handle(&script);
                    let _ = send(&mut ws, &ServerPayload::SessionResumptionUpdate(SessionResumptionUpdate {
                        new_handle: Some(h), resumable: Some(true), last_consumed_client_message_index: None,
                    })).await;
                    let left = sim.cfg.go_away_time_left;
                    let _ = send(&mut ws, &ServerPayload::GoAway(GoAway { time_left: Some(format_proto_duration(left)) })).await;
                    sim.count(|s| {
                        s.go_aways += 1;
                        s.faulted_callees.push(probe_name.clone());
                    });
                    close_at = Some(now + sim.scaled(left));
                }
                let turns = script.persona.turns.len();
                if reply_at.is_some_and(|t| now >= t) && script.line == turns && turns > 0 && !script.tools_done {
                    // Before the closing line: record the outcome or transfer.
                    reply_at = None;
                    script.tools_done = true;
                    let (name, args) = if script.persona.transfer {
                        ("transfer_call", json!({"reason": "caller asked for a person"}))
                    } else if let Some(d) = script.persona.disposition {
                        ("record_outcome", json!({"disposition": d.label()}))
                    } else {
                        ("end_call", json!({}))
                    };
                    awaiting_tool = true;
                    let _ = send_tool(&mut ws, &mut call_seq, name, args).await;
                }
                if reply_at.is_some_and(|t| now >= t) {
                    reply_at = None;
                    let (text, ms) = agent_line(&script);
                    let audio = synth.speech(24 * ms as usize, -18.0);
                    let _ = send(&mut ws, &content(ServerContent {
                        output_transcription: Some(Transcription { text: Some(text.into()), finished: None }),
                        ..Default::default()
                    })).await;
                    speaking = Some((audio, 0, now));
                }
                if let Some((audio, pos, at)) = &mut speaking
                    && now >= *at
                {
                    let end = (*pos + chunk_samples).min(audio.len());
                    let data = STANDARD.encode(pcm::samples_to_bytes(&audio[*pos..end]));
                    *pos = end;
                    *at += chunk_every;
                    let _ = send(&mut ws, &audio_content(data)).await;
                    if *pos >= audio.len() {
                        let report = usage.turn(audio.len(), 24_000);
                        speaking = None;
                        let _ = send(&mut ws, &content(ServerContent { generation_complete: Some(true), ..Default::default() })).await;
                        let _ = send_with_usage(&mut ws, &content(ServerContent { turn_complete: Some(true), ..Default::default() }), report).await;
                        script.line += 1;
                        if script.line == turns + 1 && turns > 0 && script.persona.disposition.is_some() && !script.persona.transfer {
                            let _ = send_tool(&mut ws, &mut call_seq, "end_call", json!({})).await;
                        }
                    }
                }
            }
        }
    }
}

async fn send_tool<S: WsSocket>(
    ws: &mut S,
    seq: &mut u64,
    name: &str,
    args: serde_json::Value,
) -> Result<(), ()> {
    *seq += 1;
    let serde_json::Value::Object(args) = args else {
        return Err(());
    };
    send(
        ws,
        &ServerPayload::ToolCall(ToolCall {
            function_calls: vec![FunctionCall {
                id: Some(format!("call-{seq}")),
                name: name.into(),
                args: Some(args),
            }],
        }),
    )
    .await
}

fn reply_delay(sim: &VoiceSim, synth: &mut Synth) -> Duration {
    let jitter = sim.cfg.latency_jitter.mul_f64(synth.uniform());
    sim.scaled(sim.cfg.latency + jitter)
}

fn content(c: ServerContent<'static>) -> ServerPayload<'static> {
    ServerPayload::ServerContent(c)
}

fn audio_content(data_b64: String) -> ServerPayload<'static> {
    ServerPayload::ServerContent(ServerContent {
        model_turn: Some(ModelTurn {
            role: None,
            parts: vec![ServerPart {
                inline_data: Some(voxdial_wire::gemini::Blob {
                    mime_type: "audio/pcm;rate=24000".into(),
                    data: data_b64.into(),
                }),
                ..ServerPart::default()
            }],
        }),
        ..ServerContent::default()
    })
}

/// Sends a server message as a binary frame, as the real server does.
async fn send<S: WsSocket>(ws: &mut S, payload: &ServerPayload<'_>) -> Result<(), ()> {
    send_with_usage(ws, payload, None).await
}

/// [`send`] with a `usageMetadata` riding along.
async fn send_with_usage<S: WsSocket>(
    ws: &mut S,
    payload: &ServerPayload<'_>,
    usage_metadata: Option<UsageMetadata>,
) -> Result<(), ()> {
    let m = ServerMessage {
        payload: payload.clone(),
        usage_metadata,
    };
    ws.send(Message::binary(m.to_json().into_bytes()))
        .await
        .map_err(|_| ())
}

/// Audio tokens per second, as Gemini counts them.
const AUDIO_TOKENS_PER_SEC: u64 = 32;

/// The session's token accounting, as the service reports it with each
/// `turnComplete`: the prompt is the whole context so far (the system
/// instruction, about four characters a token, and every earlier turn's
/// audio both ways) plus the caller audio heard during this turn; the
/// response is the turn's audio.
struct TurnUsage {
    text_context: u64,
    audio_context: u64,
    heard_samples: u64,
    heard_rate: u64,
}

impl TurnUsage {
    fn new(instruction: &str) -> TurnUsage {
        TurnUsage {
            text_context: (instruction.len() as u64).div_ceil(4),
            audio_context: 0,
            heard_samples: 0,
            heard_rate: 16_000,
        }
    }

    fn heard(&mut self, samples: usize, rate: u64) {
        self.heard_samples += samples as u64;
        self.heard_rate = rate;
    }

    /// Ends a turn whose answer was `samples` of audio at `rate`: its report.
    fn turn(&mut self, samples: usize, rate: u64) -> Option<UsageMetadata> {
        let heard = self.heard_samples * AUDIO_TOKENS_PER_SEC / self.heard_rate;
        let spoken = samples as u64 * AUDIO_TOKENS_PER_SEC / rate;
        self.heard_samples = 0;
        let audio_in = self.audio_context + heard;
        let prompt = self.text_context + audio_in;
        self.audio_context = audio_in + spoken;
        let count = |modality: &str, n: u64| ModalityTokenCount {
            modality: Some(modality.into()),
            token_count: Some(n),
        };
        Some(UsageMetadata {
            prompt_token_count: Some(prompt),
            response_token_count: Some(spoken),
            total_token_count: Some(prompt + spoken),
            prompt_tokens_details: vec![count("TEXT", self.text_context), count("AUDIO", audio_in)],
            response_tokens_details: vec![count("AUDIO", spoken)],
            ..UsageMetadata::default()
        })
    }
}

/// Probe mode: real-time silence with clicks out, click detection in.
///
/// Kept cheap, since a load test runs a thousand of these beside the
/// callers: the two possible chunks are serialised once, and incoming
/// audio is found by [`probe_audio`] instead of a full parse.
async fn probe_session<S: WsSocket>(sim: &VoiceSim, mut ws: S, log: Arc<ProbeLog>, call: String) {
    let chunk = sim.cfg.chunk;
    let samples = (24_000.0 * chunk.as_secs_f64()) as usize;
    let period_chunks = (sim.cfg.click_period.as_secs_f64() / chunk.as_secs_f64())
        .round()
        .max(1.0) as u64;
    let frame = |click: bool| {
        let mut audio = vec![0i16; samples];
        if click {
            audio[0] = 24_000;
        }
        let m = ServerMessage {
            payload: audio_content(STANDARD.encode(pcm::samples_to_bytes(&audio))),
            usage_metadata: None,
        };
        tokio_tungstenite::tungstenite::Bytes::from(m.to_json().into_bytes())
    };
    let (silent, clicked) = (frame(false), frame(true));
    let mut tick = tokio::time::interval(chunk);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k = 0u64;
    let mut raw = Vec::new();
    let mut prev_quiet = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let click = k % period_chunks == period_chunks / 2;
                k += 1;
                if click {
                    log.model_click_sent(&call, std::time::Instant::now());
                }
                let m = if click { clicked.clone() } else { silent.clone() };
                if ws.send(Message::Binary(m)).await.is_err() {
                    return;
                }
            }
            msg = ws.next() => {
                let hit = match &msg {
                    Some(Ok(Message::Text(t))) => probe_audio(t.as_bytes(), &mut raw),
                    Some(Ok(Message::Binary(b))) => probe_audio(b, &mut raw),
                    Some(Ok(_)) => continue,
                    _ => return,
                };
                if let Some(at) = hit && prev_quiet {
                    log.caller_click_heard(&call, std::time::Instant::now(), at, 16_000);
                }
                prev_quiet = hit.is_none();
            }
        }
    }
}

/// The click in a `realtimeInput` audio message, found the cheap way: the
/// base64 after the first `"data":"` (the bridge writes no escapes there),
/// decoded into `raw`, scanned as PCM16.
fn probe_audio(text: &[u8], raw: &mut Vec<u8>) -> Option<usize> {
    const KEY: &[u8] = b"\"data\":\"";
    let at = text.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = text[at..].iter().position(|&b| b == b'"')?;
    raw.clear();
    STANDARD.decode_vec(&text[at..at + len], raw).ok()?;
    let (i, peak) = raw
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]).unsigned_abs())
        .enumerate()
        .max_by_key(|(_, a)| *a)?;
    (peak > 3000).then_some(i)
}

#[cfg(test)]
mod tests {
    //! The simulator over an in-memory socket, sped up 50x (no assertion
    //! depends on how long anything took).
    use super::*;
    use voxdial_gemini::duplex;
    use voxdial_gemini::socket::ChannelSocket;
    use voxdial_wire::gemini::{
        ClientContent, Content, RealtimeInput, Setup, parse_server_message,
    };

    fn fast(cfg: VoiceSimConfig) -> VoiceSimConfig {
        VoiceSimConfig {
            time_scale: 50.0,
            latency_jitter: Duration::ZERO,
            ..cfg
        }
    }

    async fn open(cfg: VoiceSimConfig, persona: &str) -> (Arc<VoiceSim>, ChannelSocket) {
        let sim = VoiceSim::new(fast(cfg));
        let (mut client, server) = duplex();
        tokio::spawn(serve_socket(sim.clone(), server));
        let setup = Setup {
            model: "models/sim".into(),
            system_instruction: Some(Content::text(
                None,
                format!("You are calling Ann. persona: {persona}"),
            )),
            ..Setup::default()
        };
        client
            .send(Message::text(
                ClientMessage::Setup(Box::new(setup)).to_json(),
            ))
            .await
            .unwrap();
        (sim, client)
    }

    /// The next server message's payload (any frame type).
    async fn next(ws: &mut ChannelSocket) -> ServerPayload<'static> {
        next_message(ws).await.payload
    }

    /// The next server message, with its `usageMetadata`.
    async fn next_message(ws: &mut ChannelSocket) -> ServerMessage<'static> {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the simulator answers")
            .expect("socket open")
            .unwrap();
        let bytes = match msg {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            other => panic!("{other:?}"),
        };
        // Test messages are small: leaking them keeps the borrowed payload
        // types simple to hand around.
        parse_server_message(Box::leak(bytes.into_boxed_slice())).unwrap()
    }

    async fn send_audio_16k(ws: &mut ChannelSocket, pcm: &[i16]) {
        for chunk in pcm.chunks(320) {
            let data = STANDARD.encode(pcm::samples_to_bytes(chunk));
            let msg =
                ClientMessage::RealtimeInput(RealtimeInput::audio("audio/pcm;rate=16000", &data));
            ws.send(Message::text(msg.to_json())).await.unwrap();
        }
    }

    #[tokio::test]
    async fn setup_then_greeting_audio_and_turn_complete() {
        // GIVEN a session set up for the "interested" persona
        let (sim, mut ws) = open(VoiceSimConfig::default(), "interested").await;
        assert!(matches!(
            next(&mut ws).await,
            ServerPayload::SetupComplete(_)
        ));
        let ServerPayload::SessionResumptionUpdate(u) = next(&mut ws).await else {
            panic!("no handle")
        };
        assert!(u.new_handle.is_some());
        assert_eq!(sim.setups.lock().unwrap()[0].model, "models/sim");
        // WHEN the bridge asks for the opening line
        let kickoff = ClientMessage::ClientContent(ClientContent::user_text("Begin.", true));
        ws.send(Message::text(kickoff.to_json())).await.unwrap();
        // THEN it says it (transcript), streams 24 kHz audio, and completes
        let ServerPayload::ServerContent(sc) = next(&mut ws).await else {
            panic!()
        };
        let said = sc.output_transcription.unwrap().text.unwrap();
        assert!(said.contains("Ava"), "{said}");
        let mut samples = 0;
        let mut generation_complete = false;
        let usage = loop {
            let m = next_message(&mut ws).await;
            let ServerPayload::ServerContent(sc) = m.payload else {
                panic!()
            };
            if sc.turn_complete == Some(true) {
                break m.usage_metadata.expect("the turn's usage");
            }
            if sc.generation_complete == Some(true) {
                generation_complete = true;
                continue;
            }
            assert!(!generation_complete, "audio after generationComplete");
            let part = &sc.model_turn.unwrap().parts[0];
            let blob = part.inline_data.as_ref().unwrap();
            assert_eq!(blob.mime_type, "audio/pcm;rate=24000");
            samples += blob.decode().unwrap().len() / 2;
        };
        // the greeting is 2.4 s of speech at 24 kHz: 2.4 × 32 audio tokens
        // out; in, the system instruction's text and no audio yet
        assert_eq!(samples, 24 * 2400);
        assert!(generation_complete);
        assert_eq!(usage.response_token_count, Some(76));
        assert_eq!(
            usage.response_tokens_details[0].modality.as_deref(),
            Some("AUDIO")
        );
        let prompt = usage.prompt_token_count.unwrap();
        assert!(prompt > 0);
        assert_eq!(usage.total_token_count, Some(prompt + 76));
        assert_eq!(usage.prompt_tokens_details[1].token_count, Some(0));
    }

    #[tokio::test]
    async fn caller_answer_gets_a_transcript_then_a_tool_call() {
        let (_sim, mut ws) = open(VoiceSimConfig::default(), "not_interested").await;
        let kickoff = ClientMessage::ClientContent(ClientContent::user_text("Begin.", true));
        ws.send(Message::text(kickoff.to_json())).await.unwrap();
        // Let the greeting play out.
        loop {
            if let ServerPayload::ServerContent(sc) = next(&mut ws).await
                && sc.turn_complete == Some(true)
            {
                break;
            }
        }
        // WHEN the caller speaks, then falls silent
        let mut speech = Synth::with_rate(9, 16_000).speech(16 * 1200, -20.0);
        speech.extend(std::iter::repeat_n(0i16, 16 * 1500));
        send_audio_16k(&mut ws, &speech).await;
        // THEN the model transcribes the turn and records the outcome
        let mut heard = None;
        let call = loop {
            match next(&mut ws).await {
                ServerPayload::ServerContent(sc) => {
                    if let Some(t) = sc.input_transcription {
                        heard = t.text.map(|t| t.into_owned());
                    }
                }
                ServerPayload::ToolCall(tc) => break tc,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(heard.as_deref(), Some("No thanks, I'm not interested."));
        let f = &call.function_calls[0];
        assert_eq!(f.name, "record_outcome");
        assert_eq!(
            f.args.as_ref().unwrap()["disposition"],
            Disposition::NotInterested.label()
        );
    }

    // Paused time: the resumed session's own goAway (after `go_away_after`)
    // comes after its reply on any machine, as the counts below need.
    #[tokio::test(start_paused = true)]
    async fn go_away_then_a_resumed_session_keeps_the_script() {
        let cfg = VoiceSimConfig {
            go_away_after: Some(Duration::from_secs(5)),
            go_away_time_left: Duration::from_millis(500),
            ..VoiceSimConfig::default()
        };
        let (sim, mut ws) = open(cfg, "interested").await;
        // GIVEN a session that announces goAway with a fresh handle
        let mut handle = None;
        let left = loop {
            match next(&mut ws).await {
                ServerPayload::SessionResumptionUpdate(u) => handle = u.new_handle,
                ServerPayload::GoAway(g) => break g.time_left,
                _ => {}
            }
        };
        assert_eq!(left.as_deref(), Some("0.500s"));
        // and then closes the connection
        loop {
            match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
                Ok(None) => break,
                Ok(Some(_)) => continue,
                Err(_) => panic!("not closed"),
            }
        }
        // WHEN a new connection resumes with the handle
        let (mut ws2, server) = duplex();
        tokio::spawn(serve_socket(sim.clone(), server));
        let mut setup = Setup {
            model: "models/sim".into(),
            ..Setup::default()
        };
        setup.session_resumption = Some(voxdial_wire::gemini::SessionResumptionConfig {
            handle,
            ..Default::default()
        });
        ws2.send(Message::text(
            ClientMessage::Setup(Box::new(setup)).to_json(),
        ))
        .await
        .unwrap();
        assert!(matches!(
            next(&mut ws2).await,
            ServerPayload::SetupComplete(_)
        ));
        // THEN the persona is the one of the first session (not the default)
        let kickoff = ClientMessage::ClientContent(ClientContent::user_text("Go on.", true));
        ws2.send(Message::text(kickoff.to_json())).await.unwrap();
        let said = loop {
            if let ServerPayload::ServerContent(sc) = next(&mut ws2).await
                && let Some(t) = sc.output_transcription
            {
                break t.text.unwrap().into_owned();
            }
        };
        assert!(said.contains("Ava"), "{said}");
        assert_eq!(sim.setups.lock().unwrap().len(), 2);
        // AND the simulator counts the resumption
        let stats = sim.connection_stats();
        assert_eq!((stats.setups, stats.resumed, stats.go_aways), (2, 1, 1));
    }

    #[test]
    fn connection_faults_are_seeded_and_in_proportion() {
        let faults = ConnectionFaults {
            go_away: 0.3,
            drop: 0.2,
            within: (Duration::from_secs(5), Duration::from_secs(15)),
        };
        let fates: Vec<_> = (0..1_000).map(|n| faults.draw(9, n)).collect();
        assert_eq!(
            fates,
            (0..1_000).map(|n| faults.draw(9, n)).collect::<Vec<_>>()
        );
        let share = |kind| {
            fates
                .iter()
                .filter(|f| f.map(|(k, _)| k) == Some(kind))
                .count() as f64
                / 1_000.0
        };
        assert!((share(ConnectionFault::GoAway) - 0.3).abs() < 0.05);
        assert!((share(ConnectionFault::Drop) - 0.2).abs() < 0.05);
        assert!(
            fates
                .iter()
                .flatten()
                .all(|(_, at)| { *at >= Duration::from_secs(5) && *at <= Duration::from_secs(15) })
        );
    }

    /// Whether a `goAway` came before the server's side ended (the
    /// in-memory socket shows a close frame as the end too).
    async fn go_away_before_the_end(ws: &mut ChannelSocket) -> bool {
        let mut announced = false;
        loop {
            match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return announced,
                Ok(Some(Ok(Message::Binary(b)))) => {
                    let m = parse_server_message(&b).unwrap();
                    announced |= matches!(m.payload, ServerPayload::GoAway(_));
                }
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the connection was neither dropped nor closed"),
            }
        }
    }

    #[tokio::test]
    async fn a_connection_fault_sends_go_away_or_drops_the_socket() {
        for (go_away, drop) in [(1.0, 0.0), (0.0, 1.0)] {
            let cfg = VoiceSimConfig {
                go_away_time_left: Duration::from_millis(200),
                connection_faults: Some(ConnectionFaults {
                    go_away,
                    drop,
                    within: (Duration::from_millis(300), Duration::from_millis(600)),
                }),
                ..VoiceSimConfig::default()
            };
            // GIVEN a session whose connection the fault strikes (without
            // one it would stay open: the test would time out)
            let (sim, mut ws) = open(cfg, "interested").await;
            // WHEN it strikes, THEN a goAway comes before the end, or the
            // socket just ends
            assert_eq!(go_away_before_the_end(&mut ws).await, go_away == 1.0);
            // AND the simulator counts what it did, naming the callee
            let stats = sim.connection_stats();
            assert_eq!(
                (stats.setups, stats.go_aways, stats.drops),
                (1, go_away as u64, drop as u64)
            );
            assert_eq!(stats.faulted_callees, ["Ann"]);
        }
    }

    #[test]
    fn personas_are_found_by_name_and_picked_deterministically() {
        assert!(Persona::by_name("voicemail").is_some());
        assert!(Persona::by_name("nobody").is_none());
        assert_eq!(Persona::pick(7), Persona::pick(7));
        let names: std::collections::HashSet<String> =
            (0..200).map(|s| Persona::pick(s).name).collect();
        assert_eq!(names.len(), Persona::catalog().len());
    }
}
