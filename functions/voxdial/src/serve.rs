//! `voxdial serve`: the local runtime (`voxdial_runtime::local`) from the
//! config file, the `VOXDIAL_*` variables and the flags, each overriding
//! the one before; under `--simulate`, with the simulated network (the
//! carrier, or its Twilio and SansPBX personalities with `--providers`) and
//! the simulated voice model beside it.
//!
//! Which providers (first match):
//!
//! | setting | providers |
//! |---|---|
//! | `--simulate --providers twilio,sanspbx` | the simulated network's accounts, routed by the demo's table |
//! | `[[providers]]` and `[routing]` in the config file | those accounts and that routing (`FileConfig::routes`) |
//! | `--simulate` | the simulated carrier as one Twilio account |
//! | otherwise | one Twilio account (`[twilio]`, `VOXDIAL_TWILIO_*`) |
//!
//! Which media bridge: the hosted one on the simulated voice model under
//! `--simulate` (unless `--no-media`), on Gemini Live with a Gemini API key,
//! else none (`media_url` may name one running elsewhere).

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use voxdial_app::Engine;
use voxdial_conversation::AgentConfig;
use voxdial_domain::{Clock, E164};
use voxdial_host::Agents;
use voxdial_sim::carrier::{Carrier, CarrierConfig, Faults, StreamHook};
use voxdial_sim::time::SimTime;
use voxdial_sim::voice::ConnectionFaults;

use crate::config::FileConfig;
use crate::network::{SimNetwork, SimOptions};
use crate::runtime::{MediaOptions, Routes, Runtime, RuntimeOptions, TwilioAccount};
use crate::{ServeArgs, keys, media, shutdown_signal};

/// What a simulation runs beside the server, stopped with it.
#[derive(Default)]
struct Simulation {
    network: Option<SimNetwork>,
    carrier: Option<JoinHandle<()>>,
    voice: Option<JoinHandle<()>>,
    /// The server's engine once it runs: the simulated callees read each
    /// lead's persona through it.
    engine: Arc<OnceLock<Engine>>,
    /// The Auth Token the simulated carrier signs stream upgrades with.
    token: Arc<OnceLock<String>>,
    /// The carrier's simulated callees, when media is simulated.
    callees: Option<StreamHook>,
}

impl Simulation {
    fn new(media: bool, scale: f64) -> Simulation {
        let mut simulation = Simulation::default();
        simulation.callees = media.then(|| {
            media::simulated_callee(
                media::Personas::OfLead(simulation.engine.clone()),
                simulation.token.clone(),
                scale,
            )
        });
        simulation
    }

    fn stop(self) {
        if let Some(network) = self.network {
            network.stop();
        }
        for task in [self.carrier, self.voice].into_iter().flatten() {
            task.abort();
        }
    }
}

/// Where things run and how fast, shared by the choices below.
struct Place<'a> {
    data_dir: &'a Path,
    clock: Arc<dyn Clock>,
    scale: f64,
    /// Where the simulated callees report dispositions: the public URL,
    /// else this server.
    reports: String,
}

pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = FileConfig::load(args.config.as_deref())?;
    let (clock, scale) = args.time.clock(file.time.scale);
    let data_dir = keys::data_dir(args.data_dir.clone().or(file.data_dir.clone()));
    // Before the simulated carrier's key, and before the server listens.
    keys::ensure_first_admin_key(&data_dir).await?;
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address"));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let public_url = args.public_url.clone().or(file.public_url.clone());
    let place = Place {
        data_dir: &data_dir,
        clock: clock.clone(),
        scale,
        reports: public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().expect("bound"))),
    };
    let model_faults = media::model_faults(
        file.simulator.model_go_away.unwrap_or(0.0),
        file.simulator.model_drop.unwrap_or(0.0),
    )
    .context("[simulator]")?;
    let mut simulation = Simulation::new(args.simulate && !args.no_media, scale);
    let routes = routes(&args, &file, &place, &mut simulation).await?;
    let media = media(&args, &file, scale, model_faults, &mut simulation).await?;
    let runtime = Runtime::start(RuntimeOptions {
        data_dir: data_dir.clone(),
        listener,
        public_url,
        media_url: file.media_url,
        media,
        clock,
        time_scale: scale,
        routes,
        dispatch_lease_secs: file.engine.dispatch_lease_secs.unwrap_or(300),
        call_lease_margin_secs: args
            .call_lease_margin_secs
            .or(file.engine.call_lease_margin_secs)
            .unwrap_or(120),
        sweep_interval: Duration::from_millis(
            args.sweep_interval_ms
                .or(file.engine.sweep_interval_ms)
                .unwrap_or(1000),
        ),
        dispatch_parallelism: file.engine.dispatch_parallelism.unwrap_or(32),
        consent: file.consent,
        model_prices: file
            .engine
            .model_prices
            .as_deref()
            .map(voxdial_domain::ModelPrices::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("[engine] model_prices: {e}"))?
            .unwrap_or_default(),
    })
    .await?;
    let _ = simulation.engine.set(runtime.engine.clone());
    println!("voxdial listening on {}", runtime.base_url);
    tracing::info!(addr = %runtime.addr, "voxdial serving");
    shutdown_signal().await;
    tracing::info!("shutting down");
    runtime.stop().await;
    simulation.stop();
    Ok(())
}

