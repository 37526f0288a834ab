//! Transfers to a human agent on the engine (embedded store, model
//! carrier): the agent is busy on the call while it is transferred and
//! available again once the call ends, so the next transfer can take them.
//! An operator hangs up a live call or sends it to a chosen agent through
//! the API (`POST /v1/calls/{id}/hangup`, `/transfer`): each is audited,
//! a viewer is refused and changes nothing, a busy agent is refused.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use voxdial_app::media::TransferMode;
use voxdial_domain::{AgentStatus, CallId, E164, HumanAgent, HumanAgentId, OrgId, Role};
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

/// The API over the world's engine, and a key of `role`.
async fn api_as(world: &World, role: Role) -> (axum::Router, String) {
    let (_, secret) = world
        .engine
        .create_api_key(&OrgId::default(), role, "console")
        .await
        .unwrap();
    (
        voxdial_http::api::router(world.engine.clone()),
        format!("Bearer {}", secret.expose()),
    )
}

async fn post(app: &axum::Router, auth: &str, path: String, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The audit trail's routes, newest first.
async fn audited(world: &World) -> Vec<(String, Option<String>)> {
    world
        .engine
        .audit(&OrgId::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.route, e.target))
        .collect()
}

/// GIVEN a live call and an available agent
/// WHEN a viewer, then an operator, sends it to the agent from the console
/// THEN the viewer is refused and nothing changes; the operator's transfer
/// makes the agent busy on the call, is stored on it and audited; a second
/// call cannot take the busy agent.
#[tokio::test]
async fn an_operator_sends_a_live_call_to_a_chosen_agent() {
    let (mut world, _dir) = world_with_an_agent(2).await;
    let call = next_call(&mut world).await;
    let path = format!("/v1/calls/{call}/transfer");
    let body = json!({"agent_id": "ana", "mode": "warm"});

    let (app, viewer) = api_as(&world, Role::Viewer).await;
    assert_eq!(
        post(&app, &viewer, path.clone(), body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(ana(&world).await.status, AgentStatus::Available);

    let (app, operator) = api_as(&world, Role::Operator).await;
    let (status, answer) = post(&app, &operator, path.clone(), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["transfer"]["mode"], "warm", "{answer}");
    assert_eq!(answer["disposition"], "transferred");
    let during = ana(&world).await;
    assert_eq!(
        (during.status, during.call_id),
        (AgentStatus::Busy, Some(call.clone()))
    );
    assert_eq!(
        audited(&world).await[0],
        (
            "/v1/calls/{id}/transfer".to_string(),
            Some(call.to_string())
        )
    );

    // Bad input: an unknown mode, an unknown agent, a busy one.
    let bad = post(
        &app,
        &operator,
        path.clone(),
        json!({"agent_id": "ana", "mode": "hot"}),
    )
    .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST, "{}", bad.1);
    let second = next_call(&mut world).await;
    let second_path = format!("/v1/calls/{second}/transfer");
    let ghost = post(
        &app,
        &operator,
        second_path.clone(),
        json!({"agent_id": "eve", "mode": "cold"}),
    )
    .await;
    assert_eq!(ghost.0, StatusCode::NOT_FOUND, "{}", ghost.1);
    let busy = post(&app, &operator, second_path, body).await;
    assert_eq!(busy.0, StatusCode::CONFLICT, "{}", busy.1);
    assert_eq!(ana(&world).await.call_id, Some(call));
}

/// GIVEN a live call
/// WHEN a viewer, then an operator, hangs it up from the console
/// THEN the viewer is refused; the operator's hang-up ends the call at its
/// provider (the call ends through its status events), is audited, and a
/// second hang-up of the ended call is a conflict.
#[tokio::test]
async fn an_operator_hangs_up_a_live_call() {
    let (mut world, _dir) = world_with_an_agent(1).await;
    let call = next_call(&mut world).await;
    let path = format!("/v1/calls/{call}/hangup");

    let (app, viewer) = api_as(&world, Role::Viewer).await;
    assert_eq!(
        post(&app, &viewer, path.clone(), Value::Null).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(!world.engine.call(&call).await.unwrap().state.is_terminal());
    assert!(
        audited(&world)
            .await
            .iter()
            .all(|(route, _)| !route.ends_with("/hangup"))
    );

    let (app, operator) = api_as(&world, Role::Operator).await;
    let (status, answer) = post(&app, &operator, path.clone(), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    while world.deliver_one().await {}
    assert!(world.engine.call(&call).await.unwrap().state.is_terminal());
    assert_eq!(
        audited(&world).await[0],
        ("/v1/calls/{id}/hangup".to_string(), Some(call.to_string()))
    );
    let again = post(&app, &operator, path, Value::Null).await;
    assert_eq!(again.0, StatusCode::CONFLICT, "{}", again.1);
}
