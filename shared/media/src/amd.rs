//! Answering-machine detection over the first seconds of an answered call.
//!
//! A streaming classifier in the spirit of the classic (Asterisk-style)
//! AMD. It listens to the callee (8 kHz PCM or μ-law, any chunk size), cuts
//! 20 ms frames, marks each active or not (the energy [`Vad`], or voiced —
//! periodic over pitch lags — and a little above the noise floor, or a
//! steady tone at any level the floor has risen to; digital
//! silence on a noisy line is a lost-packet gap, never speech), and follows
//! the *greeting*: from the first speech to the last.
//!
//! - A person answers with a short "Hello?" (well under 2 s) and then waits
//!   for the caller: a greeting shorter than `likely_human_greeting`
//!   followed by `likely_human_silence` makes a person **likely**
//!   ([`Amd::likely_human`]: the agent may start talking), and speech
//!   followed by `after_greeting_silence` of silence is **Human**
//!   (`short_greeting_silence` after a greeting shorter than
//!   `short_greeting`).
//! - A machine plays a long, continuous greeting: speech spanning
//!   `machine_greeting` is **Machine** (`machine_greeting_after_pause` once
//!   a greeting shorter than `short_greeting` was followed by `hello_pause`
//!   of silence: a bare "Hello," then a sentence), and so is `max_words` words,
//!   or a beep (see [`crate::beep`]).
//! - Nothing said for `initial_silence` gives `initial_silence_verdict`
//!   (**Unknown** by default: many people answer and wait), and no decision
//!   within `total_analysis` gives **Unknown**.
//!
//! Errors are not symmetric: calling a person a machine hangs up on them,
//! so every threshold leans towards Human/Unknown, and Unknown should be
//! treated as a person.
//!
//! # Driving it
//!
//! Sans-IO and clock-free: time is the number of samples pushed.
//! ```
//! use voxdial_media::amd::{Amd, AmdConfig, Verdict};
//! use voxdial_media::synth::Synth;
//! let audio = Synth::new(1).human_hello(400.0, 6000.0, -18.0);
//! let mut amd = Amd::new(AmdConfig::default());
//! let mut verdict = None;
//! for frame in audio.chunks(160) {
//!     if let Some(d) = amd.push(frame) {
//!         verdict = Some(d);
//!         break;
//!     }
//! }
//! assert_eq!(verdict.unwrap().verdict, Verdict::Human);
//! ```
//! If the audio stops (stream closed, timer fired), call [`Amd::finish`]
//! with the time elapsed since answer: the missing audio counts as silence.

use std::time::Duration;

use crate::beep::{BeepConfig, BeepDetector, BeepEvent, sample_to_time};
use crate::ulaw;
use crate::vad::{Vad, VadConfig, mean_square_dbfs};

/// Frames at least this periodic are a tone: sound at any level over the
/// VAD's minimum, even when the noise floor has risen to them.
const TONE_PERIODICITY: f32 = 0.9;

/// Frames at or below this level (dBFS) are digital silence.
const GAP_DBFS: f32 = -90.0;

/// What the callee is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// A person answered.
    Human,
    /// An answering machine or voicemail answered.
    Machine,
    /// Could not tell; treat as a person.
    Unknown,
}

/// Which rule produced a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A short greeting followed by silence.
    ShortGreeting,
    /// A short greeting followed by a short pause: a person is likely, not
    /// certain (see [`Amd::likely_human`]).
    LikelyHuman,
    /// Speech went on past `machine_greeting`.
    LongGreeting,
    /// At least `max_words` words.
    MaxWords,
    /// A beep was heard.
    Beep,
    /// Nothing was said within `initial_silence`.
    InitialSilence,
    /// No rule fired within `total_analysis`.
    Timeout,
    /// [`Amd::finish`] was called before any rule fired.
    Finished,
}

/// A verdict and when it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdDecision {
    /// The verdict.
    pub verdict: Verdict,
    /// The rule that gave it.
    pub reason: Reason,
    /// Time since answer (from the samples seen, or `finish`'s elapsed).
    pub at: Duration,
}

