//! `voxdial soak`: one campaign under every fault at once, with the server
//! killed and restarted on its data, and a verdict on the engine's
//! invariants.
//!
//! This process hosts the simulated network (the carrier's Twilio API on two
//! ports, two Twilio provider accounts, and its SansPBX personality: one
//! ledger, so the cap and the dials per attempt are counted across all three)
//! with every callback fault on (duplicated, reordered, delayed, dropped) and
//! random 429s and 5xx. It runs `voxdial serve` as a child process on a
//! config file routing among the three accounts, and follows a seeded plan of
//! disruptions keyed to the campaign's progress (leads final): provider
//! outages and 429 storms (the next N dial requests of a personality
//! refused), and SIGKILLs of the server, restarted on the same data after a
//! random pause. The carrier outlives every kill, as a real one would.
//!
//! Media is on: the carrier streams each answered Twilio call to the
//! server's media bridge (a simulated callee playing the `interested`
//! persona, or the voicemail persona when a machine answers), and the
//! bridge talks to a simulated Gemini Live model this process hosts too (it
//! also outlives the kills), which sends `goAway` to a share of its
//! connections and drops another share mid-call; the bridge resumes them.
//!
//! The report: cap breaches (the carrier's peak of simultaneous calls over
//! the cap), double dials (an attempt dialled twice), lost leads (not final
//! at the end), leaked slots (slots held in the store with no live call at
//! the carrier), calls left live, call setup success, the model connection
//! faults and what became of their calls (none may end without a final
//! outcome), and the time from each restart until the carrier sees the
//! cap's worth of calls live again. All but the recovery times are the
//! verdict; those are real time and only reported.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use voxdial_app::clock::ScaledClock;
use voxdial_domain::Clock;
use voxdial_sim::carrier::{CarrierConfig, CarrierStats, Faults};
use voxdial_sim::soak::{
    ACCOUNT_SID, Accounts, Disruption, Figures, PERSONA, Planned, SIM_START, Setup, is_terminal,
    lead_name, lead_number, leads_csv, plan, sum_of, violations,
};
use voxdial_sim::time::SimTime;
use voxdial_sim::voice::{ConnectionStats, VoiceSim, VoiceSimConfig};

use crate::client::Client;
use crate::demo::TempDir;
use crate::keys;
use crate::media;

/// How long the server may take to answer after a (re)start before the
/// soak calls it a hang.
const START_GUARD: Duration = Duration::from_secs(120);
/// Progress lines this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// What to run.
pub(crate) struct SoakOptions {
    /// Leads in the campaign.
    pub(crate) leads: usize,
    /// The campaign's cap.
    pub(crate) concurrency: u32,
    /// SIGKILLs of the server.
    pub(crate) kills: u32,
    /// Seed of the plan, the carrier and the leads.
    pub(crate) seed: u64,
    /// Simulated seconds per real second.
    pub(crate) time_scale: f64,
    /// Real time after which the soak stops and judges what it has.
    pub(crate) duration: Duration,
    /// Where the server keeps its data (default: a temporary directory).
    pub(crate) data_dir: Option<PathBuf>,
    /// The lowest call setup success that passes.
    pub(crate) min_setup_success: f64,
    /// The share of model connections sent `goAway` mid-call.
    pub(crate) model_go_away: f64,
    /// The share of model connections dropped mid-call.
    pub(crate) model_drop: f64,
}

/// What happened after one kill.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct KillFigures {
    /// Leads final when the server was killed.
    pub(crate) at_finals: u64,
    /// Real milliseconds the server stayed down.
    pub(crate) down_ms: u64,
    /// Real seconds from the restart until the carrier saw the cap's worth
    /// of calls live; `None` if that did not happen before the next kill or
    /// the end (too few leads left, or retries not yet due).
    pub(crate) recovery_secs: Option<f64>,
}

