//! `voxdial`: the outbound AI calling platform on one machine.
//!
//! - `voxdial demo`: a whole campaign against the simulated carrier, with
//!   live progress and a summary.
//! - `voxdial serve`: the local all-in-one runtime (API, webhooks,
//!   dispatcher, sweeper) on embedded storage; `--simulate` adds the
//!   simulated carrier.
//! - `voxdial campaign …`, `voxdial dnc add`, `voxdial lead erase`: clients
//!   of a running server, authenticated by an API key.
//! - `voxdial ai-agents create|update|list|show|validate`: AI agents on a
//!   running server, from TOML files (see `ai_agents`).
//! - `voxdial keys create`: a new API key in a data directory's store.
//! - `voxdial sim-carrier`: the simulated carrier alone.
//! - `voxdial soak`: a campaign under every fault, the server SIGKILLed and
//!   restarted, and a verdict on the invariants.

mod ai_agents;
mod client;
mod cpu;
mod demo;
mod keys;
mod leads;
mod media;
mod network;
mod postcall;
mod serve;
mod soak;

/// The local backend of the composition root.
use voxdial_runtime::local as runtime;
/// `voxdial serve`'s TOML file.
use voxdial_runtime::local::config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use tokio::net::TcpListener;
use voxdial_app::clock::{ScaledClock, SystemClock};
use voxdial_app::csv_import::MAX_DIRECT_CSV_BYTES;
use voxdial_domain::Clock;
use voxdial_sim::carrier::{Carrier, CarrierConfig, Faults};
use voxdial_sim::time::SimTime;

use crate::network::{Kind, OutageSpec};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "voxdial",
    version,
    about = "Outbound AI voice-calling campaigns: the local runtime, the demo and campaign commands."
)]
struct Cli {
    /// Log as JSON lines (default: human-readable).
    #[arg(long, global = true, env = "VOXDIAL_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole campaign against the simulated carrier and print a summary.
    Demo(DemoArgs),
    /// Run the local all-in-one server (API, webhooks, dispatcher, sweeper).
    Serve(ServeArgs),
    /// Manage campaigns on a running server.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Manage do-not-call lists on a running server.
    #[command(subcommand)]
    Dnc(DncCommand),
    /// Erase a lead's personal data on a running server.
    #[command(subcommand)]
    Lead(LeadCommand),
    /// Manage AI agents on a running server.
    #[command(subcommand)]
    AiAgents(ai_agents::AiAgentsCommand),
    /// Manage API keys in a data directory's store.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the simulated carrier alone (Twilio's REST API and callbacks).
    SimCarrier(SimCarrierArgs),
    /// Soak: a campaign over three simulated provider accounts with every
    /// fault, outages, 429 storms and the server SIGKILLed and restarted;
    /// exits non-zero when an invariant breaks.
    Soak(SoakArgs),
}

#[derive(Args)]
struct SoakArgs {
    /// Leads in the campaign.
    #[arg(long, default_value_t = 2_000)]
    leads: usize,
    /// Calls in flight at most.
    #[arg(long, default_value_t = 10)]
    concurrency: u32,
    /// Times the server is SIGKILLed and restarted.
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// Seed of the plan of kills and provider disruptions, the carrier and the leads.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How many times faster than real time the simulated clock runs.
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
    /// Stop after this many real seconds, and judge what was reached.
    #[arg(long, default_value_t = 3_600)]
    duration: u64,
    /// The lowest call setup success (accepted / dial attempts) that passes.
    #[arg(long, default_value_t = 0.8)]
    min_setup_success: f64,
    /// The share of the simulated model's connections sent `goAway` mid-call.
    #[arg(long, default_value_t = 0.2)]
    model_go_away: f64,
    /// The share of the simulated model's connections dropped mid-call.
    #[arg(long, default_value_t = 0.1)]
    model_drop: f64,
    /// Keep the server's data (and its log) here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `--recording`: a recording policy by its API name.
fn recording_policy(name: &str) -> Result<voxdial_domain::RecordingPolicy, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("{name:?} is not one of all, off, on_demand, selective"))
}

