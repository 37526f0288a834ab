//! Server messages: one `oneof` payload plus optional `usageMetadata`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Blob, GeminiError, parse_proto_duration};
use crate::serde_util::{borrow_opt_cow, opt_num_lenient, wire_enum};

/// A server message. Borrows audio data and text from the parsed frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerMessage<'a> {
    /// The one payload of the message.
    pub payload: ServerPayload<'a>,
    /// `usageMetadata`, which may accompany any payload (often the last
    /// `serverContent` of a turn) or come alone.
    pub usage_metadata: Option<UsageMetadata>,
}

/// The proto's `oneof`: exactly one top-level key.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ServerPayload<'a> {
    /// `setupComplete`: the session is ready.
    SetupComplete(SetupComplete),
    /// `serverContent`: model audio/text, transcripts, turn signals.
    ServerContent(ServerContent<'a>),
    /// `toolCall`: run these functions, answer with `toolResponse`.
    ToolCall(ToolCall),
    /// `toolCallCancellation`: forget these calls.
    ToolCallCancellation(ToolCallCancellation),
    /// `goAway`: the connection ends soon; resume with the last handle.
    GoAway(GoAway),
    /// `sessionResumptionUpdate`: a new resumption handle.
    SessionResumptionUpdate(SessionResumptionUpdate),
    /// `voiceActivity` (newer servers).
    VoiceActivity(VoiceActivity),
    /// `voiceActivityDetectionSignal` (allowlisted).
    VoiceActivityDetectionSignal(VoiceActivityDetectionSignal),
    /// No payload key (e.g. only `usageMetadata`).
    #[default]
    Empty,
    /// A key this crate does not know; tolerated, not an error.
    Unknown {
        /// The key.
        key: String,
    },
}

/// Parses a server frame (binary or text, JSON either way), borrowing audio.
pub fn parse_server_message(frame: &[u8]) -> Result<ServerMessage<'_>, GeminiError> {
    serde_json::from_slice(frame).map_err(GeminiError::Json)
}

impl<'a> ServerMessage<'a> {
    /// The `serverContent`, if that is the payload.
    pub fn server_content(&self) -> Option<&ServerContent<'a>> {
        match &self.payload {
            ServerPayload::ServerContent(c) => Some(c),
            _ => None,
        }
    }

    /// Every inline audio blob of the model turn, in order. On 3.x models a
    /// message can carry audio and text parts together.
    pub fn audio_chunks(&self) -> impl Iterator<Item = &Blob<'a>> {
        self.server_content()
            .and_then(|c| c.model_turn.as_ref())
            .into_iter()
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| p.inline_data.as_ref())
            .filter(|b| b.is_audio())
    }

    /// The JSON text (infallible for these types).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ServerMessage<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ServerMessage<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Gemini Live server message object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut payload: Option<(String, ServerPayload<'a>)> = None;
                let mut usage = None;
                while let Some(key) = map.next_key::<String>()? {
                    let p = match key.as_str() {
                        "setupComplete" | "setup_complete" => {
                            ServerPayload::SetupComplete(map.next_value()?)
                        }
                        "serverContent" | "server_content" => {
                            ServerPayload::ServerContent(map.next_value()?)
                        }
                        "toolCall" | "tool_call" => ServerPayload::ToolCall(map.next_value()?),
                        "toolCallCancellation" | "tool_call_cancellation" => {
                            ServerPayload::ToolCallCancellation(map.next_value()?)
                        }
                        "goAway" | "go_away" => ServerPayload::GoAway(map.next_value()?),
                        "sessionResumptionUpdate" | "session_resumption_update" => {
                            ServerPayload::SessionResumptionUpdate(map.next_value()?)
                        }
                        "voiceActivity" | "voice_activity" => {
                            ServerPayload::VoiceActivity(map.next_value()?)
                        }
                        "voiceActivityDetectionSignal" | "voice_activity_detection_signal" => {
                            ServerPayload::VoiceActivityDetectionSignal(map.next_value()?)
                        }
                        "usageMetadata" | "usage_metadata" => {
                            usage = Some(map.next_value()?);
                            continue;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            ServerPayload::Unknown { key: key.clone() }
                        }
                    };
                    payload = match payload.take() {
                        None => Some((key, p)),
                        // A known payload wins over an unknown key.
                        Some((_, ServerPayload::Unknown { .. })) => Some((key, p)),
                        Some(first) if matches!(p, ServerPayload::Unknown { .. }) => Some(first),
                        Some((first, _)) => {
                            return Err(de::Error::custom(format_args!(
                                "message has both {first:?} and {key:?}; exactly one is allowed"
                            )));
                        }
                    };
                }
                Ok(ServerMessage {
                    payload: payload.map_or(ServerPayload::Empty, |(_, p)| p),
                    usage_metadata: usage,
                })
            }
        }

        d.deserialize_map(V(PhantomData))
    }
}

