//! Transfers to a human agent on the engine (embedded store, model
//! carrier): the agent is busy on the call while it is transferred and
//! available again once the call ends, so the next transfer can take them.

use std::sync::Arc;

use voxdial_app::media::TransferMode;
use voxdial_domain::{AgentStatus, CallId, E164, HumanAgent, HumanAgentId, OrgId};
use voxdial_local::LocalStore;
use voxdial_testkit::fixtures::t0;
use voxdial_tests::world::{Scenario, World};

/// The world with one available agent, `ana`.
async fn world_with_an_agent(leads: usize) -> (World, tempfile::TempDir) {
    let mut world = World::new(Scenario {
        seed: 11,
        cap: 1,
        leads,
        faults: false,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let agents = Arc::new(LocalStore::open(dir.path().join("agents.sqlite")).unwrap());
    world.engine = world.engine.clone().with_agents(agents);
    world
        .engine
        .put_human_agent(&HumanAgent {
            id: HumanAgentId::parse("ana").unwrap(),
            org_id: OrgId::default(),
            name: "Ana".into(),
            number: E164::parse("+14155550199", None).unwrap(),
            skills: Vec::new(),
            status: AgentStatus::Available,
            since: t0(),
            call_id: None,
        })
        .await
        .unwrap();
    (world, dir)
}

/// Dials the next lead and returns its live call.
async fn next_call(world: &mut World) -> CallId {
    world.dispatch(1).await;
    while world.deliver_one().await {}
    let page = world
        .engine
        .calls_page(&world.campaign, None, 10)
        .await
        .unwrap();
    page.into_iter()
        .find(|c| !c.state.is_terminal())
        .expect("a live call")
        .id
}

async fn ana(world: &World) -> HumanAgent {
    world
        .engine
        .human_agents(&OrgId::default())
        .await
        .unwrap()
        .remove(0)
}

/// GIVEN one agent and two leads
/// WHEN the first call is transferred to the agent and then ends
/// THEN the agent is busy on that call during the transfer, available
/// once it ended, and the second call's transfer takes them again.
#[tokio::test]
async fn a_transferred_call_releases_its_agent_when_it_ends() {
    let (mut world, _dir) = world_with_an_agent(2).await;
    let first = next_call(&mut world).await;
    let agent = world
        .engine
        .reserve_human_agent(&first, &[])
        .await
        .unwrap()
        .expect("ana is available");
    world
        .engine
        .transfer_call(&first, &agent, TransferMode::Warm, "Wants a quote", "asked")
        .await
        .unwrap();
    let during = ana(&world).await;
    assert_eq!(
        (during.status, during.call_id.as_ref()),
        (AgentStatus::Busy, Some(&first))
    );
    assert!(
        world
            .engine
            .reserve_human_agent(&first, &[])
            .await
            .unwrap()
            .is_none(),
        "nobody else is free during the transfer"
    );

    let carrier = world.carrier.clone();
    world.end_calls(&carrier).await;
    let after = ana(&world).await;
    assert_eq!(
        (after.status, after.call_id),
        (AgentStatus::Available, None)
    );

    let second = next_call(&mut world).await;
    assert_ne!(first, second);
    let again = world
        .engine
        .reserve_human_agent(&second, &[])
        .await
        .unwrap();
    // The engine answers the organisation's own id, as the API shows it.
    assert_eq!(again.map(|a| a.id.to_string()), Some("ana".into()));
}

/// GIVEN an agent reserved for a call that an operator then set away
/// WHEN that call ends
/// THEN the agent stays away: the call's end releases only an agent still
/// busy on it.
#[tokio::test]
async fn a_call_end_never_releases_an_agent_set_away_meanwhile() {
    let (mut world, _dir) = world_with_an_agent(1).await;
    let call = next_call(&mut world).await;
    let agent = world
        .engine
        .reserve_human_agent(&call, &[])
        .await
        .unwrap()
        .unwrap();
    world
        .engine
        .transfer_call(&call, &agent, TransferMode::Cold, "", "asked")
        .await
        .unwrap();
    world
        .engine
        .set_human_agent_status(
            &OrgId::default(),
            &HumanAgentId::parse("ana").unwrap(),
            AgentStatus::Offline,
        )
        .await
        .unwrap();
    let carrier = world.carrier.clone();
    world.end_calls(&carrier).await;
    assert_eq!(ana(&world).await.status, AgentStatus::Offline);
}
