//! The recording's format, from its WAV header (speech APIs want the
//! encoding, the sample rate and the channel count).

/// A WAV file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WavFormat {
    /// 1: PCM, 7: μ-law.
    pub(crate) tag: u16,
    pub(crate) channels: u16,
    pub(crate) sample_rate: u32,
    /// Length in milliseconds.
    pub(crate) duration_ms: u64,
}

impl WavFormat {
    /// Google's `RecognitionConfig.encoding`.
    pub(crate) fn google_encoding(&self) -> &'static str {
        if self.tag == 7 { "MULAW" } else { "LINEAR16" }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads the format of a WAV file.
pub(crate) fn format(bytes: &[u8]) -> Option<WavFormat> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut fmt = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32_at(bytes, at + 4)? as usize;
        let body = at + 8;
        if id == b"fmt " {
            fmt = Some((
                u16_at(bytes, body)?,
                u16_at(bytes, body + 2)?,
                u32_at(bytes, body + 4)?,
                u32_at(bytes, body + 8)?,
            ));
        } else if id == b"data" {
            let (tag, channels, sample_rate, byte_rate) = fmt?;
            let present = bytes.len().saturating_sub(body).min(len) as u64;
            return Some(WavFormat {
                tag,
                channels,
                sample_rate,
                duration_ms: present * 1000 / u64::from(byte_rate.max(1)),
            });
        }
        at = body.saturating_add(len).saturating_add(len & 1);
    }
    None
}
