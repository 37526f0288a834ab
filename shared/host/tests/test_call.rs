//! Browser test calls over a real socket on 127.0.0.1:
//! `GET /v1/ai-agents/{id}/test-call` runs one conversation with the
//! organisation's AI agent on the media bridge (a simulated voice model),
//! the socket standing for the browser: PCM16 8 kHz both ways, the state
//! machine's states and the transcript as JSON. It refuses a request
//! without a key, a viewer, another organisation's agent and a second test
//! call of the same organisation, and stores nothing of the call.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use voxdial_app::Engine;
use voxdial_bridge::browser::FRAME_BYTES;
use voxdial_bridge::{Bridge, BridgeConfig};
use voxdial_conversation::AgentConfig;
use voxdial_domain::{AgentId, OrgId, Role};
use voxdial_gemini::socket::ChannelConnector;
use voxdial_host::{Agents, EngineHost};
use voxdial_media::synth::Synth;
use voxdial_sim::voice::{VoiceSim, VoiceSimConfig, serve_socket};

/// Guards only against a hang.
const HANG: Duration = Duration::from_secs(60);

struct World {
    engine: Engine,
    addr: std::net::SocketAddr,
    /// The default organisation's agent, scripted for the simulated model
    /// as an interested callee.
    own: AgentId,
    /// Another organisation's agent.
    rival: AgentId,
    _dir: tempfile::TempDir,
}

