//! Hostile media sockets (issue 10, item 2): what the bridge refuses before
//! any call runs, and what one socket may make it buffer.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as AxMessage, close_code};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as TsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use voxdial_bridge::{Bridge, BridgeConfig, MemoryHost, Protocol};
use voxdial_conversation::{AgentConfig, CallContext};
use voxdial_domain::{CallId, CampaignId};
use voxdial_gemini::socket::ChannelConnector;
use voxdial_sim::voice::{VoiceSim, VoiceSimConfig, serve_socket};

use common::Mem;

/// The test's end of an in-memory socket.
struct Peer {
    tx: mpsc::UnboundedSender<AxMessage>,
    rx: mpsc::UnboundedReceiver<AxMessage>,
}

impl Peer {
    /// The close code the bridge sent, skipping anything before it; `None`
    /// when it closed without one.
    async fn close_code(&mut self) -> Option<u16> {
        while let Some(m) = self.rx.recv().await {
            if let AxMessage::Close(frame) = m {
                return frame.map(|f| f.code);
            }
        }
        None
    }
}

fn pair() -> (Mem, Peer) {
    let (to_bridge, bridge_rx) = mpsc::unbounded_channel();
    let (bridge_tx, from_bridge) = mpsc::unbounded_channel();
    (
        Mem {
            tx: bridge_tx,
            rx: bridge_rx,
        },
        Peer {
            tx: to_bridge,
            rx: from_bridge,
        },
    )
}

/// A Twilio `start` for `call_id` carrying `token`.
fn twilio_start(call_id: &str, token: &str) -> AxMessage {
    AxMessage::Text(
        format!(
            r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC1","streamSid":"MZ{call_id}","callSid":"CA{call_id}","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{"call_id":"{call_id}","token":"{token}"}}}},"streamSid":"MZ{call_id}"}}"#
        )
        .into(),
    )
}

fn bridge_with(host: Arc<MemoryHost>, cfg: BridgeConfig) -> Bridge<MemoryHost, ChannelConnector> {
    let (conn, mut accept) = ChannelConnector::new();
    let sim = VoiceSim::new(VoiceSimConfig::default());
    tokio::spawn(async move {
        while let Some(s) = accept.recv().await {
            tokio::spawn(serve_socket(sim.clone(), s));
        }
    });
    Bridge::new(cfg, host, Arc::new(conn))
}

fn host() -> Arc<MemoryHost> {
    let ctx = CallContext::with_agent(CampaignId::parse("c1").unwrap(), AgentConfig::default());
    Arc::new(MemoryHost::new(ctx))
}

