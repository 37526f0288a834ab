//! Energy voice activity detection over 20 ms frames.
//!
//! Each frame's level (dBFS) is compared with an adaptive noise floor. The
//! floor starts at the first frame's level (capped), follows the level down
//! quickly and creeps up slowly, so speech does not lift it much; and when
//! the level has stayed within `stationary_range_db` for
//! `stationary_frames` frames (steady noise, not speech, whose level
//! swings with every syllable), the floor jumps up to that level at once.
//! A frame is *active* when it is `margin_db` above the floor and above an
//! absolute minimum. Speech starts after `start_frames` consecutive
//! active frames and ends after `hangover_frames` consecutive inactive ones,
//! which bridges the short gaps between words.
//!
//! Input may be PCM ([`Vad::push_pcm`]) or μ-law ([`Vad::push_ulaw`]), in
//! chunks of any size: the VAD cuts its own frames, so frame indices map to
//! time as `index * frame_len / sample_rate`. Events are queued and read with
//! [`Vad::poll_event`] (sans-IO style).

use std::collections::VecDeque;
use std::time::Duration;

use crate::ulaw;

/// Tuning of the [`Vad`]. The defaults suit 8 kHz telephone audio.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Sample rate of the input in Hz. Default 8000.
    pub sample_rate: u32,
    /// Frame length in milliseconds. Default 20.
    pub frame_ms: u32,
    /// How far above the noise floor a frame must be to count as active, in
    /// dB. Default 9.
    pub margin_db: f32,
    /// Frames quieter than this (dBFS) are never active. Default −50.
    pub min_speech_dbfs: f32,
    /// Consecutive active frames that start speech. Default 2 (40 ms).
    pub start_frames: u32,
    /// Consecutive inactive frames that end speech. Default 10 (200 ms).
    pub hangover_frames: u32,
    /// Noise floor rise, dB per second. Default 2.
    pub floor_rise_db_per_s: f32,
    /// Upper bound of the initial noise floor, dBFS: the floor starts at the
    /// first frame's level or this, whichever is lower. Default −35.
    pub initial_floor_dbfs: f32,
    /// Frames of steady level after which the floor jumps to it (at most
    /// 64). Default 12 (240 ms).
    pub stationary_frames: u32,
    /// Largest level range (max − min, dB) that still counts as steady.
    /// Default 3.
    pub stationary_range_db: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            frame_ms: 20,
            margin_db: 9.0,
            min_speech_dbfs: -50.0,
            start_frames: 2,
            hangover_frames: 10,
            floor_rise_db_per_s: 2.0,
            initial_floor_dbfs: -35.0,
            stationary_frames: 12,
            stationary_range_db: 3.0,
        }
    }
}

impl VadConfig {
    /// Samples per frame (at least 1).
    pub fn frame_len(&self) -> usize {
        ((u64::from(self.sample_rate) * u64::from(self.frame_ms) / 1000) as usize).max(1)
    }

    /// Duration of one frame.
    pub fn frame_duration(&self) -> Duration {
        Duration::from_millis(u64::from(self.frame_ms))
    }
}

/// A speech boundary, in frame indices (frame `i` covers samples
/// `i * frame_len .. (i + 1) * frame_len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at the first active frame of the run that started it.
    SpeechStart {
        /// Index of that first active frame.
        frame: u64,
    },
    /// Speech ended at the first inactive frame of the hangover run.
    SpeechEnd {
        /// Index of that first inactive frame.
        frame: u64,
    },
}

impl VadEvent {
    /// The frame index of this boundary.
    pub fn frame(&self) -> u64 {
        match *self {
            VadEvent::SpeechStart { frame } | VadEvent::SpeechEnd { frame } => frame,
        }
    }
}

/// Level in dBFS of a mean square (floored at −100).
pub(crate) fn mean_square_dbfs(mean_square: f64) -> f32 {
    if mean_square <= 0.0 {
        return -100.0;
    }
    ((10.0 * (mean_square / (32768.0 * 32768.0)).log10()) as f32).max(-100.0)
}

