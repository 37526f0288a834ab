//! Wire formats of every external system voxdial talks to, as serde types and
//! pure functions.
//!
//! This crate does no IO, reads no clock and spawns nothing: every function
//! takes bytes or strings and returns values. It holds no domain types either;
//! other crates convert these wire types into domain types with `TryFrom`, so a
//! change in a provider's format stays in this crate.
//!
//! # Layout
//!
//! - [`twilio`]: everything Twilio.
//!   - [`twilio::signature`]: `X-Twilio-Signature` computation and validation
//!     (HMAC-SHA1 with the Auth Token, HMAC-SHA256 with a SharedKey, the port
//!     quirk, the `bodySHA256` JSON variant, WebSocket upgrades), byte for byte
//!     as twilio-python 9.13 `RequestValidator` does it.
//!   - [`twilio::forms`]: form-encoded webhooks Twilio sends us (status,
//!     recording, async AMD, answer, `<Gather>` action), parse and serialise.
//!   - [`twilio::rest`]: the Calls and Conference Participants REST API: request
//!     parameters as form pairs, JSON resources, error bodies and their
//!     retry classification.
//!   - [`twilio::twiml`]: a TwiML tree with an exact XML writer and a parser.
//!   - [`twilio::media`]: Media Streams WebSocket messages, with borrowed
//!     zero-copy parsing and allocation-free writers for the audio path.
//! - [`gemini`]: Gemini Live (`BidiGenerateContent`) client and server messages,
//!   the endpoint URL, and fast paths for realtime audio in and out.
//! - [`media_token`]: the per-call token that ties a media WebSocket to its
//!   call (HMAC-SHA256 over call id and expiry, checked in constant time).
//! - [`sanspbx`]: SansPBX (SanIPPBX) REST bodies, media WebSocket events, an
//!   assumed status webhook, and number formatting. Inferred, not documented by
//!   the vendor: see the module's assumption table.
//!
//! # Conventions
//!
//! - Field names on the wire are spelled out with `#[serde(rename = ..)]` or
//!   `rename_all`, never left to Rust naming.
//! - Enumerations a provider may extend carry an `Other(String)` variant, so a
//!   new value is data, not a parse failure. Build them with `from_wire`.
//! - Nothing panics on any input: parsers return the module's error type.
//!   Property tests feed arbitrary bytes to every parser.
//! - Hot paths (Media Streams frames, Gemini audio) borrow from the input
//!   (`Cow<'_, str>`) and have hand-written writers that append to a `String`.

pub mod gemini;
pub mod media_token;
pub mod sanspbx;
pub mod twilio;

mod json;
mod serde_util;
