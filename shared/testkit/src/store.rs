//! The store contract: what every [`Store`] adapter must do, one function
//! per case. [`store_contract!`](crate::store_contract) turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here for every adapter:
//! - `insert_campaign`, `import_leads` and `create_call` store records as
//!   given (their `version` included); every later write bumps `version` by
//!   one and sets a lead's `updated_at` to the write's time (`now`, or
//!   `release.at`).
//! - `import_leads` fails as a whole, storing nothing, when the campaign does
//!   not exist (`NotFound`), when a lead belongs to another campaign (an
//!   error of any kind), or when a lead's id is taken, by a stored lead of any
//!   campaign or by an earlier lead of the same batch with another number
//!   (`AlreadyExists`). A lead whose number the campaign already has, stored
//!   or earlier in the batch, is merged: skipped and counted in `merged`.
//! - Due means `due_at <= now`; a lease is expired when `lease_until < now`.
//! - `release` of an unknown lead is `Ok(false)`. A release with `dialed`
//!   adds one to `attempts`; `outcome`, when given, replaces `last_outcome`.
//! - `update_call` never ends a call (a terminal state is `finish_call`'s
//!   job: an error, nothing written) and never changes the state of a
//!   terminal call (`Invalid`); it may update other fields of a terminal
//!   call (a disposition decided after the call).
//! - `finish_call` checks the stored call: `NotFound` if absent, `Conflict`
//!   if its version differs; if it is already terminal nothing is written and
//!   the answer is `Ok(false)` (or `Conflict`), never a second release. A
//!   non-terminal `call` is an error and writes nothing. When the lead no
//!   longer holds the slot for the attempt (the sweeper released it), the
//!   call is still stored and the answer is `Ok(false)`.
//! - `campaigns` is newest first by `created_at`; `calls` newest first by
//!   `created_at`, `before` excluding the given call and everything newer.
//! - `add_dnc` counts a number listed twice in one call once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use voxdial_domain::{
    CallEventKind, CallOutcome, CallState, CampaignAction, CampaignId, CampaignProgress, Claimed,
    CreateCall, Disposition, DncScope, ImportCounts, Lead, LeadId, LeadOutcome, LeadRelease,
    LeadState, OutcomeSource, PendingReason, ScreenReason, Store, StoreError, Timestamp,
};

use crate::StoreSubject;
use crate::fixtures::{
    advanced, at, call_for, campaign, campaign_id, ended, final_release, lead, lead_id, lead_id_of,
    leads, pending, phone, release_for, retry_release, return_release, t0,
};

/// The lease every claim in the suite asks for.
fn lease() -> Timestamp {
    at(600)
}

async fn given_campaign(store: &dyn Store, id: &str) -> CampaignId {
    let c = campaign(id, t0());
    store.insert_campaign(&c).await.expect("insert_campaign");
    c.id
}

async fn given_leads(store: &dyn Store, batch: Vec<Lead>) -> Vec<Lead> {
    let campaign = batch[0].campaign_id.clone();
    let counts = store
        .import_leads(&campaign, batch.clone())
        .await
        .expect("import_leads");
    assert_eq!(
        counts,
        ImportCounts {
            inserted: batch.len() as u64,
            merged: 0
        }
    );
    batch
}

async fn claim(store: &dyn Store, c: &CampaignId, max: u32, limit: usize) -> Vec<Lead> {
    store
        .claim_due(c, max, t0(), lease(), limit)
        .await
        .expect("claim_due")
}

async fn stored_lead(store: &dyn Store, id: &LeadId) -> Lead {
    store
        .lead(id)
        .await
        .expect("lead")
        .unwrap_or_else(|| panic!("lead {id} is not stored"))
}

async fn all_leads(store: &dyn Store, c: &CampaignId) -> Vec<Lead> {
    store.leads(c, None, 100_000).await.expect("leads")
}

/// Counts active leads both ways and checks they agree.
async fn active_count(store: &dyn Store, c: &CampaignId) -> u64 {
    let listed = all_leads(store, c)
        .await
        .iter()
        .filter(|l| matches!(l.state, LeadState::Active { .. }))
        .count() as u64;
    let progress = store.progress(c).await.expect("progress");
    assert_eq!(
        progress.active, listed,
        "progress.active disagrees with the leads in state Active"
    );
    listed
}

fn ids(leads: &[Lead]) -> Vec<LeadId> {
    leads.iter().map(|l| l.id.clone()).collect()
}

fn is_conflict(result: &Result<bool, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

/// A lead of campaign `c`, claimed for attempt 1, with its call created.
async fn claimed_with_call(
    store: &dyn Store,
    c: &CampaignId,
    n: usize,
) -> (Lead, voxdial_domain::CallAttempt) {
    given_leads(store, vec![lead(c, n, t0())]).await;
    let claimed = store
        .claim_due(c, 1_000, t0(), lease(), 1)
        .await
        .expect("claim_due");
    assert_eq!(claimed.len(), 1, "the lead is due and a slot is free");
    assert_eq!(claimed[0].id, lead_id_of(c, n), "the only due lead");
    let call = call_for(&claimed[0], 1, t0());
    assert_eq!(
        store.create_call(&call).await.expect("create_call"),
        CreateCall::Created
    );
    (claimed.into_iter().next().expect("one lead"), call)
}

// ---------------------------------------------------------------- campaigns

/// `insert_campaign` stores a campaign that `campaign` reads back equal; a
/// second insert of the same id is `AlreadyExists` and changes nothing; an
/// unknown id reads as `None`.
pub async fn campaign_insert_and_get(subject: StoreSubject) {
    let store = subject.store();
    let mut c = campaign("camp-a", t0());
    c.settings.name = "Spring renewals ✓".into();
    store.insert_campaign(&c).await.expect("insert_campaign");
    assert_eq!(store.campaign(&c.id).await.unwrap(), Some(c.clone()));

    let mut other = c.clone();
    other.settings.name = "imposter".into();
    let err = store.insert_campaign(&other).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(_)),
        "second insert: {err:?}"
    );
    assert_eq!(store.campaign(&c.id).await.unwrap(), Some(c));
    assert_eq!(store.campaign(&campaign_id("nope")).await.unwrap(), None);
}

/// `campaigns` lists every campaign, newest `created_at` first, whatever
/// the insertion order.
pub async fn campaigns_newest_first(subject: StoreSubject) {
    let store = subject.store();
    for (id, secs) in [("camp-a", 0), ("camp-b", 7_200), ("camp-c", 3_600)] {
        store
            .insert_campaign(&campaign(id, at(secs)))
            .await
            .unwrap();
    }
    let listed: Vec<String> = store
        .campaigns()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(listed, ["camp-b", "camp-c", "camp-a"]);
}

/// `update_campaign` writes only over the version it read: it returns the
/// campaign with `version + 1`; a stale version is `Conflict` and an
/// unknown campaign `NotFound`, both changing nothing.
pub async fn update_campaign_is_versioned(subject: StoreSubject) {
    let store = subject.store();
    let c = campaign("camp-a", t0());
    store.insert_campaign(&c).await.unwrap();

    let mut started = c.clone();
    started.apply(CampaignAction::Start, at(10)).unwrap();
    let saved = store.update_campaign(&started).await.expect("update");
    let mut expected = started.clone();
    expected.version = c.version + 1;
    assert_eq!(saved, expected);
    assert_eq!(store.campaign(&c.id).await.unwrap(), Some(saved.clone()));

    let mut stale = c.clone();
    stale.settings.name = "stale write".into();
    let err = store.update_campaign(&stale).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "stale: {err:?}");
    assert_eq!(store.campaign(&c.id).await.unwrap(), Some(saved.clone()));

    let mut paused = saved.clone();
    paused.apply(CampaignAction::Pause, at(20)).unwrap();
    let saved = store.update_campaign(&paused).await.expect("update");
    assert_eq!(saved.version, c.version + 2);
    assert_eq!(
        store.campaign(&c.id).await.unwrap().map(|c| c.status),
        Some(voxdial_domain::CampaignStatus::Paused)
    );

    let err = store
        .update_campaign(&campaign("missing", t0()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "missing: {err:?}");
    assert_eq!(store.campaign(&campaign_id("missing")).await.unwrap(), None);
}

