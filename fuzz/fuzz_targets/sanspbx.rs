//! SansPBX payloads: REST responses, the status webhook (JSON or form), media
//! WebSocket events both ways, and number formatting.
//!
//! Properties: no panic; a status webhook that parses serialises to JSON
//! that parses to the same value; an outbound media message that parses is
//! written by `write_outbound_media` into text that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::sanspbx::{
    DialResponse, NumberStyle, StatusWebhook, TokenResponse, did_last_digits, format_number,
    parse_outbound_media, parse_stream_event, write_outbound_media,
};

fuzz_target!(|body: &[u8]| {
    let _ = TokenResponse::parse(body);
    if let Ok(dial) = DialResponse::parse(body) {
        let _ = dial.require_call_id();
    }
    if let Ok(webhook) = StatusWebhook::parse(body) {
        let json = serde_json::to_vec(&webhook).expect("a parsed webhook serialises");
        let again = StatusWebhook::parse(&json).expect("its JSON parses");
        assert_eq!(again, webhook, "status webhook round trip");
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let _ = parse_stream_event(text);
    if let Ok(media) = parse_outbound_media(text) {
        let mut written = String::new();
        write_outbound_media(&media.event, &media.payload, &media.ids, &mut written);
        let again = parse_outbound_media(&written).expect("written media parses");
        assert_eq!(again, media, "outbound media round trip");
    }
    for style in [
        NumberStyle::TrunkZero,
        NumberStyle::CountryCode,
        NumberStyle::National,
        NumberStyle::E164,
    ] {
        let _ = format_number(text, "91", style);
    }
    let _ = did_last_digits(text, 7);
});
