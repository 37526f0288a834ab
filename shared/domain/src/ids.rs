//! Newtype identifiers. Every id is a short ASCII string that is safe in a URL
//! query, a DynamoDB key and a file name: `[A-Za-z0-9_.:-]`, 1 to 64 bytes
//! (80 for [`CallId`], which is a lead id plus an attempt number).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An id string was empty, too long or had a character outside `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: ids are 1 to {max} characters of A-Z a-z 0-9 _ . : -")]
pub struct IdError {
    /// Which id type rejected the value.
    pub kind: &'static str,
    /// The longest length this id type accepts.
    pub max: usize,
    /// The rejected value, truncated to 80 characters.
    pub value: String,
}

fn check(kind: &'static str, max: usize, value: &str) -> Result<(), IdError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(IdError {
            kind,
            max,
            value: value.chars().take(80).collect(),
        })
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an id from outside input.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($kind, $max, &value)?;
                Ok(Self(value))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

string_id!(
    /// A campaign: one list of leads called with one AI agent and one set of policies.
    CampaignId,
    "campaign id",
    64
);
string_id!(
    /// A lead: one person (one phone number) inside one campaign.
    LeadId,
    "lead id",
    64
);
string_id!(
    /// One call attempt of one lead; see [`CallId::for_attempt`].
    CallId,
    "call id",
    80
);
string_id!(
    /// The provider's own id of a call (Twilio `CallSid`, SansPBX `callid`).
    ProviderCallSid,
    "provider call sid",
    64
);
string_id!(
    /// A provider's media stream id (Twilio `streamSid`).
    StreamSid,
    "stream sid",
    64
);
string_id!(
    /// A telephony provider account configured in voxdial (`twilio`, `sanspbx`, ...).
    ProviderId,
    "provider id",
    64
);
string_id!(
    /// An AI agent configuration: prompt, voice, language, tools, IVR menu, fillers.
    AgentId,
    "agent id",
    64
);
string_id!(
    /// A human agent who can take transferred calls. Its organisation's own
    /// id (at most 64 bytes, no `:`) as the API shows it; stored as
    /// `<organisation>:<id>` ([`HumanAgentId::scoped`]), so that two
    /// organisations' agents never share an id.
    HumanAgentId,
    "human agent id",
    129
);

string_id!(
    /// An organisation: the tenant every campaign, human agent and API key
    /// belongs to (leads, calls, recordings and analyses through their
    /// campaign).
    OrgId,
    "organisation id",
    64
);
string_id!(
    /// An asynchronous import of a file of leads (`im_` and 32 hex digits).
    ImportId,
    "import id",
    64
);
string_id!(
    /// An API key, public part (the secret is never stored).
    ApiKeyId,
    "API key id",
    64
);
string_id!(
    /// One media-bridge process (an ECS task, or the local runtime's
    /// hosted bridge) in the fleet that carries live calls.
    BridgeTaskId,
    "bridge task id",
    64
);

impl OrgId {
    /// The organisation of records written before organisations existed,
    /// and of the admin key `voxdial serve` creates on first start.
    pub const DEFAULT: &str = "default";
}

impl Default for OrgId {
    fn default() -> OrgId {
        OrgId(OrgId::DEFAULT.to_string())
    }
}

impl HumanAgentId {
    /// The longest id an organisation gives its agent.
    pub const MAX_OWN_LEN: usize = 64;

    /// The stored id of `org`'s agent `own` (an id as the API takes it);
    /// `None` when `own` is longer than [`HumanAgentId::MAX_OWN_LEN`] or
    /// holds a `:`, which would make two organisations' ids collide.
    pub fn scoped(org: &OrgId, own: &HumanAgentId) -> Option<HumanAgentId> {
        let fits = own.0.len() <= Self::MAX_OWN_LEN && !own.0.contains(':');
        fits.then(|| HumanAgentId(format!("{org}:{own}")))
    }

    /// The organisation's own id of a stored id (`<org>:<id>` → `<id>`;
    /// an id stored before scoping is its own).
    pub fn own(&self) -> HumanAgentId {
        match self.0.rsplit_once(':') {
            Some((_, own)) => HumanAgentId(own.to_string()),
            None => self.clone(),
        }
    }
}

impl CallId {
    /// The id of attempt `attempt` (1-based) of `lead`. Deterministic, so that
    /// creating the attempt record is a conditional "put if absent": a second
    /// dispatch of the same (lead, attempt) finds the record and never dials.
    pub fn for_attempt(lead: &LeadId, attempt: u32) -> Self {
        // A lead id has at most 64 bytes and a u32 at most 10 digits: <= 75 < 80.
        Self(format!("{}.{attempt}", lead.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_unsafe_characters() {
        assert!(CampaignId::parse("c-1_a.b:c").is_ok());
        for bad in ["", "a b", "a/b", "a?b", "é", &"x".repeat(65)] {
            assert!(CampaignId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn call_id_is_deterministic_and_valid() {
        let lead = LeadId::parse("L1").unwrap();
        assert_eq!(CallId::for_attempt(&lead, 2).as_str(), "L1.2");
        let long = LeadId::parse("x".repeat(64)).unwrap();
        let id = CallId::for_attempt(&long, u32::MAX);
        assert!(CallId::parse(id.as_str()).is_ok());
    }

    #[test]
    fn human_agent_ids_are_scoped_to_their_organisation() {
        let own = HumanAgentId::parse("ana").unwrap();
        let (acme, rival) = (
            OrgId::parse("acme").unwrap(),
            OrgId::parse("rival").unwrap(),
        );
        let stored = HumanAgentId::scoped(&acme, &own).unwrap();
        assert_eq!(stored.as_str(), "acme:ana");
        assert_ne!(Some(stored.clone()), HumanAgentId::scoped(&rival, &own));
        assert_eq!(stored.own(), own);
        assert_eq!(own.own(), own, "an id stored before scoping is its own");
        // The longest organisation and agent ids still make a valid id.
        let long_org = OrgId::parse("o".repeat(64)).unwrap();
        let long = HumanAgentId::parse("a".repeat(64)).unwrap();
        assert!(HumanAgentId::scoped(&long_org, &long).is_some());
        // A `:` or a longer id could collide with another organisation's.
        for bad in ["a:b", &"a".repeat(65)] {
            let bad = HumanAgentId::parse(bad).unwrap();
            assert_eq!(HumanAgentId::scoped(&acme, &bad), None);
        }
    }

    #[test]
    fn serde_validates() {
        let ok: LeadId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(ok.as_str(), "abc");
        assert!(serde_json::from_str::<LeadId>("\"a b\"").is_err());
    }
}