/// Thresholds of the [`Amd`] classifier. Defaults were tuned on
/// [`crate::synth::amd_corpus`] seed 1 (reported on seeds 7 and 2024) for
/// at most 0.5 % humans called machines, then the most machines caught,
/// then the earliest likely person.
#[derive(Debug, Clone, PartialEq)]
pub struct AmdConfig {
    /// Input sample rate, Hz. Default 8000.
    pub sample_rate: u32,
    /// Silence before any speech after which `initial_silence_verdict` is
    /// given. Default 3 s.
    pub initial_silence: Duration,
    /// Verdict after `initial_silence`. Default [`Verdict::Unknown`].
    pub initial_silence_verdict: Verdict,
    /// Greeting span (first to last speech frame) that makes a machine.
    /// Default 2.4 s (as Twilio's `MachineDetectionSpeechThreshold`): real
    /// voices saying "Hello, who is this?" slowly reach 2.2 s, so lower
    /// values hang up on people.
    pub machine_greeting: Duration,
    /// A greeting spanning less than this, followed by
    /// `likely_human_silence`, makes a person likely. Default 1 s.
    pub likely_human_greeting: Duration,
    /// See `likely_human_greeting`. Default 160 ms: a person who goes on
    /// talking barges in on the agent, and a machine verdict after it
    /// stops the agent, so starting early costs little either way.
    pub likely_human_silence: Duration,
    /// After a bare hello (see `hello_pause`), the greeting span that
    /// still makes a machine ("Hello, <pause> this is Priya speaking, who
    /// is this?" runs past `machine_greeting`). Default 3.1 s.
    pub machine_greeting_after_pause: Duration,
    /// A greeting shorter than `short_greeting` followed by this much
    /// silence is a bare "Hello?": from then on a machine needs
    /// `machine_greeting_after_pause`. Default 300 ms.
    pub hello_pause: Duration,
    /// Silence after speech that makes a greeting human. Default 0.9 s
    /// (the agent may start earlier, see `likely_human_greeting`).
    pub after_greeting_silence: Duration,
    /// A greeting spanning less than this is a bare "Hello?"... Default 1 s.
    pub short_greeting: Duration,
    /// ...and `short_greeting_silence` after it is enough to call it human
    /// (machines do not stop after a second). Default 0.7 s.
    pub short_greeting_silence: Duration,
    /// Least voiced time for speech to count (shorter is a click or noise).
    /// Default 100 ms.
    pub min_word: Duration,
    /// Silence that separates two words. Default 100 ms.
    pub between_words_silence: Duration,
    /// Words (each at least `min_word`) that make a machine. Default 9.
    pub max_words: u32,
    /// Undecided after this, the verdict is Unknown. Default 5 s.
    pub total_analysis: Duration,
    /// Whether a beep means Machine. Default true.
    pub detect_beep: bool,
    /// A frame whose normalised autocorrelation over pitch lags (2.5–12.5
    /// ms, 80–400 Hz) reaches this is voiced (speech or a tone; noise stays
    /// near 0), and counts as speech when it is also `voiced_margin_db`
    /// above the noise floor, quieter than the energy VAD needs: this keeps
    /// speech in noise from breaking into pauses. Above 1 disables it.
    /// Default 0.5.
    pub voicing_threshold: f32,
    /// See `voicing_threshold`. Default 3 dB.
    pub voiced_margin_db: f32,
    /// The energy VAD used to mark frames (20 ms frames).
    pub vad: VadConfig,
    /// The beep detector used when `detect_beep`.
    pub beep: BeepConfig,
}

impl Default for AmdConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            initial_silence: Duration::from_millis(3000),
            initial_silence_verdict: Verdict::Unknown,
            machine_greeting: Duration::from_millis(2400),
            likely_human_greeting: Duration::from_millis(1000),
            likely_human_silence: Duration::from_millis(160),
            machine_greeting_after_pause: Duration::from_millis(3100),
            hello_pause: Duration::from_millis(300),
            after_greeting_silence: Duration::from_millis(900),
            short_greeting: Duration::from_millis(1000),
            short_greeting_silence: Duration::from_millis(700),
            min_word: Duration::from_millis(100),
            between_words_silence: Duration::from_millis(100),
            max_words: 9,
            total_analysis: Duration::from_millis(5000),
            detect_beep: true,
            voicing_threshold: 0.5,
            voiced_margin_db: 3.0,
            vad: VadConfig::default(),
            beep: BeepConfig::default(),
        }
    }
}

