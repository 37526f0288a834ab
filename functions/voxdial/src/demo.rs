//! `voxdial demo`: a whole campaign on one machine with no account and no
//! network. The simulated carrier (Twilio's wire formats, and SansPBX's with
//! `--providers twilio,sanspbx`) and the local runtime run in-process on
//! loopback; the campaign runs on a scaled clock that skips idle stretches
//! (a night outside the calling window, a retry delay) so it finishes in
//! seconds. Calls are routed by the routing engine; `--outage` takes a
//! provider down and the summary shows the fallback: calls, setup success
//! and cost per provider.
//!
//! The demo ships three AI agents (Maya, Raj and Zoe, each with their own
//! prompt, voice and voicemail message). The campaign starts with Maya and
//! is handed to the next agent each time another third of its leads is
//! final, as an operator moves a running campaign to another agent; the
//! summary counts the conversations each agent held.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tokio::net::TcpListener;
use voxdial_app::clock::ScaledClock;
use voxdial_domain::{
    AgentStatus, CampaignAction, CampaignId, CampaignProgress, CampaignSettings, CampaignStatus,
    Clock, DncScope, E164, HumanAgent, Money, OrgId, RetryPolicy, Role,
};
use voxdial_sim::carrier::{Carrier, CarrierStats};

use crate::cpu::CpuTimes;
use crate::leads::{generated_csv, sample_csv};
use crate::network::{Kind, OutageSpec, SimNetwork, SimOptions};
use crate::runtime::{MediaOptions, Runtime, RuntimeOptions};
use voxdial_conversation::AgentConfig;
use voxdial_host::Agents;

/// Options of `voxdial demo`.
#[derive(Clone, Debug)]
pub(crate) struct DemoOptions {
    pub(crate) leads: Option<usize>,
    pub(crate) csv: Option<PathBuf>,
    pub(crate) concurrency: u32,
    pub(crate) seed: u64,
    pub(crate) faults: bool,
    pub(crate) providers: Vec<Kind>,
    pub(crate) outages: Vec<OutageSpec>,
    pub(crate) time_scale: f64,
    pub(crate) start: Option<DateTime<Utc>>,
    pub(crate) json: bool,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) max_wall: Duration,
    /// Answered calls run real media through the bridge (simulated callee
    /// and simulated Gemini Live); without it a call's conversation is
    /// simulated by the carrier alone.
    pub(crate) media: bool,
    /// The campaign's recording policy.
    pub(crate) recording: voxdial_domain::RecordingPolicy,
    /// `--open`: keep the console up (see [`open_console`]).
    pub(crate) open: bool,
}

/// The demo's result, printed as a table or as one JSON object.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Summary {
    pub(crate) campaign_id: String,
    pub(crate) status: String,
    pub(crate) seed: u64,
    pub(crate) faults: bool,
    pub(crate) time_scale: f64,
    pub(crate) max_concurrency: u32,
    pub(crate) rows_read: u64,
    pub(crate) total_leads: u64,
    pub(crate) merged_rows: u64,
    pub(crate) rejected_rows: Vec<String>,
    pub(crate) outcomes: BTreeMap<String, u64>,
    pub(crate) leads_not_final: u64,
    pub(crate) calls_placed: u64,
    pub(crate) max_concurrent_calls_seen_by_carrier: u32,
    pub(crate) max_dials_per_attempt_seen_by_carrier: u32,
    pub(crate) callbacks: CallbackFigures,
    pub(crate) provider_errors: ProviderErrors,
    /// The providers routed among, and any outage.
    pub(crate) providers_used: Vec<String>,
    pub(crate) outages: Vec<String>,
    /// Dial attempts that reached routing, and how many a provider took.
    pub(crate) setup: SetupFigures,
    /// Per provider: calls, setup success, answers, cost.
    pub(crate) providers: Vec<ProviderFigures>,
    pub(crate) cost_usd: f64,
    pub(crate) simulated_hours: f64,
    pub(crate) wall_secs: f64,
    pub(crate) peak_rss_mb: Option<f64>,
    /// CPU from the start of the campaign to its completion (`None` where
    /// `/proc` cannot be read).
    pub(crate) cpu: Option<CpuFigures>,
    pub(crate) invariants_hold: bool,
    /// Recordings, transcripts and analyses of the answered calls.
    pub(crate) post_call: crate::postcall::PostCallFigures,
    /// What the media bridge reported about the conversations.
    pub(crate) conversations: ConversationFigures,
    /// The conversations each AI agent held.
    pub(crate) agents: Vec<AgentFigures>,
}

