//! Pure audio DSP for voxdial's media path: no IO, no async, no clock.
//!
//! Everything here is a plain function or a small state machine fed with
//! samples; time is derived from sample counts, so the same input always
//! gives the same output, in tests and in production alike.
//!
//! # Layout
//!
//! | module | what |
//! |---|---|
//! | [`ulaw`] | G.711 μ-law encode/decode (classic Sun/ITU variant, table driven) |
//! | [`pcm`] | PCM16 LE bytes ⇄ `i16`, odd-byte carry, level, gain, mix |
//! | [`resample`] | streaming polyphase FIR resamplers: [`resample::Upsampler2x`] 8→16 kHz, [`resample::Decimator3x`] 24→8 kHz, [`resample::Decimator2x`] 16→8 kHz, [`resample::Resampler`] by rate pair |
//! | [`frame`] | cutting outbound audio into 20 ms frames with a carry buffer |
//! | [`vad`] | energy voice activity detection with adaptive noise floor and hangover |
//! | [`goertzel`] | single-frequency power (Goertzel algorithm) |
//! | [`dtmf`] | in-band DTMF detector (debounced: one press, one digit) |
//! | [`beep`] | answering-machine beep detector, reports when the beep ends |
//! | [`amd`] | answering-machine detection: `Human` / `Machine` / `Unknown` with the decision time |
//! | [`record`] | [`record::StereoRecorder`]: a call's two channels handed out as PCM16 stereo as they become final, a bounded window held |
//! | [`wav`] | WAV writer (PCM16 mono/stereo, μ-law), minimal reader, stereo interleave |
//! | [`assets`] | bundled μ-law prompt clips: fillers, default voicemail, AI disclosure |
//! | [`synth`] | seeded test-signal generators (tones, DTMF, speech-like bursts, greetings) and the labelled AMD corpus |
//!
//! # Driving the streaming parts
//!
//! Keep one instance per call (or per direction) and feed it chunks of any
//! size as they arrive; each keeps its own carry-over state.
//!
//! - **Caller → model** (Twilio 8 kHz μ-law → 16 kHz PCM):
//!   [`ulaw::decode_extend`] then [`resample::Upsampler2x::process`].
//! - **Model → caller** (24 kHz PCM → 8 kHz μ-law frames):
//!   [`pcm::Pcm16Decoder::push`] (odd bytes across chunks),
//!   [`resample::Decimator3x::process`], [`ulaw::encode_extend`], then
//!   [`frame::Framer::push`] for 160-byte frames. At the end of a turn call
//!   `flush` on the decimator and the framer; on barge-in (`clear`) call
//!   `reset` on the decimator and `clear` on the framer.
//! - **Detectors** ([`vad::Vad`], [`dtmf::DtmfDetector`],
//!   [`beep::BeepDetector`]) take PCM or μ-law with `push`/`push_*` and
//!   queue events read with `poll_*` (sans-IO style); event times are sample
//!   indices since the start.
//! - **AMD** ([`amd::Amd`]): `push(frame)` returns `Some(decision)` once;
//!   call `finish(elapsed)` if audio stops before a decision.
//!
//! Nothing here panics on any input: odd byte counts, empty slices, short
//! buffers (those return [`MediaError::OutputTooSmall`]) and malformed WAV
//! files are all handled.

pub mod amd;
pub mod assets;
pub mod beep;
pub mod dtmf;
pub mod frame;
pub mod goertzel;
pub mod pcm;
pub mod record;
pub mod resample;
pub mod synth;
pub mod ulaw;
pub mod vad;
pub mod wav;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// No resampler exists for this pair of rates.
    #[error("unsupported resampling {in_rate} Hz -> {out_rate} Hz")]
    UnsupportedRate {
        /// Input rate in Hz.
        in_rate: u32,
        /// Output rate in Hz.
        out_rate: u32,
    },
    /// A caller-provided output buffer is too short.
    #[error("output buffer too small: need {needed} samples, got {got}")]
    OutputTooSmall {
        /// Samples the call would write.
        needed: usize,
        /// Length of the buffer given.
        got: usize,
    },
    /// A character that is not a DTMF digit.
    #[error("not a DTMF digit: {0:?}")]
    InvalidDigit(char),
    /// Bytes that are not a well-formed WAV file.
    #[error("invalid WAV: {0}")]
    InvalidWav(&'static str),
    /// A WAV encoding this crate does not read.
    #[error("unsupported WAV format tag {format_tag} with {bits} bits per sample")]
    UnsupportedWav {
        /// The `fmt ` chunk's format tag.
        format_tag: u16,
        /// Bits per sample.
        bits: u16,
    },
}
