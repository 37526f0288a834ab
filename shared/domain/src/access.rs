//! Organisations, API keys, roles and the audit trail.
//!
//! An API key reads `vxd_<id>_<secret>`: `<id>` (16 hex digits) names the
//! stored [`ApiKey`], `<secret>` (64 hex digits, 256 random bits) proves
//! possession. Only the SHA-256 digest of the whole key is stored, and a
//! presented key is compared with it in constant time. Keys are random and
//! long, so a plain hash is enough (no password stretching). The domain has
//! no random source: the caller hands in the random bytes.
//!
//! A key carries one organisation ([`OrgId`]) and one [`Role`]; what a role
//! may do is [`Role::allows`] of the [`Access`] a route needs.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ApiKeyId, OrgId, StoreError, Timestamp};

/// What a key may do within its organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, API keys and human agents included.
    Admin,
    /// Runs campaigns: create, import, start and stop, DNC, call actions.
    Operator,
    /// Reads only, with personal fields masked.
    Viewer,
}

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Reading.
    Read,
    /// Running campaigns (any state change but keys, agents and erasure).
    Operate,
    /// Administering the organisation.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Whether this role may do what `access` names.
    pub fn allows(self, access: Access) -> bool {
        match self {
            Role::Admin => true,
            Role::Operator => access != Access::Admin,
            Role::Viewer => access == Access::Read,
        }
    }

    /// Whether answers show personal fields (numbers, names, transcripts)
    /// unmasked.
    pub fn sees_personal_data(self) -> bool {
        self != Role::Viewer
    }

    /// The snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A role name that is not `admin`, `operator` or `viewer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use admin, operator or viewer")]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Role, RoleError> {
        Role::ALL
            .into_iter()
            .find(|role| role.label() == s)
            .ok_or_else(|| RoleError(s.chars().take(40).collect()))
    }
}

/// The hex SHA-256 digest of an API key, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyDigest(String);

impl KeyDigest {
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

const KEY_PREFIX: &str = "vxd_";
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;

/// A whole API key, as its holder sends it. Shown once, when created or
/// rotated; never stored, never logged (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret {
    id: ApiKeyId,
    token: String,
}

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret({}, ..)", self.id)
    }
}

impl KeySecret {
    /// A key from random bytes: 8 for the id, 32 for the secret.
    pub fn from_random(id: [u8; 8], secret: [u8; 32]) -> KeySecret {
        let id_hex = hex::encode(id);
        let token = format!("{KEY_PREFIX}{id_hex}_{}", hex::encode(secret));
        KeySecret {
            id: ApiKeyId::parse(id_hex).expect("16 hex digits are a valid id"),
            token,
        }
    }

    /// The same id with a new secret (a rotation).
    pub fn rotated(id: &ApiKeyId, secret: [u8; 32]) -> KeySecret {
        KeySecret {
            id: id.clone(),
            token: format!("{KEY_PREFIX}{id}_{}", hex::encode(secret)),
        }
    }

    /// Reads a presented key; `None` unless it has the shape of one.
    pub fn parse(token: &str) -> Option<KeySecret> {
        let (id, secret) = token.strip_prefix(KEY_PREFIX)?.split_once('_')?;
        let hex_of = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !hex_of(id, ID_HEX) || !hex_of(secret, SECRET_HEX) {
            return None;
        }
        Some(KeySecret {
            id: ApiKeyId::parse(id).ok()?,
            token: token.to_string(),
        })
    }

    /// The key's id (its public part).
    pub fn id(&self) -> &ApiKeyId {
        &self.id
    }

    /// The whole key, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.token
    }

    /// What the store keeps.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(hex::encode(Sha256::digest(self.token.as_bytes())))
    }
}

/// A stored API key: no secret, only its digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The organisation it acts for.
    pub org_id: OrgId,
    /// What it may do.
    pub role: Role,
    /// A label for people (`ci`, `ana's laptop`).
    pub name: String,
    /// The digest of the whole key.
    pub digest: KeyDigest,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its secret was last replaced.
    pub rotated_at: Option<Timestamp>,
    /// When it was revoked; a revoked key is refused for ever.
    pub revoked_at: Option<Timestamp>,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: u64,
}

/// The longest key name accepted.
pub const MAX_KEY_NAME: usize = 100;

