//! The [`AiAgentStore`](voxdial_domain::AiAgentStore) contract (part of
//! every [`Store`](voxdial_domain::Store)), one function per case;
//! [`ai_agent_contract!`](crate::ai_agent_contract) turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here: every version reads
//! back exactly as written, older ones included; a listing shows each
//! agent once, at its latest version; a write refused leaves every stored
//! version as it was.

use std::sync::Arc;

use voxdial_domain::{AgentId, AiAgent, OrgId, ProviderId, Store, StoreError};

use crate::StoreSubject;
use crate::fixtures::at;

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("a valid organisation id")
}

/// Version `version` of agent `id` of `org_id`, whose prompt names both.
pub fn ai_agent(id: &str, org_id: &OrgId, version: u32) -> AiAgent {
    AiAgent {
        id: AgentId::parse(id).expect("a valid agent id"),
        org_id: org_id.clone(),
        version,
        preferred_provider: Some(ProviderId::parse("twilio").expect("a valid provider id")),
        config: serde_json::json!({
            "name": id,
            "system_prompt": format!("You are {id}, version {version}."),
        }),
        created_at: at(i64::from(version)),
    }
}

async fn latest(store: &Arc<dyn Store>, id: &str) -> Option<AiAgent> {
    let id = AgentId::parse(id).expect("a valid agent id");
    store.ai_agent(&id, None).await.expect("a read")
}

/// Versions are stored one after the other and each reads back as
/// written; the latest is the highest.
pub async fn versions_are_immutable_and_read_back(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    let (v1, v2) = (ai_agent("maya", &acme, 1), ai_agent("maya", &acme, 2));
    assert_eq!(latest(&store, "maya").await, None);
    store.put_ai_agent(&v1).await.unwrap();
    assert_eq!(latest(&store, "maya").await, Some(v1.clone()));
    store.put_ai_agent(&v2).await.unwrap();
    assert_eq!(latest(&store, "maya").await, Some(v2.clone()));
    assert_eq!(store.ai_agent(&v1.id, Some(1)).await.unwrap(), Some(v1));
    assert_eq!(store.ai_agent(&v2.id, Some(3)).await.unwrap(), None);
    assert_eq!(store.ai_agent(&v2.id, Some(2)).await.unwrap(), Some(v2));
}

/// A new version must follow the latest one of the same organisation: a
/// taken id is `AlreadyExists`, a stale or skipped version or another
/// organisation's agent a `Conflict`, an unknown agent `NotFound`, version
/// 0 `Invalid`; nothing refused is stored.
pub async fn a_version_must_follow_the_latest(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    store
        .put_ai_agent(&ai_agent("maya", &acme, 1))
        .await
        .unwrap();
    store
        .put_ai_agent(&ai_agent("maya", &acme, 2))
        .await
        .unwrap();
    let refused = [
        (ai_agent("maya", &acme, 1), "AlreadyExists"),
        (ai_agent("maya", &acme, 2), "Conflict"),
        (ai_agent("maya", &acme, 4), "Conflict"),
        (ai_agent("maya", &org("other"), 3), "Conflict"),
        (ai_agent("ghost", &acme, 2), "NotFound"),
        (ai_agent("zero", &acme, 0), "Invalid"),
    ];
    for (agent, expected) in refused {
        let got = match store.put_ai_agent(&agent).await {
            Err(StoreError::AlreadyExists(_)) => "AlreadyExists",
            Err(StoreError::Conflict(_)) => "Conflict",
            Err(StoreError::NotFound(_)) => "NotFound",
            Err(StoreError::Invalid(_)) => "Invalid",
            other => panic!("version {} of {}: {other:?}", agent.version, agent.id),
        };
        assert_eq!(got, expected, "version {} of {}", agent.version, agent.id);
    }
    assert_eq!(
        latest(&store, "maya").await,
        Some(ai_agent("maya", &acme, 2))
    );
    assert_eq!(latest(&store, "ghost").await, None);
    assert_eq!(latest(&store, "zero").await, None);
}

/// Of two concurrent writers of the same next version, exactly one wins.
pub async fn concurrent_writers_of_one_version_never_both_win(subject: StoreSubject) {
    let store = subject.store();
    let acme = org("acme");
    store
        .put_ai_agent(&ai_agent("maya", &acme, 1))
        .await
        .unwrap();
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            let mut agent = ai_agent("maya", &acme, 2);
            agent.config = serde_json::json!({ "name": format!("writer {n}") });
            tokio::spawn(async move { (store.put_ai_agent(&agent).await, agent) })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.expect("a writer task") {
            (Ok(()), agent) => winners.push(agent),
            (Err(StoreError::Conflict(_)), _) => {}
            (Err(e), _) => panic!("a losing writer must see a conflict: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer stores version 2");
    assert_eq!(latest(&store, "maya").await, winners.pop());
}

/// A listing holds each agent of the organisation once, at its latest
/// version, by id; other organisations' agents are not in it.
pub async fn agents_are_listed_per_organisation_at_their_latest(subject: StoreSubject) {
    let store = subject.store();
    let (acme, other) = (org("acme"), org("acme-2"));
    for agent in [
        ai_agent("raj", &acme, 1),
        ai_agent("maya", &acme, 1),
        ai_agent("maya", &acme, 2),
        ai_agent("zoe", &other, 1),
    ] {
        store.put_ai_agent(&agent).await.unwrap();
    }
    assert_eq!(
        store.ai_agents(&acme).await.unwrap(),
        [ai_agent("maya", &acme, 2), ai_agent("raj", &acme, 1)]
    );
    assert_eq!(
        store.ai_agents(&other).await.unwrap(),
        [ai_agent("zoe", &other, 1)]
    );
    assert!(store.ai_agents(&org("nobody")).await.unwrap().is_empty());
}
