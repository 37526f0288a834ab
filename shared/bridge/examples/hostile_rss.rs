//! The bridge's RSS under hostile sockets: 8 unauthenticated clients each
//! send a 60 MiB text message in 16 KiB fragments (each frame under the
//! frame limit, their sum far over the 64 KiB message limit).
//!
//! ```text
//! cargo run --release -p voxdial-bridge --example hostile_rss [SOCKETS=8] [MIB=60]
//! ```
//!
//! The bridge runs in its own process (this binary, re-executed with
//! `--bridge-child`) so its RSS is its own. Printed: the bridge's RSS idle,
//! its peak while the sockets send, the close code each socket got and how
//! much it had sent by then. Before the limits, 8 such sockets took the
//! bridge from 143 MB to 790 MB.
#![allow(clippy::disallowed_methods, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use voxdial_bridge::{Bridge, BridgeConfig, MemoryHost};
use voxdial_conversation::{AgentConfig, CallContext};
use voxdial_domain::CampaignId;
use voxdial_gemini::WsConnector;
use voxdial_wire::gemini::LiveEndpoint;

const FRAGMENT: usize = 16 << 10;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

async fn bridge_child() {
    let ctx = CallContext::with_agent(CampaignId::parse("c").unwrap(), AgentConfig::default());
    let endpoint = LiveEndpoint {
        host: "127.0.0.1:9".into(),
        insecure: true,
        ..LiveEndpoint::default()
    };
    let bridge = Bridge::new(
        BridgeConfig::default(),
        Arc::new(MemoryHost::new(ctx)),
        Arc::new(WsConnector::new(&endpoint, None)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, bridge.router()).await.unwrap();
}

/// Sends one `mib` MiB fragmented message; returns the close code and the
/// bytes sent before the bridge closed the socket.
async fn hostile(url: String, mib: usize, sent: Arc<AtomicU64>) -> Option<u16> {
    let (ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    let (mut tx, mut rx) = ws.split();
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let sender = tokio::spawn(async move {
        let fragments = (mib << 20) / FRAGMENT;
        for n in 0..fragments {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let header = FrameHeader {
                is_final: n + 1 == fragments,
                opcode: if n == 0 {
                    OpCode::Data(Data::Text)
                } else {
                    OpCode::Data(Data::Continue)
                },
                ..FrameHeader::default()
            };
            let frame = Frame::from_payload(header, vec![b'a'; FRAGMENT].into());
            if tx.send(Message::Frame(frame)).await.is_err() {
                return;
            }
            sent.fetch_add(FRAGMENT as u64, Ordering::Relaxed);
        }
    });
    let mut code = None;
    while let Some(m) = rx.next().await {
        match m {
            Ok(Message::Close(frame)) => {
                code = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    done.store(true, Ordering::Relaxed);
    sender.abort();
    code
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bridge-child") {
        return bridge_child().await;
    }
    let sockets: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let mib: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--bridge-child")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the bridge process");
    let pid = child.id();
    let mut addr = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let url = format!("ws://{}/media/twilio", addr.trim());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(idle));
    let watcher = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..sockets {
        let sent = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(hostile(url.clone(), mib, sent.clone()));
        tasks.push((task, sent));
    }
    for (i, (task, sent)) in tasks.into_iter().enumerate() {
        let code = task.await.unwrap();
        println!(
            "socket {i}: close code {code:?} after {} KiB sent",
            sent.load(Ordering::Relaxed) >> 10
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    watcher.abort();
    let after = rss_kib(pid);
    println!(
        "bridge RSS: idle {} MiB, peak {} MiB, after {} MiB ({sockets} sockets x {mib} MiB)",
        idle >> 10,
        peak.load(Ordering::Relaxed) >> 10,
        after >> 10
    );
    let _ = child.kill();
    let _ = child.wait();
}
