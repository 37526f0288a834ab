//! Deterministic, seeded signal generators for tests and simulators.
//!
//! [`Synth`] holds a small SplitMix64 generator, so the same seed gives the
//! same samples on every machine and run. Levels are RMS in dBFS (a sine of
//! level −3 dBFS peaks at full scale).
//!
//! Besides tones, noise and DTMF, it makes *speech-like* audio: syllables of
//! a glottal pulse train at a wandering pitch through three formant
//! resonators (a vowel per syllable), with noisy consonant onsets, grouped
//! into words separated by short gaps. It is not intelligible, but it has
//! the level modulation (4–6 syllables a second), spectrum and pauses an
//! energy VAD, a DTMF detector and an AMD classifier care about.
//! [`amd_corpus`] builds a labelled set of human and answering-machine
//! openings from these parts.

use crate::MediaError;
use crate::amd::Verdict;

/// Formant sets (F1, F2, F3 in Hz) of a few vowels.
const VOWELS: [[f64; 3]; 6] = [
    [730.0, 1090.0, 2440.0], // a
    [270.0, 2290.0, 3010.0], // i
    [300.0, 870.0, 2240.0],  // u
    [530.0, 1840.0, 2480.0], // e
    [570.0, 840.0, 2410.0],  // o
    [660.0, 1720.0, 2410.0], // ae
];

/// The DTMF row and column frequencies of `digit` (`0-9`, `*`, `#`, `A-D`).
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let (r, c) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((ROWS[r], COLS[c]))
}

/// Linear RMS of a level in dBFS.
fn rms_of(level_dbfs: f64) -> f64 {
    32768.0 * 10f64.powf(level_dbfs / 20.0)
}

