//! Gemini Live (`BidiGenerateContent` over WebSocket): the endpoint URL,
//! client messages, server messages, and fast paths for audio.
//!
//! Sources: `reference/gemini-live.md`; field names checked against
//! google-genai 3.6.1 (`types.py` pydantic models with the `to_camel` alias
//! generator, `_live_converters.py`, `live.py`) by
//! `fixtures/gen_gemini_messages.py`, whose output the tests replay.
//!
//! # Casing
//!
//! The API speaks proto3 JSON: it accepts lowerCamelCase and snake_case and
//! emits camelCase. Everything here is written camelCase and read in either
//! (`#[serde(alias)]` on every multi-word field, both spellings for the
//! top-level keys), so the SDK's mixed output (`realtime_input`,
//! `voice_config`, …) parses too.
//!
//! # Messages
//!
//! - Client: [`ClientMessage`] = one of `setup` ([`Setup`]), `clientContent`
//!   ([`ClientContent`]), `realtimeInput` ([`RealtimeInput`]), `toolResponse`
//!   ([`ToolResponse`]). Audio goes out fastest with [`write_realtime_audio`].
//! - Server: [`ServerMessage`] = one payload ([`ServerPayload`]: the proto's
//!   `oneof`, with `Unknown` for keys this crate does not know) plus the
//!   optional `usageMetadata` that may ride along. [`parse_server_message`]
//!   takes the frame's bytes (the server sends **binary** frames holding
//!   JSON; text frames work the same) and borrows audio data from them.
//!
//! # Audio
//!
//! Input: raw 16-bit little-endian PCM, mono, 16 kHz, mime
//! `audio/pcm;rate=16000`. Output: 24 kHz, `audio/pcm;rate=24000`. Data is
//! base64 on the wire; the server (and the SDK, which writes URL-safe
//! base64) accepts either alphabet, and [`decode_base64`] reads both.

mod client;
mod server;
mod setup;

use std::time::Duration;

use base64::Engine as _;

pub use client::*;
pub use server::*;
pub use setup::*;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum GeminiError {
    /// Not JSON, or a field of the wrong type.
    #[error("invalid Gemini Live JSON")]
    Json(#[source] serde_json::Error),
    /// A proto3 JSON duration that does not parse (`"10s"`, `"1.5s"`).
    #[error("invalid duration {0:?}")]
    InvalidDuration(String),
    /// Base64 data that decodes in neither alphabet.
    #[error("invalid base64 data")]
    Base64(#[source] base64::DecodeError),
}

/// Host of the Gemini Developer API.
pub const DEFAULT_HOST: &str = "generativelanguage.googleapis.com";

/// API version used when none is configured: `v1beta`, the version of the
/// endpoint documented at <https://ai.google.dev/api/live>. google-genai 3.x
/// defaults to `v1` instead; ephemeral tokens need `v1alpha`.
pub const DEFAULT_API_VERSION: &str = "v1beta";

/// Header carrying the API key (what the SDK sends; `?key=` also works).
pub const API_KEY_HEADER: &str = "x-goog-api-key";

/// The RPC to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveMethod {
    /// `BidiGenerateContent`, authenticated with an API key.
    #[default]
    BidiGenerateContent,
    /// `BidiGenerateContentConstrained`, authenticated with an ephemeral token
    /// (`Authorization: Token auth_tokens/…`, `v1alpha`).
    BidiGenerateContentConstrained,
}

impl LiveMethod {
    /// The method name in the URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BidiGenerateContent => "BidiGenerateContent",
            Self::BidiGenerateContentConstrained => "BidiGenerateContentConstrained",
        }
    }
}

/// Where a Gemini Developer API Live session connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEndpoint {
    /// Host, [`DEFAULT_HOST`] by default (a simulator's `host:port` in tests).
    pub host: String,
    /// API version, [`DEFAULT_API_VERSION`] by default.
    pub api_version: String,
    /// RPC method.
    pub method: LiveMethod,
    /// Use `ws://` instead of `wss://` (local simulators only).
    pub insecure: bool,
}

impl Default for LiveEndpoint {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            method: LiveMethod::default(),
            insecure: false,
        }
    }
}

impl LiveEndpoint {
    /// `wss://{host}/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}/ws/google.ai.generativelanguage.{}.GenerativeService.{}",
            if self.insecure { "ws" } else { "wss" },
            self.host,
            self.api_version,
            self.method.as_str()
        )
    }
}

