//! A Twilio Media Streams client: what Twilio does towards the bridge for
//! one answered call.
//!
//! It opens the bridge's WebSocket with `X-Twilio-Signature` (HMAC-SHA1 of
//! the URL with the Auth Token), sends `connected` and `start` (with
//! `customParameters`), then 50 `media` frames a second (scaled by
//! `time_scale`) of synthesised callee audio following a [`Persona`]: a
//! "hello?", speech-like bursts answering the agent when it pauses,
//! talking over it (barge-in), a key press (`dtmf` event), silence, or a
//! voicemail greeting with a beep. It plays what it receives the way Twilio
//! does: `media` is buffered and played at 50 frames a second, a `mark` is
//! echoed when the audio before it has played, `clear` empties the buffer
//! and echoes pending marks at once. Everything played is kept in the
//! [`CallerReport`].
//!
//! With [`StreamFormat::SansPbx`] it speaks the SansPBX media WebSocket
//! instead: `start` with ids and `custom_field`, PCM16 8 kHz `media`,
//! `reverse-media` played back, no marks or `clear`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use voxdial_media::synth::Synth;
use voxdial_media::{pcm, ulaw};
use voxdial_wire::sanspbx::parse_outbound_media;
use voxdial_wire::twilio::media::{OutboundMessage, parse_outbound, write_inbound_media};
use voxdial_wire::twilio::signature::{SIGNATURE_HEADER, SignatureAlgorithm, compute_signature};

use crate::voice::{Answerer, Persona};

/// Error of the simulated caller.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// The WebSocket failed.
    #[error("media stream WebSocket error")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// The request could not be built.
    #[error("bad media stream request: {0}")]
    Request(String),
}

/// One simulated answered call.
#[derive(Debug, Clone)]
pub struct CallerConfig {
    /// The bridge's URL (`ws://127.0.0.1:PORT/media/twilio` locally).
    pub url: String,
    /// The URL signed (Twilio signs the public `wss://` URL); defaults to
    /// `url`.
    pub signed_url: Option<String>,
    /// Auth Token to sign with (no header when `None`).
    pub auth_token: Option<String>,
    /// `accountSid`.
    pub account_sid: String,
    /// `callSid`.
    pub call_sid: String,
    /// `streamSid`.
    pub stream_sid: String,
    /// `customParameters` (`call_id`, …).
    pub custom_parameters: BTreeMap<String, String>,
    /// What the callee does.
    pub persona: Persona,
    /// Seed of the audio.
    pub seed: u64,
    /// Run this many times faster than real time.
    pub time_scale: f64,
    /// Hang up (send `stop`) after this long (call time).
    pub max_duration: Duration,
    /// Probe mode: clicks instead of a persona (latency measurement).
    pub probe: Option<std::sync::Arc<ProbeLog>>,
    /// Click period in probe mode (call time).
    pub click_period: Duration,
    /// The provider whose media stream this caller speaks.
    pub format: StreamFormat,
}

/// The media-stream dialect the simulated caller speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamFormat {
    /// Twilio Media Streams: μ-law, `media`/`mark`/`clear`.
    #[default]
    Twilio,
    /// SansPBX: PCM16 8 kHz `media` in, `reverse-media` out, no marks.
    SansPbx,
}

impl CallerConfig {
    /// A config with Twilio-like ids for `call_id` and `persona`.
    pub fn new(url: impl Into<String>, call_id: &str, persona: Persona) -> Self {
        let mut custom = BTreeMap::new();
        custom.insert("call_id".to_owned(), call_id.to_owned());
        Self {
            url: url.into(),
            signed_url: None,
            auth_token: None,
            account_sid: "ACsim".into(),
            call_sid: format!("CA{call_id}"),
            stream_sid: format!("MZ{call_id}"),
            custom_parameters: custom,
            persona,
            seed: 1,
            time_scale: 1.0,
            max_duration: Duration::from_secs(120),
            probe: None,
            click_period: Duration::from_millis(500),
            format: StreamFormat::Twilio,
        }
    }
}