// ---------------------------------------------------------------- imports

/// `import_leads` stores every lead as given (custom columns, time zone and
/// non-ASCII names included) and counts them; an empty batch stores nothing.
pub async fn import_stores_leads(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let batch = leads(&c, 0..3, t0());
    let counts = store.import_leads(&c, batch.clone()).await.unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 3,
            merged: 0
        }
    );
    for l in &batch {
        assert_eq!(store.lead(&l.id).await.unwrap().as_ref(), Some(l));
    }
    assert_eq!(all_leads(&*store, &c).await, batch);
    assert_eq!(
        store.import_leads(&c, Vec::new()).await.unwrap(),
        ImportCounts::default()
    );
    let progress = store.progress(&c).await.unwrap();
    assert_eq!((progress.total, progress.pending), (3, 3));
    assert_eq!(store.lead(&lead_id("camp-a-L9999")).await.unwrap(), None);
}

/// Two imports into one campaign at once both land whole: one waits for
/// the other's lock, neither undoes the other (a lock taken over as stale
/// while its import still runs would roll that import back). The batches
/// are small: on DynamoDB the second waits at most 30 s for the first,
/// and both take about 3 s on moto with both cores busy.
pub async fn concurrent_imports_into_one_campaign_each_land_whole(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (first, second) = (leads(&c, 0..50, t0()), leads(&c, 50..100, t0()));
    let (a, b) = tokio::join!(
        store.import_leads(&c, first),
        store.import_leads(&c, second)
    );
    assert_eq!((a.unwrap().inserted, b.unwrap().inserted), (50, 50));
    assert_eq!(all_leads(&*store, &c).await.len(), 100);
    let progress = store.progress(&c).await.unwrap();
    assert_eq!((progress.total, progress.pending), (100, 100));
}

/// Leads merge by (campaign, number): re-importing the same numbers, under
/// the same or new ids, inserts nothing and keeps the stored leads; the same
/// number in another campaign is another lead; a number repeated inside one
/// batch is stored once and merged once.
pub async fn import_merges_by_campaign_and_phone(subject: StoreSubject) {
    let store = subject.store();
    let c1 = given_campaign(&*store, "camp-a").await;
    let c2 = given_campaign(&*store, "camp-b").await;
    let c3 = given_campaign(&*store, "camp-c").await;
    let batch = given_leads(&*store, leads(&c1, 0..5, t0())).await;

    let again = store.import_leads(&c1, batch.clone()).await.unwrap();
    assert_eq!(
        again,
        ImportCounts {
            inserted: 0,
            merged: 5
        }
    );

    let renamed: Vec<Lead> = batch
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let mut l = l.clone();
            l.id = lead_id(&format!("camp-a-X{n}"));
            l.name = "someone else".into();
            l
        })
        .collect();
    let merged = store.import_leads(&c1, renamed.clone()).await.unwrap();
    assert_eq!(
        merged,
        ImportCounts {
            inserted: 0,
            merged: 5
        }
    );
    for (new, old) in renamed.iter().zip(&batch) {
        assert_eq!(store.lead(&new.id).await.unwrap(), None);
        assert_eq!(stored_lead(&*store, &old.id).await, *old);
    }

    let other = given_leads(&*store, leads(&c2, 0..5, t0())).await;
    assert_eq!(all_leads(&*store, &c1).await, batch);
    assert_eq!(all_leads(&*store, &c2).await, other);

    let first = lead(&c3, 0, t0());
    let mut twin = lead(&c3, 1, t0());
    twin.phone = first.phone.clone();
    let counts = store
        .import_leads(&c3, vec![first.clone(), twin.clone()])
        .await
        .unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            inserted: 1,
            merged: 1
        }
    );
    assert_eq!(all_leads(&*store, &c3).await, vec![first]);
}

/// A failing import stores nothing: a duplicate id late in a large batch,
/// an id taken by another campaign's lead, a lead of another campaign, and
/// an unknown campaign. A valid batch of 150 then imports whole.
pub async fn import_is_all_or_nothing(subject: StoreSubject) {
    let store = subject.store();
    let c1 = given_campaign(&*store, "camp-a").await;
    let c2 = given_campaign(&*store, "camp-b").await;
    let c2_lead = given_leads(&*store, vec![lead(&c2, 500, t0())]).await;

    // GIVEN a batch whose last lead reuses the first lead's id (another number)
    let mut batch = leads(&c1, 0..150, t0());
    batch[149].id = batch[0].id.clone();
    // WHEN it is imported THEN it fails whole
    let err = store.import_leads(&c1, batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(_)),
        "dup id: {err:?}"
    );
    assert_eq!(all_leads(&*store, &c1).await, Vec::<Lead>::new());

    let mut batch = leads(&c1, 0..10, t0());
    let mut thief = lead(&c1, 600, t0());
    thief.id = c2_lead[0].id.clone();
    batch.push(thief);
    let err = store.import_leads(&c1, batch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(_)),
        "taken id: {err:?}"
    );
    assert_eq!(all_leads(&*store, &c1).await, Vec::<Lead>::new());
    assert_eq!(stored_lead(&*store, &c2_lead[0].id).await, c2_lead[0]);

    let mut batch = leads(&c1, 0..5, t0());
    batch.push(lead(&c2, 7, t0()));
    assert!(
        store.import_leads(&c1, batch).await.is_err(),
        "a lead of another campaign must fail the import"
    );
    assert_eq!(all_leads(&*store, &c1).await, Vec::<Lead>::new());
    assert_eq!(all_leads(&*store, &c2).await, c2_lead);

    let ghost = campaign_id("ghost");
    let err = store
        .import_leads(&ghost, leads(&ghost, 0..2, t0()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "ghost: {err:?}");
    assert_eq!(store.lead(&lead_id_of(&ghost, 0)).await.unwrap(), None);

    let whole = given_leads(&*store, leads(&c1, 0..150, t0())).await;
    assert_eq!(all_leads(&*store, &c1).await, whole);
    assert_eq!(store.progress(&c1).await.unwrap().total, 150);
}

/// `leads` pages a campaign's leads in id order, strictly after `after`,
/// whatever the import order, and never shows another campaign's leads.
pub async fn leads_page_in_id_order(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let c2 = given_campaign(&*store, "camp-b").await;
    let mut batch = leads(&c, 0..7, t0());
    batch.reverse();
    given_leads(&*store, batch).await;
    given_leads(&*store, leads(&c2, 0..2, t0())).await;

    let page = |after: Option<usize>, limit| {
        let store = store.clone();
        let c = c.clone();
        async move {
            let after = after.map(|n| lead_id_of(&c, n));
            ids(&store.leads(&c, after.as_ref(), limit).await.unwrap())
        }
    };
    let want = |ns: &[usize]| ns.iter().map(|&n| lead_id_of(&c, n)).collect::<Vec<_>>();
    assert_eq!(page(None, 3).await, want(&[0, 1, 2]));
    assert_eq!(page(Some(2), 3).await, want(&[3, 4, 5]));
    assert_eq!(page(Some(5), 3).await, want(&[6]));
    assert_eq!(page(Some(6), 3).await, want(&[]));
    assert_eq!(page(None, 0).await, want(&[]));
}

// ---------------------------------------------------------------- slots