fn to_i16(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// Seeded generator of test signals at one sample rate.
#[derive(Debug, Clone)]
pub struct Synth {
    state: u64,
    rate: u32,
    /// Pitch factor of the speech made (1 = as drawn).
    pitch: f64,
    /// Speaking-rate factor of the speech made (2 = twice as fast).
    speaking_rate: f64,
}

impl Synth {
    /// An 8 kHz generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_rate(seed, 8000)
    }

    /// A generator at `sample_rate` Hz (at least 1) seeded with `seed`.
    pub fn with_rate(seed: u64, sample_rate: u32) -> Self {
        Self {
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
            rate: sample_rate.max(1),
            pitch: 1.0,
            speaking_rate: 1.0,
        }
    }

    /// Sets the voice of the speech made from now on: `pitch` scales the
    /// fundamental (0.5–2), `speaking_rate` the tempo (0.5–2: syllables and
    /// the gaps between words are that much shorter). `(1, 1)` is the
    /// default voice.
    pub fn set_voice(&mut self, pitch: f64, speaking_rate: f64) {
        self.pitch = pitch.clamp(0.5, 2.0);
        self.speaking_rate = speaking_rate.clamp(0.5, 2.0);
    }

    /// A duration in `[lo_ms, hi_ms)` at the current speaking rate, in
    /// samples.
    fn spoken_samples(&mut self, lo_ms: f64, hi_ms: f64) -> usize {
        let ms = self.range(lo_ms, hi_ms) / self.speaking_rate;
        self.samples_for_ms(ms)
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Number of samples in `ms` milliseconds.
    pub fn samples_for_ms(&self, ms: f64) -> usize {
        (ms.max(0.0) * f64::from(self.rate) / 1000.0).round() as usize
    }

    /// Number of samples in a random duration uniform in `[lo_ms, hi_ms)`.
    pub fn samples_in_ms_range(&mut self, lo_ms: f64, hi_ms: f64) -> usize {
        let ms = self.range(lo_ms, hi_ms);
        self.samples_for_ms(ms)
    }

    /// Next 64 random bits (SplitMix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// `n` samples of digital silence.
    pub fn silence(&mut self, n: usize) -> Vec<i16> {
        vec![0; n]
    }

    /// `n` samples of a sine at `freq` Hz with RMS level `level_dbfs`.
    pub fn tone(&mut self, freq: f64, level_dbfs: f64, n: usize) -> Vec<i16> {
        self.tones(&[(freq, level_dbfs)], n)
    }

    /// `n` samples of a sum of sines, each `(freq, level_dbfs)`.
    pub fn tones(&mut self, parts: &[(f64, f64)], n: usize) -> Vec<i16> {
        let rate = f64::from(self.rate);
        (0..n)
            .map(|i| {
                let t = i as f64 / rate;
                let v: f64 = parts
                    .iter()
                    .map(|&(f, l)| {
                        rms_of(l)
                            * std::f64::consts::SQRT_2
                            * (2.0 * std::f64::consts::PI * f * t).sin()
                    })
                    .sum();
                to_i16(v)
            })
            .collect()
    }

    /// A tone with 5 ms raised-cosine fades, like an answering-machine beep.
    pub fn beep(&mut self, freq: f64, level_dbfs: f64, ms: f64) -> Vec<i16> {
        let n = self.samples_for_ms(ms);
        let mut x = self.tone(freq, level_dbfs, n);
        let fade = self.samples_for_ms(5.0).min(n / 2);
        for i in 0..fade {
            let g = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fade as f64).cos();
            x[i] = to_i16(f64::from(x[i]) * g);
            let j = n - 1 - i;
            x[j] = to_i16(f64::from(x[j]) * g);
        }
        x
    }

    /// `n` samples of white Gaussian noise at RMS level `level_dbfs`.
    pub fn noise(&mut self, n: usize, level_dbfs: f64) -> Vec<i16> {
        let r = rms_of(level_dbfs);
        (0..n).map(|_| to_i16(self.gaussian() * r)).collect()
    }

    /// `n` samples of low-passed ("comfort", line or room) noise at RMS level
    /// `level_dbfs`.
    pub fn comfort_noise(&mut self, n: usize, level_dbfs: f64) -> Vec<i16> {
        // One-pole low-pass at about 1 kHz; its output RMS for unit white
        // input is sqrt((1-a)/(1+a)).
        let a = (-2.0 * std::f64::consts::PI * 1000.0 / f64::from(self.rate)).exp();
        let gain = rms_of(level_dbfs) / ((1.0 - a) / (1.0 + a)).sqrt();
        let mut y = 0.0;
        (0..n)
            .map(|_| {
                y = a * y + (1.0 - a) * self.gaussian();
                to_i16(y * gain)
            })
            .collect()
    }

    /// A DTMF digit held for `ms` milliseconds, each of its two tones at
    /// `level_dbfs`; `None` for a character that is not a DTMF digit.
    pub fn dtmf(&mut self, digit: char, level_dbfs: f64, ms: f64) -> Option<Vec<i16>> {
        let (row, col) = dtmf_frequencies(digit)?;
        let n = self.samples_for_ms(ms);
        Some(self.tones(&[(row, level_dbfs), (col, level_dbfs)], n))
    }

    /// `digits` as tones of `on_ms` separated (and followed) by `off_ms` of
    /// silence.
    pub fn dtmf_sequence(
        &mut self,
        digits: &str,
        level_dbfs: f64,
        on_ms: f64,
        off_ms: f64,
    ) -> Result<Vec<i16>, MediaError> {
        let mut out = Vec::new();
        let gap = self.samples_for_ms(off_ms);
        for d in digits.chars() {
            let tone = self
                .dtmf(d, level_dbfs, on_ms)
                .ok_or(MediaError::InvalidDigit(d))?;
            out.extend(tone);
            out.extend(std::iter::repeat_n(0, gap));
        }
        Ok(out)
    }

    /// Speech-like audio filling exactly `n` samples: words of one to three
    /// syllables with short gaps, RMS level about `level_dbfs` over the
    /// voiced parts.
    pub fn speech(&mut self, n: usize, level_dbfs: f64) -> Vec<i16> {
        let f0 = self.range(95.0, 230.0);
        let mut out = Vec::with_capacity(n + 4000);
        while out.len() < n {
            let syllables = 1 + (self.next_u64() % 3) as usize;
            out.extend(self.word(syllables, f0, level_dbfs));
            if out.len() < n {
                let gap = self.spoken_samples(20.0, 140.0);
                out.extend(std::iter::repeat_n(0, gap));
            }
        }
        out.truncate(n);
        out
    }

    /// One word of `syllables` syllables around pitch `f0`, at about
    /// `level_dbfs` RMS.
    pub fn word(&mut self, syllables: usize, f0: f64, level_dbfs: f64) -> Vec<i16> {
        let rate = f64::from(self.rate);
        let mut out = Vec::new();
        let mut phase = 0.0f64;
        let f0 = f0 * self.pitch;
        let mut pitch = f0 * self.range(0.9, 1.15);
        for s in 0..syllables.max(1) {
            let dur = self.spoken_samples(110.0, 260.0);
            let vowel = VOWELS[(self.next_u64() % VOWELS.len() as u64) as usize];
            let consonant = self.samples_in_ms_range(0.0, 60.0);
            let stress = self.range(0.5, 1.0);
            let pitch_slope = self.range(-0.35, 0.25) * pitch;
            // Three parallel formant resonators, each scaled to unit peak
            // gain and weighted 0, -6, -12 dB; state (y1, y2) per formant.
            let mut res = [(0.0f64, 0.0f64); 3];
            let coeffs: Vec<(f64, f64, f64)> = vowel
                .iter()
                .zip([(90.0, 1.0), (120.0, 0.5), (170.0, 0.25)])
                .map(|(&f, (bw, weight))| {
                    let f = (f * self.range(0.9, 1.1)).min(rate * 0.45);
                    let r = (-std::f64::consts::PI * bw / rate).exp();
                    let theta = 2.0 * std::f64::consts::PI * f / rate;
                    let (a1, a2) = (2.0 * r * theta.cos(), -r * r);
                    // |1 - a1 e^-jθ - a2 e^-2jθ| at the peak.
                    let re = 1.0 - a1 * theta.cos() - a2 * (2.0 * theta).cos();
                    let im = a1 * theta.sin() + a2 * (2.0 * theta).sin();
                    (a1, a2, weight * (re * re + im * im).sqrt())
                })
                .collect();
            let mut glottal = 0.0f64;
            // Consonant: a burst of differentiated (high-passed) noise, 12 dB
            // below the vowel.
            let target = rms_of(level_dbfs) * stress;
            let mut prev = 0.0;
            for i in 0..consonant {
                let g = self.gaussian();
                let v = (g - prev)
                    * std::f64::consts::FRAC_1_SQRT_2
                    * (i as f64 / consonant.max(1) as f64);
                prev = g;
                out.push(to_i16(v * target * 0.25));
            }
            let mut voiced = Vec::with_capacity(dur);
            for i in 0..dur {
                let t = i as f64 / dur as f64;
                // Attack 20 %, sustain, decay 35 %.
                let env = if t < 0.2 {
                    0.5 - 0.5 * (std::f64::consts::PI * t / 0.2).cos()
                } else if t > 0.65 {
                    0.5 + 0.5 * (std::f64::consts::PI * (t - 0.65) / 0.35).cos()
                } else {
                    1.0
                };
                let f = (pitch + pitch_slope * t) * (1.0 + 0.03 * self.gaussian());
                phase += f / rate;
                let pulse = if phase >= 1.0 {
                    phase -= 1.0;
                    1.0
                } else {
                    0.0
                };
                // Glottal source: pulses through a one-pole low-pass, plus
                // a little breath noise.
                glottal = 0.7 * glottal + pulse;
                let src = glottal + 0.05 * self.gaussian();
                let mut v = 0.0;
                for (k, &(a1, a2, g)) in coeffs.iter().enumerate() {
                    let y = src + a1 * res[k].0 + a2 * res[k].1;
                    res[k].1 = res[k].0;
                    res[k].0 = y;
                    v += y * g;
                }
                voiced.push((v, env));
            }
            // Normalise the vowel so its sustained part has the target RMS.
            let sustain: Vec<f64> = voiced
                .iter()
                .filter(|(_, e)| *e >= 1.0)
                .map(|(v, _)| *v)
                .collect();
            let ms = sustain.iter().map(|v| v * v).sum::<f64>() / sustain.len().max(1) as f64;
            let g = if ms > 0.0 { target / ms.sqrt() } else { 0.0 };
            out.extend(voiced.iter().map(|(v, e)| to_i16(v * e * g)));
            if s + 1 < syllables {
                // Syllable boundary inside a word: a short dip, not a gap.
                let dip = self.spoken_samples(0.0, 25.0);
                out.extend(std::iter::repeat_n(0, dip));
            }
            pitch = (pitch + pitch_slope) * self.range(0.95, 1.08);
            pitch = pitch.clamp(f0 * 0.7, f0 * 1.5);
        }
        out
    }

    /// Mixes low-passed background noise at `level_dbfs` into `x` in place.
    pub fn add_noise(&mut self, x: &mut [i16], level_dbfs: f64) {
        let noise = self.comfort_noise(x.len(), level_dbfs);
        for (s, n) in x.iter_mut().zip(noise) {
            *s = s.saturating_add(n);
        }
    }

    /// A human answering: `lead_ms` of silence, a short "Hello?" (one or two
    /// words, 0.3–0.9 s), then silence up to `total_ms`.
    pub fn human_hello(&mut self, lead_ms: f64, total_ms: f64, level_dbfs: f64) -> Vec<i16> {
        let mut x = self.silence(self.samples_for_ms(lead_ms));
        let f0 = self.range(95.0, 230.0);
        let words = 1 + (self.next_u64() % 2) as usize;
        for w in 0..words {
            let syl = if w == 0 { 2 } else { 1 };
            x.extend(self.word(syl, f0, level_dbfs));
            if w + 1 < words {
                let gap = self.samples_in_ms_range(30.0, 120.0);
                x.extend(std::iter::repeat_n(0, gap));
            }
        }
        let total = self.samples_for_ms(total_ms);
        if x.len() < total {
            x.resize(total, 0);
        }
        x
    }

    /// An answering machine: `lead_ms` of silence, `greeting_ms` of
    /// continuous speech in phrases separated by pauses of at most
    /// `max_pause_ms`, an optional beep `(freq, ms)` after 0.2–0.6 s, then
    /// silence up to `total_ms`.
    pub fn voicemail_greeting(
        &mut self,
        lead_ms: f64,
        greeting_ms: f64,
        max_pause_ms: f64,
        beep: Option<(f64, f64)>,
        total_ms: f64,
        level_dbfs: f64,
    ) -> Vec<i16> {
        let mut x = self.silence(self.samples_for_ms(lead_ms));
        self.phrases(&mut x, greeting_ms, max_pause_ms, level_dbfs);
        if let Some((freq, ms)) = beep {
            let gap = self.samples_in_ms_range(200.0, 600.0);
            x.extend(std::iter::repeat_n(0, gap));
            x.extend(self.beep(freq, level_dbfs + 3.0, ms));
        }
        let total = self.samples_for_ms(total_ms);
        if x.len() < total {
            x.resize(total, 0);
        }
        x
    }

    /// Appends `ms` of continuous speech to `x`: phrases of 0.9–2.2 s
    /// separated by pauses of 150 ms to `max_pause_ms`.
    fn phrases(&mut self, x: &mut Vec<i16>, ms: f64, max_pause_ms: f64, level_dbfs: f64) {
        let end = x.len() + self.samples_for_ms(ms);
        while x.len() < end {
            let phrase_ms = self.range(900.0, 2200.0);
            let n = self.samples_for_ms(phrase_ms).min(end - x.len());
            x.extend(self.speech(n, level_dbfs));
            if x.len() < end {
                let pause = self.samples_in_ms_range(150.0, max_pause_ms.max(150.0));
                x.extend(std::iter::repeat_n(0, pause.min(end - x.len())));
            }
        }
    }

    /// The three rising tones of a special information tone (SIT, ITU-T
    /// E.180: 913.8, 1370.6 and 1776.7 Hz for 274, 274 and 380 ms) that
    /// carriers play before an intercept message.
    pub fn sit_tones(&mut self, level_dbfs: f64) -> Vec<i16> {
        let mut x = Vec::new();
        for (f, ms) in [(913.8, 274.0), (1370.6, 274.0), (1776.7, 380.0)] {
            x.extend(self.beep(f, level_dbfs, ms));
        }
        x
    }

    /// Adds line echo to `x` in place: a copy `delay_ms` later and
    /// `gain_db` (negative) quieter, as a 2-to-4-wire hybrid returns it.
    pub fn add_echo(&mut self, x: &mut [i16], delay_ms: f64, gain_db: f64) {
        let d = self.samples_for_ms(delay_ms);
        let g = 10f64.powf(gain_db / 20.0);
        // Backwards, so each sample adds the still-dry one `d` before it.
        for i in (d..x.len()).rev() {
            x[i] = to_i16(f64::from(x[i]) + g * f64::from(x[i - d]));
        }
    }

    /// Zeroes whole 20 ms packets of `x` in place, as a jitter buffer
    /// without concealment plays lost packets: a loss starts at a packet
    /// with probability `p` and lasts one to three packets.
    pub fn drop_packets(&mut self, x: &mut [i16], p: f64) {
        let packet = self.samples_for_ms(20.0).max(1);
        let mut burst = 0u64;
        for chunk in x.chunks_mut(packet) {
            if burst == 0 && self.uniform() < p {
                burst = 1 + self.next_u64() % 3;
            }
            if burst > 0 {
                chunk.fill(0);
                burst -= 1;
            }
        }
    }
}