fn l1() -> CallId {
    CallId::parse("L1").unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_stream_s_token_goes_to_the_host_for_admission() {
    let host = host();
    let bridge = bridge_with(host.clone(), BridgeConfig::default());
    let (socket, peer) = pair();
    let b = bridge.clone();
    let served = tokio::spawn(async move { b.serve_stream(socket, Protocol::Twilio).await });
    peer.tx.send(twilio_start("L1", "tok-L1")).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bridge.live_calls(), 1);
    assert_eq!(host.call(&l1()).admitted_with, Some(Some("tok-L1".into())));
    drop(peer);
    served.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_stream_the_host_refuses_is_closed_1008_and_runs_nothing() {
    // GIVEN a call the host says has ended
    let host = host();
    host.end_call(l1());
    let bridge = bridge_with(host.clone(), BridgeConfig::default());
    let (socket, mut peer) = pair();
    let b = bridge.clone();
    let served = tokio::spawn(async move { b.serve_stream(socket, Protocol::Twilio).await });
    // WHEN a stream starts for it
    peer.tx.send(twilio_start("L1", "tok")).unwrap();
    // THEN it is closed as a policy violation, and nothing of the call is
    // written (no recording, transcript or report overwritten)
    assert_eq!(peer.close_code().await, Some(close_code::POLICY));
    served.await.unwrap();
    let call = host.call(&l1());
    assert!(call.report.is_none() && call.recording.is_none() && call.transcript.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_second_stream_for_a_live_call_is_refused() {
    let host = host();
    let bridge = bridge_with(host.clone(), BridgeConfig::default());
    let (first, first_peer) = pair();
    let b = bridge.clone();
    tokio::spawn(async move { b.serve_stream(first, Protocol::Twilio).await });
    first_peer.tx.send(twilio_start("L1", "tok")).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(bridge.live_calls(), 1);
    // WHEN another socket starts the same call
    let (second, mut second_peer) = pair();
    let b = bridge.clone();
    let served = tokio::spawn(async move { b.serve_stream(second, Protocol::Twilio).await });
    second_peer.tx.send(twilio_start("L1", "tok")).unwrap();
    // THEN it is refused; the first call goes on alone
    assert_eq!(second_peer.close_code().await, Some(close_code::POLICY));
    served.await.unwrap();
    assert_eq!(bridge.live_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_never_starts_is_closed_at_the_deadline() {
    let bridge = bridge_with(host(), BridgeConfig::default());
    let (socket, mut peer) = pair();
    let b = bridge.clone();
    let served = tokio::spawn(async move { b.serve_stream(socket, Protocol::SansPbx).await });
    // the socket sends only noise, never `start`
    peer.tx.send(AxMessage::Text("{}".into())).unwrap();
    assert_eq!(peer.close_code().await, Some(close_code::POLICY));
    served.await.unwrap();
    assert_eq!(bridge.live_calls(), 0);
}

/// The bridge's router on 127.0.0.1.
async fn serve(cfg: BridgeConfig) -> (std::net::SocketAddr, Arc<MemoryHost>) {
    let host = host();
    let bridge = bridge_with(host.clone(), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = bridge.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, host)
}

/// The HTTP status of a WebSocket upgrade to `url`.
async fn upgrade_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("upgrade to {url} failed: {e}"),
    }
}

#[tokio::test]
async fn sanspbx_streams_need_their_token_always() {
    // Finding: `/media/sanspbx` accepted a WebSocket with no token (101).
    let (open, _) = serve(BridgeConfig::default()).await;
    assert_eq!(
        upgrade_status(&format!("ws://{open}/media/sanspbx")).await,
        403
    );
    let (addr, _) = serve(BridgeConfig {
        sanspbx_token: Some("pbx-secret".into()),
        ..BridgeConfig::default()
    })
    .await;
    for query in ["", "?token=", "?token=pbx-secre", "?token=pbx-secret2"] {
        let url = format!("ws://{addr}/media/sanspbx{query}");
        assert_eq!(upgrade_status(&url).await, 403, "{query}");
    }
    let url = format!("ws://{addr}/media/sanspbx?token=pbx-secret");
    assert_eq!(upgrade_status(&url).await, 101);
}

#[tokio::test]
async fn a_60_mb_fragmented_message_is_closed_1009_without_being_buffered() {
    // GIVEN an unauthenticated socket on the bridge
    let (addr, _) = serve(BridgeConfig::default()).await;
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/media/twilio"))
        .await
        .unwrap();
    let (mut tx, mut rx) = ws.split();
    // WHEN it sends one 60 MiB text message in 16 KiB fragments (each
    // under the frame limit: only their sum is too big)
    let sender = tokio::spawn(async move {
        const FRAGMENT: usize = 16 << 10;
        const FRAGMENTS: usize = (60 << 20) / FRAGMENT;
        for n in 0..FRAGMENTS {
            let opcode = if n == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let header = FrameHeader {
                is_final: n == FRAGMENTS - 1,
                opcode,
                ..FrameHeader::default()
            };
            let frame = Frame::from_payload(header, vec![b'a'; FRAGMENT].into());
            if tx.send(TsMessage::Frame(frame)).await.is_err() {
                return;
            }
        }
    });
    // THEN the bridge closes it with 1009 (message too big)
    let code = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(m) = rx.next().await {
            match m {
                Ok(TsMessage::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the bridge closes the socket");
    assert_eq!(code, Some(close_code::SIZE));
    sender.abort();
}
