//! The sans-IO conversation core of voxdial's media bridge, and the pure
//! per-frame audio path beside it.
//!
//! No IO, no async runtime, no clock: every method that needs the time
//! takes `now` (a [`Duration`](std::time::Duration) since any fixed
//! origin, the same for the whole call), in the style of str0m and
//! quinn-proto.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`config`] | [`AgentConfig`] (prompt, voice, language, tools, IVR menu, fillers, hedge threshold, silence timeouts, principles, voicemail message), [`CallContext`] |
//! | [`codec`] | the per-frame DSP + JSON path: provider payload ⇄ 8 kHz PCM ⇄ model JSON; provider message writers; parse helpers that try the fast paths first |
//! | [`scan`] | allocation-free scanners for the two hot messages (Twilio `media`, audio-only `serverContent`), falling back to the wire crate's parsers |
//! | [`b64`] | table-driven base64 into reused buffers (μ-law decoded straight out of it) |
//! | [`core`] | [`Conversation`]: the state machine, barge-in, hedge engine, AMD/voicemail, DTMF/IVR, transfer flow, marks, transcript, metrics, recording |
//! | [`validate`] | [`AgentConfig::problems`]: what is wrong with an agent before it is stored |
//! | [`types`] | what goes to the host and the model: [`HostRequest`], [`ModelRequest`], [`CallReport`], [`TranscriptTurn`], … |
//!
//! # Driving it
//!
//! ```text
//! let mut conv = Conversation::new(now, &ctx, caps, seed);
//! loop {
//!     select! {
//!         provider frame  => codec decodes it; conv.handle_input(now, Input::CallerAudio(pcm));
//!                            if conv.forward_caller_audio() { send codec's realtimeInput JSON }
//!         model frame     => codec cuts audio into 20 ms frames: Input::ModelAudio(frame) each;
//!                            turnComplete: codec.flush + Input::ModelTurnComplete; …
//!         host answer     => conv.handle_input(now, Input::HumanAgent(..)) …
//!         sleep_until(conv.poll_timeout()) => conv.handle_timeout(now)
//!     }
//!     while let Some(out) = conv.poll_output() { carry it out (Output::Ended: stop) }
//!     conv.take_recording(&mut buf);  // when recording: spool `buf` as it fills
//! }
//! let summary = conv.finish(now);
//! conv.take_recording(&mut buf);      // the recording's last bytes
//! ```
//!
//! The DSP runs in [`codec`], beside the core rather than inside it: the
//! core sees 8 kHz PCM frames only (its detectors want that rate anyway),
//! so the μ-law/base64/JSON work happens once per frame in one place, and
//! benchmarks measure it on its own. Both are allocation-free per frame in
//! steady state (buffers are reused; frames are fixed-size arrays).
//!
//! # States
//!
//! | state | entered when | leaves on |
//! |---|---|---|
//! | `Init` | stream start | a person likely (local AMD: short greeting and a pause; the verdict still pending), verdict human/unknown or hold timeout → `Welcome`; machine → `CallEnding` (voicemail or hang up; after an early opening the agent is cleared in that frame) |
//! | `Welcome` | verdict: opening prompt sent (consent notice queued first) | opening played and `turnComplete` → `Listening`; caller speech → `HumanSpeaking` (barge-in) |
//! | `Listening` | agent audio drained after `turnComplete` | VAD speech → `HumanSpeaking`; silence timeout → re-prompt (`ProcessingRequest`) or goodbye (`CallEnding`) |
//! | `HumanSpeaking` | VAD speech start (barge-in: `clear` + queue dropped in the same frame) | VAD speech end → `ProcessingRequest` |
//! | `ProcessingRequest` | caller turn end, prompt, tool answer | model audio → `Responding` (filler stopped at a frame boundary); hedge timer → filler; `turnComplete` without audio → `Listening` |
//! | `Responding` | first model audio of a turn | drained after `turnComplete` → `Listening`; speech / `interrupted` → `HumanSpeaking` |
//! | `Transfer` | `transfer_call` tool or IVR key | agent found: notice, then host transfer; none: callback offered (`ProcessingRequest`) |
//! | `CallEnding` | goodbye, opt-out, voicemail, end_call, silence, time limit, stream stop | drained or deadline → `HangUp` + `Ended` |

pub mod b64;
#[doc(hidden)]
pub mod bench_support;
pub mod codec;
pub mod config;
pub mod core;
pub mod scan;
pub mod types;
pub mod validate;

pub use crate::codec::{FRAME_SAMPLES, Frame};
pub use crate::config::{AgentConfig, CallContext, IvrAction, IvrMenu, ToolKind, TransferMode};
pub use crate::core::{CallSummary, Conversation, Input, Output, ProviderCaps, State};
pub use crate::types::{
    AmdOutcome, CallMetrics, CallReport, EndReason, HostRequest, HumanAgent, LiveEvent,
    ModelRequest, Speaker, TranscriptTurn, TransferPlan, TurnMetrics, VerdictSource,
};

/// Errors of this crate (the codec's; the core itself cannot fail).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A base64 payload did not decode.
    #[error("invalid base64 audio payload")]
    Base64(#[source] b64::InvalidBase64),
    /// The audio library refused (e.g. an unsupported model sample rate).
    #[error("audio processing failed")]
    Media(#[source] voxdial_media::MediaError),
}
