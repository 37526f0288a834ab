//! Replays `fixtures/gemini_messages.json`, produced with google-genai 3.6.1
//! by `fixtures/gen_gemini_messages.py`: our serialisation must match the
//! SDK's field for field, and every server example must parse.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use voxdial_wire::gemini::*;

#[derive(Deserialize)]
struct Fixture {
    library: String,
    sdk_default_endpoint: String,
    setups: Vec<ClientCase>,
    client_messages: Vec<ClientCase>,
    server_messages: Vec<ServerCase>,
}

#[derive(Deserialize)]
struct ClientCase {
    name: String,
    sdk_wire: Value,
    camel: Value,
    #[serde(default)]
    audio_hex: Option<String>,
}

#[derive(Deserialize)]
struct ServerCase {
    name: String,
    json: String,
    sdk_valid: bool,
    normalized: Option<Value>,
    #[serde(default)]
    audio_hex: Option<String>,
    #[serde(default)]
    last_consumed_index: Option<u64>,
}

fn fixture() -> Fixture {
    let f: Fixture =
        serde_json::from_str(include_str!("../fixtures/gemini_messages.json")).unwrap();
    assert!(f.library.starts_with("google-genai 3.6"), "{}", f.library);
    f
}

fn reparse(v: &Value) -> Value {
    let bytes = serde_json::to_vec(v).unwrap();
    let msg = parse_client_message(&bytes).unwrap();
    serde_json::to_value(&msg).unwrap()
}

#[test]
fn client_messages_match_the_sdk() {
    let f = fixture();
    for c in f.setups.iter().chain(&f.client_messages) {
        assert_eq!(reparse(&c.sdk_wire), c.camel, "{}: SDK wire form", c.name);
        assert_eq!(reparse(&c.camel), c.camel, "{}: camelCase form", c.name);
        if let Some(hex) = &c.audio_hex {
            let bytes = serde_json::to_vec(&c.sdk_wire).unwrap();
            let ClientMessage::RealtimeInput(ri) = parse_client_message(&bytes).unwrap() else {
                panic!("{}", c.name)
            };
            let audio = ri.audio.unwrap();
            assert_eq!(hex::encode(audio.decode().unwrap()), *hex);
            assert_eq!(audio.pcm_rate(), Some(16000));
            // The fast writer produces the same message.
            let mut out = String::new();
            write_realtime_audio(&audio.mime_type, &audio.data, &mut out);
            assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), c.camel);
        }
    }
}

#[test]
fn reference_setup_built_in_rust_matches_the_sdk() {
    let f = fixture();
    let case = f
        .setups
        .iter()
        .find(|c| c.name == "reference_full")
        .unwrap();
    let mut end_call = Schema::of(SchemaType::Object);
    end_call.properties.insert(
        "outcome".into(),
        Schema {
            format: Some("enum".into()),
            enum_values: vec![
                "interested".into(),
                "not_interested".into(),
                "callback".into(),
            ],
            ..Schema::of(SchemaType::String)
        },
    );
    end_call.properties.insert(
        "callback_minutes".into(),
        Schema {
            nullable: Some(true),
            description: Some("when to call back".into()),
            ..Schema::of(SchemaType::Integer)
        },
    );
    end_call.properties.insert(
        "tags".into(),
        Schema {
            items: Some(Box::new(Schema::of(SchemaType::String))),
            ..Schema::of(SchemaType::Array)
        },
    );
    let mut transfer = Schema::of(SchemaType::Object);
    transfer
        .properties
        .insert("reason".into(), Schema::of(SchemaType::String));
    transfer.required = vec!["reason".into()];
    let setup = Setup {
        model: "models/gemini-2.5-flash-native-audio-preview-12-2025".into(),
        generation_config: Some(GenerationConfig {
            response_modalities: vec![Modality::Audio],
            speech_config: Some(SpeechConfig::voice("Kore", Some("en-IN".into()))),
            thinking_config: Some(ThinkingConfig {
                thinking_budget: Some(0),
                ..ThinkingConfig::default()
            }),
            ..GenerationConfig::default()
        }),
        system_instruction: Some(Content::text(
            Some("user"),
            "You are a polite calling agent.",
        )),
        tools: vec![Tool {
            function_declarations: vec![
                FunctionDeclaration {
                    name: "transfer_call".into(),
                    description: Some("Transfer to a human".into()),
                    parameters: Some(transfer),
                    behavior: Some(Behavior::NonBlocking),
                    ..FunctionDeclaration::default()
                },
                FunctionDeclaration {
                    name: "end_call".into(),
                    description: Some("Hang up politely".into()),
                    parameters: Some(end_call),
                    ..FunctionDeclaration::default()
                },
            ],
        }],
        realtime_input_config: Some(RealtimeInputConfig {
            automatic_activity_detection: Some(AutomaticActivityDetection {
                disabled: Some(false),
                start_of_speech_sensitivity: Some(StartSensitivity::High),
                end_of_speech_sensitivity: Some(EndSensitivity::Low),
                prefix_padding_ms: Some(20),
                silence_duration_ms: Some(500),
            }),
            activity_handling: Some(ActivityHandling::StartOfActivityInterrupts),
            turn_coverage: Some(TurnCoverage::OnlyActivity),
        }),
        input_audio_transcription: Some(AudioTranscriptionConfig::default()),
        output_audio_transcription: Some(AudioTranscriptionConfig::default()),
        session_resumption: Some(SessionResumptionConfig {
            handle: Some("resume-handle-1".into()),
            transparent: None,
        }),
        context_window_compression: Some(ContextWindowCompressionConfig {
            trigger_tokens: Some(25600),
            sliding_window: Some(SlidingWindow {
                target_tokens: Some(12800),
            }),
        }),
        proactivity: None,
    };
    let ours = serde_json::to_value(ClientMessage::Setup(Box::new(setup))).unwrap();
    assert_eq!(ours, case.camel);
}