/// What the carrier injected and refused.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Injected {
    pub(crate) callbacks_sent: u64,
    pub(crate) callbacks_duplicated: u64,
    pub(crate) callbacks_reordered: u64,
    pub(crate) callbacks_delayed: u64,
    pub(crate) callbacks_dropped: u64,
    /// Callbacks that found the server down (or refused).
    pub(crate) callback_failures: u64,
    pub(crate) rate_limited: u64,
    pub(crate) server_errors: u64,
    /// Calls created per personality.
    pub(crate) calls_by_provider: std::collections::BTreeMap<String, u64>,
}

impl From<&CarrierStats> for Injected {
    fn from(s: &CarrierStats) -> Injected {
        Injected {
            callbacks_sent: s.callbacks_sent,
            callbacks_duplicated: s.callbacks_duplicated,
            callbacks_reordered: s.callbacks_reordered,
            callbacks_delayed: s.callbacks_delayed,
            callbacks_dropped: s.callbacks_dropped,
            callback_failures: s.callback_failures,
            rate_limited: s.rate_limited,
            server_errors: s.server_errors,
            calls_by_provider: s
                .by_provider
                .iter()
                .map(|(k, p)| (k.clone(), p.calls_created))
                .collect(),
        }
    }
}

/// The conversations and the model connection faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct MediaFigures {
    /// The share of model connections the simulated model was set to send `goAway`.
    pub(crate) go_away_share: f64,
    /// The share it was set to drop.
    pub(crate) drop_share: f64,
    /// Model sessions set up, resumptions included.
    pub(crate) model_connections: u64,
    /// Connections sent `goAway` mid-call.
    pub(crate) go_aways: u64,
    /// Connections dropped mid-call.
    pub(crate) drops: u64,
    /// Sessions the bridge resumed with their handle (after a `goAway` or
    /// a drop).
    pub(crate) resumed: u64,
    /// Calls whose conversation ran through the bridge (it reported one).
    pub(crate) conversations: u64,
    /// Calls whose model recorded an outcome (a disposition), faulted or not.
    pub(crate) dispositions: u64,
    /// Answered calls of the leads whose model connection was sent `goAway`
    /// or dropped.
    pub(crate) faulted_calls: u64,
    /// Of those, calls whose conversation went on to the model's outcome
    /// (a disposition recorded).
    pub(crate) faulted_recovered: u64,
    /// Of those, calls that ended cleanly with an outcome but no disposition.
    pub(crate) faulted_ended_with_outcome: u64,
    /// Of those, calls with no final outcome (still live, or ended
    /// without one): a broken invariant.
    pub(crate) faulted_without_outcome: u64,
}

/// The soak's report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SoakReport {
    pub(crate) seed: u64,
    pub(crate) leads: usize,
    pub(crate) max_concurrency: u32,
    pub(crate) time_scale: f64,
    pub(crate) campaign_id: String,
    /// The campaign's status at the end (`completed` unless timed out).
    pub(crate) status: String,
    /// Stopped by `--duration` before the campaign completed.
    pub(crate) timed_out: bool,
    pub(crate) wall_secs: f64,
    pub(crate) plan: Vec<Planned>,
    pub(crate) kills: Vec<KillFigures>,
    /// The carrier's peak of simultaneous calls of the campaign.
    pub(crate) peak_concurrent: u32,
    /// Calls over the cap at the peak.
    pub(crate) cap_breaches: u32,
    pub(crate) max_dials_per_attempt: u32,
    /// Attempts dialled more than once.
    pub(crate) double_dials: u64,
    /// Leads not final at the end.
    pub(crate) lost_leads: u64,
    /// Slots held in the store beyond the calls live at the carrier.
    pub(crate) leaked_slots: u64,
    /// Call records not in a terminal state at the end.
    pub(crate) calls_left_live: u64,
    pub(crate) setup: Setup,
    pub(crate) media: MediaFigures,
    pub(crate) min_setup_success: f64,
    pub(crate) injected: Injected,
    /// The broken invariants, in words (empty: all hold).
    pub(crate) violations: Vec<String>,
    pub(crate) invariants_hold: bool,
}