/// The local server's wiring: the API with the bridge's test calls, over
/// a simulated voice model.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::local_engine(dir.path());
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig::default());
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    let host = EngineHost::new(engine.clone(), Agents::new(AgentConfig::default()));
    let config = BridgeConfig {
        recording_dir: dir.path().join("spool"),
        ..BridgeConfig::default()
    };
    let bridge = Bridge::new(config, Arc::new(host), Arc::new(conn));
    let app = voxdial_http::api::router(engine.clone())
        .layer(axum::Extension(voxdial_host::test_calls(&bridge)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let own = agent(&engine, OrgId::default()).await;
    let rival = agent(&engine, OrgId::parse("rival").unwrap()).await;
    World {
        engine,
        addr,
        own,
        rival,
        _dir: dir,
    }
}

async fn agent(engine: &Engine, org: OrgId) -> AgentId {
    let draft = json!({"config": {
        "name": "Maya",
        "system_prompt": "You are Maya, calling about a check-up. persona: interested",
    }});
    engine
        .create_ai_agent(&org, draft.to_string().as_bytes())
        .await
        .unwrap()
        .id
}

async fn key(engine: &Engine, role: Role) -> String {
    let (_, secret) = engine
        .create_api_key(&OrgId::default(), role, "test call")
        .await
        .unwrap();
    format!("Bearer {}", secret.expose())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a test call with `agent`; the handshake's HTTP status when refused.
async fn open(w: &World, agent: &AgentId, auth: Option<&str>) -> Result<Socket, u16> {
    let url = format!("ws://{}/v1/ai-agents/{agent}/test-call", w.addr);
    let mut request = url.into_client_request().unwrap();
    if let Some(auth) = auth {
        request
            .headers_mut()
            .insert("authorization", auth.parse().unwrap());
    }
    match tokio::time::timeout(HANG, tokio_tungstenite::connect_async(request))
        .await
        .expect("no handshake before the hang guard")
    {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("unexpected handshake error: {other}"),
    }
}

/// What the scripted browser got back.
#[derive(Default)]
struct Heard {
    agent_audio: usize,
    events: Vec<Value>,
}

impl Heard {
    fn saw_state(&self, state: &str) -> bool {
        self.events
            .iter()
            .any(|e| e["type"] == "state" && e["state"] == state)
    }

    fn caller_said(&self) -> bool {
        self.events
            .iter()
            .any(|e| e["type"] == "line" && e["speaker"] == "caller")
    }
}

/// Plays `pcm` (8 kHz) into the socket in 20 ms frames at the
/// microphone's pace, taking what comes back, until `done` holds.
async fn talk(socket: &mut Socket, heard: &mut Heard, pcm: &[i16], done: fn(&Heard) -> bool) {
    let mut frames = pcm.chunks(FRAME_BYTES / 2).cycle();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let frame = frames.next().unwrap();
                let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
                socket.send(Message::binary(bytes)).await.unwrap();
            }
            m = socket.next() => match m {
                Some(Ok(Message::Binary(b))) => heard.agent_audio += b.len(),
                Some(Ok(Message::Text(t))) => heard.events.push(serde_json::from_str(t.as_str()).unwrap()),
                Some(Ok(_)) => {}
                other => panic!("the test call ended early: {other:?}"),
            },
        }
        if done(heard) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_talks_with_an_agent_and_hears_it_back() {
    let w = world().await;
    let operator = key(&w.engine, Role::Operator).await;
    // GIVEN an operator's test call with the organisation's agent
    let mut socket = open(&w, &w.own, Some(&operator)).await.expect("admitted");
    // THEN a second one of the organisation waits for it to end
    assert_eq!(open(&w, &w.own, Some(&operator)).await.err(), Some(409));
    // WHEN the microphone is quiet while the agent greets
    let mut heard = Heard::default();
    let silence = vec![0i16; FRAME_BYTES / 2];
    tokio::time::timeout(
        HANG,
        talk(&mut socket, &mut heard, &silence, |h| {
            h.agent_audio >= 50 * FRAME_BYTES && h.saw_state("listening")
        }),
    )
    .await
    .expect("the agent greets before the hang guard");
    // THEN its voice came back as PCM16 frames, with the state machine's
    // states as JSON
    assert!(heard.saw_state("welcome"), "{:?}", heard.events);
    // WHEN the browser speaks, then falls quiet
    let mut speech = Synth::with_rate(7, 8_000).speech(8 * 1200, -20.0);
    speech.extend(std::iter::repeat_n(0i16, 8 * 60_000));
    tokio::time::timeout(
        HANG,
        talk(&mut socket, &mut heard, &speech, Heard::caller_said),
    )
    .await
    .expect("the model hears the caller before the hang guard");
    // THEN the model heard it: the caller's line is in the live transcript,
    // after the state machine saw the caller speak
    assert!(heard.saw_state("human_speaking"), "{:?}", heard.events);
    // and the test call is audited
    let audit = w.engine.audit(&OrgId::default(), 10).await.unwrap();
    assert_eq!(audit[0].route, "/v1/ai-agents/{id}/test-call");
    assert_eq!(audit[0].target.as_deref(), Some(w.own.as_str()));
    // WHEN the browser hangs up, THEN the organisation may start another
    socket.close(None).await.unwrap();
    tokio::time::timeout(HANG, async {
        loop {
            match open(&w, &w.own, Some(&operator)).await {
                Ok(_) => return,
                Err(409) => tokio::task::yield_now().await,
                Err(other) => panic!("{other}"),
            }
        }
    })
    .await
    .expect("the place is free again before the hang guard");
}

#[tokio::test]
async fn a_test_call_is_refused_without_a_key_to_viewers_and_across_organisations() {
    let w = world().await;
    let viewer = key(&w.engine, Role::Viewer).await;
    let operator = key(&w.engine, Role::Operator).await;
    assert_eq!(open(&w, &w.own, None).await.err(), Some(401));
    assert_eq!(
        open(&w, &w.own, Some("Bearer vxd_nope")).await.err(),
        Some(401)
    );
    assert_eq!(open(&w, &w.own, Some(&viewer)).await.err(), Some(403));
    // Another organisation's agent answers as one that does not exist.
    assert_eq!(open(&w, &w.rival, Some(&operator)).await.err(), Some(404));
    let ghost = AgentId::parse("ghost").unwrap();
    assert_eq!(open(&w, &ghost, Some(&operator)).await.err(), Some(404));
    // and nothing was audited
    assert!(
        w.engine
            .audit(&OrgId::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
