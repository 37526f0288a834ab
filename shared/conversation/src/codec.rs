//! The per-frame audio path, beside the core: pure, allocation-free once
//! its buffers have grown, no state machine.
//!
//! - Caller → model ([`InboundCodec`]): provider base64 payload (μ-law 8 kHz
//!   for Twilio, PCM16 8 kHz for SansPBX) → 8 kHz PCM (handed to the core's
//!   detectors) → 16 kHz PCM (polyphase ×2, 1.8 ms group delay) → base64 →
//!   `realtimeInput` JSON.
//! - Model → caller ([`OutboundCodec`]): Gemini base64 24 kHz PCM16 → 8 kHz
//!   (polyphase ÷3, 1.9 ms group delay) → 20 ms frames (handed to the core,
//!   which paces and queues them).
//! - Frames → provider ([`ProviderWriter`]): μ-law or PCM16 → base64 →
//!   Twilio `media` / SansPBX `reverse-media` JSON; Twilio `mark`/`clear`.
//! - Parsing ([`parse_twilio`], [`parse_model`]): the [`crate::scan`] fast
//!   path for the steady-state message, the wire crate's parser otherwise.
//!
//! # Cost
//!
//! Measured per unit on the 2-core machine (on-CPU time, baseline x86-64):
//! a Twilio `media` message to its `realtimeInput` about 1.25 µs (scan
//! 0.16, base64 + μ-law 0.08, ×2 upsampling 0.75, base64 + JSON 0.2); a
//! 40 ms `serverContent` to two Twilio messages about 4.7 µs (scan 0.33,
//! base64 + PCM 0.4, ÷3 decimation 3.3, two `media` messages 0.4). The
//! filters dominate; see `voxdial_media::resample` for how they are
//! computed. Nothing allocates per frame: every buffer is reused, the
//! JSON around a payload is written from a prefix and a suffix computed
//! once per call (by the wire crate's own writers, so the text is the
//! same), and base64 goes through tables (two characters per lookup).

use voxdial_media::frame::Framer;
use voxdial_media::pcm::Pcm16Decoder;
use voxdial_media::resample::Resampler;
use voxdial_media::{pcm, ulaw};
use voxdial_wire::gemini::{GeminiError, ServerMessage, parse_server_message, pcm_rate};
use voxdial_wire::sanspbx::{StreamIds, write_outbound_media};
use voxdial_wire::twilio::media::{
    InboundMessage, MediaError, parse_inbound, write_clear, write_mark, write_media,
};

use crate::Error;
use crate::b64;
use crate::scan::{self, AudioBlob, MAX_BLOBS};

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// One 20 ms frame of 8 kHz PCM.
pub type Frame = [i16; FRAME_SAMPLES];
/// The model's input rate.
pub const MODEL_INPUT_RATE: u32 = 16_000;
/// The model's output rate.
pub const MODEL_OUTPUT_RATE: u32 = 24_000;
/// The `realtimeInput` mime type.
pub const MODEL_INPUT_MIME: &str = "audio/pcm;rate=16000";

/// `{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"`,
/// what `voxdial_wire::gemini::write_realtime_audio` writes before the data.
const REALTIME_PREFIX: &str =
    r#"{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":""#;
const REALTIME_SUFFIX: &str = r#""}}}"#;

/// A message from Twilio: the `media` fast path, or anything else fully
/// parsed.
#[derive(Debug)]
pub enum TwilioInbound<'a> {
    /// A `media` message's base64 payload.
    Media(&'a str),
    /// Any other message (or a `media` message of an unusual shape).
    Other(InboundMessage<'a>),
}

/// Parses a Twilio message, trying the `media` fast path first
/// ([`scan::twilio_media_payload`]).
pub fn parse_twilio(text: &str) -> Result<TwilioInbound<'_>, MediaError> {
    if let Some(p) = scan::twilio_media_payload(text.as_bytes()) {
        return Ok(TwilioInbound::Media(p));
    }
    parse_inbound(text).map(TwilioInbound::Other)
}