/// CPU used while the campaign ran, the simulated carrier's apart.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CpuFigures {
    /// The whole process.
    pub(crate) process_secs: f64,
    /// The simulated carrier's threads (its REST API, calls and callbacks).
    pub(crate) carrier_secs: f64,
    /// The rest: the engine (API, webhooks, dispatcher, sweeper, post-call).
    pub(crate) engine_secs: f64,
    /// The engine's CPU per call placed, ms.
    pub(crate) engine_ms_per_call: Option<f64>,
    /// The carrier's CPU per call placed, ms.
    pub(crate) carrier_ms_per_call: Option<f64>,
}

impl CpuFigures {
    /// The figures between two samples, over `calls` calls placed.
    fn between(start: CpuTimes, end: CpuTimes, calls: u64) -> CpuFigures {
        let process = end.process.saturating_sub(start.process).as_secs_f64();
        let carrier = end.named.saturating_sub(start.named).as_secs_f64();
        let engine = (process - carrier).max(0.0);
        let per_call = |secs: f64| (calls > 0).then(|| secs * 1000.0 / calls as f64);
        CpuFigures {
            process_secs: process,
            carrier_secs: carrier,
            engine_secs: engine,
            engine_ms_per_call: per_call(engine),
            carrier_ms_per_call: per_call(carrier),
        }
    }
}

/// The name (prefix) of the simulated carrier's threads.
const CARRIER_THREADS: &str = "sim-carrier";

/// Callback deliveries as the carrier made them.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CallbackFigures {
    pub(crate) sent: u64,
    pub(crate) duplicated: u64,
    pub(crate) reordered: u64,
    pub(crate) delayed: u64,
    pub(crate) dropped: u64,
}

/// REST errors the carrier injected.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ProviderErrors {
    pub(crate) rate_limited_429: u64,
    pub(crate) server_errors_5xx: u64,
}

/// Call setup over the whole campaign, from the call records: every
/// attempt record was created after routing, and has a provider call id
/// once some provider accepted it.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct SetupFigures {
    pub(crate) dial_attempts: u64,
    pub(crate) accepted: u64,
    pub(crate) setup_success_rate: Option<f64>,
    /// Setup requests a provider failed (each followed by a fall-over to
    /// the next provider of the chain, or by the attempt failing).
    pub(crate) provider_setup_failures: u64,
    /// Setup rounds run again after every provider of the chain had failed
    /// with a transient error.
    pub(crate) setup_retries: u64,
}

/// One provider's figures: voxdial's view (routing statistics, cost from
/// the rate table) and the carrier's (calls created, refusals, billed).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ProviderFigures {
    pub(crate) id: String,
    pub(crate) calls: u64,
    pub(crate) setup_attempts: u64,
    pub(crate) setup_failures: u64,
    pub(crate) setup_success_rate: Option<f64>,
    pub(crate) answered: u64,
    pub(crate) answer_seizure_ratio: Option<f64>,
    pub(crate) cost_usd: f64,
    pub(crate) circuit: String,
    pub(crate) carrier_calls_created: u64,
    pub(crate) carrier_refusals: u64,
    pub(crate) carrier_billed_usd: f64,
}