/// The provider accounts and the routing (the module's first table).
async fn routes(
    args: &ServeArgs,
    file: &FileConfig,
    place: &Place<'_>,
    simulation: &mut Simulation,
) -> anyhow::Result<Routes> {
    let twilio = file.twilio.clone().unwrap_or_default();
    let seed = args.seed.or(file.simulator.seed).unwrap_or(7);
    let faults = args.faults || file.simulator.faults == Some(true);
    let caller_id = args
        .caller_id
        .clone()
        .or(twilio.caller_id.clone())
        .unwrap_or_else(|| "+14155550100".into());
    let caller_id = E164::parse(&caller_id, None)
        .with_context(|| format!("invalid caller ID {caller_id:?}"))?;
    if args.simulate && !args.providers.is_empty() {
        let network = SimNetwork::start(SimOptions {
            kinds: args.providers.clone(),
            seed,
            faults,
            outages: Vec::new(),
            start: place.clock.now(),
            disposition_api: place.reports.clone(),
            disposition_key: keys::simulated_carrier_key(place.data_dir).await?,
            clock: place.clock.clone(),
            time_scale: place.scale,
            stream_hook: simulation.callees.clone(),
        })
        .await?;
        let _ = simulation.token.set(network.twilio_auth_token.clone());
        tracing::info!(providers = ?args.providers, "simulated providers running");
        let routes = network.routes.clone();
        simulation.network = Some(network);
        return Ok(routes);
    }
    if !args.simulate
        && let Some(routes) = file.routes(place.clock.clone())?
    {
        return Ok(routes);
    }
    let account = if args.simulate {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let api_base = format!("http://{}", listener.local_addr()?);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let sid = "AC00000000000000000000000000demo";
        let mut config = CarrierConfig::new(sid, token.clone(), seed);
        config.faults = if faults {
            Faults::chaos()
        } else {
            Faults::none()
        };
        config.disposition_api = Some(place.reports.clone());
        config.disposition_key = Some(keys::simulated_carrier_key(place.data_dir).await?);
        config.stream_hook = simulation.callees.clone();
        let _ = simulation.token.set(token.clone());
        let carrier = Carrier::new(config, SimTime::new(place.clock.clone(), place.scale));
        simulation.carrier = Some(carrier.serve(listener));
        tracing::info!(%api_base, "simulated carrier running");
        TwilioAccount {
            account_sid: sid.into(),
            auth_token: token,
            api_base,
            caller_id,
        }
    } else {
        TwilioAccount {
            account_sid: args.twilio_account_sid.clone().or(twilio.account_sid).context(
                "no Twilio account: set VOXDIAL_TWILIO_ACCOUNT_SID (or [twilio] in the config file), or use --simulate",
            )?,
            auth_token: args
                .twilio_auth_token
                .clone()
                .or(twilio.auth_token)
                .context("no Twilio Auth Token: set VOXDIAL_TWILIO_AUTH_TOKEN")?,
            api_base: args
                .twilio_api_base
                .clone()
                .or(twilio.api_base)
                .unwrap_or_else(|| "https://api.twilio.com".into()),
            caller_id,
        }
    };
    account.into_routes(place.clock.clone())
}

/// The hosted media bridge, if any (the module's second paragraph).
async fn media(
    args: &ServeArgs,
    file: &FileConfig,
    scale: f64,
    model_faults: Option<ConnectionFaults>,
    simulation: &mut Simulation,
) -> anyhow::Result<Option<MediaOptions>> {
    let agents = || Agents::new(AgentConfig::default());
    if simulation.callees.is_some() {
        let (connector, task) =
            media::simulated_voice(args.seed.unwrap_or(7), scale, model_faults).await?;
        simulation.voice = Some(task);
        return Ok(Some(MediaOptions {
            connector,
            model: None,
            agents: agents(),
            twilio_auth_token: simulation.token.get().cloned(),
            max_live_calls: file.engine.media_max_live_calls,
        }));
    }
    let Some(key) = args.gemini_api_key.clone() else {
        return Ok(None);
    };
    // Twilio signs the media stream upgrade with the account's Auth Token.
    let token = args
        .twilio_auth_token
        .clone()
        .or(file.twilio.as_ref().and_then(|t| t.auth_token.clone()))
        .context(
            "the media bridge checks Twilio's signature on every stream: set VOXDIAL_TWILIO_AUTH_TOKEN",
        )?;
    let endpoint = media::live_endpoint(args.gemini_endpoint.as_deref())?;
    Ok(Some(MediaOptions {
        connector: Arc::new(voxdial_gemini::WsConnector::new(&endpoint, Some(key))),
        model: args.gemini_model.clone(),
        agents: agents(),
        twilio_auth_token: Some(token),
        max_live_calls: file.engine.media_max_live_calls,
    }))
}
