//! The [`HumanAgentStore`](voxdial_domain::HumanAgentStore) contract: agents
//! are stored and listed by id; reserving takes the longest-idle available
//! agent with every requested skill and marks them busy, atomically, so two
//! concurrent transfers never get the same person; releasing frees only
//! the agent still busy on that call.

use std::sync::Arc;

use voxdial_domain::{AgentStatus, CallId, E164, HumanAgent, HumanAgentId, OrgId};

use crate::AgentSubject;
use crate::fixtures::{at, t0};

fn agent(id: &str, skills: &[&str], status: AgentStatus, since_secs: i64) -> HumanAgent {
    HumanAgent {
        id: HumanAgentId::parse(id).expect("a valid id"),
        org_id: OrgId::default(),
        name: format!("Agent {id}"),
        number: E164::parse("+14155550199", None).expect("a valid number"),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        status,
        since: at(since_secs),
        call_id: None,
    }
}

fn call(n: u32) -> CallId {
    CallId::parse(format!("ld_transfer.{n}")).expect("a valid call id")
}

/// `put_agent` adds or replaces; `agents` lists by id; `set_agent_status`
/// changes the status and its time, and is false for an unknown agent.
pub async fn agents_are_stored_listed_and_updated(subject: AgentSubject) {
    let store = subject.agents();
    assert!(store.agents().await.unwrap().is_empty());
    store
        .put_agent(&agent("b", &["billing"], AgentStatus::Offline, 0))
        .await
        .unwrap();
    store
        .put_agent(&agent("a", &[], AgentStatus::Available, 0))
        .await
        .unwrap();
    let mut renamed = agent("b", &["billing", "spanish"], AgentStatus::Offline, 0);
    renamed.name = "Bea".into();
    store.put_agent(&renamed).await.unwrap();
    let listed = store.agents().await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(listed[1], renamed);

    let id = HumanAgentId::parse("b").unwrap();
    assert!(
        store
            .set_agent_status(&id, AgentStatus::WrapUp, at(9))
            .await
            .unwrap()
    );
    let b = store.agents().await.unwrap().remove(1);
    assert_eq!((b.status, b.since), (AgentStatus::WrapUp, at(9)));
    let ghost = HumanAgentId::parse("nobody").unwrap();
    assert!(
        !store
            .set_agent_status(&ghost, AgentStatus::Available, t0())
            .await
            .unwrap()
    );
}

/// `reserve_agent` takes only available agents of the asking organisation
/// with every skill, the longest idle first, and marks them busy; `None`
/// when nobody fits.
pub async fn reserve_takes_the_longest_idle_skilled_available_agent(subject: AgentSubject) {
    let store = subject.agents();
    store
        .put_agent(&agent("busy", &["spanish"], AgentStatus::Busy, 0))
        .await
        .unwrap();
    store
        .put_agent(&agent(
            "late",
            &["spanish", "billing"],
            AgentStatus::Available,
            50,
        ))
        .await
        .unwrap();
    store
        .put_agent(&agent("early", &["spanish"], AgentStatus::Available, 10))
        .await
        .unwrap();
    store
        .put_agent(&agent("offline", &["spanish"], AgentStatus::Offline, 0))
        .await
        .unwrap();
    let mut elsewhere = agent("elsewhere", &["spanish"], AgentStatus::Available, 0);
    elsewhere.org_id = OrgId::parse("other").expect("a valid organisation id");
    store.put_agent(&elsewhere).await.unwrap();

    let spanish = ["spanish".to_string()];
    let first = store
        .reserve_agent(&OrgId::default(), &spanish, &call(1), at(100))
        .await
        .unwrap()
        .expect("an agent");
    assert_eq!(first.id.as_str(), "early", "longest idle first");
    assert_eq!(
        (first.status, first.since, first.call_id),
        (AgentStatus::Busy, at(100), Some(call(1)))
    );
    let both = ["spanish".to_string(), "billing".to_string()];
    assert_eq!(
        store
            .reserve_agent(&OrgId::default(), &both, &call(2), at(101))
            .await
            .unwrap()
            .map(|a| a.id.to_string()),
        Some("late".into())
    );
    assert_eq!(
        store
            .reserve_agent(&OrgId::default(), &[], &call(3), at(102))
            .await
            .unwrap(),
        None,
        "everyone is taken"
    );
    let stored = store.agents().await.unwrap();
    assert!(
        stored
            .iter()
            .filter(|a| !["offline", "elsewhere"].contains(&a.id.as_str()))
            .all(|a| a.status == AgentStatus::Busy)
    );
}