#[derive(Args)]
struct DemoArgs {
    /// Generate this many leads instead of using the bundled sample list.
    #[arg(long)]
    leads: Option<usize>,
    /// No media: the simulated carrier plays each conversation alone instead
    /// of streaming audio through the media bridge to a simulated Gemini.
    #[arg(long)]
    no_media: bool,
    /// The campaign's recording policy: all (recorded, transcribed and
    /// analysed), off (analysed from the call alone), on_demand, selective.
    #[arg(long, default_value = "all", value_parser = recording_policy)]
    recording: voxdial_domain::RecordingPolicy,
    /// Import this CSV file instead of the bundled sample list.
    #[arg(long, conflicts_with = "leads")]
    csv: Option<PathBuf>,
    /// Calls in flight at most.
    #[arg(long, default_value_t = 10)]
    concurrency: u32,
    /// Seed of the simulated carrier's outcomes and faults.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Inject faults: duplicated, reordered, delayed and dropped callbacks, HTTP 429 and 5xx.
    #[arg(long)]
    faults: bool,
    /// The simulated providers to route among (twilio, sanspbx).
    #[arg(long, value_delimiter = ',', default_value = "twilio")]
    providers: Vec<Kind>,
    /// Take a provider down: `twilio` for the whole campaign, or
    /// `twilio:START-END` in simulated minutes from the start. Repeatable.
    #[arg(long)]
    outage: Vec<OutageSpec>,
    /// How many times faster than real time the simulated clock runs (up to
    /// about 60 the conversations' audio keeps real-time fidelity on two
    /// cores; faster runs suit --no-media).
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
    /// Simulated start time (RFC 3339); default: now.
    #[arg(long)]
    start: Option<DateTime<Utc>>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Keep the data here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Give up after this many real seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Keep the operations console up: print its URL and an admin key, wait
    /// for the campaign to be started from the console, and serve until
    /// Ctrl-C once it is over.
    #[arg(long)]
    open: bool,
}

#[derive(Args)]
struct TimeArgs {
    /// Run on a simulated clock this many times faster than real time.
    #[arg(long, env = "VOXDIAL_TIME_SCALE")]
    time_scale: Option<f64>,
    /// Simulated time at `--sim-epoch` (RFC 3339); default: the epoch itself.
    #[arg(long, env = "VOXDIAL_SIM_START")]
    sim_start: Option<DateTime<Utc>>,
    /// The real instant (Unix seconds) the simulated clock started; processes
    /// sharing it agree on the simulated time. Default: now.
    #[arg(long, env = "VOXDIAL_SIM_EPOCH")]
    sim_epoch: Option<u64>,
}

impl TimeArgs {
    fn clock(&self, file_scale: Option<f64>) -> (Arc<dyn Clock>, f64) {
        let scale = self.time_scale.or(file_scale).unwrap_or(1.0);
        if scale == 1.0 && self.sim_start.is_none() && self.sim_epoch.is_none() {
            return (Arc::new(SystemClock), 1.0);
        }
        let epoch = self.sim_epoch.map_or_else(std::time::SystemTime::now, |s| {
            std::time::UNIX_EPOCH + Duration::from_secs(s)
        });
        let start = self
            .sim_start
            .unwrap_or_else(|| DateTime::<Utc>::from(epoch));
        (Arc::new(ScaledClock::anchored(epoch, start, scale)), scale)
    }
}