/// One labelled clip of an AMD evaluation corpus (8 kHz PCM).
#[derive(Debug, Clone)]
pub struct AmdClip {
    /// What the callee really is ([`Verdict::Human`] or [`Verdict::Machine`]).
    pub label: Verdict,
    /// Which scenario generated it (for per-scenario error counts).
    pub scenario: &'static str,
    /// The line's impairments, e.g. `snr 15 dB, echo, loss, μ-law`.
    pub line: String,
    /// Sample index at which the callee starts to make sound (speech, a
    /// tone or a beep): verdict latencies are measured from here.
    pub onset: usize,
    /// The audio, 8 kHz mono.
    pub samples: Vec<i16>,
}

/// A labelled corpus of `count` clips (half human, half machine, alternating)
/// of answered-call openings, each 8 s long. Deterministic for a `seed`.
///
/// Each clip draws a scenario (see `human_clip` and `machine_clip`: short
/// and long human greetings, voicemail greetings with and without beeps,
/// carrier prompts with English-like and faster, syllable-timed Hindi-like
/// prosody, SIT tones, a bare beep), a voice (pitch ×0.75–1.35, speaking
/// rate ×0.8–1.25), a level, and a line: background noise at 40, 30, 20,
/// 15 or 12 dB SNR, line echo on 30 % of clips, lost packets on 25 %, and a
/// μ-law round trip on 70 %.
pub fn amd_corpus(seed: u64, count: usize) -> Vec<AmdClip> {
    let mut s = Synth::new(seed);
    let total = 8000.0;
    (0..count)
        .map(|i| {
            let level = s.range(-26.0, -12.0);
            random_voice(&mut s, (0.75, 1.35), (0.8, 1.25));
            let (label, scenario, mut x) = if i % 2 == 0 {
                human_clip(&mut s, i / 2, level, total)
            } else {
                machine_clip(&mut s, i / 2, level, total)
            };
            s.set_voice(1.0, 1.0);
            // Silences are digital zeros until the line is impaired.
            let onset = x.iter().position(|&v| v != 0).unwrap_or(x.len());
            let line = impair_line(&mut s, &mut x, level);
            AmdClip {
                label,
                scenario,
                line,
                onset,
                samples: x,
            }
        })
        .collect()
}

