//! The AWS backend: the engine on DynamoDB, SQS, S3 and the providers,
//! built once per execution environment of a Lambda function or the
//! media-bridge container.
//!
//! - [`config`]: [`LambdaConfig`], read once at cold start from the
//!   variables the SAM template sets.
//! - [`secrets`]: provider credentials from Secrets Manager.
//! - [`postcall`]: the post-call pipeline on S3, SQS and the configured
//!   transcriber and analyser.
//!
//! The router is the routing engine, as in local mode, built from
//! `VOXDIAL_PROVIDERS`: the provider accounts and, optionally, the same
//! `[routing]` (rates, DID pools, breakers, CPS) and `[agent_providers]`
//! sections as the local config file. Without `[routing]`, each account
//! presents its caller ID (`VOXDIAL_CALLER_IDS`, else `VOXDIAL_CALLER_ID`)
//! with unpriced rates (`voxdial_app::routing::unpriced_routing`). The
//! engine's state lives in the table, shared by every instance of every
//! function.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use voxdial_app::clock::SystemClock;
use voxdial_app::router::Providers;
use voxdial_app::routing::unpriced_routing;
use voxdial_app::{Engine, EngineConfig};
use voxdial_aws::{Clients, S3BlobStore};
use voxdial_domain::{AgentId, BlobStore, Clock, DispatchQueue, ProviderId};
use voxdial_providers::config::AccountConfig;
use voxdial_providers::{ProvidersConfig, SecretSource};
use voxdial_routing::{RoutingConfig, RoutingError};
use voxdial_wire::media_token::MediaTokenKey;

use crate::backend::{Backend, EngineParts, PortsError, RouterError};

pub mod config;
pub mod postcall;
pub mod secrets;

pub use config::{ConfigError, LambdaConfig};
pub use secrets::{Secrets, SecretsError};

