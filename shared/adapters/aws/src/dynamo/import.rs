//! Atomic lead imports on DynamoDB, whose transactions hold 100 writes
//! while an import file holds thousands of leads.
//!
//! # Protocol
//!
//! 1. **Lock.** The import takes the campaign's import lock (attributes on
//!    the campaign item, set by a conditional update). One import per
//!    campaign runs at a time; a lock older than [`IMPORT_LEASE`] belongs to
//!    a crashed import, and whoever takes it over first recovers that
//!    import (below).
//! 2. **Merge.** Under the lock, the (campaign, number) uniqueness items of
//!    the batch are read: numbers the campaign has are merged, and so are
//!    repeats inside the batch; an id repeated with another number fails
//!    the import before anything is written.
//! 3. **Journal.** The leads about to be staged are written to the import's
//!    journal (`I#<import>` items), so that another process can finish or
//!    undo the import.
//! 4. **Stage.** Each new lead is put if its id is free, *staged*: marked
//!    with the import id and in no index, so no claim, listing or count
//!    sees it, and [`DynamoStore::lead`](voxdial_domain::LeadStore::lead)
//!    hides it. Its uniqueness item is staged alike. A taken id fails the
//!    import: what was staged is deleted (`AlreadyExists`).
//! 5. **Commit point.** One conditional update of the campaign item adds
//!    the batch to the campaign's counters and marks the lock `committed`,
//!    only while this import still holds the lock.
//! 6. **Publish.** Each staged lead is rewritten with its index keys and
//!    without the mark, then the lock is freed and the journal kept a week
//!    (DynamoDB TTL) as the import's record.
//!
//! # Crashes
//!
//! A crash before the commit point leaves staged items nobody sees; the
//! next import of the campaign (after [`IMPORT_LEASE`]) rolls them back. A
//! crash after it is **rolled forward**: the counters already include the
//! leads, and the next `claim_due` of the campaign (the sweeper calls it
//! every minute for running campaigns, and starting a campaign calls it) or
//! the next import publishes the rest. Publishing is idempotent (each write
//! is conditional on the lead still being staged by this import), so
//! several processes may roll the same import forward at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::{StreamExt, stream};
use tracing::{debug, info};
use voxdial_domain::{CampaignId, E164, ImportCounts, Lead, LeadId, StoreError};

use super::DynamoStore;
use super::store::{PARALLEL_WRITES, cleanup_failed};
use super::table::{Counters, ImportLock, JournalPart, LeadExpect, TxError, Write, backoff};

/// How long an import may hold its campaign's lock before another import
/// takes it over as crashed (a Lambda runs at most 15 minutes).
pub const IMPORT_LEASE: Duration = Duration::from_secs(16 * 60);

/// How long an import waits for another import of the same campaign.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Leads per journal item (an item holds at most 400 KB).
const JOURNAL_PART: usize = 1_000;

/// Writes per staging or publishing transaction.
const TX_WRITES: usize = 100;

/// How long a published import's journal is kept.
const JOURNAL_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A lead to stage: the lead, with the number its uniqueness item holds.
type Staged = (LeadId, E164);

