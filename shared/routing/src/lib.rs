//! voxdial's provider routing engine: which telephony provider and which
//! caller ID to use for one outbound call, and what the call cost.
//!
//! Sans-IO: no async runtime, no network, no clock. Every function that
//! needs the time takes `now`; nothing is random (caller-ID rotation is a
//! deterministic weighted round-robin), so a run is reproducible from its
//! inputs and the engine runs on a simulated clock in tests.
//!
//! # Driving the engine
//!
//! Inputs are decisions and reports, each with `now`; the output is a plan.
//!
//! 1. [`RoutingEngine::new`] (or [`RoutingEngine::from_toml`]) with a
//!    [`RoutingConfig`]; [`RoutingEngine::restore`] resumes a persisted
//!    [`EngineState`]. The whole engine is also `Serialize`/`Deserialize`.
//! 2. Per lead, build a [`Destination`] once from the callee's number.
//! 3. [`RoutingEngine::plan`] with a [`RouteRequest`] (destination,
//!    strategy, the AI agent's provider, `now`) returns a [`RoutePlan`]:
//!    a chain of [`RouteStep`]s (primary then fallbacks), `NotBefore(t)`
//!    when every usable provider is rate limited, or `NoRoute` with one
//!    [`Rejection`] per provider. Planning is pure: it never changes state.
//! 4. Right before sending the request to a step's provider, call
//!    [`RoutingEngine::reserve`]: it takes the CPS tokens, the caller ID's
//!    daily-cap unit and, for a half-open circuit, a probe place. When the
//!    send fails over to the next step, reserve that step too.
//! 5. Report the provider's answer with [`RoutingEngine::record_setup`]
//!    and, for a placed call, its end with [`RoutingEngine::record_call_end`],
//!    which returns the call's cost.
//! 6. [`RoutingEngine::stats`] reads the statistics; [`RoutingEngine::state`]
//!    takes a snapshot to persist.
//!
//! # Sharing the state
//!
//! A host that shares the state between processes (every Lambda instance,
//! a restarted server) keeps it in a store in three parts: statistics rows
//! (counters: [`RoutingEngine::stats_prefix`] names the row a report
//! counts in), one [`ProviderRecord`] per provider (breaker, CPS budget,
//! evidence: [`RoutingEngine::provider_record`]) and one [`CallerIdRecord`]
//! per caller ID ([`RoutingEngine::caller_id_record`]). It rebuilds an
//! [`EngineState`] from them ([`EngineState::set_provider`],
//! [`EngineState::set_stats`], [`EngineState::set_caller_id`]) and loads
//! it with [`RoutingEngine::set_state`]. A reservation changes the step's
//! provider record and caller-ID record; a setup result the provider
//! record and a statistics row; a call end the provider record, the
//! caller-ID record and a statistics row.
//!
//! # Layout
//!
//! - `config`: [`RoutingConfig`] (TOML), its validation, [`EXAMPLE_CONFIG`].
//! - `engine`: [`RoutingEngine`], the request, plan and report types.
//! - `rates`: rate tables, longest-prefix match (a digit trie), billing
//!   increments and call cost ([`Rate`], [`Increments`]).
//! - `estimate`: Bayesian success estimates with decaying evidence.
//! - `breaker`: the per-provider circuit breaker ([`BreakerState`]).
//! - `pacer`: calls-per-second token buckets per account and caller ID.
//! - `dids`: caller-ID pools: local presence, daily caps, rotation.
//! - `destination`: [`Destination`], a callee number prepared for routing.
//! - `stats`: [`Stats`] per provider and prefix.
//! - `error`: [`RoutingError`], the crate's one error type.
//!
//! # Invariants
//!
//! A chain never holds a provider whose circuit is open (or whose half-open
//! probe places are taken), nor one without a usable caller ID for the
//! destination, nor a provider twice, nor more than `max_chain_len` steps.
//! Reservations never exceed an account's or a caller ID's calls per second
//! in any one-second window (see `pacer`), nor a caller ID's daily cap.
//! Statistics rows are counted once per report; a provider's totals are the
//! sum of its prefix rows.

mod breaker;
mod config;
mod destination;
mod dids;
mod engine;
mod error;
mod estimate;
mod pacer;
mod rates;
mod stats;

use chrono::{DateTime, Duration, Utc};
use voxdial_domain::Timestamp;

pub use breaker::BreakerState;
pub use config::{
    BreakerConfig, DidConfig, EstimatorConfig, HybridWeights, PoolConfig, ProviderConfig,
    ProviderKind, RateRow, RoutingConfig,
};
pub use destination::Destination;
pub use engine::{
    CallEnd, CallerIdRecord, EngineState, ProviderRecord, RejectReason, Rejection, RoutePlan,
    RouteRequest, RouteStep, RoutingEngine, SetupResult, SuccessEstimate,
};
pub use error::RoutingError;
pub use rates::{Increments, Rate};
pub use stats::{PrefixStats, ProviderStats, Stats, StatsReport};

/// A commented example configuration (`examples/routing.toml`): two
/// providers, inline and CSV rate rows, pools with local presence and caps.
pub const EXAMPLE_CONFIG: &str = include_str!("../examples/routing.toml");

/// `t + d`, saturating at the largest representable instant.
pub(crate) fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
