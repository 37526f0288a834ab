//! The store ports on the table: the decisions (what to read, which
//! conditional writes to send together, what a failed condition means),
//! in domain types only. The mapping is in [`super::table`].

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use futures_util::{StreamExt, stream};
use tracing::{debug, warn};
use voxdial_domain::{
    CallAttempt, CallId, CallStore, Campaign, CampaignId, CampaignProgress, CampaignStore, Claimed,
    CreateCall, Disposition, DncHit, DncScope, DncStore, E164, ImportCounts, Lead, LeadId,
    LeadOutcome, LeadRelease, LeadState, LeadStore, OrgId, PrivacyStore, PurgeDue, StoreError,
    SuppressionDigest, Timestamp, Tombstone,
};

use super::DynamoStore;
use super::table::{CallExpect, Cancel, Counters, LeadExpect, TxError, Write, backoff};

/// Rounds of read-decide-write before a write that keeps losing races
/// gives up with `Conflict` (each lost round means another writer won).
const WRITE_ROUNDS: u32 = 32;

/// Rounds of one `claim_due` call.
const CLAIM_ROUNDS: u32 = 48;

/// Leads claimed (or canceled) per transaction: with the campaign item,
/// well under DynamoDB's 100 writes, and small enough that one lost race
/// costs little.
const CLAIM_BATCH: usize = 25;

/// Concurrent single writes of one operation.
pub(crate) const PARALLEL_WRITES: usize = 16;

/// The writes that move a published `lead` to `next` and keep its
/// campaign's counters in step, expecting it unchanged in `state`.
fn lead_transition(lead: &Lead, next: Lead, attempt: Option<u32>) -> [Write; 2] {
    [
        Write::Counters {
            campaign: lead.campaign_id.clone(),
            delta: Counters::transition(Some(&lead.state), &next.state),
            cap: None,
            commit_import: None,
        },
        Write::PutLead {
            lead: next,
            expect: LeadExpect::Published {
                version: lead.version,
                state: lead.state.label(),
                attempt,
            },
        },
    ]
}

/// Whether a canceled transaction lost a race worth waiting out (another
/// transaction on the same items, throttling) rather than a condition.
fn contended(reasons: &[Cancel]) -> bool {
    reasons
        .iter()
        .any(|r| matches!(r, Cancel::Conflict | Cancel::Other))
}

impl DynamoStore {
    /// A lead as the ports see it: `None` while its import is not committed.
    async fn visible_lead(&self, id: &LeadId) -> Result<Option<Lead>, StoreError> {
        let Some(row) = self.table.lead(id).await? else {
            return Ok(None);
        };
        let Some(import) = row.staged else {
            return Ok(Some(row.lead));
        };
        // Staged: visible only once its import has committed (publishing
        // is then under way or was interrupted; claims roll it forward).
        let committed = self
            .table
            .campaign(&row.lead.campaign_id)
            .await?
            .and_then(|c| c.import)
            .is_some_and(|lock| lock.id == import && lock.committed);
        Ok(committed.then_some(row.lead))
    }

    /// Why `finish_call` could not store `call` (its write's condition was
    /// false): gone, changed since it was read, or finished already
    /// (nothing to write, nothing to release).
    async fn unfinished(&self, call: &CallAttempt) -> Result<bool, StoreError> {
        match self.table.call(&call.id).await? {
            None => Err(StoreError::NotFound(format!("call {}", call.id))),
            Some(stored) if stored.version == call.version && stored.state.is_terminal() => {
                Ok(false)
            }
            Some(stored) => Err(StoreError::Conflict(format!(
                "call {} is at version {}, not {}",
                call.id, stored.version, call.version
            ))),
        }
    }

    /// A published lead holding the slot for `attempt`, if it does.
    async fn holder(&self, id: &LeadId, attempt: u32) -> Result<Option<Lead>, StoreError> {
        Ok(self
            .table
            .lead(id)
            .await?
            .filter(|row| row.staged.is_none())
            .map(|row| row.lead)
            .filter(|lead| lead.state.active_attempt() == Some(attempt)))
    }
}

// ------------------------------------------------------------------ campaigns

