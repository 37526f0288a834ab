//! Streaming polyphase FIR resamplers for telephony rates.
//!
//! Every resampler here is one rational polyphase filter (`L` up, `M` down):
//! a linear-phase Kaiser-windowed-sinc low-pass designed at construction for
//! the high rate `L * in_rate`, split into `L` phases, so each output costs
//! one dot product of `ceil(taps / L)` samples and no zero-stuffed or
//! discarded sample is ever computed.
//!
//! | type | rates | taps | delay |
//! |---|---|---|---|
//! | [`Upsampler2x`] | 8 kHz → 16 kHz | 59 | 29 out samples = 1.81 ms |
//! | [`Decimator3x`] | 24 kHz → 8 kHz | 91 | 15 out samples = 1.875 ms |
//! | [`Decimator2x`] | 16 kHz → 8 kHz | 61 | 15 out samples = 1.875 ms |
//! | [`Resampler`] | any `in/out` reducing to `L, M <= 6`, or passthrough | | |
//!
//! Design targets (for the 8 kHz side): passband 0–3400 Hz flat to a few
//! thousandths of a dB, stopband from 4600 Hz (the mirror of 3400 Hz about
//! 4 kHz) attenuated by about 70 dB, so a 5 kHz or 7 kHz tone at 24 kHz does
//! not come out as a 3 kHz or 1 kHz alias (measured: −75 dB and −78 dB).
//! Content between 4.0 and 4.6 kHz is only partly removed and folds into
//! 3.4–4.0 kHz, above the telephone passband; closing that gap too would
//! take about 150 taps and 3 ms of delay for the 24 kHz decimator. The tap count is the Kaiser
//! estimate for that attenuation, rounded so the group delay is a whole
//! number of output samples (a click at input sample `k*M/L` comes out at
//! output sample `k + delay_samples()`).
//!
//! # Cost
//!
//! Only non-zero taps are multiplied (the 2x upsampler is a half-band
//! filter: one of its two phases is a single tap). Whole blocks of outputs
//! go through block kernels that vectorise across outputs — consecutive
//! outputs of an upsampler phase slide by one input sample; a decimator's
//! input is split into `down` streams so that it becomes `down` ordinary
//! FIRs — and the rest one dot product at a time. Measured per 20 ms on
//! the 2-core machine (x86-64 baseline, SSE2): 8→16 kHz about 0.75 µs,
//! 24→8 kHz about 1.7 µs.
//!
//! Arithmetic is fixed point: i16 history, i16 coefficients (Q14 or Q15,
//! picked so the i32 accumulator provably cannot overflow), rounded and
//! saturated to i16. Each output is a function of the same input window
//! whatever the chunking, so processing a stream in 20 ms frames gives
//! bit-for-bit the output of processing it in one piece.
//!
//! # Driving one
//!
//! Keep one resampler per direction for the life of the call. Feed every
//! chunk with [`Upsampler2x::process`] (or `process_into` with a buffer of at
//! least `output_len(input.len())`); on a barge-in `clear` call `reset` so
//! stale history does not bleed into the next turn; at the end of a turn call
//! `flush` to emit the last `delay()` worth of audio.

use std::time::Duration;

use crate::MediaError;

/// Stopband attenuation the Kaiser design aims for, in dB.
const ATTENUATION_DB: f64 = 70.0;
/// Passband edge as a fraction of the lower of the two rates (3400 Hz at 8 kHz).
const PASS_FRACTION: f64 = 0.425;
/// Stopband edge as a fraction of the lower rate (4600 Hz at 8 kHz).
const STOP_FRACTION: f64 = 0.575;
/// Largest up or down factor [`Resampler::new`] accepts.
const MAX_FACTOR: u32 = 6;

/// The shared polyphase engine.
#[derive(Debug, Clone)]
struct Polyphase {
    in_rate: u32,
    out_rate: u32,
    /// Interpolation factor `L`.
    up: usize,
    /// Decimation factor `M`.
    down: usize,
    /// Taps of the prototype filter.
    taps: usize,
    /// Taps per phase, `ceil(taps / up)` rounded up to a multiple of 16;
    /// every phase is zero-padded (at its oldest end) to it.
    per_phase: usize,
    /// `up` phases of `per_phase` coefficients each, each phase reversed so a
    /// window of the history in time order multiplies it directly.
    coefs: Vec<i16>,
    /// Fixed-point shift of `coefs` (14 or 15).
    shift: u32,
    /// Per phase, the `(start, len)` of its coefficients worth
    /// multiplying: the non-zero span, widened to a multiple of 16 when
    /// that fits (the dot product then runs in whole SIMD blocks). A
    /// half-band 2x upsampler's second phase is a single tap.
    spans: Vec<(usize, usize)>,
    /// Per phase `r`, how the position moves after an output of phase
    /// `r`: `(input samples to advance, next phase)`, i.e. the quotient
    /// and remainder of `(r + down) / up` (no division per sample).
    steps: Vec<(usize, usize)>,
    /// Decimators (`up == 1`) only: the span of the single phase split
    /// into `down` sub-filters, `sub[m][k] = span[k * down + m]` (zero
    /// padded to equal length), for the block kernel.
    sub: Vec<Vec<i16>>,
    /// Decimators only: the history split into `down` streams, reused.
    streams: Vec<Vec<i16>>,
    /// Input history. Index `i` holds stream sample `base + i`; it always
    /// starts with the `per_phase - 1` samples before the next window.
    hist: Vec<i16>,
    /// History index of the newest input sample the next output needs.
    /// Invariant: `q >= per_phase - 1`.
    q: usize,
    /// Phase of the next output, `0..up`.
    r: usize,
}