/// Sets a voice with pitch and speaking rate uniform in the given ranges.
fn random_voice(s: &mut Synth, pitch: (f64, f64), rate: (f64, f64)) {
    let (p, r) = (s.range(pitch.0, pitch.1), s.range(rate.0, rate.1));
    s.set_voice(p, r);
}

/// Echo, background noise, lost packets and the μ-law codec, drawn at
/// random (see [`amd_corpus`]); returns what was applied.
fn impair_line(s: &mut Synth, x: &mut Vec<i16>, level: f64) -> String {
    let echo = s.uniform() < 0.3;
    if echo {
        let (delay, gain) = (s.range(8.0, 40.0), s.range(-20.0, -10.0));
        s.add_echo(x, delay, gain);
    }
    let snr = [40.0, 30.0, 20.0, 15.0, 12.0][(s.next_u64() % 5) as usize];
    s.add_noise(x, (level - snr).max(-75.0));
    let loss = s.uniform() < 0.25;
    if loss {
        let p = s.range(0.01, 0.05);
        s.drop_packets(x, p);
    }
    let ulaw = s.uniform() < 0.7;
    if ulaw {
        *x = crate::ulaw::decode(&crate::ulaw::encode(x));
    }
    let mut line = format!("snr {snr} dB");
    for (on, what) in [(echo, ", echo"), (loss, ", loss"), (ulaw, ", μ-law")] {
        if on {
            line.push_str(what);
        }
    }
    line
}