/// Streaming energy VAD; see the module doc.
#[derive(Debug, Clone)]
pub struct Vad {
    cfg: VadConfig,
    frame_len: usize,
    rise_per_frame: f32,
    /// Sum of squares of the current partial frame.
    acc: u64,
    /// Samples in the current partial frame; invariant `< frame_len`.
    acc_n: usize,
    /// Index of the next frame to complete.
    frame: u64,
    floor: f32,
    level: f32,
    speaking: bool,
    /// Consecutive frames disagreeing with the current state.
    run: u32,
    /// Index of the first frame of that run.
    run_start: u64,
    last_active: bool,
    /// Ring of the last `stationary_frames` frame levels.
    recent: [f32; MAX_STATIONARY],
    events: VecDeque<VadEvent>,
}

/// Capacity of the steady-level ring.
const MAX_STATIONARY: usize = 64;

impl Vad {
    /// A VAD with `cfg`.
    pub fn new(cfg: VadConfig) -> Self {
        let frame_len = cfg.frame_len();
        let rise_per_frame = cfg.floor_rise_db_per_s.max(0.0) * cfg.frame_ms as f32 / 1000.0;
        let floor = cfg.initial_floor_dbfs;
        Self {
            cfg,
            frame_len,
            rise_per_frame,
            acc: 0,
            acc_n: 0,
            frame: 0,
            floor,
            level: -100.0,
            speaking: false,
            run: 0,
            run_start: 0,
            last_active: false,
            recent: [0.0; MAX_STATIONARY],
            events: VecDeque::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &VadConfig {
        &self.cfg
    }

    /// Feeds PCM samples (any chunk size).
    pub fn push_pcm(&mut self, samples: &[i16]) {
        for &s in samples {
            self.push_sample(s);
        }
    }

    /// Feeds μ-law bytes (any chunk size).
    pub fn push_ulaw(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push_sample(ulaw::decode_sample(b));
        }
    }

    /// Feeds one sample; when it completes a frame, returns whether that
    /// frame was active.
    #[inline]
    pub(crate) fn push_sample(&mut self, s: i16) -> Option<bool> {
        let v = i64::from(s);
        self.acc += (v * v) as u64;
        self.acc_n += 1;
        if self.acc_n == self.frame_len {
            let ms = self.acc as f64 / self.frame_len as f64;
            self.acc = 0;
            self.acc_n = 0;
            self.push_frame_level(mean_square_dbfs(ms));
            return Some(self.last_active);
        }
        None
    }

    /// Feeds the level of one whole frame, in dBFS (for callers that already
    /// measured it).
    pub fn push_frame_level(&mut self, level_dbfs: f32) {
        let level = if level_dbfs.is_nan() {
            -100.0
        } else {
            level_dbfs.clamp(-100.0, 10.0)
        };
        self.level = level;
        let index = self.frame;
        self.frame += 1;
        // Noise floor: learned from the first frame, fast down, slow up...
        if index == 0 {
            self.floor = level.min(self.cfg.initial_floor_dbfs);
        } else if level < self.floor {
            self.floor += (level - self.floor) * 0.5;
        } else {
            self.floor += (level - self.floor).min(self.rise_per_frame);
        }
        // ...and straight up to a level that has stayed steady.
        let window = (self.cfg.stationary_frames as usize).clamp(1, MAX_STATIONARY);
        self.recent[(index % window as u64) as usize] = level;
        if index + 1 >= window as u64 {
            let recent = &self.recent[..window];
            let lo = recent.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = recent.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if hi - lo <= self.cfg.stationary_range_db && lo > self.floor {
                self.floor = lo;
            }
        }
        let active = level > (self.floor + self.cfg.margin_db).max(self.cfg.min_speech_dbfs);
        self.last_active = active;

        if active != self.speaking {
            if self.run == 0 {
                self.run_start = index;
            }
            self.run += 1;
            let needed = if self.speaking {
                self.cfg.hangover_frames
            } else {
                self.cfg.start_frames
            };
            if self.run >= needed.max(1) {
                self.speaking = active;
                self.run = 0;
                let frame = self.run_start;
                self.events.push_back(if active {
                    VadEvent::SpeechStart { frame }
                } else {
                    VadEvent::SpeechEnd { frame }
                });
            }
        } else {
            self.run = 0;
        }
    }

    /// Next queued event, oldest first.
    pub fn poll_event(&mut self) -> Option<VadEvent> {
        self.events.pop_front()
    }

    /// Whether the VAD is currently inside speech (after start, before the
    /// hangover expired).
    pub fn is_speech(&self) -> bool {
        self.speaking
    }

    /// Whether the last whole frame was above threshold (raw, no smoothing).
    pub fn last_frame_active(&self) -> bool {
        self.last_active
    }

    /// Whole frames processed so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// Level of the last whole frame, dBFS.
    pub fn last_level_dbfs(&self) -> f32 {
        self.level
    }

    /// Current noise floor estimate, dBFS.
    pub fn noise_floor_dbfs(&self) -> f32 {
        self.floor
    }

    /// Back to the initial state, dropping queued events.
    pub fn reset(&mut self) {
        *self = Self::new(self.cfg.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Synth;
    use proptest::prelude::*;

    fn events(vad: &mut Vad) -> Vec<VadEvent> {
        std::iter::from_fn(|| vad.poll_event()).collect()
    }

    #[test]
    fn speech_in_noise_gives_start_and_end_at_the_right_frames() {
        // GIVEN 1 s of -60 dBFS noise, 2 s of speech at -18 dBFS, 1 s noise
        let mut s = Synth::new(7);
        let mut x = s.noise(8000, -60.0);
        x.extend(s.speech(16000, -18.0));
        x.extend(s.noise(8000, -60.0));
        let mut vad = Vad::new(VadConfig::default());
        // WHEN fed in odd-sized chunks
        for c in x.chunks(97) {
            vad.push_pcm(c);
        }
        // THEN one speech segment from frame ~50 to frame ~150
        let ev = events(&mut vad);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(
            matches!(ev[0], VadEvent::SpeechStart { frame: 50..=53 }),
            "{ev:?}"
        );
        assert!(
            matches!(ev[1], VadEvent::SpeechEnd { frame: 140..=151 }),
            "{ev:?}"
        );
        assert!(!vad.is_speech());
        assert_eq!(vad.frames(), 200);
    }

    #[test]
    fn a_steady_tone_is_learned_as_noise() {
        // A 2 s tone starts "speech", but its steady level becomes the floor
        // after 12 frames and speech ends after the hangover.
        let mut s = Synth::new(8);
        let mut x = s.silence(800);
        x.extend(s.tone(440.0, -12.0, 16000));
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&x);
        assert_eq!(
            events(&mut vad),
            vec![
                VadEvent::SpeechStart { frame: 5 },
                VadEvent::SpeechEnd { frame: 16 }
            ]
        );
        assert!((vad.noise_floor_dbfs() - (-12.0)).abs() < 0.5);
    }

    #[test]
    fn short_gaps_are_bridged_by_the_hangover() {
        let mut s = Synth::new(1);
        let mut x = s.tone(300.0, -20.0, 1600);
        x.extend(s.silence(800)); // 100 ms gap < 200 ms hangover
        x.extend(s.tone(300.0, -20.0, 1600));
        x.extend(s.silence(4000));
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&x);
        assert_eq!(
            events(&mut vad),
            vec![
                VadEvent::SpeechStart { frame: 0 },
                VadEvent::SpeechEnd { frame: 25 }
            ]
        );
    }

    #[test]
    fn a_single_click_frame_does_not_start_speech() {
        let mut s = Synth::new(1);
        let mut x = s.silence(1600);
        x.extend(s.tone(1000.0, -6.0, 160));
        x.extend(s.silence(1600));
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&x);
        assert_eq!(events(&mut vad), vec![]);
    }

