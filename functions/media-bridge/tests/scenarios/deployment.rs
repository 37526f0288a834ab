//! A voxdial deployment on one of the two backends, reached only through
//! its public surfaces: the API (with an admin key), the webhooks the
//! carrier calls and the media socket it streams answered calls to.
//!
//! - **local**: `voxdial serve`'s runtime (`voxdial_runtime::local::Runtime`)
//!   on a data directory, with a config file holding the accounts and the
//!   routing (`[[providers]]`, `[routing]`), the media bridge hosted in the
//!   same server.
//! - **AWS**: the Lambda handlers on DynamoDB and SQS (moto), invoked as
//!   Lambda invokes them (`aws_functions`), with the same accounts and
//!   routing in `VOXDIAL_PROVIDERS`, and the `media-bridge` container
//!   binary started for real with the deployment's variables.
//!
//! Both reach the same simulated network: two Twilio accounts and a
//! SansPBX account on one carrier ledger (`voxdial_sim::soak::Accounts`),
//! the Gemini Live simulator, and a simulated callee for each call the
//! carrier streams. A restart loses every process at once (the local
//! server's tasks; every function instance and the container) and starts
//! them again on the same data.

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use voxdial_app::clock::ScaledClock;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{Clock, OrgId, Role};
use voxdial_gemini::WsConnector;
use voxdial_lambda::{Deps, LambdaConfig, Secrets};
use voxdial_runtime::local::config::FileConfig;
use voxdial_runtime::local::{MediaOptions, Runtime, RuntimeOptions, STORE_FILE};
use voxdial_sim::caller::answer_stream;
use voxdial_sim::carrier::{CallProfile, CarrierConfig, Faults, Outage, StreamHook};
use voxdial_sim::soak::{ACCOUNT_SID, Accounts, SIM_START};
use voxdial_sim::time::SimTime;
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::gemini::LiveEndpoint;

use crate::aws_functions::{self, Functions, Instances, StallGuard, api_client, skip_idle};
use crate::common::{container, free_port};

/// Where a deployment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Local,
    Aws,
}

/// What a scenario needs of its deployment.
pub(crate) struct Setup {
    /// The simulated clock's start.
    pub(crate) start: DateTime<Utc>,
    /// Simulated seconds per real second. With media it is 1: the
    /// container's bridge runs on the system clock, as in production.
    pub(crate) scale: f64,
    /// How the carrier's calls turn out.
    pub(crate) profile: CallProfile,
    /// With a media bridge: the persona of every person who answers a
    /// streamed call (a machine plays the voicemail persona).
    pub(crate) persona: Option<&'static str>,
    /// Both Twilio accounts refuse every call.
    pub(crate) twilio_down: bool,
}

impl Setup {
    /// A deployment with media, in real time from now: everyone who is
    /// called answers, a machine if `machine`, else a person playing
    /// `persona`, after a second or two of ringing.
    pub(crate) fn real_time(persona: &'static str, machine: bool) -> Setup {
        Setup {
            start: Utc::now(),
            scale: 1.0,
            profile: CallProfile {
                human: if machine { 0.0 } else { 1.0 },
                machine: if machine { 1.0 } else { 0.0 },
                busy: 0.0,
                failed: 0.0,
                ring_secs: (1.0, 2.0),
                talk_secs: (20.0, 25.0),
                greeting_secs: (4.0, 5.0),
                ..CallProfile::default()
            },
            persona: Some(persona),
            twilio_down: false,
        }
    }

    /// A deployment without media, on a clock `scale` times faster than
    /// real time from the soak's start (a weekday morning in the US).
    pub(crate) fn simulated(scale: f64, twilio_down: bool) -> Setup {
        Setup {
            start: SIM_START.parse().expect("an instant"),
            scale,
            profile: CallProfile::default(),
            persona: None,
            twilio_down,
        }
    }
}

/// The soak's accounts and routing (rates to +1 only), with a rate to India
/// too: the media scenarios call India at the hours it is open.
fn providers_toml(accounts: &Accounts) -> String {
    accounts
        .providers_toml
        .replace("rates_csv = \"1,", "rates_csv = \"91,0.02\\n1,")
}

/// The media token secret the engine and the container share.
const MEDIA_KEY: &str = "scenario-media-token-key";

/// A deployment and the simulated network around it.
pub(crate) struct Deployment {
    /// The API's (and the webhooks') base URL.
    pub(crate) public: String,
    /// Sends the admin key.
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<ScaledClock>,
    pub(crate) accounts: Accounts,
    /// Per person who answered a streamed call: milliseconds from the
    /// answer to the agent's first audio, as the callee heard it.
    pub(crate) heard: Arc<Mutex<Vec<u64>>>,
    host: Host,
    _voice: Option<JoinHandle<()>>,
}

