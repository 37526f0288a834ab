//! What the engine stores and queues on: the one `match` between the
//! backends ([`Backend::ports`]), the routing engine built over it the
//! same way on both ([`router`]), and the engine itself, built in one
//! place from what each backend chose ([`EngineParts::build`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use voxdial_app::router::Providers;
use voxdial_app::routing::{EngineRouter, check_accounts};
use voxdial_app::{Engine, EngineConfig, PostCallDeps};
use voxdial_aws::{Clients, DynamoStore, SqsJobQueue, SqsQueue};
use voxdial_domain::{
    AgentId, BlobStore, BridgeFleet, Clock, DispatchQueue, HumanAgentStore, JobQueue, ProviderId,
    RoutingStateStore, Store,
};
use voxdial_local::{LocalJobQueue, LocalQueue, LocalStore, OpenError, QueueConfig};
use voxdial_routing::{RoutingConfig, RoutingError};

/// The store's file in a local data directory.
pub const STORE_FILE: &str = "voxdial.sqlite";

/// Where the engine keeps its records and messages.
pub enum Backend<'a> {
    /// SQLite files in a data directory: `voxdial.sqlite`, `queue.sqlite`,
    /// `jobs.sqlite`.
    Local {
        /// The data directory.
        data_dir: &'a Path,
        /// The queues' clock.
        clock: Arc<dyn Clock>,
        /// How long a received message stays hidden.
        visibility: Duration,
    },
    /// A DynamoDB table and SQS queues.
    Aws {
        /// The SDK clients.
        clients: &'a Clients,
        /// The table.
        table: &'a str,
        /// The dispatch queue's URL.
        queue_url: &'a str,
        /// The post-call job queue's URL (no post-call pipeline without it).
        job_queue_url: Option<&'a str>,
    },
}

/// The ports a backend provides.
#[derive(Clone)]
pub struct Ports {
    /// Campaigns, leads, calls and the rest of the records.
    pub store: Arc<dyn Store>,
    /// The routing engine's state (statistics, breakers, CPS budgets,
    /// caller-ID usage), shared by every process.
    pub routing_state: Arc<dyn RoutingStateStore>,
    /// The human agents transfers go to.
    pub humans: Arc<dyn HumanAgentStore>,
    /// The media bridges' load reports, read by the answer webhook.
    pub fleet: Arc<dyn BridgeFleet>,
    /// The dispatch queue.
    pub queue: Arc<dyn DispatchQueue>,
    /// The post-call job queue, when there is a post-call pipeline.
    pub jobs: Option<Arc<dyn JobQueue>>,
}

/// A local file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the {what}")]
pub struct PortsError {
    /// Which file.
    what: &'static str,
    /// Why.
    #[source]
    source: OpenError,
}

/// The routing sections disagree with the accounts, or are invalid.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A routed provider has no account.
    #[error("routing: {0}")]
    Accounts(String),
    /// The routing configuration is wrong.
    #[error("routing: {0}")]
    Routing(#[from] RoutingError),
}

impl Ports {
    /// The ports of one store and its queues.
    fn of<S>(store: Arc<S>, queue: Arc<dyn DispatchQueue>, jobs: Option<Arc<dyn JobQueue>>) -> Ports
    where
        S: Store + RoutingStateStore + HumanAgentStore + BridgeFleet + 'static,
    {
        Ports {
            store: store.clone(),
            routing_state: store.clone(),
            humans: store.clone(),
            fleet: store,
            queue,
            jobs,
        }
    }
}

impl Backend<'_> {
    /// Opens (locally) or addresses (on AWS) the store and the queues.
    pub fn ports(&self) -> Result<Ports, PortsError> {
        match self {
            Backend::Local {
                data_dir,
                clock,
                visibility,
            } => {
                let open = |what| move |source| PortsError { what, source };
                let store = LocalStore::open(data_dir.join(STORE_FILE)).map_err(open("store"))?;
                let queue = LocalQueue::open(
                    data_dir.join("queue.sqlite"),
                    QueueConfig {
                        visibility_timeout: *visibility,
                        max_receives: 10,
                    },
                    clock.clone(),
                )
                .map_err(open("dispatch queue"))?;
                let jobs = LocalJobQueue::open(
                    data_dir.join("jobs.sqlite"),
                    QueueConfig {
                        visibility_timeout: *visibility,
                        max_receives: 20,
                    },
                    clock.clone(),
                )
                .map_err(open("job queue"))?;
                Ok(Ports::of(
                    Arc::new(store),
                    Arc::new(queue),
                    Some(Arc::new(jobs)),
                ))
            }
            Backend::Aws {
                clients,
                table,
                queue_url,
                job_queue_url,
            } => {
                let jobs = job_queue_url.map(|url| {
                    Arc::new(SqsJobQueue::new(clients.sqs.clone(), url)) as Arc<dyn JobQueue>
                });
                Ok(Ports::of(
                    Arc::new(DynamoStore::new(clients.dynamo.clone(), *table)),
                    Arc::new(SqsQueue::new(clients.sqs.clone(), *queue_url)),
                    jobs,
                ))
            }
        }
    }
}

/// The routing engine over `state`, checked against the accounts: the
/// same on both backends.
pub fn router(
    routing: RoutingConfig,
    agents: HashMap<AgentId, ProviderId>,
    providers: &Providers,
    state: Arc<dyn RoutingStateStore>,
) -> Result<EngineRouter, RouterError> {
    check_accounts(&routing, providers).map_err(RouterError::Accounts)?;
    Ok(EngineRouter::new(routing, agents, state)?)
}

/// What the engine is built from, as each backend chose it: the one place
/// both build it ([`EngineParts::build`]).
pub struct EngineParts {
    /// The store and the queues ([`Backend::ports`]).
    pub ports: Ports,
    /// The provider accounts.
    pub providers: Providers,
    /// How the routing engine chooses among them.
    pub routing: RoutingConfig,
    /// The provider each AI agent uses (`agent_assigned`).
    pub agents: HashMap<AgentId, ProviderId>,
    /// The engine's clock.
    pub clock: Arc<dyn Clock>,
    /// URLs, keys, leases, prices.
    pub config: EngineConfig,
    /// Where recordings and transcripts are kept (local files; S3), if
    /// anywhere.
    pub blobs: Option<Arc<dyn BlobStore>>,
    /// The post-call pipeline (transcriber, analyser, webhooks) on
    /// `ports.jobs`, if there is one.
    pub post_call: Option<PostCallDeps>,
    /// Whether the answer webhook asks the media bridges' fleet for room
    /// (`ports.fleet`) before it sends a stream.
    pub ask_fleet: bool,
}

impl EngineParts {
    /// The engine over the parts: the routing engine over the store's
    /// routing state, the human agents, and the optional blobs, fleet and
    /// post-call pipeline.
    pub fn build(self) -> Result<Engine, RouterError> {
        let Ports {
            store,
            routing_state,
            humans,
            fleet,
            queue,
            ..
        } = self.ports;
        let router = router(self.routing, self.agents, &self.providers, routing_state)?;
        let mut engine = Engine::new(
            store,
            queue,
            self.providers,
            Arc::new(router),
            self.clock,
            self.config,
        )
        .with_agents(humans);
        if let Some(blobs) = self.blobs {
            engine = engine.with_blobs(blobs);
        }
        if self.ask_fleet {
            engine = engine.with_bridge_fleet(fleet);
        }
        if let Some(post_call) = self.post_call {
            engine = engine.with_post_call(post_call);
        }
        Ok(engine)
    }
}
