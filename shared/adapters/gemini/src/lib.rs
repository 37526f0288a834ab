//! The Gemini Live client of voxdial's media bridge.
//!
//! # Layout
//!
//! - [`setup`]: the `setup` message built from an
//!   [`AgentConfig`](voxdial_conversation::AgentConfig) and the call's
//!   context: system instruction, voice, language, tool declarations,
//!   activity detection, transcriptions, session resumption, context
//!   compression.
//! - [`socket`]: what a connection is ([`socket::WsSocket`]: any
//!   `Sink + Stream` of WebSocket messages), the [`socket::Connector`] that
//!   makes one (tokio-tungstenite with the `x-goog-api-key` header, or an
//!   in-memory [`socket::duplex`] pair for tests).
//! - [`session`]: [`LiveSession`], one model session per call as a small
//!   task: open it early (while the phone rings), send JSON frames, receive
//!   server frames (text or binary). On `goAway`, or when the connection
//!   drops with a resumption handle in hand, it reconnects with the last
//!   `sessionResumptionUpdate.newHandle`, holding the input sent meanwhile
//!   and replaying it on the new connection, so the caller notices nothing.
//!
//! # Driving it
//!
//! ```text
//! let session = LiveSession::open(connector, setup, SessionConfig::default());
//! session.send(json)?;                      // realtimeInput / clientContent / toolResponse
//! while let Some(ev) = session.recv().await {
//!     match ev { Ready => …, Frame(bytes) => parse_server_message(&bytes), Resumed => …, Failed(e) => … }
//! }
//! ```

pub mod session;
pub mod setup;
pub mod socket;

pub use session::{LiveSession, SessionConfig, SessionEvent};
pub use setup::build_setup;
pub use socket::{Connector, WsConnector, WsSocket, duplex};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum GeminiClientError {
    /// The WebSocket failed (connect, send, receive).
    #[error("Gemini Live WebSocket error")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// The request could not be built (bad URL or header value).
    #[error("invalid Gemini Live request: {0}")]
    Request(String),
    /// No `setupComplete` in time, or the socket closed before it.
    #[error("Gemini Live setup failed: {0}")]
    Setup(String),
    /// The session task is gone, or its input queue is full.
    #[error("Gemini Live session closed")]
    Closed,
    /// A timeout.
    #[error("Gemini Live timed out")]
    Timeout,
}