/// The Vertex AI Live endpoint:
/// `wss://{location}-aiplatform.googleapis.com/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent`
/// (Bearer token auth; models are `projects/…/locations/…/publishers/google/models/…`).
pub fn vertex_live_url(location: &str, api_version: &str) -> String {
    format!(
        "wss://{location}-aiplatform.googleapis.com/ws/google.cloud.aiplatform.{api_version}.LlmBidiService/BidiGenerateContent"
    )
}

/// Parses a proto3 JSON `Duration` (`"10s"`, `"1.5s"`, `"0.000000001s"`).
/// Negative durations clamp to zero; more than nine decimals is an error.
pub fn parse_proto_duration(s: &str) -> Result<Duration, GeminiError> {
    let bad = || GeminiError::InvalidDuration(s.to_owned());
    let body = s.trim().strip_suffix('s').ok_or_else(bad)?;
    let (neg, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (body.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if neg {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration the proto3 JSON way (`"10s"`, `"1.500s"`).
pub fn format_proto_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
    } else {
        format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
    }
}

/// Decodes base64 in the standard or the URL-safe alphabet, padded or not.
pub fn decode_base64(data: &str) -> Result<Vec<u8>, GeminiError> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const CFG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD_ANY: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CFG);
    const URL_ANY: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CFG);
    if data.bytes().any(|b| b == b'-' || b == b'_') {
        URL_ANY.decode(data).map_err(GeminiError::Base64)
    } else {
        STD_ANY.decode(data).map_err(GeminiError::Base64)
    }
}