/// A Gemini server message: the audio-only fast path, or the full parse.
#[derive(Debug)]
pub enum ModelMessage<'a> {
    /// A `serverContent` with only inline audio: the first `n` blobs.
    Audio([AudioBlob<'a>; MAX_BLOBS], usize),
    /// Anything else (boxed: rare, and much larger).
    Other(Box<ServerMessage<'a>>),
}

/// Parses a Gemini server frame, trying the audio-only fast path first
/// ([`scan::gemini_audio`]).
pub fn parse_model(frame: &[u8]) -> Result<ModelMessage<'_>, GeminiError> {
    let mut blobs = [AudioBlob::default(); MAX_BLOBS];
    if let Some(n) = scan::gemini_audio(frame, &mut blobs) {
        return Ok(ModelMessage::Audio(blobs, n));
    }
    parse_server_message(frame).map(|m| ModelMessage::Other(Box::new(m)))
}

/// Every audio blob of a parsed model message as `(base64 data, rate)`,
/// whichever path parsed it.
pub fn for_each_audio<'a>(msg: &'a ModelMessage<'a>, mut f: impl FnMut(&'a str, Option<u32>)) {
    match msg {
        ModelMessage::Audio(blobs, n) => {
            for b in &blobs[..*n] {
                f(b.data, pcm_rate(b.mime_type));
            }
        }
        ModelMessage::Other(m) => {
            for b in m.audio_chunks() {
                f(&b.data, pcm_rate(&b.mime_type));
            }
        }
    }
}

/// The audio format of a provider's media stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderAudio {
    /// G.711 μ-law, 8 kHz (Twilio).
    Mulaw8k,
    /// PCM16 little-endian, 8 kHz (SansPBX).
    Pcm16le8k,
}

/// Caller audio: provider payload → 8 kHz PCM → model JSON.
#[derive(Debug)]
pub struct InboundCodec {
    format: ProviderAudio,
    raw: Vec<u8>,
    pcm8: Vec<i16>,
    pcm16: Vec<i16>,
    scratch: Vec<u8>,
    up: Resampler,
    odd: Pcm16Decoder,
}

impl InboundCodec {
    /// A codec for `format`.
    pub fn new(format: ProviderAudio) -> Self {
        Self {
            format,
            raw: Vec::with_capacity(320),
            pcm8: Vec::with_capacity(320),
            pcm16: Vec::with_capacity(640),
            scratch: Vec::with_capacity(1800),
            // 8 kHz -> 16 kHz is always supported.
            up: Resampler::new(8000, MODEL_INPUT_RATE).unwrap_or_else(|_| unreachable_rate()),
            odd: Pcm16Decoder::new(),
        }
    }

    /// Decodes a provider payload; the PCM is then in [`Self::pcm`].
    /// μ-law is decoded by table straight out of the base64 decoder.
    pub fn decode(&mut self, payload_b64: &str) -> Result<&[i16], Error> {
        match self.format {
            ProviderAudio::Mulaw8k => {
                b64::decode_map(payload_b64.as_bytes(), &mut self.pcm8, ulaw::decode_sample)
                    .map_err(Error::Base64)?;
            }
            ProviderAudio::Pcm16le8k => {
                b64::decode_map(payload_b64.as_bytes(), &mut self.raw, |b| b)
                    .map_err(Error::Base64)?;
                self.pcm8.clear();
                self.odd.push(&self.raw, &mut self.pcm8);
            }
        }
        Ok(&self.pcm8)
    }

    /// The 8 kHz PCM of the last [`Self::decode`].
    pub fn pcm(&self) -> &[i16] {
        &self.pcm8
    }

    /// Appends the `realtimeInput` message carrying the last decoded frame,
    /// resampled to 16 kHz, to `out` (the same text as
    /// `voxdial_wire::gemini::write_realtime_audio`).
    pub fn write_model_audio(&mut self, out: &mut String) {
        self.pcm16.clear();
        self.up.process(&self.pcm8, &mut self.pcm16);
        out.reserve(REALTIME_PREFIX.len() + (self.pcm16.len() * 2).div_ceil(3) * 4 + 4);
        out.push_str(REALTIME_PREFIX);
        b64::encode_pcm16_into(&self.pcm16, &mut self.scratch, out);
        out.push_str(REALTIME_SUFFIX);
    }