#[async_trait]
impl CampaignStore for DynamoStore {
    async fn insert_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        if self
            .table
            .write(&Write::InsertCampaign(campaign.clone()))
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(format!(
                "campaign {}",
                campaign.id
            )))
        }
    }

    async fn campaign(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        Ok(self.table.campaign(id).await?.map(|row| row.campaign))
    }

    async fn update_campaign(&self, campaign: &Campaign) -> Result<Campaign, StoreError> {
        let mut next = campaign.clone();
        next.version += 1;
        let write = Write::UpdateCampaign {
            campaign: next.clone(),
            from_version: campaign.version,
        };
        if self.table.write(&write).await? {
            return Ok(next);
        }
        Err(match self.table.campaign(&campaign.id).await? {
            Some(_) => StoreError::Conflict(format!("campaign {}", campaign.id)),
            None => StoreError::NotFound(format!("campaign {}", campaign.id)),
        })
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        self.table.campaigns().await
    }

    async fn has_open_leads(&self, id: &CampaignId) -> Result<bool, StoreError> {
        self.open_leads(id).await
    }

    async fn progress(&self, id: &CampaignId) -> Result<CampaignProgress, StoreError> {
        let Some(row) = self.table.campaign(id).await? else {
            return Ok(CampaignProgress::default());
        };
        let c = &row.counters;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let next_due_at = self
            .table
            .due_leads(id, None, 1)
            .await?
            .first()
            .and_then(|lead| match lead.state {
                LeadState::Pending { due_at, .. } => Some(due_at),
                _ => None,
            });
        let mut live_calls = BTreeMap::new();
        for call in self.table.live_calls(Some(id)).await? {
            *live_calls
                .entry(call.state.label().to_string())
                .or_default() += 1;
        }
        Ok(CampaignProgress {
            total: count(c.total),
            pending: count(c.pending),
            waiting_window: count(c.window),
            active: count(c.active),
            finals: c
                .finals
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(label, n)| (label.clone(), count(*n)))
                .collect(),
            live_calls,
            next_due_at,
        })
    }
}

// ------------------------------------------------------------------ leads

#[async_trait]
impl LeadStore for DynamoStore {
    async fn import_leads(
        &self,
        campaign: &CampaignId,
        leads: Vec<Lead>,
    ) -> Result<ImportCounts, StoreError> {
        self.import(campaign, leads).await
    }

    async fn lead(&self, id: &LeadId) -> Result<Option<Lead>, StoreError> {
        self.visible_lead(id).await
    }

    async fn lead_and_campaign(
        &self,
        lead: &LeadId,
        campaign: &CampaignId,
    ) -> Result<(Option<Lead>, Option<Campaign>), StoreError> {
        let (lead_row, campaign_row) = self.table.lead_and_campaign(lead, campaign).await?;
        let lead = match lead_row {
            None => None,
            Some(row) => match row.staged {
                None => Some(row.lead),
                // Staged: visible once its import has committed.
                Some(import) if row.lead.campaign_id == *campaign => campaign_row
                    .as_ref()
                    .and_then(|c| c.import.as_ref())
                    .is_some_and(|lock| lock.id == import && lock.committed)
                    .then_some(row.lead),
                Some(_) => self.visible_lead(lead).await?,
            },
        };
        Ok((lead, campaign_row.map(|row| row.campaign)))
    }