/// What the caller saw.
#[derive(Debug, Clone, Default)]
pub struct CallerReport {
    /// `media` frames sent.
    pub frames_sent: u64,
    /// `media` messages received.
    pub media_received: u64,
    /// Marks echoed.
    pub marks_echoed: u64,
    /// `clear` messages received.
    pub clears: u64,
    /// Audio played to the callee (8 kHz PCM).
    pub played: Vec<i16>,
    /// Frame index (of the caller's clock) of each played frame that was
    /// loud (agent speech), for timing checks.
    pub loud_frames: Vec<u64>,
    /// Whether the bridge closed the stream (vs. our own `stop`).
    pub closed_by_bridge: bool,
    /// Call time until the end.
    pub duration: Duration,
    /// The stream id the bridge addressed its last audio to (`streamSid`
    /// or SansPBX `streamId`).
    pub stream_id_seen: Option<String>,
}

/// Timestamps of clicks through the bridge, per call (probe mode).
#[derive(Debug, Default)]
pub struct ProbeLog {
    inner: Mutex<HashMap<String, ProbeCall>>,
}

#[derive(Debug, Default)]
struct ProbeCall {
    caller_sent: Vec<Instant>,
    caller_heard: Vec<(Instant, usize)>,
    model_sent: Vec<Instant>,
    model_heard: Vec<(Instant, usize)>,
}

/// Latencies out of a [`ProbeLog`].
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    /// Caller → model, µs per click (send to receipt).
    pub inbound_us: Vec<u64>,
    /// Model → caller, µs per click.
    pub outbound_us: Vec<u64>,
    /// Sample offset of the click peak in the model's 16 kHz frames
    /// (algorithmic delay, in 16 kHz samples, for clicks sent at sample 0).
    pub inbound_offsets: Vec<usize>,
    /// Sample offset of the click peak in the caller's 8 kHz frames.
    pub outbound_offsets: Vec<usize>,
}

impl ProbeLog {
    /// The caller sent a click.
    pub fn caller_click_sent(&self, call: &str, at: Instant) {
        self.entry(call, |c| c.caller_sent.push(at));
    }
    /// The model heard a caller click at sample `offset` of a frame.
    pub fn caller_click_heard(&self, call: &str, at: Instant, offset: usize, _rate: u32) {
        self.entry(call, |c| c.caller_heard.push((at, offset)));
    }
    /// The model sent a click.
    pub fn model_click_sent(&self, call: &str, at: Instant) {
        self.entry(call, |c| c.model_sent.push(at));
    }
    /// The caller heard a model click at sample `offset` of a frame.
    pub fn model_click_heard(&self, call: &str, at: Instant, offset: usize) {
        self.entry(call, |c| c.model_heard.push((at, offset)));
    }

    fn entry(&self, call: &str, f: impl FnOnce(&mut ProbeCall)) {
        let mut m = self.inner.lock().expect("lock");
        f(m.entry(call.to_owned()).or_default());
    }

    /// Pairs each receipt with the last click sent before it, per call
    /// (a lost or spurious detection does not shift the pairs after it).
    pub fn result(&self) -> ProbeResult {
        self.result_between(None, None)
    }

    /// [`Self::result`] over the clicks heard in `[from, to)` (e.g. while
    /// every call of a load test is up).
    pub fn result_between(&self, from: Option<Instant>, to: Option<Instant>) -> ProbeResult {
        let pair = |sent: &[Instant],
                    heard: &[(Instant, usize)],
                    us: &mut Vec<u64>,
                    offs: &mut Vec<usize>| {
            for (h, off) in heard {
                if from.is_some_and(|f| *h < f) || to.is_some_and(|t| *h >= t) {
                    continue;
                }
                let i = sent.partition_point(|s| s <= h);
                if let Some(s) = i.checked_sub(1).map(|i| sent[i]) {
                    us.push(h.saturating_duration_since(s).as_micros() as u64);
                    offs.push(*off);
                }
            }
        };
        let m = self.inner.lock().expect("lock");
        let mut r = ProbeResult::default();
        for c in m.values() {
            pair(
                &c.caller_sent,
                &c.caller_heard,
                &mut r.inbound_us,
                &mut r.inbound_offsets,
            );
            pair(
                &c.model_sent,
                &c.model_heard,
                &mut r.outbound_us,
                &mut r.outbound_offsets,
            );
        }
        r
    }
}

