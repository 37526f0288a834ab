//! Media tickets: a short-lived credential that opens one WebSocket (a
//! call's listen-in or live events, a test call with an AI agent) where the
//! console's session cookie does not reach. On AWS the sockets are served
//! by the media-bridge container at the media domain, and a cookie of the
//! API's domain is never sent there; locally the same tickets open the
//! same routes of the one server, so the console has one path.
//!
//! Design: **signed, not stored**, like sessions ([`crate::session`]). A
//! ticket reads `vxt1.{key_id}.{expiry}.{mac}`: `mac` the hex HMAC-SHA256,
//! under the engine's session key (which the API function and the
//! container both hold), of
//! `voxdial-ticket-v1\n{key_id}\n{org}\n{role}\n{digest}\n{purpose}\n{target}\n{expiry}`,
//! where `digest` is the key's stored digest. So a ticket:
//!
//! - opens only its [`TicketPurpose`] for its one target (a call, an AI
//!   agent): another call's or another purpose's route refuses it;
//! - is its key's: the organisation and role are the key's own, and a
//!   revoked or rotated key refuses it;
//! - dies at its expiry ([`TICKET_TTL_SECS`] after it is issued): it is
//!   meant to be used at once, and it travels in a URL (`?ticket=`), which
//!   may be logged by a load balancer.
//!
//! It is not single-use: within its minute it opens its socket again (a
//! reconnect after a task answered 409), never anything else.

use hmac::Mac;
use voxdial_domain::{Access, ApiKey, ApiKeyId};

use crate::session::HmacSha256;
use crate::{AppError, Caller, Engine};

/// How long a ticket lives, in seconds: enough to open its socket.
pub const TICKET_TTL_SECS: i64 = 60;

const PREFIX: &str = "vxt1";
const CONTEXT: &[u8] = b"voxdial-ticket-v1\n";

/// The one socket a ticket opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketPurpose {
    /// A live call's mixed audio (`GET /v1/calls/{id}/listen`).
    Listen,
    /// A live call's events (`GET /v1/calls/{id}/live`).
    Live,
    /// A test call with an AI agent (`GET /v1/ai-agents/{id}/test-call`).
    TestCall,
}

impl TicketPurpose {
    /// The purpose's name, as signed.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::Listen => "listen",
            TicketPurpose::Live => "live",
            TicketPurpose::TestCall => "test_call",
        }
    }

    /// What the caller's role must allow to get and use such a ticket:
    /// listening and test calls are an operator's, watching a viewer's.
    pub fn access(self) -> Access {
        match self {
            TicketPurpose::Listen | TicketPurpose::TestCall => Access::Operate,
            TicketPurpose::Live => Access::Read,
        }
    }
}

/// A ticket as issued.
#[derive(Clone, Debug)]
pub struct Ticket {
    /// The ticket, for the socket's `?ticket=`.
    pub token: String,
    /// When it expires, in Unix seconds.
    pub expires_unix: i64,
}

/// What a ticket's MAC covers besides the key.
struct Claim<'a> {
    purpose: TicketPurpose,
    target: &'a str,
    expiry: i64,
}

fn mac(signer: &crate::session::SessionKey, key: &ApiKey, claim: &Claim<'_>) -> HmacSha256 {
    let mut mac = signer.hmac(CONTEXT);
    let role = key.role.to_string();
    for part in [
        key.id.as_str(),
        key.org_id.as_str(),
        &role,
        key.digest.as_str(),
        claim.purpose.as_str(),
        claim.target,
    ] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    mac.update(claim.expiry.to_string().as_bytes());
    mac
}

/// The parts of a ticket: key id and expiry, and the MAC to check.
fn parse(token: &str) -> Option<(ApiKeyId, i64, Vec<u8>)> {
    let mut parts = token.split('.');
    let (prefix, id, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != PREFIX || parts.next().is_some() {
        return None;
    }
    Some((
        ApiKeyId::parse(id).ok()?,
        expiry.parse().ok()?,
        hex::decode(mac).ok()?,
    ))
}

impl Engine {
    /// A ticket for `caller` to open `purpose`'s socket of `target` (a
    /// call or AI agent id the caller's organisation holds: the caller
    /// checks that), from `now_unix` for [`TICKET_TTL_SECS`].
    pub async fn issue_ticket(
        &self,
        caller: &Caller,
        purpose: TicketPurpose,
        target: &str,
        now_unix: i64,
    ) -> Result<Ticket, AppError> {
        if !caller.role.allows(purpose.access()) {
            return Err(AppError::Forbidden(format!(
                "a {} key may not open a {} socket",
                caller.role,
                purpose.as_str()
            )));
        }
        let signer = self.session_key()?;
        let key = self
            .store
            .api_key(&caller.key_id)
            .await?
            .filter(ApiKey::is_active)
            .ok_or_else(|| AppError::Unauthorized("invalid or revoked API key".into()))?;
        let expiry = now_unix + TICKET_TTL_SECS;
        let claim = Claim {
            purpose,
            target,
            expiry,
        };
        let mac = mac(signer, &key, &claim).finalize().into_bytes();
        Ok(Ticket {
            token: format!("{PREFIX}.{}.{expiry}.{}", key.id, hex::encode(mac)),
            expires_unix: expiry,
        })
    }

    /// Checks a ticket for `purpose` and `target` at `now_unix`: the
    /// caller, or `Unauthorized` for a ticket that is malformed, forged,
    /// expired, of another purpose or target, or whose key was revoked or
    /// rotated since (one answer for all).
    pub async fn authenticate_ticket(
        &self,
        token: &str,
        purpose: TicketPurpose,
        target: &str,
        now_unix: i64,
    ) -> Result<Caller, AppError> {
        let refused = || {
            AppError::Unauthorized(format!(
                "the ticket is invalid, has expired, or does not open this {} socket",
                purpose.as_str()
            ))
        };
        let signer = self.session_key().map_err(|_| refused())?;
        let (id, expiry, sent) = parse(token).ok_or_else(refused)?;
        let key = self.store.api_key(&id).await?.ok_or_else(refused)?;
        let claim = Claim {
            purpose,
            target,
            expiry,
        };
        let genuine = mac(signer, &key, &claim).verify_slice(&sent).is_ok();
        if !genuine || now_unix >= expiry || !key.is_active() {
            return Err(refused());
        }
        if !key.role.allows(purpose.access()) {
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

    #[test]
    fn purposes_need_the_roles_of_their_sockets() {
        assert_eq!(TicketPurpose::Listen.access(), Access::Operate);
        assert_eq!(TicketPurpose::TestCall.access(), Access::Operate);
        assert_eq!(TicketPurpose::Live.access(), Access::Read);
    }

    #[test]
    fn malformed_tickets_do_not_parse() {
        for bad in [
            "",
            "vxt1",
            "vxt1.0303030303030303.12",
            "vxs1.0303030303030303.12.ab",
            "vxt1.0303030303030303.soon.ab",
            "vxt1.0303030303030303.12.zz",
            "vxt1.0303030303030303.12.ab.cd",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert!(parse("vxt1.0303030303030303.12.ab").is_some());
    }
}
