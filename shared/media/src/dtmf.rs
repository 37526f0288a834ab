//! In-band DTMF detection with a bank of eight Goertzel filters.
//!
//! The input (8 kHz PCM or μ-law, any chunk size) is cut into analysis
//! blocks of 102 samples (12.75 ms, the classic size: rows 73 Hz apart stay
//! about 22 dB apart in the filters). A block *hits* a digit when
//!
//! - the strongest row and column tones are both above `min_tone_dbfs`,
//! - their ratio is within the twist limits (row louder by at most
//!   `normal_twist_db`, column louder by at most `reverse_twist_db`),
//! - each beats the other tones of its group by `relative_peak_db`, and
//! - together they hold at least `min_tone_to_total` of the block's energy
//!   (speech and music spread their energy over many frequencies; a DTMF
//!   pair does not), and
//! - the column tone has no second harmonic within `max_second_harmonic_db`
//!   of it (voices and instruments are rich in harmonics; DTMF tones are
//!   pure; the row tones' harmonics fall too close to the column tones to
//!   be told apart in a 102-sample block).
//!
//! Debouncing: a digit starts after two successive hits of it (a tone of
//! 40 ms always covers two whole blocks) and ends after three successive
//! blocks without it (a 40 ms pause always spoils three, a 10 ms dropout at
//! most two), or when another digit hits twice in a row. So one press gives
//! exactly one digit, a dropout of up to 10 ms does not split it, and the
//! 40 ms minimum pause between presses always separates them (ITU-T Q.24).
//! Digits are queued and read with [`DtmfDetector::poll_digit`].

use std::collections::VecDeque;

use crate::goertzel::Goertzel;
use crate::ulaw;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Blocks without the held digit that end a press.
const RELEASE_BLOCKS: u32 = 3;
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Tuning of the [`DtmfDetector`]. Defaults follow common practice
/// (ITU-T Q.24 style limits).
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfConfig {
    /// Input sample rate, Hz. Default 8000.
    pub sample_rate: u32,
    /// Analysis block length in samples. Default 102.
    pub block_len: usize,
    /// Weakest accepted level of each of the two tones, dBFS RMS.
    /// Default −36.
    pub min_tone_dbfs: f32,
    /// How much louder the row tone may be than the column tone, dB.
    /// Default 8.
    pub normal_twist_db: f32,
    /// How much louder the column tone may be than the row tone, dB.
    /// Default 6.
    pub reverse_twist_db: f32,
    /// How much each tone must beat the others of its group, dB. Default 8.
    pub relative_peak_db: f32,
    /// Share of the block energy the two tones must hold, 0–1. Default
    /// 0.7 (a tone 1.5 % off frequency loses up to a quarter of its energy
    /// to the filter's skirt).
    pub min_tone_to_total: f32,
    /// Strongest allowed second harmonic of the column tone, dB relative to
    /// the tone. Default −12.
    pub max_second_harmonic_db: f32,
}

impl Default for DtmfConfig {
    fn default() -> Self {
        Self {
            sample_rate: 8000,
            block_len: 102,
            min_tone_dbfs: -36.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 6.0,
            relative_peak_db: 8.0,
            min_tone_to_total: 0.7,
            max_second_harmonic_db: -12.0,
        }
    }
}

/// One detected key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// `0`–`9`, `*`, `#` or `A`–`D`.
    pub digit: char,
    /// Sample index (since the start or the last reset) of the first block
    /// in which the press was heard.
    pub start_sample: u64,
}

fn db_to_power(db: f32) -> f32 {
    10f32.powf(db / 10.0)
}

/// Streaming DTMF detector; see the module doc.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    cfg: DtmfConfig,
    block_len: usize,
    rows: [Goertzel; 4],
    cols: [Goertzel; 4],
    energy: f32,
    /// The current block's samples; invariant `len < block_len`.
    block: Vec<f32>,
    /// Blocks completed so far.
    blocks: u64,
    /// Raw hit of the previous block.
    last_hit: Option<char>,
    /// Block index where `last_hit`'s run began.
    last_hit_block: u64,
    /// The digit currently held down, as debounced.
    in_digit: Option<char>,
    /// Consecutive blocks without `in_digit` while it is held.
    off_run: u32,
    min_mag2: f32,
    normal_twist: f32,
    reverse_twist: f32,
    relative_peak: f32,
    max_harmonic: f32,
    digits: VecDeque<DtmfDigit>,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new(DtmfConfig::default())
    }
}

