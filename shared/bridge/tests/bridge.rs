//! The bridge end to end: simulated caller ⇄ bridge ⇄ simulated Gemini,
//! once over in-memory channels (paused clock) and once over real sockets
//! on 127.0.0.1.

use std::convert::Infallible;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message as AxMessage;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TsMessage;
use voxdial_bridge::{Bridge, BridgeConfig, MemoryHost, Protocol};
use voxdial_conversation::{AgentConfig, CallContext, EndReason, HumanAgent, LiveEvent};
use voxdial_domain::{CallId, CampaignId, Disposition, E164, HumanAgentId};
use voxdial_gemini::socket::ChannelConnector;
use voxdial_gemini::{WsConnector, duplex};
use voxdial_sim::caller::{CallerConfig, ProbeLog, StreamFormat, run_caller, run_on_socket};
use voxdial_sim::voice::{Persona, VoiceSim, VoiceSimConfig, serve_socket, serve_tcp};
use voxdial_wire::gemini::LiveEndpoint;
use voxdial_wire::twilio::signature::SigningKeys;

/// An in-memory socket of axum messages.
struct Mem {
    tx: mpsc::UnboundedSender<AxMessage>,
    rx: mpsc::UnboundedReceiver<AxMessage>,
}

impl Stream for Mem {
    type Item = Result<AxMessage, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<AxMessage> for Mem {
    type Error = Infallible;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: AxMessage) -> Result<(), Infallible> {
        let _ = self.tx.send(item);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        let (tx, _) = mpsc::unbounded_channel();
        self.tx = tx;
        Poll::Ready(Ok(()))
    }
}

/// A bridge-side socket (axum messages) wired to a caller-side socket
/// (tungstenite messages).
fn provider_pair() -> (Mem, voxdial_gemini::socket::ChannelSocket) {
    let (caller_end, relay) = duplex();
    let (to_bridge, bridge_rx) = mpsc::unbounded_channel();
    let (bridge_tx, mut from_bridge) = mpsc::unbounded_channel::<AxMessage>();
    let (mut relay_tx, mut relay_rx) = relay.split();
    tokio::spawn(async move {
        while let Some(Ok(m)) = relay_rx.next().await {
            if let TsMessage::Text(t) = m
                && to_bridge.send(AxMessage::Text(t.as_str().into())).is_err()
            {
                break;
            }
        }
        drop(to_bridge);
    });
    tokio::spawn(async move {
        while let Some(m) = from_bridge.recv().await {
            if let AxMessage::Text(t) = m
                && relay_tx.send(TsMessage::text(t.as_str())).await.is_err()
            {
                break;
            }
        }
        let _ = relay_tx.close().await;
    });
    (
        Mem {
            tx: bridge_tx,
            rx: bridge_rx,
        },
        caller_end,
    )
}

fn context(persona: &str) -> CallContext {
    let mut ctx = CallContext::with_agent(CampaignId::parse("c1").unwrap(), AgentConfig::default());
    ctx.lead_name = Some("L1".into());
    ctx.custom_fields.insert("persona".into(), persona.into());
    ctx.record = true;
    ctx
}

fn human() -> HumanAgent {
    HumanAgent {
        id: HumanAgentId::parse("h1").unwrap(),
        number: E164::from_trusted("+14155550100").unwrap(),
        name: "Priya".into(),
    }
}

/// One Twilio call in memory on a paused clock.
async fn in_memory_call(
    persona: &str,
) -> (
    voxdial_bridge::MemoryCall,
    voxdial_sim::caller::CallerReport,
) {
    in_memory_call_as(persona, StreamFormat::Twilio).await
}

/// One call in memory on a paused clock, in either provider's format.
async fn in_memory_call_as(
    persona: &str,
    format: StreamFormat,
) -> (
    voxdial_bridge::MemoryCall,
    voxdial_sim::caller::CallerReport,
) {
    let host = Arc::new(MemoryHost::new(context(persona)));
    let report = in_memory_call_on(host.clone(), persona, format).await;
    (host.call(&CallId::parse("L1").unwrap()), report)
}

