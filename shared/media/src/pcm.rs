//! PCM16 little-endian bytes ⇄ `i16` samples, levels, gain and mixing.
//!
//! Byte helpers never panic on odd lengths: a trailing odd byte is ignored by
//! the one-shot functions and carried to the next chunk by [`Pcm16Decoder`],
//! which is what a WebSocket stream of base64 chunks needs.

/// Number of whole samples in `bytes` (a trailing odd byte does not count).
pub fn sample_count(bytes: &[u8]) -> usize {
    bytes.len() / 2
}

/// Decodes `min(bytes.len() / 2, out.len())` little-endian samples into
/// `out`; returns how many were written. A trailing odd byte is ignored.
pub fn bytes_to_samples_into(bytes: &[u8], out: &mut [i16]) -> usize {
    let mut n = 0;
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = i16::from_le_bytes([pair[0], pair[1]]);
        n += 1;
    }
    n
}

/// Appends the little-endian samples of `bytes` to `out`. A trailing odd byte
/// is ignored.
pub fn bytes_to_samples_extend(bytes: &[u8], out: &mut Vec<i16>) {
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
    );
}

/// Decodes little-endian PCM16 bytes into a new vector. A trailing odd byte is
/// ignored.
pub fn bytes_to_samples(bytes: &[u8]) -> Vec<i16> {
    let mut out = Vec::with_capacity(bytes.len() / 2);
    bytes_to_samples_extend(bytes, &mut out);
    out
}

/// Writes `min(samples.len(), out.len() / 2)` samples as little-endian bytes
/// into `out`; returns how many samples were written.
pub fn samples_to_bytes_into(samples: &[i16], out: &mut [u8]) -> usize {
    let mut n = 0;
    for (pair, &s) in out.chunks_exact_mut(2).zip(samples) {
        pair.copy_from_slice(&s.to_le_bytes());
        n += 1;
    }
    n
}