    #[test]
    fn loud_steady_noise_is_learned_as_floor() {
        // GIVEN -30 dBFS noise from the first sample (louder than min speech)
        let mut s = Synth::new(3);
        let x = s.noise(8000 * 3, -30.0);
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&x);
        // THEN it is never speech, and the floor sits at its level
        assert_eq!(events(&mut vad), vec![]);
        assert!(
            (vad.noise_floor_dbfs() - (-30.0)).abs() < 2.0,
            "{}",
            vad.noise_floor_dbfs()
        );
        // AND speech 15 dB above that noise is still detected.
        let mut y = s.speech(8000, -15.0);
        s.add_noise(&mut y, -30.0);
        vad.push_pcm(&y);
        assert!(matches!(
            vad.poll_event(),
            Some(VadEvent::SpeechStart { .. })
        ));
    }

    #[test]
    fn noise_that_starts_after_digital_silence_is_learned_within_half_a_second() {
        let mut s = Synth::new(4);
        let mut x = s.silence(1600);
        x.extend(s.comfort_noise(8000 * 2, -35.0));
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&x);
        let ev = events(&mut vad);
        // The onset looks like speech, but it is over within ~0.5 s.
        assert!(ev.len() <= 2, "{ev:?}");
        if let [
            VadEvent::SpeechStart { frame: a },
            VadEvent::SpeechEnd { frame: b },
        ] = ev[..]
        {
            assert!(b - a <= 25, "{ev:?}");
        }
        assert!(!vad.is_speech());
    }

    #[test]
    fn ulaw_and_pcm_input_agree() {
        let mut s = Synth::new(9);
        let mut x = s.noise(4000, -55.0);
        x.extend(s.speech(8000, -18.0));
        x.extend(s.noise(8000, -55.0));
        let coded = ulaw::encode(&x);
        let mut a = Vad::new(VadConfig::default());
        let mut b = Vad::new(VadConfig::default());
        a.push_pcm(&ulaw::decode(&coded));
        b.push_ulaw(&coded);
        let ea = events(&mut a);
        assert!(!ea.is_empty());
        assert_eq!(ea, events(&mut b));
        assert_eq!(ea[0].frame(), 25);
        // ulaw silence (0xFF and 0x7F) is silence.
        let mut c = Vad::new(VadConfig::default());
        c.push_ulaw(&[0x7F; 8000]);
        c.push_ulaw(&[0xFF; 8000]);
        assert_eq!(events(&mut c), vec![]);
    }

    #[test]
    fn reset_returns_to_start() {
        let mut vad = Vad::new(VadConfig::default());
        vad.push_pcm(&Synth::new(2).tone(500.0, -10.0, 2000));
        assert!(vad.is_speech());
        vad.reset();
        assert!(!vad.is_speech());
        assert_eq!(vad.frames(), 0);
        assert_eq!(vad.poll_event(), None);
    }

    proptest! {
        #[test]
        fn events_alternate_and_never_panic(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..400), 0..20),
            levels in proptest::collection::vec(-200.0f32..50.0, 0..20),
        ) {
            let mut vad = Vad::new(VadConfig::default());
            for c in &chunks {
                vad.push_pcm(c);
            }
            for l in levels {
                vad.push_frame_level(l);
            }
            vad.push_frame_level(f32::NAN);
            let ev = events(&mut vad);
            for (i, e) in ev.iter().enumerate() {
                let is_start = matches!(e, VadEvent::SpeechStart { .. });
                prop_assert_eq!(is_start, i % 2 == 0);
            }
            prop_assert!(ev.windows(2).all(|w| w[0].frame() < w[1].frame()));
        }
    }
}