impl Polyphase {
    fn new(in_rate: u32, out_rate: u32, up: usize, down: usize) -> Self {
        let high_rate = f64::from(in_rate) * up as f64;
        let low = f64::from(in_rate.min(out_rate));
        let transition = (STOP_FRACTION - PASS_FRACTION) * low;
        let d_omega = 2.0 * std::f64::consts::PI * transition / high_rate;
        // Kaiser's estimate of the order for the wanted attenuation.
        let order = ((ATTENUATION_DB - 7.95) / (2.285 * d_omega)).ceil() as usize;
        // Round the half order up to a multiple of `down`: whole-sample delay.
        let half = order.div_ceil(2).div_ceil(down) * down;
        let taps = 2 * half + 1;
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let cutoff = 0.5 * low / high_rate; // cycles per high-rate sample
        let proto = kaiser_lowpass(taps, cutoff, beta, up as f64);

        // Padded to a multiple of 16 with zero (oldest) taps, so every
        // phase's dot product can run in whole blocks.
        let per_phase = taps.div_ceil(up).next_multiple_of(16);
        // Pick the largest shift whose coefficients fit i16 and whose worst
        // case accumulation fits i32.
        let max_abs = proto.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        let worst_phase_sum = (0..up)
            .map(|r| {
                proto
                    .iter()
                    .skip(r)
                    .step_by(up)
                    .map(|c| c.abs())
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        let mut shift = 15;
        while shift > 8
            && (max_abs * f64::from(1u32 << shift) > 32767.0
                || (worst_phase_sum * f64::from(1u32 << shift) + per_phase as f64 / 2.0) * 32768.0
                    > f64::from(i32::MAX))
        {
            shift -= 1;
        }
        let scale = f64::from(1u32 << shift);
        let mut coefs = vec![0i16; up * per_phase];
        for r in 0..up {
            for i in 0..per_phase {
                let k = r + (per_phase - 1 - i) * up;
                if k < taps {
                    coefs[r * per_phase + i] = (proto[k] * scale).round() as i16;
                }
            }
        }
        let spans: Vec<(usize, usize)> = (0..up)
            .map(|r| {
                let phase = &coefs[r * per_phase..(r + 1) * per_phase];
                let Some(first) = phase.iter().position(|&c| c != 0) else {
                    return (0, 0);
                };
                let end = phase.iter().rposition(|&c| c != 0).map_or(first, |i| i + 1);
                let len = end - first;
                let wide = len.next_multiple_of(16);
                if len >= 16 && wide <= end {
                    (end - wide, wide)
                } else {
                    (first, len)
                }
            })
            .collect();
        let steps = (0..up)
            .map(|r| ((r + down) / up, (r + down) % up))
            .collect();
        let sub: Vec<Vec<i16>> = if up == 1 {
            let (start, len) = spans[0];
            let span = &coefs[start..start + len];
            let sub_len = len.div_ceil(down);
            (0..down)
                .map(|m| {
                    (0..sub_len)
                        .map(|k| span.get(k * down + m).copied().unwrap_or(0))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let streams = vec![Vec::new(); sub.len()];
        let mut p = Self {
            in_rate,
            out_rate,
            up,
            down,
            taps,
            per_phase,
            coefs,
            shift,
            spans,
            steps,
            sub,
            streams,
            hist: Vec::new(),
            q: 0,
            r: 0,
        };
        p.reset();
        p
    }

    fn reset(&mut self) {
        self.hist.clear();
        self.hist.resize(self.per_phase - 1, 0);
        self.q = self.per_phase - 1;
        self.r = 0;
    }

    fn output_len(&self, input_len: usize) -> usize {
        let avail = (self.hist.len() + input_len) * self.up;
        let pos = self.q * self.up + self.r;
        avail.saturating_sub(pos).div_ceil(self.down)
    }

    /// Computes `out.len()` outputs (the caller has appended the input to
    /// `hist` and checked that many are available): whole blocks with the
    /// block kernels, the rest one by one.
    fn fill(&mut self, out: &mut [i16]) {
        let done = if self.down == 1 {
            self.fill_upsampling(out)
        } else if self.up == 1 {
            self.fill_decimating(out)
        } else {
            0
        };
        self.fill_one_by_one(&mut out[done..]);
    }

    #[inline]
    fn round(&self, acc: i32) -> i16 {
        round(acc, self.shift)
    }

    /// `down == 1`: consecutive outputs of one phase slide their window by
    /// one input sample, so [`fir_block`] computes `BLOCK` of them at once
    /// per phase, vectorised across outputs. Returns the outputs written.
    fn fill_upsampling(&mut self, out: &mut [i16]) -> usize {
        if self.r != 0 {
            return 0;
        }
        let (p, up) = (self.per_phase, self.up);
        let blocks = out.len() / (BLOCK * up);
        for (b, chunk) in out.chunks_exact_mut(BLOCK * up).take(blocks).enumerate() {
            let q = self.q + b * BLOCK;
            for r in 0..up {
                let (start, len) = self.spans[r];
                let w = q + 1 - p + start;
                let mut acc = [0i32; BLOCK];
                fir_block(
                    &self.coefs[r * p + start..r * p + start + len],
                    &self.hist[w..w + BLOCK - 1 + len],
                    &mut acc,
                );
                let y = round_block(&acc, self.shift);
                for (o, &v) in chunk.iter_mut().skip(r).step_by(up).zip(&y) {
                    *o = v;
                }
            }
        }
        self.q += blocks * BLOCK;
        blocks * BLOCK * up
    }

    /// `up == 1`: output `j` needs input `j * down + i` for tap `i`; split
    /// the history into `down` streams (`s_m[t] = x[t * down + m]`) and
    /// output `j` is `sum_m sum_k sub_m[k] * s_m[j + k]`: `down` ordinary
    /// FIRs, each vectorised across outputs by [`fir_block`].
    fn fill_decimating(&mut self, out: &mut [i16]) -> usize {
        let (p, d) = (self.per_phase, self.down);
        let blocks = out.len() / BLOCK;
        if blocks == 0 || self.sub.is_empty() {
            return 0;
        }
        let n = blocks * BLOCK;
        let sub_len = self.sub[0].len();
        let (start, _) = self.spans[0];
        let w0 = self.q + 1 - p + start;
        // Stream `m` needs `n + sub_len - 1` samples from `w0 + m`; missing
        // ones (past the history) only ever meet zero taps.
        let want = n + sub_len - 1;
        let have = ((self.hist.len() - w0) / d).min(want);
        for stream in &mut self.streams {
            stream.clear();
            stream.resize(want, 0);
        }
        for (t, frame) in self.hist[w0..w0 + have * d].chunks_exact(d).enumerate() {
            for (stream, &v) in self.streams.iter_mut().zip(frame) {
                stream[t] = v;
            }
        }
        // A last partial frame (only ever meets zero taps, but kept exact).
        for (m, stream) in self.streams.iter_mut().enumerate() {
            if have < want
                && let Some(&v) = self.hist.get(w0 + have * d + m)
            {
                stream[have] = v;
            }
        }
        for (b, chunk) in out[..n].chunks_exact_mut(BLOCK).enumerate() {
            let mut acc = [0i32; BLOCK];
            for (h, stream) in self.sub.iter().zip(&self.streams) {
                fir_block(
                    h,
                    &stream[b * BLOCK..b * BLOCK + BLOCK - 1 + sub_len],
                    &mut acc,
                );
            }
            chunk.copy_from_slice(&round_block(&acc, self.shift));
        }
        self.q += n * d;
        n
    }

    /// The general case, one output at a time.
    fn fill_one_by_one(&mut self, out: &mut [i16]) {
        let p = self.per_phase;
        let (mut q, mut r) = (self.q, self.r);
        for o in out.iter_mut() {
            let (start, len) = self.spans[r];
            // Window of the `p` samples ending at `q`; phase `r` only needs
            // its span of it.
            let w = q + 1 - p + start;
            let c = r * p + start;
            *o = self.round(dot(&self.hist[w..w + len], &self.coefs[c..c + len]));
            let (dq, nr) = self.steps[r];
            q += dq;
            r = nr;
        }
        self.q = q;
        self.r = r;
    }

    fn trim(&mut self) {
        let keep_from = (self.q + 1 - self.per_phase).min(self.hist.len());
        self.hist.drain(..keep_from);
        self.q -= keep_from;
    }

    fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let n = self.output_len(input.len());
        self.hist.extend_from_slice(input);
        let old = out.len();
        out.resize(old + n, 0);
        self.fill(&mut out[old..]);
        self.trim();
    }

    fn process_into(&mut self, input: &[i16], out: &mut [i16]) -> Result<usize, MediaError> {
        let needed = self.output_len(input.len());
        if out.len() < needed {
            return Err(MediaError::OutputTooSmall {
                needed,
                got: out.len(),
            });
        }
        self.hist.extend_from_slice(input);
        self.fill(&mut out[..needed]);
        self.trim();
        Ok(needed)
    }

    /// Group delay of the prototype in high-rate samples.
    fn half(&self) -> usize {
        (self.taps - 1) / 2
    }

    fn delay_samples(&self) -> f64 {
        self.half() as f64 / self.down as f64
    }

    fn delay(&self) -> Duration {
        let high_rate = u64::from(self.in_rate) * self.up as u64;
        Duration::from_nanos(self.half() as u64 * 1_000_000_000 / high_rate)
    }

    fn flush(&mut self, out: &mut Vec<i16>) {
        let zeros = self.half().div_ceil(self.up);
        let pad = vec![0i16; zeros];
        self.process(&pad, out);
        self.reset();
    }
}

/// Rounds a Q`shift` accumulator to i16, saturating. The `min` keeps the
/// rounding add from overflowing; an accumulator that large clamps to
/// `i16::MAX` either way, so this equals rounding in i64.
#[inline]
fn round(acc: i32, shift: u32) -> i16 {
    let half = 1i32 << (shift - 1);
    ((acc.min(i32::MAX - half) + half) >> shift).clamp(i32::from(i16::MIN), i32::from(i16::MAX))
        as i16
}

/// [`round`] over a block (vectorises: `packssdw` does the clamp).
#[inline]
fn round_block(acc: &[i32; BLOCK], shift: u32) -> [i16; BLOCK] {
    let mut y = [0i16; BLOCK];
    for (o, &a) in y.iter_mut().zip(acc) {
        *o = round(a, shift);
    }
    y
}

/// Outputs per block of the block kernels.
const BLOCK: usize = 16;

/// `acc[j] += sum_i h[i] * x[j + i]` for every `j < BLOCK`
/// (`x.len() == BLOCK + h.len() - 1`): a FIR over `BLOCK` consecutive
/// outputs, with the inner loop across outputs so it vectorises on any
/// target (one broadcast tap times `BLOCK` contiguous samples). Wrapping,
/// like [`dot`], so the result is bit-exact with it.
#[inline]
fn fir_block(h: &[i16], x: &[i16], acc: &mut [i32; BLOCK]) {
    for (w, &c) in x.windows(BLOCK).zip(h) {
        let c = i32::from(c);
        let Ok(w) = <&[i16; BLOCK]>::try_from(w) else {
            continue;
        };
        for j in 0..BLOCK {
            acc[j] = acc[j].wrapping_add(c * i32::from(w[j]));
        }
    }
}

/// Dot product with an i32 accumulator. Callers guarantee no overflow (see
/// the shift choice in `Polyphase::new`); wrapping keeps debug builds
/// panic-free regardless, and makes the sum independent of its order.
///
/// A plain reduction on purpose: LLVM's loop vectoriser turns exactly this
/// shape into `pmaddwd` (SSE2, the baseline x86-64 target) with several
/// accumulators, where hand-split lanes were left scalar once inlined
/// (checked with `perf annotate` on the `bench` profile).
#[inline]
fn dot(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        s.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// Kaiser-windowed sinc low-pass with `taps` taps, cutoff in cycles per
/// sample, DC gain `gain`.
fn kaiser_lowpass(taps: usize, cutoff: f64, beta: f64, gain: f64) -> Vec<f64> {
    let centre = (taps - 1) as f64 / 2.0;
    let i0_beta = bessel_i0(beta);
    let mut h: Vec<f64> = (0..taps)
        .map(|k| {
            let x = k as f64 - centre;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
            };
            let ratio = if centre > 0.0 { x / centre } else { 0.0 };
            let w = bessel_i0(beta * (1.0 - ratio * ratio).max(0.0).sqrt()) / i0_beta;
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    if sum != 0.0 {
        for c in &mut h {
            *c *= gain / sum;
        }
    }
    h
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / k as f64;
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Writes the common streaming methods of a resampler wrapping `Polyphase`.
macro_rules! polyphase_methods {
    () => {
        /// Resamples `input`, appending every output it completes to `out`.
        /// State carries over to the next call, so chunking does not change
        /// the output.
        pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
            self.0.process(input, out);
        }

        /// Resamples `input` into `out` without allocating; returns how many
        /// samples were written, or [`MediaError::OutputTooSmall`] (nothing
        /// consumed) when `out` is shorter than `output_len(input.len())`.
        pub fn process_into(
            &mut self,
            input: &[i16],
            out: &mut [i16],
        ) -> Result<usize, MediaError> {
            self.0.process_into(input, out)
        }

        /// Exact number of samples the next `process(input)` call with
        /// `input_len` samples will produce.
        pub fn output_len(&self, input_len: usize) -> usize {
            self.0.output_len(input_len)
        }

        /// Forgets all history (on interruption / `clear`): the next sample
        /// is filtered as if the stream started there.
        pub fn reset(&mut self) {
            self.0.reset();
        }

        /// Emits the audio still held in the filter (about `delay()` worth)
        /// by feeding silence, then resets.
        pub fn flush(&mut self, out: &mut Vec<i16>) {
            self.0.flush(out);
        }

        /// Algorithmic (group) delay in output samples.
        pub fn delay_samples(&self) -> f64 {
            self.0.delay_samples()
        }

        /// Algorithmic (group) delay as a duration.
        pub fn delay(&self) -> Duration {
            self.0.delay()
        }

        /// Number of taps of the prototype low-pass filter.
        pub fn taps(&self) -> usize {
            self.0.taps
        }

        /// Input sample rate in Hz.
        pub fn input_rate(&self) -> u32 {
            self.0.in_rate
        }

        /// Output sample rate in Hz.
        pub fn output_rate(&self) -> u32 {
            self.0.out_rate
        }
    };
}

/// 8 kHz → 16 kHz: zero-stuffing by two and a 59-tap low-pass at 4 kHz,
/// computed as two polyphase branches (caller audio to a 16 kHz model).
#[derive(Debug, Clone)]
pub struct Upsampler2x(Polyphase);

impl Upsampler2x {
    /// A fresh upsampler with empty history.
    pub fn new() -> Self {
        Self(Polyphase::new(8000, 16000, 2, 1))
    }
    polyphase_methods!();
}

impl Default for Upsampler2x {
    fn default() -> Self {
        Self::new()
    }
}

/// 24 kHz → 8 kHz: a 91-tap anti-alias low-pass (pass 3.4 kHz, stop
/// 4.6 kHz) keeping every third sample; only kept outputs are computed
/// (model audio to the phone).
#[derive(Debug, Clone)]
pub struct Decimator3x(Polyphase);

impl Decimator3x {
    /// A fresh decimator with empty history.
    pub fn new() -> Self {
        Self(Polyphase::new(24000, 8000, 1, 3))
    }
    polyphase_methods!();
}

impl Default for Decimator3x {
    fn default() -> Self {
        Self::new()
    }
}

/// 16 kHz → 8 kHz: a 61-tap anti-alias low-pass keeping every second sample.
#[derive(Debug, Clone)]
pub struct Decimator2x(Polyphase);

impl Decimator2x {
    /// A fresh decimator with empty history.
    pub fn new() -> Self {
        Self(Polyphase::new(16000, 8000, 1, 2))
    }
    polyphase_methods!();
}

impl Default for Decimator2x {
    fn default() -> Self {
        Self::new()
    }
}

/// A resampler picked by `(in_rate, out_rate)`, for bridges whose provider
/// and model formats are only known at run time.
#[derive(Debug, Clone)]
pub struct Resampler(Kind);

#[derive(Debug, Clone)]
enum Kind {
    Passthrough { rate: u32 },
    Polyphase(Box<Polyphase>),
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz. Equal rates give a
    /// passthrough; otherwise the reduced ratio `out/in = L/M` must have
    /// `L, M <= 6` (8k↔16k, 24k→8k, 16k↔24k, 8k↔48k, …).
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, MediaError> {
        if in_rate == 0 || out_rate == 0 {
            return Err(MediaError::UnsupportedRate { in_rate, out_rate });
        }
        if in_rate == out_rate {
            return Ok(Self(Kind::Passthrough { rate: in_rate }));
        }
        let g = gcd(in_rate, out_rate);
        let (up, down) = (out_rate / g, in_rate / g);
        if up > MAX_FACTOR || down > MAX_FACTOR {
            return Err(MediaError::UnsupportedRate { in_rate, out_rate });
        }
        Ok(Self(Kind::Polyphase(Box::new(Polyphase::new(
            in_rate,
            out_rate,
            up as usize,
            down as usize,
        )))))
    }

    /// Resamples `input`, appending the outputs to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match &mut self.0 {
            Kind::Passthrough { .. } => out.extend_from_slice(input),
            Kind::Polyphase(p) => p.process(input, out),
        }
    }

    /// Resamples into `out` without allocating; see
    /// [`Upsampler2x::process_into`].
    pub fn process_into(&mut self, input: &[i16], out: &mut [i16]) -> Result<usize, MediaError> {
        match &mut self.0 {
            Kind::Passthrough { .. } => {
                if out.len() < input.len() {
                    return Err(MediaError::OutputTooSmall {
                        needed: input.len(),
                        got: out.len(),
                    });
                }
                out[..input.len()].copy_from_slice(input);
                Ok(input.len())
            }
            Kind::Polyphase(p) => p.process_into(input, out),
        }
    }

    /// Exact number of outputs the next call with `input_len` samples gives.
    pub fn output_len(&self, input_len: usize) -> usize {
        match &self.0 {
            Kind::Passthrough { .. } => input_len,
            Kind::Polyphase(p) => p.output_len(input_len),
        }
    }

    /// Forgets all history (on interruption / `clear`).
    pub fn reset(&mut self) {
        if let Kind::Polyphase(p) = &mut self.0 {
            p.reset();
        }
    }

    /// Emits what the filter still holds, then resets.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if let Kind::Polyphase(p) = &mut self.0 {
            p.flush(out);
        }
    }

    /// Algorithmic delay in output samples (0 for a passthrough).
    pub fn delay_samples(&self) -> f64 {
        match &self.0 {
            Kind::Passthrough { .. } => 0.0,
            Kind::Polyphase(p) => p.delay_samples(),
        }
    }

    /// Algorithmic delay as a duration (zero for a passthrough).
    pub fn delay(&self) -> Duration {
        match &self.0 {
            Kind::Passthrough { .. } => Duration::ZERO,
            Kind::Polyphase(p) => p.delay(),
        }
    }

    /// Whether this resampler copies its input unchanged.
    pub fn is_passthrough(&self) -> bool {
        matches!(self.0, Kind::Passthrough { .. })
    }

    /// Input sample rate in Hz.
    pub fn input_rate(&self) -> u32 {
        match &self.0 {
            Kind::Passthrough { rate } => *rate,
            Kind::Polyphase(p) => p.in_rate,
        }
    }

    /// Output sample rate in Hz.
    pub fn output_rate(&self) -> u32 {
        match &self.0 {
            Kind::Passthrough { rate } => *rate,
            Kind::Polyphase(p) => p.out_rate,
        }
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sine(freq: f64, rate: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin()).round() as i16
            })
            .collect()
    }

