//! Listen-in and live-event sockets relayed to the bridge task that holds
//! the call.
//!
//! On AWS the load balancer sends a console's socket to any media-bridge
//! task, while a call lives on one. A task that does not hold the call
//! looks it up in the fleet's reports (`voxdial_domain::holder_of`: the
//! calls each task holds and its private address) and relays the socket
//! there: it opens the same path and query (the ticket) on the holder
//! with the caller's credential headers and [`HOP`], and copies messages
//! both ways until either side closes. The holder checks the credential,
//! scopes and audits as for a socket of its own, and its refusal (401 for
//! an expired ticket, 409 for a call that just ended) is this request's
//! answer. A socket that arrives with [`HOP`] is never relayed again, so a
//! stale report costs one 409, never a loop. A report gives a call's
//! holder within a second of its stream starting (`voxdial_bridge::fleet`).
//!
//! Locally one process holds every call and its reports carry no address:
//! nothing is relayed.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tracing::{info, warn};
use voxdial_app::{Caller, Engine};
use voxdial_domain::{CallId, holder_of};

use crate::ApiError;
use crate::auth::Credential;

/// The header a relayed socket carries: its task answers it itself.
pub const HOP: &str = "x-voxdial-relayed";

/// How long the holder gets to accept the relayed socket.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The caller's headers the holder needs to check them as this task did.
const CARRIED: [&str; 3] = ["authorization", "cookie", "origin"];

/// What a live call's socket (listen-in, live events) checks before it is
/// served here or relayed: the call id, the caller's organisation first
/// (another's call is 404 whatever the request), a signed-in browser's
/// `Origin` (403 cross-site, `doing` naming the socket), then the upgrade.
pub(crate) async fn admit(
    engine: &Engine,
    caller: &Caller,
    credential: &Credential,
    id: String,
    headers: &HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    doing: &str,
) -> Result<(CallId, WebSocketUpgrade), ApiError> {
    let id = CallId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
    engine.call_in(&caller.org_id, &id).await?;
    if credential.cross_site(headers) {
        return Err(ApiError::new(
            403,
            format!("{doing} with a session needs this site's Origin"),
        ));
    }
    let ws =
        ws.map_err(|rejection| ApiError::new(rejection.status().as_u16(), rejection.body_text()))?;
    Ok((id, ws))
}

/// Relays the socket to the task holding `call`, or answers 409 when no
/// other task does (or this request was relayed already).
pub(crate) async fn to_holder(
    engine: &Engine,
    call: &CallId,
    ws: WebSocketUpgrade,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let not_here = || ApiError::new(409, format!("call {call} is not live here"));
    if headers.contains_key(HOP) {
        return Err(not_here());
    }
    let Some(fleet) = engine.bridge_fleet() else {
        return Err(not_here());
    };
    let loads = fleet
        .bridge_loads(engine.clock().now())
        .await
        .map_err(|e| {
            warn!(error = %e, call_id = %call, "cannot read the bridge fleet to relay a socket");
            ApiError::from(voxdial_app::AppError::from(e))
        })?;
    let peer = holder_of(&loads, call).ok_or_else(not_here)?;
    let upstream = connect(peer, uri, headers).await?;
    info!(call_id = %call, %peer, "socket relayed to the task holding the call");
    Ok(ws.on_upgrade(move |socket| relay(socket, upstream)))
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the same path and query on `peer`, with the caller's credential.
async fn connect(peer: SocketAddr, uri: &Uri, headers: &HeaderMap) -> Result<Upstream, ApiError> {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let mut request = format!("ws://{peer}{path}")
        .into_client_request()
        .map_err(|e| ApiError::new(400, format!("cannot relay this request: {e}")))?;
    for name in CARRIED {
        if let Some(value) = headers.get(name) {
            request.headers_mut().insert(name, value.clone());
        }
    }
    request
        .headers_mut()
        .insert(HOP, HeaderValue::from_static("1"));
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(WsError::Http(refusal))) => {
            let body = refusal
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            Err(ApiError::new(
                refusal.status().as_u16(),
                format!("the task holding the call refused: {body}"),
            ))
        }
        Ok(Err(e)) => Err(ApiError::new(
            502,
            format!("the task holding the call cannot be reached: {e}"),
        )),
        Err(_) => Err(ApiError::new(
            504,
            "the task holding the call did not answer",
        )),
    }
}

/// Copies messages both ways until either side closes or fails; each side
/// answers its own pings.
async fn relay(client: WebSocket, upstream: Upstream) {
    let (mut client_tx, mut client_rx) = client.split();
    let (mut upstream_tx, mut upstream_rx) = upstream.split();
    loop {
        tokio::select! {
            message = upstream_rx.next() => {
                let Some(Ok(message)) = message else {
                    let gone = CloseFrame { code: 1011, reason: "the task holding the call went away".into() };
                    let _ = client_tx.send(Message::Close(Some(gone))).await;
                    return;
                };
                let Some(message) = to_client(message) else { continue };
                let last = matches!(message, Message::Close(_));
                if client_tx.send(message).await.is_err() || last {
                    return;
                }
            }
            message = client_rx.next() => {
                let Some(Ok(message)) = message else {
                    let _ = upstream_tx.close().await;
                    return;
                };
                let Some(message) = to_upstream(message) else { continue };
                let last = matches!(message, WsMessage::Close(_));
                if upstream_tx.send(message).await.is_err() || last {
                    return;
                }
            }
        }
    }
}

fn to_client(message: WsMessage) -> Option<Message> {
    Some(match message {
        WsMessage::Text(text) => Message::Text(text.as_str().into()),
        WsMessage::Binary(bytes) => Message::Binary(bytes),
        WsMessage::Close(frame) => Message::Close(frame.map(|f| CloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().into(),
        })),
        WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => return None,
    })
}

fn to_upstream(message: Message) -> Option<WsMessage> {
    Some(match message {
        Message::Text(text) => WsMessage::Text(text.as_str().into()),
        Message::Binary(bytes) => WsMessage::Binary(bytes),
        Message::Close(frame) => WsMessage::Close(frame.map(|f| WsCloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().into(),
        })),
        Message::Ping(_) | Message::Pong(_) => return None,
    })
}
