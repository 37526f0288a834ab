//! A live call's events: `GET /v1/calls/{id}/live`, a WebSocket of JSON
//! text messages, one per event of the call as the media bridge publishes
//! it (`voxdial_app::live`): `{"call_id": …, "type": "line" | "state" |
//! "amd" | "filler" | "barge_in", …}`, exactly the `live` events of the
//! campaign's server-sent stream ([`crate::events`]), a transcript line's
//! text masked for viewers.
//!
//! The guard checks the key, ticket or session cookie and the viewer
//! role; the handler scopes the call to the caller's organisation
//! (another's is 404), refuses a signed-in browser whose `Origin` is not
//! this site, and relays the socket to the bridge task that holds the call
//! when another does ([`crate::forward`]; 409 when none).
//! The socket first sends what the call has shown so far, then each event,
//! and closes (1000) when the call ends. The server that holds the call
//! serves it: the local server, or on AWS the media-bridge container,
//! which mounts [`router`] beside its media routes (where the console
//! opens it with a ticket, `crate::ticket`).
//!
//! A watcher that falls behind by more than the hub's backlog is sent the
//! call's picture again (each line replaces its earlier text), never
//! slowing the call.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade, close_code};
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router, middleware};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};
use voxdial_app::live::{CallWatch, LiveHub, LiveMessage};
use voxdial_app::{Caller, Engine};
use voxdial_domain::{CallId, Role};

use crate::auth::{Credential, guard, mask_personal};
use crate::{ApiError, forward};

/// The route's path.
pub const PATH: &str = "/v1/calls/{id}/live";

/// The live route alone, behind the guard: for the media-bridge container,
/// which holds the calls (the local server has it in [`crate::api::router`]).
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route(PATH, get(live))
        .route_layer(middleware::from_fn_with_state(engine.clone(), guard))
        .with_state(engine)
}

/// `GET /v1/calls/{id}/live` (see the module doc).
pub(crate) async fn live(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Extension(credential): Extension<Credential>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (id, ws) =
        forward::admit(&engine, &caller, &credential, id, &headers, ws, "watching").await?;
    // Subscribed before the picture is read: nothing falls between them.
    let events = engine.live().subscribe();
    let Some(watch) = engine.live().watch(&id) else {
        return forward::to_holder(&engine, &id, ws, &uri, &headers).await;
    };
    let watcher = Watcher {
        hub: engine.live().clone(),
        call_id: id,
        role: caller.role,
    };
    Ok(ws.on_upgrade(move |socket| serve_watcher(socket, watcher, events, watch)))
}

/// Whose events a socket carries, and as which role sees them.
pub struct Watcher {
    /// The hub the call is live in.
    pub hub: LiveHub,
    /// The call.
    pub call_id: CallId,
    /// The watcher's role (a viewer sees transcripts masked).
    pub role: Role,
}

impl Watcher {
    fn text(&self, message: &LiveMessage) -> Message {
        let value = serde_json::to_value(message).unwrap_or(Value::Null);
        Message::Text(mask_personal(self.role, value).to_string().into())
    }

    fn picture(&self) -> Vec<Message> {
        self.hub
            .watch(&self.call_id)
            .map(|w| w.backlog.iter().map(|m| self.text(m)).collect())
            .unwrap_or_default()
    }
}

/// Sends the call's picture, then its events, until the call ends or the
/// watcher leaves. Generic over the socket, so tests drive it with channels.
pub async fn serve_watcher<S, E>(
    socket: S,
    watcher: Watcher,
    mut events: broadcast::Receiver<Arc<LiveMessage>>,
    watch: CallWatch,
) where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    let (mut tx, mut rx) = socket.split();
    let CallWatch { backlog, mut ended } = watch;
    let mut pending: Vec<Message> = backlog.iter().map(|m| watcher.text(m)).collect();
    loop {
        for message in pending.drain(..) {
            if tx.send(message).await.is_err() {
                return;
            }
        }
        tokio::select! {
            message = events.recv() => match message {
                Ok(m) if m.call_id == watcher.call_id => pending.push(watcher.text(&m)),
                Ok(_) => {}
                // Events were lost: send the call's picture again.
                Err(RecvError::Lagged(_)) => pending = watcher.picture(),
                Err(RecvError::Closed) => return,
            },
            changed = ended.changed() => if changed.is_err() {
                // What the call published before it ended goes out first.
                while let Ok(m) = events.try_recv() {
                    if m.call_id == watcher.call_id {
                        pending.push(watcher.text(&m));
                    }
                }
                pending.push(Message::Close(Some(CloseFrame {
                    code: close_code::NORMAL,
                    reason: "the call ended".into(),
                })));
                for message in pending.drain(..) {
                    let _ = tx.send(message).await;
                }
                return;
            },
            message = rx.next() => match message {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use voxdial_app::live::EVENT_BACKLOG;
    use voxdial_conversation::{LiveEvent, Speaker};
    use voxdial_domain::CampaignId;

    use super::*;

    /// A socket that keeps what is sent to it and closes once it holds
    /// `close_after` messages.
    struct Pipe {
        sent: Vec<Message>,
        close_after: usize,
    }

    impl Stream for Pipe {
        type Item = Result<Message, Infallible>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.sent.len() >= self.close_after {
                Poll::Ready(Some(Ok(Message::Close(None))))
            } else {
                Poll::Pending
            }
        }
    }

    impl Sink<Message> for Pipe {
        type Error = Infallible;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Infallible> {
            self.get_mut().sent.push(item);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
    }

    fn json(message: &Message) -> Value {
        match message {
            Message::Text(text) => serde_json::from_str(text.as_str()).unwrap(),
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_watcher_that_fell_behind_is_sent_the_call_s_picture_again() {
        // GIVEN a live call that said a line, and a watcher subscribed
        let hub = LiveHub::default();
        let call = CallId::parse("c1").unwrap();
        let feed = hub.open(&call, &CampaignId::parse("k1").unwrap());
        feed.publish(LiveEvent::Line {
            index: 0,
            speaker: Speaker::Caller,
            at_ms: 0,
            transcript: "Hi".into(),
        });
        let events = hub.subscribe();
        let watch = hub.watch(&call).unwrap();
        // WHEN more events come than the watcher may fall behind by
        let many = u32::try_from(EVENT_BACKLOG).unwrap() + 1;
        for count in 1..=many {
            feed.publish(LiveEvent::Filler { count });
        }
        let watcher = Watcher {
            hub: hub.clone(),
            call_id: call.clone(),
            role: Role::Viewer,
        };
        let mut pipe = Pipe {
            sent: Vec::new(),
            close_after: 3,
        };
        serve_watcher(&mut pipe, watcher, events, watch).await;
        // THEN it gets the line, then the call as it is now: the latest
        // filler count and the line again (masked for a viewer)
        let first: Vec<Value> = pipe.sent[..3].iter().map(json).collect();
        assert_eq!(first[0]["transcript"], crate::auth::MASKED);
        assert_eq!(first[1]["type"], "filler");
        assert_eq!(first[1]["count"], many);
        assert_eq!(first[2]["type"], "line");
    }
}
