//! The crate's one error type.

use voxdial_domain::{E164, ProviderId, Timestamp};

/// What went wrong while loading a configuration or committing a routing step.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// The configuration text is not valid TOML or does not have the expected shape.
    #[error("routing config is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// A configuration value is wrong; `provider` names the provider it belongs
    /// to (none for global settings) and `field` the path of the value.
    #[error("{}{field}: {reason}", provider_prefix(.provider))]
    Config {
        /// The provider whose section holds the bad value.
        provider: Option<String>,
        /// The path of the value inside the provider's section (`rates[2].prefix`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The provider is not in the configuration.
    #[error("unknown provider {0}")]
    UnknownProvider(ProviderId),
    /// The caller ID is not in the provider's DID pool.
    #[error("caller ID {caller_id} is not in the pool of provider {provider}")]
    UnknownCallerId {
        /// The provider named in the step.
        provider: ProviderId,
        /// The caller ID named in the step (masked when displayed).
        caller_id: E164,
    },
    /// The provider's circuit is open (or its half-open probes are taken).
    #[error("circuit of provider {provider} is open until {until}")]
    CircuitOpen {
        /// The provider.
        provider: ProviderId,
        /// When it admits a call again (as a half-open probe).
        until: Timestamp,
    },
    /// The caller ID reached its daily cap.
    #[error("caller ID {caller_id} reached its daily cap until {until}")]
    CallerIdCapped {
        /// The capped number (masked when displayed).
        caller_id: E164,
        /// When its count resets.
        until: Timestamp,
    },
    /// Sending now would exceed the calls-per-second limit of the provider
    /// account or of the caller ID.
    #[error("provider {provider} is rate limited until {until}")]
    RateLimited {
        /// The provider.
        provider: ProviderId,
        /// The earliest instant the call may be sent.
        until: Timestamp,
    },
}

fn provider_prefix(provider: &Option<String>) -> String {
    provider
        .as_ref()
        .map(|p| format!("provider `{p}`: "))
        .unwrap_or_default()
}

impl RoutingError {
    /// A configuration error for `provider` (or a global one).
    pub(crate) fn config(
        provider: Option<&ProviderId>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        RoutingError::Config {
            provider: provider.map(|p| p.as_str().to_owned()),
            field: field.into(),
            reason: reason.into(),
        }
    }
}