#[derive(Args)]
struct ServeArgs {
    /// A TOML config file (see the README); flags and VOXDIAL_* variables override it.
    #[arg(long, env = "VOXDIAL_CONFIG")]
    config: Option<PathBuf>,
    /// A Gemini API key: answered calls then talk with Gemini Live through
    /// the media bridge this server hosts.
    #[arg(long, env = "VOXDIAL_GEMINI_API_KEY", hide_env_values = true)]
    gemini_api_key: Option<String>,
    /// The Gemini Live model (default: the bridge's).
    #[arg(long, env = "VOXDIAL_GEMINI_MODEL")]
    gemini_model: Option<String>,
    /// The Gemini Live host, `host[:port]` (default: Google's), or
    /// `ws://host:port` for a simulated model without TLS (`voxdial soak`).
    #[arg(long, env = "VOXDIAL_GEMINI_ENDPOINT")]
    gemini_endpoint: Option<String>,
    /// With --simulate: no media; the simulated carrier plays conversations alone.
    #[arg(long)]
    no_media: bool,
    /// Where the store, queue and recordings live.
    #[arg(long, env = "VOXDIAL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "VOXDIAL_LISTEN")]
    listen: Option<SocketAddr>,
    /// The public base URL providers call back (default: http://LISTEN).
    #[arg(long, env = "VOXDIAL_PUBLIC_URL")]
    public_url: Option<String>,
    /// Twilio account SID.
    #[arg(long, env = "VOXDIAL_TWILIO_ACCOUNT_SID")]
    twilio_account_sid: Option<String>,
    /// Twilio Auth Token.
    #[arg(long, env = "VOXDIAL_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    twilio_auth_token: Option<String>,
    /// Twilio REST base URL (a regional edge, or a simulated carrier).
    #[arg(long, env = "VOXDIAL_TWILIO_API_BASE")]
    twilio_api_base: Option<String>,
    /// Caller ID to present.
    #[arg(long, env = "VOXDIAL_CALLER_ID")]
    caller_id: Option<String>,
    /// Run the simulated carrier in-process instead of calling Twilio.
    #[arg(long)]
    simulate: bool,
    /// With --simulate: the simulated providers to route among (twilio,
    /// sanspbx) through the routing engine; default: Twilio alone.
    #[arg(long, value_delimiter = ',', requires = "simulate")]
    providers: Vec<Kind>,
    /// Seed of the simulated carrier.
    #[arg(long)]
    seed: Option<u64>,
    /// Inject faults in the simulated carrier.
    #[arg(long)]
    faults: bool,
    /// Sweeper period in milliseconds (real time).
    #[arg(long, env = "VOXDIAL_SWEEP_INTERVAL_MS")]
    sweep_interval_ms: Option<u64>,
    /// Lease margin of a live call, simulated seconds.
    #[arg(long)]
    call_lease_margin_secs: Option<u32>,
    #[command(flatten)]
    time: TimeArgs,
}

#[derive(Args)]
struct SimCarrierArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The account SID clients must use.
    #[arg(
        long,
        env = "VOXDIAL_TWILIO_ACCOUNT_SID",
        default_value = "AC00000000000000000000000000demo"
    )]
    account_sid: String,
    /// The Auth Token clients must use, and the callback signing key.
    #[arg(
        long,
        env = "VOXDIAL_TWILIO_AUTH_TOKEN",
        default_value = "demo-auth-token"
    )]
    auth_token: String,
    /// voxdial's API base URL, where simulated callees report dispositions.
    #[arg(long)]
    disposition_api: Option<String>,
    /// The API key (operator or admin) dispositions are reported with.
    #[arg(long, env = "VOXDIAL_API_KEY", hide_env_values = true)]
    disposition_key: Option<String>,
    /// Seed of outcomes and faults.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Inject faults.
    #[arg(long)]
    faults: bool,
    #[command(flatten)]
    time: TimeArgs,
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Create a campaign; settings from a JSON file and flags.
    Create {
        /// Campaign name.
        #[arg(long)]
        name: Option<String>,
        /// Calls in flight at most (default 5).
        #[arg(long)]
        concurrency: Option<u32>,
        /// A JSON file of campaign settings (every field optional).
        #[arg(long)]
        settings: Option<PathBuf>,
        #[command(flatten)]
        server: Server,
    },
    /// Import leads from a CSV file.
    Import {
        /// The campaign id.
        id: String,
        /// The CSV file.
        file: PathBuf,
        /// Region for numbers written without a country code (e.g. US).
        #[arg(long)]
        region: Option<String>,
        /// Send the file through the upload route (a presigned `PUT`, then
        /// an import in the background with its progress shown) even when
        /// it is small; files over 4 MiB always go that way.
        #[arg(long)]
        upload: bool,
        #[command(flatten)]
        server: Server,
    },
    /// Start dialling.
    Start(IdArg),
    /// Stop new dials; live calls finish.
    Pause(IdArg),
    /// Resume dialling.
    Resume(IdArg),
    /// Stop for good; pending leads are finalised.
    Cancel(IdArg),
    /// Show a campaign's progress.
    Status {
        /// The campaign id.
        id: String,
        /// Refresh every second until the campaign finishes.
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        server: Server,
    },
    /// Change the concurrency cap of a campaign.
    Concurrency {
        /// The campaign id.
        id: String,
        /// The new cap.
        max: u32,
        #[command(flatten)]
        server: Server,
    },
    /// Move a campaign to an AI agent version (its latest without --version).
    AiAgent {
        /// The campaign id.
        id: String,
        /// The AI agent id.
        agent: String,
        /// The agent version to pin.
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        server: Server,
    },
}

