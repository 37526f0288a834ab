//! Gemini Live server messages: `parse_server_message` (what the bridge
//! reads from the model), plus the helpers it applies to them.
//!
//! Properties: no panic; a message that parses is written by `to_json` into
//! JSON that parses to the same message (except a payload under a key this
//! crate does not know: it is tolerated on read, and not written).
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::gemini::{ServerPayload, parse_proto_duration, parse_server_message};

fuzz_target!(|frame: &[u8]| {
    if let Ok(text) = std::str::from_utf8(frame) {
        let _ = parse_proto_duration(text);
    }
    let Ok(message) = parse_server_message(frame) else {
        return;
    };
    for blob in message.audio_chunks() {
        let _ = blob.decode();
        let _ = blob.pcm_rate();
    }
    if let ServerPayload::GoAway(go_away) = &message.payload {
        let _ = go_away.time_left();
    }
    if matches!(message.payload, ServerPayload::Unknown { .. }) {
        return;
    }
    let json = message.to_json();
    let again = parse_server_message(json.as_bytes()).expect("to_json output must parse");
    assert_eq!(again, message, "server message round trip");
});