fn human_clip(
    s: &mut Synth,
    k: usize,
    level: f64,
    total: f64,
) -> (Verdict, &'static str, Vec<i16>) {
    let lead = s.range(150.0, 1200.0);
    let total_n = s.samples_for_ms(total);
    let mut x = s.silence(s.samples_for_ms(lead));
    let f0 = s.range(95.0, 230.0);
    let scenario = match k % 7 {
        0 | 1 => {
            x = s.human_hello(lead, total, level);
            "hello"
        }
        2 => {
            // "Hello, who is this?": 0.9-1.8 s of speech.
            let n = s.samples_in_ms_range(900.0, 1800.0);
            x.extend(s.speech(n, level));
            "hello-who-is-this"
        }
        3 => {
            // "Hello?" ... "Hello?" again after a pause.
            x = s.human_hello(lead, 0.0, level);
            let pause = s.samples_in_ms_range(1000.0, 1600.0);
            x.extend(std::iter::repeat_n(0, pause));
            x.extend(s.word(2, f0, level));
            "hello-hello"
        }
        4 => {
            // A very short "Yeah?" or a late answer.
            if s.uniform() < 0.5 {
                let late = s.samples_in_ms_range(1500.0, 2300.0);
                x.resize(late, 0);
            }
            x.extend(s.word(1, f0, level));
            "yeah-or-late"
        }
        5 => {
            // A longer self-introduction with a breath in the middle.
            let a = s.samples_in_ms_range(500.0, 900.0);
            x.extend(s.speech(a, level));
            let breath = s.samples_in_ms_range(150.0, 350.0);
            x.extend(std::iter::repeat_n(0, breath));
            let b = s.samples_in_ms_range(400.0, 800.0);
            x.extend(s.speech(b, level));
            "hello-this-is"
        }
        _ => {
            // "Hello, this is Priya speaking, who is this?": a hello, a
            // pause, and a sentence (1.2-1.8 s at the voice's pace).
            x.extend(s.word(2, f0, level));
            let pause = s.spoken_samples(200.0, 500.0);
            x.extend(std::iter::repeat_n(0, pause));
            let n = s.spoken_samples(1200.0, 1800.0);
            x.extend(s.speech(n, level));
            "long-introduction"
        }
    };
    x.resize(x.len().max(total_n), 0);
    (Verdict::Human, scenario, x)
}