    /// Forgets the resampler's history (a gap in the audio sent).
    pub fn reset(&mut self) {
        self.up.reset();
        self.odd.reset();
    }

    /// Group delay of the resampler.
    pub fn delay(&self) -> std::time::Duration {
        self.up.delay()
    }
}

fn unreachable_rate() -> Resampler {
    // Rates used here are fixed and supported; a passthrough keeps this
    // panic-free should that ever change.
    Resampler::new(8000, 8000).unwrap_or_else(|_| unreachable_rate())
}

/// Model audio: base64 PCM16 at the model's rate → 8 kHz 20 ms frames.
#[derive(Debug)]
pub struct OutboundCodec {
    raw: Vec<u8>,
    odd: Pcm16Decoder,
    pcm_in: Vec<i16>,
    pcm8: Vec<i16>,
    rate: u32,
    down: Resampler,
    framer: Framer<i16>,
}

impl Default for OutboundCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl OutboundCodec {
    /// A codec expecting 24 kHz (other rates are handled when they come).
    pub fn new() -> Self {
        Self {
            raw: Vec::with_capacity(4096),
            odd: Pcm16Decoder::new(),
            pcm_in: Vec::with_capacity(2048),
            pcm8: Vec::with_capacity(1024),
            rate: MODEL_OUTPUT_RATE,
            down: Resampler::new(MODEL_OUTPUT_RATE, 8000).unwrap_or_else(|_| unreachable_rate()),
            framer: Framer::pcm_20ms(8000),
        }
    }

    /// Decodes one audio chunk (`rate` from its mime type, `None` = 24 kHz)
    /// and calls `on_frame` with every 20 ms frame it completes.
    pub fn push(
        &mut self,
        data_b64: &str,
        rate: Option<u32>,
        on_frame: impl FnMut(&[i16]),
    ) -> Result<(), Error> {
        let rate = rate.unwrap_or(MODEL_OUTPUT_RATE);
        if rate != self.rate {
            self.down = Resampler::new(rate, 8000).map_err(Error::Media)?;
            self.rate = rate;
        }
        b64::decode_map(data_b64.as_bytes(), &mut self.raw, |b| b).map_err(Error::Base64)?;
        self.pcm_in.clear();
        self.odd.push(&self.raw, &mut self.pcm_in);
        self.pcm8.clear();
        self.down.process(&self.pcm_in, &mut self.pcm8);
        self.framer.push(&self.pcm8, on_frame);
        Ok(())
    }

    /// End of the model's turn: emits what the filter and the framer still
    /// hold (the last frame padded with silence).
    pub fn flush(&mut self, mut on_frame: impl FnMut(&[i16])) {
        self.pcm8.clear();
        self.down.flush(&mut self.pcm8);
        self.framer.push(&self.pcm8, &mut on_frame);
        if let Some(last) = self.framer.flush() {
            on_frame(&last);
        }
        self.odd.reset();
    }

    /// Barge-in: drops everything held.
    pub fn reset(&mut self) {
        self.down.reset();
        self.framer.clear();
        self.odd.reset();
    }

    /// Group delay of the resampler.
    pub fn delay(&self) -> std::time::Duration {
        self.down.delay()
    }
}

/// Where outbound messages go on the provider's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderStream {
    /// Twilio Media Streams.
    Twilio {
        /// `streamSid`.
        stream_sid: String,
    },
    /// SansPBX media WebSocket.
    SansPbx {
        /// Ids echoed on outbound audio.
        ids: StreamIds,
        /// The outbound event name (`reverse-media`).
        event: String,
    },
}

impl ProviderStream {
    /// The audio format of this stream.
    pub fn audio(&self) -> ProviderAudio {
        match self {
            Self::Twilio { .. } => ProviderAudio::Mulaw8k,
            Self::SansPbx { .. } => ProviderAudio::Pcm16le8k,
        }
    }

    /// Whether the provider understands `mark` and `clear`.
    pub fn has_marks(&self) -> bool {
        matches!(self, Self::Twilio { .. })
    }
}

