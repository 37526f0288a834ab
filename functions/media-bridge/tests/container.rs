//! The container binary as ECS starts it, on the moto emulator: its
//! configuration from the environment, the engine on DynamoDB and SQS, the
//! Gemini Live simulator as the model and a simulated callee as Twilio's
//! Media Streams client (signed upgrade). The call's context comes from
//! the table and the conversation's outcome goes back to it. The console
//! watches a call on it with a ticket the API function issued.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use voxdial_app::clock::SystemClock;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    BridgeFleet, CallAttempt, CallState, CallStore, Campaign, CampaignAction, CampaignId,
    CampaignSettings, CampaignStore, Disposition, DncStore, E164, FleetCapacity, LeadId, LeadStore,
    NewLead,
};
use voxdial_lambda::{Deps, LambdaConfig, Secrets};
use voxdial_sim::caller::{CallerConfig, run_caller};
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::media_token::{MediaTokenKey, TOKEN_PARAMETER};

use common::{container, free_port};

const TOKEN: &str = "container-test-auth-token";
const CALLER_ID: &str = "+14155550100";
/// The secret the answer function and the container share.
const MEDIA_KEY: &str = "container-test-media-token-key";
/// A provider API that refuses connections: the bridge's hang-up fails
/// and is logged, as when a provider is down.
const PROVIDERS: &str = "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\n\
    api_base = \"http://127.0.0.1:9\"\naccount_sid = \"AC00000000000000000000000000000001\"\n\
    auth_token = \"container-test-auth-token\"\n";

/// Kills the container when the test ends, whatever happens.
struct Container(Child);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_missing_setting_stops_the_container_with_its_name() {
    let output = container(&[("PUBLIC_WSS_BASE", "wss://media.example.com".into())])
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .output()
        .expect("the container runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the environment variable VOXDIAL_CALLER_ID is not set"),
        "{stderr}"
    );
}

/// The deployment's variables, with no AWS behind them: enough for the
/// container to check its configuration and stop.
fn offline(providers: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PUBLIC_WSS_BASE", "wss://media.example.com".into()),
        ("TWILIO_AUTH_TOKEN", TOKEN.into()),
        ("BIND_ADDR", "127.0.0.1:0".into()),
        ("METRICS_ADDR", "127.0.0.1:0".into()),
        ("VOXDIAL_AWS_ENDPOINT", "http://127.0.0.1:9".into()),
        ("VOXDIAL_TABLE", "t".into()),
        ("VOXDIAL_DISPATCH_QUEUE_URL", "http://127.0.0.1:9/q".into()),
        ("VOXDIAL_CALLER_ID", CALLER_ID.into()),
        ("VOXDIAL_PROVIDERS", providers.into()),
    ]
}