/// The sample index of a click (a peak well above the rest) in `pcm`.
pub fn detect_click(pcm: &[i16]) -> Option<usize> {
    let (i, peak) = pcm
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.unsigned_abs()))
        .max_by_key(|(_, a)| *a)?;
    (peak > 3000).then_some(i)
}

/// What the callee is doing.
#[derive(Debug)]
struct Callee {
    persona: Persona,
    synth: Synth,
    /// Audio queued to say.
    say: VecDeque<i16>,
    /// Next caller turn index.
    turn: usize,
    /// Frames since the agent last made a loud sound.
    agent_quiet_frames: u64,
    /// Frames of agent sound since it last started talking.
    agent_talk_frames: u64,
    agent_lines_heard: u32,
    dtmf_sent: bool,
    started: bool,
}

impl Callee {
    fn new(persona: Persona, seed: u64) -> Self {
        let mut synth = Synth::new(seed);
        let mut say = VecDeque::new();
        match persona.answerer {
            Answerer::Voicemail { greeting_ms, beep } => {
                let g = synth.voicemail_greeting(
                    300.0,
                    greeting_ms as f64,
                    400.0,
                    beep.then_some((1000.0, 400.0)),
                    greeting_ms as f64 + 1500.0,
                    -20.0,
                );
                say.extend(g);
            }
            Answerer::Human if persona.hello_ms > 0 => {
                say.extend(synth.silence(2400));
                let hello = synth.speech(8 * persona.hello_ms as usize, -20.0);
                say.extend(hello);
            }
            Answerer::Human => {}
        }
        Self {
            persona,
            synth,
            say,
            turn: 0,
            agent_quiet_frames: 0,
            agent_talk_frames: 0,
            agent_lines_heard: 0,
            dtmf_sent: false,
            started: false,
        }
    }

    /// Called once per 20 ms with whether the played frame was loud.
    /// Returns a digit to press, if any.
    fn tick(&mut self, agent_loud: bool) -> Option<char> {
        if agent_loud {
            if self.agent_quiet_frames > 25 {
                self.agent_talk_frames = 0;
            }
            self.agent_quiet_frames = 0;
            self.agent_talk_frames += 1;
            self.started = true;
        } else {
            if self.agent_quiet_frames == 25 && self.started {
                self.agent_lines_heard += 1;
            }
            self.agent_quiet_frames += 1;
        }
        if self.persona.answerer != Answerer::Human || !self.say.is_empty() {
            return None;
        }
        if let Some(d) = self.persona.dtmf
            && !self.dtmf_sent
            && self.agent_lines_heard >= 1
        {
            self.dtmf_sent = true;
            return Some(d);
        }
        let next = self.persona.turns.get(self.turn).cloned()?;
        let barge =
            self.persona.barge_in && self.turn == 1 && agent_loud && self.agent_talk_frames == 40;
        let answer = self.agent_lines_heard as usize > self.turn && self.agent_quiet_frames == 30;
        if barge || answer {
            self.turn += 1;
            let speech = self.synth.speech(8 * next.speak_ms as usize, -20.0);
            self.say.extend(speech);
        }
        None
    }

    fn next_frame(&mut self, out: &mut [i16; 160]) {
        for s in out.iter_mut() {
            *s = self.say.pop_front().unwrap_or(0);
        }
    }
}

