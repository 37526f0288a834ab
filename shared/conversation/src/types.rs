//! What the core hands the host: requests ([`HostRequest`]), requests to the
//! model ([`ModelRequest`]), and the call's records (transcript, metrics,
//! report).

use serde::{Deserialize, Serialize};
use voxdial_domain::{AnsweredBy, Disposition, E164, HumanAgentId, Timestamp};

use crate::config::TransferMode;

/// A human agent who can take a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanAgent {
    /// The agent's id.
    pub id: HumanAgentId,
    /// Where to reach them.
    pub number: E164,
    /// Their name (said to the caller).
    pub name: String,
}

/// A transfer to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferPlan {
    /// Cold (straight) or warm (conference with a whispered summary).
    pub mode: TransferMode,
    /// The human agent picked by the host.
    pub to: HumanAgent,
    /// A short summary of the conversation for the human (warm transfers
    /// whisper it before joining; cold ones keep it on the call record).
    pub summary: String,
    /// Why the transfer was asked for.
    pub reason: String,
}

/// Something only the host can do (storage, provider, human agents). The
/// driver runs it and feeds the answer back as an [`crate::Input`] where one
/// is expected.
#[derive(Debug, Clone, PartialEq)]
pub enum HostRequest {
    /// Find an available human agent with these skills; answer with
    /// [`crate::Input::HumanAgent`].
    PickHumanAgent {
        /// Skills needed (empty: anyone).
        skills: Vec<String>,
    },
    /// Give a picked agent back (the transfer did not happen).
    ReleaseHumanAgent(HumanAgentId),
    /// Carry out a transfer (provider update); answer with
    /// [`crate::Input::TransferDone`].
    Transfer(TransferPlan),
    /// Schedule a callback; answer with [`crate::Input::CallbackScheduled`].
    ScheduleCallback {
        /// When, if the caller named a time.
        at: Option<Timestamp>,
    },
    /// Put the number on the do-not-call list now.
    OptOut,
    /// Store the conversation's disposition.
    RecordDisposition(Disposition),
    /// End the call at the provider.
    HangUp,
    /// The voicemail message played to its end: record that it was left,
    /// then end the call at the provider (in this order, so the call's
    /// end finds the message recorded).
    VoicemailLeft,
}

/// A message the core wants sent to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelRequest {
    /// A user text turn that makes the model speak (`clientContent` with
    /// `turnComplete: true`): the opening, re-prompts, IVR notices.
    Prompt(String),
    /// The answer to a tool call.
    ToolResponse {
        /// The call's id.
        id: String,
        /// The function name.
        name: String,
        /// The JSON object returned.
        response: serde_json::Map<String, serde_json::Value>,
    },
}

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The person called.
    Caller,
    /// The AI agent (or a prompt clip played for it).
    Agent,
}

/// One turn of the live transcript. Times are ms since the stream started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptTurn {
    /// Who spoke.
    pub speaker: Speaker,
    /// What was said (the model's input/output transcription).
    pub text: String,
    /// Start, ms.
    pub start_ms: u64,
    /// End, ms.
    pub end_ms: u64,
    /// The caller barged in (agent turns).
    pub interrupted: bool,
    /// How much of an agent turn the caller actually heard, ms.
    pub heard_ms: Option<u64>,
}

/// Where an answering-machine verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictSource {
    /// The provider (`AnsweredBy`, async AMD callback).
    Provider,
    /// The bridge's own classifier on the callee audio.
    Local,
    /// Nobody decided within the hold time (treated as a person).
    Timeout,
}

/// The answering-machine outcome of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmdOutcome {
    /// The verdict acted on.
    pub verdict: AnsweredBy,
    /// Who decided.
    pub source: VerdictSource,
    /// Time from answer to the verdict on the callee's timeline (caller
    /// audio received before it), ms: what the callee waited, whatever
    /// the bridge's load.
    pub latency_ms: u64,
    /// The provider's verdict, if it gave one (also after the decision).
    pub provider: Option<AnsweredBy>,
    /// The local classifier's verdict, if it reached one.
    pub local: Option<AnsweredBy>,
}

