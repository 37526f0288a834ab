//! TwiML: `Response::parse` (what the simulated carrier reads).
//!
//! Properties: no panic; a document that parses is written by `to_xml` into
//! XML that parses to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::twilio::twiml::Response;

fuzz_target!(|xml: &str| {
    if let Ok(response) = Response::parse(xml) {
        let written = response.to_xml();
        let again = Response::parse(&written).expect("to_xml output must parse");
        assert_eq!(again, response, "TwiML round trip");
    }
});
