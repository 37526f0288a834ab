//! Building the engine on the AWS adapters, once per execution environment.

use std::sync::Arc;

use voxdial_app::clock::SystemClock;
use voxdial_app::router::{Providers, RouteStep, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_aws::{Clients, DynamoStore, SqsQueue};
use voxdial_domain::{Clock, DispatchQueue};
use voxdial_providers::{ProvidersConfig, SecretSource};
use voxdial_wire::media_token::MediaTokenKey;

use crate::config::{ConfigError, LambdaConfig};
use crate::secrets::{Secrets, SecretsError};

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
    /// The post-call pipeline's settings are wrong.
    #[error("post-call pipeline: {0}")]
    PostCall(String),
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
    /// emulator of `VOXDIAL_AWS_ENDPOINT`), fetches the secret, and wires
    /// the engine.
    pub async fn init(config: LambdaConfig) -> Result<Deps, InitError> {
        let sdk = voxdial_aws::config::load(config.aws_endpoint.as_deref()).await;
        let clients = Clients::new(&sdk, None);
        let secrets = match &config.secrets_id {
            Some(id) => {
                let client = aws_sdk_secretsmanager::Client::new(&sdk);
                Secrets::fetch(&client, id).await?
            }
            None => Secrets::default(),
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
        let store = DynamoStore::new(clients.dynamo.clone(), &config.table);
        let queue: Arc<dyn DispatchQueue> =
            Arc::new(SqsQueue::new(clients.sqs.clone(), &config.queue_url));
        let accounts =
            ProvidersConfig::from_toml(&config.providers)?.build(secrets, clock.clone())?;
        let mut providers = Providers::new();
        let mut steps = Vec::new();
        for provider in accounts {
            steps.push(RouteStep::new(
                provider.id().clone(),
                config.caller_id_for(provider.id().as_str()).clone(),
            ));
            providers = providers.with(provider);
        }
        let defaults = EngineConfig::default();
        let engine = Engine::new(
            Arc::new(store),
            queue.clone(),
            providers,
            Arc::new(StaticRouter::new(steps)),
            clock,
            EngineConfig {
                // Only the dispatcher builds callback URLs (its main
                // requires the setting); the others never read it.
                public_base_url: config.public_base_url.clone().unwrap_or_default(),
                media_url: config.media_url.clone(),
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
                ..defaults
            },
        );
        let (engine, jobs) = crate::postcall::wire(engine, &config, clients, secrets)?;
        Ok(Deps {
            engine,
            queue,
            config,
            jobs,
        })
    }
}
