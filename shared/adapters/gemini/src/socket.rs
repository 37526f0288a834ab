//! Connections: any `Sink + Stream` of WebSocket messages.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use voxdial_wire::gemini::{API_KEY_HEADER, LiveEndpoint};

use crate::GeminiClientError;

/// A WebSocket connection, real or in memory.
pub trait WsSocket:
    Sink<Message, Error = WsError> + Stream<Item = Result<Message, WsError>> + Unpin + Send + 'static
{
}

impl<T> WsSocket for T where
    T: Sink<Message, Error = WsError>
        + Stream<Item = Result<Message, WsError>>
        + Unpin
        + Send
        + 'static
{
}

/// Opens connections to the Live endpoint (one per (re)connect).
pub trait Connector: Send + Sync + 'static {
    /// The connection type.
    type Socket: WsSocket;
    /// Opens one connection.
    fn connect(&self) -> impl Future<Output = Result<Self::Socket, GeminiClientError>> + Send;
}

/// Connects with tokio-tungstenite to a [`LiveEndpoint`], sending the API
/// key in `x-goog-api-key`.
#[derive(Debug, Clone)]
pub struct WsConnector {
    url: String,
    api_key: Option<String>,
}

impl WsConnector {
    /// A connector for `endpoint` (`host`, `api_version`, `insecure` for a
    /// local simulator) with an optional API key.
    pub fn new(endpoint: &LiveEndpoint, api_key: Option<String>) -> Self {
        Self {
            url: endpoint.url(),
            api_key,
        }
    }

    /// The URL connected to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Connector for WsConnector {
    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn connect(&self) -> Result<Self::Socket, GeminiClientError> {
        let mut req = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| GeminiClientError::Request(e.to_string()))?;
        if let Some(key) = &self.api_key {
            let v = HeaderValue::from_str(key)
                .map_err(|_| GeminiClientError::Request("API key is not a header value".into()))?;
            req.headers_mut().insert(API_KEY_HEADER, v);
        }
        // TCP_NODELAY: 20 ms frames must not wait for Nagle and a delayed
        // ACK (40 ms on Linux).
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(req, Some(ws_config()), true).await?;
        Ok(ws)
    }
}

/// Buffers sized for audio messages (a few KiB) rather than tungstenite's
/// 128 KiB default, which costs that much RSS per connection; larger
/// messages still get through (the read buffer grows).
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
}

/// One end of an in-memory WebSocket ([`duplex`]).
#[derive(Debug)]
pub struct ChannelSocket {
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
}

/// Two connected in-memory sockets: what one sends the other receives.
/// Dropping one end ends the other's stream.
pub fn duplex() -> (ChannelSocket, ChannelSocket) {
    let (a_tx, a_rx) = mpsc::unbounded_channel();
    let (b_tx, b_rx) = mpsc::unbounded_channel();
    (
        ChannelSocket { tx: a_tx, rx: b_rx },
        ChannelSocket { tx: b_tx, rx: a_rx },
    )
}

impl Stream for ChannelSocket {
    type Item = Result<Message, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Message::Close(_))) | Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(m)) => Poll::Ready(Some(Ok(m))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Sink<Message> for ChannelSocket {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.tx.send(item).map_err(|_| WsError::ConnectionClosed)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let _ = self.tx.send(Message::Close(None));
        Poll::Ready(Ok(()))
    }
}

/// A connector handing each new in-memory connection's server end to
/// `accept` (tests, the simulator in-process).
#[derive(Debug, Clone)]
pub struct ChannelConnector {
    accept: mpsc::UnboundedSender<ChannelSocket>,
}

impl ChannelConnector {
    /// A connector and the receiver of server ends.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ChannelSocket>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { accept: tx }, rx)
    }
}

impl Connector for ChannelConnector {
    type Socket = ChannelSocket;

    async fn connect(&self) -> Result<ChannelSocket, GeminiClientError> {
        let (client, server) = duplex();
        self.accept
            .send(server)
            .map_err(|_| GeminiClientError::Setup("no server".into()))?;
        Ok(client)
    }
}
