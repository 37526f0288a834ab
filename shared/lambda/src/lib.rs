//! What every voxdial Lambda function shares: the event handlers over the
//! engine the composition root builds (`voxdial_runtime::aws`, re-exported
//! here), so each function's `main` only picks a handler.
//!
//! # Layout
//!
//! - [`config`], [`secrets`], [`deps`]: the AWS backend of
//!   `voxdial-runtime` ([`LambdaConfig`] read once at cold start, provider
//!   credentials from Secrets Manager, [`Deps`]: the engine on DynamoDB,
//!   SQS and the providers).
//! - [`logs`]: JSON tracing for CloudWatch.
//! - [`webhook`]: the status and answer webhooks (API Gateway HTTP API
//!   events), with the public URL rebuilt for signature checks.
//! - [`api`]: the campaign API router under API Gateway.
//! - [`dispatch`]: SQS batches with partial batch failures.
//! - [`sweep`]: the scheduled sweeper.
//! - [`postcall`]: the `transcriber` function's SQS handler.
//!
//! # A function
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_http::Error> {
//!     voxdial_lambda::logs::init();
//!     let deps = Deps::init(LambdaConfig::from_env()?).await?;
//!     let router = webhook::router(deps.engine.clone(), deps.config.public_base_url.clone());
//!     lambda_http::run(service_fn(move |req| {
//!         let router = router.clone();
//!         async move { Ok::<_, Infallible>(webhook::handle(router, req).await) }
//!     }))
//!     .await
//! }
//! ```

pub mod api;
pub mod dispatch;
pub mod logs;
pub mod postcall;
pub mod sweep;
pub mod webhook;

pub use voxdial_runtime::aws as deps;
pub use voxdial_runtime::aws::{Deps, InitError, LambdaConfig, Secrets, config, secrets};
