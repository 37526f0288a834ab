//! voxdial's use cases, written once over the ports of `voxdial-domain`,
//! so that the local runtime (axum, SQLite, an in-process queue) and the AWS
//! Lambda functions (API Gateway, DynamoDB, SQS) run the same code.
//!
//! # Layout
//!
//! - [`access`]: organisations' API keys (create, check, revoke, rotate),
//!   the audit trail and the organisation scope of every record.
//! - [`ai_agents`]: AI agents as versioned records (create, update, read,
//!   list, validate), the agent version a campaign pins, the configuration
//!   a call runs with.
//! - [`engine`]: [`Engine`] (the ports wired together), campaigns, lead
//!   import, slot filling and completion.
//! - [`analytics`]: counting calls into the aggregates as they end and
//!   are analysed; series with derived figures, as JSON or CSV.
//! - [`dispatch`]: dispatching one lead: screen, route, create the attempt,
//!   place the call with backoff and fallback.
//! - [`events`]: status callbacks, the answer webhook, dispositions, and
//!   finishing a call exactly once.
//! - [`media`]: what the media bridge asks during a conversation:
//!   call facts, transfers, callbacks, hang-ups, recordings, transcripts.
//! - [`postcall`]: the post-call pipeline on the job queue (its module doc
//!   draws it), [`recordings`] (intake, integrity, on-demand recording),
//!   [`transcription`] (the live-transcript default), [`analysis`] (the
//!   deterministic local analyser), `process` (transcribe, analyse and
//!   what follows), [`outbound`] (the signed webhook), [`erasure`]
//!   (erasure, suppression digests, retention, the recording notice).
//! - [`sweeper`]: reconciling what events missed.
//! - [`workers`]: the dispatcher and sweeper loops of the local runtime.
//! - [`router`]: the routing port and a static router.
//! - [`routing`]: the routing engine behind the port ([`routing::EngineRouter`])
//!   and the provider statistics view.
//! - [`csv_import`]: reading leads from CSV.
//! - [`imports`]: asynchronous imports of large lead files by presigned
//!   upload, read by a job on the post-call queue.
//! - [`control`]: an operator's hang-up and transfer of a live call.
//! - [`console`]: the console's reads of recordings and transcripts.
//! - [`live`]: live calls' events and audio, fanned out from the media
//!   bridge to the console's watchers and listeners.
//! - [`session`]: console sessions signed by the server (an API key exchanged for a cookie).
//! - [`ticket`]: short-lived media tickets that open one socket (listen-in,
//!   live events, a test call) where the console's cookie does not reach.
//! - [`clock`]: the system clock and a scaled clock for simulations.
//!
//! # Driving it
//!
//! Build an [`Engine`] from a store, a queue, the providers, a router and a
//! clock. Call [`Engine::create_campaign`], [`Engine::import_csv`] and
//! [`Engine::act`] from the API; feed every dispatch message to
//! [`Engine::dispatch`] and every provider webhook to
//! [`Engine::handle_status_webhook`] / [`Engine::handle_answer_webhook`];
//! call [`Engine::sweep`] on a timer.

pub mod access;
pub mod ai_agents;
pub mod analysis;
pub mod analytics;
pub mod clock;
pub mod console;
pub mod control;
pub mod csv_import;
pub mod delivery;
pub mod dispatch;
pub mod engine;
pub mod erasure;
mod error;
pub mod events;
pub mod imports;
pub mod live;
pub mod media;
pub mod outbound;
pub mod postcall;
mod process;
pub mod recordings;
pub mod router;
pub mod routing;
pub mod session;
pub mod sweeper;
pub mod ticket;
pub mod transcription;
pub mod workers;

pub use access::Caller;
pub use dispatch::DispatchOutcome;
pub use engine::{CampaignView, Engine, EngineConfig, ImportReport};
pub use error::AppError;
pub use events::EventOutcome;
pub use postcall::{JobOutcome, PostCallConfig, PostCallDeps};
pub use sweeper::SweepReport;
