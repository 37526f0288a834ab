//! Base64 for the per-frame path: table-driven, into reused buffers, and
//! fused with the sample conversion where that saves a pass.
//!
//! - Decoding accepts the standard and the URL-safe alphabet (even mixed),
//!   with up to two `=` of padding or none, like the `base64` crate's
//!   `DecodePaddingMode::Indifferent` (checked by a property test), and
//!   ignores non-zero trailing bits. Anything else is an error.
//! - Encoding writes the standard alphabet with padding, two characters
//!   per lookup (a 4096-entry table of pairs).

/// Value of each input byte: 0..=63, or `INVALID` (any of the top 8 bits
/// set survives the shifts below, so one OR tells a bad quad).
const INVALID: u32 = u32::MAX;

const DECODE: [u32; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u32;
        t[b'a' as usize + i] = 26 + i as u32;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u32;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Every 12-bit value as its two base64 characters.
const PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    t
};

/// A payload was not base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid base64")]
pub struct InvalidBase64;

/// The 24-bit value of a quad; bits above 23 set when a character is bad.
#[inline]
fn quad(q: &[u8]) -> u32 {
    (DECODE[usize::from(q[0])] << 18)
        | (DECODE[usize::from(q[1])] << 12)
        | (DECODE[usize::from(q[2])] << 6)
        | DECODE[usize::from(q[3])]
}

/// Decodes `input` and appends `map(byte)` for every decoded byte to
/// `out` (cleared first). `map` is the identity for raw bytes, or the
/// μ-law table to land PCM straight away.
#[inline]
pub fn decode_map<T: Copy + Default>(
    input: &[u8],
    out: &mut Vec<T>,
    map: impl Fn(u8) -> T,
) -> Result<(), InvalidBase64> {
    out.clear();
    let mut data = input;
    // Up to two `=` of padding.
    for _ in 0..2 {
        if let [rest @ .., b'='] = data {
            data = rest;
        }
    }
    let tail_len = data.len() % 4;
    if tail_len == 1 {
        return Err(InvalidBase64);
    }
    let full = data.len() - tail_len;
    let n = full / 4 * 3 + tail_len.saturating_sub(1);
    out.resize(n, T::default());
    let mut bad = 0u32;
    for (q, o) in data[..full].chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let v = quad(q);
        bad |= v;
        o[0] = map((v >> 16) as u8);
        o[1] = map((v >> 8) as u8);
        o[2] = map(v as u8);
    }
    if tail_len > 0 {
        let mut q = [b'A'; 4];
        q[..tail_len].copy_from_slice(&data[full..]);
        let v = quad(&q);
        bad |= v;
        let o = &mut out[full / 4 * 3..];
        o[0] = map((v >> 16) as u8);
        if tail_len == 3 {
            o[1] = map((v >> 8) as u8);
        }
    }
    if bad >> 24 != 0 {
        out.clear();
        return Err(InvalidBase64);
    }
    Ok(())
}

/// Appends the padded standard base64 of `input` to `out`, going through
/// `scratch` (reused; holds the characters before they join `out`).
#[inline]
pub fn encode_into(input: &[u8], scratch: &mut Vec<u8>, out: &mut String) {
    let full = input.len() / 3 * 3;
    let len = input.len().div_ceil(3) * 4;
    scratch.clear();
    scratch.resize(len, b'=');
    for (i, o) in input[..full]
        .chunks_exact(3)
        .zip(scratch.chunks_exact_mut(4))
    {
        let v = (u32::from(i[0]) << 16) | (u32::from(i[1]) << 8) | u32::from(i[2]);
        let hi = PAIRS[(v >> 12) as usize];
        let lo = PAIRS[(v & 0xFFF) as usize];
        o[0] = hi[0];
        o[1] = hi[1];
        o[2] = lo[0];
        o[3] = lo[1];
    }
    let rest = &input[full..];
    if !rest.is_empty() {
        let o = &mut scratch[full / 3 * 4..];
        let b1 = rest.get(1).copied().unwrap_or(0);
        let v = (u32::from(rest[0]) << 16) | (u32::from(b1) << 8);
        let hi = PAIRS[(v >> 12) as usize];
        o[0] = hi[0];
        o[1] = hi[1];
        if rest.len() == 2 {
            o[2] = PAIRS[(v & 0xFFF) as usize][0];
        }
    }
    // Only alphabet characters and `=` were written: always ASCII.
    out.push_str(std::str::from_utf8(scratch).unwrap_or_default());
}