impl Serialize for ServerMessage<'_> {
    /// Writes the payload key (not for `Empty` and `Unknown`) and
    /// `usageMetadata`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match &self.payload {
            ServerPayload::SetupComplete(v) => m.serialize_entry("setupComplete", v)?,
            ServerPayload::ServerContent(v) => m.serialize_entry("serverContent", v)?,
            ServerPayload::ToolCall(v) => m.serialize_entry("toolCall", v)?,
            ServerPayload::ToolCallCancellation(v) => {
                m.serialize_entry("toolCallCancellation", v)?
            }
            ServerPayload::GoAway(v) => m.serialize_entry("goAway", v)?,
            ServerPayload::SessionResumptionUpdate(v) => {
                m.serialize_entry("sessionResumptionUpdate", v)?;
            }
            ServerPayload::VoiceActivity(v) => m.serialize_entry("voiceActivity", v)?,
            ServerPayload::VoiceActivityDetectionSignal(v) => {
                m.serialize_entry("voiceActivityDetectionSignal", v)?;
            }
            ServerPayload::Empty | ServerPayload::Unknown { .. } => {}
        }
        if let Some(u) = &self.usage_metadata {
            m.serialize_entry("usageMetadata", u)?;
        }
        m.end()
    }
}

/// `setupComplete`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupComplete {
    /// `sessionId` (3.x servers).
    #[serde(alias = "session_id", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// `serverContent`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerContent<'a> {
    /// `modelTurn`: audio and/or text parts.
    #[serde(
        alias = "model_turn",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub model_turn: Option<ModelTurn<'a>>,
    /// `turnComplete`: the model finished its turn.
    #[serde(
        alias = "turn_complete",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub turn_complete: Option<bool>,
    /// `interrupted`: the caller barged in; drop queued audio (Twilio `clear`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<bool>,
    /// `generationComplete`: all content generated (playback may continue).
    #[serde(
        alias = "generation_complete",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generation_complete: Option<bool>,
    /// `inputTranscription`: what the caller said.
    #[serde(
        alias = "input_transcription",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub input_transcription: Option<Transcription<'a>>,
    /// `outputTranscription`: what the model said.
    #[serde(
        alias = "output_transcription",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_transcription: Option<Transcription<'a>>,
    /// `turnCompleteReason`.
    #[serde(
        alias = "turn_complete_reason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub turn_complete_reason: Option<TurnCompleteReason>,
    /// `waitingForInput`: the model expects the caller to go on.
    #[serde(
        alias = "waiting_for_input",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub waiting_for_input: Option<bool>,
    /// `groundingMetadata`, kept as JSON.
    #[serde(
        alias = "grounding_metadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub grounding_metadata: Option<serde_json::Value>,
}

/// `modelTurn`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelTurn<'a> {
    /// `role`: `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `parts`.
    #[serde(borrow, default)]
    pub parts: Vec<ServerPart<'a>>,
}

/// A part of a model turn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerPart<'a> {
    /// `text`.
    #[serde(
        borrow,
        default,
        deserialize_with = "borrow_opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<Cow<'a, str>>,
    /// `inlineData`: audio, `audio/pcm;rate=24000`.
    #[serde(
        alias = "inline_data",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inline_data: Option<Blob<'a>>,
    /// `thought`: this text part is model reasoning, not speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
}

/// `Transcription`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcription<'a> {
    /// `text`: an increment of the transcript.
    #[serde(
        borrow,
        default,
        deserialize_with = "borrow_opt_cow",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<Cow<'a, str>>,
    /// `finished`: the end of this transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
}

