//! Twilio Media Streams JSON: `parse_inbound` (what Twilio sends the bridge)
//! and `parse_outbound` (what the simulated carrier reads from the bridge).
//!
//! Properties: no panic; an outbound message that parses is written by
//! `to_json` into text that parses to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::twilio::media::{parse_inbound, parse_outbound};

fuzz_target!(|text: &str| {
    let _ = parse_inbound(text);
    if let Ok(message) = parse_outbound(text) {
        let json = message.to_json();
        let again = parse_outbound(&json).expect("to_json output must parse");
        assert_eq!(again, message, "outbound round trip");
    }
});
