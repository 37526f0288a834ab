//! voxdial's composition root: the one place that builds the engine, its
//! queues, router, stores, transcriber and agents from typed settings, on
//! one of two backends.
//!
//! | backend | settings | built by | hosts |
//! |---|---|---|---|
//! | local | `voxdial serve`'s TOML file, `VOXDIAL_*` variables and flags, as [`local::RuntimeOptions`] | [`local::Runtime::start`] | `voxdial serve`, `voxdial demo` |
//! | AWS | the environment the SAM template sets ([`aws::LambdaConfig`], table in [`aws::config`]) and the Secrets Manager secret ([`aws::Secrets`]) | [`aws::Deps::init`] | every Lambda function (through `voxdial-lambda`'s handlers) |
//! | AWS, media container | [`container::ContainerSettings`]: the bridge's own variables and the engine's | [`container::ContainerSettings::from_env`], then [`aws::Deps::init`] | the `media-bridge` container |
//!
//! What each backend builds, side by side:
//!
//! | part | local ([`local`]) | AWS ([`aws`]) |
//! |---|---|---|
//! | store (campaigns, calls, routing state, human agents) | SQLite `voxdial.sqlite` in the data directory | DynamoDB `VOXDIAL_TABLE` |
//! | dispatch queue | SQLite `queue.sqlite`, drained by an in-process worker | SQS `VOXDIAL_DISPATCH_QUEUE_URL`, drained by the dispatcher function |
//! | post-call job queue | SQLite `jobs.sqlite`, drained by an in-process worker | SQS `VOXDIAL_JOB_QUEUE_URL` (optional), drained by the transcriber function |
//! | recordings and transcripts | files under `blobs/`, served by presigned `/blobs/…` URLs | S3 `VOXDIAL_RECORDINGS_BUCKET` (optional) |
//! | providers and router | the config file's `[twilio]` or `[[providers]]`, `[routing]`, `[agent_providers]`: the routing engine over the store | `VOXDIAL_PROVIDERS` (same sections): the routing engine over the store |
//! | transcriber, analyser | the bridge's live transcript, the local analyser | `VOXDIAL_TRANSCRIBER`, `VOXDIAL_ANALYSER` |
//! | media token and session keys | fresh per run | the secret (`voxdial.media_token_key`, `voxdial.session_key`) or variables |
//! | suppression key | `suppression.key` in the data directory | the secret's `voxdial.suppression_key` |
//! | media bridge | hosted on the same server (`--simulate` or a Gemini key) | the `media-bridge` container |
//!
//! # Layout
//!
//! - [`backend`]: the one `match` between the backends: [`backend::Backend::ports`]
//!   opens the store and the queues, [`backend::router`] builds the routing
//!   engine over them the same way on both, and [`backend::EngineParts::build`]
//!   is the one place the engine is built, from what each backend chose
//!   (its ports, accounts and routing, settings, blob store and post-call
//!   pipeline).
//! - [`local`]: the local runtime (`voxdial serve`): the engine on the local
//!   ports, the bridge hosted in-process, the HTTP server and the workers.
//! - [`aws`]: the engine on the AWS ports, once per Lambda execution
//!   environment or container, from [`aws::LambdaConfig`] and the secret.
//! - [`container`]: the media-bridge container's settings.
//!
//! Both backends wire the same [`voxdial_app::Engine`] (its use cases, the
//! routing engine and the post-call pipeline); the handlers over it are
//! the same axum routers (`voxdial_http`) and the same settlement of
//! deliveries (`voxdial_app::delivery`).

pub mod aws;
pub mod backend;
pub mod container;
pub mod local;