fn machine_clip(
    s: &mut Synth,
    k: usize,
    level: f64,
    total: f64,
) -> (Verdict, &'static str, Vec<i16>) {
    let lead = s.range(100.0, 1000.0);
    let beep_freq = [1000.0, 1400.0, 440.0, 850.0, 1900.0][k % 5];
    let beep_ms = s.range(150.0, 700.0);
    let beep = Some((beep_freq, beep_ms));
    let (scenario, greeting, pause, beep) = match k % 8 {
        0 => ("greeting-beep", s.range(3000.0, 6000.0), 450.0, beep),
        1 => ("greeting-no-beep", s.range(3000.0, 7000.0), 450.0, None),
        2 => ("short-greeting-beep", s.range(2400.0, 3000.0), 400.0, beep),
        3 => ("greeting-long-pauses", s.range(3500.0, 6500.0), 650.0, beep),
        4 => ("carrier-voicemail", s.range(4000.0, 7000.0), 300.0, None),
        5 => return carrier_prompt_english(s, lead, level, total),
        6 => return carrier_prompt_hindi(s, lead, level, total),
        _ => {
            // A mailbox that only beeps.
            let mut x = s.silence(s.samples_for_ms(lead));
            x.extend(s.beep(beep_freq, level + 3.0, beep_ms));
            x.resize(s.samples_for_ms(total), 0);
            return (Verdict::Machine, "beep-only", x);
        }
    };
    let x = s.voicemail_greeting(lead, greeting, pause, beep, total, level);
    (Verdict::Machine, scenario, x)
}

/// "The number you are calling is not available…": an even, recorded
/// voice with short pauses, after SIT tones half the time.
fn carrier_prompt_english(
    s: &mut Synth,
    lead: f64,
    level: f64,
    total: f64,
) -> (Verdict, &'static str, Vec<i16>) {
    random_voice(s, (0.9, 1.1), (1.0, 1.15));
    let mut x = s.silence(s.samples_for_ms(lead));
    if s.uniform() < 0.5 {
        x.extend(s.sit_tones(level - 3.0));
        let gap = s.samples_in_ms_range(150.0, 400.0);
        x.extend(std::iter::repeat_n(0, gap));
    }
    let ms = s.range(3000.0, 5000.0);
    s.phrases(&mut x, ms, 280.0, level);
    x.resize(x.len().max(s.samples_for_ms(total)), 0);
    (Verdict::Machine, "carrier-prompt-en", x)
}

