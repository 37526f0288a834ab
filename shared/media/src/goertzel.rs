//! The Goertzel algorithm: the power of one frequency over a block of samples,
//! at the cost of one multiply-add per sample.
//!
//! The target frequency need not fall on a DFT bin. [`Goertzel::power`]
//! works on a whole block; [`Goertzel::update`] / [`Goertzel::finish`] work
//! sample by sample for callers that cut their own blocks.

/// A Goertzel filter for one frequency at one sample rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goertzel {
    freq: f32,
    coeff: f32,
    cos: f32,
    sin: f32,
    s1: f32,
    s2: f32,
    n: u32,
}

impl Goertzel {
    /// A filter for `freq` Hz at `sample_rate` Hz.
    pub fn new(freq: f32, sample_rate: u32) -> Self {
        let w = 2.0 * std::f32::consts::PI * freq / sample_rate.max(1) as f32;
        Self {
            freq,
            coeff: 2.0 * w.cos(),
            cos: w.cos(),
            sin: w.sin(),
            s1: 0.0,
            s2: 0.0,
            n: 0,
        }
    }

    /// The frequency this filter listens to, Hz.
    pub fn freq(&self) -> f32 {
        self.freq
    }

    /// Feeds one sample.
    #[inline]
    pub fn update(&mut self, x: f32) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
        self.n += 1;
    }

    /// Squared magnitude of the DFT term at the frequency over the samples
    /// fed since the last reset.
    pub fn magnitude_squared(&self) -> f32 {
        (self.s1 * self.s1 + self.s2 * self.s2 - self.coeff * self.s1 * self.s2).max(0.0)
    }

    /// Amplitude of a sinusoid at the frequency that explains the samples fed
    /// since the last reset (`2 |X| / N`): a sine of amplitude `A` gives
    /// about `A` over a whole number of periods.
    pub fn amplitude(&self) -> f32 {
        if self.n == 0 {
            return 0.0;
        }
        2.0 * self.magnitude_squared().sqrt() / self.n as f32
    }

    /// Real and imaginary parts of the DFT term (phase-aware callers).
    pub fn complex(&self) -> (f32, f32) {
        (self.s1 - self.s2 * self.cos, self.s2 * self.sin)
    }

    /// Returns the squared magnitude and resets for the next block.
    pub fn finish(&mut self) -> f32 {
        let p = self.magnitude_squared();
        self.reset();
        p
    }

    /// Forgets the samples fed so far.
    pub fn reset(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.n = 0;
    }

    /// Squared magnitude over `block` (does not touch this filter's running
    /// state).
    pub fn power(&self, block: &[f32]) -> f32 {
        let mut g = *self;
        g.reset();
        for &x in block {
            g.update(x);
        }
        g.magnitude_squared()
    }

    /// Squared magnitude over a PCM `block`.
    pub fn power_i16(&self, block: &[i16]) -> f32 {
        let mut g = *self;
        g.reset();
        for &x in block {
            g.update(f32::from(x));
        }
        g.magnitude_squared()
    }
}

/// Energy of a block, `sum(x^2)`: what [`Goertzel::magnitude_squared`] is
/// compared with (a pure tone on an integer number of periods has
/// `|X|^2 = N * energy / 2`).
pub fn block_energy(block: &[f32]) -> f32 {
    block.iter().map(|x| x * x).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Synth;

    fn f(x: &[i16]) -> Vec<f32> {
        x.iter().map(|&v| f32::from(v)).collect()
    }

    #[test]
    fn amplitude_of_a_pure_tone() {
        let x = f(&Synth::new(1).tone(1000.0, -3.0103, 160)); // amplitude ~32767
        let mut g = Goertzel::new(1000.0, 8000);
        for &v in &x {
            g.update(v);
        }
        assert!((g.amplitude() - 32768.0).abs() < 100.0, "{}", g.amplitude());
        // N * E / 2 relation.
        let e = block_energy(&x);
        assert!((g.magnitude_squared() / (160.0 * e / 2.0) - 1.0).abs() < 0.01);
    }

    #[test]
    fn off_frequency_is_rejected_and_bin_free_frequencies_work() {
        let x = f(&Synth::new(1).tone(697.0, -10.0, 205));
        let on = Goertzel::new(697.0, 8000).power(&x);
        let off = Goertzel::new(941.0, 8000).power(&x);
        assert!(on > 300.0 * off, "on={on} off={off}");
        let (re, im) = {
            let mut g = Goertzel::new(697.0, 8000);
            x.iter().for_each(|&v| g.update(v));
            g.complex()
        };
        assert!(((re * re + im * im) / on - 1.0).abs() < 1e-3);
    }

    #[test]
    fn finish_resets_and_empty_is_zero() {
        let mut g = Goertzel::new(500.0, 8000);
        assert_eq!(g.amplitude(), 0.0);
        assert_eq!(g.power(&[]), 0.0);
        for v in f(&Synth::new(2).tone(500.0, -20.0, 80)) {
            g.update(v);
        }
        assert!(g.finish() > 0.0);
        assert_eq!(g.magnitude_squared(), 0.0);
        assert_eq!(Goertzel::new(1.0, 0).freq(), 1.0);
        let pcm = Synth::new(2).tone(500.0, -20.0, 80);
        assert_eq!(g.power_i16(&pcm), g.power(&f(&pcm)));
    }
}