/// Appends `samples` as little-endian bytes to `out`.
pub fn samples_to_bytes_extend(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// Encodes `samples` as little-endian bytes into a new vector.
pub fn samples_to_bytes(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    samples_to_bytes_extend(samples, &mut out);
    out
}

/// Streaming PCM16 LE decoder that carries an odd trailing byte from one
/// chunk to the next, so chunk boundaries may fall anywhere.
#[derive(Debug, Clone, Default)]
pub struct Pcm16Decoder {
    /// The first byte of a sample whose second byte has not arrived yet.
    pending: Option<u8>,
}

impl Pcm16Decoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends every complete sample of `pending ++ bytes` to `out` and keeps
    /// a new odd byte, if any, for the next call.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<i16>) {
        if let Some(lo) = self.pending.take() {
            match bytes.split_first() {
                Some((&hi, rest)) => {
                    out.push(i16::from_le_bytes([lo, hi]));
                    bytes = rest;
                }
                None => {
                    self.pending = Some(lo);
                    return;
                }
            }
        }
        bytes_to_samples_extend(bytes, out);
        if bytes.len() % 2 == 1 {
            self.pending = bytes.last().copied();
        }
    }

    /// Whether half a sample is waiting for its second byte.
    pub fn has_pending_byte(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a pending half sample (on `clear`/interruption).
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

/// Root-mean-square of `samples` (0.0 for an empty slice).
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Level in dB relative to full scale (a full-scale square wave is 0 dBFS,
/// a full-scale sine about −3 dBFS); floored at −100 dBFS for silence.
pub fn level_dbfs(samples: &[i16]) -> f32 {
    let r = rms(samples);
    if r <= 0.0 {
        return -100.0;
    }
    (20.0 * (r / 32768.0).log10()).max(-100.0)
}

/// Largest absolute sample value (0 for an empty slice).
pub fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// Converts a gain in dB to a linear factor.
pub fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Multiplies `samples` in place by `db_to_linear(gain_db)`, rounding and
/// saturating at the i16 limits.
pub fn apply_gain_db(samples: &mut [i16], gain_db: f32) {
    let g = db_to_linear(gain_db);
    if !g.is_finite() {
        return;
    }
    for s in samples {
        *s = saturate(f32::from(*s) * g);
    }
}

/// Adds `src` into `dst` sample by sample with saturation; only the
/// overlapping prefix is mixed.
pub fn mix_into(dst: &mut [i16], src: &[i16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = d.saturating_add(s);
    }
}

/// Rounds and clamps a float sample to i16 (NaN maps to 0).
#[inline]
pub(crate) fn saturate(x: f32) -> i16 {
    // `as` saturates and maps NaN to 0.
    x.round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn odd_trailing_byte_is_ignored() {
        assert_eq!(bytes_to_samples(&[0x34, 0x12, 0xFF]), vec![0x1234]);
        assert_eq!(bytes_to_samples(&[0x01]), Vec::<i16>::new());
        assert_eq!(bytes_to_samples(&[]), Vec::<i16>::new());
        assert_eq!(sample_count(&[1, 2, 3]), 1);
    }

    #[test]
    fn little_endian_order() {
        assert_eq!(
            samples_to_bytes(&[-2, 0x0102]),
            vec![0xFE, 0xFF, 0x02, 0x01]
        );
        assert_eq!(bytes_to_samples(&[0x00, 0x80]), vec![i16::MIN]);
    }

    #[test]
    fn into_variants_stop_at_the_shorter_buffer() {
        let mut out = [0i16; 1];
        assert_eq!(bytes_to_samples_into(&[1, 0, 2, 0], &mut out), 1);
        assert_eq!(out, [1]);
        let mut bytes = [0u8; 3];
        assert_eq!(samples_to_bytes_into(&[5, 6], &mut bytes), 1);
        assert_eq!(bytes, [5, 0, 0]);
    }

    #[test]
    fn decoder_carries_an_odd_byte_across_chunks() {
        let mut d = Pcm16Decoder::new();
        let mut out = Vec::new();
        d.push(&[0x34], &mut out);
        assert!(out.is_empty());
        assert!(d.has_pending_byte());
        d.push(&[], &mut out);
        assert!(d.has_pending_byte());
        d.push(&[0x12, 0x78, 0x56, 0xAA], &mut out);
        assert_eq!(out, vec![0x1234, 0x5678]);
        assert!(d.has_pending_byte());
        d.reset();
        d.push(&[0x01, 0x00], &mut out);
        assert_eq!(out, vec![0x1234, 0x5678, 1]);
    }

    #[test]
    fn levels() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(level_dbfs(&[0; 10]), -100.0);
        let square = [16384i16, -16384, 16384, -16384];
        assert!((level_dbfs(&square) - (-6.02)).abs() < 0.01);
        assert_eq!(peak(&[3, -7, 5]), 7);
        assert_eq!(peak(&[i16::MIN]), 32768);
    }

    #[test]
    fn gain_and_mix_saturate() {
        let mut s = [1000i16, -1000, 30000];
        apply_gain_db(&mut s, 6.0206);
        assert_eq!(s, [2000, -2000, i16::MAX]);
        let mut d = [30000i16, -30000, 1];
        mix_into(&mut d, &[10000, -10000]);
        assert_eq!(d, [i16::MAX, i16::MIN, 1]);
        let mut n = [5i16];
        apply_gain_db(&mut n, f32::NAN);
        assert_eq!(n, [5]);
    }

    proptest! {
        #[test]
        fn bytes_round_trip(samples in proptest::collection::vec(any::<i16>(), 0..300)) {
            prop_assert_eq!(bytes_to_samples(&samples_to_bytes(&samples)), samples);
        }

        #[test]
        fn decoder_is_split_invariant(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut d = Pcm16Decoder::new();
            let mut out = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                d.push(&bytes[start..c], &mut out);
                start = c;
            }
            prop_assert_eq!(out, bytes_to_samples(&bytes));
            prop_assert_eq!(d.has_pending_byte(), bytes.len() % 2 == 1);
        }
    }
}