wire_enum! {
    /// `turnCompleteReason` (the values voxdial may act on; others are kept
    /// in `Other`).
    pub enum TurnCompleteReason {
        /// `TURN_COMPLETE_REASON_UNSPECIFIED`.
        Unspecified => "TURN_COMPLETE_REASON_UNSPECIFIED",
        /// `MALFORMED_FUNCTION_CALL`.
        MalformedFunctionCall => "MALFORMED_FUNCTION_CALL",
        /// `RESPONSE_REJECTED`.
        ResponseRejected => "RESPONSE_REJECTED",
        /// `NEED_MORE_INPUT`.
        NeedMoreInput => "NEED_MORE_INPUT",
    }
}

/// `toolCall`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    /// `functionCalls`.
    #[serde(alias = "function_calls", default)]
    pub function_calls: Vec<FunctionCall>,
}

/// `FunctionCall`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    /// `id`, to echo in the `FunctionResponse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `name`.
    pub name: String,
    /// `args`: a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `toolCallCancellation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolCallCancellation {
    /// `ids` of the cancelled calls.
    #[serde(default)]
    pub ids: Vec<String>,
}

/// `goAway`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoAway {
    /// `timeLeft`: a proto3 duration string (`"10s"`).
    #[serde(alias = "time_left", default, skip_serializing_if = "Option::is_none")]
    pub time_left: Option<String>,
}

impl GoAway {
    /// `timeLeft` as a [`Duration`]; `None` when absent.
    pub fn time_left(&self) -> Option<Result<Duration, GeminiError>> {
        self.time_left.as_deref().map(parse_proto_duration)
    }
}

/// `sessionResumptionUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResumptionUpdate {
    /// `newHandle`: resume with this (valid about 2 h); empty when not
    /// resumable.
    #[serde(alias = "new_handle", default, skip_serializing_if = "Option::is_none")]
    pub new_handle: Option<String>,
    /// `resumable`: whether resuming now would lose nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumable: Option<bool>,
    /// `lastConsumedClientMessageIndex` (`int64`: proto3 JSON may send a
    /// string; both are read, a number is written, as the SDK dumps it).
    #[serde(
        alias = "last_consumed_client_message_index",
        default,
        with = "opt_num_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_consumed_client_message_index: Option<u64>,
}

/// `voiceActivity`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceActivity {
    /// `voiceActivityType`: `ACTIVITY_START` or `ACTIVITY_END`.
    #[serde(
        alias = "voice_activity_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub voice_activity_type: Option<String>,
    /// `audioOffset`: a duration string.
    #[serde(
        alias = "audio_offset",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub audio_offset: Option<String>,
}

/// `voiceActivityDetectionSignal`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceActivityDetectionSignal {
    /// `vadSignalType`: `VAD_SIGNAL_TYPE_SOS` or `VAD_SIGNAL_TYPE_EOS`.
    #[serde(
        alias = "vad_signal_type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vad_signal_type: Option<String>,
}

/// `usageMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// `promptTokenCount`.
    #[serde(
        alias = "prompt_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_token_count: Option<u64>,
    /// `cachedContentTokenCount`.
    #[serde(
        alias = "cached_content_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_content_token_count: Option<u64>,
    /// `responseTokenCount`.
    #[serde(
        alias = "response_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_token_count: Option<u64>,
    /// `toolUsePromptTokenCount`.
    #[serde(
        alias = "tool_use_prompt_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_use_prompt_token_count: Option<u64>,
    /// `thoughtsTokenCount`.
    #[serde(
        alias = "thoughts_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub thoughts_token_count: Option<u64>,
    /// `totalTokenCount`.
    #[serde(
        alias = "total_token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub total_token_count: Option<u64>,
    /// `promptTokensDetails`.
    #[serde(
        alias = "prompt_tokens_details",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub prompt_tokens_details: Vec<ModalityTokenCount>,
    /// `cacheTokensDetails`.
    #[serde(
        alias = "cache_tokens_details",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cache_tokens_details: Vec<ModalityTokenCount>,
    /// `responseTokensDetails`.
    #[serde(
        alias = "response_tokens_details",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub response_tokens_details: Vec<ModalityTokenCount>,
    /// `toolUsePromptTokensDetails`.
    #[serde(
        alias = "tool_use_prompt_tokens_details",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_use_prompt_tokens_details: Vec<ModalityTokenCount>,
}

/// `ModalityTokenCount`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModalityTokenCount {
    /// `modality`: `TEXT`, `AUDIO`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// `tokenCount`.
    #[serde(
        alias = "token_count",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub token_count: Option<u64>,
}