/// A function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The secret could not be read.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The provider accounts are wrong.
    #[error(transparent)]
    Providers(#[from] voxdial_providers::ConfigError),
    /// The routing configuration is wrong.
    #[error("routing: {0}")]
    Routing(#[from] RoutingError),
    /// An `[agent_providers]` entry is not a pair of ids.
    #[error("routing: {0}")]
    Accounts(String),
    /// The routing sections disagree with the accounts, or are invalid.
    #[error(transparent)]
    Router(#[from] RouterError),
    /// The store or a queue could not be opened.
    #[error(transparent)]
    Ports(#[from] PortsError),
    /// The post-call pipeline's settings are wrong.
    #[error("post-call pipeline: {0}")]
    PostCall(String),
}

/// `VOXDIAL_PROVIDERS`: the accounts and the optional routing sections.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersToml {
    #[serde(default)]
    providers: Vec<AccountConfig>,
    routing: Option<RoutingConfig>,
    /// AI agent id to provider id (the `agent_assigned` strategy).
    #[serde(default)]
    agent_providers: HashMap<String, String>,
}

impl ProvidersToml {
    fn parse(text: &str) -> Result<ProvidersToml, InitError> {
        toml::from_str(text).map_err(|e| InitError::Providers(e.into()))
    }

    /// The routing configuration, derived from the caller IDs without `[routing]`.
    fn routing(
        &self,
        accounts: &ProvidersConfig,
        config: &LambdaConfig,
    ) -> Result<RoutingConfig, RoutingError> {
        match &self.routing {
            Some(routing) => Ok(routing.clone()),
            None => unpriced_routing(&accounts.ids(), |id| {
                config.caller_id_for(id.as_str()).clone()
            }),
        }
    }

    /// The `agent_assigned` map.
    fn agents(&self) -> Result<HashMap<AgentId, ProviderId>, InitError> {
        self.agent_providers
            .iter()
            .map(|(agent, provider)| {
                let bad = |e: voxdial_domain::IdError| {
                    InitError::Accounts(format!("[agent_providers]: {e}"))
                };
                Ok((
                    AgentId::parse(agent.clone()).map_err(bad)?,
                    ProviderId::parse(provider.clone()).map_err(bad)?,
                ))
            })
            .collect()
    }
}

/// The origin (`wss://host[:port]`) of a URL: the media bridge's domain
/// from its stream URL (`VOXDIAL_MEDIA_URL`).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!scheme.is_empty() && !host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Whether `VOXDIAL_PROVIDERS` (the accounts and optional routing
/// sections) configures an account of `kind` (`twilio`, `sanspbx`).
pub fn configures_kind(providers: &str, kind: &str) -> Result<bool, InitError> {
    let file = ProvidersToml::parse(providers)?;
    Ok(file.providers.iter().any(|account| account.kind() == kind))
}

/// What the handlers use: the engine, and the queue it sends to.
#[derive(Clone)]
pub struct Deps {
    /// The use cases over the AWS adapters.
    pub engine: Engine,
    /// The dispatch queue (the dispatcher delays rate-limited messages on it).
    pub queue: Arc<dyn DispatchQueue>,
    /// The settings.
    pub config: LambdaConfig,
    /// The post-call job queue, when one is configured.
    pub jobs: Option<Arc<dyn voxdial_domain::JobQueue>>,
}

impl Deps {
    /// Loads the AWS configuration (the function's role and region, or the
    /// emulator of `VOXDIAL_AWS_ENDPOINT`), fetches the function's secrets
    /// (`VOXDIAL_SECRET_IDS`), and wires the engine.
    pub async fn init(config: LambdaConfig) -> Result<Deps, InitError> {
        let sdk = voxdial_aws::config::load(config.aws_endpoint.as_deref()).await;
        let clients = Clients::new(&sdk, None);
        let secrets = if config.secret_ids.is_empty() {
            Secrets::default()
        } else {
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            Secrets::fetch_all(&client, &config.secret_ids).await?
        };
        Deps::assemble(config, &clients, &secrets, Arc::new(SystemClock))
    }

    /// Wires the engine from clients, credentials and a clock (tests pass
    /// an emulator's clients and a simulated clock).
    pub fn assemble(
        config: LambdaConfig,
        clients: &Clients,
        secrets: &dyn SecretSource,
        clock: Arc<dyn Clock>,
    ) -> Result<Deps, InitError> {
        let ports = Backend::Aws {
            clients,
            table: &config.table,
            queue_url: &config.queue_url,
            job_queue_url: config.job_queue_url.as_deref(),
        }
        .ports()?;
        let queue = ports.queue.clone();
        let file = ProvidersToml::parse(&config.providers)?;
        let accounts = ProvidersConfig {
            providers: file.providers.clone(),
        };
        let providers = accounts
            .build(secrets, clock.clone())?
            .into_iter()
            .fold(Providers::new(), Providers::with);
        let defaults = EngineConfig::default();
        let engine_config = EngineConfig {
            // Only the dispatcher builds callback URLs (its main
            // requires the setting); the others never read it.
            public_base_url: config.public_base_url.clone().unwrap_or_default(),
            media_url: config.media_url.clone(),
            // The console opens its media sockets where the bridge runs.
            media_socket_base: config.media_url.as_deref().and_then(origin),
            media_token_key: secrets
                .secret("voxdial.media_token_key")
                .or_else(|| secrets.env("VOXDIAL_MEDIA_TOKEN_KEY"))
                .and_then(MediaTokenKey::new),
            session_key: secrets
                .secret("voxdial.session_key")
                .or_else(|| secrets.env("VOXDIAL_SESSION_KEY"))
                .and_then(voxdial_app::session::SessionKey::new),
            dispatch_lease_secs: config
                .dispatch_lease_secs
                .unwrap_or(defaults.dispatch_lease_secs),
            call_lease_margin_secs: config
                .call_lease_margin_secs
                .unwrap_or(defaults.call_lease_margin_secs),
            max_call_secs_limit: config.max_call_secs,
            model_prices: config.model_prices,
            ..defaults
        };
        let jobs = ports.jobs.clone();
        let engine = EngineParts {
            routing: file.routing(&accounts, &config)?,
            agents: file.agents()?,
            post_call: postcall::deps(&config, clients, secrets, jobs.clone())?,
            ports,
            providers,
            clock,
            config: engine_config,
            blobs: config.recordings_bucket.as_ref().map(|bucket| {
                Arc::new(S3BlobStore::new(clients.s3.clone(), bucket)) as Arc<dyn BlobStore>
            }),
            // The media bridges report their load to the table (issue 13).
            ask_fleet: true,
        }
        .build()?;
        Ok(Deps {
            engine,
            queue,
            config,
            jobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn the_media_origin_is_the_stream_url_s_scheme_and_host() {
        assert_eq!(
            origin("wss://media.example.com/media/twilio").as_deref(),
            Some("wss://media.example.com")
        );
        assert_eq!(
            origin("ws://127.0.0.1:8081/media/twilio?x=1").as_deref(),
            Some("ws://127.0.0.1:8081")
        );
        assert_eq!(origin("media.example.com/media"), None);
        assert_eq!(origin("wss:///media"), None);
    }
}
