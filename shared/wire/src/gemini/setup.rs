//! The `setup` message and the types it shares with `clientContent`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::serde_util::wire_enum;

/// `setup`: the first client message; the model cannot change afterwards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    /// `model`: `models/{id}`, e.g. `models/gemini-2.5-flash-native-audio-preview-12-2025`.
    pub model: String,
    /// `generationConfig`.
    #[serde(
        alias = "generation_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generation_config: Option<GenerationConfig>,
    /// `systemInstruction`.
    #[serde(
        alias = "system_instruction",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub system_instruction: Option<Content>,
    /// `tools`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// `realtimeInputConfig`: voice activity detection and barge-in.
    #[serde(
        alias = "realtime_input_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub realtime_input_config: Option<RealtimeInputConfig>,
    /// `inputAudioTranscription`: `{}` turns caller transcripts on.
    #[serde(
        alias = "input_audio_transcription",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub input_audio_transcription: Option<AudioTranscriptionConfig>,
    /// `outputAudioTranscription`: `{}` turns model transcripts on.
    #[serde(
        alias = "output_audio_transcription",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_audio_transcription: Option<AudioTranscriptionConfig>,
    /// `sessionResumption`: `{}` on the first connect, the last `newHandle`
    /// when resuming.
    #[serde(
        alias = "session_resumption",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub session_resumption: Option<SessionResumptionConfig>,
    /// `contextWindowCompression`: lifts the 15-minute audio session limit.
    #[serde(
        alias = "context_window_compression",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub context_window_compression: Option<ContextWindowCompressionConfig>,
    /// `proactivity` (2.5 native audio only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proactivity: Option<ProactivityConfig>,
}

/// `generationConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// `responseModalities`: `["AUDIO"]` for voice.
    #[serde(
        alias = "response_modalities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub response_modalities: Vec<Modality>,
    /// `speechConfig`.
    #[serde(
        alias = "speech_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub speech_config: Option<SpeechConfig>,
    /// `thinkingConfig`; which fields apply depends on the model.
    #[serde(
        alias = "thinking_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_config: Option<ThinkingConfig>,
    /// `temperature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// `maxOutputTokens`.
    #[serde(
        alias = "max_output_tokens",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_output_tokens: Option<u32>,
    /// `enableAffectiveDialog` (2.5 native audio only).
    #[serde(
        alias = "enable_affective_dialog",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_affective_dialog: Option<bool>,
}

wire_enum! {
    /// `Modality`.
    pub enum Modality {
        /// `TEXT`.
        Text => "TEXT",
        /// `AUDIO`.
        Audio => "AUDIO",
        /// `IMAGE`.
        Image => "IMAGE",
        /// `VIDEO`.
        Video => "VIDEO",
    }
}

/// `speechConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeechConfig {
    /// `voiceConfig`.
    #[serde(
        alias = "voice_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub voice_config: Option<VoiceConfig>,
    /// `languageCode`, e.g. `en-IN`.
    #[serde(
        alias = "language_code",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub language_code: Option<String>,
}

impl SpeechConfig {
    /// A prebuilt voice (`Kore`, `Puck`, …) with an optional language.
    pub fn voice(name: impl Into<String>, language_code: Option<String>) -> Self {
        Self {
            voice_config: Some(VoiceConfig {
                prebuilt_voice_config: Some(PrebuiltVoiceConfig {
                    voice_name: name.into(),
                }),
            }),
            language_code,
        }
    }
}

/// `voiceConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceConfig {
    /// `prebuiltVoiceConfig`.
    #[serde(
        alias = "prebuilt_voice_config",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prebuilt_voice_config: Option<PrebuiltVoiceConfig>,
}

/// `prebuiltVoiceConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrebuiltVoiceConfig {
    /// `voiceName`.
    #[serde(alias = "voice_name")]
    pub voice_name: String,
}