/// `claim_due` takes only leads due by `now` (`due_at <= now`), earliest
/// first, moving each to `Active { attempt: attempts + 1, lease_until }`
/// with `version + 1` and `updated_at = now`, and returns them as stored.
pub async fn claim_due_takes_due_leads_earliest_first(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let due = |n, secs, reason| pending(lead(&c, n, t0()), at(secs), reason);
    let mut retried = due(5, -30, PendingReason::Retry);
    retried.attempts = 2;
    let batch = vec![
        due(0, -180, PendingReason::New),
        due(1, -60, PendingReason::New),
        due(2, -120, PendingReason::CallingWindow),
        due(3, 60, PendingReason::New),
        due(4, 0, PendingReason::Returned),
        retried,
    ];
    given_leads(&*store, batch.clone()).await;

    let claimed = claim(&*store, &c, 100, 100).await;
    let order = [0, 2, 1, 5, 4];
    assert_eq!(
        ids(&claimed),
        order.map(|n| lead_id_of(&c, n)).to_vec(),
        "due leads, earliest first; the future one left"
    );
    for (got, n) in claimed.iter().zip(order) {
        let mut want = batch[n].clone();
        want.state = LeadState::Active {
            attempt: want.attempts + 1,
            lease_until: lease(),
        };
        want.version += 1;
        want.updated_at = t0();
        assert_eq!(got, &want);
        assert_eq!(stored_lead(&*store, &got.id).await, want);
    }
    assert_eq!(claimed[3].state.active_attempt(), Some(3));
    assert_eq!(stored_lead(&*store, &batch[3].id).await, batch[3]);
    assert_eq!(claim(&*store, &c, 100, 100).await, Vec::<Lead>::new());

    let later = store
        .claim_due(&c, 100, at(60), at(660), 100)
        .await
        .unwrap();
    assert_eq!(ids(&later), vec![batch[3].id.clone()]);
}

/// `claim_due` claims at most `limit` leads (the earliest due), and none
/// for a limit of 0.
pub async fn claim_due_respects_limit(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let batch: Vec<Lead> = (0..5)
        .map(|n| pending(lead(&c, n, t0()), at(-10 * n as i64), PendingReason::New))
        .collect();
    given_leads(&*store, batch).await;
    assert_eq!(claim(&*store, &c, 100, 0).await, Vec::<Lead>::new());
    let first = claim(&*store, &c, 100, 2).await;
    assert_eq!(ids(&first), vec![lead_id_of(&c, 4), lead_id_of(&c, 3)]);
    assert_eq!(claim(&*store, &c, 100, 10).await.len(), 3);
    assert_eq!(active_count(&*store, &c).await, 5);
}

/// A claim stops at its limit and at the cap however many batches it
/// takes (DynamoDB claims in transactions of 25 leads).
pub async fn claim_due_respects_limit_and_cap_across_batches(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..80, t0())).await;
    assert_eq!(claim(&*store, &c, 100, 40).await.len(), 40, "the limit");
    assert_eq!(active_count(&*store, &c).await, 40);
    assert_eq!(claim(&*store, &c, 70, 100).await.len(), 30, "the cap");
    assert_eq!(active_count(&*store, &c).await, 70);
}

/// A release that races lease extensions of its attempt still releases:
/// a version lost to an extension is read again, not taken for a release
/// that already happened (the slot would stay held until its lease).
pub async fn a_release_racing_lease_extensions_still_releases(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..1, t0())).await;
    let claimed = claim(&*store, &c, 1, 1).await.remove(0);
    let release = retry_release(&claimed.id, 1, CallOutcome::NoAnswer, at(3_600), at(5));

    // Four extenders of five extensions each: fewer wins than a release's
    // rounds, so a correct release always gets through.
    let start = Arc::new(tokio::sync::Barrier::new(5));
    let extenders: Vec<_> = (0..4i64)
        .map(|n| {
            // Each extender holds the lead as claimed: stale after the
            // first extension, so the store reads it again.
            let (store, lead, start) = (store.clone(), claimed.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                for k in 0..5i64 {
                    let _ = store.extend_lease(&lead, 1, at(900 + 10 * n + k)).await;
                }
            })
        })
        .collect();
    start.wait().await;
    let released = store.release(&release).await.expect("release");
    for extender in extenders {
        extender.await.expect("extender");
    }
    assert!(released, "the release went through");
    assert_eq!(stored_lead(&*store, &claimed.id).await.state, release.next);
    assert_eq!(active_count(&*store, &c).await, 0);
}

/// A campaign never holds more than `max_active` slots: claims stop at the
/// cap, count leads already active, resume after a release, and claim
/// nothing when the cap is lowered below the active count.
pub async fn claim_due_never_exceeds_max_active(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..10, t0())).await;

    let first = claim(&*store, &c, 3, 10).await;
    assert_eq!(first.len(), 3);
    assert_eq!(claim(&*store, &c, 3, 10).await, Vec::<Lead>::new());
    assert_eq!(active_count(&*store, &c).await, 3);

    let released = store
        .release(&return_release(&first[0].id, 1, t0(), t0()))
        .await
        .unwrap();
    assert!(released);
    assert_eq!(claim(&*store, &c, 3, 10).await.len(), 1);
    assert_eq!(active_count(&*store, &c).await, 3);

    assert_eq!(
        claim(&*store, &c, 2, 10).await,
        Vec::<Lead>::new(),
        "a cap lowered below the active count claims nothing"
    );
    assert_eq!(active_count(&*store, &c).await, 3);
    assert_eq!(claim(&*store, &c, 5, 10).await.len(), 2);
    assert_eq!(active_count(&*store, &c).await, 5);
}

/// Slots are counted per campaign: a full campaign does not block another,
/// and a claim never takes another campaign's leads.
pub async fn claim_due_is_per_campaign(subject: StoreSubject) {
    let store = subject.store();
    let a = given_campaign(&*store, "camp-a").await;
    let b = given_campaign(&*store, "camp-b").await;
    given_leads(&*store, leads(&a, 0..5, t0())).await;
    given_leads(&*store, leads(&b, 0..5, t0())).await;
    assert_eq!(claim(&*store, &a, 3, 10).await.len(), 3);
    let claimed = claim(&*store, &b, 3, 10).await;
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|l| l.campaign_id == b));
    assert_eq!(active_count(&*store, &a).await, 3);
    assert_eq!(active_count(&*store, &b).await, 3);
}

/// Invariant 1 under concurrency: 50 concurrent `claim_due` calls (limit 1
/// each, `max_active` 5), released together by a barrier, on 100 due leads
/// claim exactly 5 distinct leads; three rounds, one campaign each.
pub async fn concurrent_claims_never_exceed_max_active(subject: StoreSubject) {
    let store = subject.store();
    for round in 0..3 {
        let c = given_campaign(&*store, &format!("camp-{round}")).await;
        given_leads(&*store, leads(&c, 0..100, t0())).await;

        let start = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (store, c, start) = (store.clone(), c.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.claim_due(&c, 5, t0(), lease(), 1).await
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for task in tasks {
            let got = task.await.expect("task").expect("claim_due");
            assert!(got.len() <= 1, "limit 1 returned {}", got.len());
            claimed.extend(got);
        }
        let distinct: BTreeSet<LeadId> = claimed.iter().map(|l| l.id.clone()).collect();
        assert_eq!(claimed.len(), 5, "exactly max_active leads are claimed");
        assert_eq!(distinct.len(), 5, "no lead is claimed twice");
        assert_eq!(active_count(&*store, &c).await, 5);
        for l in &claimed {
            assert_eq!(&stored_lead(&*store, &l.id).await, l);
        }
    }
}

/// `release` releases a slot exactly once: true for the active attempt
/// (storing `next`, `attempts + 1` when dialled, the outcome, `version + 1`
/// and `updated_at`), then false with no change for a repeat, a wrong
/// attempt, a lead that is not active and an unknown lead.
pub async fn release_is_exactly_once(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let later = pending(lead(&c, 1, t0()), at(7_200), PendingReason::New);
    given_leads(&*store, vec![lead(&c, 0, t0()), later]).await;
    let claimed = claim(&*store, &c, 1, 1).await.remove(0);
    assert_eq!(claimed.id, lead_id_of(&c, 0));

    let release = retry_release(&claimed.id, 1, CallOutcome::Busy, at(3_600), at(30));
    assert!(store.release(&release).await.unwrap());
    let mut want = claimed.clone();
    want.state = release.next.clone();
    want.attempts = 1;
    want.last_outcome = Some(CallOutcome::Busy);
    want.version = claimed.version + 1;
    want.updated_at = at(30);
    assert_eq!(stored_lead(&*store, &claimed.id).await, want);

    assert!(!store.release(&release).await.unwrap(), "a repeat");
    assert_eq!(stored_lead(&*store, &claimed.id).await, want);

    // GIVEN the lead claimed again for attempt 2
    let again = store
        .claim_due(&c, 1, at(3_600), at(4_200), 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), vec![claimed.id.clone()]);
    assert_eq!(again[0].state.active_attempt(), Some(2));
    // WHEN attempt 1 is released again THEN nothing happens
    assert!(!store.release(&release).await.unwrap(), "a wrong attempt");
    assert_eq!(stored_lead(&*store, &claimed.id).await, again[0]);

    let idle = lead_id_of(&c, 1);
    let before = stored_lead(&*store, &idle).await;
    let not_active = retry_release(&idle, 1, CallOutcome::Busy, at(60), at(60));
    assert!(!store.release(&not_active).await.unwrap(), "not active");
    assert_eq!(stored_lead(&*store, &idle).await, before);

    let unknown = retry_release(&lead_id("nobody"), 1, CallOutcome::Busy, at(60), at(60));
    assert!(!store.release(&unknown).await.unwrap(), "unknown lead");
}

