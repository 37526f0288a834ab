//! Compares our TwiML with twilio-python's (`fixtures/gen_twiml.py`): the
//! library's XML parses into our tree, and our XML equals the library's byte
//! for byte where the case is marked exact.

use serde::Deserialize;
use voxdial_wire::twilio::twiml::*;

#[derive(Deserialize)]
struct Fixture {
    library: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    exact: bool,
    xml: String,
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Our construction of each fixture document.
fn ours(name: &str) -> Response {
    match name {
        "connect_stream" => Response::new().push(Connect::stream(Stream {
            name: s("call-7f3c2a"),
            track: Some(StreamTrack::InboundTrack),
            status_callback: s("https://hooks.example.com/twilio/stream"),
            status_callback_method: Some(HttpMethod::Post),
            ..Stream::new("wss://media.example.com/twilio")
                .parameter("call_id", "7f3c2a")
                .parameter("campaign", "c&1 <vip>")
        })),
        "connect_then_dial" => Response::new()
            .push(Connect {
                action: s("https://hooks.example.com/twilio/after-stream"),
                method: Some(HttpMethod::Post),
                ..Connect::stream(Stream::new("wss://media.example.com/twilio"))
            })
            .push(Dial {
                caller_id: s("+14155550100"),
                ..Dial::number("+919876543210")
            }),
        "voicemail" => Response::new()
            .push(Pause { length: Some(2) })
            .push(Play {
                loop_count: Some(1),
                ..Play::url("https://cdn.example.com/vm/greeting.wav")
            })
            .push(Say {
                voice: s("Polly.Aditi"),
                language: s("en-IN"),
                loop_count: Some(2),
                ..Say::new("Hello & welcome <friend>. Call us back at 1800 123 456.")
            })
            .push(Play {
                digits: s("ww1234#"),
                ..Play::default()
            })
            .push(Verb::Hangup),
        "gather_menu" => Response::new()
            .push(Gather {
                input: Some(GatherInput::DtmfSpeech),
                num_digits: Some(1),
                finish_on_key: s("#"),
                timeout: Some(5),
                action: s("https://hooks.example.com/twilio/gather?campaign=c1&step=2"),
                method: Some(HttpMethod::Post),
                action_on_empty_result: Some(true),
                speech_timeout: s("auto"),
                language: s("en-IN"),
                hints: s("sales, support"),
                prompts: vec![
                    Say {
                        voice: s("alice"),
                        ..Say::new("Press 1 for sales, 2 for support.")
                    }
                    .into(),
                    Pause { length: Some(1) }.into(),
                    Play::url("https://cdn.example.com/menu.mp3").into(),
                ],
            })
            .push(Redirect {
                url: "https://hooks.example.com/twilio/menu?retry=1&x=%20y".into(),
                method: Some(HttpMethod::Post),
            }),
        "cold_transfer" => Response::new().push(Dial {
            caller_id: s("+14155550100"),
            timeout: Some(20),
            time_limit: Some(3600),
            action: s("https://hooks.example.com/twilio/dial-done"),
            method: Some(HttpMethod::Post),
            record: s("record-from-answer-dual"),
            recording_status_callback: s("https://hooks.example.com/rec"),
            answer_on_bridge: Some(true),
            hangup_on_star: Some(false),
            ring_tone: s("in"),
            ..Dial::number("+919876543210")
        }),
        "dial_number_noun" => Response::new().push(Dial {
            caller_id: s("+14155550100"),
            nouns: vec![
                Number {
                    send_digits: s("ww123"),
                    url: s("https://hooks.example.com/twilio/whisper"),
                    method: Some(HttpMethod::Get),
                    status_callback: s("https://hooks.example.com/twilio/leg"),
                    status_callback_event: s("initiated ringing answered completed"),
                    status_callback_method: Some(HttpMethod::Post),
                    ..Number::new("+919876500000")
                }
                .into(),
            ],
            ..Dial::default()
        }),
        "warm_conference" => Response::new().push(Dial {
            nouns: vec![
                Conference {
                    start_conference_on_enter: Some(true),
                    end_conference_on_exit: Some(true),
                    beep: s("false"),
                    wait_url: s(""),
                    wait_method: Some(HttpMethod::Get),
                    muted: Some(false),
                    max_participants: Some(3),
                    record: s("record-from-start"),
                    status_callback: s("https://hooks.example.com/twilio/conf"),
                    status_callback_event: s("start end join leave"),
                    status_callback_method: Some(HttpMethod::Post),
                    participant_label: s("customer"),
                    coach: s("CA0123456789abcdef0123456789abcdef"),
                    ..Conference::new("xfer-42")
                }
                .into(),
            ],
            ..Dial::default()
        }),
        "dial_sip" => Response::new().push(Dial {
            answer_on_bridge: Some(true),
            nouns: vec![
                Sip {
                    uri: "sip:agent@pbx.example.com;transport=tls".into(),
                    username: s("agent"),
                    password: s("p&ss"),
                    url: s("https://hooks.example.com/twilio/sip"),
                    method: Some(HttpMethod::Post),
                }
                .into(),
            ],
            ..Dial::default()
        }),
        "reject" => Response::new().push(Reject { reason: s("busy") }),
        "empty" => Response::new(),
        "escaping" => Response::new()
            .push(Connect::stream(
                Stream::new("wss://media.example.com/twilio")
                    .parameter("note", "it's \"quoted\"\nline2\tTab & <tag>")
                    .parameter("name", "Zoë 山田 😀"),
            ))
            .push(Say {
                language: s("hi-IN"),
                ..Say::new("It's \"fine\" & <ok>")
            }),
        "unicode_and_spaces" => Response::new()
            .push(Say {
                voice: s("Google.hi-IN-Wavenet-A"),
                language: s("hi-IN"),
                ..Say::new("नमस्ते, आपका स्वागत है")
            })
            .push(Say::new("  leading and trailing spaces  ")),
        other => panic!("no Rust construction for fixture case {other}"),
    }
}

#[test]
fn twiml_matches_twilio_python() {
    let f: Fixture = serde_json::from_str(include_str!("../fixtures/twiml.json")).unwrap();
    assert!(f.library.starts_with("twilio-python 9.13"), "{}", f.library);
    for c in &f.cases {
        let want = ours(&c.name);
        let parsed = Response::parse(&c.xml).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(parsed, want, "{}: library XML parses into our tree", c.name);
        let xml = want.to_xml();
        if c.exact {
            assert_eq!(xml, c.xml, "{}: byte-identical output", c.name);
        }
        assert_eq!(
            Response::parse(&xml).unwrap(),
            want,
            "{}: our XML round-trips",
            c.name
        );
    }
}
