//! A call talks with its campaign's stored AI agent, at the version the
//! campaign pinned when it started: the host reads it from the store
//! (`EngineHost::call_context`), and the model's system instruction and the
//! voicemail left are that agent's.

mod common;

use std::sync::Arc;

use serde_json::json;
use voxdial_app::Engine;
use voxdial_bridge::BridgeHost;
use voxdial_conversation::{AgentConfig, CallContext};
use voxdial_domain::{AgentId, CallId, CampaignAction, CampaignSettings, OrgId, Store};
use voxdial_host::{Agents, EngineHost};
use voxdial_testkit::fixtures::{call_for, lead, t0};

struct World {
    engine: Engine,
    host: EngineHost,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::local_engine(dir.path());
    let host = EngineHost::new(engine.clone(), Agents::new(AgentConfig::default()));
    World {
        engine,
        host,
        _dir: dir,
    }
}

fn draft(name: &str, voicemail: &str) -> Vec<u8> {
    json!({"config": {
        "name": name,
        "system_prompt": format!("You are {name}, calling for Sunrise Dental about a check-up."),
        "voicemail": {"text": voicemail},
    }})
    .to_string()
    .into_bytes()
}

/// A running campaign of `agent` with one lead and its first call.
async fn call_of_campaign(w: &World, agent: &AgentId) -> CallId {
    let settings = CampaignSettings {
        agent_id: agent.clone(),
        ..CampaignSettings::default()
    };
    let org = OrgId::default();
    let campaign = w.engine.create_campaign(&org, settings).await.unwrap();
    let l = lead(&campaign.id, 1, t0());
    let store: &Arc<dyn Store> = w.engine.store();
    store
        .import_leads(&campaign.id, vec![l.clone()])
        .await
        .unwrap();
    w.engine
        .act(&campaign.id, CampaignAction::Start)
        .await
        .unwrap();
    let call = call_for(&l, 1, t0());
    store.create_call(&call).await.unwrap();
    call.id
}

async fn context(w: &World, call: &CallId) -> CallContext {
    w.host.call_context(call).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_runs_with_its_campaigns_pinned_agent_version() {
    let w = world();
    let org = OrgId::default();
    // GIVEN an agent "Maya" (version 1) and a running campaign that uses it
    let maya = w
        .engine
        .create_ai_agent(&org, &draft("Maya", "Hi, Maya from Sunrise Dental here."))
        .await
        .unwrap();
    let call = call_of_campaign(&w, &maya.id).await;

    // THEN its call gets Maya's prompt, in the model's instruction, and her voicemail
    let ctx = context(&w, &call).await;
    assert_eq!(ctx.agent.name, "Maya");
    assert!(
        ctx.agent
            .system_instruction(&ctx)
            .starts_with("You are Maya, calling for Sunrise Dental"),
        "{}",
        ctx.agent.system_instruction(&ctx)
    );
    assert_eq!(
        ctx.agent.voicemail.text,
        "Hi, Maya from Sunrise Dental here."
    );

    // WHEN the agent gets a version 2, the running campaign keeps version 1
    let v2 = w
        .engine
        .update_ai_agent(&org, &maya.id, &draft("Maya Two", "Version two."))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(context(&w, &call).await.agent.name, "Maya");

    // until an operator moves it to version 2
    let campaign = w.engine.call(&call).await.unwrap().campaign_id;
    let moved = w
        .engine
        .set_campaign_agent(&org, &campaign, &maya.id, Some(2))
        .await
        .unwrap();
    assert_eq!(moved.agent_version, Some(2));
    let ctx = context(&w, &call).await;
    assert_eq!(ctx.agent.name, "Maya Two");
    assert_eq!(ctx.agent.voicemail.text, "Version two.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_without_an_agent_gets_the_built_in_one() {
    let w = world();
    let built_in = AgentId::parse(AgentId::BUILT_IN).unwrap();
    let call = call_of_campaign(&w, &built_in).await;
    assert_eq!(context(&w, &call).await.agent, AgentConfig::default());
}