/// Streaming answering-machine classifier; see the module doc.
#[derive(Debug, Clone)]
pub struct Amd {
    cfg: AmdConfig,
    vad: Vad,
    beep: Option<BeepDetector>,
    /// Thresholds converted to frames.
    initial_silence_f: u64,
    machine_greeting_f: u64,
    likely_greeting_f: u64,
    likely_silence_f: u64,
    machine_after_pause_f: u64,
    hello_pause_f: u64,
    after_silence_f: u64,
    short_greeting_f: u64,
    short_silence_f: u64,
    min_word_f: u64,
    between_words_f: u64,
    total_f: u64,
    samples: u64,
    /// Sum of squares and samples of the frame in progress.
    acc: u64,
    acc_n: usize,
    frame_len: usize,
    /// The last two frames' samples, for the voicing measure.
    window: Vec<f32>,
    lags: (usize, usize),
    /// Whether a frame above digital silence was heard (the line's noise
    /// floor is known): digital silence after that is a gap in the stream.
    line_heard: bool,
    frames: u64,
    active_run: u64,
    silence_run: u64,
    greeting: Option<Greeting>,
    likely_human: Option<AmdDecision>,
    /// Whether a greeting shorter than `short_greeting` was followed by
    /// `hello_pause` of silence (a bare hello): machines then need
    /// `machine_greeting_after_pause`.
    paused_after_hello: bool,
    decision: Option<AmdDecision>,
}

/// The greeting being followed (frame indices).
#[derive(Debug, Clone, Copy)]
struct Greeting {
    start: u64,
    /// One past the last active frame.
    last_active_end: u64,
    voiced: u64,
    words: u32,
    /// Active frames of the word in progress.
    word_frames: u64,
}