/// "आप जिस नंबर पर कॉल कर रहे हैं…" then the English: a faster,
/// syllable-timed voice (short even syllables, short gaps), a longer pause
/// between the two languages.
fn carrier_prompt_hindi(
    s: &mut Synth,
    lead: f64,
    level: f64,
    total: f64,
) -> (Verdict, &'static str, Vec<i16>) {
    random_voice(s, (1.0, 1.25), (1.2, 1.45));
    let mut x = s.silence(s.samples_for_ms(lead));
    let hindi = s.range(2500.0, 3800.0);
    s.phrases(&mut x, hindi, 250.0, level);
    let between = s.samples_in_ms_range(400.0, 800.0);
    x.extend(std::iter::repeat_n(0, between));
    random_voice(s, (0.9, 1.1), (1.0, 1.15));
    let english = s.range(2000.0, 3000.0);
    s.phrases(&mut x, english, 280.0, level);
    x.resize(x.len().max(s.samples_for_ms(total)), 0);
    (Verdict::Machine, "carrier-prompt-hi", x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcm;

    #[test]
    fn same_seed_same_samples_other_seed_other_samples() {
        let a = Synth::new(42).speech(4000, -20.0);
        let b = Synth::new(42).speech(4000, -20.0);
        let c = Synth::new(43).speech(4000, -20.0);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tone_and_noise_levels_are_as_asked() {
        let mut s = Synth::new(1);
        assert!((pcm::level_dbfs(&s.tone(1000.0, -20.0, 8000)) - (-20.0)).abs() < 0.1);
        assert!((pcm::level_dbfs(&s.noise(8000, -30.0)) - (-30.0)).abs() < 0.3);
        assert!((pcm::level_dbfs(&s.comfort_noise(16000, -40.0)) - (-40.0)).abs() < 0.7);
    }

    #[test]
    fn speech_has_syllable_rate_modulation_and_gaps() {
        let x = Synth::new(5).speech(16000, -20.0);
        assert_eq!(x.len(), 16000);
        let levels: Vec<f32> = x.chunks(160).map(pcm::level_dbfs).collect();
        let loud = levels.iter().filter(|&&l| l > -30.0).count();
        let quiet = levels.iter().filter(|&&l| l < -45.0).count();
        // Mostly voiced, with real dips between words.
        assert!(loud > 40, "{loud}");
        assert!(quiet > 5, "{quiet}");
        let voiced: Vec<i16> = x
            .chunks(160)
            .filter(|c| pcm::level_dbfs(c) > -30.0)
            .flatten()
            .copied()
            .collect();
        let l = pcm::level_dbfs(&voiced);
        assert!((-26.0..-14.0).contains(&l), "{l}");
    }

    #[test]
    fn dtmf_digits_and_invalid_ones() {
        let mut s = Synth::new(1);
        assert_eq!(dtmf_frequencies('5'), Some((770.0, 1336.0)));
        assert_eq!(dtmf_frequencies('d'), Some((941.0, 1633.0)));
        assert_eq!(dtmf_frequencies('x'), None);
        assert_eq!(s.dtmf('1', -10.0, 50.0).map(|v| v.len()), Some(400));
        assert_eq!(
            s.dtmf_sequence("12x", -10.0, 50.0, 50.0),
            Err(MediaError::InvalidDigit('x'))
        );
        assert_eq!(
            s.dtmf_sequence("12", -10.0, 50.0, 50.0).unwrap().len(),
            1600
        );
    }

    #[test]
    fn corpus_is_balanced_and_deterministic() {
        let a = amd_corpus(9, 20);
        let b = amd_corpus(9, 20);
        assert_eq!(a.len(), 20);
        assert_eq!(a.iter().filter(|c| c.label == Verdict::Human).count(), 10);
        assert!(a.iter().all(|c| c.samples.len() >= 64000));
        assert!(a.iter().zip(&b).all(|(x, y)| x.samples == y.samples));
    }
}