    async fn leads(
        &self,
        campaign: &CampaignId,
        after: Option<&LeadId>,
        limit: usize,
    ) -> Result<Vec<Lead>, StoreError> {
        self.table.campaign_leads(campaign, after, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign, max_active, limit))]
    async fn claim_due_or_open(
        &self,
        campaign: &CampaignId,
        max_active: u32,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Claimed, StoreError> {
        let mut claimed: Vec<Lead> = Vec::new();
        // What the last read of the counters says, as `has_open_leads`
        // would read them (`open_leads`): a lead in a slot, or an import
        // in progress beside pending leads.
        let mut known_open = false;
        // Leads seen changed under us in this call (a stale index entry).
        let mut skip: HashSet<LeadId> = HashSet::new();
        for round in 0..CLAIM_ROUNDS {
            if claimed.len() >= limit {
                break;
            }
            let Some(row) = self.table.campaign(campaign).await? else {
                break;
            };
            let counters = &row.counters;
            known_open = counters.pending + counters.active > 0
                && (counters.active > 0 || row.import.is_some());
            if let Some(lock) = row.import.as_ref().filter(|lock| lock.committed) {
                // An import committed but not fully published (its process
                // stopped): roll it forward before claiming.
                self.publish_import(campaign, &lock.id, None).await?;
                continue;
            }
            let room = usize::try_from(i64::from(max_active) - row.counters.active).unwrap_or(0);
            let want = (limit - claimed.len()).min(room).min(CLAIM_BATCH);
            if want == 0 {
                break;
            }
            let picks: Vec<Lead> = self
                .table
                .due_leads(campaign, Some(now), want + skip.len())
                .await?
                .into_iter()
                .filter(|lead| !skip.contains(&lead.id))
                .take(want)
                .collect();
            if picks.is_empty() {
                break;
            }
            let mut delta = Counters::default();
            let mut writes = Vec::with_capacity(picks.len() + 1);
            let mut next_leads = Vec::with_capacity(picks.len());
            for lead in &picks {
                let mut next = lead.clone();
                next.state = LeadState::Active {
                    attempt: lead.attempts.saturating_add(1),
                    lease_until,
                };
                next.version += 1;
                next.updated_at = now;
                delta.add(&Counters::transition(Some(&lead.state), &next.state));
                writes.push(Write::PutLead {
                    lead: next.clone(),
                    expect: LeadExpect::Published {
                        version: lead.version,
                        state: "pending",
                        attempt: None,
                    },
                });
                next_leads.push(next);
            }
            // First: the slot ledger, `active + k <= max` (the cap).
            writes.insert(
                0,
                Write::Counters {
                    campaign: campaign.clone(),
                    delta,
                    cap: Some(max_active),
                    commit_import: None,
                },
            );
            match self.table.transact(&writes).await {
                Ok(()) => claimed.extend(next_leads),
                Err(TxError::Canceled(reasons)) => {
                    for (lead, reason) in picks.iter().zip(&reasons[1..]) {
                        if *reason == Cancel::Condition {
                            skip.insert(lead.id.clone());
                        }
                    }
                    if contended(&reasons) {
                        backoff(round).await;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        debug!(claimed = claimed.len(), "claimed due leads");
        Ok(Claimed {
            known_open: known_open && claimed.is_empty(),
            leads: claimed,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(lead_id = %release.lead_id, attempt = release.attempt))]
    async fn release(&self, release: &LeadRelease) -> Result<bool, StoreError> {
        release.check()?;
        for round in 0..WRITE_ROUNDS {
            let Some(lead) = self.holder(&release.lead_id, release.attempt).await? else {
                return Ok(false);
            };
            let next = release.apply(&lead);
            let mut writes = lead_transition(&lead, next, Some(release.attempt)).to_vec();
            if !release.dialed {
                // Never free the slot of a call a duplicated message placed.
                writes.push(Write::NoCall(CallId::for_attempt(
                    &release.lead_id,
                    release.attempt,
                )));
            }
            match self.table.transact(&writes).await {
                Ok(()) => return Ok(true),
                Err(TxError::Canceled(reasons)) if reasons.get(2) == Some(&Cancel::Condition) => {
                    return Ok(false);
                }
                // Re-read: released by another writer (false next round), or
                // changed otherwise (a lease extension) and worth retrying.
                Err(TxError::Canceled(reasons)) => {
                    if contended(&reasons) {
                        backoff(round).await;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!(
            "lead {} kept changing",
            release.lead_id
        )))
    }

    async fn amend_outcome(
        &self,
        lead: &LeadId,
        attempt: u32,
        disposition: Disposition,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        for round in 0..WRITE_ROUNDS {
            let Some(current) = self.visible_lead(lead).await? else {
                return Ok(false);
            };
            let Some(next) = current.with_analysed_disposition(attempt, disposition, now) else {
                return Ok(false);
            };
            // The lead on condition of its version, the final-outcome
            // counters moved in the same transaction.
            match self
                .table
                .transact(&lead_transition(&current, next, None))
                .await
            {
                Ok(()) => return Ok(true),
                Err(TxError::Canceled(reasons)) => {
                    if contended(&reasons) {
                        backoff(round).await;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!("lead {lead} kept changing")))
    }

    async fn extend_lease(
        &self,
        lead: &Lead,
        attempt: u32,
        lease_until: Timestamp,
    ) -> Result<Option<Lead>, StoreError> {
        // The caller's copy first: one write when it is still current (its
        // condition checks that), a read only when it is not.
        let mut known = Some(lead).filter(|l| l.state.active_attempt() == Some(attempt));
        for _ in 0..WRITE_ROUNDS {
            let current = match known.take() {
                Some(lead) => lead.clone(),
                None => match self.holder(&lead.id, attempt).await? {
                    Some(current) => current,
                    None => return Ok(None),
                },
            };
            let mut next = current.clone();
            next.state = LeadState::Active {
                attempt,
                lease_until,
            };
            next.version += 1;
            let write = Write::PutLead {
                lead: next.clone(),
                expect: LeadExpect::Published {
                    version: current.version,
                    state: "active",
                    attempt: Some(attempt),
                },
            };
            if self.table.write(&write).await? {
                return Ok(Some(next));
            }
        }
        Err(StoreError::Conflict(format!(
            "lead {} kept changing",
            lead.id
        )))
    }

    async fn expired_leases(&self, now: Timestamp, limit: usize) -> Result<Vec<Lead>, StoreError> {
        self.table.expired_leases(now, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(campaign_id = %campaign))]
    async fn cancel_pending(
        &self,
        campaign: &CampaignId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut canceled = 0u64;
        let mut skip: HashSet<LeadId> = HashSet::new();
        let mut round = 0;
        loop {
            let picks: Vec<Lead> = self
                .table
                .due_leads(campaign, None, CLAIM_BATCH + skip.len())
                .await?
                .into_iter()
                .filter(|lead| !skip.contains(&lead.id))
                .take(CLAIM_BATCH)
                .collect();
            if picks.is_empty() {
                return Ok(canceled);
            }
            let mut delta = Counters::default();
            let mut writes = vec![];
            for lead in &picks {
                let mut next = lead.clone();
                next.state = LeadState::Final {
                    outcome: LeadOutcome::Canceled,
                    at: now,
                };
                next.updated_at = now;
                next.version += 1;
                delta.add(&Counters::transition(Some(&lead.state), &next.state));
                writes.push(Write::PutLead {
                    lead: next,
                    expect: LeadExpect::Published {
                        version: lead.version,
                        state: "pending",
                        attempt: None,
                    },
                });
            }
            writes.insert(
                0,
                Write::Counters {
                    campaign: campaign.clone(),
                    delta,
                    cap: None,
                    commit_import: None,
                },
            );
            match self.table.transact(&writes).await {
                Ok(()) => canceled += picks.len() as u64,
                Err(TxError::Canceled(reasons)) => {
                    for (lead, reason) in picks.iter().zip(&reasons[1..]) {
                        if *reason == Cancel::Condition {
                            skip.insert(lead.id.clone());
                        }
                    }
                    if contended(&reasons) {
                        if round > WRITE_ROUNDS * 4 {
                            return Err(StoreError::Conflict(format!(
                                "campaign {campaign}: leads kept changing while canceling"
                            )));
                        }
                        backoff(round).await;
                        round += 1;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
    }
}

// ------------------------------------------------------------------ calls

#[async_trait]
impl CallStore for DynamoStore {
    async fn create_call(&self, call: &CallAttempt) -> Result<CreateCall, StoreError> {
        let write = Write::PutCall {
            call: call.clone(),
            expect: CallExpect::Absent,
        };
        if self.table.write(&write).await? {
            return Ok(CreateCall::Created);
        }
        match self.table.call(&call.id).await? {
            Some(stored) => Ok(CreateCall::Exists(Box::new(stored))),
            None => Err(StoreError::Conflict(format!("call {}", call.id))),
        }
    }

    async fn call(&self, id: &CallId) -> Result<Option<CallAttempt>, StoreError> {
        self.table.call(id).await
    }

    async fn update_call(&self, call: &CallAttempt) -> Result<CallAttempt, StoreError> {
        match self.update_call_or_current(call).await? {
            Ok(next) => Ok(next),
            Err(None) => Err(StoreError::NotFound(format!("call {}", call.id))),
            Err(Some(stored)) => Err(StoreError::Conflict(format!(
                "call {} is at version {}, not {}",
                call.id, stored.version, call.version
            ))),
        }
    }

    async fn update_call_or_current(
        &self,
        call: &CallAttempt,
    ) -> Result<Result<CallAttempt, Option<CallAttempt>>, StoreError> {
        let mut next = call.clone();
        next.version += 1;
        let expect = if call.state.is_terminal() {
            CallExpect::Terminal {
                version: call.version,
                state: call.state.label(),
            }
        } else {
            CallExpect::Live {
                version: call.version,
            }
        };
        let write = Write::PutCall {
            call: next.clone(),
            expect,
        };
        // Refused, the write returns the stored call: no read to say why.
        match self.table.write_call(&write).await? {
            Ok(()) => Ok(Ok(next)),
            Err(Some(stored)) if stored.version == call.version => {
                Err(StoreError::Invalid(format!(
                    "call {} is {}: it cannot become {}",
                    call.id,
                    stored.state.label(),
                    call.state.label()
                )))
            }
            Err(stored) => Ok(Err(stored)),
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(call_id = %call.id, state = call.state.label()))]
    async fn finish_call(
        &self,
        call: &CallAttempt,
        release: &LeadRelease,
    ) -> Result<bool, StoreError> {
        release.check_finish(call)?;
        let mut next = call.clone();
        next.version += 1;
        // No read of the call: its write is on condition of the version the
        // caller read (and of its being live), and only a refused write
        // reads the call to say why.
        let call_write = Write::PutCall {
            call: next,
            expect: CallExpect::Live {
                version: call.version,
            },
        };
        for round in 0..WRITE_ROUNDS {
            let Some(lead) = self.holder(&release.lead_id, release.attempt).await? else {
                // The sweeper released the slot: store the call alone.
                if self.table.write(&call_write).await? {
                    return Ok(false);
                }
                return self.unfinished(call).await;
            };
            let [counters, lead_write] =
                lead_transition(&lead, release.apply(&lead), Some(release.attempt));
            // The call ends and the slot is released in one transaction:
            // whichever terminal event commits first is the only release.
            match self
                .table
                .transact(&[call_write.clone(), counters, lead_write])
                .await
            {
                Ok(()) => return Ok(true),
                Err(TxError::Canceled(reasons)) if reasons.first() == Some(&Cancel::Condition) => {
                    return self.unfinished(call).await;
                }
                // The lead changed (a lease extension): read it again.
                Err(TxError::Canceled(reasons)) => {
                    if contended(&reasons) {
                        backoff(round).await;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!(
            "call {} kept changing",
            call.id
        )))
    }

    async fn live_calls(
        &self,
        campaign: Option<&CampaignId>,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        self.table.live_calls(campaign).await
    }

    async fn calls(
        &self,
        campaign: &CampaignId,
        before: Option<&CallId>,
        limit: usize,
    ) -> Result<Vec<CallAttempt>, StoreError> {
        let before = match before {
            None => None,
            Some(id) => Some(
                self.table
                    .call(id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("call {id}")))?,
            ),
        };
        self.table
            .campaign_calls(campaign, before.as_ref(), limit)
            .await
    }
}

// ------------------------------------------------------------------ DNC

#[async_trait]
impl DncStore for DynamoStore {
    async fn add_dnc(
        &self,
        scope: &DncScope,
        numbers: &[E164],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let unique: HashSet<E164> = numbers.iter().cloned().collect();
        let table = &self.table;
        let writes = unique.into_iter().map(|number| Write::AddDnc {
            scope: scope.clone(),
            number,
            now,
        });
        let results: Vec<Result<bool, StoreError>> = stream::iter(writes)
            .map(|write| async move { table.write(&write).await })
            .buffer_unordered(PARALLEL_WRITES)
            .collect()
            .await;
        let mut added = 0;
        for result in results {
            added += u64::from(result?);
        }
        Ok(added)
    }

    async fn remove_dnc(&self, scope: &DncScope, number: &E164) -> Result<bool, StoreError> {
        self.table.remove_dnc(scope, number).await
    }

    async fn dnc_hit(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        number: &E164,
    ) -> Result<DncHit, StoreError> {
        self.table.dnc_hit(org, campaign, number).await
    }
}

// ------------------------------------------------------------------ privacy

#[async_trait]
impl PrivacyStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(lead_id = %lead))]
    async fn erase_lead(
        &self,
        lead: &LeadId,
        digest: &SuppressionDigest,
        tombstone: &Tombstone,
    ) -> Result<Option<Tombstone>, StoreError> {
        for round in 0..WRITE_ROUNDS {
            let Some(row) = self.table.lead(lead).await? else {
                return Ok(None);
            };
            if row.staged.is_some() {
                // Its import has not published it: not visible, not erasable yet.
                return Ok(None);
            }
            let found = row.lead;
            if matches!(found.state, LeadState::Active { .. }) {
                return Err(StoreError::Conflict(format!(
                    "lead {lead} is in a call: erase it once the call has ended"
                )));
            }
            // Call ids are `{lead}.{attempt}`: every attempt made, and one
            // more in case a release had not counted it yet.
            let ids: Vec<CallId> = (1..=found.attempts.saturating_add(1))
                .filter_map(|n| CallId::parse(format!("{lead}.{n}")).ok())
                .collect();
            let calls = self.table.calls_by_id(&ids).await?;
            let org = match self.table.campaign(&found.campaign_id).await? {
                Some(row) => row.campaign.org_id,
                None => OrgId::default(),
            };
            let scopes = self
                .table
                .dnc_scopes(&org, &found.campaign_id, &found.phone)
                .await?;
            let mut stone = tombstone.clone();
            stone.calls_erased = u32::try_from(calls.len()).unwrap_or(u32::MAX);
            stone.suppressions_kept = u32::try_from(scopes.len()).unwrap_or(u32::MAX);
            stone.lead_state = found.state.label().to_string();
            let mut writes = vec![
                Write::DeleteLead {
                    lead: found.id.clone(),
                    version: found.version,
                },
                Write::Counters {
                    campaign: found.campaign_id.clone(),
                    delta: Counters::removal(&found.state),
                    cap: None,
                    commit_import: None,
                },
                Write::DeletePhone {
                    campaign: found.campaign_id.clone(),
                    phone: found.phone.clone(),
                },
            ];
            for call in &calls {
                writes.push(Write::DeleteCall {
                    call: call.id.clone(),
                    version: call.version,
                });
                if let Some(retention) = &call.post_call.retention {
                    writes.push(Write::DeletePurge {
                        call: call.id.clone(),
                        due_at: retention.purge_at,
                    });
                }
            }
            for scope in scopes {
                writes.push(Write::PutSuppression {
                    scope: scope.clone(),
                    digest: digest.clone(),
                    now: stone.erased_at,
                });
                writes.push(Write::DeleteDnc {
                    scope,
                    number: found.phone.clone(),
                });
            }
            writes.push(Write::PutTombstone(stone.clone()));
            match self.table.transact(&writes).await {
                Ok(()) => return Ok(Some(stone)),
                Err(TxError::Canceled(reasons)) => {
                    if contended(&reasons) {
                        backoff(round).await;
                    }
                }
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!("lead {lead} kept changing")))
    }

    async fn tombstone(&self, lead: &LeadId) -> Result<Option<Tombstone>, StoreError> {
        self.table.tombstone(lead).await
    }

    async fn suppressed(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        digest: &SuppressionDigest,
    ) -> Result<DncHit, StoreError> {
        self.table.suppressed(org, campaign, digest).await
    }

    async fn schedule_purge(&self, call: &CallId, due_at: Timestamp) -> Result<(), StoreError> {
        self.table
            .write(&Write::PutPurge {
                call: call.clone(),
                due_at,
            })
            .await
            .map(drop)
    }

    async fn due_purges(&self, now: Timestamp, limit: usize) -> Result<Vec<PurgeDue>, StoreError> {
        self.table.due_purges(now, limit).await
    }

    async fn clear_purge(&self, purge: &PurgeDue) -> Result<(), StoreError> {
        self.table
            .write(&Write::DeletePurge {
                call: purge.call_id.clone(),
                due_at: purge.due_at,
            })
            .await
            .map(drop)
    }
}

/// Logs a cleanup step that failed; the next import (or claim) retries it.
pub(crate) fn cleanup_failed(what: &str, error: &StoreError) {
    warn!(%error, "{what} failed; the next import of the campaign finishes it");
}