/// One call on `host`, in memory on a paused clock.
async fn in_memory_call_on(
    host: Arc<MemoryHost>,
    persona: &str,
    format: StreamFormat,
) -> voxdial_sim::caller::CallerReport {
    host.add_agent(human(), vec![]);
    let spool = tempfile::tempdir().unwrap();
    let bridge = sim_bridge(&host, spool.path());
    let (bridge_end, caller_end) = provider_pair();
    let b = bridge.clone();
    let protocol = match format {
        StreamFormat::Twilio => Protocol::Twilio,
        StreamFormat::SansPbx => Protocol::SansPbx,
    };
    let served = tokio::spawn(async move { b.serve_stream(bridge_end, protocol).await });
    let mut cfg = CallerConfig::new("mem://", "L1", Persona::by_name(persona).unwrap());
    cfg.max_duration = Duration::from_secs(60);
    cfg.format = format;
    let report = run_on_socket(cfg, caller_end).await.unwrap();
    served.await.unwrap();
    assert_eq!(bridge.live_calls(), 0);
    assert_eq!(
        spooled(spool.path()),
        0,
        "the spooled recording went with the call"
    );
    report
}

/// A bridge over `host` and a simulated voice model, spooling recordings
/// under `spool`.
fn sim_bridge(host: &Arc<MemoryHost>, spool: &Path) -> Bridge<MemoryHost, ChannelConnector> {
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig::default());
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    let config = BridgeConfig {
        recording_dir: spool.to_path_buf(),
        ..BridgeConfig::default()
    };
    Bridge::new(config, host.clone(), Arc::new(conn))
}

/// Spooled call recordings under `dir`.
fn spooled(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            n += spooled(&entry.path());
        } else if entry.file_name().to_string_lossy().ends_with(".wav") {
            n += 1;
        }
    }
    n
}

#[tokio::test(start_paused = true)]
async fn a_call_cancelled_mid_call_leaves_no_spooled_recording() {
    // GIVEN a recorded call that has been talking for a while (2 s of its
    // simulated time)
    let host = Arc::new(MemoryHost::new(context("interested")));
    let spool = tempfile::tempdir().unwrap();
    let bridge = sim_bridge(&host, spool.path());
    let (bridge_end, caller_end) = provider_pair();
    let b = bridge.clone();
    let served = tokio::spawn(async move { b.serve_stream(bridge_end, Protocol::Twilio).await });
    let mut cfg = CallerConfig::new("mem://", "L1", Persona::by_name("interested").unwrap());
    cfg.max_duration = Duration::from_secs(60);
    let caller = tokio::spawn(run_on_socket(cfg, caller_end));
    let mut ticks = 0;
    while spooled(spool.path()) == 0 || ticks < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ticks += 1;
        assert!(ticks < 3_000, "the call never spooled its recording");
    }
    assert_eq!(bridge.live_calls(), 1);
    // WHEN its task is cancelled (as a runtime shutting down does)
    served.abort();
    assert!(served.await.unwrap_err().is_cancelled());
    // THEN its spooled file is gone, and nothing was stored
    assert_eq!(spooled(spool.path()), 0);
    assert!(host.call(&CallId::parse("L1").unwrap()).recording.is_none());
    caller.abort();
}

#[tokio::test(start_paused = true)]
async fn in_memory_interested_caller_reaches_an_outcome() {
    let (call, caller) = in_memory_call("interested").await;
    let report = call.report.expect("report stored");
    assert_eq!(
        report.disposition,
        Some(Disposition::Interested),
        "{report:?}"
    );
    assert_eq!(call.dispositions, vec![Disposition::Interested]);
    assert_eq!(report.end_reason, Some(EndReason::AgentHungUp));
    assert!(call.hung_up);
    assert!(caller.closed_by_bridge);
    assert!(caller.media_received > 200, "{}", caller.media_received);
    assert!(caller.marks_echoed > 0);
    // greeting, two caller turns, two replies
    let agent_turns = call
        .transcript
        .iter()
        .filter(|t| t.speaker == voxdial_conversation::Speaker::Agent)
        .count();
    assert!(agent_turns >= 3, "{:#?}", call.transcript);
    assert!(
        call.transcript
            .iter()
            .any(|t| t.text.contains("sign me up"))
    );
    let wav = voxdial_media::wav::parse(call.recording.as_ref().unwrap()).unwrap();
    assert_eq!(wav.spec.channels, 2);
    let amd = report.amd.unwrap();
    assert_eq!(amd.verdict, voxdial_domain::AnsweredBy::Human);
    assert!(
        report
            .metrics
            .turns
            .iter()
            .all(|t| t.first_audio_ms.is_some())
    );
}

