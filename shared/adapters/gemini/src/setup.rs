//! The `setup` message from an agent's configuration.

use std::collections::BTreeMap;

use voxdial_conversation::config::Sensitivity;
use voxdial_conversation::{AgentConfig, CallContext, ToolKind};
use voxdial_wire::gemini::{
    ActivityHandling, AudioTranscriptionConfig, AutomaticActivityDetection, Content,
    ContextWindowCompressionConfig, EndSensitivity, FunctionDeclaration, GenerationConfig,
    Modality, RealtimeInputConfig, Schema, SchemaType, SessionResumptionConfig, Setup,
    SlidingWindow, SpeechConfig, StartSensitivity, Tool, TurnCoverage,
};

fn string_prop(desc: &str) -> Schema {
    Schema {
        description: Some(desc.to_owned()),
        ..Schema::of(SchemaType::String)
    }
}

fn object(props: Vec<(&str, Schema)>, required: &[&str]) -> Schema {
    Schema {
        properties: props
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
        required: required.iter().map(|s| (*s).to_owned()).collect(),
        ..Schema::of(SchemaType::Object)
    }
}

/// The function declaration of one tool.
pub fn declaration(tool: ToolKind) -> FunctionDeclaration {
    let (description, parameters) = match tool {
        ToolKind::TransferCall => (
            "Transfer the caller to a human agent. Use when they ask for a person or you cannot help.",
            object(
                vec![
                    ("reason", string_prop("Why the caller needs a human.")),
                    (
                        "skills",
                        Schema {
                            description: Some(
                                "Skills the human needs, e.g. sales, billing.".into(),
                            ),
                            items: Some(Box::new(Schema::of(SchemaType::String))),
                            ..Schema::of(SchemaType::Array)
                        },
                    ),
                ],
                &["reason"],
            ),
        ),
        ToolKind::RecordOutcome => (
            "Record the result of the conversation.",
            object(
                vec![
                    (
                        "disposition",
                        Schema {
                            enum_values: [
                                "interested",
                                "not_interested",
                                "callback_requested",
                                "transferred",
                                "wrong_number",
                                "opted_out",
                            ]
                            .map(String::from)
                            .to_vec(),
                            ..string_prop("The outcome.")
                        },
                    ),
                    ("note", string_prop("One sentence of context.")),
                ],
                &["disposition"],
            ),
        ),
        ToolKind::ScheduleCallback => (
            "Schedule a call back at a time the caller chose.",
            object(
                vec![(
                    "at",
                    string_prop("RFC 3339 date-time, if the caller named one."),
                )],
                &[],
            ),
        ),
        ToolKind::EndCall => (
            "End the call after your current sentence (say goodbye first).",
            object(vec![("reason", string_prop("Why the call ends."))], &[]),
        ),
        ToolKind::CollectDigits => (
            "Ask the caller to type digits on their keypad and read them.",
            object(
                vec![
                    ("max_digits", Schema::of(SchemaType::Integer)),
                    (
                        "terminator",
                        string_prop("Key that ends the input, e.g. #."),
                    ),
                    ("timeout_s", Schema::of(SchemaType::Number)),
                ],
                &[],
            ),
        ),
    };
    FunctionDeclaration {
        name: tool.function_name().to_owned(),
        description: Some(description.to_owned()),
        parameters: Some(parameters),
        ..FunctionDeclaration::default()
    }
}