/// Runs the demo and returns its summary.
pub(crate) async fn run(options: DemoOptions) -> anyhow::Result<Summary> {
    let wall = Instant::now();
    let start = options.start.unwrap_or_else(Utc::now);
    let scaled = Arc::new(ScaledClock::new(start, options.time_scale));
    let clock: Arc<dyn Clock> = scaled.clone();
    let temp;
    let data_dir = match &options.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = TempDir::new()?;
            temp.path.clone()
        }
    };

    let server_listener = TcpListener::bind("127.0.0.1:0").await?;
    let server_url = format!("http://{}", server_listener.local_addr()?);
    // Media: the simulated callee needs the engine (for the lead's persona)
    // and the account's token (to sign), both known only once started.
    let engine_cell = Arc::new(std::sync::OnceLock::new());
    let token_cell = Arc::new(std::sync::OnceLock::new());
    let voice = if options.media {
        Some(crate::media::simulated_voice(options.seed, options.time_scale, None).await?)
    } else {
        None
    };
    // The carrier runs on a runtime of its own, on threads named
    // `CARRIER_THREADS`, so that the engine's CPU is measured without it.
    let carrier_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(CARRIER_THREADS)
        .enable_all()
        .build()
        .context("cannot start the simulated carrier's runtime")?;
    let network = carrier_runtime
        .spawn(SimNetwork::start(SimOptions {
            kinds: options.providers.clone(),
            seed: options.seed,
            faults: options.faults,
            outages: options.outages.clone(),
            start,
            disposition_api: server_url.clone(),
            disposition_key: crate::keys::simulated_carrier_key(&data_dir).await?,
            clock: clock.clone(),
            time_scale: options.time_scale,
            stream_hook: options.media.then(|| {
                crate::media::simulated_callee(
                    crate::media::Personas::OfLead(engine_cell.clone()),
                    token_cell.clone(),
                    options.time_scale,
                )
            }),
        }))
        .await??;
    let _ = token_cell.set(network.twilio_auth_token.clone());

    let runtime = Runtime::start(RuntimeOptions {
        data_dir,
        listener: server_listener,
        public_url: None,
        media_url: None,
        media: voice.as_ref().map(|(connector, _)| MediaOptions {
            connector: connector.clone(),
            model: None,
            agents: Agents::new(AgentConfig::default()),
            twilio_auth_token: Some(network.twilio_auth_token.clone()),
            max_live_calls: None,
        }),
        clock: clock.clone(),
        time_scale: options.time_scale,
        routes: network.routes.clone(),
        // Leases in simulated time, but never under two real seconds: at
        // extreme time scales a lease must still outlast a dispatch.
        dispatch_lease_secs: (2.0 * options.time_scale).max(900.0) as u32,
        call_lease_margin_secs: (2.0 * options.time_scale).max(120.0) as u32,
        sweep_interval: Duration::from_millis(200),
        dispatch_parallelism: 64,
        consent: Default::default(),
        model_prices: Default::default(),
    })
    .await?;
    let _ = engine_cell.set(runtime.engine.clone());
    let result = drive(&options, &runtime, &network.carrier, &scaled, wall, start).await;
    if options.open {
        println!("the campaign is over; the console stays up (Ctrl-C to stop)");
        let _ = tokio::signal::ctrl_c().await;
    }
    runtime.stop().await;
    network.stop();
    carrier_runtime.shutdown_background();
    if let Some((_, task)) = voice {
        task.abort();
    }
    result
}

async fn drive(
    options: &DemoOptions,
    runtime: &Runtime,
    carrier: &Carrier,
    clock: &ScaledClock,
    wall: Instant,
    start: DateTime<Utc>,
) -> anyhow::Result<Summary> {
    let engine = &runtime.engine;
    let csv = match (&options.csv, options.leads) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, Some(n)) => generated_csv(n, options.seed).into_bytes(),
        (None, None) => sample_csv().to_vec(),
    };
    let settings = CampaignSettings {
        name: "voxdial demo".into(),
        max_concurrency: options.concurrency,
        retry: RetryPolicy {
            max_attempts: 3,
            busy_delay_secs: 300,
            no_answer_delay_secs: 1_800,
            failed_delay_secs: 600,
            voicemail_delay_secs: None,
        },
        // By default every answered call is recorded (both channels),
        // transcribed and analysed.
        recording: options.recording.clone(),
        ..CampaignSettings::default()
    };
    let org = OrgId::default();
    let agents = create_demo_agents(engine).await?;
    let settings = CampaignSettings {
        agent_id: agents[0].clone(),
        ..settings
    };
    let campaign = engine.create_campaign(&org, settings).await?;
    let report = engine.import_csv(&campaign.id, &csv, Some("US")).await?;
    // A few numbers of the list are on the do-not-call list.
    let leads = engine.leads_page(&campaign.id, None, 1000).await?;
    let dnc: Vec<E164> = leads
        .iter()
        .step_by(29)
        .take(3)
        .map(|l| l.phone.clone())
        .collect();
    engine
        .add_dnc(&DncScope::Organisation(campaign.org_id.clone()), &dnc)
        .await?;
    // Two human agents take transfers; once both are busy, callers who ask
    // for a person are offered a callback.
    for (id, name) in [("ana", "Ana"), ("ben", "Ben")] {
        engine
            .put_human_agent(&HumanAgent {
                id: voxdial_domain::HumanAgentId::parse(id).expect("static id"),
                org_id: OrgId::default(),
                name: name.into(),
                number: E164::parse("+14155550199", None).expect("a valid number"),
                skills: Vec::new(),
                status: AgentStatus::Available,
                since: clock.now(),
                call_id: None,
            })
            .await?;
    }
    // With `--open` the time limit counts from the start in the console.
    let wall = if options.open {
        open_console(runtime, &campaign.id).await?;
        Instant::now()
    } else {
        engine.act(&campaign.id, CampaignAction::Start).await?;
        wall
    };
    let cpu_start = crate::cpu::times(CARRIER_THREADS);

    let progress = Progress::new(options.json, report.inserted);
    let mut handed = 0;
    let view = loop {
        let view = engine.campaign_view(&campaign.id).await?;
        progress.show(&view.progress);
        if view.campaign.status.is_finished() {
            break view;
        }
        // Another third of the leads final: the next agent takes over.
        let p = &view.progress;
        let due = (p.final_total() * agents.len() as u64 / p.total.max(1)) as usize;
        if due > handed && due < agents.len() {
            handed = due;
            engine
                .set_campaign_agent(&org, &campaign.id, &agents[handed], None)
                .await?;
        }
        if wall.elapsed() > options.max_wall {
            bail!("the demo did not finish within {:?}", options.max_wall);
        }
        skip_idle_time(&view.progress, clock, engine).await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    progress.finish(&view.progress);
    let cpu_end = crate::cpu::times(CARRIER_THREADS);

    // Let the last callbacks land before reading the carrier's figures.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = carrier.stats();
    let mut summary = summarise(
        options,
        &view,
        &report,
        &stats,
        clock.now() - start,
        wall.elapsed(),
    );
    summary.cpu = cpu_start
        .zip(cpu_end)
        .map(|(start, end)| CpuFigures::between(start, end, summary.calls_placed));
    summary.setup = setup_figures(engine, &campaign.id).await?;
    summary.post_call =
        crate::postcall::figures(engine, &campaign.id, Duration::from_secs(20)).await?;
    summary.providers = provider_figures(engine, &stats).await;
    summary.conversations = conversation_figures(engine, &campaign.id).await?;
    // The analyses (awaited above) may have decided bare answers.
    summary.outcomes = engine.campaign_view(&campaign.id).await?.progress.finals;
    summary.conversations.whispers = carrier.whispers().len() as u64;
    summary.conversations.agents_still_busy = engine
        .human_agents(&OrgId::default())
        .await?
        .iter()
        .filter(|a| a.status == AgentStatus::Busy)
        .count() as u64;
    summary.agents = agent_figures(engine, &campaign.id).await?;
    Ok(summary)
}

