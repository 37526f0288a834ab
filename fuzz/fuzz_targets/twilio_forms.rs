//! Twilio form webhooks: `parse_form` and every typed callback.
//!
//! Properties: no panic; `parse_form(encode_form(pairs)) == pairs`; a
//! callback that parses is written back by `to_form` into a body that parses
//! to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxdial_wire::twilio::forms::{
    AmdCallback, AnswerRequest, GatherCallback, RecordingStatusCallback, StatusCallback,
    encode_form, parse_form,
};

/// Parses `pairs` as `$ty` and, if that works, checks the write/parse round trip.
macro_rules! round_trip {
    ($ty:ty, $pairs:expr) => {
        if let Ok(value) = <$ty>::from_pairs($pairs) {
            let again = <$ty>::from_form(value.to_form().as_bytes())
                .expect(concat!(stringify!($ty), ": to_form output must parse"));
            assert_eq!(again, value, "{} round trip", stringify!($ty));
        }
    };
}

fuzz_target!(|body: &[u8]| {
    let Ok(pairs) = parse_form(body) else {
        return;
    };
    let encoded = encode_form(&pairs);
    assert_eq!(
        parse_form(encoded.as_bytes()).expect("encode_form output must parse"),
        pairs,
        "form round trip"
    );
    round_trip!(StatusCallback, &pairs);
    round_trip!(RecordingStatusCallback, &pairs);
    round_trip!(AmdCallback, &pairs);
    round_trip!(AnswerRequest, &pairs);
    round_trip!(GatherCallback, &pairs);
});
