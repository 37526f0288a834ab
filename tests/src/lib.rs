//! Shared helpers of voxdial's end-to-end tests.
//!
//! # Layout
//!
//! - [`model`]: a deterministic model of a carrier ([`model::ModelCarrier`])
//!   that implements the provider port in-process, counts what a carrier
//!   sees (simultaneous calls per campaign, dials per attempt) and hands
//!   its status events to the test to deliver in any order, duplicated or
//!   not at all.
//! - [`world`]: the engine on the embedded store and queue with a manual
//!   clock and model carriers, and the random driver of the property tests.

pub mod model;
pub mod world;