/// The simulated callee of a call the carrier streams (its stream hook's
/// usual body): `persona` answers as Twilio's Media Streams client, with
/// the `<Stream>`'s parameters, signing the upgrade with `auth_token`, until
/// the conversation ends or the carrier hangs up. What the callee saw,
/// unless the carrier hung up first or the stream failed.
pub async fn answer_stream(
    request: crate::carrier::StreamRequest,
    persona: Persona,
    auth_token: Option<String>,
    time_scale: f64,
) -> Option<CallerReport> {
    let call_id = request
        .parameters
        .iter()
        .find(|(k, _)| k == "call_id")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut config = CallerConfig::new(request.url.clone(), &call_id, persona);
    config.custom_parameters = request.parameters.iter().cloned().collect();
    config.auth_token = auth_token;
    config.account_sid = request.account_sid.clone();
    config.call_sid = request.call_sid.clone();
    config.stream_sid = format!("MZ{}", request.call_sid.trim_start_matches("CA"));
    config.seed = request.seed;
    config.time_scale = time_scale;
    config.max_duration = Duration::from_secs(600);
    tokio::select! {
        result = run_caller(config) => match result {
            Ok(report) => Some(report),
            Err(error) => {
                tracing::debug!(%error, "simulated callee ended with an error");
                None
            }
        },
        _ = request.hangup.notified() => None,
    }
}

/// Runs one call to the end; returns what happened.
pub async fn run_caller(cfg: CallerConfig) -> Result<CallerReport, CallerError> {
    let mut req = cfg
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| CallerError::Request(e.to_string()))?;
    if let Some(token) = &cfg.auth_token {
        let signed = cfg.signed_url.as_deref().unwrap_or(&cfg.url);
        let sig = compute_signature::<&str, &str>(
            token.as_bytes(),
            SignatureAlgorithm::HmacSha1,
            signed,
            &[],
        );
        let v = HeaderValue::from_str(&sig).map_err(|e| CallerError::Request(e.to_string()))?;
        req.headers_mut().insert(SIGNATURE_HEADER, v);
    }
    // TCP_NODELAY, as a carrier's media server would: small frames go out
    // at once.
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        req,
        Some(voxdial_gemini::socket::ws_config()),
        true,
    )
    .await?;
    run_on_socket(cfg, ws).await
}

/// What the bridge sent, whatever the provider's format.
enum Incoming {
    /// Audio to play (8 kHz PCM) and the stream id it was addressed to.
    Media(Vec<i16>, String),
    /// A Twilio mark.
    Mark(String),
    /// A Twilio clear.
    Clear,
    /// Anything else.
    Other,
}

fn parse_incoming(format: StreamFormat, text: &str) -> Incoming {
    match format {
        StreamFormat::Twilio => match parse_outbound(text) {
            Ok(OutboundMessage::Media {
                payload,
                stream_sid,
            }) => match STANDARD.decode(payload.as_bytes()) {
                Ok(bytes) => Incoming::Media(ulaw::decode(&bytes), stream_sid.into_owned()),
                Err(_) => Incoming::Other,
            },
            Ok(OutboundMessage::Mark { name, .. }) => Incoming::Mark(name.into_owned()),
            Ok(OutboundMessage::Clear { .. }) => Incoming::Clear,
            Err(_) => Incoming::Other,
        },
        StreamFormat::SansPbx => match parse_outbound_media(text) {
            Ok(m) => match STANDARD.decode(m.payload.as_bytes()) {
                Ok(bytes) => Incoming::Media(
                    pcm::bytes_to_samples(&bytes),
                    m.ids.stream_id.unwrap_or_default(),
                ),
                Err(_) => Incoming::Other,
            },
            Err(_) => Incoming::Other,
        },
    }
}

/// The payload of a Twilio `media` message as the bridge writes it
/// (`{"event":"media",…"payload":"…"}`), found without a full parse.
fn probe_media_payload(text: &str) -> Option<&str> {
    const KEY: &str = r#""payload":""#;
    if !text.starts_with(r#"{"event":"media""#) {
        return None;
    }
    let at = text.find(KEY)? + KEY.len();
    let len = text[at..].find('"')?;
    Some(&text[at..at + len])
}

