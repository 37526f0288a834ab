//! WAV (RIFF) writing and minimal reading for PCM16 and μ-law audio.
//!
//! Writing is sans-IO: [`WavSpec::header`] gives the header bytes for a
//! given data length, so a streaming writer writes `header(0)` first, then
//! the data, and at the end overwrites the first [`WavSpec::header_len`]
//! bytes with `header(data_len)` (same length). [`WavWriter`] builds a
//! whole file in memory. For two-channel call recordings,
//! [`interleave_stereo`] puts the caller on the left and the agent on the
//! right.
//!
//! PCM16 uses the 16-byte `fmt ` chunk (44-byte header); μ-law (format 7)
//! uses the 18-byte `fmt ` chunk and a `fact` chunk as the spec asks for
//! non-PCM formats (58-byte header).

use crate::MediaError;
use crate::pcm;

/// Sample encoding of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// Linear PCM, 16-bit little-endian (format tag 1).
    Pcm16,
    /// G.711 μ-law, 8-bit (format tag 7).
    Ulaw,
}

impl WavFormat {
    fn tag(self) -> u16 {
        match self {
            WavFormat::Pcm16 => 1,
            WavFormat::Ulaw => 7,
        }
    }

    /// Bytes per sample of one channel.
    pub fn bytes_per_sample(self) -> u16 {
        match self {
            WavFormat::Pcm16 => 2,
            WavFormat::Ulaw => 1,
        }
    }
}

/// Format, channel count and rate of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Sample encoding.
    pub format: WavFormat,
    /// 1 (mono) or 2 (stereo, interleaved left/right).
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
}

impl WavSpec {
    /// Mono PCM16 at `sample_rate`.
    pub fn pcm16_mono(sample_rate: u32) -> Self {
        Self {
            format: WavFormat::Pcm16,
            channels: 1,
            sample_rate,
        }
    }

    /// Stereo PCM16 at `sample_rate` (left = caller, right = agent, by
    /// convention).
    pub fn pcm16_stereo(sample_rate: u32) -> Self {
        Self {
            format: WavFormat::Pcm16,
            channels: 2,
            sample_rate,
        }
    }

    /// Mono μ-law at 8 kHz.
    pub fn ulaw_mono_8k() -> Self {
        Self {
            format: WavFormat::Ulaw,
            channels: 1,
            sample_rate: 8000,
        }
    }

    fn block_align(&self) -> u16 {
        self.channels
            .max(1)
            .saturating_mul(self.format.bytes_per_sample())
    }

    /// Length of the header [`WavSpec::header`] produces.
    pub fn header_len(&self) -> usize {
        match self.format {
            WavFormat::Pcm16 => 44,
            WavFormat::Ulaw => 58,
        }
    }

    /// The header for `data_len` bytes of sample data. Lengths past what a
    /// RIFF size field holds are clamped to `u32::MAX`.
    pub fn header(&self, data_len: u64) -> Vec<u8> {
        let data_len32 = u32::try_from(data_len).unwrap_or(u32::MAX);
        let block_align = self.block_align();
        let ulaw = self.format == WavFormat::Ulaw;
        let fmt_len: u32 = if ulaw { 18 } else { 16 };
        let riff_len = (self.header_len() as u32 - 8).saturating_add(data_len32);
        let mut h = Vec::with_capacity(self.header_len());
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&riff_len.to_le_bytes());
        h.extend_from_slice(b"WAVE");
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&fmt_len.to_le_bytes());
        h.extend_from_slice(&self.format.tag().to_le_bytes());
        h.extend_from_slice(&self.channels.to_le_bytes());
        h.extend_from_slice(&self.sample_rate.to_le_bytes());
        h.extend_from_slice(
            &self
                .sample_rate
                .saturating_mul(u32::from(block_align))
                .to_le_bytes(),
        );
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&(self.format.bytes_per_sample() * 8).to_le_bytes());
        if ulaw {
            h.extend_from_slice(&0u16.to_le_bytes()); // cbSize
            h.extend_from_slice(b"fact");
            h.extend_from_slice(&4u32.to_le_bytes());
            let frames = data_len32 / u32::from(block_align.max(1));
            h.extend_from_slice(&frames.to_le_bytes());
        }
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len32.to_le_bytes());
        h
    }
}

/// Builds a WAV file in memory.
#[derive(Debug, Clone)]
pub struct WavWriter {
    spec: WavSpec,
    data: Vec<u8>,
}

impl WavWriter {
    /// An empty file of `spec`.
    pub fn new(spec: WavSpec) -> Self {
        Self {
            spec,
            data: Vec::new(),
        }
    }

    /// Appends PCM samples (interleaved if stereo). For a μ-law spec they
    /// are encoded to μ-law.
    pub fn write_samples(&mut self, samples: &[i16]) {
        match self.spec.format {
            WavFormat::Pcm16 => pcm::samples_to_bytes_extend(samples, &mut self.data),
            WavFormat::Ulaw => crate::ulaw::encode_extend(samples, &mut self.data),
        }
    }

