//! Answering-machine beep detection: a sustained, pure single tone.
//!
//! The input (DC-blocked) is cut into 10 ms blocks. For each block a
//! second-order predictor `x[n] = a x[n-1] - x[n-2]`, which a pure sinusoid
//! satisfies exactly with `a = 2 cos ω`, is fitted by least squares. Its
//! coefficient gives the frequency; its residual gives the *purity*
//! (1 for a pure tone, about 0 for white noise). A Goertzel filter at the
//! estimated frequency then checks that this one frequency holds most of the
//! block's energy (which rejects low-passed noise, which is predictable too,
//! and dual tones such as ringback or busy).
//!
//! A block is *tonal* when it is loud enough, pure enough, and its frequency
//! is in range. A run of tonal blocks whose frequency stays within
//! `max_drift_hz` of the run's mean, lasting `min_duration_ms`, is a beep:
//! [`BeepEvent::Detected`] is queued at once, and [`BeepEvent::Ended`], with
//! the sample where the tone stopped, when the run breaks (that is when a
//! voicemail message should start). A rare failed block inside a run is
//! tolerated. Times are sample indices since the start or the last reset.

use std::collections::VecDeque;
use std::time::Duration;

use crate::goertzel::Goertzel;
use crate::ulaw;
use crate::vad::mean_square_dbfs;

/// Tuning of the [`BeepDetector`].
#[derive(Debug, Clone, PartialEq)]
pub struct BeepConfig {
    /// Input sample rate, Hz. Default 8000.
    pub sample_rate: u32,
    /// Analysis block, ms. Default 10.
    pub block_ms: u32,
    /// Lowest beep frequency, Hz. Default 300.
    pub min_freq_hz: f32,
    /// Highest beep frequency, Hz. Default 2500.
    pub max_freq_hz: f32,
    /// Shortest beep, ms. Default 120.
    pub min_duration_ms: u32,
    /// Quietest beep, dBFS RMS. Default −45.
    pub min_level_dbfs: f32,
    /// Least purity (1 − normalised prediction residual) of a tonal block,
    /// 0–1. Default 0.9.
    pub min_purity: f32,
    /// Least share of block energy at the estimated frequency, 0–1.
    /// Default 0.75.
    pub min_tone_ratio: f32,
    /// Largest departure of a block's frequency from the run's mean, Hz.
    /// Default 10 (a beep is crystal-stable; voiced speech wanders).
    pub max_drift_hz: f32,
    /// Largest departure of a block's level from the run's mean, dB.
    /// Default 3 (a beep is steady; syllables and beating dual tones such
    /// as ringback are not).
    pub max_level_swing_db: f32,
}

impl Default for BeepConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            block_ms: 10,
            min_freq_hz: 300.0,
            max_freq_hz: 2500.0,
            min_duration_ms: 120,
            min_level_dbfs: -45.0,
            min_purity: 0.9,
            min_tone_ratio: 0.75,
            max_drift_hz: 10.0,
            max_level_swing_db: 3.0,
        }
    }
}

/// What the [`BeepDetector`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeepEvent {
    /// A tone has lasted `min_duration_ms`: a beep is playing.
    Detected {
        /// Sample where the tone began.
        start_sample: u64,
        /// Mean frequency so far, Hz.
        freq_hz: f32,
    },
    /// The beep stopped.
    Ended {
        /// Sample where the tone began.
        start_sample: u64,
        /// Sample just after the tone's last block (10 ms resolution).
        end_sample: u64,
        /// Mean frequency, Hz.
        freq_hz: f32,
    },
}

/// Converts a sample index to a time offset at `sample_rate` Hz.
pub fn sample_to_time(sample: u64, sample_rate: u32) -> Duration {
    let rate = u64::from(sample_rate.max(1));
    Duration::from_nanos(
        (u128::from(sample) * 1_000_000_000 / u128::from(rate)).min(u128::from(u64::MAX)) as u64,
    )
}