/// The provider's opening messages.
fn opening(cfg: &CallerConfig) -> [String; 2] {
    let sid = &cfg.stream_sid;
    match cfg.format {
        StreamFormat::Twilio => [
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned(),
            serde_json::json!({
                "event": "start", "sequenceNumber": "1", "streamSid": sid,
                "start": {"accountSid": cfg.account_sid, "streamSid": sid, "callSid": cfg.call_sid,
                    "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": cfg.custom_parameters}
            })
            .to_string(),
        ],
        StreamFormat::SansPbx => [
            r#"{"event":"connected"}"#.to_owned(),
            serde_json::json!({
                "event": "start", "streamId": sid, "callId": cfg.call_sid, "channelId": "SIP/sim-1",
                "mediaFormat": {"encoding": "LINEAR16", "sampleRate": 8000, "channels": 1},
                "callDirection": "outbound", "custom_field": cfg.custom_parameters
            })
            .to_string(),
        ],
    }
}

/// Runs one call over an open socket (any Sink + Stream of messages).
pub async fn run_on_socket<S>(cfg: CallerConfig, mut ws: S) -> Result<CallerReport, CallerError>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    let sid = cfg.stream_sid.clone();
    for m in opening(&cfg) {
        ws.send(Message::text(m)).await?;
    }

    let tick_len = Duration::from_millis(20).div_f64(cfg.time_scale.max(1e-3));
    let mut tick = tokio::time::interval(tick_len);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let max_frames = cfg.max_duration.as_millis() as u64 / 20;
    let call = cfg
        .custom_parameters
        .get("call_id")
        .cloned()
        .unwrap_or_default();
    let period = (cfg.click_period.as_millis() as u64 / 20).max(1);

    // The provider's playout buffer: frames and marks in order.
    enum Item {
        Frame(Vec<i16>),
        Mark(String),
    }
    let mut playout: VecDeque<Item> = VecDeque::new();
    let mut callee = Callee::new(cfg.persona.clone(), cfg.seed);
    let mut report = CallerReport::default();
    let mut seq = 2u64;
    let mut frame = [0i16; 160];
    let mut bytes = Vec::with_capacity(320);
    let mut b64 = String::new();
    let mut json = String::new();
    let mut n = 0u64;
    let mut prev_click = false;
    let mut raw = Vec::with_capacity(160);

    let closed = loop {
        tokio::select! {
            _ = tick.tick() => {
                if n >= max_frames {
                    break false;
                }
                // Play one frame (and echo the marks it reaches).
                let mut loud = false;
                if let Some(Item::Frame(f)) = playout.front() {
                    loud = f.iter().any(|s| s.unsigned_abs() > 2000);
                    if cfg.probe.is_none() {
                        report.played.extend_from_slice(f);
                    }
                    playout.pop_front();
                }
                let mut lost = false;
                while let Some(Item::Mark(_)) = playout.front() {
                    if let Some(Item::Mark(name)) = playout.pop_front() {
                        json.clear();
                        voxdial_wire::twilio::media::write_mark(&sid, &name, &mut json);
                        lost = ws.send(Message::text(json.clone())).await.is_err();
                        if lost {
                            break;
                        }
                        report.marks_echoed += 1;
                    }
                }
                if lost {
                    // A reset socket is the bridge hanging up.
                    break true;
                }
                if loud {
                    report.loud_frames.push(n);
                }
                // Say one frame.
                if let Some(log) = &cfg.probe {
                    frame = [0; 160];
                    if n % period == period / 2 {
                        frame[0] = 20_000;
                        log.caller_click_sent(&call, Instant::now());
                    }
                } else {
                    if let Some(d) = callee.tick(loud) {
                        seq += 1;
                        let m = match cfg.format {
                            StreamFormat::Twilio => serde_json::json!({"event":"dtmf","streamSid":sid,"sequenceNumber":seq.to_string(),"dtmf":{"track":"inbound_track","digit":d.to_string()}}),
                            StreamFormat::SansPbx => serde_json::json!({"event":"dtmf","streamId":sid,"digit":d.to_string(),"dtmfDurationMs":120}),
                        };
                        if ws.send(Message::text(m.to_string())).await.is_err() {
                    // A reset socket is the bridge hanging up.
                    break true;
                }
                    }
                    callee.next_frame(&mut frame);
                }
                bytes.clear();
                b64.clear();
                json.clear();
                seq += 1;
                n += 1;
                match cfg.format {
                    StreamFormat::Twilio => {
                        ulaw::encode_extend(&frame, &mut bytes);
                        STANDARD.encode_string(&bytes, &mut b64);
                        write_inbound_media(&sid, seq, "inbound", n, n * 20, &b64, &mut json);
                    }
                    StreamFormat::SansPbx => {
                        pcm::samples_to_bytes_extend(&frame, &mut bytes);
                        STANDARD.encode_string(&bytes, &mut b64);
                        json = serde_json::json!({"event":"media","streamId":sid,"payload":b64}).to_string();
                    }
                }
                if ws.send(Message::text(json.clone())).await.is_err() {
                    // A reset socket is the bridge hanging up.
                    break true;
                }
                report.frames_sent += 1;
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break true,
                    Some(Ok(_)) => continue,
                };
                // Probe mode under load: media found without a full parse.
                if let Some(log) = &cfg.probe
                    && cfg.format == StreamFormat::Twilio
                    && let Some(payload) = probe_media_payload(text.as_str())
                {
                    report.media_received += 1;
                    raw.clear();
                    let hit = STANDARD
                        .decode_vec(payload, &mut raw)
                        .ok()
                        .and_then(|()| {
                            let (i, peak) = raw
                                .iter()
                                .map(|&u| ulaw::decode_sample(u).unsigned_abs())
                                .enumerate()
                                .max_by_key(|(_, a)| *a)?;
                            (peak > 3000).then_some(i)
                        });
                    if let Some(off) = hit && !prev_click {
                        log.model_click_heard(&call, Instant::now(), off);
                    }
                    prev_click = hit.is_some();
                    continue;
                }
                match parse_incoming(cfg.format, text.as_str()) {
                    Incoming::Media(pcm, to) => {
                        report.media_received += 1;
                        report.stream_id_seen = Some(to);
                        if let Some(log) = &cfg.probe {
                            let hit = detect_click(&pcm);
                            if let Some(off) = hit && !prev_click {
                                log.model_click_heard(&call, Instant::now(), off);
                            }
                            prev_click = hit.is_some();
                        } else {
                            playout.push_back(Item::Frame(pcm));
                        }
                    }
                    Incoming::Mark(name) => {
                        if cfg.probe.is_some() {
                            json.clear();
                            voxdial_wire::twilio::media::write_mark(&sid, &name, &mut json);
                            if ws.send(Message::text(json.clone())).await.is_err() {
                    // A reset socket is the bridge hanging up.
                    break true;
                }
                        } else {
                            playout.push_back(Item::Mark(name));
                        }
                    }
                    Incoming::Clear => {
                        report.clears += 1;
                        let marks: Vec<String> = playout
                            .drain(..)
                            .filter_map(|i| match i { Item::Mark(m) => Some(m), Item::Frame(_) => None })
                            .collect();
                        let mut lost = false;
                        for name in marks {
                            json.clear();
                            voxdial_wire::twilio::media::write_mark(&sid, &name, &mut json);
                            lost = ws.send(Message::text(json.clone())).await.is_err();
                            if lost {
                                break;
                            }
                            report.marks_echoed += 1;
                        }
                        if lost {
                            break true;
                        }
                    }
                    Incoming::Other => {}
                }
            }
        }
    };
    if !closed {
        seq += 1;
        let stop = match cfg.format {
            StreamFormat::Twilio => {
                serde_json::json!({"event":"stop","sequenceNumber":seq.to_string(),"streamSid":sid,
                "stop":{"accountSid":cfg.account_sid,"callSid":cfg.call_sid}})
            }
            StreamFormat::SansPbx => {
                serde_json::json!({"event":"stop","streamId":sid,"callId":cfg.call_sid})
            }
        };
        let _ = ws.send(Message::text(stop.to_string())).await;
        let _ = ws.close().await;
    }
    report.closed_by_bridge = closed;
    report.duration = Duration::from_millis(n * 20);
    Ok(report)
}