/// The simulated network this process hosts.
struct Network {
    /// The three provider accounts.
    accounts: Accounts,
    /// The simulated Gemini Live model, at `voice_url`.
    voice: Arc<VoiceSim>,
    voice_url: String,
    voice_task: tokio::task::JoinHandle<()>,
    /// The Twilio accounts' Auth Token (the media streams are signed with it).
    twilio_token: String,
    /// The server's config file.
    config: String,
}

impl Network {
    async fn start(
        options: &SoakOptions,
        clock: Arc<dyn Clock>,
        server: &str,
        disposition_key: String,
    ) -> anyhow::Result<Network> {
        let (seed, scale) = (options.seed, options.time_scale);
        let (endpoint, voice, voice_task) = media::serve_voice(VoiceSimConfig {
            seed,
            time_scale: scale,
            connection_faults: media::model_faults(options.model_go_away, options.model_drop)?,
            ..VoiceSimConfig::default()
        })
        .await?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut config = CarrierConfig::new(ACCOUNT_SID, token.clone(), seed);
        config.faults = Faults::chaos();
        config.disposition_api = Some(server.to_string());
        config.disposition_key = Some(disposition_key);
        let signing = Arc::new(std::sync::OnceLock::new());
        let _ = signing.set(token.clone());
        config.stream_hook = Some(media::simulated_callee(
            media::Personas::Every(PERSONA),
            signing,
            scale,
        ));
        let accounts = Accounts::start(config, SimTime::new(clock, scale)).await?;
        let config = format!(
            "[engine]\nsweep_interval_ms = 200\n\n{}",
            accounts.providers_toml
        );
        Ok(Network {
            accounts,
            voice,
            voice_url: format!("ws://{}", endpoint.host),
            voice_task,
            twilio_token: token,
            config,
        })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.voice_task.abort();
    }
}

