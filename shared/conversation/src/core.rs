//! The conversation state machine ([`Conversation`]).
//!
//! See the crate doc for the state table. Everything here is driven by
//! [`Conversation::handle_input`] and [`Conversation::handle_timeout`] with
//! the time as an argument; outputs are read with
//! [`Conversation::poll_output`] and the next deadline with
//! [`Conversation::poll_timeout`].

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Map, Value, json};
use voxdial_domain::{AnsweredBy, Disposition, ModelUsage, Timestamp, VoicemailPolicy};
use voxdial_media::amd::{Amd, AmdConfig, Verdict};
use voxdial_media::beep::{BeepDetector, BeepEvent};
use voxdial_media::dtmf::DtmfDetector;
use voxdial_media::record::StereoRecorder;
use voxdial_media::vad::{Vad, VadConfig, VadEvent};
use voxdial_media::wav::WavSpec;
use voxdial_media::{assets, ulaw};

use crate::codec::{FRAME_SAMPLES, Frame};
use crate::config::{AgentConfig, CallContext, IvrAction, ToolKind};
use crate::types::{
    AmdOutcome, CallMetrics, CallReport, EndReason, HostRequest, HumanAgent, ModelRequest, Speaker,
    TranscriptTurn, TransferPlan, TurnMetrics, VerdictSource,
};

/// Length of one frame.
pub const FRAME: Duration = Duration::from_millis(20);
/// Audio is sent ahead of playout up to this much…
const LEAD_HIGH: Duration = Duration::from_millis(80);
/// …and topped up when less than this is left.
const LEAD_LOW: Duration = Duration::from_millis(40);
/// A mark goes out after this many frames (and at the end of each burst).
const MARK_EVERY: u64 = 10;
/// Longest wait for the model's goodbye (or a transfer notice) to finish.
const DRAIN_DEADLINE: Duration = Duration::from_secs(12);
/// After a machine greeting, this much silence means the beep will not come.
const VOICEMAIL_SILENCE: Duration = Duration::from_millis(2500);

/// The conversation's states (the seed's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Answered; waiting for the answering-machine verdict or a "hello".
    Init,
    /// The agent's opening is on its way or playing.
    Welcome,
    /// Waiting for the caller to speak (silence timer running).
    Listening,
    /// The caller is speaking.
    HumanSpeaking,
    /// The caller's turn ended; waiting for the model (fillers may play).
    ProcessingRequest,
    /// Model audio is playing.
    Responding,
    /// Handing the caller to a human agent.
    Transfer,
    /// Saying goodbye, leaving a voicemail, or hanging up.
    CallEnding,
}

/// What the provider's stream supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderCaps {
    /// `mark` echoes and `clear` (Twilio).
    pub marks_and_clear: bool,
}