#[cfg(test)]
mod tests {
    //! The caller against a scripted bridge over an in-memory socket, its
    //! clock sped up 20x (nothing here asserts on elapsed time).
    use super::*;
    use voxdial_gemini::duplex;
    use voxdial_gemini::socket::ChannelSocket;
    use voxdial_wire::twilio::media::{
        InboundMessage, parse_inbound, write_clear, write_mark, write_media,
    };

    fn config(persona: &str, frames: u64) -> CallerConfig {
        let mut cfg = CallerConfig::new("mem://", "L1", Persona::by_name(persona).unwrap());
        cfg.time_scale = 20.0;
        cfg.max_duration = Duration::from_millis(20 * frames);
        cfg
    }

    async fn recv(ws: &mut ChannelSocket) -> Option<String> {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the caller talks")?;
        match m.ok()? {
            Message::Text(t) => Some(t.as_str().to_owned()),
            _ => None,
        }
    }

    fn media(sid: &str, level: i16) -> Message {
        let mut out = String::new();
        let b64 = STANDARD.encode(ulaw::encode(&[level; 160]));
        write_media(sid, &b64, &mut out);
        Message::text(out)
    }

    fn mark(sid: &str, name: &str) -> Message {
        let mut out = String::new();
        write_mark(sid, name, &mut out);
        Message::text(out)
    }