/// Twenty concurrent reservations over three available agents: exactly
/// three succeed, each with a different agent.
pub async fn concurrent_reservations_never_share_an_agent(subject: AgentSubject) {
    let store = subject.agents();
    for id in ["a", "b", "c"] {
        store
            .put_agent(&agent(id, &[], AgentStatus::Available, 0))
            .await
            .unwrap();
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .reserve_agent(&OrgId::default(), &[], &call(i as u32), at(i))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        if let Some(agent) = task.await.unwrap() {
            got.push(agent.id.to_string());
        }
    }
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
}

/// `release_agent` makes the agent busy on that call available again,
/// once; it changes nothing for another call's agent, an agent an
/// operator set away meanwhile, or an unknown agent. A status an operator
/// sets clears the call.
pub async fn release_frees_only_the_agent_busy_on_that_call(subject: AgentSubject) {
    let store = subject.agents();
    store
        .put_agent(&agent("a", &[], AgentStatus::Available, 0))
        .await
        .unwrap();
    let id = HumanAgentId::parse("a").unwrap();
    let org = OrgId::default();
    let reserved = store
        .reserve_agent(&org, &[], &call(1), at(5))
        .await
        .unwrap();
    assert_eq!(reserved.map(|a| a.id), Some(id.clone()));

    assert!(!store.release_agent(&id, &call(2), at(6)).await.unwrap());
    let a = store.agents().await.unwrap().remove(0);
    assert_eq!((a.status, a.call_id), (AgentStatus::Busy, Some(call(1))));

    assert!(store.release_agent(&id, &call(1), at(7)).await.unwrap());
    let a = store.agents().await.unwrap().remove(0);
    assert_eq!(
        (a.status, a.since, a.call_id),
        (AgentStatus::Available, at(7), None)
    );
    assert!(
        !store.release_agent(&id, &call(1), at(8)).await.unwrap(),
        "released once"
    );

    // Reserved again, then set away by an operator: a late release of that
    // call must not make them available.
    store
        .reserve_agent(&org, &[], &call(3), at(9))
        .await
        .unwrap();
    assert!(
        store
            .set_agent_status(&id, AgentStatus::Offline, at(10))
            .await
            .unwrap()
    );
    assert!(!store.release_agent(&id, &call(3), at(11)).await.unwrap());
    let a = store.agents().await.unwrap().remove(0);
    assert_eq!((a.status, a.call_id), (AgentStatus::Offline, None));
    let ghost = HumanAgentId::parse("nobody").unwrap();
    assert!(!store.release_agent(&ghost, &call(1), at(12)).await.unwrap());
}

/// `take_agent` makes the named agent busy on the call only while they are
/// available (an operator's transfer to a chosen person): never an agent
/// busy on another call or away, nor an unknown one; two concurrent takes
/// of the same agent, one wins.
pub async fn take_reserves_the_named_agent_only_when_available(subject: AgentSubject) {
    let store = subject.agents();
    store
        .put_agent(&agent("a", &[], AgentStatus::Available, 0))
        .await
        .unwrap();
    store
        .put_agent(&agent("away", &[], AgentStatus::Offline, 0))
        .await
        .unwrap();
    let id = HumanAgentId::parse("a").unwrap();
    let away = HumanAgentId::parse("away").unwrap();
    let ghost = HumanAgentId::parse("ghost").unwrap();

    assert!(!store.take_agent(&away, &call(1), at(1)).await.unwrap());
    assert!(!store.take_agent(&ghost, &call(1), at(1)).await.unwrap());
    let (one, two) = (call(1), call(2));
    let (first, second) = tokio::join!(
        store.take_agent(&id, &one, at(2)),
        store.take_agent(&id, &two, at(2)),
    );
    let takes = [first.unwrap(), second.unwrap()];
    assert_eq!(takes.iter().filter(|t| **t).count(), 1, "{takes:?}");
    let a = store
        .agents()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap();
    assert_eq!((a.status, a.since), (AgentStatus::Busy, at(2)));
    let winner = a.call_id.clone().unwrap();
    assert!(!store.take_agent(&id, &call(3), at(3)).await.unwrap());
    // Released by the call that took them, they can be taken again.
    assert!(store.release_agent(&id, &winner, at(4)).await.unwrap());
    assert!(store.take_agent(&id, &call(3), at(5)).await.unwrap());
    let away = store
        .agents()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == away)
        .unwrap();
    assert_eq!(away.status, AgentStatus::Offline);
}