/// Writes 20 ms frames and control messages for a provider.
#[derive(Debug)]
pub struct ProviderWriter {
    stream: ProviderStream,
    /// The media message up to its payload, and after it: computed once
    /// from the wire crate's writer, so only the payload is written per
    /// frame.
    media_prefix: String,
    media_suffix: String,
    bytes: Vec<u8>,
    scratch: Vec<u8>,
}

impl ProviderWriter {
    /// A writer for `stream`.
    pub fn new(stream: ProviderStream) -> Self {
        // The writer's text with payloads "A" and "B" differs in one
        // place: that is where the payload goes.
        let (a, b) = (media_text(&stream, "A"), media_text(&stream, "B"));
        let at = a
            .bytes()
            .zip(b.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(a.len());
        Self {
            media_prefix: a[..at].to_owned(),
            media_suffix: a.get(at + 1..).unwrap_or_default().to_owned(),
            stream,
            bytes: Vec::with_capacity(320),
            scratch: Vec::with_capacity(432),
        }
    }

    /// The stream.
    pub fn stream(&self) -> &ProviderStream {
        &self.stream
    }

    /// Appends the provider's media message for `frame` (8 kHz PCM) to `out`.
    pub fn write_frame(&mut self, frame: &[i16], out: &mut String) {
        self.bytes.clear();
        match &self.stream {
            ProviderStream::Twilio { .. } => ulaw::encode_extend(frame, &mut self.bytes),
            ProviderStream::SansPbx { .. } => pcm::samples_to_bytes_extend(frame, &mut self.bytes),
        }
        out.reserve(
            self.media_prefix.len() + self.bytes.len().div_ceil(3) * 4 + self.media_suffix.len(),
        );
        out.push_str(&self.media_prefix);
        b64::encode_into(&self.bytes, &mut self.scratch, out);
        out.push_str(&self.media_suffix);
    }

    /// Appends a `mark` (Twilio only; returns false when not supported).
    pub fn write_mark(&self, name: &str, out: &mut String) -> bool {
        match &self.stream {
            ProviderStream::Twilio { stream_sid } => {
                write_mark(stream_sid, name, out);
                true
            }
            ProviderStream::SansPbx { .. } => false,
        }
    }

    /// Appends a `clear` (Twilio only; returns false when not supported).
    pub fn write_clear(&self, out: &mut String) -> bool {
        match &self.stream {
            ProviderStream::Twilio { stream_sid } => {
                write_clear(stream_sid, out);
                true
            }
            ProviderStream::SansPbx { .. } => false,
        }
    }
}

/// The provider's media message for a given payload, by the wire crate.
fn media_text(stream: &ProviderStream, payload: &str) -> String {
    let mut out = String::new();
    match stream {
        ProviderStream::Twilio { stream_sid } => write_media(stream_sid, payload, &mut out),
        ProviderStream::SansPbx { ids, event } => {
            write_outbound_media(event, payload, ids, &mut out)
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn inbound_twilio_frame_to_model_json() {
        let mut c = InboundCodec::new(ProviderAudio::Mulaw8k);
        let payload = STANDARD.encode([0xFFu8; 160]);
        assert_eq!(c.decode(&payload).unwrap().len(), 160);
        let mut out = String::new();
        c.write_model_audio(&mut out);
        let m = voxdial_wire::gemini::parse_client_message(out.as_bytes()).unwrap();
        let voxdial_wire::gemini::ClientMessage::RealtimeInput(ri) = m else {
            panic!("not realtimeInput")
        };
        let audio = ri.audio.unwrap();
        assert_eq!(audio.mime_type, MODEL_INPUT_MIME);
        assert_eq!(audio.decode().unwrap().len(), 640);
        assert!(c.decode("!!").is_err());
    }

    #[test]
    fn outbound_40ms_chunk_gives_two_frames_and_flush_pads() {
        let mut c = OutboundCodec::new();
        let pcm24 = vec![1000i16; 960];
        let b64 = STANDARD.encode(pcm::samples_to_bytes(&pcm24));
        let mut frames = 0;
        c.push(&b64, Some(24_000), |f| {
            assert_eq!(f.len(), FRAME_SAMPLES);
            frames += 1;
        })
        .unwrap();
        assert_eq!(frames, 2);
        c.flush(|_| frames += 1);
        assert!(frames >= 3, "the flush emits the filter tail");
    }

    #[test]
    fn writers() {
        let mut w = ProviderWriter::new(ProviderStream::Twilio {
            stream_sid: "MZ1".into(),
        });
        let mut out = String::new();
        w.write_frame(&[0; 160], &mut out);
        assert!(out.starts_with(r#"{"event":"media","streamSid":"MZ1""#));
        out.clear();
        assert!(w.write_clear(&mut out));
        assert_eq!(out, r#"{"event":"clear","streamSid":"MZ1"}"#);
        let mut s = ProviderWriter::new(ProviderStream::SansPbx {
            ids: StreamIds::default(),
            event: "reverse-media".into(),
        });
        out.clear();
        s.write_frame(&[0; 160], &mut out);
        let m = voxdial_wire::sanspbx::parse_outbound_media(&out).unwrap();
        assert_eq!(STANDARD.decode(&*m.payload).unwrap().len(), 320);
        assert!(!s.write_mark("x", &mut out));
    }

    #[test]
    fn fast_writers_write_what_the_wire_crate_writes() {
        let frame: Vec<i16> = (0..160).map(|i| (i * 397 % 20000 - 10000) as i16).collect();
        let streams = [
            ProviderStream::Twilio {
                stream_sid: "MZ\"odd\u{1}".into(),
            },
            ProviderStream::SansPbx {
                ids: StreamIds {
                    stream_id: Some("s1".into()),
                    call_id: Some("c\"1".into()),
                    channel_id: None,
                },
                event: "reverse-media".into(),
            },
        ];
        for stream in streams {
            let mut w = ProviderWriter::new(stream.clone());
            let mut fast = String::from("x");
            w.write_frame(&frame, &mut fast);
            let bytes = match stream {
                ProviderStream::Twilio { .. } => ulaw::encode(&frame),
                ProviderStream::SansPbx { .. } => pcm::samples_to_bytes(&frame),
            };
            let want = format!("x{}", media_text(&stream, &STANDARD.encode(bytes)));
            assert_eq!(fast, want);
        }
        let mut c = InboundCodec::new(ProviderAudio::Mulaw8k);
        c.decode(&STANDARD.encode(ulaw::encode(&frame))).unwrap();
        let mut fast = String::new();
        c.write_model_audio(&mut fast);
        let mut up = Resampler::new(8000, 16000).unwrap();
        let mut pcm16 = Vec::new();
        up.process(&ulaw::decode(&ulaw::encode(&frame)), &mut pcm16);
        let mut want = String::new();
        voxdial_wire::gemini::write_realtime_audio(
            MODEL_INPUT_MIME,
            &STANDARD.encode(pcm::samples_to_bytes(&pcm16)),
            &mut want,
        );
        assert_eq!(fast, want);
    }

    #[test]
    fn parse_helpers_take_the_fast_path_or_fall_back() {
        let media = r#"{"event":"media","media":{"payload":"//8="},"streamSid":"MZ1"}"#;
        assert!(matches!(
            parse_twilio(media),
            Ok(TwilioInbound::Media("//8="))
        ));
        let mark = r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"3"}}"#;
        assert!(matches!(
            parse_twilio(mark),
            Ok(TwilioInbound::Other(InboundMessage::Mark(_)))
        ));
        let audio = br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAA"}}]}}}"#;
        let m = parse_model(audio).unwrap();
        assert!(matches!(m, ModelMessage::Audio(_, 1)));
        let mut seen = Vec::new();
        for_each_audio(&m, |d, r| seen.push((d.to_owned(), r)));
        let done = br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAA"}}]},"turnComplete":true}}"#;
        let m = parse_model(done).unwrap();
        assert!(matches!(m, ModelMessage::Other(_)));
        for_each_audio(&m, |d, r| seen.push((d.to_owned(), r)));
        assert_eq!(seen, vec![("AAAA".into(), Some(24_000)); 2]);
    }
}