/// The demo's AI agents: name, voice, what they call about, and their
/// voicemail message.
const DEMO_AGENTS: [(&str, &str, &str, &str); 3] = [
    (
        "Maya",
        "Kore",
        "a free dental check-up at Sunrise Dental",
        "Hi, this is Maya from Sunrise Dental about your free check-up. Please call us back. Thank you.",
    ),
    (
        "Raj",
        "Puck",
        "the new broadband plans of Lightspeed Fibre",
        "Hello, Raj from Lightspeed Fibre here about faster broadband. We will try you again soon.",
    ),
    (
        "Zoe",
        "Aoede",
        "renewing a Green Valley gym membership",
        "Hi, it's Zoe from Green Valley Gym about your membership renewal. Call us any time. Bye!",
    ),
];

/// Creates the demo's agents in the default organisation; their ids, in
/// the order they take the campaign.
async fn create_demo_agents(
    engine: &voxdial_app::Engine,
) -> anyhow::Result<Vec<voxdial_domain::AgentId>> {
    let mut ids = Vec::new();
    for (name, voice, topic, voicemail) in DEMO_AGENTS {
        let draft = serde_json::json!({"config": {
            "name": name,
            "voice": voice,
            "system_prompt": format!(
                "You are {name}, a friendly and concise outbound calling agent calling about \
                 {topic}. Speak naturally, one or two sentences at a time, and let the caller talk."
            ),
            "voicemail": {"text": voicemail},
        }});
        let agent = engine
            .create_ai_agent(&OrgId::default(), draft.to_string().as_bytes())
            .await?;
        ids.push(agent.id);
    }
    Ok(ids)
}

/// The conversations each AI agent held, from the call records.
async fn agent_figures(
    engine: &voxdial_app::Engine,
    campaign: &voxdial_domain::CampaignId,
) -> anyhow::Result<Vec<AgentFigures>> {
    let mut by_agent: BTreeMap<(String, String, Option<u32>), u64> = BTreeMap::new();
    let mut before = None;
    loop {
        let page = engine.calls_page(campaign, before.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        for call in &page {
            let Some(agent) = call.conversation.as_ref().and_then(|c| c.agent.as_ref()) else {
                continue;
            };
            let key = (agent.name.clone(), agent.id.to_string(), agent.version);
            *by_agent.entry(key).or_default() += 1;
        }
    }
    Ok(by_agent
        .into_iter()
        .map(|((name, id, version), conversations)| AgentFigures {
            name,
            id,
            version,
            conversations,
        })
        .collect())
}

/// The conversations one AI agent (at one version) held.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct AgentFigures {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) version: Option<u32>,
    pub(crate) conversations: u64,
}