/// An input to the core. Borrowed data is only read during the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// Caller audio, 8 kHz PCM (normally one 20 ms frame).
    CallerAudio(&'a [i16]),
    /// A key press reported by the provider (Twilio `dtmf`).
    Dtmf(char),
    /// A mark came back from the provider.
    MarkPlayed(&'a str),
    /// The provider's answering-machine verdict (answer webhook or async
    /// AMD callback).
    ProviderVerdict(AnsweredBy),
    /// The provider closed the stream.
    StreamStopped,
    /// The model session is set up (also after a resumption).
    ModelReady,
    /// The model session switched connections (goAway) without loss.
    ModelResumed,
    /// The model session is gone for good.
    ModelFailed,
    /// One 20 ms frame of model audio at 8 kHz (from the codec).
    ModelAudio(&'a [i16]),
    /// The model finished its turn (`turnComplete`).
    ModelTurnComplete,
    /// The model was interrupted (`interrupted`).
    ModelInterrupted,
    /// The model reported the tokens of a turn (`usageMetadata`).
    ModelUsage(ModelUsage),
    /// Caller transcription increment.
    CallerTranscript(&'a str),
    /// Agent transcription increment.
    AgentTranscript(&'a str),
    /// The model calls a tool.
    ToolCall {
        /// Call id (echoed in the response).
        id: &'a str,
        /// Function name.
        name: &'a str,
        /// Arguments.
        args: &'a Map<String, Value>,
    },
    /// The model cancelled tool calls.
    ToolCallCancelled(&'a str),
    /// Answer to [`HostRequest::PickHumanAgent`].
    HumanAgent(Option<HumanAgent>),
    /// Answer to [`HostRequest::Transfer`].
    TransferDone(Result<(), String>),
    /// Answer to [`HostRequest::ScheduleCallback`].
    CallbackScheduled(Result<(), String>),
    /// The bridge is shutting down: end the call politely.
    Shutdown,
}

/// An output of the core, in the order it must be carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame to the caller.
    CallerAudio(Frame),
    /// Send a mark with this name (a frame counter).
    Mark(u64),
    /// Send `clear` to the provider (barge-in).
    Clear,
    /// Drop the model audio the codec still holds (barge-in).
    ResetModelAudio,
    /// Send to the model.
    Model(ModelRequest),
    /// Ask the host.
    Host(HostRequest),
    /// The conversation is over: flush, close the sockets, call
    /// [`Conversation::finish`].
    Ended(EndReason),
}

/// Where a queued frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Model,
    Filler,
    Clip,
}

#[derive(Debug)]
struct AgentTurn {
    transcript_index: usize,
    first_sent_at: Duration,
    frames_sent: u64,
}

/// The answering-machine verdict's phase. The hold is measured on the
/// callee's audio timeline (caller audio received), not on the clock: a
/// bridge that falls behind (a busy machine, a ×60 simulation) still
/// hears the whole hold before it gives up on a verdict, so what the
/// classifier decides depends on what the callee said, never on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmdPhase {
    Pending {
        /// The verdict is `unknown` once this much caller audio was heard.
        hold: Duration,
        /// A stream that stops sending audio altogether times out here.
        stalled_at: Duration,
    },
    Decided,
}

/// How long past the hold a stream with no caller audio may keep the
/// verdict pending (providers send audio frames, silence included,
/// without a break, so this only ends streams that broke).
const AMD_STALL_GRACE: Duration = Duration::from_secs(10);

/// Duration of `samples` of 8 kHz audio.
fn audio_duration(samples: u64) -> Duration {
    Duration::from_micros(samples.saturating_mul(125))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Voicemail {
    WaitBeep {
        deadline: Duration,
        last_speech: Duration,
    },
    Playing,
}

#[derive(Debug)]
struct Collect {
    id: String,
    digits: String,
    max: u32,
    terminator: Option<char>,
    gap: Duration,
    deadline: Duration,
}

#[derive(Debug)]
struct PendingTransfer {
    tool_id: Option<String>,
    reason: String,
}

#[derive(Debug)]
struct Ending {
    reason: EndReason,
    deadline: Duration,
    hang_up: bool,
    then_transfer: Option<TransferPlan>,
    /// Waiting for the host (transfer) or the provider (stream stop): only
    /// the deadline ends it.
    wait: bool,
    /// The agent's last words are said (`end_call` after its goodbye):
    /// model audio arriving later is dropped, so nothing is said twice.
    closed: bool,
}

/// A tiny seeded generator (SplitMix64) for filler choice.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// One call's conversation: see the module and crate docs.
#[derive(Debug)]
pub struct Conversation {
    agent: AgentConfig,
    voicemail_policy: VoicemailPolicy,
    consent_notice: bool,
    caps: ProviderCaps,
    state: State,
    start: Duration,
    last_now: Duration,
    max_call_at: Duration,

    vad: Vad,
    dtmf: Option<DtmfDetector>,
    amd: Option<Amd>,
    beep: Option<BeepDetector>,
    amd_phase: AmdPhase,
    /// Caller audio received since the stream started, 8 kHz samples: the
    /// callee's timeline, on which the AMD hold and its latency are measured.
    heard_samples: u64,
    amd_outcome: Option<AmdOutcome>,
    provider_verdict: Option<AnsweredBy>,
    local_verdict: Option<AnsweredBy>,
    /// The opening started on a likely person, before the verdict.
    amd_early_start: bool,
    voicemail: Option<Voicemail>,
    caller_spoke_to_agent: bool,
    speech_started_at: Option<Duration>,

    queue: VecDeque<(Frame, Source)>,
    playhead: Duration,
    sent_frames: u64,
    pending_marks: VecDeque<u64>,
    ignored_marks: VecDeque<u64>,
    heard_frames: u64,

    model_ready: bool,
    kickoff_pending: bool,
    awaiting_model: bool,
    model_turn_done: bool,
    discard_model_audio: bool,
    agent_turn: Option<AgentTurn>,
    turn_metrics: Option<usize>,
    turn_end_at: Option<Duration>,

    hedge_at: Option<Duration>,
    fillers_this_turn: u32,
    fillers: Vec<&'static [u8]>,
    last_filler: Option<usize>,
    rng: Rng,

    silence_at: Option<Duration>,
    reprompts: u32,

    collect: Option<Collect>,
    transfer: Option<PendingTransfer>,
    picked: Option<HumanAgent>,
    callback_tool: Option<String>,
    ending: Option<Ending>,
    ended: bool,
    end_reason: Option<EndReason>,
    disposition: Option<Disposition>,

    transcript: Vec<TranscriptTurn>,
    caller_turn: Option<usize>,
    metrics: CallMetrics,
    /// Both channels, 8 kHz, for the stereo recording: a bounded window,
    /// handed out by [`Conversation::take_recording`] as it becomes final.
    recorder: Option<StereoRecorder>,
    out: VecDeque<Output>,
}

impl Conversation {
    /// A conversation for a stream that starts (the call was answered) at
    /// `now`. `seed` makes filler choices reproducible.
    pub fn new(now: Duration, ctx: &CallContext, caps: ProviderCaps, seed: u64) -> Self {
        let agent = ctx.agent.clone();
        let fillers: Vec<&'static [u8]> = if agent.hedge.fillers.is_empty() {
            assets::fillers().iter().map(|c| c.ulaw).collect()
        } else {
            agent
                .hedge
                .fillers
                .iter()
                .filter_map(|id| assets::by_id(id))
                .map(|c| c.ulaw)
                .collect()
        };
        let hold = Duration::from_millis(agent.amd.max_hold_ms);
        let mut c = Self {
            voicemail_policy: ctx.voicemail.clone(),
            consent_notice: ctx.consent_notice,
            caps,
            state: State::Init,
            start: now,
            last_now: now,
            max_call_at: now + Duration::from_millis(agent.max_call_ms),
            vad: Vad::new(VadConfig::default()),
            dtmf: agent.inband_dtmf.then(DtmfDetector::default),
            amd: agent
                .amd
                .local_detection
                .then(|| Amd::new(AmdConfig::default())),
            beep: None,
            amd_phase: AmdPhase::Pending {
                hold,
                stalled_at: now + hold + AMD_STALL_GRACE,
            },
            heard_samples: 0,
            amd_outcome: None,
            provider_verdict: None,
            local_verdict: None,
            amd_early_start: false,
            voicemail: None,
            caller_spoke_to_agent: false,
            speech_started_at: None,
            queue: VecDeque::with_capacity(64),
            playhead: now,
            sent_frames: 0,
            pending_marks: VecDeque::new(),
            ignored_marks: VecDeque::new(),
            heard_frames: 0,
            model_ready: false,
            kickoff_pending: false,
            awaiting_model: false,
            model_turn_done: false,
            discard_model_audio: false,
            agent_turn: None,
            turn_metrics: None,
            turn_end_at: None,
            hedge_at: None,
            fillers_this_turn: 0,
            fillers,
            last_filler: None,
            rng: Rng(seed),
            silence_at: None,
            reprompts: 0,
            collect: None,
            transfer: None,
            picked: None,
            callback_tool: None,
            ending: None,
            ended: false,
            end_reason: None,
            disposition: None,
            transcript: Vec::new(),
            caller_turn: None,
            metrics: CallMetrics::default(),
            recorder: ctx.record.then(StereoRecorder::new),
            out: VecDeque::new(),
            agent,
        };
        if let Some(v) = ctx.answered_by {
            c.on_provider_verdict(now, v);
        }
        c
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the caller audio just handed in should go to the model (the
    /// conversation has started and is not ending in a voicemail).
    pub fn forward_caller_audio(&self) -> bool {
        !matches!(self.state, State::Init) && self.voicemail.is_none() && !self.ended
    }

    /// Whether the conversation is over.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The disposition so far.
    pub fn disposition(&self) -> Option<Disposition> {
        self.disposition
    }

    /// Metrics so far.
    pub fn metrics(&self) -> &CallMetrics {
        &self.metrics
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[TranscriptTurn] {
        &self.transcript
    }

    /// The answering-machine outcome, once decided.
    pub fn amd(&self) -> Option<&AmdOutcome> {
        self.amd_outcome.as_ref()
    }

    /// Frames the provider confirmed played (marks).
    pub fn heard_frames(&self) -> u64 {
        self.heard_frames
    }

    /// The next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.ended {
            return None;
        }
        let mut t = self.max_call_at;
        let mut take = |d: Option<Duration>| {
            if let Some(d) = d {
                t = t.min(d);
            }
        };
        if let AmdPhase::Pending { stalled_at, .. } = self.amd_phase {
            take(Some(stalled_at));
        }
        if let Some(Voicemail::WaitBeep { deadline, .. }) = self.voicemail {
            take(Some(deadline));
        }
        take(self.hedge_at);
        take(self.silence_at);
        take(self.collect.as_ref().map(|c| c.deadline));
        take(self.ending.as_ref().map(|e| e.deadline));
        if !self.queue.is_empty() {
            take(Some(self.playhead.saturating_sub(LEAD_LOW)));
        } else if self.needs_drain_check() && self.playhead > self.last_now {
            // Already-drained playout was handled by the last call.
            take(Some(self.playhead));
        }
        Some(t)
    }

    fn needs_drain_check(&self) -> bool {
        (self.model_turn_done && self.agent_turn.is_some())
            || self.ending.is_some()
            || matches!(self.voicemail, Some(Voicemail::Playing))
    }

    /// Feeds one input at time `now`.
    pub fn handle_input(&mut self, now: Duration, input: Input<'_>) {
        if self.ended {
            return;
        }
        self.last_now = self.last_now.max(now);
        match input {
            Input::CallerAudio(pcm) => self.on_caller_audio(now, pcm),
            Input::Dtmf(d) => self.on_digit(now, d),
            Input::MarkPlayed(name) => self.on_mark(name),
            Input::ProviderVerdict(v) => self.on_provider_verdict(now, v),
            Input::StreamStopped => {
                self.close_turns(now);
                self.end(EndReason::StreamStopped);
            }
            Input::ModelReady => {
                self.model_ready = true;
                if self.kickoff_pending {
                    self.kickoff_pending = false;
                    self.prompt_model(now, self.agent.opening_instruction.clone(), false);
                }
            }
            Input::ModelResumed => self.metrics.model_resumes += 1,
            Input::ModelFailed => {
                self.model_ready = false;
                self.start_ending(now, EndReason::ModelFailed, true, None);
                self.ending_deadline_now(now);
            }
            Input::ModelAudio(frame) => self.on_model_audio(now, frame),
            Input::ModelTurnComplete => self.on_turn_complete(now),
            Input::ModelInterrupted => self.on_interrupted(now),
            Input::ModelUsage(report) => self.metrics.model_usage.add(&report),
            Input::CallerTranscript(text) => self.on_caller_text(now, text),
            Input::AgentTranscript(text) => {
                if let Some(t) = &self.agent_turn {
                    self.transcript[t.transcript_index].text.push_str(text);
                }
            }
            Input::ToolCall { id, name, args } => self.on_tool_call(now, id, name, args),
            Input::ToolCallCancelled(id) => {
                if self.collect.as_ref().is_some_and(|c| c.id == id) {
                    self.collect = None;
                }
            }
            Input::HumanAgent(agent) => self.on_human_agent(now, agent),
            Input::TransferDone(result) => self.on_transfer_done(now, result),
            Input::CallbackScheduled(result) => {
                if let Some(id) = self.callback_tool.take() {
                    let r = match result {
                        Ok(()) => json!({"result": "scheduled"}),
                        Err(e) => json!({"result": "failed", "error": e}),
                    };
                    self.tool_response(id, ToolKind::ScheduleCallback, r);
                }
            }
            Input::Shutdown => {
                if self.ending.is_none() {
                    let text = self.agent.silence.goodbye_text.clone();
                    self.say_goodbye(now, EndReason::Shutdown, text);
                }
            }
        }
        self.pump(now);
    }

    /// Fires the deadlines that are due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.ended {
            return;
        }
        self.last_now = self.last_now.max(now);
        if now >= self.max_call_at && self.ending.is_none() {
            let text = self.agent.silence.goodbye_text.clone();
            self.say_goodbye(now, EndReason::TimeLimit, text);
        }
        if let AmdPhase::Pending { stalled_at, .. } = self.amd_phase
            && now >= stalled_at
        {
            self.decide(now, AnsweredBy::Unknown, VerdictSource::Timeout);
        }
        if let Some(Voicemail::WaitBeep { deadline, .. }) = self.voicemail
            && now >= deadline
        {
            self.play_voicemail(now);
        }
        if self.hedge_at.is_some_and(|t| now >= t) {
            self.hedge_at = None;
            self.play_filler(now);
        }
        if self.silence_at.is_some_and(|t| now >= t) {
            self.silence_at = None;
            self.on_silence(now);
        }
        if self.collect.as_ref().is_some_and(|c| now >= c.deadline) {
            self.finish_collect("timeout");
        }
        if self.ending.as_ref().is_some_and(|e| now >= e.deadline) {
            self.finish_ending(now);
        }
        self.pump(now);
    }

    // ----------------------------------------------------------- caller

    /// Caller audio heard since the stream started.
    fn heard(&self) -> Duration {
        audio_duration(self.heard_samples)
    }

    fn on_caller_audio(&mut self, now: Duration, pcm: &[i16]) {
        self.metrics.caller_frames += 1;
        if let Some(r) = &mut self.recorder {
            r.push_caller(pcm);
        }
        if let Some(d) = &mut self.dtmf {
            d.push(pcm);
            while let Some(digit) = self.dtmf.as_mut().and_then(DtmfDetector::poll_digit) {
                self.on_digit(now, digit.digit);
            }
        }
        self.heard_samples += pcm.len() as u64;
        if let AmdPhase::Pending { hold, .. } = self.amd_phase {
            if let Some(decision) = self.amd.as_mut().and_then(|a| a.push(pcm)) {
                let v = match decision.verdict {
                    Verdict::Human => AnsweredBy::Human,
                    Verdict::Machine => AnsweredBy::MachineStart,
                    Verdict::Unknown => AnsweredBy::Unknown,
                };
                self.local_verdict = Some(v);
                self.decide(now, v, VerdictSource::Local);
            } else if self.heard() >= hold {
                self.decide(now, AnsweredBy::Unknown, VerdictSource::Timeout);
            } else if self
                .amd
                .as_ref()
                .is_some_and(|a| a.likely_human().is_some())
            {
                self.start_on_likely_human(now);
            }
        }
        if let Some(Voicemail::WaitBeep { .. }) = self.voicemail {
            self.voicemail_listen(now, pcm);
            return;
        }
        self.vad.push_pcm(pcm);
        while let Some(ev) = self.vad.poll_event() {
            match ev {
                VadEvent::SpeechStart { .. } => self.on_speech_start(now),
                VadEvent::SpeechEnd { .. } => self.on_speech_end(now),
            }
        }
    }

    fn voicemail_listen(&mut self, now: Duration, pcm: &[i16]) {
        let beep = self.beep.get_or_insert_with(BeepDetector::default);
        beep.push(pcm);
        let mut ended = false;
        while let Some(ev) = beep.poll_event() {
            ended |= matches!(ev, BeepEvent::Ended { .. });
        }
        self.vad.push_pcm(pcm);
        while self.vad.poll_event().is_some() {}
        if let Some(Voicemail::WaitBeep { last_speech, .. }) = &mut self.voicemail
            && self.vad.last_frame_active()
        {
            *last_speech = now;
        }
        let quiet_since = match self.voicemail {
            Some(Voicemail::WaitBeep { last_speech, .. }) => last_speech,
            _ => now,
        };
        if ended || now.saturating_sub(quiet_since) >= VOICEMAIL_SILENCE {
            self.play_voicemail(now);
        }
    }

    fn on_speech_start(&mut self, now: Duration) {
        self.speech_started_at = Some(now);
        match self.state {
            State::Init | State::CallEnding | State::Transfer => {}
            _ => {
                let agent_audible = !self.queue.is_empty() || self.playhead > now;
                if agent_audible && self.agent_turn.is_some() {
                    self.barge_in(now);
                } else if agent_audible {
                    // A filler or clip: stop it too.
                    self.clear_playout(now);
                }
                self.silence_at = None;
                self.hedge_at = None;
                self.reprompts = 0;
                self.caller_spoke_to_agent = true;
                self.set_state(State::HumanSpeaking);
                self.open_caller_turn(now);
            }
        }
    }

    fn on_speech_end(&mut self, now: Duration) {
        if let Some(s) = self.speech_started_at.take() {
            self.metrics.caller_talk_ms += ms(now.saturating_sub(s));
        }
        if let Some(i) = self.caller_turn {
            self.transcript[i].end_ms = ms(now.saturating_sub(self.start));
        }
        if self.state == State::HumanSpeaking {
            self.set_state(State::ProcessingRequest);
            self.begin_response_wait(now, true);
        }
    }

    fn open_caller_turn(&mut self, now: Duration) {
        if self.caller_turn.is_none() {
            let t = ms(now.saturating_sub(self.start));
            self.transcript.push(TranscriptTurn {
                speaker: Speaker::Caller,
                text: String::new(),
                start_ms: t,
                end_ms: t,
                interrupted: false,
                heard_ms: None,
            });
            self.caller_turn = Some(self.transcript.len() - 1);
        }
    }

    fn on_caller_text(&mut self, now: Duration, text: &str) {
        self.open_caller_turn(now);
        if let Some(i) = self.caller_turn {
            let t = &mut self.transcript[i];
            t.text.push_str(text);
            t.end_ms = t.end_ms.max(ms(now.saturating_sub(self.start)));
        }
    }

    /// The caller's turn ended (or a prompt was sent): wait for the model.
    fn begin_response_wait(&mut self, now: Duration, hedge: bool) {
        self.turn_end_at = Some(now);
        self.awaiting_model = true;
        self.fillers_this_turn = 0;
        self.metrics.turns.push(TurnMetrics {
            turn_end_ms: ms(now.saturating_sub(self.start)),
            model_latency_ms: None,
            first_audio_ms: None,
            filler: false,
        });
        self.turn_metrics = Some(self.metrics.turns.len() - 1);
        let h = &self.agent.hedge;
        self.hedge_at = (hedge && h.enabled && h.max_per_turn > 0 && !self.fillers.is_empty())
            .then(|| now + Duration::from_millis(h.threshold_ms));
    }

    fn on_silence(&mut self, now: Duration) {
        if self.state != State::Listening {
            return;
        }
        if self.reprompts < self.agent.silence.max_reprompts {
            self.reprompts += 1;
            self.metrics.reprompts += 1;
            let text = self.agent.silence.reprompt_text.clone();
            self.prompt_model(now, text, false);
        } else {
            let text = self.agent.silence.goodbye_text.clone();
            self.say_goodbye(now, EndReason::Silence, text);
        }
    }

    // -------------------------------------------------------------- AMD

    fn on_provider_verdict(&mut self, now: Duration, v: AnsweredBy) {
        self.provider_verdict = Some(v);
        if let Some(o) = &mut self.amd_outcome {
            o.provider = Some(v);
        }
        match self.amd_phase {
            AmdPhase::Pending { .. } => {
                // `unknown` from the provider: keep listening ourselves.
                if v != AnsweredBy::Unknown || self.amd.is_none() {
                    self.decide(now, v, VerdictSource::Provider);
                }
            }
            AmdPhase::Decided => {
                // A late machine verdict overrides ours only if the callee
                // never answered the agent (a greeting talking over it).
                if (v.is_machine() || v == AnsweredBy::Fax)
                    && !self.caller_spoke_to_agent
                    && self.voicemail.is_none()
                    && self.ending.is_none()
                {
                    self.clear_playout(now);
                    self.discard_model_audio = true;
                    let heard = self.heard();
                    if let Some(o) = &mut self.amd_outcome {
                        o.verdict = v;
                        o.source = VerdictSource::Provider;
                        o.latency_ms = ms(heard);
                    }
                    self.on_machine(now, v);
                }
            }
        }
    }

    fn decide(&mut self, now: Duration, v: AnsweredBy, source: VerdictSource) {
        if self.amd_phase == AmdPhase::Decided {
            return;
        }
        self.amd_phase = AmdPhase::Decided;
        self.amd_outcome = Some(AmdOutcome {
            verdict: v,
            source,
            latency_ms: ms(self.heard()),
            provider: self.provider_verdict,
            local: self.local_verdict,
        });
        if v.is_machine() || v == AnsweredBy::Fax {
            if self.amd_early_start {
                self.stop_early_opening(now);
            }
            self.on_machine(now, v);
        } else if !self.amd_early_start {
            self.start_opening(now);
        }
    }

    /// A person is likely (the local classifier heard a short greeting and
    /// a pause): start the opening now, keep listening for the verdict.
    fn start_on_likely_human(&mut self, now: Duration) {
        if self.amd_early_start || self.state != State::Init {
            return;
        }
        self.amd_early_start = true;
        self.start_opening(now);
    }

    fn start_opening(&mut self, now: Duration) {
        self.set_state(State::Welcome);
        if self.consent_notice {
            self.enqueue_clip(assets::ai_disclosure().ulaw, Source::Clip);
        }
        if self.model_ready {
            self.prompt_model(now, self.agent.opening_instruction.clone(), false);
        } else {
            self.kickoff_pending = true;
            self.begin_response_wait(now, false);
        }
    }

    /// The verdict turned to machine after an early opening: silence the
    /// agent in this frame (queued and held audio, and whatever the model
    /// still sends for the opening).
    fn stop_early_opening(&mut self, now: Duration) {
        self.clear_playout(now);
        self.out.push_back(Output::ResetModelAudio);
        self.discard_model_audio = true;
        self.kickoff_pending = false;
    }

    fn on_machine(&mut self, now: Duration, v: AnsweredBy) {
        self.set_state(State::CallEnding);
        self.silence_at = None;
        self.hedge_at = None;
        if v == AnsweredBy::Fax || self.voicemail_policy == VoicemailPolicy::HangUp {
            self.start_ending(now, EndReason::MachineHangUp, true, None);
            self.ending_deadline_now(now);
            return;
        }
        let beep_done = matches!(
            v,
            AnsweredBy::MachineEndBeep
                | AnsweredBy::MachineEndSilence
                | AnsweredBy::MachineEndOther
        );
        if beep_done {
            self.play_voicemail(now);
        } else {
            self.voicemail = Some(Voicemail::WaitBeep {
                deadline: now + Duration::from_millis(self.agent.amd.beep_timeout_ms),
                last_speech: now,
            });
        }
    }

    fn play_voicemail(&mut self, now: Duration) {
        if matches!(self.voicemail, Some(Voicemail::Playing)) {
            return;
        }
        self.voicemail = Some(Voicemail::Playing);
        let clip =
            assets::by_id(&self.agent.voicemail.clip_id).unwrap_or_else(assets::voicemail_default);
        self.enqueue_clip(clip.ulaw, Source::Clip);
        let t = ms(now.saturating_sub(self.start));
        self.transcript.push(TranscriptTurn {
            speaker: Speaker::Agent,
            text: self.agent.voicemail.text.clone(),
            start_ms: t,
            end_ms: t + clip.duration().as_millis() as u64,
            interrupted: false,
            heard_ms: None,
        });
        self.start_ending(now, EndReason::VoicemailLeft, true, None);
        if let Some(e) = &mut self.ending {
            e.deadline = now + clip.duration() + Duration::from_secs(2);
        }
    }

    // ------------------------------------------------------------ model

    fn prompt_model(&mut self, now: Duration, text: String, hedge: bool) {
        if !self.model_ready {
            return;
        }
        self.out
            .push_back(Output::Model(ModelRequest::Prompt(text)));
        self.begin_response_wait(now, hedge);
        if !matches!(
            self.state,
            State::CallEnding | State::Transfer | State::Welcome
        ) {
            self.set_state(State::ProcessingRequest);
        }
    }

    fn note_model_activity(&mut self, now: Duration) {
        if let (Some(i), Some(end)) = (self.turn_metrics, self.turn_end_at) {
            let m = &mut self.metrics.turns[i];
            if m.model_latency_ms.is_none() {
                m.model_latency_ms = Some(ms(now.saturating_sub(end)));
            }
        }
    }

    fn on_model_audio(&mut self, now: Duration, frame: &[i16]) {
        if self.discard_model_audio || frame.len() != FRAME_SAMPLES {
            return;
        }
        if self.ending.as_ref().is_some_and(|e| e.closed) {
            return;
        }
        if self.voicemail.is_some() {
            return;
        }
        self.note_model_activity(now);
        self.hedge_at = None;
        self.awaiting_model = false;
        self.model_turn_done = false;
        if self.agent_turn.is_none() {
            // Stop a filler at a frame boundary: drop what is not sent yet.
            self.queue.retain(|(_, s)| *s != Source::Filler);
            let start_at = self.playhead.max(now);
            self.transcript.push(TranscriptTurn {
                speaker: Speaker::Agent,
                text: String::new(),
                start_ms: ms(start_at.saturating_sub(self.start)),
                end_ms: ms(start_at.saturating_sub(self.start)),
                interrupted: false,
                heard_ms: None,
            });
            self.agent_turn = Some(AgentTurn {
                transcript_index: self.transcript.len() - 1,
                first_sent_at: Duration::MAX,
                frames_sent: 0,
            });
            self.caller_turn = None;
            if matches!(
                self.state,
                State::ProcessingRequest | State::Listening | State::HumanSpeaking
            ) {
                self.set_state(State::Responding);
            }
            self.silence_at = None;
        }
        let mut f = [0i16; FRAME_SAMPLES];
        f.copy_from_slice(frame);
        self.queue.push_back((f, Source::Model));
    }

    fn on_turn_complete(&mut self, now: Duration) {
        if self.discard_model_audio {
            self.discard_model_audio = false;
            return;
        }
        self.awaiting_model = false;
        self.hedge_at = None;
        if self.agent_turn.is_some() {
            self.model_turn_done = true;
        } else if matches!(self.state, State::ProcessingRequest | State::Welcome)
            && self.ending.is_none()
        {
            // The model answered with nothing audible (e.g. after a tool).
            self.enter_listening(now);
        }
    }

    fn on_interrupted(&mut self, now: Duration) {
        self.discard_model_audio = false;
        self.hedge_at = None;
        if self.agent_turn.is_some() {
            self.barge_in(now);
            self.discard_model_audio = false;
        }
    }

    fn barge_in(&mut self, now: Duration) {
        self.metrics.barge_ins += 1;
        self.clear_playout(now);
        self.out.push_back(Output::ResetModelAudio);
        self.discard_model_audio = true;
        if let Some(t) = self.agent_turn.take() {
            let heard = self.heard_of(&t, now);
            let tt = &mut self.transcript[t.transcript_index];
            tt.interrupted = true;
            tt.heard_ms = Some(heard);
            tt.end_ms = tt.start_ms + heard;
            self.metrics.agent_talk_ms = self
                .metrics
                .agent_talk_ms
                .saturating_sub(t.frames_sent.saturating_mul(20).saturating_sub(heard));
        }
        self.model_turn_done = false;
        self.set_state(State::HumanSpeaking);
    }

    /// How much of an agent turn has been played by `now`.
    fn heard_of(&self, t: &AgentTurn, now: Duration) -> u64 {
        if t.first_sent_at == Duration::MAX {
            return 0;
        }
        let total = t.frames_sent * 20;
        let not_yet = ms(self.playhead.saturating_sub(now));
        total.saturating_sub(not_yet)
    }

    /// Drops queued audio and tells the provider to drop its buffer.
    fn clear_playout(&mut self, now: Duration) {
        self.queue.clear();
        if self.playhead > now && self.caps.marks_and_clear {
            self.out.push_back(Output::Clear);
            // Twilio echoes pending marks at once after `clear`.
            self.ignored_marks.extend(self.pending_marks.drain(..));
        }
        self.playhead = self.playhead.min(now);
    }

    // ------------------------------------------------------------ tools

    fn tool_response(&mut self, id: String, tool: ToolKind, response: Value) {
        let response = match response {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("result".into(), other);
                m
            }
        };
        self.out
            .push_back(Output::Model(ModelRequest::ToolResponse {
                id,
                name: tool.function_name().to_owned(),
                response,
            }));
        self.awaiting_model = true;
    }

    fn on_tool_call(&mut self, now: Duration, id: &str, name: &str, args: &Map<String, Value>) {
        self.note_model_activity(now);
        self.hedge_at = None;
        let id = id.to_owned();
        let Some(tool) =
            ToolKind::from_function_name(name).filter(|t| self.agent.tools.contains(t))
        else {
            let mut m = Map::new();
            m.insert("error".into(), json!(format!("unknown tool {name}")));
            self.out
                .push_back(Output::Model(ModelRequest::ToolResponse {
                    id,
                    name: name.to_owned(),
                    response: m,
                }));
            return;
        };
        let arg_str = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_owned);
        match tool {
            ToolKind::RecordOutcome => {
                let label = arg_str("disposition").unwrap_or_default();
                let d = Disposition::from_label(&label).or(match label.as_str() {
                    "callback" => Some(Disposition::CallbackRequested),
                    "opt_out" | "do_not_call" => Some(Disposition::OptedOut),
                    _ => None,
                });
                match d {
                    Some(d) => {
                        self.set_disposition(d);
                        if d == Disposition::OptedOut {
                            self.out.push_back(Output::Host(HostRequest::OptOut));
                        }
                        self.tool_response(id, tool, json!({"result": "recorded"}));
                    }
                    None => self.tool_response(
                        id,
                        tool,
                        json!({"error": "unknown disposition", "allowed": Disposition::ALL.map(Disposition::label)}),
                    ),
                }
            }
            ToolKind::EndCall => {
                // After the goodbye the call just ends; before it, the
                // model's reply is the goodbye.
                let said = self.agent_spoke_last();
                let instruction = if said {
                    "The call is ending now. Say nothing more."
                } else {
                    "Say a short goodbye now; the call ends after it."
                };
                self.tool_response(
                    id,
                    tool,
                    json!({"result": "ending", "instruction": instruction}),
                );
                self.start_ending(now, EndReason::AgentHungUp, true, None);
                if said && let Some(e) = &mut self.ending {
                    e.closed = true;
                    self.awaiting_model = false;
                }
            }
            ToolKind::TransferCall => {
                let skills = args
                    .get("skills")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_else(|| self.agent.transfer.default_skills.clone());
                let reason = arg_str("reason").unwrap_or_default();
                self.request_transfer(now, Some(id), reason, skills);
            }
            ToolKind::ScheduleCallback => {
                let at = arg_str("at").and_then(|s| {
                    chrono::DateTime::parse_from_rfc3339(&s)
                        .ok()
                        .map(|t| t.with_timezone(&chrono::Utc))
                });
                self.schedule_callback(id, at);
            }
            ToolKind::CollectDigits => {
                let d = &self.agent.ivr.collection;
                let max = args
                    .get("max_digits")
                    .and_then(Value::as_u64)
                    .map_or(d.max_digits, |v| v.clamp(1, 64) as u32);
                let terminator = match args.get("terminator").and_then(Value::as_str) {
                    Some(s) => s.chars().next(),
                    None => d.terminator,
                };
                let gap = args
                    .get("timeout_s")
                    .and_then(Value::as_f64)
                    .map_or(Duration::from_millis(d.inter_digit_timeout_ms), |s| {
                        Duration::from_secs_f64(s.clamp(1.0, 60.0))
                    });
                self.collect = Some(Collect {
                    id,
                    digits: String::new(),
                    max,
                    terminator,
                    gap,
                    deadline: now + gap,
                });
            }
        }
    }

    fn schedule_callback(&mut self, tool_id: String, at: Option<Timestamp>) {
        self.set_disposition(Disposition::CallbackRequested);
        self.callback_tool = Some(tool_id);
        self.out
            .push_back(Output::Host(HostRequest::ScheduleCallback { at }));
    }

    fn set_disposition(&mut self, d: Disposition) {
        if self.disposition == Some(d) {
            return;
        }
        // Opting out is final; nothing overrides it.
        if self.disposition == Some(Disposition::OptedOut) {
            return;
        }
        self.disposition = Some(d);
        self.out
            .push_back(Output::Host(HostRequest::RecordDisposition(d)));
    }

    // ------------------------------------------------------- DTMF / IVR

    fn on_digit(&mut self, now: Duration, digit: char) {
        if self.state == State::Init || self.ending.is_some() {
            return;
        }
        if let Some(c) = &mut self.collect {
            if Some(digit) == c.terminator {
                self.finish_collect("terminator");
                return;
            }
            c.digits.push(digit);
            c.deadline = now + c.gap;
            if c.digits.len() as u32 >= c.max {
                self.finish_collect("max_digits");
            }
            return;
        }
        match self.agent.ivr.action(digit).cloned() {
            Some(IvrAction::HumanAgent { skills }) => {
                self.clear_agent_for_ivr(now);
                self.request_transfer(now, None, format!("caller pressed {digit}"), skills);
            }
            Some(IvrAction::Callback) => {
                self.clear_agent_for_ivr(now);
                self.prompt_model(
                    now,
                    format!("The caller pressed {digit} to be called back. Ask when suits them, then call schedule_callback."),
                    false,
                );
            }
            Some(IvrAction::OptOut) => {
                self.clear_agent_for_ivr(now);
                self.set_disposition(Disposition::OptedOut);
                self.out.push_back(Output::Host(HostRequest::OptOut));
                let text = format!(
                    "The caller pressed {digit} to opt out. Confirm in one sentence that they will not be called again, and say goodbye."
                );
                self.say_goodbye(now, EndReason::OptedOut, text);
            }
            Some(IvrAction::Model { text }) => {
                self.clear_agent_for_ivr(now);
                self.prompt_model(now, text, false);
            }
            None => self.prompt_model(now, format!("The caller pressed {digit}."), false),
        }
    }

    fn clear_agent_for_ivr(&mut self, now: Duration) {
        if self.agent_turn.is_some() {
            self.barge_in(now);
            self.metrics.barge_ins -= 1;
        }
    }

    fn finish_collect(&mut self, reason: &str) {
        if let Some(c) = self.collect.take() {
            self.tool_response(
                c.id,
                ToolKind::CollectDigits,
                json!({"digits": c.digits, "reason": reason}),
            );
        }
    }

    // --------------------------------------------------------- transfer

    fn request_transfer(
        &mut self,
        now: Duration,
        tool_id: Option<String>,
        reason: String,
        skills: Vec<String>,
    ) {
        if self.transfer.is_some() {
            if let Some(id) = tool_id {
                self.tool_response(
                    id,
                    ToolKind::TransferCall,
                    json!({"result": "already transferring"}),
                );
            }
            return;
        }
        self.transfer = Some(PendingTransfer { tool_id, reason });
        self.set_state(State::Transfer);
        self.hedge_at = None;
        self.silence_at = None;
        self.turn_end_at.get_or_insert(now);
        self.out
            .push_back(Output::Host(HostRequest::PickHumanAgent { skills }));
        if let Some(e) = &mut self.ending {
            e.deadline = e.deadline.max(now + DRAIN_DEADLINE);
        }
    }

    fn on_human_agent(&mut self, now: Duration, agent: Option<HumanAgent>) {
        let Some(pending) = self.transfer.take() else {
            if let Some(a) = agent {
                self.out
                    .push_back(Output::Host(HostRequest::ReleaseHumanAgent(a.id)));
            }
            return;
        };
        match agent {
            Some(a) => {
                let plan = TransferPlan {
                    mode: self.agent.transfer.mode,
                    summary: self.summary(),
                    reason: pending.reason.clone(),
                    to: a.clone(),
                };
                self.picked = Some(a.clone());
                let notice = format!(
                    "A colleague, {}, is available. Tell the caller in one short sentence that you are connecting them now.",
                    a.name
                );
                match pending.tool_id {
                    Some(id) => self.tool_response(
                        id,
                        ToolKind::TransferCall,
                        json!({"result": "transferring", "agent_name": a.name, "instruction": notice}),
                    ),
                    None => {
                        self.out
                            .push_back(Output::Model(ModelRequest::Prompt(notice)));
                        self.awaiting_model = true;
                    }
                }
                self.set_state(State::Transfer);
                self.start_ending(now, EndReason::Transferred, false, Some(plan));
            }
            None => {
                // Nobody free: offer a callback instead.
                self.set_state(State::ProcessingRequest);
                let text = "No human agent is available right now. Apologise briefly and offer to schedule a callback; if they agree, call schedule_callback.";
                match pending.tool_id {
                    Some(id) => self.tool_response(
                        id,
                        ToolKind::TransferCall,
                        json!({"result": "no_agent_available", "instruction": text}),
                    ),
                    None => self.prompt_model(now, text.to_owned(), false),
                }
                self.begin_response_wait(now, true);
            }
        }
    }

    fn on_transfer_done(&mut self, now: Duration, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.picked = None;
                self.set_disposition(Disposition::Transferred);
                // The provider ends the stream; do not hang up.
                self.start_ending(now, EndReason::Transferred, false, None);
                if let Some(e) = &mut self.ending {
                    e.deadline = now + DRAIN_DEADLINE;
                    e.wait = true;
                }
            }
            Err(_) => {
                if let Some(a) = self.picked.take() {
                    self.out
                        .push_back(Output::Host(HostRequest::ReleaseHumanAgent(a.id)));
                }
                self.ending = None;
                self.set_state(State::ProcessingRequest);
                self.prompt_model(
                    now,
                    "The transfer failed. Apologise and offer to schedule a callback.".into(),
                    false,
                );
            }
        }
    }

    /// Whether the agent spoke after the caller's last words (or is
    /// speaking now).
    fn agent_spoke_last(&self) -> bool {
        self.agent_turn.is_some()
            || self
                .transcript
                .last()
                .is_some_and(|t| t.speaker == Speaker::Agent)
    }

    /// Gives back the agent picked for a transfer the host was never asked
    /// to carry out (the call ended first). Once asked, the host owns the
    /// agent: the engine releases them when the transferred call ends.
    fn release_unhanded_agent(&mut self) {
        let handed = self
            .ending
            .as_ref()
            .is_some_and(|e| e.reason == EndReason::Transferred && e.then_transfer.is_none());
        if handed {
            return;
        }
        if let Some(a) = self.picked.take() {
            self.out
                .push_back(Output::Host(HostRequest::ReleaseHumanAgent(a.id)));
        }
    }

    /// A short summary of the conversation for the human agent.
    fn summary(&self) -> String {
        let mut s = String::new();
        for t in self.transcript.iter().rev().take(6).rev() {
            if t.text.trim().is_empty() {
                continue;
            }
            s.push_str(match t.speaker {
                Speaker::Caller => "Caller: ",
                Speaker::Agent => "Agent: ",
            });
            s.push_str(t.text.trim());
            s.push('\n');
        }
        if let Some(d) = self.disposition {
            s.push_str("Disposition so far: ");
            s.push_str(d.label());
        }
        s.trim_end().to_owned()
    }

    // ----------------------------------------------------------- ending

    fn say_goodbye(&mut self, now: Duration, reason: EndReason, text: String) {
        if self.model_ready {
            self.clear_agent_for_ivr(now);
            self.out
                .push_back(Output::Model(ModelRequest::Prompt(text)));
            self.awaiting_model = true;
            self.turn_end_at = Some(now);
            self.start_ending(now, reason, true, None);
        } else {
            self.start_ending(now, reason, true, None);
            self.ending_deadline_now(now);
        }
    }

    fn start_ending(
        &mut self,
        now: Duration,
        reason: EndReason,
        hang_up: bool,
        then_transfer: Option<TransferPlan>,
    ) {
        self.collect = None;
        self.silence_at = None;
        self.hedge_at = None;
        if reason != EndReason::Transferred {
            self.set_state(State::CallEnding);
        }
        self.ending = Some(Ending {
            reason,
            deadline: now + DRAIN_DEADLINE,
            hang_up,
            then_transfer,
            wait: false,
            closed: false,
        });
    }

    fn ending_deadline_now(&mut self, now: Duration) {
        if let Some(e) = &mut self.ending {
            e.deadline = now;
        }
    }

    /// Called when the agent's audio has drained or the deadline passed.
    fn finish_ending(&mut self, now: Duration) {
        let Some(e) = self.ending.take() else {
            return;
        };
        self.close_turns(now);
        if let Some(plan) = e.then_transfer {
            self.out
                .push_back(Output::Host(HostRequest::Transfer(plan)));
            // Wait for the host's answer (or the stream to stop).
            self.ending = Some(Ending {
                reason: EndReason::Transferred,
                deadline: now + Duration::from_millis(self.agent.transfer.timeout_ms),
                hang_up: false,
                then_transfer: None,
                wait: true,
                closed: false,
            });
            return;
        }
        if e.hang_up {
            let request = if e.reason == EndReason::VoicemailLeft {
                HostRequest::VoicemailLeft
            } else {
                HostRequest::HangUp
            };
            self.out.push_back(Output::Host(request));
        }
        self.end(e.reason);
    }

    fn end(&mut self, reason: EndReason) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.release_unhanded_agent();
        self.set_state(State::CallEnding);
        self.out.push_back(Output::Ended(reason));
        if self.end_reason.is_none() {
            self.end_reason = Some(reason);
        }
    }

    fn close_turns(&mut self, now: Duration) {
        if let Some(t) = self.agent_turn.take() {
            let heard = self.heard_of(&t, now);
            let tt = &mut self.transcript[t.transcript_index];
            tt.end_ms = tt.start_ms + t.frames_sent * 20;
            tt.heard_ms = Some(heard);
        }
        if let Some(s) = self.speech_started_at.take() {
            self.metrics.caller_talk_ms += ms(now.saturating_sub(s));
        }
    }

    // ---------------------------------------------------------- playout

    fn enter_listening(&mut self, now: Duration) {
        self.set_state(State::Listening);
        self.silence_at = Some(now + Duration::from_millis(self.agent.silence.reprompt_after_ms));
    }

    fn enqueue_clip(&mut self, ulaw_clip: &[u8], source: Source) {
        for chunk in ulaw_clip.chunks(FRAME_SAMPLES) {
            let mut f = [0i16; FRAME_SAMPLES];
            ulaw::decode_into(chunk, &mut f);
            self.queue.push_back((f, source));
        }
    }

    fn play_filler(&mut self, now: Duration) {
        if !matches!(self.state, State::ProcessingRequest | State::Transfer)
            || self.agent_turn.is_some()
            || self.fillers_this_turn >= self.agent.hedge.max_per_turn
            || self.fillers.is_empty()
        {
            return;
        }
        let n = self.fillers.len();
        let mut i = (self.rng.next() % n as u64) as usize;
        if n > 1 && Some(i) == self.last_filler {
            i = (i + 1 + (self.rng.next() % (n as u64 - 1)) as usize) % n;
        }
        self.last_filler = Some(i);
        self.fillers_this_turn += 1;
        self.metrics.fillers_played += 1;
        if let Some(m) = self
            .turn_metrics
            .and_then(|i| self.metrics.turns.get_mut(i))
        {
            m.filler = true;
        }
        let clip = self.fillers[i];
        self.enqueue_clip(clip, Source::Filler);
        let _ = now;
    }

    /// Sends queued frames up to the lead, marks, and checks for drained
    /// playout.
    fn pump(&mut self, now: Duration) {
        // Agent audio is placed at its playout time, never before `now`.
        let settled = self.recording_frame(now);
        if let Some(r) = &mut self.recorder {
            r.settle_agent(settled);
        }
        let mut sent_any = false;
        while !self.queue.is_empty() && self.playhead < now + LEAD_HIGH {
            let Some((frame, source)) = self.queue.pop_front() else {
                break;
            };
            let at = self.playhead.max(now);
            self.playhead = at + FRAME;
            self.sent_frames += 1;
            let frame_at = self.recording_frame(at);
            if let Some(r) = &mut self.recorder {
                r.write_agent(frame_at, &frame[..]);
            }
            if source == Source::Model {
                self.metrics.agent_frames += 1;
                self.metrics.agent_talk_ms += 20;
                if let Some(t) = &mut self.agent_turn {
                    if t.first_sent_at == Duration::MAX {
                        t.first_sent_at = at;
                        if let (Some(i), Some(end)) = (self.turn_metrics, self.turn_end_at) {
                            let m = &mut self.metrics.turns[i];
                            if m.first_audio_ms.is_none() {
                                m.first_audio_ms = Some(ms(at.saturating_sub(end)));
                            }
                        }
                        if self.metrics.greeting_latency_ms.is_none() {
                            self.metrics.greeting_latency_ms =
                                Some(ms(at.saturating_sub(self.start)));
                        }
                    }
                    t.frames_sent += 1;
                }
            }
            self.out.push_back(Output::CallerAudio(frame));
            sent_any = true;
            if self.caps.marks_and_clear && self.sent_frames.is_multiple_of(MARK_EVERY) {
                self.push_mark();
            }
        }
        if sent_any
            && self.queue.is_empty()
            && self.caps.marks_and_clear
            && !self.sent_frames.is_multiple_of(MARK_EVERY)
        {
            self.push_mark();
        }
        if self.queue.is_empty() && self.playhead <= now {
            self.on_drained(now);
        }
    }

    fn push_mark(&mut self) {
        self.pending_marks.push_back(self.sent_frames);
        self.out.push_back(Output::Mark(self.sent_frames));
    }

    fn on_mark(&mut self, name: &str) {
        let Ok(n) = name.parse::<u64>() else {
            return;
        };
        if let Some(pos) = self.ignored_marks.iter().position(|&m| m == n) {
            self.ignored_marks.drain(..=pos);
            return;
        }
        while self.pending_marks.front().is_some_and(|&m| m <= n) {
            self.pending_marks.pop_front();
        }
        self.heard_frames = self.heard_frames.max(n);
    }

    fn on_drained(&mut self, now: Duration) {
        if self.model_turn_done && !self.awaiting_model {
            self.model_turn_done = false;
            if let Some(t) = self.agent_turn.take() {
                let tt = &mut self.transcript[t.transcript_index];
                tt.end_ms = tt.start_ms + t.frames_sent * 20;
                tt.heard_ms = Some(t.frames_sent * 20);
            }
            if self.ending.is_none()
                && matches!(
                    self.state,
                    State::Responding | State::Welcome | State::ProcessingRequest
                )
            {
                self.enter_listening(now);
            }
        }
        if self.ending.as_ref().is_some_and(|e| !e.wait)
            && self.agent_turn.is_none()
            && !self.awaiting_model
        {
            self.finish_ending(now);
        }
        if let Some(Voicemail::Playing) = self.voicemail
            && self.ending.is_none()
            && !self.ended
        {
            self.end(EndReason::VoicemailLeft);
        }
    }

    fn set_state(&mut self, s: State) {
        self.state = s;
    }

    // ------------------------------------------------------------ finish

    /// The recording's frame (8 kHz sample index) at call time `at`.
    fn recording_frame(&self, at: Duration) -> u64 {
        ms(at.saturating_sub(self.start)) * 8
    }

    /// Whether the call is recorded (both channels, see
    /// [`Self::take_recording`]).
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Frames of the recording the core holds, not yet final or not yet
    /// taken (a bounded window: `voxdial_media::record::MAX_LAG` at most,
    /// plus one write).
    pub fn recording_pending(&self) -> usize {
        self.recorder.as_ref().map_or(0, StereoRecorder::pending)
    }

    /// The format of the recording's bytes: 8 kHz stereo PCM16, caller
    /// left, agent right.
    pub fn recording_spec() -> WavSpec {
        WavSpec::pcm16_stereo(8000)
    }

    /// Appends to `out` the recording's bytes that can no longer change
    /// (interleaved PCM16 LE, [`Self::recording_spec`]), in order; returns
    /// the frames appended. Call it as often as convenient (the core holds
    /// only a bounded window, see `voxdial_media::record`) and once more
    /// after [`Self::finish`] for the rest. Taken in order, the bytes are
    /// the `data` chunk of the call's stereo WAV. Nothing when not
    /// recording.
    pub fn take_recording(&mut self, out: &mut Vec<u8>) -> usize {
        self.recorder.as_mut().map_or(0, |r| r.take(out))
    }

    /// The call's records: the report and the transcript. The recording's
    /// last bytes are then all final ([`Self::take_recording`]).
    pub fn finish(&mut self, now: Duration) -> CallSummary {
        self.close_turns(now);
        if let Some(r) = &mut self.recorder {
            r.close();
        }
        CallSummary {
            report: CallReport {
                disposition: self.disposition,
                amd: self.amd_outcome.clone(),
                end_reason: self.end_reason,
                talk_ratio: self.metrics.talk_ratio(),
                metrics: self.metrics.clone(),
                duration_ms: ms(now.saturating_sub(self.start)),
            },
            transcript: std::mem::take(&mut self.transcript),
        }
    }
}

/// What [`Conversation::finish`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSummary {
    /// Metrics, verdict, disposition.
    pub report: CallReport,
    /// The transcript, per turn.
    pub transcript: Vec<TranscriptTurn>,
}
