//! Client messages: `setup`, `clientContent`, `realtimeInput`, `toolResponse`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{Content, GeminiError, Setup, decode_base64, pcm_rate};
use crate::json::push_json_str;
use crate::serde_util::wire_enum;

/// A message to the server: exactly one of the four kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientMessage<'a> {
    /// `setup`: first message of a session (boxed: it is large).
    Setup(Box<Setup>),
    /// `clientContent`: turns appended to the conversation (interrupts the
    /// model).
    #[serde(alias = "client_content")]
    ClientContent(ClientContent),
    /// `realtimeInput`: streamed audio, text or activity signals.
    #[serde(alias = "realtime_input", borrow)]
    RealtimeInput(RealtimeInput<'a>),
    /// `toolResponse`: results of `toolCall`s.
    #[serde(alias = "tool_response")]
    ToolResponse(ToolResponse),
}

impl ClientMessage<'_> {
    /// The JSON text (infallible for these types: every map key is a string).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses a client message (what the simulated server receives), camelCase
/// or snake_case, borrowing audio data from `frame`.
pub fn parse_client_message(frame: &[u8]) -> Result<ClientMessage<'_>, GeminiError> {
    serde_json::from_slice(frame).map_err(GeminiError::Json)
}

/// `clientContent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientContent {
    /// `turns`.
    #[serde(default)]
    pub turns: Vec<Content>,
    /// `turnComplete`: start generating now.
    #[serde(
        alias = "turn_complete",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub turn_complete: Option<bool>,
}

impl ClientContent {
    /// One user text turn, e.g. "Begin the call.".
    pub fn user_text(text: impl Into<String>, turn_complete: bool) -> Self {
        Self {
            turns: vec![Content::text(Some("user"), text)],
            turn_complete: Some(turn_complete),
        }
    }
}

/// `realtimeInput`: set exactly one field per message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeInput<'a> {
    /// `audio`: PCM16 LE mono, `audio/pcm;rate=16000`.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Blob<'a>>,
    /// `audioStreamEnd`: the microphone paused (flushes server VAD).
    #[serde(
        alias = "audio_stream_end",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub audio_stream_end: Option<bool>,
    /// `text`: realtime text input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `activityStart`: manual VAD (only when `automaticActivityDetection.disabled`).
    #[serde(
        alias = "activity_start",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_start: Option<ActivitySignal>,
    /// `activityEnd`: manual VAD.
    #[serde(
        alias = "activity_end",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_end: Option<ActivitySignal>,
    /// `mediaChunks`: deprecated predecessor of `audio`, read for older clients.
    #[serde(
        alias = "media_chunks",
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub media_chunks: Vec<Blob<'a>>,
}

impl<'a> RealtimeInput<'a> {
    /// An `audio` chunk.
    pub fn audio(mime_type: &'a str, data_b64: &'a str) -> Self {
        Self {
            audio: Some(Blob {
                mime_type: Cow::Borrowed(mime_type),
                data: Cow::Borrowed(data_b64),
            }),
            ..Self::default()
        }
    }
}

/// `activityStart` / `activityEnd`: an empty object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActivitySignal {}

/// `Blob`: inline bytes, base64 on the wire. Borrows from the parsed frame.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    /// `mimeType`, e.g. `audio/pcm;rate=24000`.
    #[serde(alias = "mime_type", borrow, default)]
    pub mime_type: Cow<'a, str>,
    /// `data`: base64, standard or URL-safe alphabet.
    #[serde(borrow, default)]
    pub data: Cow<'a, str>,
}

impl Blob<'_> {
    /// The bytes.
    pub fn decode(&self) -> Result<Vec<u8>, GeminiError> {
        decode_base64(&self.data)
    }

    /// The sample rate, for `audio/pcm;rate=N`.
    pub fn pcm_rate(&self) -> Option<u32> {
        pcm_rate(&self.mime_type)
    }

    /// Whether this is audio.
    pub fn is_audio(&self) -> bool {
        self.mime_type
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("audio/"))
    }
}

/// `toolResponse`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResponse {
    /// `functionResponses`.
    #[serde(alias = "function_responses", default)]
    pub function_responses: Vec<FunctionResponse>,
}

/// `FunctionResponse`: answer to one `FunctionCall`, matched by `id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponse {
    /// `id` of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `name` of the function.
    pub name: String,
    /// `response`: a JSON object, e.g. `{"result":"ok"}`.
    #[serde(default)]
    pub response: serde_json::Map<String, serde_json::Value>,
    /// `scheduling` (non-blocking functions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<FunctionResponseScheduling>,
    /// `willContinue`: more responses follow for this call.
    #[serde(
        alias = "will_continue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub will_continue: Option<bool>,
}

wire_enum! {
    /// `FunctionResponse.scheduling`.
    pub enum FunctionResponseScheduling {
        /// `SILENT`: add to context, say nothing.
        Silent => "SILENT",
        /// `WHEN_IDLE`: speak about it when the model is idle.
        WhenIdle => "WHEN_IDLE",
        /// `INTERRUPT`: speak about it now.
        Interrupt => "INTERRUPT",
    }
}

/// Appends `{"realtimeInput":{"audio":{"mimeType":…,"data":…}}}` to `out`,
/// without serde: the per-20-ms message of the bridge.
pub fn write_realtime_audio(mime_type: &str, data_b64: &str, out: &mut String) {
    out.reserve(52 + mime_type.len() + data_b64.len());
    out.push_str(r#"{"realtimeInput":{"audio":{"mimeType":"#);
    push_json_str(out, mime_type);
    out.push_str(r#","data":"#);
    push_json_str(out, data_b64);
    out.push_str("}}}");
}
