//! Test calls from the browser: a scripted browser (PCM16 8 kHz binary
//! frames) ⇄ bridge ⇄ simulated Gemini, in memory on a paused clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use tokio::sync::mpsc;
use voxdial_bridge::browser::FRAME_BYTES;
use voxdial_bridge::{Bridge, BridgeConfig, MAX_TEST_CALLS, MemoryHost};
use voxdial_conversation::{AgentConfig, CallContext, LiveEvent, Speaker};
use voxdial_domain::CampaignId;
use voxdial_gemini::socket::ChannelConnector;
use voxdial_media::synth::Synth;
use voxdial_sim::voice::{VoiceSim, VoiceSimConfig, serve_socket};

use common::Mem;

/// The browser's end: what it sends, what it gets.
struct Browser {
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    agent_audio: usize,
    events: Vec<LiveEvent>,
    closed: bool,
}

impl Browser {
    /// Sends 20 ms of `pcm` (8 kHz) as the microphone would, then takes
    /// what came back meanwhile.
    async fn speak(&mut self, pcm: &[i16]) {
        for frame in pcm.chunks(FRAME_BYTES / 2) {
            let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
            let _ = self.tx.send(Message::Binary(bytes.into()));
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.take();
        }
    }

    fn take(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Message::Binary(b) => self.agent_audio += b.len(),
                Message::Text(t) => self.events.push(serde_json::from_str(t.as_str()).unwrap()),
                Message::Close(_) => self.closed = true,
                _ => {}
            }
        }
    }

    fn saw_state(&self, state: &str) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, LiveEvent::State { state: s } if s == state))
    }

    fn caller_line(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            LiveEvent::Line {
                speaker: Speaker::Caller,
                transcript,
                ..
            } => Some(transcript.as_str()),
            _ => None,
        })
    }
}

fn pair() -> (Mem, Browser) {
    let (to_bridge, bridge_rx) = mpsc::unbounded_channel();
    let (to_browser, browser_rx) = mpsc::unbounded_channel();
    (
        Mem {
            tx: to_browser,
            rx: bridge_rx,
        },
        Browser {
            tx: to_bridge,
            rx: browser_rx,
            agent_audio: 0,
            events: Vec::new(),
            closed: false,
        },
    )
}

/// A bridge whose phone calls nobody makes, over a simulated voice model.
fn sim_bridge() -> Bridge<MemoryHost, ChannelConnector> {
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig::default());
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    let ctx = CallContext::with_agent(CampaignId::parse("c1").unwrap(), AgentConfig::default());
    let dir = std::env::temp_dir().join("voxdial-test-call-spool");
    let config = BridgeConfig {
        recording_dir: dir,
        ..BridgeConfig::default()
    };
    Bridge::new(config, Arc::new(MemoryHost::new(ctx)), Arc::new(conn))
}

/// The agent under test, scripted for the simulated model as an
/// interested callee.
fn agent_context() -> CallContext {
    let mut ctx = CallContext::with_agent(CampaignId::parse("c1").unwrap(), AgentConfig::default());
    ctx.custom_fields
        .insert("persona".into(), "interested".into());
    ctx
}

#[tokio::test(start_paused = true)]
async fn a_browser_hears_the_agent_and_the_model_hears_the_browser() {
    // GIVEN a test call from a browser
    let bridge = sim_bridge();
    let (socket, mut browser) = pair();
    let seat = bridge.reserve_test_call("org-1").expect("a seat");
    let b = bridge.clone();
    let served =
        tokio::spawn(async move { b.serve_test_call(socket, seat, agent_context()).await });
    // WHEN the browser's microphone is quiet while the agent greets
    let silence = vec![0i16; 8 * 20];
    for _ in 0..500 {
        browser.speak(&silence).await;
        if browser.agent_audio > 0 && browser.saw_state("listening") {
            break;
        }
    }
    // THEN the agent's voice came back as PCM16 frames, with the state
    // machine's states as JSON
    assert!(
        browser.agent_audio >= 50 * FRAME_BYTES,
        "agent audio: {} bytes",
        browser.agent_audio
    );
    assert!(browser.saw_state("welcome"), "{:?}", browser.events);
    assert!(browser.saw_state("listening"), "{:?}", browser.events);
    assert_eq!(bridge.live_calls(), 1);
    // WHEN the browser speaks, then falls quiet
    let speech = Synth::with_rate(7, 8_000).speech(8 * 1200, -20.0);
    browser.speak(&speech).await;
    for _ in 0..200 {
        browser.speak(&silence).await;
        if browser.caller_line().is_some() {
            break;
        }
    }
    // THEN the model heard it: the caller's line is in the live transcript,
    // and the state machine went through the caller speaking
    assert!(browser.saw_state("human_speaking"), "{:?}", browser.events);
    assert!(browser.caller_line().is_some(), "{:?}", browser.events);
    // WHEN the browser hangs up
    let _ = browser.tx.send(Message::Close(None));
    let summary = served.await.unwrap();
    // THEN the call ends, nothing stored on the bridge's host, and the
    // organisation's place is free again
    assert!(summary.report.duration_ms > 0);
    assert_eq!(bridge.live_calls(), 0);
    assert!(bridge.reserve_test_call("org-1").is_some());
}

#[tokio::test]
async fn one_test_call_per_organisation_and_a_few_per_bridge() {
    // GIVEN a bridge with a test call of org-0
    let bridge = sim_bridge();
    let first = bridge.reserve_test_call("org-0").expect("a seat");
    // THEN org-0 cannot start another
    assert!(bridge.reserve_test_call("org-0").is_none());
    // and other organisations can, up to the bridge's limit
    let others: Vec<_> = (1..MAX_TEST_CALLS)
        .map(|i| {
            bridge
                .reserve_test_call(&format!("org-{i}"))
                .expect("a seat")
        })
        .collect();
    assert!(bridge.reserve_test_call("org-late").is_none());
    // WHEN org-0's call ends, its place is free again
    drop(first);
    assert!(bridge.reserve_test_call("org-0").is_some());
    // and no test call starts once the bridge drains
    drop(others);
    bridge.begin_shutdown();
    assert!(bridge.reserve_test_call("org-1").is_none());
}
