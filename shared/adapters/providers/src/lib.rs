//! Telephony provider adapters behind `voxdial_domain::TelephonyProvider`,
//! and their configuration.
//!
//! # Layout
//!
//! - [`twilio`]: Twilio's Calls REST API, signed status/answer/recording
//!   webhooks, TwiML, and recordings (download with the account's
//!   credentials, delete, start and stop on a live call). The simulated carrier speaks the same wire format, so this exact
//!   code runs against it locally (its base URL is configurable).
//! - [`sanspbx`]: SansPBX (no public documentation: every endpoint, header
//!   and field is configurable, and the README lists what was assumed):
//!   cached API tokens, dial, disconnect, JSON status webhooks checked with
//!   a shared secret, number formatting.
//! - [`webhook`]: the outbound webhook sender (the campaigns' analysis
//!   POSTs).
//! - [`config`]: provider accounts from TOML, credentials from the
//!   environment or a local secrets file ([`config::SecretSource`]),
//!   validated with errors that name the provider and the field.
//!
//! Adapters only translate: retries with backoff and fallback to another
//! provider are decided by the dispatcher from the [`ProviderError`] kind
//! (`RateLimited`, `Transient`, `Permanent`, `NotFound`). Each adapter's
//! module doc has the table of which answer becomes which kind. Adapters
//! never log credentials or full phone numbers.
//!
//! [`ProviderError`]: voxdial_domain::ProviderError

pub mod config;
pub mod sanspbx;
pub mod twilio;
pub mod webhook;

pub use config::{ConfigError, LocalSecrets, ProvidersConfig, SecretSource};
pub use sanspbx::{SansPbxConfig, SansPbxProvider};
pub use twilio::{TwilioConfig, TwilioProvider};
pub use webhook::HttpWebhookPoster;

/// The system clock, the adapters' default.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WallClock;

impl voxdial_domain::Clock for WallClock {
    fn now(&self) -> voxdial_domain::Timestamp {
        chrono::Utc::now()
    }
}