#[tokio::test(start_paused = true)]
async fn watchers_see_the_transcript_grow_and_listeners_hear_the_call() {
    // GIVEN a host whose calls have a listener
    let host = Arc::new(MemoryHost::new(context("interested")));
    host.set_listening(true);
    // WHEN a call runs to its end
    in_memory_call_on(host.clone(), "interested", StreamFormat::Twilio).await;
    let id = CallId::parse("L1").unwrap();
    let (live, call) = (host.live(&id), host.call(&id));
    // THEN its live feed carried every transcript line, as the lines grew
    let lines: Vec<_> = live
        .events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Line {
                index, transcript, ..
            } => Some((*index, transcript.clone())),
            _ => None,
        })
        .collect();
    for (index, turn) in call.transcript.iter().enumerate() {
        if !turn.text.trim().is_empty() {
            let last = lines.iter().rev().find(|(i, _)| *i == index);
            assert_eq!(
                last.map(|l| l.1.as_str()),
                Some(turn.text.trim()),
                "{lines:?}"
            );
        }
    }
    assert!(
        lines.iter().any(|(_, t)| t.contains("sign me up")),
        "{lines:?}"
    );
    // the verdict and the states as they happened
    assert!(live.events.iter().any(|e| matches!(
        e,
        LiveEvent::Amd {
            verdict: voxdial_domain::AnsweredBy::Human,
            ..
        }
    )));
    assert!(live.events.contains(&LiveEvent::State {
        state: "listening".into()
    }));
    // and the listener got 20 ms of mixed μ-law per caller frame
    assert!(live.audio_bytes >= 160 * 100, "{}", live.audio_bytes);
    assert_eq!(live.audio_bytes % 160, 0);
}

