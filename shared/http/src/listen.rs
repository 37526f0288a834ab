//! Listen-in: `GET /v1/calls/{id}/listen`, a WebSocket that streams a live
//! call's audio, both channels mixed, as binary messages of 20 ms of 8 kHz
//! μ-law (160 bytes each).
//!
//! The guard checks the key, ticket (`crate::ticket`) or session cookie
//! and the operator role like any route; the handler scopes the call to the caller's organisation
//! (another's is 404), refuses a signed-in browser whose `Origin` is not
//! this site (a cross-site page cannot open it with the visitor's cookie),
//! relays the socket to the bridge task that holds the call when another
//! does ([`crate::forward`]; 409 when none), and audits the listening
//! before it starts. The audio comes from the media bridge of
//! this process (`voxdial_app::live`): the local server, or on AWS the
//! media-bridge container, which mounts [`router`] beside its media
//! routes (the API function cannot hold a WebSocket).
//!
//! A listener lags the call by at most the audio channel's bound
//! (`voxdial_app::live::AUDIO_FRAMES`, 320 ms): a slower one loses frames,
//! never slowing the call. The socket closes (1000) when the call ends.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade, close_code};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router, middleware};
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::{error, info};
use voxdial_app::{Caller, Engine};

use crate::auth::{Credential, guard};
use crate::{ApiError, forward};

/// The route's path.
pub const PATH: &str = "/v1/calls/{id}/listen";

/// The listen route alone, behind the guard: for the media-bridge
/// container, which holds the calls (the local server has it in
/// [`crate::api::router`]).
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route(PATH, get(listen))
        .route_layer(middleware::from_fn_with_state(engine.clone(), guard))
        .with_state(engine)
}

/// `GET /v1/calls/{id}/listen` (see the module doc).
pub(crate) async fn listen(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Extension(credential): Extension<Credential>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (id, ws) =
        forward::admit(&engine, &caller, &credential, id, &headers, ws, "listening").await?;
    let Some(audio) = engine.live().listen(&id) else {
        return forward::to_holder(&engine, &id, ws, &uri, &headers).await;
    };
    engine
        .record_audit(&caller, "GET", PATH, Some(id.to_string()), 101)
        .await
        .map_err(|e| {
            error!(error = %e, call_id = %id, "cannot audit a listen-in: refused");
            ApiError::from(e)
        })?;
    info!(call_id = %id, key_id = %caller.key_id, "listen-in started");
    Ok(ws.on_upgrade(move |socket| serve_listener(socket, audio)))
}

/// Sends the call's audio until the call ends or the listener leaves.
/// Generic over the socket, so tests drive it with channels.
pub async fn serve_listener<S, E>(socket: S, mut audio: broadcast::Receiver<Arc<[u8]>>)
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    let (mut tx, mut rx) = socket.split();
    loop {
        tokio::select! {
            frame = audio.recv() => match frame {
                Ok(frame) => {
                    if tx.send(Message::Binary(Bytes::copy_from_slice(&frame))).await.is_err() {
                        return;
                    }
                }
                // Too slow: the oldest frames are gone; go on from here.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    let close = CloseFrame {
                        code: close_code::NORMAL,
                        reason: "the call ended".into(),
                    };
                    let _ = tx.send(Message::Close(Some(close))).await;
                    return;
                }
            },
            message = rx.next() => match message {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