/// A release with `dialed: false` changes nothing while a call attempt
/// record exists for that (lead, attempt).
pub async fn an_undialled_release_never_frees_a_created_call(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    // A duplicated message for the same attempt finds the campaign paused
    // and gives the slot back "without a call": the call exists, so nothing
    // may change.
    let back = return_release(&l.id, 1, at(5), at(5));
    assert!(!back.dialed);
    assert!(
        !store.release(&back).await.unwrap(),
        "the slot of a live call was freed"
    );
    assert_eq!(
        stored_lead(&*store, &l.id).await,
        l,
        "the lead still holds its slot"
    );
    assert_eq!(store.progress(&c).await.unwrap().active, 1);
    // The call's own end still releases it.
    let done = ended(&call, CallState::Busy, at(6));
    assert!(
        store
            .finish_call(&done, &release_for(&done, at(6)))
            .await
            .unwrap()
    );
}

/// A release that did not dial keeps `attempts` and `last_outcome`, so the
/// next claim is for the same attempt number.
pub async fn release_without_dial_keeps_attempts(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let mut l = lead(&c, 0, t0());
    l.attempts = 1;
    l.last_outcome = Some(CallOutcome::NoAnswer);
    given_leads(&*store, vec![l]).await;
    let claimed = claim(&*store, &c, 1, 1).await.remove(0);
    assert_eq!(claimed.state.active_attempt(), Some(2));

    assert!(
        store
            .release(&return_release(&claimed.id, 2, t0(), at(5)))
            .await
            .unwrap()
    );
    let back = stored_lead(&*store, &claimed.id).await;
    assert_eq!(back.attempts, 1);
    assert_eq!(back.last_outcome, Some(CallOutcome::NoAnswer));
    assert_eq!(
        back.state,
        LeadState::Pending {
            due_at: t0(),
            reason: PendingReason::Returned
        }
    );
    let again = claim(&*store, &c, 1, 1).await;
    assert_eq!(again[0].state.active_attempt(), Some(2));
}

/// Final releases count in `progress().finals` by `LeadOutcome::label`.
pub async fn release_to_final_counts_in_progress(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..4, t0())).await;
    let claimed = claim(&*store, &c, 10, 3).await;
    let interested = CallOutcome::Human {
        disposition: Some(Disposition::Interested),
    };
    assert!(
        store
            .release(&final_release(&claimed[0].id, 1, interested, at(1)))
            .await
            .unwrap()
    );
    assert!(
        store
            .release(&final_release(&claimed[1].id, 1, CallOutcome::Busy, at(1)))
            .await
            .unwrap()
    );
    let screened = LeadRelease {
        lead_id: claimed[2].id.clone(),
        attempt: 1,
        next: LeadState::Final {
            outcome: LeadOutcome::ScreenedOut {
                reason: ScreenReason::NoConsent,
            },
            at: at(1),
        },
        dialed: false,
        outcome: None,
        at: at(1),
    };
    assert!(store.release(&screened).await.unwrap());
    assert_eq!(stored_lead(&*store, &claimed[2].id).await.attempts, 0);

    let progress = store.progress(&c).await.unwrap();
    let finals: BTreeMap<String, u64> = [("busy", 1), ("interested", 1), ("screened_out", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(progress.finals, finals);
    assert_eq!((progress.active, progress.pending), (0, 1));
    assert_eq!(progress.final_total(), 3);
}

/// `amend_outcome` gives a lead that ended as a bare answer the analysed
/// disposition, once, moving the campaign's final counts with it and
/// recording the analysis as the outcome's source; it leaves alone a lead
/// whose conversation recorded a disposition, a lead not final after that
/// attempt, and an unknown lead.
pub async fn amend_outcome_replaces_only_a_bare_answer(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..3, t0())).await;
    let claimed = claim(&*store, &c, 10, 3).await;
    let bare = CallOutcome::Human { disposition: None };
    let interested = CallOutcome::Human {
        disposition: Some(Disposition::Interested),
    };
    for (l, outcome) in [(&claimed[0], bare), (&claimed[1], interested)] {
        let release = final_release(&l.id, 1, outcome, at(1));
        assert!(store.release(&release).await.unwrap());
    }
    let before = stored_lead(&*store, &claimed[0].id).await;
    assert_eq!(before.outcome_source, Some(OutcomeSource::Provider));
    assert_eq!(
        stored_lead(&*store, &claimed[1].id).await.outcome_source,
        Some(OutcomeSource::Conversation)
    );

    let refused = Disposition::NotInterested;
    assert!(
        !store
            .amend_outcome(&claimed[0].id, 2, refused, at(5))
            .await
            .unwrap(),
        "another attempt"
    );
    assert!(
        store
            .amend_outcome(&claimed[0].id, 1, refused, at(5))
            .await
            .unwrap()
    );
    let after = stored_lead(&*store, &claimed[0].id).await;
    assert_eq!(after.outcome_source, Some(OutcomeSource::Analysis));
    assert_eq!(
        after.state.final_call_outcome(),
        Some(&CallOutcome::Human {
            disposition: Some(refused)
        })
    );
    assert_eq!(
        (after.version, after.updated_at),
        (before.version + 1, at(5))
    );
    assert!(
        !store
            .amend_outcome(&claimed[0].id, 1, Disposition::Interested, at(6))
            .await
            .unwrap(),
        "amended once"
    );
    assert!(
        !store
            .amend_outcome(&claimed[1].id, 1, refused, at(6))
            .await
            .unwrap(),
        "the conversation decided"
    );
    assert!(
        !store
            .amend_outcome(&claimed[2].id, 1, refused, at(6))
            .await
            .unwrap(),
        "still active"
    );
    assert!(
        !store
            .amend_outcome(&lead_id("nobody"), 1, refused, at(6))
            .await
            .unwrap()
    );

    let progress = store.progress(&c).await.unwrap();
    let finals: BTreeMap<String, u64> = [("interested", 1), ("not_interested", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(progress.finals, finals);
}

/// Invariant 3 under concurrency: 100 concurrent duplicates of one release
/// succeed exactly once.
pub async fn concurrent_duplicate_releases_release_once(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..1, t0())).await;
    let claimed = claim(&*store, &c, 1, 1).await.remove(0);
    let release = retry_release(&claimed.id, 1, CallOutcome::NoAnswer, at(60), at(5));

    let start = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, release, start) = (store.clone(), release.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.release(&release).await
            })
        })
        .collect();
    let mut released = 0;
    for task in tasks {
        if task.await.expect("task").expect("release") {
            released += 1;
        }
    }
    assert_eq!(released, 1, "exactly one duplicate releases the slot");
    let back = stored_lead(&*store, &claimed.id).await;
    assert_eq!((back.attempts, back.version), (1, claimed.version + 1));
}

