//! Per-call media stream tokens: what ties a media WebSocket to one call.
//!
//! The engine issues a token when it tells the provider to connect the call's
//! media (a `<Parameter name="token">` in the answer TwiML; a custom field of
//! the SansPBX dial request), and the media bridge checks it on the stream's
//! `start` message, on top of the provider's own upgrade signature. A
//! provider's upgrade signature covers only the bridge's fixed URL, so without
//! the token one captured signature would open a stream for any call, forever.
//!
//! A token is `{expiry}.{mac}`: `expiry` in Unix seconds, `mac` the lower-case
//! hex HMAC-SHA256, under a secret the engine and the bridge share, of
//! `voxdial-media-v1\n{call_id}\n{expiry}`. It names no secret, is useless for
//! another call, and dies at its expiry. Checks compare in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The name of the stream parameter (TwiML `<Parameter>`, SansPBX custom
/// field) that carries the token.
pub const TOKEN_PARAMETER: &str = "token";

/// How long a token lives after it is issued, in seconds: the answer webhook
/// issues it seconds before the stream connects; a SansPBX dial issues it
/// before ringing (up to a minute) and answer. Five minutes covers both and
/// keeps a leaked token short-lived.
pub const TOKEN_TTL_SECS: i64 = 300;

/// Domain separation: a MAC of this format is never a valid MAC of another.
const CONTEXT: &[u8] = b"voxdial-media-v1\n";

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token was sent.
    #[error("the media stream carries no token")]
    Missing,
    /// Not `{expiry}.{hex mac}`.
    #[error("the media stream token is malformed")]
    Malformed,
    /// The token's expiry has passed.
    #[error("the media stream token has expired")]
    Expired,
    /// The MAC does not match the call and expiry (another call's token, a
    /// forged one, or another secret).
    #[error("the media stream token does not belong to this call")]
    Mismatch,
}

/// The secret shared by the engine (which issues tokens) and the media
/// bridge (which checks them). Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct MediaTokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for MediaTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaTokenKey(..)")
    }
}

impl MediaTokenKey {
    /// A key from a secret (at least 16 bytes of randomness is expected;
    /// `None` for an empty secret, which would authenticate nothing).
    pub fn new(secret: impl Into<Vec<u8>>) -> Option<MediaTokenKey> {
        let secret = secret.into();
        (!secret.is_empty()).then_some(MediaTokenKey { secret })
    }

    /// The token for `call_id`, valid until `expires_unix` (Unix seconds).
    pub fn issue(&self, call_id: &str, expires_unix: i64) -> String {
        let mac = self.mac(call_id, expires_unix).finalize().into_bytes();
        format!("{expires_unix}.{}", hex::encode(mac))
    }

    /// Checks `token` for `call_id` at `now_unix`: it must be well formed,
    /// unexpired and carry this key's MAC of this call and expiry (compared
    /// in constant time).
    pub fn verify(&self, call_id: &str, token: &str, now_unix: i64) -> Result<(), TokenError> {
        let (expiry, mac) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let expiry: i64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
        let mac = hex::decode(mac).map_err(|_| TokenError::Malformed)?;
        self.mac(call_id, expiry)
            .verify_slice(&mac)
            .map_err(|_| TokenError::Mismatch)?;
        if now_unix >= expiry {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    fn mac(&self, call_id: &str, expiry: i64) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(CONTEXT);
        mac.update(call_id.as_bytes());
        mac.update(b"\n");
        mac.update(expiry.to_string().as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MediaTokenKey {
        MediaTokenKey::new("0123456789abcdef").unwrap()
    }

    #[test]
    fn a_token_opens_its_own_call_until_it_expires() {
        let token = key().issue("ld_1.1", 1_000);
        assert_eq!(key().verify("ld_1.1", &token, 999), Ok(()));
        assert_eq!(
            key().verify("ld_1.1", &token, 1_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_is_refused_for_another_call_key_or_expiry() {
        let token = key().issue("ld_1.1", 1_000);
        assert_eq!(key().verify("ld_2.1", &token, 0), Err(TokenError::Mismatch));
        let other = MediaTokenKey::new("another secret!!").unwrap();
        assert_eq!(other.verify("ld_1.1", &token, 0), Err(TokenError::Mismatch));
        // moving the expiry forward breaks the MAC
        let stretched = token.replacen("1000.", "9999.", 1);
        assert_eq!(
            key().verify("ld_1.1", &stretched, 0),
            Err(TokenError::Mismatch)
        );
    }

    #[test]
    fn malformed_tokens_and_empty_secrets_are_refused() {
        for bad in ["", "1000", "x.00", "1000.zz", "1000."] {
            assert_ne!(key().verify("c", bad, 0), Ok(()), "{bad}");
        }
        assert!(MediaTokenKey::new("").is_none());
        assert_eq!(format!("{:?}", key()), "MediaTokenKey(..)");
    }
}