    /// Appends μ-law bytes. For a PCM16 spec they are decoded to PCM.
    pub fn write_ulaw(&mut self, bytes: &[u8]) {
        match self.spec.format {
            WavFormat::Ulaw => self.data.extend_from_slice(bytes),
            WavFormat::Pcm16 => {
                for &b in bytes {
                    self.data
                        .extend_from_slice(&crate::ulaw::decode_sample(b).to_le_bytes());
                }
            }
        }
    }

    /// Bytes of sample data so far.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The complete file.
    pub fn finish(self) -> Vec<u8> {
        let mut out = self.spec.header(self.data.len() as u64);
        out.extend_from_slice(&self.data);
        out
    }
}

/// A whole file of PCM16 `samples` (interleaved if stereo).
pub fn encode_pcm16(sample_rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let mut w = WavWriter::new(WavSpec {
        format: WavFormat::Pcm16,
        channels,
        sample_rate,
    });
    w.write_samples(samples);
    w.finish()
}

/// Interleaves two mono channels into stereo frames `[l0, r0, l1, r1, …]`;
/// the shorter channel is padded with silence.
pub fn interleave_stereo(left: &[i16], right: &[i16]) -> Vec<i16> {
    let n = left.len().max(right.len());
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        out.push(left.get(i).copied().unwrap_or(0));
        out.push(right.get(i).copied().unwrap_or(0));
    }
    out
}

/// A parsed WAV file borrowing its sample data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wav<'a> {
    /// Format, channels, rate.
    pub spec: WavSpec,
    /// The `data` chunk (clipped to the bytes present).
    pub data: &'a [u8],
}