/// `extend_lease` moves `lease_until` only for the attempt the lead is
/// active for, and returns the lead as stored, from a current copy of the
/// lead or a stale one.
pub async fn extend_lease_only_for_the_active_attempt(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let later = pending(lead(&c, 1, t0()), at(7_200), PendingReason::New);
    given_leads(&*store, vec![lead(&c, 0, t0()), later]).await;
    let claimed = claim(&*store, &c, 1, 1).await.remove(0);

    assert_eq!(
        store.extend_lease(&claimed, 2, at(900)).await.unwrap(),
        None
    );
    assert_eq!(stored_lead(&*store, &claimed.id).await, claimed);

    let held = store.extend_lease(&claimed, 1, at(900)).await.unwrap();
    let extended = stored_lead(&*store, &claimed.id).await;
    assert_eq!(held.as_ref(), Some(&extended));
    assert_eq!(
        extended.state,
        LeadState::Active {
            attempt: 1,
            lease_until: at(900)
        }
    );
    assert!(extended.version > claimed.version);

    // The copy as claimed is stale now: the store reads the lead again.
    let again = store.extend_lease(&claimed, 1, at(950)).await.unwrap();
    let extended = stored_lead(&*store, &claimed.id).await;
    assert_eq!(again.as_ref(), Some(&extended));
    assert_eq!(
        extended.state,
        LeadState::Active {
            attempt: 1,
            lease_until: at(950)
        }
    );

    let idle = stored_lead(&*store, &lead_id_of(&c, 1)).await;
    assert_eq!(store.extend_lease(&idle, 1, at(900)).await.unwrap(), None);
    let nobody = lead(&c, 9, t0());
    assert_eq!(store.extend_lease(&nobody, 1, at(900)).await.unwrap(), None);
    assert_eq!(store.lead(&nobody.id).await.unwrap(), None);
}

/// `expired_leases` returns, across campaigns, exactly the active leads
/// whose lease ended strictly before `now`, at most `limit` of them.
pub async fn expired_leases_across_campaigns(subject: StoreSubject) {
    let store = subject.store();
    let a = given_campaign(&*store, "camp-a").await;
    let b = given_campaign(&*store, "camp-b").await;
    given_leads(&*store, leads(&a, 0..4, t0())).await;
    given_leads(&*store, leads(&b, 0..2, t0())).await;
    let in_a = store.claim_due(&a, 10, t0(), at(60), 2).await.unwrap();
    let in_b = store.claim_due(&b, 10, t0(), at(300), 1).await.unwrap();
    let released = store.claim_due(&a, 10, t0(), at(30), 1).await.unwrap();
    assert!(
        store
            .release(&return_release(&released[0].id, 1, at(5), at(5)))
            .await
            .unwrap()
    );

    let expired = |now: Timestamp, limit: usize| {
        let store = store.clone();
        async move {
            let mut got = ids(&store.expired_leases(now, limit).await.unwrap());
            got.sort();
            got
        }
    };
    assert_eq!(expired(at(60), 10).await, Vec::<LeadId>::new(), "strict <");
    let mut want_a = ids(&in_a);
    want_a.sort();
    assert_eq!(expired(at(61), 10).await, want_a);
    let mut want_all = [ids(&in_a), ids(&in_b)].concat();
    want_all.sort();
    assert_eq!(expired(at(10_000), 10).await, want_all);
    assert_eq!(expired(at(10_000), 2).await.len(), 2);
    let listed = store.expired_leases(at(61), 10).await.unwrap();
    assert!(listed.iter().all(
        |l| matches!(l.state, LeadState::Active { lease_until, .. } if lease_until == at(60))
    ));
}

/// `cancel_pending` finalises exactly the campaign's pending leads as
/// `LeadOutcome::Canceled` at `now` and returns their count; active and
/// final leads, and other campaigns, are untouched.
pub async fn cancel_pending_finalises_only_pending(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let other = given_campaign(&*store, "camp-b").await;
    given_leads(&*store, leads(&c, 0..5, t0())).await;
    let other_leads = given_leads(&*store, leads(&other, 0..2, t0())).await;
    let claimed = claim(&*store, &c, 10, 3).await;
    assert!(
        store
            .release(&final_release(
                &claimed[2].id,
                1,
                CallOutcome::NoAnswer,
                at(1)
            ))
            .await
            .unwrap()
    );
    let before = all_leads(&*store, &c).await;

    let canceled = store.cancel_pending(&c, at(100)).await.unwrap();
    assert_eq!(canceled, 2);
    for old in before {
        let new = stored_lead(&*store, &old.id).await;
        match old.state {
            LeadState::Pending { .. } => {
                assert_eq!(
                    new.state,
                    LeadState::Final {
                        outcome: LeadOutcome::Canceled,
                        at: at(100)
                    }
                );
                assert_eq!(new.version, old.version + 1);
            }
            _ => assert_eq!(new, old, "only pending leads are canceled"),
        }
    }
    assert_eq!(all_leads(&*store, &other).await, other_leads);
    let progress = store.progress(&c).await.unwrap();
    assert_eq!(progress.finals.get("campaign_canceled"), Some(&2));
    assert_eq!((progress.pending, progress.active), (0, 2));
    assert_eq!(store.cancel_pending(&c, at(200)).await.unwrap(), 0);
}

// ---------------------------------------------------------------- calls

/// `create_call` is put-if-absent: `Created` the first time; afterwards
/// `Exists` with the stored record, which a second create never changes.
pub async fn create_call_is_put_if_absent(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (_, call) = claimed_with_call(&*store, &c, 0).await;
    assert_eq!(store.call(&call.id).await.unwrap(), Some(call.clone()));

    let mut second = call.clone();
    second.created_at = at(99);
    second.from = Some(phone(999));
    assert_eq!(
        store.create_call(&second).await.unwrap(),
        CreateCall::Exists(Box::new(call.clone()))
    );
    assert_eq!(store.call(&call.id).await.unwrap(), Some(call));
    let unknown = voxdial_domain::CallId::parse("nobody.1").unwrap();
    assert_eq!(store.call(&unknown).await.unwrap(), None);
}

/// `update_call` writes only over the version it read and returns the call
/// with `version + 1`; a stale version is `Conflict`, an unknown call
/// `NotFound`, both changing nothing.
pub async fn update_call_is_versioned(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;

    let ringing = advanced(&call, CallEventKind::Ringing, at(2));
    let saved = store.update_call(&ringing).await.unwrap();
    let mut want = ringing.clone();
    want.version = call.version + 1;
    assert_eq!(saved, want);
    assert_eq!(store.call(&call.id).await.unwrap(), Some(want.clone()));

    let stale = advanced(&call, CallEventKind::Answered, at(3));
    let err = store.update_call(&stale).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "stale: {err:?}");
    assert_eq!(store.call(&call.id).await.unwrap(), Some(want.clone()));

    let answered = advanced(&saved, CallEventKind::Answered, at(3));
    assert_eq!(
        store.update_call(&answered).await.unwrap().version,
        call.version + 2
    );

    let ghost = call_for(&l, 7, t0());
    let err = store.update_call(&ghost).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "unknown: {err:?}");
    assert_eq!(store.call(&ghost.id).await.unwrap(), None);
}

/// `update_call_or_current` writes like `update_call`; refused because the
/// call changed, it returns the call as stored (and writes nothing); for an
/// unknown call, `None`.
pub async fn update_call_or_current_returns_the_stored_call(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;

    let ringing = advanced(&call, CallEventKind::Ringing, at(2));
    let saved = store.update_call_or_current(&ringing).await.unwrap();
    let saved = saved.expect("a current call is written");
    assert_eq!(saved.version, call.version + 1);
    assert_eq!(store.call(&call.id).await.unwrap(), Some(saved.clone()));

    let stale = advanced(&call, CallEventKind::Answered, at(3));
    let refused = store.update_call_or_current(&stale).await.unwrap();
    assert_eq!(refused, Err(Some(saved.clone())));
    assert_eq!(store.call(&call.id).await.unwrap(), Some(saved.clone()));

    let ghost = call_for(&l, 7, t0());
    assert_eq!(
        store.update_call_or_current(&ghost).await.unwrap(),
        Err(None)
    );
    assert_eq!(store.call(&ghost.id).await.unwrap(), None);
}