#[tokio::test(start_paused = true)]
async fn watchers_see_each_barge_in_as_it_happens() {
    let host = Arc::new(MemoryHost::new(context("barge_in")));
    in_memory_call_on(host.clone(), "barge_in", StreamFormat::Twilio).await;
    let id = CallId::parse("L1").unwrap();
    let barge_ins = host.call(&id).report.unwrap().metrics.barge_ins;
    let counts: Vec<u32> = host
        .live(&id)
        .events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::BargeIn { count } => Some(*count),
            _ => None,
        })
        .collect();
    assert!(barge_ins >= 1);
    assert_eq!(counts, (1..=barge_ins).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn without_a_listener_no_audio_is_published() {
    let host = Arc::new(MemoryHost::new(context("interested")));
    in_memory_call_on(host.clone(), "interested", StreamFormat::Twilio).await;
    let live = host.live(&CallId::parse("L1").unwrap());
    assert_eq!(live.audio_bytes, 0);
    assert!(!live.events.is_empty());
}

#[tokio::test(start_paused = true)]
async fn in_memory_sanspbx_pcm16_stream_reaches_an_outcome() {
    // GIVEN a SansPBX stream (PCM16 8 kHz in, `reverse-media` out)
    let (call, caller) = in_memory_call_as("interested", StreamFormat::SansPbx).await;
    // THEN the conversation runs as on Twilio: the model heard the
    // caller's PCM16 speech (its transcript of both caller turns) and the
    // caller heard the agent, addressed to its own stream id
    let report = call.report.expect("report stored");
    assert_eq!(
        report.disposition,
        Some(Disposition::Interested),
        "{report:?}"
    );
    assert_eq!(report.end_reason, Some(EndReason::AgentHungUp));
    assert!(call.hung_up);
    assert!(caller.closed_by_bridge);
    assert!(caller.media_received > 200, "{}", caller.media_received);
    assert_eq!(caller.stream_id_seen.as_deref(), Some("MZL1"));
    assert!(call.transcript.iter().any(
        |t| t.speaker == voxdial_conversation::Speaker::Caller && t.text.contains("sign me up")
    ));
    // and, SansPBX having neither, no mark and no clear was sent
    assert_eq!((caller.marks_echoed, caller.clears), (0, 0));
    assert_eq!(
        report.amd.unwrap().verdict,
        voxdial_domain::AnsweredBy::Human
    );
    assert!(
        report
            .metrics
            .turns
            .iter()
            .all(|t| t.first_audio_ms.is_some())
    );
}

#[tokio::test(start_paused = true)]
async fn a_click_comes_through_after_the_filter_delay_only_both_ways() {
    // GIVEN a simulated Gemini and caller in probe mode: each sends a click
    // at sample 0 of a frame (20 ms at 8 kHz; 40 ms at 24 kHz) every 500 ms
    let log = Arc::new(ProbeLog::default());
    let mut ctx = context("silent");
    ctx.answered_by = Some(voxdial_domain::AnsweredBy::Human);
    let host = Arc::new(MemoryHost::new(ctx));
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig {
        probe: Some(log.clone()),
        ..VoiceSimConfig::default()
    });
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    let bridge = Bridge::new(BridgeConfig::default(), host, Arc::new(conn));
    let (bridge_end, caller_end) = provider_pair();
    let b = bridge.clone();
    tokio::spawn(async move { b.serve_stream(bridge_end, Protocol::Twilio).await });
    let mut cfg = CallerConfig::new("mem://", "L1", Persona::by_name("silent").unwrap());
    cfg.probe = Some(log.clone());
    cfg.max_duration = Duration::from_secs(6);
    run_on_socket(cfg, caller_end).await.unwrap();
    // WHEN each side looks for the other's clicks in what it receives
    let r = log.result();
    // THEN every click is there, in the frame sent at the same time, moved
    // only by the filters' group delay: 29 samples at 16 kHz (1.81 ms)
    // towards the model, 15 at 8 kHz (1.875 ms) towards the caller
    assert!(r.inbound_offsets.len() >= 10, "{r:?}");
    assert!(r.outbound_offsets.len() >= 10, "{r:?}");
    assert!(r.inbound_offsets.iter().all(|&o| o == 29), "{r:?}");
    assert!(r.outbound_offsets.iter().all(|&o| o == 15), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn in_memory_barge_in_clears_the_provider() {
    let (call, caller) = in_memory_call("barge_in").await;
    assert!(caller.clears >= 1, "clear sent");
    let report = call.report.unwrap();
    assert!(report.metrics.barge_ins >= 1);
    assert!(call.transcript.iter().any(|t| t.interrupted));
}

#[tokio::test(start_paused = true)]
async fn in_memory_transfer_and_opt_out_and_voicemail() {
    let (call, _) = in_memory_call("transfer").await;
    assert_eq!(call.transfers.len(), 1);
    assert_eq!(call.transfers[0].to.name, "Priya");
    assert!(call.dispositions.contains(&Disposition::Transferred));

    let (call, _) = in_memory_call("opt_out").await;
    assert!(call.opted_out);
    assert!(call.dispositions.contains(&Disposition::OptedOut));

    let (call, caller) = in_memory_call("voicemail").await;
    let r = call.report.unwrap();
    assert_eq!(r.end_reason, Some(EndReason::VoicemailLeft));
    assert!(r.amd.unwrap().verdict.is_machine());
    let clip = voxdial_media::assets::voicemail_default()
        .duration()
        .as_millis() as u64;
    assert!(caller.media_received * 20 >= clip, "whole message played");
}

/// GIVEN a call whose provider verdict is due, a human caller, and the
/// provider's "machine" verdict stored after the stream started (as the
/// status-callback function stores it on AWS, where nothing pushes it to
/// the bridge)
/// WHEN the call runs
/// THEN the bridge finds the verdict and acts on it: the provider's
/// machine verdict, a voicemail left (without it, the local detector hears
/// a human and the agent talks)
#[tokio::test(start_paused = true)]
async fn a_provider_verdict_stored_elsewhere_reaches_the_live_call() {
    let mut ctx = context("interested");
    ctx.provider_verdict_due = true;
    let host = Arc::new(MemoryHost::new(ctx));
    host.set_answered_by(
        CallId::parse("L1").unwrap(),
        voxdial_domain::AnsweredBy::MachineStart,
    );
    in_memory_call_on(host.clone(), "interested", StreamFormat::Twilio).await;
    let report = host.call(&CallId::parse("L1").unwrap()).report.unwrap();
    let amd = report.amd.unwrap();
    assert_eq!(
        (amd.verdict, amd.source),
        (
            voxdial_domain::AnsweredBy::MachineStart,
            voxdial_conversation::VerdictSource::Provider
        )
    );
    assert_eq!(report.end_reason, Some(EndReason::VoicemailLeft));
}

#[tokio::test]
async fn loopback_sockets_with_signature_and_go_away() {
    // GIVEN a simulated Gemini on 127.0.0.1 that says goAway after 3 s
    let sim = VoiceSim::new(VoiceSimConfig {
        go_away_after: Some(Duration::from_secs(3)),
        go_away_time_left: Duration::from_millis(500),
        latency: Duration::from_millis(100),
        latency_jitter: Duration::ZERO,
        speed: 4.0,
        ..VoiceSimConfig::default()
    });
    let gl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gaddr = gl.local_addr().unwrap();
    tokio::spawn(serve_tcp(gl, sim.clone()));
    // and the bridge on 127.0.0.1 checking signatures
    let host = Arc::new(MemoryHost::new(context("interested")));
    let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let baddr = bl.local_addr().unwrap();
    let endpoint = LiveEndpoint {
        host: gaddr.to_string(),
        insecure: true,
        ..LiveEndpoint::default()
    };
    let public = "wss://media.example.com".to_owned();
    let bridge = Bridge::new(
        BridgeConfig {
            public_wss_base: public.clone(),
            twilio_keys: Some(SigningKeys::auth_token("secret")),
            ..BridgeConfig::default()
        },
        host.clone(),
        Arc::new(WsConnector::new(&endpoint, Some("test-key".into()))),
    );
    let app = bridge.router();
    tokio::spawn(async move { axum::serve(bl, app).await.unwrap() });
    let ml = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let maddr = ml.local_addr().unwrap();
    let metrics = bridge.metrics_router();
    tokio::spawn(async move { axum::serve(ml, metrics).await.unwrap() });
    let url = format!("ws://{baddr}/media/twilio");

    // a wrong signature is refused
    let mut bad = CallerConfig::new(url.clone(), "L1", Persona::by_name("interested").unwrap());
    bad.auth_token = Some("wrong".into());
    bad.signed_url = Some(format!("{public}/media/twilio"));
    assert!(run_caller(bad).await.is_err());

    // WHEN a signed call runs (2x real time)
    let mut cfg = CallerConfig::new(url, "L1", Persona::by_name("interested").unwrap());
    cfg.auth_token = Some("secret".into());
    cfg.signed_url = Some(format!("{public}/media/twilio"));
    cfg.time_scale = 2.0;
    cfg.max_duration = Duration::from_secs(60);
    let caller = run_caller(cfg).await.unwrap();
    // THEN it completes across the goAway, resumed with a handle (the
    // bridge finishes the call's report as the caller leaves: a minute is
    // a hang guard, not a speed requirement)
    for _ in 0..3_000 {
        if bridge.live_calls() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let call = host.call(&CallId::parse("L1").unwrap());
    let report = call.report.expect("report");
    assert!(caller.closed_by_bridge);
    assert!(report.metrics.model_resumes >= 1, "{report:?}");
    assert_eq!(report.disposition, Some(Disposition::Interested));
    {
        let setups = sim.setups.lock().unwrap();
        assert!(setups.len() >= 2);
        assert!(
            setups[1]
                .session_resumption
                .as_ref()
                .unwrap()
                .handle
                .is_some()
        );
    }
    // health and metrics (on their own listener, not the public one)
    assert!(http_get(baddr, "/metrics").await.contains("404"));
    let body = http_get(maddr, "/metrics").await;
    assert!(body.contains("voxdial_bridge_live_calls 0"), "{body}");
    assert!(body.contains("voxdial_bridge_rejected_total 1"), "{body}");
    // the ended call's report is folded into the per-call metrics
    assert!(
        body.contains("voxdial_bridge_calls_ended_total{reason=\"agent_hung_up\"} 1"),
        "{body}"
    );
    let first_audio = body
        .lines()
        .find_map(|l| l.strip_prefix("voxdial_bridge_first_agent_audio_ms_count "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(first_audio.is_some_and(|n| n >= 1), "{body}");
    assert!(
        body.contains("voxdial_bridge_model_resumes_total "),
        "{body}"
    );
    assert!(
        body.contains("voxdial_bridge_amd_verdict_latency_ms_count 1"),
        "{body}"
    );
    assert!(http_get(baddr, "/healthz").await.ends_with("ok"));
    assert_eq!(bridge.drain(Duration::from_secs(1)).await, 0);
    assert!(http_get(baddr, "/healthz").await.contains("503"));
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_live_calls() {
    let host = Arc::new(MemoryHost::new(context("silent")));
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig::default());
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    let bridge = Bridge::new(BridgeConfig::default(), host.clone(), Arc::new(conn));
    let (bridge_end, caller_end) = provider_pair();
    let b = bridge.clone();
    tokio::spawn(async move { b.serve_stream(bridge_end, Protocol::Twilio).await });
    let mut cfg = CallerConfig::new("mem://", "L1", Persona::by_name("silent").unwrap());
    cfg.max_duration = Duration::from_secs(300);
    let caller = tokio::spawn(run_on_socket(cfg, caller_end));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(bridge.live_calls(), 1);
    assert_eq!(bridge.drain(Duration::from_secs(30)).await, 0);
    let r = host.call(&CallId::parse("L1").unwrap()).report.unwrap();
    assert_eq!(r.end_reason, Some(EndReason::Shutdown));
    assert!(caller.await.unwrap().unwrap().closed_by_bridge);
}