impl Wav<'_> {
    /// The samples as PCM (μ-law decoded), interleaved if stereo.
    pub fn samples(&self) -> Vec<i16> {
        match self.spec.format {
            WavFormat::Pcm16 => pcm::bytes_to_samples(self.data),
            WavFormat::Ulaw => crate::ulaw::decode(self.data),
        }
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.data.len() / usize::from(self.spec.block_align().max(1))
    }
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Parses a RIFF/WAVE file of PCM16 or μ-law. A `data` size larger than
/// what is present (a streaming placeholder such as `0` patched late, or
/// `0xFFFFFFFF`) is clipped to the bytes present; a size of 0 with bytes
/// following takes the rest of the file.
pub fn parse(bytes: &[u8]) -> Result<Wav<'_>, MediaError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(MediaError::InvalidWav("not a RIFF/WAVE file"));
    }
    let mut at = 12;
    let mut spec = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = le_u32(bytes, at + 4).ok_or(MediaError::InvalidWav("truncated chunk"))? as usize;
        let body = at + 8;
        if id == b"fmt " {
            let tag = le_u16(bytes, body).ok_or(MediaError::InvalidWav("truncated fmt"))?;
            let channels =
                le_u16(bytes, body + 2).ok_or(MediaError::InvalidWav("truncated fmt"))?;
            let sample_rate =
                le_u32(bytes, body + 4).ok_or(MediaError::InvalidWav("truncated fmt"))?;
            let bits = le_u16(bytes, body + 14).ok_or(MediaError::InvalidWav("truncated fmt"))?;
            let format = match (tag, bits) {
                (1, 16) => WavFormat::Pcm16,
                (7, 8) => WavFormat::Ulaw,
                _ => {
                    return Err(MediaError::UnsupportedWav {
                        format_tag: tag,
                        bits,
                    });
                }
            };
            if channels == 0 {
                return Err(MediaError::InvalidWav("zero channels"));
            }
            spec = Some(WavSpec {
                format,
                channels,
                sample_rate,
            });
        } else if id == b"data" {
            let spec = spec.ok_or(MediaError::InvalidWav("data before fmt"))?;
            let rest = &bytes[body.min(bytes.len())..];
            let data = if len == 0 {
                rest
            } else {
                &rest[..len.min(rest.len())]
            };
            return Ok(Wav { spec, data });
        }
        // Chunks are padded to an even length.
        at = body.saturating_add(len).saturating_add(len & 1);
    }
    Err(MediaError::InvalidWav("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pcm_mono_header_is_the_canonical_44_bytes() {
        let f = encode_pcm16(8000, 1, &[1, -1]);
        assert_eq!(f.len(), 48);
        assert_eq!(&f[0..4], b"RIFF");
        assert_eq!(le_u32(&f, 4), Some(40));
        assert_eq!(&f[8..16], b"WAVEfmt ");
        assert_eq!(le_u32(&f, 16), Some(16));
        assert_eq!(le_u16(&f, 20), Some(1));
        assert_eq!(le_u16(&f, 22), Some(1));
        assert_eq!(le_u32(&f, 24), Some(8000));
        assert_eq!(le_u32(&f, 28), Some(16000));
        assert_eq!(le_u16(&f, 32), Some(2));
        assert_eq!(le_u16(&f, 34), Some(16));
        assert_eq!(&f[36..40], b"data");
        assert_eq!(le_u32(&f, 40), Some(4));
        assert_eq!(&f[44..], &[1, 0, 0xFF, 0xFF]);
    }

    #[test]
    fn stereo_round_trip_with_caller_left_and_agent_right() {
        let caller = [1i16, 2, 3];
        let agent = [10i16, 20];
        let inter = interleave_stereo(&caller, &agent);
        assert_eq!(inter, vec![1, 10, 2, 20, 3, 0]);
        let f = encode_pcm16(16000, 2, &inter);
        let w = parse(&f).unwrap();
        assert_eq!(w.spec, WavSpec::pcm16_stereo(16000));
        assert_eq!(w.frames(), 3);
        assert_eq!(w.samples(), inter);
        assert_eq!(le_u32(&f, 28), Some(64000));
    }

    #[test]
    fn ulaw_file_has_fact_chunk_and_round_trips() {
        let mut w = WavWriter::new(WavSpec::ulaw_mono_8k());
        w.write_ulaw(&[0xFF, 0x80, 0x00]);
        w.write_samples(&[1000]);
        assert_eq!(w.data_len(), 4);
        let f = w.finish();
        assert_eq!(f.len(), 58 + 4);
        assert_eq!(le_u32(&f, 16), Some(18));
        assert_eq!(le_u16(&f, 20), Some(7));
        assert_eq!(&f[38..42], b"fact");
        assert_eq!(le_u32(&f, 46), Some(4));
        let w = parse(&f).unwrap();
        assert_eq!(w.spec.format, WavFormat::Ulaw);
        assert_eq!(w.data, &[0xFF, 0x80, 0x00, 0xCE]);
        assert_eq!(w.samples(), vec![0, 32124, -32124, 988]);
    }

    #[test]
    fn streaming_placeholder_then_patch() {
        // GIVEN a header written before the length was known
        let spec = WavSpec::pcm16_mono(8000);
        let mut file = spec.header(0);
        file.extend(pcm::samples_to_bytes(&[5, 6, 7]));
        // THEN a reader still finds the data
        assert_eq!(parse(&file).unwrap().samples(), vec![5, 6, 7]);
        // WHEN the header is rewritten in place with the final length
        let patched = spec.header(6);
        assert_eq!(patched.len(), spec.header_len());
        file[..spec.header_len()].copy_from_slice(&patched);
        // THEN it equals the in-memory writer's output
        assert_eq!(file, encode_pcm16(8000, 1, &[5, 6, 7]));
        // And an oversize placeholder is clipped to what is present.
        let mut big = spec.header(u64::MAX);
        big.extend([1, 0]);
        assert_eq!(parse(&big).unwrap().samples(), vec![1]);
    }

    #[test]
    fn pcm_writer_accepts_ulaw_and_skips_unknown_chunks() {
        let mut w = WavWriter::new(WavSpec::pcm16_mono(8000));
        w.write_ulaw(&[0xCE]);
        let f = w.finish();
        assert_eq!(parse(&f).unwrap().samples(), vec![988]);
        // A LIST chunk of odd length (padded) before fmt.
        let mut g = b"RIFF\0\0\0\0WAVELIST\x03\0\0\0abc\0".to_vec();
        g.extend_from_slice(&f[12..]);
        assert_eq!(parse(&g).unwrap().samples(), vec![988]);
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        assert!(parse(b"").is_err());
        assert!(parse(b"RIFF\0\0\0\0WAVX").is_err());
        assert!(parse(b"RIFF\0\0\0\0WAVE").is_err());
        let mut f = encode_pcm16(8000, 1, &[1]);
        f[20] = 3; // float
        assert_eq!(
            parse(&f),
            Err(MediaError::UnsupportedWav {
                format_tag: 3,
                bits: 16
            })
        );
        let f = encode_pcm16(8000, 1, &[1]);
        assert!(parse(&f[..30]).is_err());
        let mut d = encode_pcm16(8000, 1, &[1]);
        d[22] = 0; // zero channels
        assert!(parse(&d).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), prefix in any::<bool>()) {
            let mut b = if prefix { b"RIFF\0\0\0\0WAVEfmt ".to_vec() } else { Vec::new() };
            b.extend(bytes);
            let _ = parse(&b);
        }

        #[test]
        fn pcm_round_trip(samples in proptest::collection::vec(any::<i16>(), 0..500), stereo in any::<bool>()) {
            let ch = if stereo { 2 } else { 1 };
            let f = encode_pcm16(24000, ch, &samples);
            let w = parse(&f).unwrap();
            prop_assert_eq!(w.spec.channels, ch);
            prop_assert_eq!(w.samples(), samples);
        }
    }
}