#[derive(Subcommand)]
enum DncCommand {
    /// Add numbers to the global list, or to a campaign's.
    Add {
        /// Numbers in international form.
        numbers: Vec<String>,
        /// The campaign whose list to add to (default: the global list).
        #[arg(long)]
        campaign: Option<String>,
        #[command(flatten)]
        server: Server,
    },
}

#[derive(Subcommand)]
enum LeadCommand {
    /// Delete a lead's recordings, transcripts, analyses, calls and personal
    /// fields everywhere; prints the audit tombstone (no personal data).
    Erase {
        /// The lead id.
        id: String,
        #[command(flatten)]
        server: Server,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key and print it once, on its own line.
    Create {
        /// The organisation the key acts for.
        #[arg(long, default_value = voxdial_domain::OrgId::DEFAULT)]
        org: String,
        /// What it may do: admin, operator or viewer.
        #[arg(long)]
        role: voxdial_domain::Role,
        /// A label for people (shown in key listings).
        #[arg(long, default_value = "")]
        name: String,
        /// The data directory of the server (the same as `voxdial serve`'s).
        #[arg(long, env = "VOXDIAL_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Where the key is stored: `local` (the data directory) or `aws`
        /// (a deployed stack's DynamoDB table, with the AWS credentials
        /// and region of the environment).
        #[arg(long, value_enum, default_value = "local")]
        backend: KeyBackend,
        /// The DynamoDB table (the stack's `TableName` output) with
        /// `--backend aws`.
        #[arg(long, env = "VOXDIAL_TABLE", required_if_eq("backend", "aws"))]
        table: Option<String>,
    },
}

/// Where `voxdial keys create` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum KeyBackend {
    /// The data directory's store.
    Local,
    /// A deployed stack's DynamoDB table.
    Aws,
}

#[derive(Args)]
struct IdArg {
    /// The campaign id.
    id: String,
    #[command(flatten)]
    server: Server,
}

#[derive(Args)]
struct Server {
    /// The voxdial server's base URL.
    #[arg(long, env = "VOXDIAL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The API key to send (default: the admin key `voxdial serve` wrote in
    /// its data directory).
    #[arg(long, env = "VOXDIAL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The server's data directory, where it wrote `admin.key`.
    #[arg(long, env = "VOXDIAL_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl Server {
    fn client(&self) -> anyhow::Result<client::Client> {
        let dir = keys::data_dir(self.data_dir.clone());
        client::Client::new(&self.server, keys::client_key(self.api_key.clone(), &dir))
    }
}