/// `voxdial serve` as a child process on the soak's data, config and clock.
struct Server {
    args: Vec<String>,
    /// Secrets passed in the environment rather than on the command line.
    env: Vec<(&'static str, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot write {}", self.log.display()))?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(&self.args)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if std::env::var_os("VOXDIAL_LOG").is_none() {
            command.env("VOXDIAL_LOG", "error");
        }
        self.child = Some(command.spawn().context("cannot start `voxdial serve`")?);
        Ok(())
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Fails if the server exited by itself.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "`voxdial serve` exited ({status}); see {}",
                self.log.display()
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn log_line(started: Instant, text: &str) {
    eprintln!("[{:>6.1}s] {text}", started.elapsed().as_secs_f64());
}

/// Runs the soak.
pub(crate) async fn run(options: SoakOptions) -> anyhow::Result<SoakReport> {
    if options.leads == 0 || options.concurrency == 0 {
        bail!("--leads and --concurrency must be at least 1");
    }
    if options.time_scale.is_nan() || options.time_scale < 1.0 {
        bail!("--time-scale must be at least 1");
    }
    let wall = Instant::now();
    let temp;
    let data_dir = match &options.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.path.clone()
        }
    };
    let epoch_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let start: DateTime<Utc> = SIM_START.parse().expect("a valid instant");
    let epoch = std::time::UNIX_EPOCH + Duration::from_secs(epoch_secs);
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::anchored(epoch, start, options.time_scale));

    keys::ensure_first_admin_key(&data_dir).await?;
    let key = keys::client_key(None, &data_dir).context("no admin key was written")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let network = Network::start(
        &options,
        clock,
        &base,
        keys::simulated_carrier_key(&data_dir).await?,
    )
    .await?;
    let config_path = data_dir.join("soak.toml");
    std::fs::write(&config_path, &network.config)?;
    let mut server = Server {
        args: vec![
            "serve".into(),
            "--config".into(),
            config_path.to_string_lossy().into_owned(),
            "--data-dir".into(),
            data_dir.to_string_lossy().into_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--time-scale".into(),
            options.time_scale.to_string(),
            "--sim-start".into(),
            SIM_START.into(),
            "--sim-epoch".into(),
            epoch_secs.to_string(),
            "--gemini-endpoint".into(),
            network.voice_url.clone(),
        ],
        // The simulated model takes any key; the bridge checks the
        // streams' signatures with the Twilio accounts' token.
        env: vec![
            ("VOXDIAL_GEMINI_API_KEY", "soak".into()),
            ("VOXDIAL_TWILIO_AUTH_TOKEN", network.twilio_token.clone()),
        ],
        log: data_dir.join("server.log"),
        child: None,
    };
    let client = Client::new(&base, Some(key))?;
    server.spawn()?;
    wait_until_up(&client, &mut server).await?;
    log_line(
        wall,
        &format!("server up on {base}, data in {}", data_dir.display()),
    );

    let campaign = client
        .post_json(
            "/v1/campaigns",
            &json!({
                "name": format!("soak seed {}", options.seed),
                "max_concurrency": options.concurrency,
                "max_call_secs": 120,
                "ring_timeout_secs": 20,
                "retry": {"max_attempts": 2, "busy_delay_secs": 60,
                          "no_answer_delay_secs": 60, "failed_delay_secs": 60}
            }),
        )
        .await?;
    let id = campaign["id"]
        .as_str()
        .context("the created campaign has no id")?
        .to_string();
    let csv = data_dir.join("soak-leads.csv");
    std::fs::write(&csv, leads_csv(options.leads))?;
    let imported = client
        .post_csv(&format!("/v1/campaigns/{id}/leads"), &csv)
        .await?;
    if imported["inserted"].as_u64() != Some(options.leads as u64) {
        bail!("the import stored {imported}");
    }
    client
        .post_json(&format!("/v1/campaigns/{id}/start"), &json!({}))
        .await?;
    let plan = plan(options.seed, options.leads, options.kills);
    log_line(
        wall,
        &format!(
            "campaign {id}: {} leads, cap {}, {} kills and {} provider disruptions planned",
            options.leads,
            options.concurrency,
            options.kills,
            plan.len() - options.kills as usize
        ),
    );

    let drive = Drive {
        client: &client,
        network: &network,
        id: &id,
        cap: options.concurrency,
        wall,
    };
    let (view, kills, timed_out) = drive
        .follow(&mut server, &plan, wall + options.duration)
        .await?;
    let stats = network.accounts.carrier.stats();
    let calls = calls(&client, &id).await?;
    server.kill9();
    let setup = Setup::of(&calls);
    let media = media_figures(&calls, &network.voice.connection_stats(), &options);
    let calls_left_live = calls.iter().filter(|c| !is_terminal(c)).count() as u64;

    let total = view["progress"]["total"].as_u64().unwrap_or(0);
    let active = view["progress"]["active"].as_u64().unwrap_or(0);
    let peak = stats
        .max_concurrent_by_campaign
        .get(&id)
        .copied()
        .unwrap_or(0);
    let figures = Figures {
        cap: options.concurrency,
        peak_concurrent: peak,
        max_dials_per_attempt: stats.max_dials_per_attempt,
        lost_leads: total.saturating_sub(sum_of(&view["progress"], "finals")),
        leaked_slots: active.saturating_sub(stats.live_calls),
        calls_left_live,
        faulted_without_outcome: media.faulted_without_outcome,
        setup_success: setup.success_rate,
        min_setup_success: options.min_setup_success,
        kills_done: kills.len() as u32,
        kills_planned: options.kills,
    };
    let violations = violations(&figures);
    Ok(SoakReport {
        seed: options.seed,
        leads: options.leads,
        max_concurrency: options.concurrency,
        time_scale: options.time_scale,
        campaign_id: id,
        status: view["campaign"]["status"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        timed_out,
        wall_secs: wall.elapsed().as_secs_f64(),
        plan,
        kills,
        peak_concurrent: peak,
        cap_breaches: peak.saturating_sub(options.concurrency),
        max_dials_per_attempt: stats.max_dials_per_attempt,
        double_dials: stats.attempts_dialled_twice,
        lost_leads: figures.lost_leads,
        leaked_slots: figures.leaked_slots,
        calls_left_live,
        setup,
        media,
        min_setup_success: options.min_setup_success,
        injected: Injected::from(&stats),
        invariants_hold: violations.is_empty(),
        violations,
    })
}

