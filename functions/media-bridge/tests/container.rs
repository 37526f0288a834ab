//! The container binary as ECS starts it, on the moto emulator: its
//! configuration from the environment, the engine on DynamoDB and SQS, the
//! Gemini Live simulator as the model and a simulated callee as Twilio's
//! Media Streams client (signed upgrade). The call's context comes from
//! the table and the conversation's outcome goes back to it.

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use voxdial_app::clock::SystemClock;
use voxdial_aws::testing::{Emulator, note};
use voxdial_domain::{
    CallAttempt, CallState, CallStore, Campaign, CampaignAction, CampaignId, CampaignSettings,
    CampaignStore, Disposition, DncStore, E164, LeadId, LeadStore, NewLead,
};
use voxdial_lambda::{Deps, LambdaConfig, Secrets};
use voxdial_sim::caller::{CallerConfig, run_caller};
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_tcp};
use voxdial_wire::media_token::{MediaTokenKey, TOKEN_PARAMETER};

const TOKEN: &str = "container-test-auth-token";
/// The secret the answer function and the container share.
const MEDIA_KEY: &str = "container-test-media-token-key";
const CALLER_ID: &str = "+14155550100";
/// A provider API that refuses connections: the bridge's hang-up fails
/// and is logged, as when a provider is down.
const PROVIDERS: &str = "[[providers]]\nid = \"twilio\"\nkind = \"twilio\"\n\
    api_base = \"http://127.0.0.1:9\"\naccount_sid = \"AC00000000000000000000000000000001\"\n\
    auth_token = \"container-test-auth-token\"\n";

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the container when the test ends, whatever happens.
struct Container(Child);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn container(vars: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_media-bridge"));
    for name in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "VOXDIAL_TABLE"] {
        command.env_remove(name);
    }
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    command
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_s_context_and_outcome_go_through_the_table() {
    if !Emulator::available() && std::env::var("CI").as_deref() != Ok("true") {
        note("SKIPPED: moto_server is not installed (scripts/aws-test-env.sh installs it)");
        return;
    }
    // GIVEN a table and queue on moto with a running campaign, a lead who
    // will ask to be taken off the list, and its call attempt
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

    // AND the Gemini Live simulator on loopback
    let voice = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let voice_addr = voice.local_addr().unwrap().to_string();
    let voice_task = tokio::spawn(serve_tcp(voice, VoiceSim::new(VoiceSimConfig::default())));

    // WHEN the container starts with the deployment's variables
    let port = free_port();
    let base = format!("ws://127.0.0.1:{port}");
    let vars = [
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ("PUBLIC_WSS_BASE", base.clone()),
        ("TWILIO_AUTH_TOKEN", TOKEN.into()),
        ("GEMINI_HOST", voice_addr),
        ("GEMINI_INSECURE", "1".into()),
        ("DRAIN_SECS", "5".into()),
        ("VOXDIAL_AWS_ENDPOINT", moto.endpoint().into()),
        ("VOXDIAL_TABLE", table.clone()),
        ("VOXDIAL_DISPATCH_QUEUE_URL", queue.url().into()),
        ("VOXDIAL_CALLER_ID", CALLER_ID.into()),
        ("VOXDIAL_PROVIDERS", PROVIDERS.into()),
        ("VOXDIAL_MEDIA_TOKEN_KEY", MEDIA_KEY.into()),
        ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
    ];
    let _container = Container(
        container(&vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the container starts"),
    );
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let mut healthy = false;
    for _ in 0..300 {
        if http
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the container never answered {health}");

    // AND Twilio streams the answered call to it (signed upgrade)
    let mut caller = CallerConfig::new(
        format!("{base}/media/twilio"),
        call.id.as_str(),
        Persona::by_name("opt_out").expect("the opt-out persona"),
    );
    caller.auth_token = Some(TOKEN.into());
    // with the token the answer webhook put in the TwiML
    let expiry = chrono::Utc::now().timestamp() + 300;
    let token = MediaTokenKey::new(MEDIA_KEY)
        .unwrap()
        .issue(call.id.as_str(), expiry);
    caller
        .custom_parameters
        .insert(TOKEN_PARAMETER.into(), token);
    caller.max_duration = Duration::from_secs(60);
    let caller = tokio::spawn(run_caller(caller));

    // THEN the opt-out reaches the table: the call's disposition, and the
    // number on the do-not-call list
    let deps = Deps::assemble(
        LambdaConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap(),
        &clients,
        &Secrets::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let mut disposition = None;
    for _ in 0..600 {
        disposition = deps.engine.call(&call.id).await.unwrap().disposition;
        if disposition.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(disposition, Some(Disposition::OptedOut));
    let hit = store.dnc_hit(&campaign.id, &phone).await.unwrap();
    assert!(hit.global || hit.campaign, "{hit:?}");
    caller.abort();
    voice_task.abort();
}
