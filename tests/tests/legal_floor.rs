//! The legal floor under calling rules (issue 10, item 3), through the
//! engine: campaigns narrow it and never widen it, consent is off only by
//! an audited admin waiver, and every dial names the rule that allowed it.

use std::sync::Arc;

use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{AppError, Engine, EngineConfig};
use voxdial_domain::{CallingWindow, CampaignSettings, Clock, E164, NewLead, OrgId};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;
use voxdial_tests::model::ModelFaults;
use voxdial_tests::world::{Scenario, World};

fn engine(dir: &std::path::Path) -> Engine {
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.join("s.sqlite")).unwrap());
    let queue =
        LocalQueue::open(dir.join("q.sqlite"), QueueConfig::default(), clock.clone()).unwrap();
    Engine::new(
        store,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    )
}

fn refusal(result: Result<voxdial_domain::Campaign, AppError>) -> (u16, String) {
    let error = result.expect_err("refused");
    (error.http_status(), error.to_string())
}

#[tokio::test]
async fn a_campaign_that_widens_the_floor_gets_a_400_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    // the finding's hours: 00:00-23:59 in the US
    let mut wide = CampaignSettings::default();
    wide.calling_hours
        .countries
        .insert("US".into(), CallingWindow::daily((0, 0), (23, 59)));
    let (status, message) = refusal(engine.create_campaign(&OrgId::default(), wide).await);
    assert_eq!(status, 400);
    assert!(
        message.contains("legal floor US (TCPA) 08:00-21:00"),
        "{message}"
    );
    // narrower hours are fine
    let mut narrow = CampaignSettings::default();
    narrow
        .calling_hours
        .countries
        .insert("US".into(), CallingWindow::daily((10, 0), (17, 30)));
    engine
        .create_campaign(&OrgId::default(), narrow)
        .await
        .unwrap();
    assert_eq!(engine.campaigns(&OrgId::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn consent_goes_off_only_by_an_audited_admin_waiver() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path());
    // a campaign field alone is refused
    let no_consent = CampaignSettings {
        require_consent: false,
        ..CampaignSettings::default()
    };
    let (status, message) = refusal(engine.create_campaign(&OrgId::default(), no_consent).await);
    assert_eq!(status, 400);
    assert!(message.contains("require_consent"), "{message}");
    // the admin waiver needs who and why, and is kept on the campaign
    let campaign = engine
        .create_campaign(&OrgId::default(), CampaignSettings::default())
        .await
        .unwrap();
    let (status, _) = refusal(
        engine
            .waive_consent(&campaign.id, "", "existing customers")
            .await,
    );
    assert_eq!(status, 400);
    engine
        .waive_consent(&campaign.id, "admin@example.com", "existing customers")
        .await
        .unwrap();
    let stored = engine.campaign(&campaign.id).await.unwrap();
    assert!(!stored.settings.require_consent);
    let waiver = stored.consent_waiver.expect("the audit entry");
    assert_eq!(
        (waiver.by.as_str(), waiver.reason.as_str(), waiver.at),
        ("admin@example.com", "existing customers", t0())
    );
}

#[tokio::test]
async fn every_dial_names_the_floor_rule_that_allowed_it() {
    // GIVEN consenting leads in five states
    let expected = [
        ("+12125550100", "US-NY: TCPA 08:00-21:00"),
        ("+13055550100", "US-FL: Fla. Stat. 501.616 08:00-20:00"),
        ("+12065550100", "US-WA: RCW 80.36.390 08:00-20:00"),
        (
            "+14055550100",
            "US-OK: 15 O.S. 775C.4 and 755.1 09:00-20:00",
        ),
        (
            "+17135550100",
            "US-TX: Tex. Bus. & Com. Code 301.051 Mon-Sat 09:00-21:00, Sun 12:00-21:00",
        ),
    ];
    let leads = expected
        .iter()
        .map(|(number, _)| NewLead {
            phone: E164::parse(number, None).unwrap(),
            name: "Lead".into(),
            time_zone: None,
            custom: Default::default(),
            consent: true,
        })
        .collect();
    let scenario = Scenario {
        seed: 7,
        cap: 10,
        leads: expected.len(),
        faults: false,
    };
    let mut w = World::build(scenario, leads, &[("model", ModelFaults::default())]).await;
    // WHEN they are dispatched at t0 (Monday 15:00 UTC: 08:00 in Seattle,
    // 10:00 in Oklahoma City and Houston, 11:00 in New York and Miami)
    w.dispatch(10).await;
    // THEN each call's compliance record names its jurisdiction's rule
    let calls = w.engine.calls_page(&w.campaign, None, 100).await.unwrap();
    assert_eq!(calls.len(), expected.len());
    for call in &calls {
        let (_, floor) = expected
            .iter()
            .find(|(number, _)| *number == call.to.as_str())
            .unwrap();
        assert_eq!(call.compliance.floor, *floor);
    }
}