fn init_tracing(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VOXDIAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Command::Demo(_)
            | Command::Campaign(_)
            | Command::Dnc(_)
            | Command::Lead(_)
            | Command::Keys(_)
            | Command::AiAgents(_)
            | Command::Soak(_)
    );
    init_tracing(cli.log_json, if quiet { "warn" } else { "info" });
    match run(cli.command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(args) => demo(args).await,
        Command::Serve(args) => serve::serve(args).await.map(|()| ExitCode::SUCCESS),
        Command::SimCarrier(args) => sim_carrier(args).await.map(|()| ExitCode::SUCCESS),
        Command::Soak(args) => soak(args).await,
        Command::Campaign(command) => campaign(command).await.map(|()| ExitCode::SUCCESS),
        Command::AiAgents(command) => ai_agents::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::Keys(KeysCommand::Create {
            org,
            role,
            name,
            data_dir,
            backend,
            table,
        }) => {
            let target = match (backend, table) {
                (KeyBackend::Aws, Some(table)) => keys::KeyTarget::Aws { table },
                (KeyBackend::Aws, None) => anyhow::bail!("--backend aws needs --table"),
                (KeyBackend::Local, _) => keys::KeyTarget::Local(keys::data_dir(data_dir)),
            };
            keys::create(target, &org, role, &name).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lead(LeadCommand::Erase { id, server }) => {
            let client = server.client()?;
            client::print(
                &client
                    .post_json(&format!("/v1/leads/{id}/erase"), &json!({}))
                    .await?,
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Dnc(DncCommand::Add {
            numbers,
            campaign,
            server,
        }) => {
            let client = server.client()?;
            client::print(
                &client
                    .post_json(
                        "/v1/dnc",
                        &json!({ "numbers": numbers, "campaign_id": campaign }),
                    )
                    .await?,
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    if args.time_scale.is_nan() || args.time_scale < 1.0 {
        anyhow::bail!("--time-scale must be at least 1");
    }
    let json = args.json;
    let summary = demo::run(demo::DemoOptions {
        leads: args.leads,
        csv: args.csv,
        concurrency: args.concurrency,
        seed: args.seed,
        faults: args.faults,
        providers: args.providers,
        outages: args.outage,
        time_scale: args.time_scale,
        start: args.start,
        json,
        data_dir: args.data_dir,
        max_wall: Duration::from_secs(args.timeout_secs),
        media: !args.no_media,
        recording: args.recording,
        open: args.open,
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        demo::print_table(&summary);
    }
    Ok(if summary.invariants_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    let report = soak::run(soak::SoakOptions {
        leads: args.leads,
        concurrency: args.concurrency,
        kills: args.kills,
        seed: args.seed,
        time_scale: args.time_scale,
        duration: Duration::from_secs(args.duration),
        data_dir: args.data_dir,
        min_setup_success: args.min_setup_success,
        model_go_away: args.model_go_away,
        model_drop: args.model_drop,
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        soak::print_table(&report);
    }
    Ok(if report.invariants_hold {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn sim_carrier(args: SimCarrierArgs) -> anyhow::Result<()> {
    let (clock, scale) = args.time.clock(None);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut config = CarrierConfig::new(args.account_sid, args.auth_token, args.seed);
    config.faults = if args.faults {
        Faults::chaos()
    } else {
        Faults::none()
    };
    config.disposition_api = args.disposition_api;
    config.disposition_key = args.disposition_key;
    let carrier = Carrier::new(config, SimTime::new(clock, scale));
    println!(
        "simulated carrier listening on http://{}",
        listener.local_addr()?
    );
    let task = carrier.serve(listener);
    shutdown_signal().await;
    task.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn campaign(command: CampaignCommand) -> anyhow::Result<()> {
    match command {
        CampaignCommand::Create {
            name,
            concurrency,
            settings,
            server,
        } => {
            let mut body = match settings {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?
                }
                None => json!({}),
            };
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(n) = concurrency {
                body["max_concurrency"] = json!(n);
            }
            let client = server.client()?;
            client::print(&client.post_json("/v1/campaigns", &body).await?);
        }
        CampaignCommand::Import {
            id,
            file,
            region,
            upload,
            server,
        } => {
            let client = server.client()?;
            let size = std::fs::metadata(&file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .len();
            let report = if upload || size > MAX_DIRECT_CSV_BYTES as u64 {
                client.upload_csv(&id, &file, region.as_deref()).await?
            } else {
                let path = match region {
                    Some(region) => format!("/v1/campaigns/{id}/leads?region={region}"),
                    None => format!("/v1/campaigns/{id}/leads"),
                };
                client.post_csv(&path, &file).await?
            };
            client::print(&report);
        }
        CampaignCommand::Start(arg) => action(arg, "start").await?,
        CampaignCommand::Pause(arg) => action(arg, "pause").await?,
        CampaignCommand::Resume(arg) => action(arg, "resume").await?,
        CampaignCommand::Cancel(arg) => action(arg, "cancel").await?,
        CampaignCommand::Status { id, watch, server } => {
            let client = server.client()?;
            loop {
                let view = client.get(&format!("/v1/campaigns/{id}")).await?;
                if !watch {
                    client::print(&view);
                    break;
                }
                println!("{}", client::status_line(&view));
                let status = view["campaign"]["status"].as_str().unwrap_or("");
                if status == "completed" || status == "canceled" {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        CampaignCommand::Concurrency { id, max, server } => {
            let client = server.client()?;
            client::print(
                &client
                    .put_json(
                        &format!("/v1/campaigns/{id}/concurrency"),
                        &json!({ "max_concurrency": max }),
                    )
                    .await?,
            );
        }
        CampaignCommand::AiAgent {
            id,
            agent,
            version,
            server,
        } => {
            let body = json!({ "id": agent, "version": version });
            let path = format!("/v1/campaigns/{id}/ai-agent");
            client::print(&server.client()?.put_json(&path, &body).await?);
        }
    }
    Ok(())
}

async fn action(arg: IdArg, verb: &str) -> anyhow::Result<()> {
    let client = arg.server.client()?;
    client::print(
        &client
            .post_json(&format!("/v1/campaigns/{}/{verb}", arg.id), &json!({}))
            .await?,
    );
    Ok(())
}