/// Latency of one agent response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnMetrics {
    /// When the caller's turn ended (or the prompt was sent), ms.
    pub turn_end_ms: u64,
    /// First message of the model after it (audio or tool call), ms later.
    pub model_latency_ms: Option<u64>,
    /// First model audio sent to the caller, ms after the turn end.
    pub first_audio_ms: Option<u64>,
    /// A filler played before it.
    pub filler: bool,
}

/// Per-call metrics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CallMetrics {
    /// One entry per agent response.
    pub turns: Vec<TurnMetrics>,
    /// Answer to the greeting's first audio, ms.
    pub greeting_latency_ms: Option<u64>,
    /// Filler clips played.
    pub fillers_played: u32,
    /// Times the caller spoke over the agent.
    pub barge_ins: u32,
    /// Silence re-prompts.
    pub reprompts: u32,
    /// Model session resumptions (goAway).
    pub model_resumes: u32,
    /// Agent audio sent, ms.
    pub agent_talk_ms: u64,
    /// Caller speech (VAD), ms.
    pub caller_talk_ms: u64,
    /// Frames of caller audio received.
    pub caller_frames: u64,
    /// Frames of agent audio sent.
    pub agent_frames: u64,
    /// The model's tokens, summed over its reports.
    pub model_usage: voxdial_domain::ModelUsage,
}

impl CallMetrics {
    /// Agent talk time over all talk time (0 when nobody spoke).
    pub fn talk_ratio(&self) -> f64 {
        let total = self.agent_talk_ms + self.caller_talk_ms;
        if total == 0 {
            0.0
        } else {
            self.agent_talk_ms as f64 / total as f64
        }
    }
}

/// How the conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The provider closed the stream (caller hung up, transfer done).
    StreamStopped,
    /// The agent ended it (goodbye, end_call tool).
    AgentHungUp,
    /// Nobody answered the re-prompts.
    Silence,
    /// A voicemail message was left.
    VoicemailLeft,
    /// Answering machine, hang-up policy.
    MachineHangUp,
    /// Transferred to a human.
    Transferred,
    /// The caller opted out.
    OptedOut,
    /// The model session failed for good.
    ModelFailed,
    /// The bridge shut down.
    Shutdown,
    /// The call reached its time limit.
    TimeLimit,
}

/// Everything the host stores about a call's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallReport {
    /// The disposition, if the conversation reached one.
    pub disposition: Option<Disposition>,
    /// The answering-machine outcome.
    pub amd: Option<AmdOutcome>,
    /// How it ended.
    pub end_reason: Option<EndReason>,
    /// Metrics.
    pub metrics: CallMetrics,
    /// Talk ratio (agent / all), for dashboards.
    pub talk_ratio: f64,
    /// Stream duration, ms.
    pub duration_ms: u64,
}

/// Something a live call's watchers see as it happens (the console's live
/// call card). The bridge derives these from the conversation after each
/// step; they are not stored (the call's report and transcript are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A transcript line, new or grown: a later line with the same `index`
    /// replaces it (transcriptions arrive in pieces).
    Line {
        /// The line's place in the call's transcript.
        index: usize,
        /// Who speaks.
        speaker: Speaker,
        /// When the line started, ms since the stream started.
        at_ms: u64,
        /// What was said so far (personal data: masked for viewers).
        transcript: String,
    },
    /// The conversation's state machine moved (`listening`, `responding`, …).
    State {
        /// The new state.
        state: String,
    },
    /// The answering-machine verdict acted on.
    Amd {
        /// The verdict.
        verdict: AnsweredBy,
        /// Who decided.
        source: VerdictSource,
    },
    /// A filler clip started playing.
    Filler {
        /// Fillers played so far in the call.
        count: u32,
    },
    /// The caller spoke over the agent.
    BargeIn {
        /// Barge-ins so far in the call.
        count: u32,
    },
}