/// `lead_and_campaign` reads a lead and a campaign together, each `None`
/// when missing.
pub async fn lead_and_campaign_reads_both(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let other = given_campaign(&*store, "camp-b").await;
    given_leads(&*store, vec![lead(&c, 0, t0())]).await;
    let stored = stored_lead(&*store, &lead_id_of(&c, 0)).await;
    let campaign = store.campaign(&c).await.unwrap().expect("camp-a");

    let (lead, read) = store.lead_and_campaign(&stored.id, &c).await.unwrap();
    assert_eq!((lead, read), (Some(stored.clone()), Some(campaign)));
    let (lead, read) = store.lead_and_campaign(&stored.id, &other).await.unwrap();
    assert_eq!(lead, Some(stored.clone()));
    assert_eq!(read.map(|c| c.id), Some(other));
    let (lead, read) = store
        .lead_and_campaign(&lead_id("nobody"), &campaign_id("camp-z"))
        .await
        .unwrap();
    assert_eq!((lead, read), (None, None));
}

/// Invariant 4 at the store: `update_call` cannot end a call (that is
/// `finish_call`'s job) nor change a terminal call's state (`Invalid`), but
/// may record a disposition on a terminal call.
pub async fn update_call_never_ends_or_reopens_a_call(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;

    let busy = ended(&call, CallState::Busy, at(5));
    assert!(
        store.update_call(&busy).await.is_err(),
        "update_call must not end a call"
    );
    assert_eq!(store.call(&call.id).await.unwrap(), Some(call.clone()));
    assert_eq!(stored_lead(&*store, &l.id).await, l, "no release");

    let human = ended(&call, CallState::Completed, at(5));
    assert!(
        store
            .finish_call(&human, &release_for(&human, at(5)))
            .await
            .unwrap()
    );
    let stored = store.call(&call.id).await.unwrap().expect("stored");

    let mut revived = stored.clone();
    revived.state = CallState::Answered;
    let err = store.update_call(&revived).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "revived: {err:?}");
    assert_eq!(store.call(&call.id).await.unwrap(), Some(stored.clone()));

    let mut noted = stored.clone();
    noted.disposition = Some(Disposition::Interested);
    let saved = store.update_call(&noted).await.unwrap();
    assert_eq!(saved.version, stored.version + 1);
    assert_eq!(saved.state, CallState::Completed);
    assert_eq!(store.call(&call.id).await.unwrap(), Some(saved));
}

/// `finish_call` stores the terminal call (`version + 1`) and releases the
/// lead's slot in one write, returning true.
pub async fn finish_call_stores_call_and_releases_lead(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    let ringing = store
        .update_call(&advanced(&call, CallEventKind::Ringing, at(2)))
        .await
        .unwrap();

    let done = ended(&ringing, CallState::NoAnswer, at(30));
    let release = retry_release(&l.id, 1, CallOutcome::NoAnswer, at(3_600), at(30));
    assert!(store.finish_call(&done, &release).await.unwrap());

    let mut want_call = done.clone();
    want_call.version = ringing.version + 1;
    assert_eq!(store.call(&call.id).await.unwrap(), Some(want_call));
    let lead = stored_lead(&*store, &l.id).await;
    assert_eq!(lead.state, release.next);
    assert_eq!(lead.attempts, 1);
    assert_eq!(lead.last_outcome, Some(CallOutcome::NoAnswer));
    assert_eq!(lead.version, l.version + 1);
    assert_eq!(active_count(&*store, &c).await, 0);
    assert_eq!(store.live_calls(Some(&c)).await.unwrap(), Vec::new());
}

/// A second `finish_call` of the same attempt, stale or re-read, is
/// `Conflict` or `Ok(false)` and never releases again, not even a slot the
/// lead holds for a later attempt.
pub async fn finish_call_twice_never_releases_twice(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    let done = ended(&call, CallState::Busy, at(10));
    let release = retry_release(&l.id, 1, CallOutcome::Busy, at(600), at(10));
    assert!(store.finish_call(&done, &release).await.unwrap());
    let lead_after = stored_lead(&*store, &l.id).await;
    let call_after = store.call(&call.id).await.unwrap().expect("stored");

    let again = store.finish_call(&done, &release).await;
    assert!(
        matches!(again, Ok(false)) || is_conflict(&again),
        "stale duplicate: {again:?}"
    );
    let reread = store.finish_call(&call_after, &release).await;
    assert!(
        matches!(reread, Ok(false)) || is_conflict(&reread),
        "re-read duplicate: {reread:?}"
    );
    assert_eq!(stored_lead(&*store, &l.id).await, lead_after);
    assert_eq!(store.call(&call.id).await.unwrap(), Some(call_after));

    // GIVEN the lead active again, for attempt 2
    let claimed = store.claim_due(&c, 1, at(600), at(1_200), 1).await.unwrap();
    assert_eq!(claimed[0].state.active_attempt(), Some(2));
    // WHEN attempt 1's finish is replayed THEN attempt 2 keeps its slot
    let replay = store.finish_call(&done, &release).await;
    assert!(matches!(replay, Ok(false)) || is_conflict(&replay));
    assert_eq!(stored_lead(&*store, &l.id).await, claimed[0]);
}

/// When the sweeper released the slot first, `finish_call` still stores the
/// terminal call but releases nothing (`Ok(false)`).
pub async fn finish_call_after_sweeper_release_stores_the_call(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    let ringing = store
        .update_call(&advanced(&call, CallEventKind::Ringing, at(2)))
        .await
        .unwrap();
    let swept = retry_release(
        &l.id,
        1,
        CallOutcome::Failed {
            reason: "lease expired".into(),
            retryable: true,
        },
        at(900),
        at(700),
    );
    assert!(store.release(&swept).await.unwrap());
    let lead_after = stored_lead(&*store, &l.id).await;

    let done = ended(&ringing, CallState::Completed, at(710));
    let released = store
        .finish_call(&done, &release_for(&done, at(710)))
        .await
        .unwrap();
    assert!(!released, "the sweeper released this slot already");
    let stored = store.call(&call.id).await.unwrap().expect("stored");
    assert_eq!(stored.state, CallState::Completed);
    assert_eq!(stored.version, ringing.version + 1);
    assert_eq!(stored_lead(&*store, &l.id).await, lead_after);
}

/// `finish_call` checks the stored call's version (`Conflict`) and its
/// existence (`NotFound`), and refuses a call that is not terminal; each
/// failure changes neither the call nor the lead.
pub async fn finish_call_checks_the_stored_call(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    let ringing = store
        .update_call(&advanced(&call, CallEventKind::Ringing, at(2)))
        .await
        .unwrap();

    let stale = ended(&call, CallState::Busy, at(5));
    let err = store
        .finish_call(&stale, &release_for(&stale, at(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "stale: {err:?}");

    let live = advanced(&ringing, CallEventKind::Answered, at(4));
    assert!(
        store
            .finish_call(&live, &release_for(&stale, at(5)))
            .await
            .is_err(),
        "a call that is not terminal cannot finish"
    );

    let ghost = ended(&call_for(&l, 9, t0()), CallState::Busy, at(5));
    let err = store
        .finish_call(&ghost, &release_for(&ghost, at(5)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "unknown: {err:?}");

    assert_eq!(store.call(&call.id).await.unwrap(), Some(ringing));
    assert_eq!(store.call(&ghost.id).await.unwrap(), None);
    assert_eq!(stored_lead(&*store, &l.id).await, l);
}

/// Invariant 3 with duplicated callbacks: 100 concurrent `finish_call` of
/// the same call release the slot exactly once.
pub async fn concurrent_finish_call_releases_once(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let (l, call) = claimed_with_call(&*store, &c, 0).await;
    let done = ended(&call, CallState::NoAnswer, at(20));
    let release = retry_release(&l.id, 1, CallOutcome::NoAnswer, at(600), at(20));

    let start = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (store, start) = (store.clone(), start.clone());
            let (done, release) = (done.clone(), release.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.finish_call(&done, &release).await
            })
        })
        .collect();
    let mut released = 0;
    for task in tasks {
        let result = task.await.expect("task");
        assert!(
            result.is_ok() || is_conflict(&result),
            "unexpected: {result:?}"
        );
        if matches!(result, Ok(true)) {
            released += 1;
        }
    }
    assert_eq!(released, 1);
    let lead = stored_lead(&*store, &l.id).await;
    assert_eq!((lead.attempts, lead.version), (1, l.version + 1));
    assert_eq!(
        store.call(&call.id).await.unwrap().map(|c| c.version),
        Some(call.version + 1)
    );
}

