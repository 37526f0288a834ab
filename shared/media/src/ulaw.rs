//! G.711 μ-law, the classic Sun/ITU variant (`BIAS = 0x84`, `CLIP = 32635`).
//!
//! Decoding is one lookup in a 256-entry table. Encoding is one lookup in an
//! 8159-entry table indexed by `min(|s|, 32635) >> 2` (the two low bits of the
//! magnitude never reach the code word), plus the sign. Both tables are built
//! at compile time from the reference algorithms, which are kept as the
//! readable definition the tables are checked against.
//!
//! The classic encoder differs from Python's `audioop.lin2ulaw` (used by
//! pipecat) on 381 negative inputs, e.g. `-1` encodes to `0x7F` here and to
//! `0x7E` there. Both decode identically, and both are valid G.711.
//!
//! Hot-path functions write into caller-provided buffers
//! ([`encode_into`], [`decode_into`]) or append to a reused `Vec`
//! ([`encode_extend`], [`decode_extend`]); [`encode`] and [`decode`] allocate.

/// The μ-law code of digital silence (PCM 0).
pub const SILENCE: u8 = 0xFF;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Reference encoder, straight from the G.711 classic algorithm.
const fn encode_sample_reference(s: i16) -> u8 {
    let s = s as i32;
    let sign: i32 = if s < 0 { 0x80 } else { 0 };
    let mut mag = if s < 0 { -s } else { s };
    if mag > CLIP {
        mag = CLIP;
    }
    mag += BIAS;
    // mag is in 132..=32767, so its highest set bit is in 7..=14.
    let exp = (31 - (mag as u32).leading_zeros()) as i32 - 7;
    let mant = (mag >> (exp + 3)) & 0x0F;
    !(sign | (exp << 4) | mant) as u8
}

/// Reference decoder, straight from the G.711 classic algorithm.
const fn decode_sample_reference(u: u8) -> i16 {
    let u = !u as i32;
    let mut t = ((u & 0x0F) << 3) + BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { BIAS - t } else { t - BIAS }) as i16
}

const DECODE_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = decode_sample_reference(i as u8);
        i += 1;
    }
    table
};

/// Number of entries of the magnitude table: `(CLIP >> 2) + 1`.
const ENCODE_TABLE_LEN: usize = (CLIP as usize >> 2) + 1;

/// The low seven bits (`exp << 4 | mant`) of the code of magnitude `m << 2`,
/// before the final inversion.
const ENCODE_TABLE: [u8; ENCODE_TABLE_LEN] = {
    let mut table = [0u8; ENCODE_TABLE_LEN];
    let mut i = 0;
    while i < ENCODE_TABLE_LEN {
        // Positive input: code = !(exp<<4 | mant); store the un-inverted bits.
        table[i] = !encode_sample_reference((i as i16) << 2) & 0x7F;
        i += 1;
    }
    table
};

/// Encodes one PCM sample to μ-law.
#[inline]
pub fn encode_sample(s: i16) -> u8 {
    let s = i32::from(s);
    let sign = if s < 0 { 0x80 } else { 0 };
    let mag = s.unsigned_abs().min(CLIP as u32) as usize >> 2;
    // `mag <= CLIP >> 2`, so the index is always in bounds.
    !(sign | ENCODE_TABLE[mag.min(ENCODE_TABLE_LEN - 1)])
}

/// Decodes one μ-law byte to PCM.
#[inline]
pub fn decode_sample(u: u8) -> i16 {
    DECODE_TABLE[usize::from(u)]
}

/// Encodes `min(pcm.len(), out.len())` samples into `out`; returns how many
/// were written.
pub fn encode_into(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = encode_sample(s);
    }
    n
}

/// Decodes `min(ulaw.len(), out.len())` bytes into `out`; returns how many
/// were written.
pub fn decode_into(ulaw: &[u8], out: &mut [i16]) -> usize {
    let n = ulaw.len().min(out.len());
    for (o, &u) in out[..n].iter_mut().zip(&ulaw[..n]) {
        *o = decode_sample(u);
    }
    n
}

/// Appends the μ-law encoding of `pcm` to `out` (no allocation once `out`
/// has the capacity).
pub fn encode_extend(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| encode_sample(s)));
}

/// Appends the PCM decoding of `ulaw` to `out` (no allocation once `out`
/// has the capacity).
pub fn decode_extend(ulaw: &[u8], out: &mut Vec<i16>) {
    out.extend(ulaw.iter().map(|&u| decode_sample(u)));
}

/// Encodes `pcm` into a new vector.
pub fn encode(pcm: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pcm.len());
    encode_extend(pcm, &mut out);
    out
}

