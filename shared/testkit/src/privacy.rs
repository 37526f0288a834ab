//! The privacy store contract: erasure, suppression digests and the
//! retention schedule ([`PrivacyStore`](voxdial_domain::PrivacyStore), part
//! of every [`Store`](voxdial_domain::Store)), one function per case.
//! [`privacy_contract!`](crate::privacy_contract) turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here: the tombstone returned
//! and stored carries the store's counts (`calls_erased`,
//! `suppressions_kept`, `lead_state`); the retention entries an erasure
//! deletes are those its calls' records name (`post_call.retention`);
//! erasing a lead that is gone answers
//! `None` and leaves the tombstone as it was; `due_purges` is strictly
//! before `now`, earliest first.

use voxdial_domain::{
    CallOutcome, CallState, CampaignId, DncScope, LeadState, PurgeDue, Store, StoreError,
    SuppressionDigest, Tombstone,
};

use crate::StoreSubject;
use crate::fixtures::{
    at, call_for, campaign, campaign_id, ended, final_release, lead, lead_id_of, t0,
};

fn digest(n: u8) -> SuppressionDigest {
    SuppressionDigest(format!("{n:02x}").repeat(32))
}

fn tombstone(lead: &voxdial_domain::LeadId, campaign: &CampaignId) -> Tombstone {
    Tombstone {
        lead_id: lead.clone(),
        campaign_id: campaign.clone(),
        erased_at: at(5_000),
        requested_via: "test".into(),
        calls_erased: 0,
        blobs_erased: 3,
        provider_recordings_erased: 0,
        suppressions_kept: 0,
        lead_state: String::new(),
    }
}

/// The organisation of the suite's campaign.
fn acme() -> voxdial_domain::OrgId {
    voxdial_domain::OrgId::parse("acme").expect("valid id")
}

/// A campaign of [`acme`] with leads 0..3; lead 0 was called once
/// (terminal, final) and its number is on the organisation's and the
/// campaign's do-not-call lists.
async fn given_called_lead(store: &dyn Store) -> (CampaignId, voxdial_domain::Lead) {
    let mut c = campaign("camp-p", t0());
    c.org_id = acme();
    store.insert_campaign(&c).await.expect("insert_campaign");
    let batch: Vec<_> = (0..3).map(|n| lead(&c.id, n, t0())).collect();
    store
        .import_leads(&c.id, batch)
        .await
        .expect("import_leads");
    let claimed = store
        .claim_due(&c.id, 1, t0(), at(600), 1)
        .await
        .expect("claim_due");
    assert_eq!(claimed.len(), 1);
    let l = claimed.into_iter().next().expect("one lead");
    let call = call_for(&l, 1, t0());
    store.create_call(&call).await.expect("create_call");
    let done = ended(&call, CallState::Completed, at(60));
    let outcome = CallOutcome::Human { disposition: None };
    let release = final_release(&l.id, 1, outcome, at(60));
    assert!(store.finish_call(&done, &release).await.expect("finish"));
    store
        .add_dnc(
            &DncScope::Organisation(acme()),
            std::slice::from_ref(&l.phone),
            at(61),
        )
        .await
        .expect("add_dnc");
    store
        .add_dnc(
            &DncScope::Campaign(c.id.clone()),
            std::slice::from_ref(&l.phone),
            at(61),
        )
        .await
        .expect("add_dnc");
    // The app schedules a purge and notes it on the call record; the
    // record is how an erasure finds the entry.
    store
        .schedule_purge(&call.id, at(9_000))
        .await
        .expect("schedule_purge");
    let mut stored = store.call(&call.id).await.expect("call").expect("stored");
    stored.post_call.retention = Some(voxdial_domain::RetentionRecord {
        purge_at: at(9_000),
        purged_at: None,
    });
    store.update_call(&stored).await.expect("update_call");
    let l = store.lead(&l.id).await.expect("lead").expect("stored");
    (c.id, l)
}

