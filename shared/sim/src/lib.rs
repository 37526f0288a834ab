//! Simulators for running voxdial with no account and no network.
//!
//! # Layout
//!
//! - [`carrier`]: a simulated telephone carrier that speaks Twilio's real
//!   wire formats: the Calls REST API (form-encoded, Basic auth), signed
//!   form-encoded status callbacks, the answer webhook and its TwiML. Call
//!   outcomes and timings are drawn from seeded distributions; faults
//!   (duplicated, reordered, delayed and dropped callbacks, HTTP 429 and 5xx,
//!   provider outages) are injected on demand. It counts what a real carrier
//!   would see: simultaneous calls per campaign and dials per attempt.
//! - [`voice`]: a simulated Gemini Live server (real wire protocol,
//!   scripted [`voice::Persona`]s, latency, interruptions, tool calls,
//!   `goAway`), over TCP or in-memory sockets.
//! - [`caller`]: a Twilio Media Streams client that plays a persona's
//!   audio into the bridge at 50 frames/s and plays back what it gets
//!   like Twilio (marks, `clear`).
//! - [`sanspbx`]: the SansPBX personality of the same simulated carrier
//!   (token, dial, disconnect, JSON status webhooks), so that multi-provider
//!   runs work locally; outcomes, faults and figures are shared.
//! - [`soak`]: what a soak run needs on either backend: three provider
//!   accounts on one ledger, the seeded plan of disruptions, the leads, and
//!   the verdict on the invariants.
//! - [`time`]: simulated time: a clock shared with the engine and a scale
//!   factor that turns simulated waits into shorter real ones.
//!
//! Every random choice about a call is derived from the seed and the call's
//! own identity (number and attempt), not from arrival order, so a seed
//! gives the same outcomes however requests interleave.

pub mod caller;
pub mod carrier;
pub mod sanspbx;
pub mod soak;
pub mod time;
pub mod voice;
