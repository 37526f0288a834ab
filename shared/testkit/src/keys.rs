//! The [`KeyStore`](voxdial_domain::KeyStore) contract (part of every
//! [`Store`](voxdial_domain::Store)), one function per case;
//! [`key_contract!`](crate::key_contract) turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here: a key's record comes
//! back exactly as written (its digest included, so a presented key can be
//! checked); `api_keys` lists revoked keys too; audit entries of the same
//! instant come newest-id first.

use voxdial_domain::{ApiKey, ApiKeyId, AuditEntry, KeySecret, OrgId, Role, StoreError, Timestamp};

use crate::StoreSubject;
use crate::fixtures::{at, t0};

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("a valid organisation id")
}

/// A key of `org` whose id is `n` repeated.
pub fn api_key(n: u8, org_id: &OrgId, role: Role) -> (ApiKey, KeySecret) {
    let secret = KeySecret::from_random([n; 8], [n.wrapping_add(1); 32]);
    let key = ApiKey::new(&secret, org_id.clone(), role, format!("key {n}"), t0());
    (key, secret)
}

fn entry(id: &str, org_id: &OrgId, key: &ApiKeyId, when: Timestamp) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        at: when,
        org_id: org_id.clone(),
        key_id: key.clone(),
        method: "POST".into(),
        route: "/v1/campaigns/{id}/start".into(),
        target: Some("c1".into()),
        status: 200,
    }
}

/// Keys are stored once, read back as written and listed per organisation
/// by id; `any_api_key` says whether there is any at all.
pub async fn keys_are_stored_once_and_listed_per_organisation(subject: StoreSubject) {
    let store = subject.store();
    assert!(!store.any_api_key().await.unwrap());
    let (acme, other) = (org("acme"), org("acme-2"));
    let (b, _) = api_key(2, &acme, Role::Viewer);
    let (a, secret) = api_key(1, &acme, Role::Admin);
    let (c, _) = api_key(3, &other, Role::Operator);
    for key in [&b, &a, &c] {
        store.insert_api_key(key).await.unwrap();
    }
    assert!(store.any_api_key().await.unwrap());
    assert!(matches!(
        store.insert_api_key(&a).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let read = store.api_key(secret.id()).await.unwrap().expect("stored");
    assert_eq!(read, a);
    assert!(read.accepts(&secret));
    assert_eq!(store.api_keys(&acme).await.unwrap(), [a, b]);
    assert_eq!(store.api_keys(&other).await.unwrap(), [c]);
    assert!(store.api_keys(&org("nobody")).await.unwrap().is_empty());
    let ghost = ApiKeyId::parse("ffffffffffffffff").unwrap();
    assert_eq!(store.api_key(&ghost).await.unwrap(), None);
}

/// `update_api_key` is versioned: a stale version is a `Conflict`, an
/// unknown key `NotFound`; a revoked or rotated key reads back as written.
pub async fn update_api_key_is_versioned(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    let (key, secret) = api_key(1, &acme, Role::Operator);
    store.insert_api_key(&key).await.unwrap();

    let mut rotated = key.clone();
    let fresh = KeySecret::rotated(secret.id(), [42; 32]);
    rotated.rotate(&fresh, at(10));
    let written = store.update_api_key(&rotated).await.unwrap();
    assert_eq!(written.version, key.version + 1);
    let read = store.api_key(&key.id).await.unwrap().unwrap();
    assert_eq!(read, written);
    assert!(read.accepts(&fresh) && !read.accepts(&secret));

    let mut stale = key.clone();
    stale.revoke(at(11));
    assert!(matches!(
        store.update_api_key(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    let mut revoked = read.clone();
    revoked.revoke(at(12));
    store.update_api_key(&revoked).await.unwrap();
    let read = store.api_key(&key.id).await.unwrap().unwrap();
    assert_eq!(read.revoked_at, Some(at(12)));
    assert!(!read.accepts(&fresh));

    let (ghost, _) = api_key(9, &acme, Role::Admin);
    assert!(matches!(
        store.update_api_key(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}

/// The audit trail of an organisation reads newest first, up to a limit,
/// and never shows another organisation's entries.
pub async fn audit_reads_newest_first_per_organisation(subject: StoreSubject) {
    let store = subject.store();
    let (acme, other) = (org("acme"), org("other"));
    let key = ApiKeyId::parse("0101010101010101").unwrap();
    let entries = [
        entry("e1", &acme, &key, at(1)),
        entry("e3", &acme, &key, at(3)),
        entry("e2a", &acme, &key, at(2)),
        entry("e2b", &acme, &key, at(2)),
        entry("x", &other, &key, at(5)),
    ];
    for e in &entries {
        store.append_audit(e).await.unwrap();
    }
    let read = store.audit(&acme, 10).await.unwrap();
    let ids: Vec<&str> = read.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e3", "e2b", "e2a", "e1"]);
    assert_eq!(read[0], entries[1]);
    let ids: Vec<String> = store
        .audit(&acme, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["e3", "e2b"]);
    assert_eq!(store.audit(&other, 10).await.unwrap(), [entries[4].clone()]);
}