/// `live_calls` lists exactly the calls not yet terminal, of one campaign
/// or of all.
pub async fn live_calls_lists_only_non_terminal_calls(subject: StoreSubject) {
    let store = subject.store();
    let a = given_campaign(&*store, "camp-a").await;
    let b = given_campaign(&*store, "camp-b").await;
    let mut live_a = Vec::new();
    for n in 0..3 {
        live_a.push(claimed_with_call(&*store, &a, n).await.1);
    }
    let (_, in_b) = claimed_with_call(&*store, &b, 0).await;
    let done = ended(&live_a[1], CallState::Busy, at(9));
    assert!(
        store
            .finish_call(&done, &release_for(&done, at(9)))
            .await
            .unwrap()
    );

    let listed = |campaign: Option<CampaignId>| {
        let store = store.clone();
        async move {
            let calls = store.live_calls(campaign.as_ref()).await.unwrap();
            assert!(calls.iter().all(|c| !c.state.is_terminal()));
            let mut got: Vec<String> = calls.into_iter().map(|c| c.id.to_string()).collect();
            got.sort();
            got
        }
    };
    let mut want = vec![live_a[0].id.to_string(), live_a[2].id.to_string()];
    want.sort();
    assert_eq!(listed(Some(a.clone())).await, want);
    want.push(in_b.id.to_string());
    want.sort();
    assert_eq!(listed(None).await, want);
}

/// `calls` pages a campaign's calls newest first, strictly before the call
/// `before`, and never shows another campaign's calls.
pub async fn calls_page_newest_first(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let other = given_campaign(&*store, "camp-b").await;
    given_leads(&*store, leads(&c, 0..5, t0())).await;
    let claimed = claim(&*store, &c, 10, 5).await;
    let mut by_time = Vec::new();
    for (n, l) in claimed.iter().enumerate() {
        let call = call_for(l, 1, at(10 * n as i64));
        store.create_call(&call).await.unwrap();
        by_time.push(call.id);
    }
    claimed_with_call(&*store, &other, 0).await;

    let page = |before: Option<usize>, limit| {
        let store = store.clone();
        let c = c.clone();
        let before = before.map(|i| by_time[i].clone());
        async move {
            store
                .calls(&c, before.as_ref(), limit)
                .await
                .unwrap()
                .into_iter()
                .map(|call| call.id)
                .collect::<Vec<_>>()
        }
    };
    let want = |is: &[usize]| is.iter().map(|&i| by_time[i].clone()).collect::<Vec<_>>();
    assert_eq!(page(None, 2).await, want(&[4, 3]));
    assert_eq!(page(Some(3), 2).await, want(&[2, 1]));
    assert_eq!(page(Some(1), 2).await, want(&[0]));
    assert_eq!(page(Some(0), 2).await, want(&[]));
    assert_eq!(page(None, 10).await, want(&[4, 3, 2, 1, 0]));
}

/// `progress` counts a campaign's leads (total, pending, waiting for the
/// calling window, active, finals by label), its live calls by state label,
/// and the earliest `due_at` of its pending leads.
pub async fn progress_counts_leads_and_live_calls(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let other = given_campaign(&*store, "camp-b").await;
    let mut batch = leads(&c, 0..10, t0());
    batch[8] = pending(batch[8].clone(), at(10_800), PendingReason::CallingWindow);
    batch[9] = pending(batch[9].clone(), at(3_600), PendingReason::Retry);
    batch[7] = pending(batch[7].clone(), at(-50), PendingReason::New);
    given_leads(&*store, batch).await;
    claimed_with_call(&*store, &other, 0).await;

    let claimed = claim(&*store, &c, 10, 5).await;
    assert_eq!(claimed[0].id, lead_id_of(&c, 7), "earliest due first");
    let mut calls = Vec::new();
    for l in &claimed[..4] {
        let call = call_for(l, 1, t0());
        store.create_call(&call).await.unwrap();
        calls.push(call);
    }
    store
        .update_call(&advanced(&calls[1], CallEventKind::Ringing, at(1)))
        .await
        .unwrap();
    store
        .update_call(&advanced(&calls[2], CallEventKind::Answered, at(1)))
        .await
        .unwrap();
    let done = ended(&calls[3], CallState::Completed, at(2));
    assert!(
        store
            .finish_call(&done, &release_for(&done, at(2)))
            .await
            .unwrap()
    );
    let screened = LeadRelease {
        lead_id: claimed[4].id.clone(),
        attempt: 1,
        next: LeadState::Final {
            outcome: LeadOutcome::ScreenedOut {
                reason: ScreenReason::DoNotCallGlobal,
            },
            at: at(2),
        },
        dialed: false,
        outcome: None,
        at: at(2),
    };
    assert!(store.release(&screened).await.unwrap());

    let labels = |pairs: &[(&str, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    let want = CampaignProgress {
        total: 10,
        pending: 5,
        waiting_window: 1,
        active: 3,
        finals: labels(&[("answered", 1), ("screened_out", 1)]),
        live_calls: labels(&[("answered", 1), ("pending", 1), ("ringing", 1)]),
        next_due_at: Some(t0()),
    };
    assert_eq!(store.progress(&c).await.unwrap(), want);

    // A campaign whose leads are all active has nothing due.
    let p = store.progress(&other).await.unwrap();
    assert_eq!((p.total, p.pending, p.active), (1, 0, 1));
    assert_eq!(p.next_due_at, None);
    assert_eq!(p.live_calls, labels(&[("pending", 1)]));
}

/// Makes the claimed lead `l` final (canceled, undialled) at second `i`.
async fn cancel(store: &dyn Store, l: &Lead, i: usize) {
    let release = LeadRelease {
        lead_id: l.id.clone(),
        attempt: 1,
        next: LeadState::Final {
            outcome: LeadOutcome::Canceled,
            at: at(i as i64),
        },
        dialed: false,
        outcome: None,
        at: at(i as i64),
    };
    assert!(store.release(&release).await.unwrap());
}

/// `has_open_leads` is true while any lead of the campaign is pending or
/// active, whatever other campaigns hold.
pub async fn has_open_leads_until_every_lead_is_final(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    let other = given_campaign(&*store, "camp-b").await;
    assert!(
        !store.has_open_leads(&c).await.unwrap(),
        "no leads: nothing open"
    );
    given_leads(&*store, leads(&c, 0..2, t0())).await;
    claimed_with_call(&*store, &other, 0).await;
    assert!(
        store.has_open_leads(&c).await.unwrap(),
        "pending leads are open"
    );
    let claimed = claim(&*store, &c, 5, 2).await;
    assert_eq!(claimed.len(), 2);
    for (i, l) in claimed.iter().enumerate() {
        assert!(
            store.has_open_leads(&c).await.unwrap(),
            "an active lead is open"
        );
        cancel(&*store, l, i).await;
    }
    assert!(!store.has_open_leads(&c).await.unwrap(), "every lead final");
    assert!(
        store.has_open_leads(&other).await.unwrap(),
        "the other campaign is open"
    );
}

/// `claim_due_or_open` says a campaign whose slots are held is open, and
/// never says so of a finished one: the engine completes a campaign on its
/// word.
pub async fn claim_due_or_open_never_calls_a_finished_campaign_open(subject: StoreSubject) {
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..2, t0())).await;
    let claimed = store
        .claim_due_or_open(&c, 1, t0(), lease(), 5)
        .await
        .unwrap();
    // GIVEN the one slot taken and a lead still pending
    assert_eq!(claimed.leads.len(), 1, "one slot");
    assert_eq!(claimed.leads[0].state.active_attempt(), Some(1));
    let full = store
        .claim_due_or_open(&c, 1, t0(), lease(), 5)
        .await
        .unwrap();
    assert!(full.leads.is_empty(), "no free slot");
    assert!(
        full.known_open,
        "a lead in a slot is open, and the claim saw it"
    );
    // WHEN every lead is final
    let second = claim(&*store, &c, 2, 5).await;
    for (i, l) in claimed.leads.iter().chain(&second).enumerate() {
        cancel(&*store, l, i).await;
    }
    // THEN a claim takes nothing and never says the campaign is open
    let done = store
        .claim_due_or_open(&c, 5, at(10), lease(), 5)
        .await
        .unwrap();
    assert_eq!(done, Claimed::default());
    assert!(!store.has_open_leads(&c).await.unwrap());
}