impl ApiKey {
    /// A new key record for `secret`.
    pub fn new(
        secret: &KeySecret,
        org_id: OrgId,
        role: Role,
        name: String,
        now: Timestamp,
    ) -> ApiKey {
        ApiKey {
            id: secret.id().clone(),
            org_id,
            role,
            name,
            digest: secret.digest(),
            created_at: now,
            rotated_at: None,
            revoked_at: None,
            version: 0,
        }
    }

    /// Whether the key has not been revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether `presented` is this key, still active (constant-time compare).
    pub fn accepts(&self, presented: &KeySecret) -> bool {
        let digest = presented.digest();
        let same: bool = digest.0.as_bytes().ct_eq(self.digest.0.as_bytes()).into();
        same && presented.id() == &self.id && self.is_active()
    }

    /// Revokes the key.
    pub fn revoke(&mut self, now: Timestamp) {
        self.revoked_at.get_or_insert(now);
    }

    /// Replaces the secret by `secret` (same id): the old one stops working.
    pub fn rotate(&mut self, secret: &KeySecret, now: Timestamp) {
        self.digest = secret.digest();
        self.rotated_at = Some(now);
    }
}

/// One state-changing request made with an API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// A unique id (random), which orders entries of the same instant.
    pub id: String,
    /// When.
    pub at: Timestamp,
    /// The organisation the key acts for.
    pub org_id: OrgId,
    /// Who: the key.
    pub key_id: ApiKeyId,
    /// The HTTP method.
    pub method: String,
    /// The route (its template, e.g. `/v1/campaigns/{id}/start`).
    pub route: String,
    /// The id the route named, if any.
    pub target: Option<String>,
    /// The answer's status.
    pub status: u16,
}

/// API keys and the audit trail.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; `AlreadyExists` if the id is taken.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// Reads a key.
    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// The keys of an organisation, revoked ones included, by id.
    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>, StoreError>;

    /// Whether any key exists, in any organisation.
    async fn any_api_key(&self) -> Result<bool, StoreError>;

    /// Writes `key` if the stored version equals `key.version` (else
    /// `Conflict`; `NotFound` if there is none) and returns it with the
    /// version bumped.
    async fn update_api_key(&self, key: &ApiKey) -> Result<ApiKey, StoreError>;

    /// Appends an audit entry.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` audit entries of an organisation, newest first.
    async fn audit(&self, org: &OrgId, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    #[test]
    fn roles_allow_what_they_name() {
        use Access::*;
        let table = [
            (Role::Viewer, [true, false, false]),
            (Role::Operator, [true, true, false]),
            (Role::Admin, [true, true, true]),
        ];
        for (role, allowed) in table {
            for (access, expected) in [Read, Operate, Admin].into_iter().zip(allowed) {
                assert_eq!(role.allows(access), expected, "{role} {access:?}");
            }
            assert_eq!(role.label().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!(!Role::Viewer.sees_personal_data());
        assert!(Role::Operator.sees_personal_data() && Role::Admin.sees_personal_data());
    }

    #[test]
    fn the_stored_digest_is_the_hex_sha256_of_the_whole_key() {
        let secret =
            KeySecret::parse(&format!("vxd_{}_{}", "0".repeat(16), "1".repeat(64))).unwrap();
        let expected = hex::encode(Sha256::digest(secret.expose().as_bytes()));
        assert_eq!(secret.digest().as_str(), expected);
        assert_eq!(secret.digest().as_str().len(), 64);
    }

    #[test]
    fn a_key_round_trips_and_only_its_digest_matches() {
        let secret = KeySecret::from_random([7; 8], [9; 32]);
        assert!(secret.expose().starts_with("vxd_0707070707070707_0909"));
        assert_eq!(KeySecret::parse(secret.expose()), Some(secret.clone()));
        let key = ApiKey::new(&secret, OrgId::default(), Role::Viewer, "ci".into(), now());
        assert!(key.accepts(&secret));
        assert!(!format!("{key:?}{secret:?}").contains("0909"));

        let other = KeySecret::rotated(secret.id(), [8; 32]);
        assert!(!key.accepts(&other));
        let mut rotated = key.clone();
        rotated.rotate(&other, now());
        assert!(rotated.accepts(&other) && !rotated.accepts(&secret));
        rotated.revoke(now());
        assert!(!rotated.accepts(&other));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good = KeySecret::from_random([1; 8], [2; 32]);
        let token = good.expose();
        for bad in [
            "",
            "vxd_",
            &token[..token.len() - 1],
            &token.replace("vxd_", "vxe_"),
            &token.to_uppercase(),
            &format!("{token}0"),
            "vxd_0101010101010101",
        ] {
            assert!(KeySecret::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