impl DtmfDetector {
    /// A detector with `cfg` (a `block_len` of 0 is treated as 1).
    pub fn new(cfg: DtmfConfig) -> Self {
        let block_len = cfg.block_len.max(1);
        let rate = cfg.sample_rate;
        // A tone of RMS r over N samples has |X|^2 = (sqrt(2) r N / 2)^2.
        let r = 32768.0 * 10f32.powf(cfg.min_tone_dbfs / 20.0);
        let min_mag2 = (std::f32::consts::SQRT_2 * r * block_len as f32 / 2.0).powi(2);
        Self {
            block_len,
            rows: ROWS.map(|f| Goertzel::new(f, rate)),
            cols: COLS.map(|f| Goertzel::new(f, rate)),
            energy: 0.0,
            block: Vec::with_capacity(block_len),
            blocks: 0,
            last_hit: None,
            last_hit_block: 0,
            in_digit: None,
            off_run: 0,
            min_mag2,
            normal_twist: db_to_power(cfg.normal_twist_db),
            reverse_twist: db_to_power(cfg.reverse_twist_db),
            relative_peak: db_to_power(cfg.relative_peak_db),
            max_harmonic: db_to_power(cfg.max_second_harmonic_db),
            digits: VecDeque::new(),
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &DtmfConfig {
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
    fn push_sample(&mut self, x: f32) {
        for g in self.rows.iter_mut().chain(self.cols.iter_mut()) {
            g.update(x);
        }
        self.energy += x * x;
        self.block.push(x);
        if self.block.len() == self.block_len {
            self.end_block();
            self.block.clear();
        }
    }

    fn classify_block(&mut self) -> Option<char> {
        let rows = self.rows.each_mut().map(|g| g.finish());
        let cols = self.cols.each_mut().map(|g| g.finish());
        let energy = std::mem::take(&mut self.energy);
        let (r, &row) = argmax(&rows);
        let (c, &col) = argmax(&cols);
        if row < self.min_mag2 || col < self.min_mag2 {
            return None;
        }
        if row > col * self.normal_twist || col > row * self.reverse_twist {
            return None;
        }
        let beats = |best: f32, all: &[f32; 4], k: usize| {
            all.iter()
                .enumerate()
                .all(|(i, &p)| i == k || best >= p * self.relative_peak)
        };
        if !beats(row, &rows, r) || !beats(col, &cols, c) {
            return None;
        }
        // A pure tone over the block has |X|^2 = N * E / 2.
        let total = self.block_len as f32 * energy / 2.0;
        if row + col < self.cfg.min_tone_to_total * total {
            return None;
        }
        let rate = self.cfg.sample_rate;
        let harmonic = |f: f32| Goertzel::new(2.0 * f, rate).power(&self.block);
        if harmonic(COLS[c]) > col * self.max_harmonic {
            return None;
        }
        Some(KEYS[r][c])
    }

    fn end_block(&mut self) {
        let block = self.blocks;
        self.blocks += 1;
        let hit = self.classify_block();
        let twice = hit.is_some() && hit == self.last_hit;
        match self.in_digit {
            Some(d) if hit == Some(d) => self.off_run = 0,
            Some(_) if twice => self.press(hit),
            Some(_) => {
                self.off_run += 1;
                if self.off_run >= RELEASE_BLOCKS {
                    self.in_digit = None;
                }
            }
            None if twice => self.press(hit),
            None => {}
        }
        if hit != self.last_hit {
            self.last_hit_block = block;
        }
        self.last_hit = hit;
    }

    /// A new press of `digit` (heard since `last_hit_block`).
    fn press(&mut self, digit: Option<char>) {
        if let Some(d) = digit {
            self.digits.push_back(DtmfDigit {
                digit: d,
                start_sample: self.last_hit_block * self.block_len as u64,
            });
        }
        self.in_digit = digit;
        self.off_run = 0;
    }

    /// Next detected digit, oldest first.
    pub fn poll_digit(&mut self) -> Option<DtmfDigit> {
        self.digits.pop_front()
    }

    /// The digit currently held down, if any.
    pub fn current_digit(&self) -> Option<char> {
        self.in_digit
    }

    /// Back to the initial state, dropping queued digits.
    pub fn reset(&mut self) {
        *self = Self::new(self.cfg.clone());
    }
}

fn argmax(v: &[f32; 4]) -> (usize, &f32) {
    v.iter().enumerate().fold(
        (0, &v[0]),
        |best, (i, p)| if *p > *best.1 { (i, p) } else { best },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Synth;
    use proptest::prelude::*;

    fn detect(x: &[i16], chunk: usize) -> Vec<DtmfDigit> {
        let mut d = DtmfDetector::default();
        for c in x.chunks(chunk.max(1)) {
            d.push(c);
        }
        std::iter::from_fn(|| d.poll_digit()).collect()
    }

    fn digits(x: &[i16]) -> String {
        detect(x, 160).iter().map(|d| d.digit).collect()
    }

    #[test]
    fn every_key_in_noise_with_twist_and_varied_timing() {
        // GIVEN all 16 keys, 45-120 ms on, 45-100 ms off, levels -8..-28
        // dBFS, +/-4 dB twist, 1.5 % frequency error and noise 15 dB or more down.
        let keys = "0123456789*#ABCD";
        for seed in 0..6u64 {
            let mut s = Synth::new(seed);
            let mut x = s.silence(400);
            for k in keys.chars() {
                let (row, col) = crate::synth::dtmf_frequencies(k).unwrap();
                let level = s.range(-28.0, -8.0);
                let twist = s.range(-4.0, 4.0);
                let err = 1.0 + s.range(-0.015, 0.015);
                let on = s.samples_in_ms_range(45.0, 120.0);
                x.extend(s.tones(
                    &[
                        (row * err, level + twist / 2.0),
                        (col * err, level - twist / 2.0),
                    ],
                    on,
                ));
                let off = s.samples_in_ms_range(45.0, 100.0);
                x.extend(s.silence(off));
            }
            // Noise at -45 dBFS: at least 15 dB under the quietest tone.
            s.add_noise(&mut x, -45.0);
            // WHEN detected in 20 ms frames THEN exactly the keys, in order.
            assert_eq!(digits(&x), keys, "seed {seed}");
        }
    }

    #[test]
    fn one_long_press_is_one_digit_and_repeats_need_a_gap() {
        let mut s = Synth::new(1);
        let mut x = s.dtmf('5', -15.0, 1500.0).unwrap();
        x.extend(s.silence(400)); // 50 ms gap
        x.extend(s.dtmf('5', -15.0, 60.0).unwrap());
        x.extend(s.silence(800));
        let found = detect(&x, 160);
        assert_eq!(found.iter().map(|d| d.digit).collect::<String>(), "55");
        assert_eq!(found[0].start_sample, 0);
        // The second press starts after 1.55 s (12400 samples), within a block.
        assert!(
            (12400..12400 + 102).contains(&found[1].start_sample),
            "{:?}",
            found[1]
        );
    }

    #[test]
    fn a_dropout_shorter_than_the_gap_does_not_split_a_press() {
        // GIVEN '8' held 200 ms, a 10 ms dropout, then '8' again for 200 ms
        let mut s = Synth::new(6);
        let mut x = s.dtmf('8', -12.0, 200.0).unwrap();
        x.extend(s.silence(80));
        x.extend(s.dtmf('8', -12.0, 200.0).unwrap());
        x.extend(s.silence(800));
        // THEN it is one press
        assert_eq!(digits(&x), "8");
    }

    #[test]
    fn a_too_short_blip_is_ignored() {
        let mut s = Synth::new(2);
        let mut x = s.silence(300);
        x.extend(s.dtmf('9', -10.0, 15.0).unwrap());
        x.extend(s.silence(800));
        assert_eq!(digits(&x), "");
        // ...while the 40 ms minimum always passes, whatever the alignment.
        for lead in 0..102 {
            let mut y = s.silence(lead);
            y.extend(s.dtmf('9', -10.0, 40.0).unwrap());
            y.extend(s.silence(400));
            assert_eq!(digits(&y), "9", "lead {lead}");
        }
    }

    #[test]
    fn chunk_size_does_not_matter() {
        let mut s = Synth::new(3);
        let x = s.dtmf_sequence("147*", -12.0, 70.0, 60.0).unwrap();
        let a = detect(&x, 160);
        assert_eq!(a.iter().map(|d| d.digit).collect::<String>(), "147*");
        for chunk in [1, 37, 102, 1000] {
            assert_eq!(detect(&x, chunk), a);
        }
        let mut d = DtmfDetector::default();
        d.push_ulaw(&ulaw::encode(&x));
        let via_ulaw: String = std::iter::from_fn(|| d.poll_digit())
            .map(|d| d.digit)
            .collect();
        assert_eq!(via_ulaw, "147*");
    }

    #[test]
    fn single_tones_excess_twist_and_quiet_tones_are_rejected() {
        let mut s = Synth::new(4);
        assert_eq!(digits(&s.tone(697.0, -10.0, 4000)), "");
        assert_eq!(digits(&s.tone(1336.0, -10.0, 4000)), "");
        // Column 12 dB above row: reverse twist too large.
        assert_eq!(
            digits(&s.tones(&[(770.0, -22.0), (1336.0, -10.0)], 4000)),
            ""
        );
        // Both tones at -45 dBFS: below the minimum level.
        assert_eq!(
            digits(&s.tones(&[(770.0, -45.0), (1336.0, -45.0)], 4000)),
            ""
        );
        // A third strong tone steals energy: not a clean pair.
        assert_eq!(
            digits(&s.tones(&[(770.0, -15.0), (1336.0, -15.0), (2400.0, -13.0)], 4000)),
            ""
        );
    }

    #[test]
    fn speech_like_audio_gives_no_digits() {
        for seed in 0..5 {
            let mut s = Synth::new(100 + seed);
            let mut x = s.speech(8000 * 30, -16.0);
            s.add_noise(&mut x, -50.0);
            assert_eq!(digits(&x), "", "seed {seed}");
        }
    }

    #[test]
    fn music_gives_no_digits() {
        // Chords of two harmonic-rich notes (1/k harmonics), including pairs
        // whose fundamentals sit on DTMF frequencies (F5=698.5, F#6=1480).
        let mut s = Synth::new(5);
        let mut x = Vec::new();
        let note = |n: i32| 440.0 * 2f64.powf(f64::from(n) / 12.0);
        let mut chords: Vec<(f64, f64)> = vec![
            (note(8), note(21)),
            (note(10), note(19)),
            (note(11), note(18)),
        ];
        for _ in 0..60 {
            let a = (s.uniform() * 24.0) as i32 - 5;
            chords.push((note(a), note(a + 3 + (s.uniform() * 12.0) as i32)));
        }
        for (a, b) in chords {
            let mut parts = Vec::new();
            for k in 1..=5 {
                let lvl = -16.0 - 20.0 * (k as f64).log10();
                parts.push((a * k as f64, lvl));
                parts.push((b * k as f64, lvl));
            }
            let ms = s.range(100.0, 400.0);
            let n = s.samples_for_ms(ms);
            x.extend(s.tones(&parts, n));
        }
        assert_eq!(digits(&x), "");
    }

    #[test]
    fn reset_drops_state() {
        let mut d = DtmfDetector::default();
        d.push(&Synth::new(1).dtmf('#', -10.0, 100.0).unwrap());
        assert_eq!(d.current_digit(), Some('#'));
        d.reset();
        assert_eq!(d.current_digit(), None);
        assert_eq!(d.poll_digit(), None);
        let zero = DtmfDetector::new(DtmfConfig {
            block_len: 0,
            ..DtmfConfig::default()
        });
        assert_eq!(zero.config().block_len, 0);
    }

    proptest! {
        #[test]
        fn never_panics_on_random_audio(x in proptest::collection::vec(any::<i16>(), 0..3000), chunk in 1usize..500) {
            let found = detect(&x, chunk);
            // White noise has no DTMF structure.
            prop_assert!(found.len() <= 1);
        }
    }
}
