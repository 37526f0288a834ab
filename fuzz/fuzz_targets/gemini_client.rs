//! Gemini Live client messages: `parse_client_message` (what the simulated
//! model server reads from the bridge).
//!
//! Properties: no panic; a message that parses is written by `to_json` into
//! JSON that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::gemini::{ClientMessage, parse_client_message};

fuzz_target!(|frame: &[u8]| {
    let Ok(message) = parse_client_message(frame) else {
        return;
    };
    if let ClientMessage::RealtimeInput(input) = &message {
        if let Some(blob) = &input.audio {
            let _ = blob.decode();
            let _ = blob.pcm_rate();
        }
    }
    let json = message.to_json();
    let again = parse_client_message(json.as_bytes()).expect("to_json output must parse");
    assert_eq!(again, message, "client message round trip");
});
