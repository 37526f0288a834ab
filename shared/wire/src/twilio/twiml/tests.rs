use super::*;
use proptest::prelude::*;

#[test]
fn answer_twiml_from_reference() {
    // The pretty-printed example of twilio.md parses despite the whitespace.
    let xml = r#"<Response><Connect><Stream url="wss://media.example.com/twilio">
  <Parameter name="call_id" value="7f3c2a"/></Stream></Connect></Response>"#;
    let r = Response::parse(xml).unwrap();
    assert_eq!(
        r,
        Response::new().push(Connect::stream(
            Stream::new("wss://media.example.com/twilio").parameter("call_id", "7f3c2a")
        ))
    );
    assert_eq!(
        r.to_xml(),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://media.example.com/twilio"><Parameter name="call_id" value="7f3c2a" /></Stream></Connect></Response>"#
    );
}

#[test]
fn escaping_of_all_five() {
    let r = Response::new().push(Say {
        voice: Some(r#"a&b<c>d"e'f"#.into()),
        ..Say::new(r#"a&b<c>d"e'f"#)
    });
    assert_eq!(
        r.to_xml(),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="a&amp;b&lt;c&gt;d&quot;e&apos;f">a&amp;b&lt;c&gt;d&quot;e&apos;f</Say></Response>"#
    );
    assert_eq!(Response::parse(&r.to_xml()).unwrap(), r);
}

#[test]
fn invalid_xml_chars_become_replacement() {
    let r = Response::new().push(Say::new("a\u{1}b\u{FFFF}"));
    assert!(r.to_xml().contains("<Say>a\u{FFFD}b\u{FFFD}</Say>"));
}

#[test]
fn refusals_name_the_offender() {
    let e = Response::parse("<Response><Sms>hi</Sms></Response>").unwrap_err();
    assert!(
        matches!(e, TwimlError::UnexpectedElement { ref element, parent: "Response" } if element == "Sms"),
        "{e}"
    );
    let e = Response::parse(r#"<Response><Say bogus="1">x</Say></Response>"#).unwrap_err();
    assert!(
        matches!(e, TwimlError::UnexpectedAttribute { element: "Say", .. }),
        "{e}"
    );
    let e = Response::parse(r#"<Response><Pause length="x"/></Response>"#).unwrap_err();
    assert!(
        matches!(
            e,
            TwimlError::InvalidAttribute {
                attribute: "length",
                ..
            }
        ),
        "{e}"
    );
    let e = Response::parse("<Say>x</Say>").unwrap_err();
    assert!(matches!(e, TwimlError::Root(Some(_))), "{e}");
    let e = Response::parse("<!DOCTYPE x><Response/>").unwrap_err();
    assert!(matches!(e, TwimlError::Doctype), "{e}");
    let e = Response::parse("<Response><Say>&foo;</Say></Response>").unwrap_err();
    assert!(matches!(e, TwimlError::UnknownEntity(_)), "{e}");
    let e = Response::parse("<Response>text</Response>").unwrap_err();
    assert!(matches!(e, TwimlError::UnexpectedText("Response")), "{e}");
    let e = Response::parse("<Response><Hangup/></Response><Response/>").unwrap_err();
    assert!(matches!(e, TwimlError::UnexpectedElement { .. }), "{e}");
    let e = Response::parse("<Response><Say>x</Response>").unwrap_err();
    assert!(matches!(e, TwimlError::Xml(_)), "{e}");
    assert!(Response::parse("").is_err());
    let deep =
        "<Response>".to_owned() + &"<Gather>".repeat(40) + &"</Gather>".repeat(40) + "</Response>";
    assert!(matches!(Response::parse(&deep), Err(TwimlError::TooDeep)));
}

#[test]
fn characters_xml_forbids_are_refused() {
    // Found by the twiml fuzz target: a control character in text was
    // accepted, and `to_xml` wrote it back as U+FFFD, another document.
    for xml in [
        "<Response><Say>a\u{B}b</Say></Response>",
        "<Response><Say>a&#1;b</Say></Response>",
        "<Response><Say><![CDATA[\u{0}]]></Say></Response>",
        "<Response><Play loop=\"1\">x\u{FFFE}</Play></Response>",
        "<Response><Redirect method=\"POST\">https://h/\u{1F}</Redirect></Response>",
        "<Response><Dial callerId=\"+1&#2;\"><Number>+12125550100</Number></Dial></Response>",
    ] {
        let e = Response::parse(xml).unwrap_err();
        assert!(matches!(e, TwimlError::InvalidChar(_)), "{xml:?}: {e}");
    }
}

#[test]
fn char_refs_cdata_and_comments() {
    let r = Response::parse(
        "<?xml version=\"1.0\"?><!-- c --><Response><Say>a&#10;b&#x41;<![CDATA[<x>]]></Say></Response>",
    )
    .unwrap();
    assert_eq!(r, Response::new().push(Say::new("a\nbA<x>")));
}

fn text() -> impl Strategy<Value = String> {
    // Any chars XML 1.0 can carry; non-empty so "absent" stays distinct.
    proptest::collection::vec(
        prop_oneof![
            any::<char>().prop_filter("xml char", |c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)),
            Just('&'),
            Just('<'),
            Just('\''),
            Just('"'),
            Just('\r'),
        ],
        1..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn say() -> impl Strategy<Value = Say> {
    (
        text(),
        opt_text(),
        opt_text(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(text, voice, language, loop_count)| Say {
            text,
            voice,
            language,
            loop_count,
        })
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        say().prop_map(Verb::Say),
        (opt_text(), opt_text()).prop_map(|(url, digits)| Verb::Play(Play {
            url,
            digits,
            loop_count: None
        })),
        proptest::option::of(any::<u32>()).prop_map(|length| Verb::Pause(Pause { length })),
        Just(Verb::Hangup),
        (text(), any::<bool>()).prop_map(|(url, post)| Verb::Redirect(Redirect {
            url,
            method: Some(if post {
                HttpMethod::Post
            } else {
                HttpMethod::Get
            }),
        })),
        (
            text().prop_filter("non-blank", |t| !t.trim().is_empty()),
            opt_text(),
            proptest::collection::vec((text(), opt_text()), 0..3)
        )
            .prop_map(|(number, caller_id, confs)| Verb::Dial(Dial {
                number: Some(number),
                caller_id,
                nouns: confs
                    .into_iter()
                    .map(|(name, label)| Conference {
                        participant_label: label,
                        ..Conference::new(name)
                    }
                    .into())
                    .collect(),
                ..Dial::default()
            })),
        (
            opt_text(),
            proptest::collection::vec((text(), text()), 0..4)
        )
            .prop_map(|(name, params)| {
                let mut s = Stream {
                    name,
                    ..Stream::new("wss://media.example.com/twilio")
                };
                for (k, v) in params {
                    s = s.parameter(k, v);
                }
                Verb::Connect(Connect::stream(s))
            }),
        (proptest::collection::vec(say(), 0..3), opt_text()).prop_map(|(says, key)| Verb::Gather(
            Gather {
                finish_on_key: key,
                prompts: says.into_iter().map(Prompt::Say).collect(),
                ..Gather::default()
            }
        )),
    ]
}

proptest! {
    #[test]
    fn build_parse_round_trip(verbs in proptest::collection::vec(verb(), 0..6)) {
        let r = Response { verbs };
        let xml = r.to_xml();
        let back = Response::parse(&xml);
        prop_assert!(back.is_ok(), "{xml}: {:?}", back);
        prop_assert_eq!(back.unwrap(), r);
    }

    #[test]
    fn parser_never_panics(input in any::<String>()) {
        let _ = Response::parse(&input);
    }

    #[test]
    fn parser_never_panics_on_near_twiml(
        body in proptest::collection::vec(prop_oneof![
            Just("<Say>"), Just("</Say>"), Just("<Dial>"), Just("</Dial>"), Just("<Hangup/>"),
            Just("&amp;"), Just("&#0;"), Just("&#x110000;"), Just("<![CDATA[x"), Just("]]>"),
            Just("<Stream url='a'>"), Just("</Stream>"), Just("<Parameter name='a' value='b'/>"),
            Just("<Conference>"), Just("</Conference>"), Just("x"), Just(" "), Just("<!--"), Just("-->"),
        ], 0..20)
    ) {
        let xml = format!("<Response>{}</Response>", body.concat());
        let _ = Response::parse(&xml);
    }
}