async fn wait_until_up(client: &Client, server: &mut Server) -> anyhow::Result<()> {
    let since = Instant::now();
    loop {
        server.check_alive()?;
        if client.get("/v1/campaigns").await.is_ok() {
            return Ok(());
        }
        if since.elapsed() > START_GUARD {
            bail!("the server did not answer within {START_GUARD:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Follows the campaign and carries out the plan.
struct Drive<'a> {
    client: &'a Client,
    network: &'a Network,
    id: &'a str,
    cap: u32,
    wall: Instant,
}

impl Drive<'_> {
    /// Until the campaign completes or `deadline`: the last view, the kill
    /// figures, and whether the deadline ended it.
    async fn follow(
        &self,
        server: &mut Server,
        plan: &[Planned],
        deadline: Instant,
    ) -> anyhow::Result<(Value, Vec<KillFigures>, bool)> {
        let mut next = 0;
        let mut kills: Vec<KillFigures> = Vec::new();
        let mut restarted: Option<Instant> = None;
        let mut printed = Instant::now();
        loop {
            server.check_alive()?;
            let view = self
                .client
                .get(&format!("/v1/campaigns/{}", self.id))
                .await?;
            let finals = sum_of(&view["progress"], "finals");
            let live = self.network.accounts.carrier.stats().live_calls;
            if let Some(at) = restarted
                && live >= u64::from(self.cap)
                && let Some(last) = kills.last_mut()
            {
                last.recovery_secs = Some(at.elapsed().as_secs_f64());
                restarted = None;
            }
            if view["campaign"]["status"] == "completed" {
                return Ok((view, kills, false));
            }
            if Instant::now() >= deadline {
                log_line(
                    self.wall,
                    "--duration reached before the campaign completed",
                );
                return Ok((view, kills, true));
            }
            if printed.elapsed() >= PROGRESS_EVERY {
                printed = Instant::now();
                log_line(
                    self.wall,
                    &format!(
                        "{finals}/{} final, {} slots held, {live} calls live, kills {}",
                        view["progress"]["total"],
                        view["progress"]["active"],
                        kills.len()
                    ),
                );
            }
            while let Some(step) = plan.get(next).filter(|p| p.after_finals <= finals) {
                next += 1;
                match step.disruption {
                    Disruption::Kill { down_ms } => {
                        server.kill9();
                        log_line(
                            self.wall,
                            &format!("SIGKILL at {finals} final; restart in {down_ms} ms"),
                        );
                        tokio::time::sleep(Duration::from_millis(down_ms)).await;
                        server.spawn()?;
                        restarted = Some(Instant::now());
                        kills.push(KillFigures {
                            at_finals: finals,
                            down_ms,
                            recovery_secs: None,
                        });
                        wait_until_up(self.client, server).await?;
                    }
                    other => {
                        self.network.accounts.inject(other);
                        log_line(self.wall, &format!("{other:?} at {finals} final"));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every attempt record of the campaign.
async fn calls(client: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(call) => format!("/v1/campaigns/{id}/calls?limit=1000&before={call}"),
            None => format!("/v1/campaigns/{id}/calls?limit=1000"),
        };
        let page = client.get(&path).await?;
        let calls = page.as_array().context("the calls page is not a list")?;
        let Some(last) = calls.last() else { break };
        before = last["id"].as_str().map(str::to_string);
        all.extend(calls.iter().cloned());
        if before.is_none() {
            break;
        }
    }
    Ok(all)
}

/// The conversations and what became of the calls whose model connection
/// was faulted (matched by the lead's name the model heard).
fn media_figures(calls: &[Value], model: &ConnectionStats, options: &SoakOptions) -> MediaFigures {
    let names: std::collections::HashMap<String, String> = (0..options.leads)
        .map(|i| (lead_name(i), lead_number(i)))
        .collect();
    let faulted: std::collections::HashSet<&str> = model
        .faulted_callees
        .iter()
        .filter_map(|name| names.get(name).map(String::as_str))
        .collect();
    let mut figures = MediaFigures {
        go_away_share: options.model_go_away,
        drop_share: options.model_drop,
        model_connections: model.setups,
        go_aways: model.go_aways,
        drops: model.drops,
        resumed: model.resumed,
        ..MediaFigures::default()
    };
    for call in calls {
        figures.conversations += u64::from(!call["conversation"].is_null());
        figures.dispositions += u64::from(!call["disposition"].is_null());
        let hit = call["to"].as_str().is_some_and(|to| faulted.contains(to));
        if !hit || call["answered_at"].is_null() {
            continue;
        }
        figures.faulted_calls += 1;
        if !is_terminal(call) || call["outcome"].is_null() {
            figures.faulted_without_outcome += 1;
        } else if call["disposition"].is_null() {
            figures.faulted_ended_with_outcome += 1;
        } else {
            figures.faulted_recovered += 1;
        }
    }
    figures
}

/// Prints the report as a table.
pub(crate) fn print_table(r: &SoakReport) {
    let verdict = |ok: bool| if ok { "ok" } else { "BROKEN" };
    println!(
        "soak: seed {}, {} leads, cap {}, x{} time, {:.0} s real, campaign {} ({})",
        r.seed, r.leads, r.max_concurrency, r.time_scale, r.wall_secs, r.campaign_id, r.status
    );
    println!("  {:<36}{:>12}  verdict", "invariant", "figure");
    let rows = [
        (
            "cap breaches (peak - cap)",
            format!(
                "{} ({} of {})",
                r.cap_breaches, r.peak_concurrent, r.max_concurrency
            ),
            r.cap_breaches == 0,
        ),
        (
            "double dials (max dials/attempt)",
            format!("{} ({})", r.double_dials, r.max_dials_per_attempt),
            r.max_dials_per_attempt <= 1,
        ),
        (
            "lost leads (not final)",
            r.lost_leads.to_string(),
            r.lost_leads == 0,
        ),
        (
            "leaked slots",
            r.leaked_slots.to_string(),
            r.leaked_slots == 0,
        ),
        (
            "calls left live",
            r.calls_left_live.to_string(),
            r.calls_left_live == 0,
        ),
        (
            "model-fault calls without outcome",
            r.media.faulted_without_outcome.to_string(),
            r.media.faulted_without_outcome == 0,
        ),
        (
            "call setup success",
            r.setup
                .success_rate
                .map_or("-".into(), |s| format!("{:.2} %", s * 100.0)),
            r.setup
                .success_rate
                .is_some_and(|s| s >= r.min_setup_success),
        ),
    ];
    for (name, figure, ok) in rows {
        println!("  {name:<36}{figure:>12}  {}", verdict(ok));
    }
    println!(
        "  {} of {} dial attempts accepted; calls by personality {:?}",
        r.setup.accepted, r.setup.dial_attempts, r.injected.calls_by_provider
    );
    println!(
        "  callbacks: {} sent, {} duplicated, {} reordered, {} delayed, {} dropped, {} failed; \
         dials refused: {} x 429, {} x 5xx",
        r.injected.callbacks_sent,
        r.injected.callbacks_duplicated,
        r.injected.callbacks_reordered,
        r.injected.callbacks_delayed,
        r.injected.callbacks_dropped,
        r.injected.callback_failures,
        r.injected.rate_limited,
        r.injected.server_errors
    );
    print_media(&r.media);
    println!(
        "  {:<6}{:>12}{:>10}{:>16}",
        "kill", "at final", "down ms", "back at cap"
    );
    for (n, k) in r.kills.iter().enumerate() {
        println!(
            "  {:<6}{:>12}{:>10}{:>16}",
            n + 1,
            k.at_finals,
            k.down_ms,
            k.recovery_secs
                .map_or("not reached".into(), |s| format!("{s:.2} s"))
        );
    }
    if r.invariants_hold {
        println!("every invariant held");
    } else {
        for v in &r.violations {
            println!("BROKEN: {v}");
        }
    }
}

/// Prints the conversations and the model connection faults.
fn print_media(m: &MediaFigures) {
    println!(
        "  media: {} conversations, {} reached the model's outcome; {} model connections, \
         {} sent goAway, {} dropped (shares {} / {}), {} resumed",
        m.conversations,
        m.dispositions,
        m.model_connections,
        m.go_aways,
        m.drops,
        m.go_away_share,
        m.drop_share,
        m.resumed
    );
    println!(
        "  calls hit by a model fault: {} ({} reached the model's outcome, {} ended with an \
         outcome, {} without)",
        m.faulted_calls,
        m.faulted_recovered,
        m.faulted_ended_with_outcome,
        m.faulted_without_outcome
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leads_are_distinct_valid_numbers() {
        let csv = leads_csv(2_500);
        let parsed = voxdial_app::csv_import::parse_leads_csv(csv.as_bytes(), None).unwrap();
        assert_eq!(parsed.leads.len(), 2_500);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.duplicates_in_file, 0);
    }

    #[test]
    fn the_generated_config_is_a_valid_server_config() {
        let text = voxdial_sim::soak::providers_toml(
            "tok",
            ["http://a", "http://b", "http://c"],
            "t",
            "k",
        );
        let file: crate::config::FileConfig = toml::from_str(&text).unwrap();
        assert_eq!(file.providers.len(), 3);
        assert_eq!(file.routing.as_ref().unwrap().providers.len(), 3);
        let routes = file
            .routes(Arc::new(voxdial_app::clock::SystemClock))
            .unwrap()
            .unwrap();
        assert_eq!(routes.providers.len(), 3);
    }

    #[test]
    fn the_calls_of_faulted_model_connections_are_judged_by_their_outcome() {
        let options = SoakOptions {
            leads: 5,
            concurrency: 5,
            kills: 0,
            seed: 1,
            time_scale: 60.0,
            duration: Duration::from_secs(1),
            data_dir: None,
            min_setup_success: 0.8,
            model_go_away: 0.2,
            model_drop: 0.1,
        };
        // GIVEN the model faulted the connections of leads 0, 1, 2 and 3
        let model = ConnectionStats {
            setups: 9,
            resumed: 4,
            go_aways: 3,
            drops: 1,
            faulted_callees: ["Lead 0", "Lead 1", "Lead 2", "Lead 3"]
                .map(String::from)
                .to_vec(),
        };
        let call = |lead: usize, state: &str, answered: bool, outcome: bool, disposition: bool| {
            json!({
                "to": lead_number(lead),
                "state": state,
                "answered_at": answered.then_some("2026-06-01T12:31:00Z"),
                "outcome": outcome.then_some("completed"),
                "disposition": disposition.then_some("interested"),
                "conversation": answered.then(|| json!({"duration_ms": 9000})),
            })
        };
        let calls = [
            // lead 0: resumed, the model recorded its outcome
            call(0, "completed", true, true, true),
            // lead 1: a first attempt nobody answered (not hit), then one
            // that ended cleanly without a disposition
            call(1, "no_answer", false, true, false),
            call(1, "completed", true, true, false),
            // lead 2: still live at the end
            call(2, "answered", true, false, false),
            // lead 3: ended with no outcome
            call(3, "completed", true, false, false),
            // lead 4: no fault
            call(4, "completed", true, true, true),
        ];
        // WHEN the figures are taken
        let m = media_figures(&calls, &model, &options);
        // THEN each hit call is counted once, by what became of it
        assert_eq!(
            (
                m.model_connections,
                m.go_aways,
                m.drops,
                m.resumed,
                m.conversations,
                m.dispositions
            ),
            (9, 3, 1, 4, 5, 2)
        );
        assert_eq!(m.faulted_calls, 4);
        assert_eq!(m.faulted_recovered, 1);
        assert_eq!(m.faulted_ended_with_outcome, 1);
        assert_eq!(m.faulted_without_outcome, 2);
        assert_eq!(calls.iter().filter(|c| !is_terminal(c)).count(), 1);
    }
}