/// Features of one analysis block.
#[derive(Debug, Clone, Copy)]
struct BlockFeatures {
    level_dbfs: f32,
    purity: f32,
    freq_hz: f32,
    tone_ratio: f32,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    start_block: u64,
    last_tonal_block: u64,
    blocks: u32,
    freq_sum: f32,
    level_sum: f32,
    /// Failed blocks forgiven so far.
    misses: u32,
    confirmed: bool,
}

impl Run {
    fn mean(&self) -> f32 {
        self.freq_sum / self.blocks.max(1) as f32
    }

    fn mean_level(&self) -> f32 {
        self.level_sum / self.blocks.max(1) as f32
    }
}

/// Streaming beep detector; see the module doc.
#[derive(Debug, Clone)]
pub struct BeepDetector {
    cfg: BeepConfig,
    block_len: usize,
    min_blocks: u32,
    block: Vec<f32>,
    /// DC blocker state.
    dc_x1: f32,
    dc_y1: f32,
    /// The two samples before the current block (for the predictor).
    h1: f32,
    h2: f32,
    blocks: u64,
    run: Option<Run>,
    events: VecDeque<BeepEvent>,
}

impl Default for BeepDetector {
    fn default() -> Self {
        Self::new(BeepConfig::default())
    }
}

impl BeepDetector {
    /// A detector with `cfg`.
    pub fn new(cfg: BeepConfig) -> Self {
        let block_len =
            ((u64::from(cfg.sample_rate) * u64::from(cfg.block_ms) / 1000) as usize).max(8);
        let min_blocks = cfg.min_duration_ms.div_ceil(cfg.block_ms.max(1)).max(1);
        Self {
            block: Vec::with_capacity(block_len),
            block_len,
            min_blocks,
            dc_x1: 0.0,
            dc_y1: 0.0,
            h1: 0.0,
            h2: 0.0,
            blocks: 0,
            run: None,
            events: VecDeque::new(),
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &BeepConfig {
        &self.cfg
    }

    /// Feeds PCM samples (any chunk size).
    pub fn push(&mut self, samples: &[i16]) {
        for &s in samples {
            self.push_sample(f32::from(s));
        }
    }

    /// Feeds μ-law bytes (any chunk size).
    pub fn push_ulaw(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push_sample(f32::from(ulaw::decode_sample(b)));
        }
    }

    #[inline]
    pub(crate) fn push_sample(&mut self, x: f32) {
        // DC blocker: y = x - x1 + 0.995 y1.
        let y = x - self.dc_x1 + 0.995 * self.dc_y1;
        self.dc_x1 = x;
        self.dc_y1 = y;
        self.block.push(y);
        if self.block.len() == self.block_len {
            let f = self.features();
            self.block.clear();
            self.on_block(f);
        }
    }

    fn features(&mut self) -> BlockFeatures {
        let b = &self.block;
        let (mut energy, mut num, mut den, mut s) = (0f64, 0f64, 0f64, 0f64);
        let (mut x2, mut x1) = (f64::from(self.h2), f64::from(self.h1));
        for &x in b {
            let x0 = f64::from(x);
            energy += x0 * x0;
            num += x1 * (x0 + x2);
            den += x1 * x1;
            s += (x0 + x2) * (x0 + x2);
            x2 = x1;
            x1 = x0;
        }
        self.h2 = x2 as f32;
        self.h1 = x1 as f32;
        let n = b.len() as f64;
        let level_dbfs = mean_square_dbfs(energy / n);
        if den <= 0.0 || energy <= 0.0 {
            return BlockFeatures {
                level_dbfs,
                purity: 0.0,
                freq_hz: 0.0,
                tone_ratio: 0.0,
            };
        }
        let a = (num / den).clamp(-2.0, 2.0);
        let residual = (s - num * num / den).max(0.0);
        let purity = (1.0 - residual / (2.0 * energy)).clamp(0.0, 1.0) as f32;
        let rate = f64::from(self.cfg.sample_rate);
        let freq_hz = ((a / 2.0).acos() * rate / (2.0 * std::f64::consts::PI)) as f32;
        let g = Goertzel::new(freq_hz, self.cfg.sample_rate).power(b);
        let tone_ratio = (f64::from(g) / (n * energy / 2.0)) as f32;
        BlockFeatures {
            level_dbfs,
            purity,
            freq_hz,
            tone_ratio,
        }
    }

    fn is_tonal(&self, f: &BlockFeatures) -> bool {
        f.level_dbfs >= self.cfg.min_level_dbfs
            && f.purity >= self.cfg.min_purity
            && f.tone_ratio >= self.cfg.min_tone_ratio
            && (self.cfg.min_freq_hz..=self.cfg.max_freq_hz).contains(&f.freq_hz)
    }

    fn on_block(&mut self, f: BlockFeatures) {
        let block = self.blocks;
        self.blocks += 1;
        let tonal = self.is_tonal(&f);
        let fits = |run: &Run| {
            (f.freq_hz - run.mean()).abs() <= self.cfg.max_drift_hz
                && (f.level_dbfs - run.mean_level()).abs() <= self.cfg.max_level_swing_db
        };
        match self.run {
            Some(mut run) if tonal && fits(&run) => {
                run.blocks += 1;
                run.freq_sum += f.freq_hz;
                run.level_sum += f.level_dbfs;
                run.last_tonal_block = block;
                if !run.confirmed && run.blocks >= self.min_blocks {
                    run.confirmed = true;
                    self.events.push_back(BeepEvent::Detected {
                        start_sample: run.start_block * self.block_len as u64,
                        freq_hz: run.mean(),
                    });
                }
                self.run = Some(run);
            }
            // An odd block inside a run is forgiven, if rare (one, plus one
            // per 20 good blocks): a beating dual tone fails every other.
            Some(mut run) if block == run.last_tonal_block + 1 && run.misses <= run.blocks / 20 => {
                run.misses += 1;
                self.run = Some(run);
            }
            Some(run) => {
                self.close(run);
                self.run = tonal.then(|| self.start_run(block, &f));
            }
            None => {
                self.run = tonal.then(|| self.start_run(block, &f));
            }
        }
    }

    fn start_run(&self, block: u64, f: &BlockFeatures) -> Run {
        Run {
            start_block: block,
            last_tonal_block: block,
            blocks: 1,
            freq_sum: f.freq_hz,
            level_sum: f.level_dbfs,
            misses: 0,
            confirmed: false,
        }
    }

    fn close(&mut self, run: Run) {
        if run.confirmed {
            self.events.push_back(BeepEvent::Ended {
                start_sample: run.start_block * self.block_len as u64,
                end_sample: (run.last_tonal_block + 1) * self.block_len as u64,
                freq_hz: run.mean(),
            });
        }
    }

    /// Next event, oldest first.
    pub fn poll_event(&mut self) -> Option<BeepEvent> {
        self.events.pop_front()
    }

    /// Whether a confirmed beep is playing now.
    pub fn in_beep(&self) -> bool {
        self.run.is_some_and(|r| r.confirmed)
    }

    /// Samples consumed so far (whole blocks only).
    pub fn samples_seen(&self) -> u64 {
        self.blocks * self.block_len as u64
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

    fn events(x: &[i16]) -> Vec<BeepEvent> {
        let mut d = BeepDetector::default();
        for c in x.chunks(160) {
            d.push(c);
        }
        d.push(&[0; 800]);
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    fn beeps(x: &[i16]) -> Vec<(u64, u64, f32)> {
        events(x)
            .into_iter()
            .filter_map(|e| match e {
                BeepEvent::Ended {
                    start_sample,
                    end_sample,
                    freq_hz,
                } => Some((start_sample, end_sample, freq_hz)),
                BeepEvent::Detected { .. } => None,
            })
            .collect()
    }

    #[test]
    fn beeps_of_common_frequencies_are_found_with_their_end_time() {
        for (i, freq) in [400.0, 440.0, 850.0, 1000.0, 1400.0, 1900.0]
            .into_iter()
            .enumerate()
        {
            // GIVEN speech, a gap, a 300 ms beep, then noise, all noisy.
            let mut s = Synth::new(i as u64);
            let mut x = s.speech(16000, -18.0);
            x.extend(s.silence(2000));
            let start = x.len() as u64;
            x.extend(s.beep(freq, -14.0, 300.0));
            let end = x.len() as u64;
            x.extend(s.silence(4000));
            s.add_noise(&mut x, -48.0);
            // THEN exactly one beep, frequency within 1 %, edges within 20 ms.
            let b = beeps(&x);
            assert_eq!(b.len(), 1, "{freq}: {b:?}");
            let (s0, e0, f) = b[0];
            assert!((f - freq as f32).abs() < freq as f32 * 0.01, "{freq}: {f}");
            assert!(s0.abs_diff(start) <= 160, "{freq}: start {s0} vs {start}");
            assert!(e0.abs_diff(end) <= 160, "{freq}: end {e0} vs {end}");
        }
    }

    #[test]
    fn detected_comes_after_min_duration_and_before_ended() {
        let mut s = Synth::new(1);
        let mut x = s.silence(800);
        x.extend(s.beep(1000.0, -12.0, 500.0));
        let ev = events(&x);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(
            matches!(
                ev[0],
                BeepEvent::Detected {
                    start_sample: 800,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(matches!(ev[1], BeepEvent::Ended { .. }));
        // Detection latency: reported once 120 ms of tone have been seen.
        let mut d = BeepDetector::default();
        d.push(&x[..800 + 880]);
        assert!(d.poll_event().is_none());
        d.push(&x[800 + 880..800 + 1040]);
        assert!(d.in_beep());
        assert_eq!(sample_to_time(1040, 8000), Duration::from_millis(130));
    }

    #[test]
    fn short_tones_speech_noise_and_call_progress_tones_are_not_beeps() {
        let mut s = Synth::new(2);
        // 80 ms blip.
        assert_eq!(beeps(&s.beep(1000.0, -12.0, 80.0)), vec![]);
        // Speech, 20 s, several voices.
        for seed in 0..4 {
            let mut t = Synth::new(50 + seed);
            assert_eq!(
                events(&t.speech(160000, -16.0)),
                vec![],
                "speech seed {seed}"
            );
        }
        // Low-passed noise (predictable, but not a tone).
        assert_eq!(events(&s.comfort_noise(40000, -20.0)), vec![]);
        // Ringback (440+480) and busy (480+620): dual tones.
        assert_eq!(
            events(&s.tones(&[(440.0, -16.0), (480.0, -16.0)], 16000)),
            vec![]
        );
        assert_eq!(
            events(&s.tones(&[(480.0, -16.0), (620.0, -16.0)], 16000)),
            vec![]
        );
        // A too-quiet tone and an out-of-range one.
        assert_eq!(events(&s.tone(1000.0, -55.0, 8000)), vec![]);
        assert_eq!(events(&s.tone(3200.0, -12.0, 8000)), vec![]);
    }

    #[test]
    fn a_frequency_jump_splits_the_run() {
        let mut s = Synth::new(3);
        let mut x = s.tone(1000.0, -12.0, 800);
        x.extend(s.tone(1400.0, -12.0, 800));
        // Each part is only 100 ms: neither is a beep.
        assert_eq!(events(&x), vec![]);
    }

    #[test]
    fn ulaw_input_and_reset() {
        let mut s = Synth::new(4);
        let x = s.beep(1400.0, -10.0, 250.0);
        let mut d = BeepDetector::default();
        d.push_ulaw(&ulaw::encode(&x));
        d.push_ulaw(&[0xFF; 400]);
        assert!(matches!(d.poll_event(), Some(BeepEvent::Detected { .. })));
        assert!(matches!(d.poll_event(), Some(BeepEvent::Ended { .. })));
        d.push(&x[..1000]);
        d.reset();
        assert_eq!(d.samples_seen(), 0);
        assert!(!d.in_beep());
    }

    proptest! {
        #[test]
        fn never_panics(x in proptest::collection::vec(any::<i16>(), 0..3000), chunk in 1usize..400) {
            let mut d = BeepDetector::default();
            for c in x.chunks(chunk) {
                d.push(c);
            }
            // Random full-scale noise is never a beep.
            prop_assert!(d.poll_event().is_none());
        }
    }
}