fn stderr_of(mut command: Command) -> String {
    let output = command.output().expect("the container runs");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_container_refuses_to_start_without_the_media_token_key() {
    let stderr = stderr_of(container(&offline(PROVIDERS)));
    assert!(
        stderr.contains("the media token key is required"),
        "{stderr}"
    );
}

#[test]
fn a_sanspbx_account_without_its_stream_token_stops_the_container() {
    // GIVEN a SansPBX account among the providers and no SANSPBX_TOKEN
    let providers = format!(
        "{PROVIDERS}[[providers]]\nid = \"pbx\"\nkind = \"sanspbx\"\napi_base = \"https://pbx.example.com\"\n\
         appid = 1\naccess_token = \"a\"\naccess_key = \"b\"\nwebhook_secret = \"sixteen-chars-or-more\"\n"
    );
    let mut vars = offline(&providers);
    vars.push(("VOXDIAL_MEDIA_TOKEN_KEY", MEDIA_KEY.into()));
    // THEN the container stops and names the missing token
    let stderr = stderr_of(container(&vars));
    assert!(
        stderr.contains("SANSPBX_TOKEN is required when a SansPBX account is configured"),
        "{stderr}"
    );
}

/// A running campaign on moto with one lead (persona `opt_out`, who asks
/// to be taken off the list) and its call attempt, the Gemini Live
/// simulator on loopback, and the container's variables.
struct World {
    store: voxdial_aws::DynamoStore,
    clients: voxdial_aws::Clients,
    campaign: Campaign,
    phone: E164,
    call: CallAttempt,
    vars: Vec<(&'static str, String)>,
    port: u16,
    voice_task: tokio::task::JoinHandle<()>,
}

async fn world(extra: &[(&'static str, String)]) -> World {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, table) = moto.store(&clients).await.expect("a table");
    let queue = moto
        .queue(&clients, Duration::from_secs(30), 5)
        .await
        .expect("a queue");
    let now = chrono::Utc::now();
    let mut campaign = Campaign::new(
        CampaignId::parse("cmp_container").unwrap(),
        CampaignSettings::default(),
        now,
    )
    .unwrap();
    campaign.apply(CampaignAction::Start, now).unwrap();
    store.insert_campaign(&campaign).await.unwrap();
    let phone = E164::parse("+12125550100", None).unwrap();
    let lead = NewLead {
        phone: phone.clone(),
        name: "Ann".into(),
        time_zone: None,
        custom: BTreeMap::from([("persona".to_string(), "opt_out".to_string())]),
        consent: true,
    }
    .into_lead(
        LeadId::parse("ld_container").unwrap(),
        campaign.id.clone(),
        now,
    );
    store.import_leads(&campaign.id, vec![lead]).await.unwrap();
    let far = chrono::Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    let claimed = store.claim_due(&campaign.id, 5, now, far, 1).await.unwrap();
    let compliance = voxdial_testkit::fixtures::compliance(1, now);
    let mut call = CallAttempt::new(
        campaign.id.clone(),
        claimed[0].id.clone(),
        1,
        phone.clone(),
        compliance,
        now,
    );
    call.provider = Some(voxdial_domain::ProviderId::parse("twilio").unwrap());
    call.state = CallState::Answered;
    store.create_call(&call).await.unwrap();

    let voice = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let voice_addr = voice.local_addr().unwrap().to_string();
    let voice_task = tokio::spawn(serve_tcp(voice, VoiceSim::new(VoiceSimConfig::default())));

    let port = free_port();
    let mut vars = vec![
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
        ("PUBLIC_WSS_BASE", format!("ws://127.0.0.1:{port}")),
        ("TWILIO_AUTH_TOKEN", TOKEN.into()),
        ("GEMINI_HOST", voice_addr),
        ("GEMINI_INSECURE", "1".into()),
        ("VOXDIAL_AWS_ENDPOINT", moto.endpoint().into()),
        ("VOXDIAL_TABLE", table),
        ("VOXDIAL_DISPATCH_QUEUE_URL", queue.url().into()),
        ("VOXDIAL_CALLER_ID", CALLER_ID.into()),
        ("VOXDIAL_PROVIDERS", PROVIDERS.into()),
        ("VOXDIAL_MEDIA_TOKEN_KEY", MEDIA_KEY.into()),
    ];
    vars.extend(extra.iter().cloned());
    World {
        store,
        clients,
        campaign,
        phone,
        call,
        vars,
        port,
        voice_task,
    }
}

/// Starts a container with `vars`, listening on `port`, and waits until it
/// answers `/healthz`.
async fn start_task(vars: &[(&'static str, String)], port: u16) -> Container {
    let container = Container(
        container(vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the container starts"),
    );
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..300 {
        if reqwest::get(&health)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return container;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the container never answered {health}");
}

impl World {
    fn var(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .expect("a variable")
    }

    /// Starts the container and waits until it answers `/healthz`.
    async fn start(&self) -> Container {
        start_task(&self.vars, self.port).await
    }

    /// Twilio streams the answered call to the container (signed upgrade).
    fn stream_call(
        &self,
    ) -> tokio::task::JoinHandle<
        Result<voxdial_sim::caller::CallerReport, voxdial_sim::caller::CallerError>,
    > {
        let mut caller = CallerConfig::new(
            format!("ws://127.0.0.1:{}/media/twilio", self.port),
            self.call.id.as_str(),
            Persona::by_name("opt_out").expect("the opt-out persona"),
        );
        caller.auth_token = Some(TOKEN.into());
        caller.max_duration = Duration::from_secs(60);
        // with the token the answer webhook put in the TwiML
        let expiry = chrono::Utc::now().timestamp() + 300;
        let token = MediaTokenKey::new(MEDIA_KEY)
            .unwrap()
            .issue(self.call.id.as_str(), expiry);
        caller
            .custom_parameters
            .insert(TOKEN_PARAMETER.into(), token);
        tokio::spawn(run_caller(caller))
    }

    /// The call's disposition once the table has one (a deadline that
    /// only guards a hang).
    async fn disposition(&self) -> Option<Disposition> {
        let deps = Deps::assemble(
            LambdaConfig::from_vars(|name| {
                self.vars
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            })
            .unwrap(),
            &self.clients,
            &Secrets::default(),
            Arc::new(SystemClock),
        )
        .unwrap();
        for _ in 0..600 {
            let disposition = deps.engine.call(&self.call.id).await.unwrap().disposition;
            if disposition.is_some() {
                return disposition;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_s_context_and_outcome_go_through_the_table() {
    // GIVEN a running campaign, a lead who will ask to be taken off the
    // list, its call attempt, and the container with the deployment's
    // variables
    let world = world(&[("DRAIN_SECS", "5".into())]).await;
    let _container = world.start().await;

    // WHEN Twilio streams the answered call to it
    let caller = world.stream_call();

    // THEN the opt-out reaches the table: the call's disposition, and the
    // number on the do-not-call list
    assert_eq!(world.disposition().await, Some(Disposition::OptedOut));
    // (the number is listed by a write after the disposition's: the loop
    // is a hang guard, not a speed limit)
    let mut hit = None;
    for _ in 0..600 {
        let now = world
            .store
            .dnc_hit(&world.campaign.org_id, &world.campaign.id, &world.phone)
            .await
            .unwrap();
        if now.global || now.campaign {
            hit = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        hit.is_some(),
        "the number never reached the do-not-call list"
    );
    caller.abort();
    world.voice_task.abort();
}

/// The live calls the container's metrics listener reports.
async fn live_calls(metrics_addr: &str) -> Option<u64> {
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("voxdial_bridge_live_calls "))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_container_refuses_new_streams_and_lets_its_live_call_end_by_itself() {
    // GIVEN the container with a call live on it
    let world = world(&[("DRAIN_SECS", "60".into())]).await;
    let mut container = world.start().await;
    let metrics_addr = world.var("METRICS_ADDR");
    let caller = world.stream_call();
    // (the loops below are hang guards of minutes, not speed limits)
    let mut live = None;
    for _ in 0..2_400 {
        live = live_calls(&metrics_addr).await;
        if live == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live, Some(1), "the call never went live");

    // WHEN ECS stops the task (SIGTERM) in the middle of the call
    let pid = container.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));

    // THEN the load balancer's health check fails at once (no new stream)
    let health = format!("http://127.0.0.1:{}/healthz", world.port);
    let mut refused = false;
    for _ in 0..1_200 {
        if reqwest::get(&health).await.map_or(true, |r| {
            r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
        }) {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "a draining container still takes streams");
    // AND the live call goes on to its own end: the callee's opt-out, not
    // a goodbye because of the shutdown
    assert_eq!(world.disposition().await, Some(Disposition::OptedOut));
    let report = caller.await.expect("the caller").expect("a report");
    assert!(report.media_received > 0);
    // AND the container then exits by itself, cleanly
    let mut status = None;
    for _ in 0..1_200 {
        status = container.0.try_wait().expect("the container's status");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    world.voice_task.abort();
}

impl World {
    /// The fleet in the table once `wanted` holds of it (a deadline of a
    /// minute that only guards a hang).
    async fn fleet_until(&self, wanted: impl Fn(&FleetCapacity) -> bool) -> Option<FleetCapacity> {
        for _ in 0..600 {
            let loads = self.store.bridge_loads(chrono::Utc::now()).await.unwrap();
            let fleet = FleetCapacity::of(&loads);
            if wanted(&fleet) {
                return Some(fleet);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_reports_its_load_to_the_fleet_the_answer_webhook_reads() {
    // GIVEN the container, taking 7 calls
    let world = world(&[("MAX_LIVE_CALLS", "7".into()), ("DRAIN_SECS", "5".into())]).await;
    let _container = world.start().await;
    // THEN the table's fleet holds its report: one task, 7 free places
    let idle = world.fleet_until(|f| f.tasks == 1).await;
    assert_eq!(
        idle,
        Some(FleetCapacity {
            tasks: 1,
            live: 0,
            free: 7
        })
    );
    // WHEN Twilio streams a call to it
    let caller = world.stream_call();
    // THEN the report shows the live call and one place less
    let busy = world.fleet_until(|f| f.live == 1).await;
    assert_eq!(busy.map(|f| f.free), Some(6));
    caller.abort();
    world.voice_task.abort();
}

/// The secret the API function and the container share to sign sessions
/// and media tickets (`voxdial.session_key` of the keys secret).
const SESSION_KEY: &str = "container-test-session-key";

/// The API function of the deployment `world` belongs to (the same table
/// and keys secret) and a key of `role` in the campaign's organisation.
async fn api_function(
    world: &World,
    role: voxdial_domain::Role,
) -> (axum::Router, voxdial_domain::KeySecret) {
    let keys = format!(r#"{{"voxdial.session_key": "{SESSION_KEY}"}}"#);
    let api = Deps::assemble(
        LambdaConfig::from_vars(|name| {
            world
                .vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap(),
        &world.clients,
        &Secrets::from_json("keys", &keys).unwrap(),
        Arc::new(SystemClock),
    )
    .unwrap()
    .engine;
    let (_, secret) = api
        .create_api_key(&world.campaign.org_id, role, "console")
        .await
        .unwrap();
    (voxdial_lambda::api::router(api), secret)
}

/// The socket URL of a fresh media ticket for `path` (`…/live/ticket` or
/// `…/listen/ticket`), as the console gets it from the API.
async fn ticket_url(
    router: &axum::Router,
    path: &str,
    secret: &voxdial_domain::KeySecret,
) -> String {
    use tower::ServiceExt;
    let request = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {}", secret.expose()))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    body["url"].as_str().unwrap().to_owned()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `url` as the console does (its page's `Origin`): the socket, or
/// the status it was refused with.
async fn open_socket(url: &str) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://api.example.com".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(r)) => Err(r.status().as_u16()),
        Err(other) => panic!("the socket failed: {other}"),
    }
}

/// Opens a socket of a fresh ticket for `path` at `port` (where the load
/// balancer sent it), once the call is live (a hang guard of a minute:
/// 409 until the stream has started).
async fn open_when_live(
    router: &axum::Router,
    path: &str,
    secret: &voxdial_domain::KeySecret,
    port: u16,
) -> Socket {
    for _ in 0..1_200 {
        let url = ticket_url(router, path, secret).await;
        let rest = url
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|r| r.split_once('/'))
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("a socket URL at the media domain: {url}"));
        match open_socket(&format!("ws://127.0.0.1:{port}/{rest}")).await {
            Ok(socket) => return socket,
            Err(409) => {}
            Err(status) => panic!("the socket was refused with {status}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the call never went live at 127.0.0.1:{port}");
}

/// The live events a socket carries until the call's end closes it, and
/// the close code.
async fn events_until_closed(socket: &mut Socket) -> (Vec<serde_json::Value>, u16) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut seen = Vec::new();
    let code = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    seen.push(serde_json::from_str::<serde_json::Value>(&text).unwrap());
                }
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                other => panic!("the socket ended without a close: {other:?}"),
            }
        }
    })
    .await
    .expect("the call's end before the hang guard");
    (seen, code)
}

impl World {
    /// Asserts what a watcher of this world's call saw: its own events
    /// only, a state and the AMD verdict (a late socket gets the latest of
    /// each kind first), and a normal close at the call's end.
    fn assert_watched(&self, seen: &[serde_json::Value], code: u16) {
        assert_eq!(code, 1000, "{seen:?}");
        assert!(
            seen.iter().all(|e| e["call_id"] == self.call.id.as_str()),
            "{seen:?}"
        );
        assert!(seen.iter().any(|e| e["type"] == "state"), "{seen:?}");
        assert!(
            seen.iter()
                .any(|e| e["type"] == "amd" && e["verdict"] == "human"),
            "{seen:?}"
        );
    }
}

/// A world whose container checks the API function's media tickets (the
/// same session key) and whose media domain is the container.
async fn ticket_world() -> World {
    let mut world = world(&[
        ("DRAIN_SECS", "5".into()),
        ("VOXDIAL_SESSION_KEY", SESSION_KEY.into()),
    ])
    .await;
    let media_url = format!("ws://127.0.0.1:{}/media/twilio", world.port);
    world.vars.push(("VOXDIAL_MEDIA_URL", media_url));
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_watches_a_call_on_the_container_with_a_ticket_from_the_api() {
    use tower::ServiceExt;

    // GIVEN the container and the API function of one deployment: the
    // same table, the same keys secret, the media domain's stream URL
    let world = ticket_world().await;
    let _container = world.start().await;
    let (router, secret) = api_function(&world, voxdial_domain::Role::Viewer).await;
    // (the page the API serves may open sockets at the media domain)
    let page = axum::http::Request::get("/")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = router.clone().oneshot(page).await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    let media_origin = format!("ws://127.0.0.1:{}", world.port);
    assert!(
        csp.contains(&format!("connect-src 'self' {media_origin};")),
        "{csp}"
    );
    let path = format!("/v1/calls/{}/live/ticket", world.call.id);

    // WHEN a call streams to the container and the console, signed in on
    // the API's domain, opens the URL of a live ticket from the API
    let caller = world.stream_call();
    let mut socket = open_when_live(&router, &path, &secret, world.port).await;

    // THEN the call's live events reach the page as they happen (the
    // conversation's states, the AMD verdict), until the call ends
    let (seen, code) = events_until_closed(&mut socket).await;
    world.assert_watched(&seen, code);
    caller.abort();
    world.voice_task.abort();
}

/// `vars` with `name` set to `value`.
fn with(
    vars: &[(&'static str, String)],
    name: &'static str,
    value: String,
) -> Vec<(&'static str, String)> {
    let mut vars: Vec<_> = vars.iter().filter(|(k, _)| *k != name).cloned().collect();
    vars.push((name, value));
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_the_load_balancer_sends_to_another_task_is_relayed_to_the_call_s_task() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    // GIVEN two tasks of one service (the same table and keys secret),
    // each reached by the other at its own address, and the API function
    let mut world = ticket_world().await;
    world
        .vars
        .push(("PEER_ADDR", format!("127.0.0.1:{}", world.port)));
    let _holder = world.start().await;
    let port = free_port();
    let other = with(&world.vars, "BIND_ADDR", format!("127.0.0.1:{port}"));
    let other = with(&other, "METRICS_ADDR", format!("127.0.0.1:{}", free_port()));
    let other = with(&other, "PEER_ADDR", format!("127.0.0.1:{port}"));
    let _other = start_task(&other, port).await;
    let (router, secret) = api_function(&world, voxdial_domain::Role::Operator).await;
    let live = format!("/v1/calls/{}/live/ticket", world.call.id);
    let listen = format!("/v1/calls/{}/listen/ticket", world.call.id);
    // (before any stream, no task holds the call: the other task says so)
    let url = ticket_url(&router, &live, &secret).await;
    let url = url.replace(
        &format!("127.0.0.1:{}", world.port),
        &format!("127.0.0.1:{port}"),
    );
    assert_eq!(open_socket(&url).await.err(), Some(409));

    // WHEN Twilio streams the call to the first task, and the load
    // balancer sends the console's live and listen sockets to the other
    let caller = world.stream_call();
    let mut events = open_when_live(&router, &live, &secret, port).await;
    let mut audio = open_when_live(&router, &listen, &secret, port).await;
    let listened = tokio::spawn(async move {
        let mut bytes = 0;
        while let Some(Ok(message)) = audio.next().await {
            match message {
                Message::Binary(frame) => bytes += frame.len(),
                Message::Close(frame) => return (bytes, frame.map(|f| u16::from(f.code))),
                _ => {}
            }
        }
        (bytes, None)
    });

    // THEN the other task relays both to the call's task: its events and
    // its audio reach the page until the call ends
    let (seen, code) = events_until_closed(&mut events).await;
    world.assert_watched(&seen, code);
    let (bytes, closed) = tokio::time::timeout(Duration::from_secs(60), listened)
        .await
        .expect("the listen socket closes with the call")
        .unwrap();
    assert!(bytes >= 160, "no audio was relayed ({bytes} bytes)");
    assert_eq!(closed, Some(1000));
    caller.abort();
    world.voice_task.abort();
}
