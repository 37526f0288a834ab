//! Telephony provider adapters behind `voxdial_domain::TelephonyProvider`.
//!
//! # Layout
//!
//! - [`twilio`]: Twilio's Calls REST API, signed status/answer webhooks and
//!   TwiML. The simulated carrier speaks the same wire format, so this exact
//!   code runs against it locally (its base URL is configurable).
//!
//! Adapters only translate: retries with backoff and fallback to another
//! provider are decided by the dispatcher from the [`ProviderError`] kind
//! (`RateLimited`, `Transient`, `Permanent`, `NotFound`).
//!
//! [`ProviderError`]: voxdial_domain::ProviderError

pub mod twilio;

pub use twilio::{TwilioConfig, TwilioProvider};
