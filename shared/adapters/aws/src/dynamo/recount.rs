//! Counting a campaign's open leads for real when its counters and its
//! indexes disagree.
//!
//! Whether a campaign is done is read from its counters (one item), which
//! the transactions that move leads keep exact on DynamoDB. If they ever
//! drift (seen only on an emulator that does not apply conditional writes
//! atomically: two transitions of one lead both passing their condition),
//! a campaign could stay `running` forever with "pending 1" that no claim
//! will ever find. So when the counters say a lead is waiting but no lead
//! is due in the `due` index and none holds a slot, the leads are read
//! one by one with strongly consistent reads (the indexes may lag a lead
//! that just moved) and counted; the answer is what they say, and the
//! counters are corrected by the difference, on condition that they did
//! not change meanwhile (another sweep repairs them otherwise).

use tracing::warn;
use voxdial_domain::{CampaignId, LeadId, StoreError};

use super::DynamoStore;
use super::table::{Counters, Write};

/// Lead ids read per page of the campaign's listing.
const PAGE: usize = 500;

impl DynamoStore {
    /// Whether any lead of the campaign is not final: the counters, checked
    /// against the leads when the indexes contradict them.
    pub(crate) async fn open_leads(&self, id: &CampaignId) -> Result<bool, StoreError> {
        let Some(row) = self.table.campaign(id).await? else {
            return Ok(false);
        };
        let read = row.counters;
        if read.pending + read.active <= 0 {
            return Ok(false);
        }
        if read.active > 0 || row.import.is_some() {
            return Ok(true);
        }
        if !self.table.due_leads(id, None, 1).await?.is_empty() {
            return Ok(true);
        }
        let counted = self.count_leads(id).await?;
        let delta = counted.minus(&read);
        if delta != Counters::default() {
            warn!(campaign_id = %id, ?read, ?counted, "campaign counters drifted; correcting them");
            let repair = Write::RepairCounters {
                campaign: id.clone(),
                read,
                delta,
            };
            if !self.table.write(&repair).await? {
                warn!(campaign_id = %id, "the counters changed meanwhile; the next sweep repairs them");
            }
        }
        Ok(counted.pending + counted.active > 0)
    }

    /// The counters of the campaign's published leads, read consistently.
    async fn count_leads(&self, id: &CampaignId) -> Result<Counters, StoreError> {
        let mut counted = Counters::default();
        let mut after: Option<LeadId> = None;
        loop {
            let page = self.table.campaign_leads(id, after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let ids: Vec<LeadId> = page.into_iter().map(|lead| lead.id).collect();
            for row in self.table.leads_by_id(&ids).await? {
                if row.staged.is_none() {
                    counted.add(&Counters::transition(None, &row.lead.state));
                }
            }
            if ids.len() < PAGE {
                break;
            }
        }
        Ok(counted)
    }
}

#[cfg(test)]
mod tests {
    use voxdial_domain::{CallOutcome, CampaignStore, LeadStore};
    use voxdial_testkit::fixtures::{at, campaign, final_release, leads, t0};

    use super::*;
    use crate::testing::Emulator;

    async fn drift(store: &DynamoStore, campaign: &CampaignId, pending: i64) {
        let delta = Counters {
            pending,
            ..Counters::default()
        };
        let write = Write::Counters {
            campaign: campaign.clone(),
            delta,
            cap: None,
            commit_import: None,
        };
        assert!(store.table.write(&write).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drifted_counters_never_keep_a_finished_campaign_open() {
        let moto = Emulator::get();
        let (store, _) = moto.store(&moto.clients(None)).await.unwrap();
        let c = campaign("camp-drift", t0());
        store.insert_campaign(&c).await.unwrap();
        store
            .import_leads(&c.id, leads(&c.id, 0..3, t0()))
            .await
            .unwrap();
        let claimed = store.claim_due(&c.id, 3, t0(), at(600), 3).await.unwrap();
        for lead in &claimed[..2] {
            let release = final_release(&lead.id, 1, CallOutcome::Busy, at(1));
            assert!(store.release(&release).await.unwrap());
        }
        // GIVEN counters that say one more lead waits than there is
        drift(&store, &c.id, 1).await;
        // THEN while a lead holds a slot, the campaign is open, counters as they are
        assert!(store.has_open_leads(&c.id).await.unwrap());
        assert_eq!(store.progress(&c.id).await.unwrap().pending, 1);
        // WHEN the last lead ends
        let release = final_release(&claimed[2].id, 1, CallOutcome::Busy, at(2));
        assert!(store.release(&release).await.unwrap());
        // THEN the campaign is done and its counters are right again
        assert!(!store.has_open_leads(&c.id).await.unwrap());
        let progress = store.progress(&c.id).await.unwrap();
        assert_eq!((progress.pending, progress.active), (0, 0));
        assert_eq!(progress.finals.get("busy"), Some(&3));
        assert_eq!(progress.total, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_that_takes_nothing_says_what_its_counters_showed() {
        let moto = Emulator::get();
        let (store, _) = moto.store(&moto.clients(None)).await.unwrap();
        let c = campaign("camp-known", t0());
        store.insert_campaign(&c).await.unwrap();
        store
            .import_leads(&c.id, leads(&c.id, 0..2, t0()))
            .await
            .unwrap();
        let first = store.claim_due(&c.id, 1, t0(), at(600), 1).await.unwrap();
        // GIVEN a lead in the one slot: open, without another read
        let full = store
            .claim_due_or_open(&c.id, 1, t0(), at(600), 1)
            .await
            .unwrap();
        assert!(full.leads.is_empty() && full.known_open);
        // WHEN it ends and the other lead is not due yet
        let release = final_release(&first[0].id, 1, CallOutcome::Busy, at(1));
        assert!(store.release(&release).await.unwrap());
        let early = store
            .claim_due_or_open(&c.id, 1, t0() - chrono::Duration::hours(1), at(600), 1)
            .await
            .unwrap();
        // THEN only a pending lead is left: the claim cannot tell, the
        // counters' reader can
        assert!(early.leads.is_empty() && !early.known_open);
        assert!(store.has_open_leads(&c.id).await.unwrap());
        // AND drifted counters (a lead more than there is) are not trusted
        let last = store.claim_due(&c.id, 1, at(2), at(600), 1).await.unwrap();
        let release = final_release(&last[0].id, 1, CallOutcome::Busy, at(3));
        assert!(store.release(&release).await.unwrap());
        drift(&store, &c.id, 1).await;
        let done = store
            .claim_due_or_open(&c.id, 1, at(4), at(600), 1)
            .await
            .unwrap();
        assert!(done.leads.is_empty() && !done.known_open);
        assert!(!store.has_open_leads(&c.id).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leads_are_counted_from_their_records_and_due_leads_are_trusted() {
        let moto = Emulator::get();
        let (store, _) = moto.store(&moto.clients(None)).await.unwrap();
        let c = campaign("camp-lost", t0());
        store.insert_campaign(&c).await.unwrap();
        store
            .import_leads(&c.id, leads(&c.id, 0..2, t0()))
            .await
            .unwrap();
        // GIVEN counters that say 3 leads wait where 2 do
        drift(&store, &c.id, 1).await;
        // THEN counting reads the lead records
        let counted = store.count_leads(&c.id).await.unwrap();
        assert_eq!((counted.pending, counted.total), (2, 2));
        // AND with leads due the campaign is open without counting (one
        // query): the counters are left as they are
        assert!(store.open_leads(&c.id).await.unwrap());
        assert_eq!(store.progress(&c.id).await.unwrap().pending, 3);
    }
}