enum Host {
    Local {
        dir: tempfile::TempDir,
        addr: SocketAddr,
        scale: f64,
        media: Option<(Arc<WsConnector>, String)>,
        runtime: Option<Runtime>,
    },
    Aws {
        functions: Functions,
        settings: Box<LambdaConfig>,
        secrets: Secrets,
        container: Option<Container>,
    },
}

/// The container process, killed when dropped.
struct Container {
    vars: Vec<(&'static str, String)>,
    port: u16,
    child: Option<Child>,
}

impl Container {
    async fn start(&mut self) {
        let mut command = container(&self.vars);
        command.stdout(Stdio::null());
        self.child = Some(command.spawn().expect("the container starts"));
        let health = format!("http://127.0.0.1:{}/healthz", self.port);
        for _ in 0..600 {
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the container never answered {health}");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The carrier's stream hook: a simulated callee playing `persona` (the
/// voicemail persona when a machine answers) on every streamed call; each
/// person notes in `heard` how long after the stream started (the answer)
/// they heard the agent, in milliseconds.
fn callees(
    persona: &'static str,
    auth_token: String,
    scale: f64,
    heard: Arc<Mutex<Vec<u64>>>,
) -> StreamHook {
    Arc::new(move |request| {
        let machine = request.machine;
        let name = if machine { "voicemail" } else { persona };
        let persona = Persona::by_name(name).expect("a catalog persona");
        let (auth_token, heard) = (auth_token.clone(), heard.clone());
        Box::pin(async move {
            let report = answer_stream(request, persona, Some(auth_token), scale).await;
            if let Some(first) = report.and_then(|r| r.loud_frames.first().copied())
                && !machine
            {
                heard.lock().unwrap().push(first * 20);
            }
        })
    })
}

/// Without media, the carrier's callees report their dispositions
/// through the API; with media, the conversation decides them.
fn reports_dispositions(carrier: &mut CarrierConfig, public: &str, key: &str) {
    if carrier.stream_hook.is_none() {
        carrier.disposition_api = Some(public.to_string());
        carrier.disposition_key = Some(key.to_string());
    }
}

/// The Gemini Live simulator on loopback.
async fn voice(scale: f64) -> (LiveEndpoint, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = LiveEndpoint {
        host: listener.local_addr().unwrap().to_string(),
        insecure: true,
        ..LiveEndpoint::default()
    };
    let sim = VoiceSim::new(VoiceSimConfig {
        time_scale: scale,
        ..VoiceSimConfig::default()
    });
    (endpoint, tokio::spawn(serve_tcp(listener, sim)))
}

impl Deployment {
    pub(crate) async fn start(backend: Backend, setup: Setup) -> Deployment {
        let clock = Arc::new(ScaledClock::new(setup.start, setup.scale));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut carrier = CarrierConfig::new(ACCOUNT_SID, token.clone(), 17);
        carrier.profile = setup.profile;
        carrier.faults = Faults::none();
        if setup.twilio_down {
            carrier.outages.push(Outage {
                from: setup.start - chrono::Duration::days(1),
                until: setup.start + chrono::Duration::days(365),
            });
        }
        let heard = Arc::new(Mutex::new(Vec::new()));
        carrier.stream_hook = setup
            .persona
            .map(|persona| callees(persona, token.clone(), setup.scale, heard.clone()));
        let (voice, voice_task) = match setup.persona {
            Some(_) => {
                let (endpoint, task) = voice(setup.scale).await;
                (Some(endpoint), Some(task))
            }
            None => (None, None),
        };
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let time = SimTime::new(dyn_clock.clone(), setup.scale);
        let (public, key, host, accounts) = match backend {
            Backend::Local => {
                let dir = tempfile::tempdir().unwrap();
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let public = format!("http://{addr}");
                // The first admin key, as `voxdial serve` writes it.
                let store = voxdial_local::LocalStore::open(dir.path().join(STORE_FILE)).unwrap();
                let (_, key) = voxdial_app::access::create_api_key(
                    &store,
                    dyn_clock.as_ref(),
                    &OrgId::default(),
                    Role::Admin,
                    "scenarios",
                )
                .await
                .unwrap();
                drop(store);
                let key = key.expose().to_string();
                reports_dispositions(&mut carrier, &public, &key);
                let accounts = Accounts::start(carrier, time).await.unwrap();
                std::fs::write(dir.path().join("voxdial.toml"), providers_toml(&accounts)).unwrap();
                let media =
                    voice.map(|endpoint| (Arc::new(WsConnector::new(&endpoint, None)), token));
                let mut host = Host::Local {
                    dir,
                    addr,
                    scale: setup.scale,
                    media,
                    runtime: None,
                };
                host.start_local(&clock, Some(listener)).await;
                (public, key, host, accounts)
            }
            Backend::Aws => {
                let aws = aws_functions::Aws::start(setup.start, setup.scale).await;
                let public = aws.lambdas.public.clone();
                reports_dispositions(&mut carrier, &public, &aws.key);
                let accounts = Accounts::start(carrier, time).await.unwrap();
                let mut container = voice.map(|endpoint| {
                    let port = free_port();
                    Container {
                        vars: vec![
                            ("BIND_ADDR", format!("127.0.0.1:{port}")),
                            ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
                            ("PUBLIC_WSS_BASE", format!("ws://127.0.0.1:{port}")),
                            ("TWILIO_AUTH_TOKEN", token.clone()),
                            ("SANSPBX_TOKEN", uuid::Uuid::new_v4().simple().to_string()),
                            ("GEMINI_HOST", endpoint.host),
                            ("GEMINI_INSECURE", "1".into()),
                            ("VOXDIAL_AWS_ENDPOINT", Emulator::get().endpoint().into()),
                            ("VOXDIAL_TABLE", aws.table.clone()),
                            ("VOXDIAL_DISPATCH_QUEUE_URL", aws.queue_url.clone()),
                            ("VOXDIAL_PUBLIC_BASE_URL", public.clone()),
                            ("VOXDIAL_CALLER_ID", "+14155550100".into()),
                            ("VOXDIAL_PROVIDERS", providers_toml(&accounts)),
                            ("VOXDIAL_MEDIA_TOKEN_KEY", MEDIA_KEY.into()),
                        ],
                        port,
                        child: None,
                    }
                });
                // The post-call pipeline: the job queue, the transcriber
                // function, recordings and transcripts in the bucket.
                let mut more = vec![
                    ("VOXDIAL_JOB_QUEUE_URL", aws.jobs_url.clone()),
                    ("VOXDIAL_RECORDINGS_BUCKET", aws.bucket.clone()),
                ];
                if let Some(container) = &mut container {
                    container.vars.extend(more.clone());
                    let media = format!("ws://127.0.0.1:{}/media/twilio", container.port);
                    more.push(("VOXDIAL_MEDIA_URL", media));
                }
                let settings = aws_functions::config(
                    &aws.table,
                    &aws.queue_url,
                    &public,
                    &providers_toml(&accounts),
                    setup.scale,
                    &more,
                );
                // The keys secret, as the template gives every function.
                let keys = json!({"voxdial": {"media_token_key": MEDIA_KEY}}).to_string();
                let mut host = Host::Aws {
                    functions: aws.lambdas,
                    settings: Box::new(settings),
                    secrets: Secrets::from_json("voxdial/keys", &keys).unwrap(),
                    container,
                };
                host.start_aws(&dyn_clock).await;
                (public, aws.key, host, accounts)
            }
        };
        Deployment {
            public,
            http: api_client(&key),
            clock,
            accounts,
            heard,
            host,
            _voice: voice_task,
        }
    }

    /// Every process lost at once, then started again on the same data.
    pub(crate) async fn restart(&mut self) {
        let clock: Arc<dyn Clock> = self.clock.clone();
        match &mut self.host {
            Host::Local { runtime, .. } => {
                // Dropped, not stopped: its tasks end where they stand.
                drop(runtime.take());
                self.host.start_local(&self.clock, None).await;
            }
            Host::Aws {
                functions,
                container,
                ..
            } => {
                functions.kill();
                if let Some(container) = container {
                    container.kill();
                }
                self.host.start_aws(&clock).await;
            }
        }
    }

    /// An API request; panics on a non-2xx answer.
    pub(crate) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        aws_functions::call(&self.http, method, format!("{}{path}", self.public), body).await
    }

    /// A campaign of `settings`, its leads (CSV) imported, started; its id.
    pub(crate) async fn campaign(&self, settings: Value, csv: String) -> String {
        let created = self
            .api(reqwest::Method::POST, "/v1/campaigns", Some(settings))
            .await;
        let id = created["id"].as_str().expect("a campaign id").to_string();
        let report = self
            .http
            .post(format!("{}/v1/campaigns/{id}/leads?region=US", self.public))
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let status = report.status();
        let report: Value = report.json().await.unwrap_or_default();
        assert!(
            status.is_success() && report["rejected"].as_array().is_some_and(Vec::is_empty),
            "{status} {report}"
        );
        self.api(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{id}/start"),
            None,
        )
        .await;
        id
    }

    /// The campaign's view once it has completed (the stall guard fails
    /// the test if it stops moving).
    pub(crate) async fn completed(&self, id: &str) -> Value {
        let mut stall = StallGuard::new();
        loop {
            let view = self.view(id).await;
            if view["campaign"]["status"] == "completed" {
                return view;
            }
            stall.check(&view);
            skip_idle(&view["progress"], &self.clock);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn view(&self, id: &str) -> Value {
        self.api(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
            .await
    }

    /// The campaign's call records.
    pub(crate) async fn calls(&self, id: &str) -> Vec<Value> {
        let page = self
            .api(
                reqwest::Method::GET,
                &format!("/v1/campaigns/{id}/calls?limit=1000"),
                None,
            )
            .await;
        page.as_array().expect("a page of calls").clone()
    }

    /// The call once `ready` holds for it (what lands after its end: the
    /// conversation record, the post-call pipeline's work); the last read
    /// after a minute, for the assertions to explain (a hang guard, not a
    /// speed limit).
    pub(crate) async fn call_when(&self, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let mut call = Value::Null;
        for _ in 0..600 {
            call = self
                .api(reqwest::Method::GET, &format!("/v1/calls/{id}"), None)
                .await;
            if ready(&call) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        call
    }

    /// The human agent's current record.
    pub(crate) async fn human_agent_now(&self, id: &str) -> Value {
        let all = self.api(reqwest::Method::GET, "/v1/agents", None).await;
        all.as_array()
            .expect("agents")
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no agent {id}: {all}"))
    }

    /// An AI agent of the default organisation from `draft`; its id.
    pub(crate) async fn ai_agent(&self, draft: Value) -> String {
        let created = self
            .api(reqwest::Method::POST, "/v1/ai-agents", Some(draft))
            .await;
        created["id"].as_str().expect("an AI agent id").to_string()
    }
}

impl Host {
    /// Starts the local runtime on the data directory and the deployment's
    /// address (bound again after a restart).
    async fn start_local(&mut self, clock: &Arc<ScaledClock>, listener: Option<TcpListener>) {
        let Host::Local {
            dir,
            addr,
            scale,
            media,
            runtime,
        } = self
        else {
            unreachable!("a local host");
        };
        let listener = match listener {
            Some(listener) => listener,
            None => rebind(*addr).await,
        };
        let clock: Arc<dyn Clock> = clock.clone();
        let file = FileConfig::load(Some(&dir.path().join("voxdial.toml"))).unwrap();
        let routes = file.routes(clock.clone()).unwrap().expect("routes");
        let media = media.as_ref().map(|(connector, token)| MediaOptions {
            connector: connector.clone(),
            model: None,
            agents: voxdial_host::Agents::new(Default::default()),
            twilio_auth_token: Some(token.clone()),
            max_live_calls: None,
        });
        *runtime = Some(
            Runtime::start(RuntimeOptions {
                data_dir: dir.path().to_path_buf(),
                listener,
                public_url: None,
                media_url: None,
                media,
                clock,
                time_scale: *scale,
                routes,
                dispatch_lease_secs: 300,
                call_lease_margin_secs: 120,
                sweep_interval: Duration::from_millis(250),
                dispatch_parallelism: 8,
                consent: Default::default(),
                model_prices: Default::default(),
            })
            .await
            .expect("the local runtime starts"),
        );
    }

    /// Cold-starts every function and the container.
    async fn start_aws(&mut self, clock: &Arc<dyn Clock>) {
        let Host::Aws {
            functions,
            settings,
            secrets,
            container,
        } = self
        else {
            unreachable!("an AWS host");
        };
        let instance = || {
            Deps::assemble(
                LambdaConfig::clone(settings),
                &Emulator::get().clients(None),
                secrets,
                clock.clone(),
            )
            .expect("the functions start")
        };
        functions.restart(Instances {
            dispatcher: instance(),
            api: instance(),
            webhooks: instance(),
            sweeper: instance(),
            transcriber: Some(instance()),
        });
        if let Some(container) = container {
            container.start().await;
        }
    }
}

/// The address a dead server listened on, bound again (its sockets may
/// take a moment to close).
async fn rebind(addr: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{addr} could not be bound again");
}