/// `--open`: prints the console's URL and a new admin key (stdout, one
/// line each), then waits for somebody to start the campaign from the
/// console (or the API) before the demo follows it.
async fn open_console(runtime: &Runtime, campaign: &CampaignId) -> anyhow::Result<()> {
    let engine = &runtime.engine;
    let (_, key) = engine
        .create_api_key(&OrgId::default(), Role::Admin, "demo console")
        .await?;
    println!("console: {}/#/campaigns/{campaign}", runtime.base_url);
    println!("admin key: {}", key.expose());
    println!("sign in with the key and press Start to run the campaign");
    while engine.campaign_view(campaign).await?.campaign.status == CampaignStatus::Draft {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

/// What the media bridge reported about the campaign's conversations.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct ConversationFigures {
    /// Answered calls whose audio went through the bridge.
    pub(crate) conversations: u64,
    /// Answering machines the bridge detected (and left a message on or hung up).
    pub(crate) machines_detected: u64,
    /// Median time from answer to the machine-detection verdict, ms.
    pub(crate) amd_verdict_p50_ms: Option<u32>,
    /// Median time from the end of a caller's turn to the agent's first audio, ms.
    pub(crate) first_audio_p50_ms: Option<u32>,
    /// Filler clips played to mask model latency.
    pub(crate) fillers: u64,
    /// Times callers spoke over the agent (the agent stopped at once).
    pub(crate) barge_ins: u64,
    /// Calls transferred to a human agent.
    pub(crate) transfers: u64,
    /// Warm transfers whose agent heard the summary before joining.
    pub(crate) whispers: u64,
    /// Human agents still busy once the campaign is over (each transfer
    /// releases its agent when the call ends, so none should be).
    pub(crate) agents_still_busy: u64,
    /// Callbacks the callers asked for (each lead is dialled again).
    pub(crate) callbacks: u64,
    /// Calls recorded (both channels).
    pub(crate) recordings: u64,
    /// The voice model's tokens (in and out) over every conversation, as
    /// it reported them.
    pub(crate) model_tokens: u64,
    /// Their price at the engine's model prices, USD.
    pub(crate) model_cost_usd: f64,
}

fn median(mut values: Vec<u32>) -> Option<u32> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

/// The conversation figures over every call of the campaign.
async fn conversation_figures(
    engine: &voxdial_app::Engine,
    campaign: &voxdial_domain::CampaignId,
) -> anyhow::Result<ConversationFigures> {
    let mut figures = ConversationFigures::default();
    let (mut amd, mut first_audio) = (Vec::new(), Vec::new());
    let mut before = None;
    loop {
        let page = engine.calls_page(campaign, before.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        for call in &page {
            figures.transfers += u64::from(call.transfer.is_some());
            figures.callbacks += u64::from(
                call.callback_at.is_some()
                    || call.disposition == Some(voxdial_domain::Disposition::CallbackRequested),
            );
            let Some(c) = &call.conversation else {
                continue;
            };
            figures.conversations += u64::from(c.duration_ms > 0);
            figures.recordings += u64::from(c.recording.is_some());
            figures.fillers += u64::from(c.fillers);
            figures.barge_ins += u64::from(c.barge_ins);
            if c.amd_verdict
                .as_deref()
                .is_some_and(|v| v.starts_with("machine"))
            {
                figures.machines_detected += 1;
            }
            amd.extend(c.amd_latency_ms);
            first_audio.extend(c.first_audio_ms.iter().copied());
            if let Some(usage) = &c.model_usage {
                figures.model_tokens += usage.total_tokens();
                figures.model_cost_usd += usage.cost.unwrap_or_default().dollars();
            }
        }
    }
    figures.amd_verdict_p50_ms = median(amd);
    figures.first_audio_p50_ms = median(first_audio);
    Ok(figures)
}

/// Setup success over every attempt record of the campaign.
async fn setup_figures(
    engine: &voxdial_app::Engine,
    campaign: &voxdial_domain::CampaignId,
) -> anyhow::Result<SetupFigures> {
    let mut figures = SetupFigures::default();
    let mut before = None;
    loop {
        let page = engine.calls_page(campaign, before.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        for call in &page {
            figures.dial_attempts += 1;
            if call.provider_sid.is_some() {
                figures.accepted += 1;
            }
        }
    }
    if let Some(stats) = engine.provider_stats().await {
        figures.provider_setup_failures = stats.providers.iter().map(|p| p.setup_failures).sum();
        figures.setup_retries = stats.setup_retries;
    }
    figures.setup_success_rate =
        (figures.dial_attempts > 0).then(|| figures.accepted as f64 / figures.dial_attempts as f64);
    Ok(figures)
}

/// Per-provider figures from the router's statistics and the carrier's.
async fn provider_figures(
    engine: &voxdial_app::Engine,
    stats: &CarrierStats,
) -> Vec<ProviderFigures> {
    let Some(view) = engine.provider_stats().await else {
        return Vec::new();
    };
    view.providers
        .iter()
        .map(|p| {
            let carrier = stats.by_provider.get(p.provider.as_str());
            ProviderFigures {
                id: p.provider.to_string(),
                calls: p.calls,
                setup_attempts: p.setup_attempts,
                setup_failures: p.setup_failures,
                setup_success_rate: p.setup_success_rate,
                answered: p.answered,
                answer_seizure_ratio: p.answer_seizure_ratio,
                cost_usd: p.cost_usd,
                circuit: p.circuit.clone(),
                carrier_calls_created: carrier.map_or(0, |c| c.calls_created),
                carrier_refusals: carrier.map_or(0, |c| {
                    c.rate_limited + c.server_errors + c.outage_refusals + c.invalid_requests
                }),
                carrier_billed_usd: carrier.map_or(0.0, |c| Money(c.total_price_micros).dollars()),
            }
        })
        .collect()
}

/// Jumps the clock forward when nothing is in flight, no post-call job
/// is left (a jump would add its length to their call-end-to-analysis
/// time) and every pending lead waits for a later time (a calling window,
/// a retry delay).
async fn skip_idle_time(
    progress: &CampaignProgress,
    clock: &ScaledClock,
    engine: &voxdial_app::Engine,
) -> anyhow::Result<()> {
    let idle = progress.active == 0 && progress.live_calls.values().sum::<u64>() == 0;
    if let (true, Some(due)) = (idle && progress.pending > 0, progress.next_due_at)
        && due > clock.now()
        && engine.post_call_backlog().await?.unwrap_or(0) == 0
    {
        clock.advance_to(due);
        engine.sweep().await?;
    }
    Ok(())
}

fn summarise(
    options: &DemoOptions,
    view: &voxdial_app::CampaignView,
    report: &voxdial_app::ImportReport,
    stats: &CarrierStats,
    simulated: chrono::Duration,
    wall: Duration,
) -> Summary {
    let p = &view.progress;
    let cap = view.campaign.settings.max_concurrency;
    let max_concurrent = stats
        .max_concurrent_by_campaign
        .get(view.campaign.id.as_str())
        .copied()
        .unwrap_or(0);
    let leads_not_final = p.open();
    let invariants_hold = view.campaign.status == CampaignStatus::Completed
        && leads_not_final == 0
        && max_concurrent <= cap
        && stats.max_dials_per_attempt <= 1;
    Summary {
        campaign_id: view.campaign.id.to_string(),
        status: view.campaign.status.label().into(),
        seed: options.seed,
        faults: options.faults,
        time_scale: options.time_scale,
        max_concurrency: cap,
        rows_read: report.rows,
        total_leads: p.total,
        merged_rows: report.merged,
        rejected_rows: report
            .rejected
            .iter()
            .map(|r| format!("line {}: {}", r.line, r.reason))
            .collect(),
        outcomes: p.finals.clone(),
        leads_not_final,
        calls_placed: stats.calls_created,
        max_concurrent_calls_seen_by_carrier: max_concurrent,
        max_dials_per_attempt_seen_by_carrier: stats.max_dials_per_attempt,
        callbacks: CallbackFigures {
            sent: stats.callbacks_sent,
            duplicated: stats.callbacks_duplicated,
            reordered: stats.callbacks_reordered,
            delayed: stats.callbacks_delayed,
            dropped: stats.callbacks_dropped,
        },
        provider_errors: ProviderErrors {
            rate_limited_429: stats.rate_limited,
            server_errors_5xx: stats.server_errors,
        },
        providers_used: options
            .providers
            .iter()
            .map(|k| k.id().to_string())
            .collect(),
        outages: options.outages.iter().map(OutageSpec::describe).collect(),
        setup: SetupFigures::default(),
        providers: Vec::new(),
        cost_usd: Money(stats.total_price_micros).dollars(),
        simulated_hours: simulated.num_seconds() as f64 / 3600.0,
        wall_secs: wall.as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
        cpu: None,
        invariants_hold,
        post_call: Default::default(),
        conversations: ConversationFigures::default(),
        agents: Vec::new(),
    }
}

/// Prints what the media bridge reported.
fn print_conversations(c: &ConversationFigures) {
    if c.conversations == 0 {
        return;
    }
    let ms = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| format!("{v} ms"));
    println!();
    println!("  conversations through the media bridge");
    println!("    {:<32}{:>8}", "calls bridged", c.conversations);
    println!("    {:<32}{:>8}", "recorded (both channels)", c.recordings);
    println!(
        "    {:<32}{:>8}  (verdict p50 {})",
        "answering machines detected",
        c.machines_detected,
        ms(c.amd_verdict_p50_ms)
    );
    println!(
        "    {:<32}{:>8}",
        "agent's first audio, p50",
        ms(c.first_audio_p50_ms)
    );
    println!("    {:<32}{:>8}", "filler clips played", c.fillers);
    println!("    {:<32}{:>8}", "barge-ins", c.barge_ins);
    println!("    {:<32}{:>8}", "transfers to a human", c.transfers);
    println!(
        "    {:<32}{:>8}",
        "summaries whispered to agents", c.whispers
    );
    println!("    {:<32}{:>8}", "callbacks scheduled", c.callbacks);
    println!(
        "    {:<32}{:>8}  ({:.4} USD)",
        "voice model tokens", c.model_tokens, c.model_cost_usd
    );
}

/// Prints the conversations each AI agent held.
fn print_agents(agents: &[AgentFigures]) {
    if agents.is_empty() {
        return;
    }
    println!();
    println!("  conversations per AI agent");
    for a in agents {
        let version = a.version.map_or_else(String::new, |v| format!(" v{v}"));
        println!(
            "    {:<32}{:>8}  ({})",
            format!("{}{version}", a.name),
            a.conversations,
            a.id
        );
    }
}

/// The process's peak resident memory (Linux `VmHWM`), in MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Prints the summary as a table.
pub(crate) fn print_table(s: &Summary) {
    let check = |ok: bool| if ok { "ok" } else { "VIOLATED" };
    println!();
    println!("voxdial demo: campaign {} {}", s.campaign_id, s.status);
    println!(
        "  {:.1} s wall, {:.1} h simulated (time x{}), seed {}, faults {}",
        s.wall_secs,
        s.simulated_hours,
        s.time_scale,
        s.seed,
        if s.faults { "on" } else { "off" }
    );
    println!();
    println!("  {:<34}{:>8}", "rows read", s.rows_read);
    println!("  {:<34}{:>8}", "leads imported", s.total_leads);
    println!(
        "  {:<34}{:>8}",
        "rows merged (duplicate numbers)", s.merged_rows
    );
    println!("  {:<34}{:>8}", "rows rejected", s.rejected_rows.len());
    for row in &s.rejected_rows {
        println!("      {row}");
    }
    println!();
    println!("  final outcomes");
    for (label, n) in &s.outcomes {
        println!("    {label:<32}{n:>8}");
    }
    println!();
    println!(
        "  {:<34}{:>8}  {}",
        "leads not final",
        s.leads_not_final,
        check(s.leads_not_final == 0)
    );
    println!("  {:<34}{:>8}", "calls placed", s.calls_placed);
    println!(
        "  {:<34}{:>8}  {} (cap {}, as seen by the carrier)",
        "peak simultaneous calls",
        s.max_concurrent_calls_seen_by_carrier,
        check(s.max_concurrent_calls_seen_by_carrier <= s.max_concurrency),
        s.max_concurrency
    );
    println!(
        "  {:<34}{:>8}  {} (as seen by the carrier)",
        "most dials of one attempt",
        s.max_dials_per_attempt_seen_by_carrier,
        check(s.max_dials_per_attempt_seen_by_carrier <= 1)
    );
    let c = &s.callbacks;
    println!(
        "  {:<34}{:>8}  ({} duplicated, {} reordered, {} delayed, {} dropped)",
        "status callbacks sent", c.sent, c.duplicated, c.reordered, c.delayed, c.dropped
    );
    println!(
        "  {:<34}{:>8}  ({} x 429, {} x 5xx, retried)",
        "provider errors injected",
        s.provider_errors.rate_limited_429 + s.provider_errors.server_errors_5xx,
        s.provider_errors.rate_limited_429,
        s.provider_errors.server_errors_5xx
    );
    println!("  {:<34}{:>8.4}", "cost billed (USD)", s.cost_usd);
    print_providers(s);
    print_conversations(&s.conversations);
    print_agents(&s.agents);
    crate::postcall::print(&s.post_call);
    if let Some(mb) = s.peak_rss_mb {
        println!("  {:<34}{:>8.1}", "peak memory (MiB)", mb);
    }
    if let Some(cpu) = &s.cpu {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3} ms per call"));
        println!(
            "  {:<34}{:>8.1}  ({})",
            "engine CPU (s)",
            cpu.engine_secs,
            ms(cpu.engine_ms_per_call)
        );
        println!(
            "  {:<34}{:>8.1}  ({})",
            "simulated carrier CPU (s)",
            cpu.carrier_secs,
            ms(cpu.carrier_ms_per_call)
        );
    }
    println!();
    println!(
        "  invariants: {}",
        if s.invariants_hold {
            "all hold"
        } else {
            "VIOLATED"
        }
    );
}

/// The live progress display: bars on a terminal, a line every few
/// seconds otherwise, nothing with `--json`.
struct Progress {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    plain: bool,
    last_line: std::sync::Mutex<Instant>,
}

impl Progress {
    fn new(json: bool, total: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        if json || !terminal {
            return Progress {
                bars: None,
                plain: !json,
                last_line: std::sync::Mutex::new(Instant::now()),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let done = multi.add(ProgressBar::new(total));
        done.set_style(
            ProgressStyle::with_template(
                "  {bar:40.green/dim} {pos}/{len} leads final  {elapsed_precise}",
            )
            .expect("valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        let status = multi.add(ProgressBar::new_spinner());
        status
            .set_style(ProgressStyle::with_template("  {spinner} {msg}").expect("valid template"));
        Progress {
            bars: Some((multi, done, status)),
            plain: false,
            last_line: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn line(p: &CampaignProgress) -> String {
        let calls = |k: &str| p.live_calls.get(k).copied().unwrap_or(0);
        format!(
            "pending {} (waiting for window {}) | dialing {} | ringing {} | in call {} | done {}/{}",
            p.pending,
            p.waiting_window,
            calls("pending") + calls("dialing"),
            calls("ringing"),
            calls("answered"),
            p.final_total(),
            p.total
        )
    }

    fn show(&self, p: &CampaignProgress) {
        if let Some((_, done, status)) = &self.bars {
            done.set_length(p.total);
            done.set_position(p.final_total());
            status.set_message(Self::line(p));
            status.tick();
        } else if self.plain {
            let mut last = self.last_line.lock().expect("progress lock");
            if last.elapsed() >= Duration::from_secs(2) {
                eprintln!("  {}", Self::line(p));
                *last = Instant::now();
            }
        }
    }

    fn finish(&self, p: &CampaignProgress) {
        if let Some((_, done, status)) = &self.bars {
            done.set_position(p.final_total());
            done.finish();
            status.finish_with_message(Self::line(p));
        } else if self.plain {
            eprintln!("  {}", Self::line(p));
        }
    }
}

/// A directory removed when dropped.
/// A directory removed when dropped.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl TempDir {
    pub(crate) fn new() -> anyhow::Result<TempDir> {
        let path =
            std::env::temp_dir().join(format!("voxdial-demo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Prints the routing section: setup success and one line per provider.
fn print_providers(s: &Summary) {
    let percent = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.2} %", r * 100.0));
    println!();
    println!(
        "  providers: {}{}",
        s.providers_used.join(", "),
        if s.outages.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.outages.join("; "))
        }
    );
    println!(
        "  {:<34}{:>8}  ({} of {} dial attempts accepted; {} provider setups failed, {} chains tried again)",
        "call setup success",
        percent(s.setup.setup_success_rate),
        s.setup.accepted,
        s.setup.dial_attempts,
        s.setup.provider_setup_failures,
        s.setup.setup_retries
    );
    println!(
        "    {:<10}{:>7}{:>10}{:>10}{:>9}{:>8}{:>12}{:>12}  circuit",
        "provider", "calls", "setups", "setup ok", "answers", "ASR", "cost USD", "billed USD"
    );
    for p in &s.providers {
        println!(
            "    {:<10}{:>7}{:>10}{:>10}{:>9}{:>8}{:>12.4}{:>12.4}  {}",
            p.id,
            p.calls,
            p.setup_attempts,
            percent(p.setup_success_rate),
            p.answered,
            p.answer_seizure_ratio
                .map_or("-".to_string(), |r| format!("{:.0} %", r * 100.0)),
            p.cost_usd,
            p.carrier_billed_usd,
            p.circuit
        );
    }
}