/// The sample rate in a PCM mime type (`audio/pcm;rate=24000` → 24000).
pub fn pcm_rate(mime_type: &str) -> Option<u32> {
    let mut parts = mime_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("audio/pcm") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("rate")
            .then(|| v.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn endpoint_urls() {
        assert_eq!(
            LiveEndpoint::default().url(),
            "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        );
        let e = LiveEndpoint {
            api_version: "v1alpha".into(),
            method: LiveMethod::BidiGenerateContentConstrained,
            ..LiveEndpoint::default()
        };
        assert!(
            e.url()
                .ends_with(".v1alpha.GenerativeService.BidiGenerateContentConstrained")
        );
        let local = LiveEndpoint {
            host: "127.0.0.1:9000".into(),
            insecure: true,
            ..LiveEndpoint::default()
        };
        assert!(local.url().starts_with("ws://127.0.0.1:9000/ws/"));
        assert_eq!(
            vertex_live_url("asia-south1", "v1"),
            "wss://asia-south1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_proto_duration("10s").unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(
            parse_proto_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_proto_duration("0.000000001s").unwrap(),
            Duration::from_nanos(1)
        );
        assert_eq!(parse_proto_duration("-3s").unwrap(), Duration::ZERO);
        for bad in [
            "",
            "s",
            "10",
            "1.s",
            ".5s",
            "1.0000000001s",
            "abc",
            "1e3s",
            "+1s",
            "99999999999999999999s",
        ] {
            assert!(parse_proto_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_proto_duration(Duration::from_millis(1500)), "1.500s");
        assert_eq!(format_proto_duration(Duration::from_secs(10)), "10s");
    }

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(decode_base64("+/8AAQ==").unwrap(), [0xfb, 0xff, 0, 1]);
        assert_eq!(decode_base64("-_8AAQ==").unwrap(), [0xfb, 0xff, 0, 1]);
        assert_eq!(decode_base64("-_8AAQ").unwrap(), [0xfb, 0xff, 0, 1]);
        assert!(decode_base64("!!!!").is_err());
    }

    #[test]
    fn mime_rates() {
        assert_eq!(pcm_rate("audio/pcm;rate=24000"), Some(24000));
        assert_eq!(pcm_rate("audio/pcm; rate=16000"), Some(16000));
        assert_eq!(pcm_rate("audio/pcm"), None);
        assert_eq!(pcm_rate("audio/wav;rate=8000"), None);
    }

    #[test]
    fn server_message_edge_cases() {
        // snake_case input, as proto3 JSON allows.
        let m = parse_server_message(
            br#"{"server_content":{"model_turn":{"parts":[{"inline_data":{"mime_type":"audio/pcm;rate=24000","data":"AAA="}}]},"turn_complete":true},"usage_metadata":{"total_token_count":3}}"#,
        )
        .unwrap();
        assert_eq!(m.audio_chunks().count(), 1);
        assert_eq!(m.server_content().unwrap().turn_complete, Some(true));
        assert_eq!(
            m.usage_metadata.as_ref().unwrap().total_token_count,
            Some(3)
        );
        // Two oneof payloads are refused; an unknown key next to a known one is ignored.
        assert!(
            parse_server_message(br#"{"setupComplete":{},"goAway":{"timeLeft":"1s"}}"#).is_err()
        );
        let m = parse_server_message(br#"{"newThing":1,"goAway":{"timeLeft":"1s"}}"#).unwrap();
        assert!(matches!(m.payload, ServerPayload::GoAway(_)));
        assert_eq!(
            parse_server_message(b"{}").unwrap().payload,
            ServerPayload::Empty
        );
        // Not JSON, not an object, not UTF-8.
        for bad in [
            &b"[]"[..],
            b"null",
            b"\xff\xfe",
            b"",
            b"{\"serverContent\":5}",
        ] {
            assert!(parse_server_message(bad).is_err());
        }
        // Escaped base64 cannot be borrowed but still parses.
        let m = parse_server_message(
            br#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AA\/A"}}]}}}"#,
        )
        .unwrap();
        assert_eq!(m.audio_chunks().next().unwrap().data, "AA/A");
        // Serialising what we parsed gives the same message back.
        let json = m.to_json();
        assert_eq!(parse_server_message(json.as_bytes()).unwrap(), m);
    }

    #[test]
    fn client_message_edge_cases() {
        let mut out = String::new();
        write_realtime_audio("audio/pcm;rate=16000", "AAAA", &mut out);
        assert_eq!(
            out,
            r#"{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"AAAA"}}}"#
        );
        let m = parse_client_message(out.as_bytes()).unwrap();
        assert_eq!(
            m,
            ClientMessage::RealtimeInput(RealtimeInput::audio("audio/pcm;rate=16000", "AAAA"))
        );
        assert_eq!(m.to_json(), out);
        let legacy = parse_client_message(
            br#"{"realtime_input":{"media_chunks":[{"mime_type":"audio/pcm;rate=16000","data":"AAAA"}]}}"#,
        )
        .unwrap();
        let ClientMessage::RealtimeInput(ri) = legacy else {
            panic!()
        };
        assert_eq!(ri.media_chunks.len(), 1);
        assert!(parse_client_message(br#"{"setup":{"model":"m"},"toolResponse":{}}"#).is_err());
        assert!(parse_client_message(br#"{"bogus":{}}"#).is_err());
        let cc = ClientMessage::ClientContent(ClientContent::user_text("Begin the call.", true));
        assert_eq!(
            cc.to_json(),
            r#"{"clientContent":{"turns":[{"role":"user","parts":[{"text":"Begin the call."}]}],"turnComplete":true}}"#
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in any::<Vec<u8>>()) {
            let _ = parse_server_message(&bytes);
            let _ = parse_client_message(&bytes);
        }

        #[test]
        fn parsers_never_panic_on_near_messages(
            parts in proptest::collection::vec(prop_oneof![
                Just("{"), Just("}"), Just("["), Just("]"), Just(","), Just(":"), Just("\"serverContent\""),
                Just("\"modelTurn\""), Just("\"parts\""), Just("\"inlineData\""), Just("\"data\""), Just("\"x\""),
                Just("\"goAway\""), Just("\"timeLeft\""), Just("\"usageMetadata\""), Just("1"), Just("true"),
                Just("null"), Just("\"realtimeInput\""), Just("\"audio\""), Just("\"setup\""), Just("\"model\""),
            ], 0..30)
        ) {
            let s = parts.concat();
            let _ = parse_server_message(s.as_bytes());
            let _ = parse_client_message(s.as_bytes());
        }

        #[test]
        fn realtime_audio_round_trip(mime in any::<String>(), data in any::<String>()) {
            let mut out = String::new();
            write_realtime_audio(&mime, &data, &mut out);
            let m = parse_client_message(out.as_bytes()).unwrap();
            prop_assert_eq!(m, ClientMessage::RealtimeInput(RealtimeInput::audio(&mime, &data)));
        }

        #[test]
        fn helpers_never_panic(s in any::<String>()) {
            let _ = parse_proto_duration(&s);
            let _ = decode_base64(&s);
            let _ = pcm_rate(&s);
        }

        #[test]
        fn duration_round_trip(secs in 0u64..1_000_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_proto_duration(&format_proto_duration(d)).unwrap(), d);
        }
    }
}