/// Erasing a lead deletes it, its calls, its plaintext do-not-call entries
/// (kept as digests), its number's uniqueness and its retention entries,
/// and stores a tombstone; the other leads and the counts stay right.
pub async fn erase_lead_deletes_everything_and_keeps_a_tombstone(subject: StoreSubject) {
    let store = subject.store();
    let (c, l) = given_called_lead(&*store).await;
    let call_id = voxdial_domain::CallId::for_attempt(&l.id, 1);
    let total_before = store.progress(&c).await.expect("progress").total;

    let stone = store
        .erase_lead(&l.id, &digest(7), &tombstone(&l.id, &c))
        .await
        .expect("erase_lead")
        .expect("the lead existed");

    assert_eq!(stone.calls_erased, 1);
    assert_eq!(stone.suppressions_kept, 2);
    assert_eq!(stone.lead_state, "final");
    assert_eq!(stone.blobs_erased, 3, "the caller's counts are kept");
    assert_eq!(
        store.tombstone(&l.id).await.expect("tombstone"),
        Some(stone.clone())
    );
    assert_eq!(store.lead(&l.id).await.expect("lead"), None);
    assert_eq!(store.call(&call_id).await.expect("call"), None);
    let hit = store.dnc_hit(&acme(), &c, &l.phone).await.expect("dnc_hit");
    assert!(!hit.global && !hit.campaign, "no plaintext entry is left");
    let kept = store
        .suppressed(&acme(), &c, &digest(7))
        .await
        .expect("suppressed");
    assert!(
        kept.global && kept.campaign,
        "the digests keep it suppressed"
    );
    let other = store
        .suppressed(&acme(), &c, &digest(8))
        .await
        .expect("suppressed");
    assert!(!other.global && !other.campaign);
    let elsewhere = store
        .suppressed(
            &voxdial_domain::OrgId::default(),
            &campaign_id("camp-q"),
            &digest(7),
        )
        .await
        .expect("suppressed");
    assert!(
        !elsewhere.global && !elsewhere.campaign,
        "another organisation's lists do not hold it"
    );
    assert!(
        store
            .due_purges(at(100_000), 10)
            .await
            .expect("due")
            .is_empty(),
        "the erased call's retention entry is gone"
    );
    let progress = store.progress(&c).await.expect("progress");
    assert_eq!(progress.total, total_before - 1);
    assert_eq!(progress.final_total(), 0, "the final lead is not counted");
    assert_eq!(
        store.leads(&c, None, 100).await.expect("leads").len(),
        2,
        "the other leads stay"
    );
    assert!(
        store
            .lead(&lead_id_of(&c, 1))
            .await
            .expect("lead")
            .is_some()
    );

    // Erasing again finds nothing and keeps the tombstone.
    let again = store
        .erase_lead(&l.id, &digest(7), &tombstone(&l.id, &c))
        .await
        .expect("erase_lead");
    assert_eq!(again, None);
    assert_eq!(
        store.tombstone(&l.id).await.expect("tombstone"),
        Some(stone)
    );

    // The number is free again in the campaign: a new import stores it.
    let mut fresh = lead(&c, 0, at(6_000));
    fresh.id = voxdial_domain::LeadId::parse("camp-p-again").expect("id");
    let counts = store.import_leads(&c, vec![fresh]).await.expect("import");
    assert_eq!(counts.inserted, 1);
}

/// A lead holding a slot (in a call) is not erased.
pub async fn erase_refuses_a_lead_in_a_call(subject: StoreSubject) {
    let store = subject.store();
    let c = campaign("camp-q", t0());
    store.insert_campaign(&c).await.expect("insert_campaign");
    store
        .import_leads(&c.id, vec![lead(&c.id, 0, t0())])
        .await
        .expect("import");
    let claimed = store
        .claim_due(&c.id, 1, t0(), at(600), 1)
        .await
        .expect("claim");
    assert!(matches!(claimed[0].state, LeadState::Active { .. }));
    let result = store
        .erase_lead(
            &claimed[0].id,
            &digest(1),
            &tombstone(&claimed[0].id, &c.id),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(store.lead(&claimed[0].id).await.expect("lead").is_some());
    assert_eq!(store.tombstone(&claimed[0].id).await.expect("t"), None);
}

/// Retention entries come due in time order, strictly before `now`, and
/// go once cleared; a moved entry is due at its new time only.
pub async fn purges_come_due_in_order_and_clear(subject: StoreSubject) {
    let store = subject.store();
    let call = |n: u32| voxdial_domain::CallId::parse(format!("ld_p.{n}")).expect("id");
    store.schedule_purge(&call(1), at(300)).await.expect("s");
    store.schedule_purge(&call(2), at(100)).await.expect("s");
    store.schedule_purge(&call(3), at(200)).await.expect("s");
    let due = store.due_purges(at(300), 10).await.expect("due");
    assert_eq!(
        due,
        vec![
            PurgeDue {
                call_id: call(2),
                due_at: at(100)
            },
            PurgeDue {
                call_id: call(3),
                due_at: at(200)
            },
        ]
    );
    assert_eq!(store.due_purges(at(300), 1).await.expect("due").len(), 1);
    store.clear_purge(&due[0]).await.expect("clear");
    // Moving call 3: clear the old time, schedule the new one.
    store.clear_purge(&due[1]).await.expect("clear");
    store.schedule_purge(&call(3), at(500)).await.expect("s");
    let due = store.due_purges(at(400), 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].call_id, call(1));
    assert_eq!(store.due_purges(at(1_000), 10).await.expect("due").len(), 2);
}