    #[tokio::test]
    async fn streams_start_media_and_echoes_marks_after_playout() {
        let (caller_end, mut bridge) = duplex();
        let run = tokio::spawn(run_on_socket(config("silent", 100), caller_end));
        // GIVEN the stream opens like Twilio's
        let first = recv(&mut bridge).await.unwrap();
        assert!(matches!(
            parse_inbound(&first),
            Ok(InboundMessage::Connected(_))
        ));
        let Ok(InboundMessage::Start(start)) = parse_inbound(&recv(&mut bridge).await.unwrap())
        else {
            panic!("no start")
        };
        assert_eq!(start.start.custom_parameters["call_id"], "L1");
        let sid = start.stream_sid.clone();
        // WHEN the bridge sends five loud frames and a mark
        for _ in 0..5 {
            bridge.send(media(&sid, 8000)).await.unwrap();
        }
        bridge.send(mark(&sid, "m1")).await.unwrap();
        // THEN the mark comes back only once those frames have played
        // (one per 20 ms tick, each tick also sending one media frame)
        let mut media_before = 0;
        loop {
            let text = recv(&mut bridge).await.unwrap();
            match parse_inbound(&text) {
                Ok(InboundMessage::Media(m)) => {
                    media_before += 1;
                    assert_eq!(m.media.payload.len(), 216);
                }
                Ok(InboundMessage::Mark(m)) => {
                    assert_eq!(m.mark.name, "m1");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(media_before >= 4, "{media_before}");
        // and at the end it sends `stop` and reports what it played
        let mut stopped = false;
        while let Some(text) = recv(&mut bridge).await {
            stopped |= matches!(parse_inbound(&text), Ok(InboundMessage::Stop(_)));
        }
        assert!(stopped);
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.frames_sent, 100);
        assert_eq!(report.media_received, 5);
        assert_eq!(report.marks_echoed, 1);
        assert_eq!(report.loud_frames.len(), 5);
        assert_eq!(report.played.len(), 5 * 160);
        assert!(!report.closed_by_bridge);
    }

    #[tokio::test]
    async fn clear_drops_buffered_audio_and_echoes_pending_marks_at_once() {
        let (caller_end, mut bridge) = duplex();
        let run = tokio::spawn(run_on_socket(config("silent", 400), caller_end));
        recv(&mut bridge).await.unwrap();
        let Ok(InboundMessage::Start(start)) = parse_inbound(&recv(&mut bridge).await.unwrap())
        else {
            panic!("no start")
        };
        let sid = start.stream_sid;
        // GIVEN 10 s of agent audio buffered with a mark behind it
        for _ in 0..500 {
            bridge.send(media(&sid, 8000)).await.unwrap();
        }
        bridge.send(mark(&sid, "end")).await.unwrap();
        // WHEN the bridge clears
        let mut clear = String::new();
        write_clear(&sid, &mut clear);
        bridge.send(Message::text(clear)).await.unwrap();
        // THEN the mark comes back long before 500 frames could play
        let mut media_before = 0;
        loop {
            let text = recv(&mut bridge).await.unwrap();
            match parse_inbound(&text) {
                Ok(InboundMessage::Media(_)) => media_before += 1,
                Ok(InboundMessage::Mark(m)) => {
                    assert_eq!(m.mark.name, "end");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(media_before < 100, "{media_before}");
        // WHEN the bridge hangs up
        bridge.close().await.unwrap();
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.clears, 1);
        assert_eq!(report.marks_echoed, 1);
        assert!(report.played.len() < 500 * 160);
        assert!(report.closed_by_bridge);
    }

    #[tokio::test]
    async fn a_persona_says_hello_and_presses_its_key_after_the_greeting() {
        let (caller_end, mut bridge) = duplex();
        let run = tokio::spawn(run_on_socket(config("opt_out", 300), caller_end));
        recv(&mut bridge).await.unwrap();
        let Ok(InboundMessage::Start(start)) = parse_inbound(&recv(&mut bridge).await.unwrap())
        else {
            panic!("no start")
        };
        let sid = start.stream_sid;
        let mut loud_in = 0;
        let mut greeted = false;
        let mut digit = None;
        let mut n = 0;
        while let Some(text) = recv(&mut bridge).await {
            match parse_inbound(&text) {
                Ok(InboundMessage::Media(m)) => {
                    n += 1;
                    let pcm = ulaw::decode(&STANDARD.decode(m.media.payload.as_bytes()).unwrap());
                    if pcm.iter().any(|s| s.unsigned_abs() > 2000) {
                        loud_in += 1;
                    }
                    // After the callee's hello, play a 1 s agent greeting.
                    if n == 100 && !greeted {
                        greeted = true;
                        for _ in 0..50 {
                            bridge.send(media(&sid, 8000)).await.unwrap();
                        }
                    }
                }
                Ok(InboundMessage::Dtmf(d)) => digit = Some(d.dtmf.digit),
                _ => {}
            }
        }
        // the "hello?" (500 ms) is speech, and the key is pressed once the
        // greeting has been heard
        assert!(loud_in >= 10, "{loud_in}");
        assert_eq!(digit.as_deref(), Some("9"));
        run.await.unwrap().unwrap();
    }

    #[test]
    fn clicks_are_found_and_probe_latencies_pair_up() {
        let mut pcm = vec![0i16; 320];
        assert_eq!(detect_click(&pcm), None);
        pcm[29] = 9000;
        assert_eq!(detect_click(&pcm), Some(29));
        let log = ProbeLog::default();
        let t0 = Instant::now();
        log.caller_click_sent("c", t0);
        log.caller_click_heard("c", t0 + Duration::from_millis(2), 29, 16_000);
        log.model_click_sent("c", t0);
        log.model_click_heard("c", t0 + Duration::from_millis(3), 15);
        let r = log.result();
        assert_eq!(r.inbound_us, vec![2000]);
        assert_eq!(r.outbound_us, vec![3000]);
        assert_eq!((r.inbound_offsets[0], r.outbound_offsets[0]), (29, 15));
    }
}
