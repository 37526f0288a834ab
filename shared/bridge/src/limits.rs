//! What one provider socket may cost: message and frame size limits, and the
//! close frames that tell a peer why it was dropped.
//!
//! A Media Streams `media` message is about 300 bytes (160 μ-law bytes in
//! base64 plus JSON), a SansPBX one under 1 KiB (320 bytes of PCM16), and a
//! `start` with its custom parameters a few KiB. 64 KiB leaves an order of
//! magnitude of room for any of them and bounds what a socket can make the
//! bridge buffer: tungstenite refuses a frame whose header announces more
//! than the limit before reading its payload, and a fragmented message as
//! soon as its fragments add up to more, so a hostile peer holds at most
//! 64 KiB (plus the read buffer) of the bridge's memory, whatever it sends.

use axum::extract::ws::{CloseFrame, Message, close_code};

/// Largest message (all fragments together) and frame a provider may send.
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// The close frame for a read error, when the peer should hear why: 1009
/// (message too big) for a frame or message over [`MAX_MESSAGE`], 1002
/// (protocol error) for a malformed frame; `None` for IO errors (the
/// connection is gone).
pub(crate) fn close_for_error(error: &(dyn std::error::Error + 'static)) -> Option<Message> {
    use tungstenite::Error as Ws;
    let mut cause = Some(error);
    while let Some(e) = cause {
        match e.downcast_ref::<Ws>() {
            Some(Ws::Capacity(_)) => return Some(close(close_code::SIZE, "message too big")),
            Some(Ws::Protocol(_) | Ws::Utf8(_)) => {
                return Some(close(close_code::PROTOCOL, "protocol error"));
            }
            Some(_) => return None,
            None => cause = e.source(),
        }
    }
    None
}

/// A close frame with `code` and a short reason.
pub(crate) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