/// `thinkingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// `thinkingBudget` in tokens (2.5 models; 0 disables).
    #[serde(
        alias = "thinking_budget",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_budget: Option<i32>,
    /// `thinkingLevel` (3.x models).
    #[serde(
        alias = "thinking_level",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_level: Option<ThinkingLevel>,
    /// `includeThoughts`.
    #[serde(
        alias = "include_thoughts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub include_thoughts: Option<bool>,
}

wire_enum! {
    /// `thinkingLevel`.
    pub enum ThinkingLevel {
        /// `MINIMAL` (the 3.1 Live default).
        Minimal => "MINIMAL",
        /// `LOW`.
        Low => "LOW",
        /// `MEDIUM`.
        Medium => "MEDIUM",
        /// `HIGH`.
        High => "HIGH",
    }
}

/// `Content`: a turn of the conversation, or the system instruction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Content {
    /// `role`: `user` or `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `parts`.
    #[serde(default)]
    pub parts: Vec<Part>,
}

impl Content {
    /// One text part with a role.
    pub fn text(role: Option<&str>, text: impl Into<String>) -> Self {
        Self {
            role: role.map(str::to_owned),
            parts: vec![Part {
                text: Some(text.into()),
                ..Part::default()
            }],
        }
    }
}

/// `Part` of a client-side [`Content`] (server parts are
/// [`ServerPart`](super::ServerPart), which borrow).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `inlineData`.
    #[serde(
        alias = "inline_data",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inline_data: Option<InlineData>,
}

/// `inlineData` of a client-side [`Part`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineData {
    /// `mimeType`.
    #[serde(alias = "mime_type")]
    pub mime_type: String,
    /// `data`: base64.
    pub data: String,
}

/// `Tool`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// `functionDeclarations`.
    #[serde(
        alias = "function_declarations",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub function_declarations: Vec<FunctionDeclaration>,
}

/// `FunctionDeclaration`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    /// `name`.
    pub name: String,
    /// `description`: what the model reads to decide when to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `parameters`: an OpenAPI-style schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Schema>,
    /// `parametersJsonSchema`: a JSON Schema instead of `parameters`.
    #[serde(
        alias = "parameters_json_schema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parameters_json_schema: Option<serde_json::Value>,
    /// `behavior`: `NON_BLOCKING` lets the model talk while the tool runs
    /// (not on 3.1 Live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
}

wire_enum! {
    /// `FunctionDeclaration.behavior`.
    pub enum Behavior {
        /// `BLOCKING`: the conversation waits for the response.
        Blocking => "BLOCKING",
        /// `NON_BLOCKING`.
        NonBlocking => "NON_BLOCKING",
    }
}

/// `Schema` (the OpenAPI subset Gemini accepts).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// `type`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub schema_type: Option<SchemaType>,
    /// `format`, e.g. `int32`, `enum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `nullable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// `enum`: allowed string values.
    #[serde(rename = "enum", default, skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<String>,
    /// `items`: element schema of an `ARRAY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    /// `properties` of an `OBJECT`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, Schema>,
    /// `required` property names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
}

impl Schema {
    /// A schema of one type.
    pub fn of(t: SchemaType) -> Self {
        Self {
            schema_type: Some(t),
            ..Self::default()
        }
    }
}

wire_enum! {
    /// `Schema.type`.
    pub enum SchemaType {
        /// `STRING`.
        String => "STRING",
        /// `NUMBER`.
        Number => "NUMBER",
        /// `INTEGER`.
        Integer => "INTEGER",
        /// `BOOLEAN`.
        Boolean => "BOOLEAN",
        /// `ARRAY`.
        Array => "ARRAY",
        /// `OBJECT`.
        Object => "OBJECT",
        /// `NULL`.
        Null => "NULL",
    }
}

/// `realtimeInputConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeInputConfig {
    /// `automaticActivityDetection`.
    #[serde(
        alias = "automatic_activity_detection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub automatic_activity_detection: Option<AutomaticActivityDetection>,
    /// `activityHandling`: whether caller speech interrupts the model.
    #[serde(
        alias = "activity_handling",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_handling: Option<ActivityHandling>,
    /// `turnCoverage`.
    #[serde(
        alias = "turn_coverage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub turn_coverage: Option<TurnCoverage>,
}