/// Decodes `ulaw` into a new vector.
pub fn decode(ulaw: &[u8]) -> Vec<i16> {
    let mut out = Vec::with_capacity(ulaw.len());
    decode_extend(ulaw, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn decode_table_matches_the_pinned_sha256() {
        let mut h = Sha256::new();
        for u in 0..=255u8 {
            h.update(decode_sample(u).to_le_bytes());
        }
        assert_eq!(
            hex(&h.finalize()),
            "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"
        );
    }

    #[test]
    fn encode_of_every_sample_matches_the_pinned_classic_sha256() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut h = Sha256::new();
        h.update(encode(&all));
        assert_eq!(
            hex(&h.finalize()),
            "5ee7cf5f273f842d2234121e4cb0c98d6b20a99ac29026f94e05b36955b195be"
        );
    }

    #[test]
    fn table_encoder_equals_reference_encoder_everywhere() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(encode_sample(s), encode_sample_reference(s), "s={s}");
        }
    }

    #[test]
    fn encoder_reference_values() {
        let cases: &[(i16, u8)] = &[
            (0, 0xFF),
            (1, 0xFF),
            (2, 0xFF),
            (3, 0xFF),
            (-1, 0x7F),
            (4, 0xFE),
            (16, 0xFD),
            (32, 0xFB),
            (100, 0xF2),
            (-100, 0x72),
            (132, 0xEF),
            (1000, 0xCE),
            (-1000, 0x4E),
            (4096, 0xAF),
            (8031, 0xA0),
            (8159, 0x9F),
            (10000, 0x9C),
            (-10000, 0x1C),
            (16384, 0x8F),
            (32124, 0x80),
            (32635, 0x80),
            (32767, 0x80),
            (-32768, 0x00),
        ];
        for &(s, u) in cases {
            assert_eq!(encode_sample(s), u, "encode({s})");
        }
    }

    #[test]
    fn decoder_reference_values() {
        let cases: &[(u8, i16)] = &[
            (0x00, -32124),
            (0x01, -31100),
            (0x0F, -16764),
            (0x10, -15996),
            (0x40, -1884),
            (0x55, -716),
            (0x70, -120),
            (0x7E, -8),
            (0x7F, 0),
            (0x80, 32124),
            (0x8F, 16764),
            (0xC0, 1884),
            (0xD5, 716),
            (0xF0, 120),
            (0xFE, 8),
            (0xFF, 0),
        ];
        for &(u, s) in cases {
            assert_eq!(decode_sample(u), s, "decode({u:#04x})");
        }
    }

    #[test]
    fn one_khz_tone_vector() {
        let tone = [0, 5657, 8000, 5657, 0, -5657, -8000, -5657];
        let coded = encode(&tone);
        assert_eq!(hex(&coded), "ffa9a0a9ff292029");
        assert_eq!(
            decode(&coded),
            [0, 5628, 7932, 5628, 0, -5628, -7932, -5628]
        );
    }

    #[test]
    fn differs_from_audioop_on_minus_one() {
        // audioop.lin2ulaw gives 0x7E; the classic encoder pinned here gives 0x7F.
        assert_eq!(encode_sample(-1), 0x7F);
        assert_eq!(SILENCE, encode_sample(0));
    }

    #[test]
    fn into_variants_stop_at_the_shorter_buffer() {
        let pcm = [1000i16, -1000, 0];
        let mut out = [0u8; 2];
        assert_eq!(encode_into(&pcm, &mut out), 2);
        assert_eq!(out, [0xCE, 0x4E]);
        let mut back = [7i16; 5];
        assert_eq!(decode_into(&out, &mut back), 2);
        assert_eq!(back[2..], [7, 7, 7]);
        assert_eq!(encode_into(&[], &mut out), 0);
    }

    #[test]
    fn every_code_round_trips_through_its_decoded_value() {
        for u in 0..=255u8 {
            let s = decode_sample(u);
            let again = encode_sample(s);
            // 0x7F (-0) re-encodes as 0xFF (+0); all other codes are fixed points.
            if u == 0x7F {
                assert_eq!(again, 0xFF);
            } else {
                assert_eq!(again, u, "code {u:#04x}");
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip_error_is_within_half_a_step(s in any::<i16>()) {
            let back = i32::from(decode_sample(encode_sample(s)));
            let s = i32::from(s);
            let err = (back - s).abs();
            // The decoder returns the middle of the segment step (8 << exp), so
            // the error is at most half a step, i.e. (|s| + BIAS) / 32, plus
            // whatever the clip at 32635 cut off.
            let mag = s.abs();
            let bound = (mag.min(CLIP) + BIAS) / 32 + (mag - CLIP).max(0);
            prop_assert!(err <= bound, "s={} back={} err={} bound={}", s, back, err, bound);
        }

        #[test]
        fn vec_and_slice_apis_agree(pcm in proptest::collection::vec(any::<i16>(), 0..400)) {
            let v = encode(&pcm);
            let mut buf = vec![0u8; pcm.len()];
            prop_assert_eq!(encode_into(&pcm, &mut buf), pcm.len());
            prop_assert_eq!(&v, &buf);
            let mut ext = Vec::new();
            encode_extend(&pcm, &mut ext);
            prop_assert_eq!(&v, &ext);
            let d = decode(&v);
            let mut dbuf = vec![0i16; v.len()];
            decode_into(&v, &mut dbuf);
            prop_assert_eq!(d, dbuf);
        }
    }
}