// ---------------------------------------------------------------- DNC

/// Do-not-call lists: `add_dnc` returns how many numbers were new (a repeat
/// counts once, a listed number zero); `dnc_hit` reports the global list and
/// the asking campaign's list only; `remove_dnc` removes from one list and
/// says whether the number was there.
pub async fn dnc_lists_are_scoped(subject: StoreSubject) {
    let store = subject.store();
    let org = |name: &str| voxdial_domain::OrgId::parse(name).expect("valid id");
    let (acme, rival) = (org("acme"), org("rival"));
    // Campaigns a and b are acme's, r is rival's.
    let a = campaign_id("camp-a");
    let b = campaign_id("camp-b");
    let r = campaign_id("camp-r");
    let (one, two, three) = (phone(1), phone(2), phone(3));
    let hit = |org: &voxdial_domain::OrgId, campaign: &CampaignId, number| {
        let (store, org, campaign) = (store.clone(), org.clone(), campaign.clone());
        async move { store.dnc_hit(&org, &campaign, &number).await.unwrap() }
    };
    let acme_list = DncScope::Organisation(acme.clone());
    let in_a = DncScope::Campaign(a.clone());

    let added = store
        .add_dnc(&acme_list, &[one.clone(), two.clone(), one.clone()], t0())
        .await
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(
        store
            .add_dnc(&acme_list, std::slice::from_ref(&one), t0())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .add_dnc(&in_a, std::slice::from_ref(&three), t0())
            .await
            .unwrap(),
        1
    );
    let hit_of = |global, campaign| voxdial_domain::DncHit { global, campaign };
    assert_eq!(hit(&acme, &a, one.clone()).await, hit_of(true, false));
    assert_eq!(hit(&acme, &b, one.clone()).await, hit_of(true, false));
    assert_eq!(hit(&acme, &a, three.clone()).await, hit_of(false, true));
    assert_eq!(hit(&acme, &b, three.clone()).await, hit_of(false, false));
    assert_eq!(hit(&acme, &a, phone(4)).await, hit_of(false, false));
    // Another organisation's list never applies, and its own is separate.
    assert_eq!(hit(&rival, &r, one.clone()).await, hit_of(false, false));
    let rival_list = DncScope::Organisation(rival.clone());
    assert_eq!(
        store
            .add_dnc(&rival_list, std::slice::from_ref(&one), t0())
            .await
            .unwrap(),
        1
    );
    assert_eq!(hit(&rival, &r, one.clone()).await, hit_of(true, false));

    assert_eq!(
        store
            .add_dnc(&in_a, std::slice::from_ref(&one), t0())
            .await
            .unwrap(),
        1
    );
    assert_eq!(hit(&acme, &a, one.clone()).await, hit_of(true, true));
    assert!(store.remove_dnc(&acme_list, &one).await.unwrap());
    assert!(!store.remove_dnc(&acme_list, &one).await.unwrap());
    assert_eq!(hit(&acme, &a, one.clone()).await, hit_of(false, true));
    assert_eq!(hit(&acme, &b, one.clone()).await, hit_of(false, false));
    assert_eq!(hit(&rival, &r, one.clone()).await, hit_of(true, false));
    assert!(
        !store
            .remove_dnc(&DncScope::Campaign(b.clone()), &three)
            .await
            .unwrap()
    );
    assert_eq!(hit(&acme, &a, three.clone()).await, hit_of(false, true));
    assert_eq!(hit(&acme, &a, two).await, hit_of(true, false));
}

// ---------------------------------------------------------------- properties

/// A tiny seeded generator (SplitMix64), so the suite needs no `rand`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Invariants 1–3 under random interleavings: 8 workers claim, create calls
/// (duplicated dispatches), and finish them with duplicated callbacks racing
/// the sweeper. The cap is never exceeded, each (lead, attempt) is dialled
/// once and released exactly once, `attempts` counts the dials, and no slot
/// is left held.
pub async fn random_interleavings_keep_the_invariants(subject: StoreSubject) {
    const MAX: u32 = 4;
    let store = subject.store();
    let c = given_campaign(&*store, "camp-a").await;
    given_leads(&*store, leads(&c, 0..30, t0())).await;
    let releases = Arc::new(std::sync::Mutex::new(BTreeMap::<(LeadId, u32), u32>::new()));

    let workers: Vec<_> = (0..8u64)
        .map(|seed| {
            let (store, c, releases) = (store.clone(), c.clone(), releases.clone());
            tokio::spawn(async move {
                let mut rng = Rng(seed * 7919 + 1);
                for _ in 0..12 {
                    let limit = 1 + rng.below(2) as usize;
                    let claimed = store.claim_due(&c, MAX, t0(), lease(), limit).await?;
                    let active = store.progress(&c).await?.active;
                    assert!(active <= u64::from(MAX), "{active} slots held");
                    for l in claimed {
                        let attempt = l.state.active_attempt().expect("claimed is active");
                        let call = call_for(&l, attempt, t0());
                        // A duplicated dispatch: both create, one dials.
                        let (a, b) =
                            tokio::join!(store.create_call(&call), store.create_call(&call));
                        let created = [a?, b?]
                            .iter()
                            .filter(|r| **r == CreateCall::Created)
                            .count();
                        assert_eq!(created, 1, "an attempt is dialled once");
                        let state = [CallState::Busy, CallState::NoAnswer, CallState::Completed]
                            [rng.below(3) as usize];
                        let done = ended(&call, state, t0());
                        let outcome = done.outcome.clone().expect("terminal");
                        let release = if rng.below(3) == 0 {
                            final_release(&l.id, attempt, outcome, t0())
                        } else {
                            retry_release(&l.id, attempt, outcome, t0(), t0())
                        };
                        let sweep =
                            retry_release(&l.id, attempt, CallOutcome::Canceled, t0(), t0());
                        let (x, y, z) = tokio::join!(
                            store.finish_call(&done, &release),
                            store.finish_call(&done, &release),
                            store.release(&sweep),
                        );
                        let wins = [x, y, z]
                            .into_iter()
                            .filter(|r| matches!(r, Ok(true)))
                            .count() as u32;
                        *releases
                            .lock()
                            .expect("lock")
                            .entry((l.id.clone(), attempt))
                            .or_default() += wins;
                    }
                }
                Ok::<(), StoreError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker").expect("store");
    }

    let releases = releases.lock().expect("lock").clone();
    assert!(!releases.is_empty(), "the workers claimed something");
    for ((lead, attempt), wins) in &releases {
        assert_eq!(*wins, 1, "{lead} attempt {attempt} released {wins} times");
    }
    assert_eq!(active_count(&*store, &c).await, 0);
    for l in all_leads(&*store, &c).await {
        let dials = releases.keys().filter(|(id, _)| *id == l.id).count() as u32;
        assert_eq!(l.attempts, dials, "attempts of {}", l.id);
    }
    assert_eq!(store.live_calls(Some(&c)).await.unwrap(), Vec::new());
}
