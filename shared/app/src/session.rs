//! Console sessions: an API key exchanged for a short-lived, signed token
//! that the browser keeps in an `HttpOnly` cookie.
//!
//! Design: **signed, not stored**. A token reads `vxs1.{key_id}.{expiry}.{mac}`:
//! `expiry` in Unix seconds (wall time: the demo's simulated clock skips idle
//! stretches and must not age sessions), `mac` the hex HMAC-SHA256, under the
//! engine's [`SessionKey`], of `voxdial-session-v1\n{key_id}\n{expiry}\n{digest}`
//! where `digest` is the key's stored digest. So a session:
//!
//! - names no secret and cannot be forged without the server's session key;
//! - dies at its expiry ([`SESSION_TTL_SECS`]);
//! - dies with its key: a revoked key refuses it, and a rotated key has a new
//!   digest, so every session opened with the old secret stops matching;
//! - needs no store and no table on either backend (a Lambda instance checks
//!   it with the shared key alone).
//!
//! The cost of storing nothing: signing out clears the browser's cookie, but
//! a copy of the token taken before stays valid until its expiry (at most
//! [`SESSION_TTL_SECS`]); revoking or rotating the key ends it at once.

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use voxdial_domain::{ApiKey, ApiKeyId};

use crate::{AppError, Caller, Engine};

/// How long a session lives, in seconds (one working shift).
pub const SESSION_TTL_SECS: i64 = 8 * 3600;

const PREFIX: &str = "vxs1";
const CONTEXT: &[u8] = b"voxdial-session-v1\n";

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The server's secret that signs sessions. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SessionKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A session as issued: the token for the cookie and when it expires.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    /// The cookie's value (never shown in a body or a log).
    #[serde(skip)]
    pub token: String,
    /// When it expires, in Unix seconds.
    pub expires_unix: i64,
}

impl SessionKey {
    /// A key from a secret (`None` for an empty one, which would sign nothing).
    pub fn new(secret: impl Into<Vec<u8>>) -> Option<SessionKey> {
        let secret = secret.into();
        (!secret.is_empty()).then_some(SessionKey { secret })
    }

    /// An HMAC-SHA256 under this key, started with `context` (domain
    /// separation: a MAC of one format is never a valid MAC of another).
    pub(crate) fn hmac(&self, context: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(context);
        mac
    }

    fn mac(&self, key: &ApiKey, expiry: i64) -> HmacSha256 {
        let mut mac = self.hmac(CONTEXT);
        mac.update(key.id.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(expiry.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(key.digest.as_str().as_bytes());
        mac
    }

    /// A session for `key`, from `now_unix` for [`SESSION_TTL_SECS`].
    pub fn issue(&self, key: &ApiKey, now_unix: i64) -> Session {
        let expires_unix = now_unix + SESSION_TTL_SECS;
        let mac = self.mac(key, expires_unix).finalize().into_bytes();
        Session {
            token: format!("{PREFIX}.{}.{expires_unix}.{}", key.id, hex::encode(mac)),
            expires_unix,
        }
    }

    /// Whether `mac_hex` is this key's MAC of `key` and `expiry` (constant time).
    fn matches(&self, key: &ApiKey, expiry: i64, mac_hex: &str) -> bool {
        hex::decode(mac_hex).is_ok_and(|mac| self.mac(key, expiry).verify_slice(&mac).is_ok())
    }
}

/// The parts of a token: key id and expiry, and the MAC to check.
fn parse(token: &str) -> Option<(ApiKeyId, i64, &str)> {
    let mut parts = token.split('.');
    let (prefix, id, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != PREFIX || parts.next().is_some() {
        return None;
    }
    Some((ApiKeyId::parse(id).ok()?, expiry.parse().ok()?, mac))
}

impl Engine {
    pub(crate) fn session_key(&self) -> Result<&SessionKey, AppError> {
        self.config.session_key.as_ref().ok_or_else(|| {
            AppError::Conflict("this server has no session key: use API keys (Bearer)".into())
        })
    }

    /// Opens a session for a caller who presented its API key.
    pub async fn open_session(&self, caller: &Caller, now_unix: i64) -> Result<Session, AppError> {
        let signer = self.session_key()?;
        let key = self
            .store
            .api_key(&caller.key_id)
            .await?
            .filter(ApiKey::is_active)
            .ok_or_else(|| AppError::Unauthorized("invalid or revoked API key".into()))?;
        Ok(signer.issue(&key, now_unix))
    }

    /// Checks a session token at `now_unix`: the caller, or `Unauthorized`
    /// for a token that is malformed, forged, expired, or whose key was
    /// revoked or rotated since (one answer for all).
    pub async fn authenticate_session(
        &self,
        token: &str,
        now_unix: i64,
    ) -> Result<Caller, AppError> {
        let refused = || AppError::Unauthorized("the session is invalid or has expired".into());
        let signer = self.session_key().map_err(|_| refused())?;
        let (id, expiry, mac) = parse(token).ok_or_else(refused)?;
        let key = self.store.api_key(&id).await?.ok_or_else(refused)?;
        if !signer.matches(&key, expiry, mac) || now_unix >= expiry || !key.is_active() {
            return Err(refused());
        }
        Ok(Caller {
            key_id: key.id,
            org_id: key.org_id,
            role: key.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voxdial_domain::{KeySecret, OrgId, Role};

    fn key(secret: &KeySecret) -> ApiKey {
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        ApiKey::new(secret, OrgId::default(), Role::Operator, "t".into(), at)
    }

    #[test]
    fn a_token_names_its_key_and_expiry_and_only_its_signer_matches_it() {
        let signer = SessionKey::new("0123456789abcdef").unwrap();
        let secret = KeySecret::from_random([3; 8], [4; 32]);
        let k = key(&secret);
        let session = signer.issue(&k, 1000);
        assert_eq!(session.expires_unix, 1000 + SESSION_TTL_SECS);
        let (id, expiry, mac) = parse(&session.token).unwrap();
        assert_eq!((id, expiry), (k.id.clone(), session.expires_unix));
        assert!(signer.matches(&k, expiry, mac));
        assert!(!session.token.contains("0404"), "no secret in the token");

        let other = SessionKey::new("another secret!!").unwrap();
        assert!(!other.matches(&k, expiry, mac));
        assert!(!signer.matches(&k, expiry + 1, mac), "expiry is signed");
        let mut rotated = k.clone();
        rotated.rotate(&KeySecret::rotated(&k.id, [5; 32]), k.created_at);
        assert!(!signer.matches(&rotated, expiry, mac), "rotation ends it");
        assert!(SessionKey::new("").is_none());
        assert_eq!(format!("{signer:?}"), "SessionKey(..)");
    }

    #[test]
    fn malformed_tokens_do_not_parse() {
        for bad in [
            "",
            "vxs1",
            "vxs1.0303030303030303.12",
            "vxs2.0303030303030303.12.ab",
            "vxs1.0303030303030303.soon.ab",
            "vxs1.0303030303030303.12.ab.cd",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