    /// Amplitude of the `freq` component of `x` (Hann-windowed DFT bin).
    fn amplitude_at(x: &[i16], freq: f64, rate: f64) -> f64 {
        let n = x.len() as f64;
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
            let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / rate;
            re += w * f64::from(s) * ph.cos();
            im += w * f64::from(s) * ph.sin();
            wsum += w;
        }
        2.0 * (re * re + im * im).sqrt() / wsum
    }

    fn run_in_frames<F: FnMut(&[i16], &mut Vec<i16>)>(
        x: &[i16],
        frame: usize,
        mut f: F,
    ) -> Vec<i16> {
        let mut out = Vec::new();
        for chunk in x.chunks(frame) {
            f(chunk, &mut out);
        }
        out
    }

    /// Gain in dB of a tone at `f` through a resampler from `in_rate`.
    fn gain_db(mut r: Resampler, f: f64) -> f64 {
        let in_rate = f64::from(r.input_rate());
        let out_rate = f64::from(r.output_rate());
        let x = sine(f, in_rate, 10000.0, r.input_rate() as usize / 2);
        let y = run_in_frames(&x, r.input_rate() as usize / 50, |c, o| r.process(c, o));
        let skip = 200;
        20.0 * (amplitude_at(&y[skip..], f, out_rate) / amplitude_at(&x[skip..], f, in_rate))
            .log10()
    }

    /// Level in dB (relative to the input tone) of what comes out at `probe`.
    fn leak_db(mut r: Resampler, f: f64, probe: f64) -> f64 {
        let in_rate = f64::from(r.input_rate());
        let out_rate = f64::from(r.output_rate());
        let x = sine(f, in_rate, 10000.0, r.input_rate() as usize / 2);
        let y = run_in_frames(&x, r.input_rate() as usize / 50, |c, o| r.process(c, o));
        20.0 * (amplitude_at(&y[200..], probe, out_rate).max(1e-3) / 10000.0).log10()
    }

    #[test]
    fn designs_have_the_documented_taps_and_delay() {
        let up = Upsampler2x::new();
        assert_eq!((up.taps(), up.delay_samples()), (59, 29.0));
        assert_eq!(up.delay(), Duration::from_nanos(1_812_500));
        let d3 = Decimator3x::new();
        assert_eq!((d3.taps(), d3.delay_samples()), (91, 15.0));
        assert_eq!(d3.delay(), Duration::from_nanos(1_875_000));
        let d2 = Decimator2x::new();
        assert_eq!((d2.taps(), d2.delay_samples()), (61, 15.0));
        for r in [up.delay(), d3.delay(), d2.delay()] {
            assert!(r <= Duration::from_millis(5));
        }
    }

    #[test]
    fn passband_is_flat_within_a_tenth_of_a_db() {
        for (i, o) in [
            (8000, 16000),
            (24000, 8000),
            (16000, 8000),
            (16000, 24000),
            (24000, 16000),
        ] {
            for f in [300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
                let g = gain_db(Resampler::new(i, o).unwrap(), f);
                assert!(g.abs() < 0.1, "{i}->{o} at {f} Hz: {g:.3} dB");
            }
        }
    }

    #[test]
    fn decimator_rejects_aliases_by_at_least_60_db() {
        // (tone at 24 kHz, where its alias would land at 8 kHz)
        for (f, alias) in [
            (4600.0, 3400.0),
            (5000.0, 3000.0),
            (7000.0, 1000.0),
            (9000.0, 1000.0),
            (11500.0, 3500.0),
        ] {
            let db = leak_db(Resampler::new(24000, 8000).unwrap(), f, alias);
            assert!(db < -60.0, "{f} Hz leaks as {alias} Hz at {db:.1} dB");
        }
        for (f, alias) in [(5000.0, 3000.0), (7000.0, 1000.0)] {
            let db = leak_db(Resampler::new(16000, 8000).unwrap(), f, alias);
            assert!(db < -60.0, "16k: {f} Hz leaks as {alias} Hz at {db:.1} dB");
        }
    }

    #[test]
    fn naive_decimation_would_alias_which_the_test_can_see() {
        // Sanity check of the measurement: every third sample of a 5 kHz tone
        // is a full-level 3 kHz tone.
        let x = sine(5000.0, 24000.0, 10000.0, 12000);
        let naive: Vec<i16> = x.iter().step_by(3).copied().collect();
        let db = 20.0 * (amplitude_at(&naive, 3000.0, 8000.0) / 10000.0).log10();
        assert!(db > -1.0, "{db}");
    }

    #[test]
    fn upsampler_rejects_images_by_at_least_60_db() {
        for (f, image) in [
            (300.0, 7700.0),
            (1000.0, 7000.0),
            (3000.0, 5000.0),
            (3400.0, 4600.0),
        ] {
            let db = leak_db(Resampler::new(8000, 16000).unwrap(), f, image);
            assert!(db < -60.0, "{f} Hz images at {image} Hz: {db:.1} dB");
        }
    }

    #[test]
    fn frames_and_one_piece_are_bit_exact() {
        let x: Vec<i16> = sine(1234.0, 24000.0, 20000.0, 4801)
            .iter()
            .zip(sine(6100.0, 24000.0, 9000.0, 4801))
            .map(|(a, b)| a.saturating_add(b))
            .collect();
        for (i, o) in [
            (24000, 8000),
            (8000, 16000),
            (16000, 8000),
            (24000, 16000),
            (8000, 24000),
        ] {
            let mut whole = Resampler::new(i, o).unwrap();
            let mut a = Vec::new();
            whole.process(&x, &mut a);
            for frame in [1, 7, 160, 480, 333] {
                let mut r = Resampler::new(i, o).unwrap();
                let b = run_in_frames(&x, frame, |c, out| r.process(c, out));
                assert_eq!(a, b, "{i}->{o} frame {frame}");
            }
        }
    }

    #[test]
    fn twenty_ms_frames_give_whole_output_frames() {
        let mut d = Decimator3x::new();
        let mut u = Upsampler2x::new();
        for _ in 0..5 {
            let mut out = Vec::new();
            d.process(&[100; 480], &mut out);
            assert_eq!(out.len(), 160);
            let mut up = Vec::new();
            u.process(&[100; 160], &mut up);
            assert_eq!(up.len(), 320);
        }
    }

    #[test]
    fn click_comes_out_after_the_reported_delay() {
        // GIVEN a click at input sample 3*40 (24k), 40 (8k), 2*40 (16k)
        // THEN the output peak is at 40 + delay_samples().
        let cases: [(Resampler, usize); 3] = [
            (Resampler::new(24000, 8000).unwrap(), 120),
            (Resampler::new(8000, 16000).unwrap(), 20),
            (Resampler::new(16000, 8000).unwrap(), 80),
        ];
        for (mut r, at) in cases {
            let mut x = vec![0i16; at * 8];
            x[at] = 20000;
            let mut y = Vec::new();
            r.process(&x, &mut y);
            let peak = y
                .iter()
                .enumerate()
                .max_by_key(|(_, v)| v.unsigned_abs())
                .map(|(i, _)| i)
                .unwrap();
            let expected_click = at * r.output_rate() as usize / r.input_rate() as usize;
            assert_eq!(
                peak as f64,
                expected_click as f64 + r.delay_samples(),
                "{:?}",
                r.output_rate()
            );
        }
    }

    #[test]
    fn reset_forgets_history_and_flush_drains_it() {
        let loud = sine(1000.0, 24000.0, 20000.0, 480);
        let mut d = Decimator3x::new();
        let mut out = Vec::new();
        d.process(&loud, &mut out);
        // Without reset, silence after a tone still rings for `delay` samples.
        let mut tail = Vec::new();
        d.clone().process(&[0; 480], &mut tail);
        assert!(tail[..15].iter().any(|&v| v.abs() > 1000));
        // After reset, silence in gives exact silence out.
        d.reset();
        let mut after = Vec::new();
        d.process(&[0; 480], &mut after);
        assert!(after.iter().all(|&v| v == 0));
        // After reset the output equals a fresh decimator's.
        let mut fresh = Decimator3x::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        d.process(&loud, &mut a);
        fresh.process(&loud, &mut b);
        assert_eq!(a, b);
        // Flush emits the ringing tail (aligned with the last input), then resets.
        let mut flushed = Vec::new();
        d.flush(&mut flushed);
        assert_eq!(flushed.len(), 15);
        assert_eq!(flushed, tail[..15]);
        let mut again = Vec::new();
        d.process(&[0; 48], &mut again);
        assert!(again.iter().all(|&v| v == 0));
    }

    #[test]
    fn process_into_matches_process_and_refuses_small_buffers() {
        let x = sine(700.0, 8000.0, 12000.0, 500);
        let mut a = Upsampler2x::new();
        let mut b = Upsampler2x::new();
        let mut va = Vec::new();
        a.process(&x, &mut va);
        let mut buf = [0i16; 1000];
        assert_eq!(
            b.process_into(&x, &mut buf[..10]),
            Err(MediaError::OutputTooSmall {
                needed: 1000,
                got: 10
            })
        );
        assert_eq!(b.process_into(&x, &mut buf), Ok(1000));
        assert_eq!(va, buf);
        let mut p = Resampler::new(8000, 8000).unwrap();
        assert!(p.is_passthrough());
        assert!(p.process_into(&x, &mut buf[..10]).is_err());
        let mut o = [0i16; 3];
        assert_eq!(p.process_into(&[1, 2, 3], &mut o), Ok(3));
        assert_eq!(o, [1, 2, 3]);
    }

    #[test]
    fn unsupported_rates_are_errors() {
        assert!(Resampler::new(0, 8000).is_err());
        assert!(Resampler::new(44100, 8000).is_err());
        assert!(Resampler::new(8000, 8000).is_ok());
        assert!(Resampler::new(48000, 8000).is_ok());
        assert_eq!(Resampler::new(8000, 8000).unwrap().delay(), Duration::ZERO);
    }

    #[test]
    fn full_scale_input_saturates_instead_of_wrapping() {
        // A 50 Hz full-scale square wave: mid-plateau outputs must sit at the
        // plateau's rail (a wrapped accumulator would flip their sign).
        for (i, o) in [(24000u32, 8000u32), (8000, 16000), (16000, 8000)] {
            let period = (i / 50) as usize;
            let square: Vec<i16> = (0..period * 4)
                .map(|n| {
                    if (n / (period / 2)).is_multiple_of(2) {
                        i16::MAX
                    } else {
                        i16::MIN
                    }
                })
                .collect();
            let mut r = Resampler::new(i, o).unwrap();
            let mut y = Vec::new();
            r.process(&square, &mut y);
            let delay = r.delay_samples();
            let mut checked = 0;
            for (n, &v) in y.iter().enumerate() {
                let t_in = ((n as f64 - delay) * f64::from(i) / f64::from(o)).round() as i64;
                let phase = t_in.rem_euclid(period as i64 / 2);
                if t_in < 0 || !(period as i64 / 8..period as i64 * 3 / 8).contains(&phase) {
                    continue;
                }
                let positive = (t_in as usize / (period / 2)).is_multiple_of(2);
                assert_eq!(v > 0, positive, "{i}->{o} n={n} v={v}");
                assert!(v.unsigned_abs() > 30000, "{i}->{o} n={n} v={v}");
                checked += 1;
            }
            assert!(checked > 100);
        }
    }

    /// Pins the exact output (fixed point, so it is the same on every
    /// machine): optimisations of the filter loops must stay bit-exact.
    #[test]
    fn output_is_pinned() {
        use sha2::{Digest, Sha256};
        let x: Vec<i16> = sine(1234.0, 24000.0, 20000.0, 4800)
            .iter()
            .zip(sine(6100.0, 24000.0, 12000.0, 4800))
            .enumerate()
            .map(|(i, (a, b))| {
                if i % 997 == 5 {
                    i16::MIN
                } else {
                    a.saturating_add(b)
                }
            })
            .collect();
        let mut h = Sha256::new();
        for (i, o) in [
            (24000, 8000),
            (8000, 16000),
            (16000, 8000),
            (24000, 16000),
            (8000, 48000),
            (16000, 24000),
        ] {
            let mut r = Resampler::new(i, o).unwrap();
            let y = run_in_frames(&x, 333, |c, out| r.process(c, out));
            let mut tail = Vec::new();
            r.flush(&mut tail);
            for v in y.iter().chain(&tail) {
                h.update(v.to_le_bytes());
            }
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "c3b77f378d26b132d0e042ed92005ad3769f8c66b735a771e6ad123e934bef22"
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_length_is_predicted(
            rates in prop::sample::select(vec![(8000u32, 16000u32), (24000, 8000), (16000, 8000), (8000, 8000), (24000, 16000), (8000, 48000)]),
            frames in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..700), 0..6),
        ) {
            let mut r = Resampler::new(rates.0, rates.1).unwrap();
            let mut total_in = 0usize;
            let mut total_out = 0usize;
            for f in &frames {
                let predicted = r.output_len(f.len());
                let mut out = Vec::new();
                r.process(f, &mut out);
                prop_assert_eq!(out.len(), predicted);
                total_in += f.len();
                total_out += out.len();
            }
            // Output count tracks the rate ratio within one sample.
            let expected = total_in as f64 * f64::from(rates.1) / f64::from(rates.0);
            prop_assert!((total_out as f64 - expected).abs() <= 1.0);
        }
    }
}