impl Amd {
    /// A classifier with `cfg`.
    pub fn new(cfg: AmdConfig) -> Self {
        let vad_cfg = VadConfig {
            sample_rate: cfg.sample_rate,
            ..cfg.vad.clone()
        };
        let vad = Vad::new(vad_cfg);
        let frame_len = vad.config().frame_len() as u64;
        let frame_ns =
            (frame_len as u128 * 1_000_000_000 / u128::from(cfg.sample_rate.max(1))).max(1);
        let frames =
            |d: Duration| (d.as_nanos().div_ceil(frame_ns)).min(u128::from(u64::MAX)) as u64;
        let beep = cfg.detect_beep.then(|| {
            BeepDetector::new(BeepConfig {
                sample_rate: cfg.sample_rate,
                ..cfg.beep.clone()
            })
        });
        Self {
            vad,
            beep,
            initial_silence_f: frames(cfg.initial_silence),
            machine_greeting_f: frames(cfg.machine_greeting),
            likely_greeting_f: frames(cfg.likely_human_greeting),
            likely_silence_f: frames(cfg.likely_human_silence).max(1),
            machine_after_pause_f: frames(cfg.machine_greeting_after_pause),
            hello_pause_f: frames(cfg.hello_pause).max(1),
            after_silence_f: frames(cfg.after_greeting_silence).max(1),
            short_greeting_f: frames(cfg.short_greeting),
            short_silence_f: frames(cfg.short_greeting_silence).max(1),
            min_word_f: frames(cfg.min_word).max(1),
            between_words_f: frames(cfg.between_words_silence).max(1),
            total_f: frames(cfg.total_analysis),
            samples: 0,
            acc: 0,
            acc_n: 0,
            frame_len: frame_len as usize,
            window: vec![0.0; 2 * frame_len as usize],
            lags: (
                (cfg.sample_rate / 400).max(1) as usize,
                (cfg.sample_rate / 80).max(1) as usize,
            ),
            line_heard: false,
            frames: 0,
            active_run: 0,
            silence_run: 0,
            greeting: None,
            likely_human: None,
            paused_after_hello: false,
            decision: None,
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &AmdConfig {
        &self.cfg
    }

    /// Feeds PCM samples. Returns the decision on the call that reaches it
    /// (exactly once); later input is ignored.
    pub fn push(&mut self, samples: &[i16]) -> Option<AmdDecision> {
        if self.decision.is_some() {
            return None;
        }
        for &s in samples {
            if let Some(d) = self.push_sample(s) {
                return Some(d);
            }
        }
        None
    }

    /// Feeds μ-law bytes; see [`Amd::push`].
    pub fn push_ulaw(&mut self, bytes: &[u8]) -> Option<AmdDecision> {
        if self.decision.is_some() {
            return None;
        }
        for &b in bytes {
            if let Some(d) = self.push_sample(ulaw::decode_sample(b)) {
                return Some(d);
            }
        }
        None
    }

    /// Ends the analysis at `elapsed` since answer: audio not received up to
    /// then counts as silence. Returns the decision (the earlier one if
    /// already decided, Unknown if no rule fires).
    pub fn finish(&mut self, elapsed: Duration) -> AmdDecision {
        if let Some(d) = self.decision {
            return d;
        }
        // Complete the partial frame, then feed silent frames up to
        // `elapsed` (bounded: `total_analysis` always decides).
        let rate = u128::from(self.cfg.sample_rate.max(1));
        let target = (elapsed.as_nanos() * rate / 1_000_000_000).min(u128::from(u64::MAX)) as u64;
        while self.samples < target && self.decision.is_none() {
            if let Some(d) = self.push_sample(0) {
                return d;
            }
        }
        let d = AmdDecision {
            verdict: Verdict::Unknown,
            reason: Reason::Finished,
            at: elapsed,
        };
        self.decision = Some(d);
        d
    }

    /// The decision, once reached.
    pub fn decision(&self) -> Option<AmdDecision> {
        self.decision
    }

    /// When a person became likely (a greeting shorter than
    /// `likely_human_greeting` followed by `likely_human_silence`), before
    /// or without a decision: the agent may start talking then, and must
    /// stop if the decision turns out [`Verdict::Machine`]. Once set it
    /// stays set (until [`Amd::reset`]).
    pub fn likely_human(&self) -> Option<AmdDecision> {
        self.likely_human
    }

    /// Time covered by the samples pushed so far.
    pub fn elapsed(&self) -> Duration {
        sample_to_time(self.samples, self.cfg.sample_rate)
    }

    /// Back to the state at answer.
    pub fn reset(&mut self) {
        *self = Self::new(self.cfg.clone());
    }

    #[inline]
    fn push_sample(&mut self, s: i16) -> Option<AmdDecision> {
        self.samples += 1;
        let mut beep = false;
        if let Some(b) = &mut self.beep {
            b.push_sample(f32::from(s));
            while let Some(e) = b.poll_event() {
                beep |= matches!(e, BeepEvent::Detected { .. });
            }
        }
        if beep {
            return self.decide(Verdict::Machine, Reason::Beep);
        }
        let v = i64::from(s);
        self.acc += (v * v) as u64;
        self.window[self.frame_len + self.acc_n] = f32::from(s);
        self.acc_n += 1;
        if self.acc_n < self.frame_len {
            return None;
        }
        let level = mean_square_dbfs(self.acc as f64 / self.frame_len as f64);
        (self.acc, self.acc_n) = (0, 0);
        // Digital silence on a line that had noise is a gap (lost
        // packets): silent, but it must not drag the noise floor down, or
        // the noise coming back would look like speech.
        let gap = level <= GAP_DBFS && self.line_heard;
        self.line_heard |= level > GAP_DBFS;
        let active = !gap && self.frame_active(level);
        self.window.copy_within(self.frame_len.., 0);
        self.on_frame(active)
    }

    /// Whether the frame just completed (the second half of `window`), of
    /// `level` dBFS, is speech: loud enough for the energy VAD, or voiced
    /// and a little above the noise floor.
    fn frame_active(&mut self, level: f32) -> bool {
        self.vad.push_frame_level(level);
        if self.vad.last_frame_active() {
            return true;
        }
        let min = self.vad.config().min_speech_dbfs;
        if self.cfg.voicing_threshold > 1.0 || level <= min {
            return false;
        }
        let p = periodicity(&self.window, self.lags);
        // A steady tone (SIT, a long beep) lifts the energy VAD's floor to
        // itself; it is still sound.
        let over_floor = level > self.vad.noise_floor_dbfs() + self.cfg.voiced_margin_db;
        p >= TONE_PERIODICITY || (over_floor && p >= self.cfg.voicing_threshold)
    }

    fn decide(&mut self, verdict: Verdict, reason: Reason) -> Option<AmdDecision> {
        let d = AmdDecision {
            verdict,
            reason,
            at: self.elapsed(),
        };
        self.decision = Some(d);
        Some(d)
    }

    fn on_frame(&mut self, active: bool) -> Option<AmdDecision> {
        let frame = self.frames;
        self.frames += 1;
        if active {
            self.active_run += 1;
            self.silence_run = 0;
        } else {
            self.silence_run += 1;
            self.active_run = 0;
        }
        let start_frames = u64::from(self.cfg.vad.start_frames.max(1));
        match &mut self.greeting {
            None => {
                if self.active_run >= start_frames {
                    let start = frame + 1 - self.active_run;
                    self.greeting = Some(Greeting {
                        start,
                        last_active_end: frame + 1,
                        voiced: self.active_run,
                        words: 0,
                        word_frames: self.active_run,
                    });
                } else if self.frames >= self.initial_silence_f {
                    return self.decide(self.cfg.initial_silence_verdict, Reason::InitialSilence);
                }
            }
            Some(g) => {
                if active {
                    g.voiced += 1;
                    g.word_frames += 1;
                    g.last_active_end = frame + 1;
                } else if self.silence_run == self.between_words_f {
                    if g.word_frames >= self.min_word_f {
                        g.words += 1;
                    }
                    g.word_frames = 0;
                }
                let words = g.words + u32::from(g.word_frames >= self.min_word_f);
                let span = g.last_active_end - g.start;
                let voiced = g.voiced;
                let machine_span = if self.paused_after_hello {
                    self.machine_after_pause_f
                } else {
                    self.machine_greeting_f
                };
                if span >= machine_span {
                    return self.decide(Verdict::Machine, Reason::LongGreeting);
                }
                if words >= self.cfg.max_words {
                    return self.decide(Verdict::Machine, Reason::MaxWords);
                }
                let needed = if span < self.short_greeting_f {
                    self.short_silence_f.min(self.after_silence_f)
                } else {
                    self.after_silence_f
                };
                if voiced >= self.min_word_f {
                    if self.likely_human.is_none()
                        && span < self.likely_greeting_f
                        && self.silence_run >= self.likely_silence_f
                    {
                        self.likely_human = Some(AmdDecision {
                            verdict: Verdict::Human,
                            reason: Reason::LikelyHuman,
                            at: self.elapsed(),
                        });
                    }
                    self.paused_after_hello |=
                        span < self.short_greeting_f && self.silence_run >= self.hello_pause_f;
                }
                if self.silence_run >= needed {
                    if voiced >= self.min_word_f {
                        return self.decide(Verdict::Human, Reason::ShortGreeting);
                    }
                    // Too little to be a word: a click or a noise burst.
                    self.greeting = None;
                }
            }
        }
        if self.frames >= self.total_f {
            return self.decide(Verdict::Unknown, Reason::Timeout);
        }
        None
    }
}

/// The highest normalised autocorrelation of `x` over lags `lo..=hi`
/// (clamped to half its length): near 1 for voiced speech and tones, near
/// 0 for noise.
fn periodicity(x: &[f32], (lo, hi): (usize, usize)) -> f32 {
    let mut best = 0.0f32;
    for k in lo..=hi.min(x.len() / 2) {
        let (mut xy, mut xx, mut yy) = (0.0f32, 0.0f32, 0.0f32);
        for (a, b) in x[k..].iter().zip(x) {
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        if xx > 0.0 && yy > 0.0 {
            best = best.max(xy / (xx * yy).sqrt());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Synth, amd_corpus};
    use proptest::prelude::*;

    fn run(x: &[i16]) -> AmdDecision {
        let mut amd = Amd::new(AmdConfig::default());
        for f in x.chunks(160) {
            if let Some(d) = amd.push(f) {
                return d;
            }
        }
        amd.finish(amd.elapsed())
    }

    #[test]
    fn short_hello_then_silence_is_human_soon_after_the_pause() {
        let x = Synth::new(3).human_hello(500.0, 6000.0, -18.0);
        let d = run(&x);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Human, Reason::ShortGreeting)
        );
        assert!(d.at < Duration::from_millis(2500), "{:?}", d.at);
    }

    #[test]
    fn long_greeting_is_machine_at_the_greeting_threshold() {
        let x = Synth::new(4).voicemail_greeting(300.0, 5000.0, 300.0, None, 8000.0, -18.0);
        let d = run(&x);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Machine, Reason::LongGreeting)
        );
        // 300 ms lead + 2.4 s of greeting.
        assert!(
            d.at >= Duration::from_millis(2700) && d.at < Duration::from_millis(2900),
            "{:?}",
            d.at
        );
    }