impl DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign, leads = leads.len()))]
    pub(crate) async fn import(
        &self,
        campaign: &CampaignId,
        leads: Vec<Lead>,
    ) -> Result<ImportCounts, StoreError> {
        self.import_with_lease(campaign, leads, IMPORT_LEASE).await
    }

    /// [`DynamoStore::import`], taking over locks older than `lease`.
    async fn import_with_lease(
        &self,
        campaign: &CampaignId,
        leads: Vec<Lead>,
        lease: Duration,
    ) -> Result<ImportCounts, StoreError> {
        if let Some(stray) = leads.iter().find(|l| l.campaign_id != *campaign) {
            return Err(StoreError::Invalid(format!(
                "lead {} belongs to campaign {}, not {campaign}",
                stray.id, stray.campaign_id
            )));
        }
        if self.table.campaign(campaign).await?.is_none() {
            return Err(StoreError::NotFound(format!("campaign {campaign}")));
        }
        if leads.is_empty() {
            return Ok(ImportCounts::default());
        }
        let import = format!("imp_{}", uuid::Uuid::new_v4().simple());
        self.lock(campaign, &import, lease).await?;
        match self.stage_and_commit(campaign, &import, leads).await {
            Ok((counts, staged)) => {
                if let Some(staged) = staged {
                    self.publish_import(campaign, &import, Some(staged)).await?;
                } else if let Err(e) = self.unlock(campaign, &import).await {
                    cleanup_failed("freeing an import lock", &e);
                }
                info!(
                    campaign_id = %campaign,
                    inserted = counts.inserted,
                    merged = counts.merged,
                    "leads imported"
                );
                Ok(counts)
            }
            Err((error, staged)) => {
                // Undo what was staged, then free the lock; if this fails
                // too, the next import rolls it back after the lease.
                match self.roll_back(campaign, &import, staged).await {
                    Ok(()) => {
                        if let Err(e) = self.unlock(campaign, &import).await {
                            cleanup_failed("freeing an import lock", &e);
                        }
                    }
                    Err(e) => cleanup_failed("rolling back an import", &e),
                }
                Err(error)
            }
        }
    }

    /// Takes the campaign's import lock, recovering a crashed import that
    /// held it, and waiting for a live one.
    async fn lock(
        &self,
        campaign: &CampaignId,
        import: &str,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        for round in 0.. {
            let now = chrono::Utc::now();
            match self
                .table
                .lock_import(campaign, import, now, now - lease)
                .await?
            {
                Some(None) => return Ok(()),
                Some(Some(crashed)) => {
                    // The lock is ours; finish or undo the crashed import.
                    self.recover(campaign, &crashed).await?;
                    return Ok(());
                }
                None => {
                    let row = self
                        .table
                        .campaign(campaign)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("campaign {campaign}")))?;
                    if let Some(lock) = row.import.filter(|lock| lock.committed) {
                        self.publish_import(campaign, &lock.id, None).await?;
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(StoreError::Conflict(format!(
                            "campaign {campaign}: another import is running"
                        )));
                    }
                    backoff(round.min(6)).await;
                }
            }
        }
        unreachable!("the loop returns")
    }

    async fn unlock(&self, campaign: &CampaignId, import: &str) -> Result<bool, StoreError> {
        self.table
            .write(&Write::UnlockImport {
                campaign: campaign.clone(),
                import: import.to_string(),
            })
            .await
    }

    /// Finishes a crashed import whose lock was taken over: forward if it
    /// committed, else back.
    async fn recover(&self, campaign: &CampaignId, crashed: &ImportLock) -> Result<(), StoreError> {
        info!(campaign_id = %campaign, import = %crashed.id, committed = crashed.committed, "recovering a crashed import");
        if crashed.committed {
            self.publish_import(campaign, &crashed.id, None).await
        } else {
            self.roll_back(campaign, &crashed.id, None).await
        }
    }

    /// Steps 2 to 5. On success, the counts and the staged leads (none if
    /// every lead merged, when nothing is committed); on failure, the error
    /// and what may have been staged.
    async fn stage_and_commit(
        &self,
        campaign: &CampaignId,
        import: &str,
        leads: Vec<Lead>,
    ) -> Result<(ImportCounts, Option<Vec<Lead>>), (StoreError, Option<Vec<Staged>>)> {
        let (counts, fresh) = self.stage(campaign, import, leads).await?;
        if fresh.is_empty() {
            return Ok((counts, None));
        }
        self.commit(campaign, import, &fresh).await.map_err(|e| {
            let staged = fresh.iter().map(|l| (l.id.clone(), l.phone.clone()));
            (e, Some(staged.collect()))
        })?;
        Ok((counts, Some(fresh)))
    }

    /// Steps 2 to 4: the counts and the leads staged.
    async fn stage(
        &self,
        campaign: &CampaignId,
        import: &str,
        leads: Vec<Lead>,
    ) -> Result<(ImportCounts, Vec<Lead>), (StoreError, Option<Vec<Staged>>)> {
        let phones: Vec<E164> = leads.iter().map(|l| l.phone.clone()).collect();
        let known = self
            .table
            .phones(campaign, &phones)
            .await
            .map_err(|e| (e, None))?;
        let mut counts = ImportCounts::default();
        let mut seen_phones: HashSet<&E164> = HashSet::new();
        let mut seen_ids: HashMap<&LeadId, &E164> = HashMap::new();
        let mut fresh: Vec<&Lead> = Vec::new();
        for lead in &leads {
            if known.contains_key(&lead.phone) || !seen_phones.insert(&lead.phone) {
                counts.merged += 1;
                continue;
            }
            if seen_ids.insert(&lead.id, &lead.phone).is_some() {
                return Err((StoreError::AlreadyExists(format!("lead {}", lead.id)), None));
            }
            fresh.push(lead);
        }
        counts.inserted = fresh.len() as u64;
        if fresh.is_empty() {
            return Ok((counts, Vec::new()));
        }
        let staged: Vec<Staged> = fresh
            .iter()
            .map(|l| (l.id.clone(), l.phone.clone()))
            .collect();
        let parts: Vec<JournalPart> = staged
            .chunks(JOURNAL_PART)
            .map(|chunk| JournalPart {
                leads: chunk.to_vec(),
            })
            .collect();
        let fail = |e: StoreError| (e, Some(staged.clone()));
        self.table
            .put_journal(import, campaign, &parts)
            .await
            .map_err(fail)?;

        // Stage: a lead and its number per pair of writes, many per transaction.
        for chunk in fresh.chunks(TX_WRITES / 2) {
            let writes: Vec<Write> = chunk
                .iter()
                .flat_map(|lead| {
                    [
                        Write::StageLead {
                            lead: (*lead).clone(),
                            import: import.to_string(),
                        },
                        Write::StagePhone {
                            campaign: campaign.clone(),
                            phone: lead.phone.clone(),
                            lead: lead.id.clone(),
                            import: import.to_string(),
                        },
                    ]
                })
                .collect();
            match self.table.transact(&writes).await {
                Ok(()) => {}
                Err(TxError::Canceled(reasons)) => {
                    let taken = chunk.iter().zip(reasons.chunks(2)).find_map(|(lead, r)| {
                        (r[0] == super::table::Cancel::Condition).then_some(&lead.id)
                    });
                    let error = match taken {
                        Some(id) => StoreError::AlreadyExists(format!("lead {id}")),
                        None => StoreError::Conflict(format!(
                            "campaign {campaign}: the import collided with another write"
                        )),
                    };
                    return Err(fail(error));
                }
                Err(TxError::Store(e)) => return Err(fail(e)),
            }
        }

        Ok((counts, fresh.into_iter().cloned().collect()))
    }

    /// Step 5, the commit point: the counters take the staged leads and the
    /// lock says `committed`, only while this import holds it.
    async fn commit(
        &self,
        campaign: &CampaignId,
        import: &str,
        fresh: &[Lead],
    ) -> Result<(), StoreError> {
        let mut delta = Counters::default();
        for lead in fresh {
            delta.add(&Counters::transition(None, &lead.state));
        }
        let commit = Write::Counters {
            campaign: campaign.clone(),
            delta,
            cap: None,
            commit_import: Some(import.to_string()),
        };
        if !self.table.write(&commit).await? {
            return Err(StoreError::Conflict(format!(
                "campaign {campaign}: the import lost its lock"
            )));
        }
        debug!(import, leads = fresh.len(), "import committed");
        Ok(())
    }

    /// Step 6: publishes a committed import's leads (those given, or those
    /// its journal names), frees its lock and closes its journal. Safe to
    /// run more than once, concurrently too.
    pub(crate) async fn publish_import(
        &self,
        campaign: &CampaignId,
        import: &str,
        leads: Option<Vec<Lead>>,
    ) -> Result<(), StoreError> {
        let leads = match leads {
            Some(leads) => leads,
            None => {
                let ids: Vec<LeadId> = self
                    .table
                    .journal(import)
                    .await?
                    .into_iter()
                    .flat_map(|part| part.leads.into_iter().map(|(id, _)| id))
                    .collect();
                self.table
                    .leads_by_id(&ids)
                    .await?
                    .into_iter()
                    .filter(|row| row.staged.as_deref() == Some(import))
                    .map(|row| row.lead)
                    .collect()
            }
        };
        let writes: Vec<Write> = leads
            .iter()
            .flat_map(|lead| {
                [
                    Write::PutLead {
                        lead: lead.clone(),
                        expect: LeadExpect::Staged {
                            import: import.to_string(),
                            version: lead.version,
                        },
                    },
                    Write::PublishPhone {
                        campaign: campaign.clone(),
                        phone: lead.phone.clone(),
                        import: import.to_string(),
                    },
                ]
            })
            .collect();
        for chunk in writes.chunks(TX_WRITES) {
            match self.table.transact(chunk).await {
                Ok(()) => {}
                // Part of it was published by another process: one by one.
                Err(TxError::Canceled(_)) => self.each(chunk).await?,
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        // Closed (numbers removed, TTL set) before the lock is freed: a
        // crash in between leaves a lock the next claim rolls forward, not
        // a journal with numbers and no expiry.
        let now = chrono::Utc::now();
        if let Err(e) = self
            .table
            .close_journal(import, Some((now, JOURNAL_KEPT)))
            .await
        {
            cleanup_failed("closing an import journal", &e);
        }
        self.unlock(campaign, import).await?;
        debug!(import, leads = leads.len(), "import published");
        Ok(())
    }

    /// Deletes what an uncommitted import staged (the leads given, or those
    /// its journal names) and its journal. Safe to run more than once.
    async fn roll_back(
        &self,
        campaign: &CampaignId,
        import: &str,
        staged: Option<Vec<Staged>>,
    ) -> Result<(), StoreError> {
        let staged = match staged {
            Some(staged) => staged,
            None => self
                .table
                .journal(import)
                .await?
                .into_iter()
                .flat_map(|part| part.leads)
                .collect(),
        };
        let writes: Vec<Write> = staged
            .into_iter()
            .flat_map(|(lead, phone)| {
                [
                    Write::UnstageLead {
                        lead,
                        import: import.to_string(),
                    },
                    Write::UnstagePhone {
                        campaign: campaign.clone(),
                        phone,
                        import: import.to_string(),
                    },
                ]
            })
            .collect();
        self.each(&writes).await?;
        self.table.close_journal(import, None).await
    }

    /// Runs conditional writes one by one (in parallel); a false condition
    /// means the write is done already.
    async fn each(&self, writes: &[Write]) -> Result<(), StoreError> {
        let table = &self.table;
        let results: Vec<Result<bool, StoreError>> = stream::iter(writes.iter().cloned())
            .map(|write| async move { table.write(&write).await })
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        results.into_iter().try_for_each(|r| r.map(drop))
    }
}

#[cfg(test)]
mod tests {
    //! Crashes at each step of an import, on the moto emulator: a process
    //! that stops after staging (nothing visible, rolled back by the next
    //! import) and one that stops after the commit point (rolled forward by
    //! the next claim).

    use super::*;
    use crate::testing::Emulator;
    use chrono::TimeZone;
    use voxdial_domain::{
        Campaign, CampaignSettings, CampaignStore, LeadState, LeadStore, NewLead,
    };

    #[test]
    fn the_lease_outlives_a_lambda() {
        assert!(IMPORT_LEASE > Duration::from_secs(15 * 60));
    }

    fn t0() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap()
    }

    fn leads(campaign: &CampaignId, from: usize, to: usize) -> Vec<Lead> {
        (from..to)
            .map(|n| {
                let phone = E164::parse(&format!("+1212555{n:04}"), None).unwrap();
                NewLead {
                    phone,
                    name: format!("lead {n}"),
                    time_zone: None,
                    custom: Default::default(),
                    consent: true,
                }
                .into_lead(
                    LeadId::parse(format!("{campaign}-L{n:04}")).unwrap(),
                    campaign.clone(),
                    t0(),
                )
            })
            .collect()
    }

    async fn store_with_campaign() -> (DynamoStore, CampaignId) {
        let moto = Emulator::get();
        let (store, _) = moto.store(&moto.clients(None)).await.unwrap();
        let campaign = Campaign::new(
            CampaignId::parse("camp-x").unwrap(),
            CampaignSettings::default(),
            t0(),
        )
        .unwrap();
        store.insert_campaign(&campaign).await.unwrap();
        (store, campaign.id)
    }

    async fn visible(store: &DynamoStore, campaign: &CampaignId) -> usize {
        store.leads(campaign, None, 10_000).await.unwrap().len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crash_before_the_commit_point_is_rolled_back() {
        let (store, c) = store_with_campaign().await;
        // GIVEN an import that staged 120 leads and stopped
        let crashed = leads(&c, 0, 120);
        store.lock(&c, "imp_crashed", IMPORT_LEASE).await.unwrap();
        let (_, staged) = store
            .stage(&c, "imp_crashed", crashed.clone())
            .await
            .unwrap();
        assert_eq!(staged.len(), 120);
        // THEN nothing of it is visible: lookups, listings, counts, claims
        assert_eq!(store.lead(&crashed[0].id).await.unwrap(), None);
        assert_eq!(visible(&store, &c).await, 0);
        assert_eq!(store.progress(&c).await.unwrap().total, 0);
        assert!(
            store
                .claim_due(&c, 5, t0(), t0(), 5)
                .await
                .unwrap()
                .is_empty()
        );

        // WHEN the next import takes the lock over (its lease ended)
        let next = leads(&c, 100, 130);
        let counts = store
            .import_with_lease(&c, next.clone(), Duration::ZERO)
            .await
            .unwrap();
        // THEN the crashed import is gone, its numbers free again, and the
        // new one is whole: 100..130 inserted, none merged with the ghost
        assert_eq!(
            counts,
            ImportCounts {
                inserted: 30,
                merged: 0
            }
        );
        assert!(store.table.lead(&crashed[0].id).await.unwrap().is_none());
        assert_eq!(visible(&store, &c).await, 30);
        assert_eq!(store.progress(&c).await.unwrap().total, 30);
        assert!(store.table.journal("imp_crashed").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crash_after_the_commit_point_is_rolled_forward() {
        let (store, c) = store_with_campaign().await;
        // GIVEN an import that committed 150 leads and stopped before publishing
        let batch = leads(&c, 0, 150);
        store.lock(&c, "imp_committed", IMPORT_LEASE).await.unwrap();
        let (_, staged) = store
            .stage(&c, "imp_committed", batch.clone())
            .await
            .unwrap();
        store.commit(&c, "imp_committed", &staged).await.unwrap();
        assert_eq!(store.progress(&c).await.unwrap().total, 150);
        assert_eq!(visible(&store, &c).await, 0, "not published yet");
        assert_eq!(
            store.lead(&batch[7].id).await.unwrap().as_ref(),
            Some(&batch[7])
        );

        // WHEN the sweeper's slot filling claims
        let claimed = store.claim_due(&c, 5, t0(), t0(), 5).await.unwrap();
        // THEN the import is published first, then claimed from
        assert_eq!(claimed.len(), 5);
        assert_eq!(visible(&store, &c).await, 150);
        let row = store.table.campaign(&c).await.unwrap().unwrap();
        assert_eq!(row.import, None, "the lock is free");
        let p = store.progress(&c).await.unwrap();
        assert_eq!((p.total, p.pending, p.active), (150, 145, 5));
        assert!(
            claimed
                .iter()
                .all(|l| matches!(l.state, LeadState::Active { attempt: 1, .. }))
        );
        // AND a re-import merges every number
        let again = store.import(&c, batch).await.unwrap();
        assert_eq!(
            again,
            ImportCounts {
                inserted: 0,
                merged: 150
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_live_import_blocks_another_until_it_ends() {
        let (store, c) = store_with_campaign().await;
        store.lock(&c, "imp_live", IMPORT_LEASE).await.unwrap();
        let waiting = {
            let (store, c) = (store.clone(), c.clone());
            tokio::spawn(async move { store.import(&c, leads(&c, 0, 3)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "the second import waits for the lock"
        );
        assert!(store.unlock(&c, "imp_live").await.unwrap());
        let counts = waiting.await.unwrap().unwrap();
        assert_eq!(counts.inserted, 3);
    }
}