/// Appends the padded standard base64 of `samples` as PCM16 little-endian
/// bytes to `out` (the same text as encoding the bytes): three samples
/// make six bytes make eight characters, four pair lookups.
#[inline]
pub fn encode_pcm16_into(samples: &[i16], scratch: &mut Vec<u8>, out: &mut String) {
    let full = samples.len() / 3 * 3;
    let bytes = samples.len() * 2;
    scratch.clear();
    scratch.resize(bytes.div_ceil(3) * 4, b'=');
    for (s, o) in samples[..full]
        .chunks_exact(3)
        .zip(scratch.chunks_exact_mut(8))
    {
        let [a0, a1] = s[0].to_le_bytes();
        let [b0, b1] = s[1].to_le_bytes();
        let [c0, c1] = s[2].to_le_bytes();
        let v = (u64::from(a0) << 40)
            | (u64::from(a1) << 32)
            | (u64::from(b0) << 24)
            | (u64::from(b1) << 16)
            | (u64::from(c0) << 8)
            | u64::from(c1);
        for (k, pair) in o.chunks_exact_mut(2).enumerate() {
            pair.copy_from_slice(&PAIRS[((v >> (36 - 12 * k)) & 0xFFF) as usize]);
        }
    }
    // One or two samples left: 2 or 4 bytes, encoded like any bytes.
    let rest = &samples[full..];
    if !rest.is_empty() {
        let mut tail = [0u8; 4];
        for (t, s) in tail.chunks_exact_mut(2).zip(rest) {
            t.copy_from_slice(&s.to_le_bytes());
        }
        let mut enc = String::new();
        encode_into(&tail[..rest.len() * 2], &mut Vec::new(), &mut enc);
        scratch.truncate(full / 3 * 8);
        scratch.extend_from_slice(enc.as_bytes());
    }
    // Only alphabet characters and `=` were written: always ASCII.
    out.push_str(std::str::from_utf8(scratch).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    fn decode(s: &str) -> Result<Vec<u8>, InvalidBase64> {
        let mut v = Vec::new();
        decode_map(s.as_bytes(), &mut v, |b| b).map(|()| v)
    }

    #[test]
    fn known_values() {
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("Zg==").unwrap(), b"f");
        assert_eq!(decode("Zg").unwrap(), b"f");
        assert_eq!(decode("Zm8=").unwrap(), b"fo");
        assert_eq!(decode("Zm9v").unwrap(), b"foo");
        assert_eq!(decode("-_-_").unwrap(), decode("+/+/").unwrap());
        for bad in [
            "Z",
            "Zm9vY",
            "Zm9v!A==",
            "Zg=A",
            "Zg===",
            "Z===",
            "Zm9v Zm9v",
        ] {
            assert_eq!(decode(bad), Err(InvalidBase64), "{bad}");
        }
        let mut out = String::from("x");
        encode_into(b"fo", &mut Vec::new(), &mut out);
        assert_eq!(out, "xZm8=");
    }

    #[test]
    fn mulaw_lands_as_pcm() {
        let mut pcm = Vec::new();
        decode_map(
            STANDARD.encode([0xFFu8, 0x00, 0x80]).as_bytes(),
            &mut pcm,
            voxdial_media::ulaw::decode_sample,
        )
        .unwrap();
        assert_eq!(pcm, vec![0i16, -32124, 32124]);
    }

    proptest! {
        #[test]
        fn agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let mut s = String::new();
            encode_into(&bytes, &mut Vec::new(), &mut s);
            prop_assert_eq!(&s, &STANDARD.encode(&bytes));
            prop_assert_eq!(decode(&s).unwrap(), bytes.clone());
            prop_assert_eq!(decode(&URL_SAFE_NO_PAD.encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn pcm16_encoding_is_the_bytes_encoding(samples in proptest::collection::vec(any::<i16>(), 0..400)) {
            let mut s = String::from("x");
            encode_pcm16_into(&samples, &mut Vec::new(), &mut s);
            let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert_eq!(s, format!("x{}", STANDARD.encode(bytes)));
        }

        #[test]
        fn garbage_is_an_error_or_agrees(s in "[A-Za-z0-9+/=!-]{0,40}") {
            let ours = decode(&s);
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                    .with_decode_allow_trailing_bits(true),
            );
            if let Ok(theirs) = engine.decode(s.replace('-', "+")) {
                prop_assert_eq!(ours.unwrap(), theirs);
            }
        }
    }
}