/// The `setup` for `agent` on a call with `ctx`, for model `model` (an id
/// like `gemini-2.5-flash-native-audio-preview-12-2025`; `models/` is
/// added when missing), resuming with `handle` when given.
pub fn build_setup(ctx: &CallContext, model: &str, handle: Option<String>) -> Setup {
    let agent: &AgentConfig = &ctx.agent;
    let ad = &agent.activity_detection;
    let start = match ad.start_sensitivity {
        Sensitivity::Default => None,
        Sensitivity::High => Some(StartSensitivity::High),
        Sensitivity::Low => Some(StartSensitivity::Low),
    };
    let end = match ad.end_sensitivity {
        Sensitivity::Default => None,
        Sensitivity::High => Some(EndSensitivity::High),
        Sensitivity::Low => Some(EndSensitivity::Low),
    };
    let s = &agent.session;
    let transcription = |on: bool| on.then(AudioTranscriptionConfig::default);
    Setup {
        model: if model.starts_with("models/") || model.starts_with("projects/") {
            model.to_owned()
        } else {
            format!("models/{model}")
        },
        generation_config: Some(GenerationConfig {
            response_modalities: vec![Modality::Audio],
            speech_config: Some(SpeechConfig::voice(
                agent.voice.clone(),
                Some(agent.language.clone()),
            )),
            ..GenerationConfig::default()
        }),
        system_instruction: Some(Content::text(None, agent.system_instruction(ctx))),
        tools: if agent.tools.is_empty() {
            Vec::new()
        } else {
            vec![Tool {
                function_declarations: agent.tools.iter().map(|t| declaration(*t)).collect(),
            }]
        },
        realtime_input_config: Some(RealtimeInputConfig {
            automatic_activity_detection: Some(AutomaticActivityDetection {
                disabled: Some(ad.disabled),
                start_of_speech_sensitivity: start,
                end_of_speech_sensitivity: end,
                prefix_padding_ms: Some(ad.prefix_padding_ms),
                silence_duration_ms: Some(ad.silence_duration_ms),
            }),
            activity_handling: Some(ActivityHandling::StartOfActivityInterrupts),
            turn_coverage: Some(TurnCoverage::OnlyActivity),
        }),
        input_audio_transcription: transcription(s.input_transcription),
        output_audio_transcription: transcription(s.output_transcription),
        session_resumption: Some(SessionResumptionConfig {
            handle,
            transparent: None,
        }),
        context_window_compression: (s.compression_trigger_tokens > 0).then_some(
            ContextWindowCompressionConfig {
                trigger_tokens: Some(s.compression_trigger_tokens),
                sliding_window: Some(SlidingWindow {
                    target_tokens: Some(s.compression_target_tokens),
                }),
            },
        ),
        ..Setup::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CallContext {
        CallContext::with_agent("c1".parse().unwrap(), AgentConfig::default())
    }

    #[test]
    fn setup_matches_the_reference_shape() {
        let mut c = ctx();
        c.lead_name = Some("Jane".into());
        let setup = build_setup(&c, "gemini-2.5-flash-native-audio-preview-12-2025", None);
        let msg = voxdial_wire::gemini::ClientMessage::Setup(Box::new(setup));
        let v: serde_json::Value = serde_json::from_str(&msg.to_json()).unwrap();
        let s = &v["setup"];
        assert_eq!(
            s["model"],
            "models/gemini-2.5-flash-native-audio-preview-12-2025"
        );
        assert_eq!(s["generationConfig"]["responseModalities"][0], "AUDIO");
        assert_eq!(
            s["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"],
            "Kore"
        );
        assert_eq!(
            s["generationConfig"]["speechConfig"]["languageCode"],
            "en-IN"
        );
        assert!(
            s["systemInstruction"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Jane")
        );
        let names: Vec<&str> = s["tools"][0]["functionDeclarations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "transfer_call",
                "record_outcome",
                "schedule_callback",
                "end_call",
                "collect_digits"
            ]
        );
        assert_eq!(
            s["tools"][0]["functionDeclarations"][0]["parameters"]["type"],
            "OBJECT"
        );
        let aad = &s["realtimeInputConfig"]["automaticActivityDetection"];
        assert_eq!(aad["startOfSpeechSensitivity"], "START_SENSITIVITY_HIGH");
        assert_eq!(aad["silenceDurationMs"], 500);
        assert_eq!(s["inputAudioTranscription"], serde_json::json!({}));
        assert_eq!(s["outputAudioTranscription"], serde_json::json!({}));
        assert_eq!(s["contextWindowCompression"]["triggerTokens"], 25600);
        assert_eq!(s["sessionResumption"], serde_json::json!({}));
        // and the wire crate reads it back
        let json = msg.to_json();
        let back = voxdial_wire::gemini::parse_client_message(json.as_bytes()).unwrap();
        assert_eq!(back, msg);
        let resumed = build_setup(&c, "models/x", Some("h-1".into()));
        assert_eq!(
            resumed.session_resumption.unwrap().handle.as_deref(),
            Some("h-1")
        );
        assert_eq!(resumed.model, "models/x");
    }
}
