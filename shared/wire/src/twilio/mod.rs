//! Twilio: webhook signatures, form webhooks, REST, TwiML and Media Streams.
//!
//! Sources: `shared/reference/twilio.md` (from Twilio's documentation and
//! twilio-python 9.13). Test vectors come from the official library: see
//! `fixtures/gen_twilio_vectors.py` and `fixtures/gen_twiml.py`.
//!
//! Form-encoded bodies (webhooks Twilio sends, REST requests we send) go
//! through [`forms::parse_form`] into `(name, value)` pairs, then into typed
//! structs with `from_pairs`; the reverse is `to_pairs` and
//! [`forms::encode_form`]. Repeated names (`StatusCallbackEvent=a&…=b`) map to
//! `Vec` fields.

pub mod forms;
pub mod media;
pub mod rest;
pub mod signature;
pub mod twiml;

mod pairs;