/// `automaticActivityDetection` (server-side VAD).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticActivityDetection {
    /// `disabled`: when true the client sends `activityStart`/`activityEnd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// `startOfSpeechSensitivity`.
    #[serde(
        alias = "start_of_speech_sensitivity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub start_of_speech_sensitivity: Option<StartSensitivity>,
    /// `endOfSpeechSensitivity`.
    #[serde(
        alias = "end_of_speech_sensitivity",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub end_of_speech_sensitivity: Option<EndSensitivity>,
    /// `prefixPaddingMs`.
    #[serde(
        alias = "prefix_padding_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_padding_ms: Option<u32>,
    /// `silenceDurationMs`.
    #[serde(
        alias = "silence_duration_ms",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub silence_duration_ms: Option<u32>,
}

wire_enum! {
    /// `startOfSpeechSensitivity`.
    pub enum StartSensitivity {
        /// `START_SENSITIVITY_UNSPECIFIED`.
        Unspecified => "START_SENSITIVITY_UNSPECIFIED",
        /// `START_SENSITIVITY_HIGH`.
        High => "START_SENSITIVITY_HIGH",
        /// `START_SENSITIVITY_LOW`.
        Low => "START_SENSITIVITY_LOW",
    }
}

wire_enum! {
    /// `endOfSpeechSensitivity`.
    pub enum EndSensitivity {
        /// `END_SENSITIVITY_UNSPECIFIED`.
        Unspecified => "END_SENSITIVITY_UNSPECIFIED",
        /// `END_SENSITIVITY_HIGH`.
        High => "END_SENSITIVITY_HIGH",
        /// `END_SENSITIVITY_LOW`.
        Low => "END_SENSITIVITY_LOW",
    }
}

wire_enum! {
    /// `activityHandling`.
    pub enum ActivityHandling {
        /// `START_OF_ACTIVITY_INTERRUPTS`: barge-in (the default).
        StartOfActivityInterrupts => "START_OF_ACTIVITY_INTERRUPTS",
        /// `NO_INTERRUPTION`.
        NoInterruption => "NO_INTERRUPTION",
    }
}

wire_enum! {
    /// `turnCoverage`.
    pub enum TurnCoverage {
        /// `TURN_INCLUDES_ONLY_ACTIVITY`.
        OnlyActivity => "TURN_INCLUDES_ONLY_ACTIVITY",
        /// `TURN_INCLUDES_ALL_INPUT`.
        AllInput => "TURN_INCLUDES_ALL_INPUT",
        /// `TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO` (the 3.1 default).
        AudioActivityAndAllVideo => "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
    }
}

/// `inputAudioTranscription` / `outputAudioTranscription`: `{}` enables.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioTranscriptionConfig {
    /// `languageCodes`: expected languages (optional).
    #[serde(
        alias = "language_codes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub language_codes: Vec<String>,
}

/// `sessionResumption`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResumptionConfig {
    /// `handle`: omit on the first connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// `transparent`: ask for `lastConsumedClientMessageIndex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent: Option<bool>,
}

/// `contextWindowCompression`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextWindowCompressionConfig {
    /// `triggerTokens`: compress when the context reaches this size.
    #[serde(
        alias = "trigger_tokens",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trigger_tokens: Option<u64>,
    /// `slidingWindow`.
    #[serde(
        alias = "sliding_window",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sliding_window: Option<SlidingWindow>,
}

/// `slidingWindow`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlidingWindow {
    /// `targetTokens`: context size after compression.
    #[serde(
        alias = "target_tokens",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_tokens: Option<u64>,
}

/// `proactivity`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProactivityConfig {
    /// `proactiveAudio`: the model may stay silent when input is not for it.
    #[serde(
        alias = "proactive_audio",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub proactive_audio: Option<bool>,
}