    #[test]
    fn a_beep_alone_is_machine() {
        let mut s = Synth::new(5);
        let mut x = s.silence(4000);
        x.extend(s.beep(1000.0, -12.0, 400.0));
        x.extend(s.silence(8000));
        let d = run(&x);
        assert_eq!((d.verdict, d.reason), (Verdict::Machine, Reason::Beep));
        // Confirmed 120 ms into the beep, which starts at 500 ms.
        assert!(
            d.at >= Duration::from_millis(620) && d.at <= Duration::from_millis(660),
            "{:?}",
            d.at
        );
    }

    #[test]
    fn silence_gives_unknown_after_initial_silence() {
        let mut s = Synth::new(6);
        let mut x = s.silence(8000 * 6);
        s.add_noise(&mut x, -55.0);
        let d = run(&x);
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Unknown, Reason::InitialSilence)
        );
        assert_eq!(d.at, Duration::from_millis(3000));
        let strict = AmdConfig {
            initial_silence_verdict: Verdict::Machine,
            ..AmdConfig::default()
        };
        let mut amd = Amd::new(strict);
        assert_eq!(amd.push(&x).map(|d| d.verdict), Some(Verdict::Machine));
    }

    #[test]
    fn a_click_is_not_a_greeting() {
        let mut s = Synth::new(7);
        let mut x = s.silence(4000);
        x.extend(s.tone(800.0, -10.0, 480)); // 60 ms
        x.extend(s.silence(8000 * 4));
        let d = run(&x);
        assert_eq!(d.verdict, Verdict::Unknown);
    }

    #[test]
    fn finish_counts_missing_audio_as_silence() {
        // GIVEN a hello, and the stream stops right after it
        let x = Synth::new(8).human_hello(300.0, 0.0, -18.0);
        let mut amd = Amd::new(AmdConfig::default());
        assert_eq!(amd.push(&x), None);
        // WHEN finish is called 3 s after answer
        let d = amd.finish(Duration::from_secs(3));
        // THEN the pause after the hello makes it human, dated in the gap
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Human, Reason::ShortGreeting)
        );
        assert!(d.at < Duration::from_secs(3));
        // And a second finish or push does not change it.
        assert_eq!(amd.finish(Duration::from_secs(9)), d);
        assert_eq!(amd.push(&x), None);
        // With no audio at all and a short elapsed: Unknown, Finished.
        let mut empty = Amd::new(AmdConfig::default());
        let e = empty.finish(Duration::from_millis(500));
        assert_eq!(
            (e.verdict, e.reason, e.at),
            (
                Verdict::Unknown,
                Reason::Finished,
                Duration::from_millis(500)
            )
        );
        // A huge elapsed is bounded by total analysis.
        let mut huge = Amd::new(AmdConfig::default());
        assert_eq!(huge.finish(Duration::MAX).reason, Reason::InitialSilence);
    }

    #[test]
    fn ulaw_and_pcm_agree() {
        let x = Synth::new(9).voicemail_greeting(
            500.0,
            4000.0,
            300.0,
            Some((1400.0, 300.0)),
            8000.0,
            -20.0,
        );
        let pcm = run(&ulaw::decode(&ulaw::encode(&x)));
        let mut amd = Amd::new(AmdConfig::default());
        let via = amd.push_ulaw(&ulaw::encode(&x)).unwrap();
        assert_eq!(pcm, via);
        amd.reset();
        assert_eq!(amd.decision(), None);
        assert_eq!(amd.elapsed(), Duration::ZERO);
    }

    /// Percentile `p` of sorted `v`.
    fn pct(v: &[Duration], p: f64) -> Duration {
        v[((v.len() - 1) as f64 * p).round() as usize]
    }

    #[test]
    fn widened_corpus_keeps_people_and_answers_them_within_a_second() {
        // GIVEN 400 labelled clips (200 human, 200 machine) of varied
        // voices and lines (noise to 12 dB SNR, echo, lost packets, μ-law),
        // from a seed the thresholds were not tuned on (tuned on seed 1)
        let clips = amd_corpus(2024, 400);
        let (mut humans_as_machine, mut machines_caught) = (0, 0);
        let mut human_start = Vec::new();
        for c in &clips {
            let mut amd = Amd::new(AmdConfig::default());
            let d = c
                .samples
                .chunks(160)
                .find_map(|f| amd.push(f))
                .unwrap_or_else(|| amd.finish(amd.elapsed()));
            let onset = sample_to_time(c.onset as u64, 8000);
            match c.label {
                Verdict::Human => {
                    humans_as_machine += usize::from(d.verdict == Verdict::Machine);
                    // The agent may start at the first sign of a person.
                    let start = amd.likely_human().map_or(d.at, |l| l.at.min(d.at));
                    human_start.push(start.saturating_sub(onset));
                }
                _ => machines_caught += usize::from(d.verdict == Verdict::Machine),
            }
        }
        human_start.sort_unstable();
        // THEN at most 1 % of people are called machines (hung up on)
        // (the old rules: 17 of 200 on this kind of corpus),
        assert!(
            humans_as_machine <= 2,
            "humans as machine: {humans_as_machine}/200"
        );
        // at least 98 % of machines are caught,
        assert!(
            machines_caught >= 196,
            "machines caught: {machines_caught}/200"
        );
        // and half the people hear the agent within 1 s of their first
        // sound (the old rules: 1.27 s), 90 % within 1.5 s.
        let (p50, p90) = (pct(&human_start, 0.5), pct(&human_start, 0.9));
        assert!(p50 <= Duration::from_millis(1000), "human p50 {p50:?}");
        assert!(p90 <= Duration::from_millis(1500), "human p90 {p90:?}");
    }

    #[test]
    fn a_hello_and_a_short_pause_make_a_person_likely_before_the_verdict() {
        // GIVEN "Hello?" (under 1 s) and then silence
        let x = Synth::new(3).human_hello(500.0, 6000.0, -18.0);
        let mut amd = Amd::new(AmdConfig::default());
        let mut likely_before_decision = None;
        let d = x
            .chunks(160)
            .find_map(|f| {
                let d = amd.push(f);
                if d.is_none() && likely_before_decision.is_none() {
                    likely_before_decision = amd.likely_human();
                }
                d
            })
            .unwrap();
        // THEN a person is likely 160 ms into the pause, and the verdict
        // (human) follows later, at 700 ms of silence
        let likely = likely_before_decision.expect("likely before the verdict");
        assert_eq!(
            (likely.verdict, likely.reason),
            (Verdict::Human, Reason::LikelyHuman)
        );
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Human, Reason::ShortGreeting)
        );
        assert_eq!(d.at - likely.at, Duration::from_millis(540));
        assert_eq!(amd.likely_human(), Some(likely));
        amd.reset();
        assert_eq!(amd.likely_human(), None);
    }

    /// A short phrase 300 ms in, `pause_ms` of silence and a greeting that
    /// goes on: checks that a person became likely (the agent started) and
    /// that the verdict is still a long-greeting machine; returns when it
    /// came, from the phrase's start.
    fn machine_after_phrase_and_pause(pause_ms: usize) -> Duration {
        let mut s = Synth::new(12);
        let mut x = s.silence(2400);
        x.extend(s.word(2, 150.0, -18.0));
        x.extend(s.silence(pause_ms * 8));
        x.extend(s.speech(8000 * 4, -18.0));
        let mut amd = Amd::new(AmdConfig::default());
        let d = x.chunks(160).find_map(|f| amd.push(f)).unwrap();
        assert!(amd.likely_human().is_some());
        assert_eq!(
            (d.verdict, d.reason),
            (Verdict::Machine, Reason::LongGreeting)
        );
        d.at - Duration::from_millis(300)
    }

    #[test]
    fn a_greeting_that_goes_on_after_the_pause_is_still_a_machine() {
        // GIVEN a short phrase, a 400 ms pause (a bare hello's), and a
        // greeting that goes on, THEN the machine verdict comes once the
        // speech spans `machine_greeting_after_pause`
        let at = machine_after_phrase_and_pause(400).as_millis();
        assert!((3100..3300).contains(&at), "{at} ms");
    }

    #[test]
    fn a_breath_in_a_greeting_starts_the_agent_but_does_not_delay_the_verdict() {
        // GIVEN a short phrase, a 200 ms breath (shorter than a bare
        // hello's pause), and a greeting that goes on, THEN the agent
        // started (a false start) and the machine verdict still comes at
        // `machine_greeting`
        let at = machine_after_phrase_and_pause(200).as_millis();
        assert!((2400..2600).contains(&at), "{at} ms");
    }

    #[test]
    fn lost_packets_in_line_noise_are_not_speech() {
        // GIVEN a hello on a noisy line whose pause loses packets (digital
        // silence, then the noise again)
        let mut s = Synth::new(13);
        let mut x = s.human_hello(400.0, 6000.0, -18.0);
        s.add_noise(&mut x, -40.0);
        for gap in [16000..16480, 24000..24160, 32000..32320] {
            x[gap].fill(0);
        }
        // THEN it is a person, as without the gaps
        let d = run(&x);
        assert_eq!(d.verdict, Verdict::Human);
    }

    #[test]
    fn voicing_keeps_speech_in_noise_together() {
        // GIVEN machine greetings on varied lines, some 12 dB over noise
        let clips = amd_corpus(3, 200);
        let caught = |cfg: &AmdConfig| {
            clips
                .iter()
                .filter(|c| c.label == Verdict::Machine)
                .filter(|c| {
                    let mut amd = Amd::new(cfg.clone());
                    let d = c.samples.chunks(160).find_map(|f| amd.push(f));
                    d.map(|d| d.verdict) == Some(Verdict::Machine)
                })
                .count()
        };
        // THEN voiced frames bridge their quiet syllables: more are caught
        // than with energy alone, where they break into "pauses"
        let energy_only = AmdConfig {
            voicing_threshold: 2.0,
            ..AmdConfig::default()
        };
        let (with, without) = (caught(&AmdConfig::default()), caught(&energy_only));
        assert!(with > without, "{with} vs {without} of 100");
    }

    #[test]
    fn carrier_prompts_after_sit_tones_are_machines() {
        // GIVEN the carrier prompts of a corpus, half after SIT tones (a
        // steady tone lifts the energy VAD's floor to itself)
        let clips: Vec<_> = amd_corpus(5, 400)
            .into_iter()
            .filter(|c| c.scenario == "carrier-prompt-en")
            .collect();
        // THEN all are machines: the tones count as sound, not as a
        // short greeting and a pause
        for c in &clips {
            let d = run(&c.samples);
            assert_eq!(d.verdict, Verdict::Machine, "{} at {:?}", c.line, d.at);
        }
        assert_eq!(clips.len(), 25);
    }

    proptest! {
        #[test]
        fn never_panics_and_decides_at_most_once(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..2000), 0..30),
            elapsed_ms in 0u64..20_000,
        ) {
            let mut amd = Amd::new(AmdConfig::default());
            let mut decisions = 0;
            for c in &chunks {
                decisions += usize::from(amd.push(c).is_some());
            }
            prop_assert!(decisions <= 1);
            let d = amd.finish(Duration::from_millis(elapsed_ms));
            prop_assert_eq!(Some(d), amd.decision());
        }
    }
}