#[test]
fn server_messages_parse_like_the_sdk() {
    let f = fixture();
    for c in &f.server_messages {
        // Binary frames hold the same JSON as text frames.
        let msg =
            parse_server_message(c.json.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        if c.sdk_valid {
            let ours = serde_json::to_value(&msg).unwrap();
            assert_eq!(Some(&ours), c.normalized.as_ref(), "{}", c.name);
        } else {
            assert!(
                matches!(msg.payload, ServerPayload::Unknown { .. }),
                "{}: {:?}",
                c.name,
                msg.payload
            );
        }
        if let Some(hex) = &c.audio_hex {
            let mut pcm = Vec::new();
            for blob in msg.audio_chunks() {
                assert_eq!(blob.pcm_rate(), Some(24000));
                pcm.extend(blob.decode().unwrap());
            }
            assert_eq!(hex::encode(pcm), *hex, "{}", c.name);
        }
        if let Some(i) = c.last_consumed_index {
            let ServerPayload::SessionResumptionUpdate(u) = &msg.payload else {
                panic!("{}", c.name)
            };
            assert_eq!(u.last_consumed_client_message_index, Some(i));
        }
    }
}

#[test]
fn specific_server_semantics() {
    let f = fixture();
    let get = |name: &str| {
        f.server_messages
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .json
            .clone()
    };

    let audio = get("audio");
    let msg = parse_server_message(audio.as_bytes()).unwrap();
    let blob = msg.audio_chunks().next().unwrap();
    assert!(
        matches!(blob.data, std::borrow::Cow::Borrowed(_)),
        "audio data is borrowed from the frame"
    );

    let go = get("go_away_fraction");
    let ServerPayload::GoAway(g) = parse_server_message(go.as_bytes()).unwrap().payload else {
        panic!()
    };
    assert_eq!(g.time_left().unwrap().unwrap(), Duration::from_millis(1500));

    let usage = get("turn_complete_with_usage");
    let msg = parse_server_message(usage.as_bytes()).unwrap();
    assert_eq!(msg.server_content().unwrap().turn_complete, Some(true));
    assert_eq!(
        msg.server_content().unwrap().turn_complete_reason,
        Some(TurnCompleteReason::NeedMoreInput)
    );
    assert_eq!(msg.usage_metadata.unwrap().total_token_count, Some(908));

    let unknown = get("unknown_key_with_usage");
    let msg = parse_server_message(unknown.as_bytes()).unwrap();
    assert_eq!(msg.usage_metadata.unwrap().total_token_count, Some(1));

    let tool = get("tool_call");
    let ServerPayload::ToolCall(t) = parse_server_message(tool.as_bytes()).unwrap().payload else {
        panic!()
    };
    assert_eq!(t.function_calls[0].id.as_deref(), Some("call-123"));
    assert_eq!(t.function_calls[0].args.as_ref().unwrap()["priority"], 2);
    assert!(t.function_calls[1].args.is_none());
}

#[test]
fn endpoint_matches_the_sdk_with_its_default_version() {
    let f = fixture();
    let e = LiveEndpoint {
        api_version: "v1".into(),
        ..LiveEndpoint::default()
    };
    assert_eq!(e.url(), f.sdk_default_endpoint);
}
