//! The sweeper: reconciles what events missed. Run it every minute (the
//! local runtime runs it every second).
//!
//! - A lead whose slot lease ended without a call record lost its dispatch
//!   message (a crash between claim and send): it is queued again.
//! - A call whose lease ended without a terminal event lost its callbacks:
//!   the provider is asked for the call's real status, and a terminal status
//!   finishes the call as a callback would have. A call the provider never
//!   heard of fails (a crash before the provider accepted it).
//! - The first sweep of a process, and then one every
//!   `EngineConfig::reconcile_interval_secs`, asks the provider about every
//!   live call it accepted, lease or not: calls that ended while a crashed
//!   process was down (their final callbacks lost) free their slots within
//!   a sweep of the restart instead of at the end of their lease.
//! - Every running campaign's free slots are filled (this fires due retries
//!   and leads whose calling window opened), and finished campaigns complete.

use chrono::Duration as Span;
use serde::Serialize;
use tracing::{info, warn};
use voxdial_domain::{
    CallAttempt, CallEvent, CallId, CampaignStatus, DispatchMessage, Lead, LeadOutcome,
    LeadRelease, LeadState, PendingReason, ProviderCall, ProviderError, ProviderId, Timestamp,
};

use crate::{AppError, Engine};

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Leads whose lease had ended.
    pub expired_leases: u64,
    /// Dispatch messages queued again.
    pub redispatched: u64,
    /// Calls finished from the provider's status.
    pub reconciled: u64,
    /// Calls failed because no provider knew them.
    pub failed_unknown: u64,
    /// Live calls whose lease was extended (still in progress at the provider).
    pub extended: u64,
    /// Live calls the provider was asked about before their lease ended.
    pub checked: u64,
    /// Dispatch messages queued by slot filling.
    pub filled: u64,
    /// Campaigns completed.
    pub completed: u64,
    /// Calls whose files' retention ended and were deleted.
    pub purged: u64,
}

/// How many expired leases one sweep handles.
const SWEEP_BATCH: usize = 500;

/// How long after a restart a call setup the dead process left unanswered
/// is looked for at the providers: a create request written just before
/// the crash still reaches the provider (the kernel sends what the socket
/// holds), and the provider lists it once it has taken it.
const DEAD_SETUP_GRACE_SECS: i64 = 30;

impl Engine {
    /// Runs one sweep.
    pub async fn sweep(&self) -> Result<SweepReport, AppError> {
        let mut report = SweepReport::default();
        let now = self.clock.now();
        if self.reconcile_due(now) {
            self.reconcile_live(now, &mut report).await?;
        }
        for lead in self.store.expired_leases(now, SWEEP_BATCH).await? {
            report.expired_leases += 1;
            if let Err(error) = self.reclaim(&lead, &mut report).await {
                warn!(lead_id = %lead.id, %error, "could not reclaim an expired lease; next sweep retries");
            }
        }
        for campaign in self.store.campaigns().await? {
            match campaign.status {
                CampaignStatus::Running => {
                    let (filled, known_open) = self.fill_campaign_slots(&campaign).await?;
                    report.filled += filled as u64;
                    if filled == 0 && !known_open {
                        report.completed +=
                            u64::from(self.complete_campaign_if_done(&campaign).await?);
                    }
                }
                CampaignStatus::Paused => {
                    report.completed += u64::from(self.complete_campaign_if_done(&campaign).await?);
                }
                _ => {}
            }
        }
        match self.purge_due().await {
            Ok(purged) => report.purged = purged,
            Err(error) => warn!(%error, "retention purge failed; the next sweep retries"),
        }
        if report.expired_leases > 0 || report.reconciled > 0 {
            info!(?report, "sweep");
        }
        Ok(report)
    }

    /// Ends the leases of the dispatches a dead process left half done, for
    /// a backend whose only dispatcher is this process (the local one),
    /// before its dispatcher starts. A lead claimed before `started` with
    /// no call the provider accepted (no call record, or one created before
    /// `started` without a provider id) belonged to a dispatcher that died
    /// with the last process; its slot would stay taken until its lease ran
    /// out (the dispatch lease, or a whole call's life once the setup had
    /// begun). The sweep then reclaims it as an expired lease: dispatched
    /// again at once when no call record exists (nothing was dialled), else,
    /// [`DEAD_SETUP_GRACE_SECS`] after `started`, asked of the providers:
    /// found, it goes on as the provider says; found nowhere, it failed
    /// (held as before while a provider that cannot search might have it).
    /// Returns how many leases it ended.
    pub async fn end_dead_dispatches(&self, started: Timestamp) -> Result<u64, AppError> {
        let far = started + Span::days(366);
        let past = started - Span::seconds(1);
        // A lease running past this was taken (or extended) after `started`.
        let claimed_before = started + Span::seconds(i64::from(self.config.dispatch_lease_secs));
        let mut ended = 0;
        for lead in self.store.expired_leases(far, SWEEP_BATCH).await? {
            let LeadState::Active {
                attempt,
                lease_until,
            } = lead.state
            else {
                continue;
            };
            let call = self
                .store
                .call(&CallId::for_attempt(&lead.id, attempt))
                .await?;
            let until = match call {
                // No attempt record: nothing was dialled; dispatched again
                // at once if it was claimed before this process started.
                None if lease_until < claimed_before => past,
                None => continue,
                Some(call) if call.provider_sid.is_some() || call.state.is_terminal() => continue,
                // An attempt the dead process was placing (its lease was
                // extended to a whole call's life before each request): its
                // last create request may still be on its way to the
                // provider for a moment, then the sweep asks where it went.
                Some(call) if call.created_at < started => {
                    started + Span::seconds(DEAD_SETUP_GRACE_SECS)
                }
                Some(_) => continue,
            };
            if self
                .store
                .extend_lease(&lead, attempt, until)
                .await?
                .is_some()
            {
                ended += 1;
            }
        }
        if ended > 0 {
            info!(
                ended,
                "ended the leases of dispatches the last process left"
            );
        }
        Ok(ended)
    }

    /// Whether this sweep asks the providers about every live call: the
    /// first of the process, then one per reconcile interval.
    fn reconcile_due(&self, now: Timestamp) -> bool {
        let mut last = self.reconciled_at.lock().unwrap_or_else(|p| p.into_inner());
        let interval = Span::seconds(i64::from(self.config.reconcile_interval_secs));
        if last.is_some_and(|at| now < at + interval) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Asks the provider about every live call it accepted (one with a
    /// provider id: a call still being set up is its dispatcher's, and the
    /// lease covers a dispatcher that died) and applies what it says.
    async fn reconcile_live(
        &self,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(), AppError> {
        let far = now + Span::days(366);
        for lead in self.store.expired_leases(far, SWEEP_BATCH).await? {
            let Some(attempt) = lead.state.active_attempt() else {
                continue;
            };
            let Some(call) = self
                .store
                .call(&CallId::for_attempt(&lead.id, attempt))
                .await?
            else {
                continue;
            };
            if call.state.is_terminal() || call.provider_sid.is_none() {
                continue;
            }
            report.checked += 1;
            match self.provider_view(&call).await {
                Ok(Some((provider, view))) if view.status.is_terminal() => {
                    self.apply_event(&event_from_view(&call, provider, view))
                        .await?;
                    report.reconciled += 1;
                }
                Ok(_) => {}
                Err(error) => {
                    warn!(call_id = %call.id, %error, "provider status unavailable; the lease still guards the call");
                }
            }
        }
        Ok(())
    }

    async fn reclaim(&self, lead: &Lead, report: &mut SweepReport) -> Result<(), AppError> {
        let Some(attempt) = lead.state.active_attempt() else {
            return Ok(());
        };
        let now = self.clock.now();
        let Some(call) = self
            .store
            .call(&CallId::for_attempt(&lead.id, attempt))
            .await?
        else {
            let campaign = self.campaign(&lead.campaign_id).await?;
            if campaign.is_dialling() {
                let lease = now + Span::seconds(i64::from(self.config.dispatch_lease_secs));
                if self
                    .store
                    .extend_lease(lead, attempt, lease)
                    .await?
                    .is_some()
                {
                    let message = DispatchMessage {
                        campaign_id: lead.campaign_id.clone(),
                        lead_id: lead.id.clone(),
                        attempt,
                    };
                    self.queue
                        .send(&[message], std::time::Duration::ZERO)
                        .await?;
                    report.redispatched += 1;
                }
            } else {
                let next = if campaign.status == CampaignStatus::Paused {
                    LeadState::Pending {
                        due_at: now,
                        reason: PendingReason::Returned,
                    }
                } else {
                    LeadState::Final {
                        outcome: LeadOutcome::Canceled,
                        at: now,
                    }
                };
                let release = LeadRelease {
                    lead_id: lead.id.clone(),
                    attempt,
                    next,
                    dialed: false,
                    outcome: None,
                    at: now,
                };
                self.store.release(&release).await?;
            }
            return Ok(());
        };
        if call.state.is_terminal() {
            // finish_call releases atomically, so this only happens if the
            // record was finished by an older version; release it now.
            let campaign = self.campaign(&call.campaign_id).await?;
            if let Some(outcome) = call.outcome.clone() {
                self.finish_released_lead(&call, &campaign, outcome).await?;
            }
            return Ok(());
        }
        match self.provider_view(&call).await {
            Ok(Some((provider, view))) if view.status.is_terminal() => {
                let event = event_from_view(&call, provider, view);
                self.apply_event(&event).await?;
                report.reconciled += 1;
            }
            Ok(Some((provider, view))) => {
                let mut event = event_from_view(&call, provider, view);
                event.sequence = None;
                self.apply_event(&event).await?;
                let campaign = self.campaign(&call.campaign_id).await?;
                let lease =
                    i64::from(campaign.settings.max_call_secs + self.config.call_lease_margin_secs);
                self.store
                    .extend_lease(lead, attempt, now + Span::seconds(lease))
                    .await?;
                report.extended += 1;
            }
            Ok(None) => {
                let campaign = self.campaign(&call.campaign_id).await?;
                // No provider knows the call. When every provider searches
                // its calls, it was never placed: the lease that ended was
                // extended before each create request by a whole call's
                // life (or, after a crash, by the grace a last request
                // needs to land). Otherwise its create may have reached one
                // that cannot be searched (SansPBX): until such a call would
                // surely have ended, the slot stays taken, so the cap holds
                // whatever became of it.
                let settings = &campaign.settings;
                let life = settings.ring_timeout_secs
                    + settings.max_call_secs
                    + self.config.call_lease_margin_secs;
                let settled = if self.providers.all_find_calls() {
                    now
                } else {
                    call.created_at + Span::seconds(i64::from(life))
                };
                if now < settled {
                    self.store.extend_lease(lead, attempt, settled).await?;
                    report.extended += 1;
                    return Ok(());
                }
                let mut failed = call.clone();
                failed.fail("no provider has a record of this call", now);
                let outcome = failed
                    .outcome(&campaign.settings.voicemail, true)
                    .expect("a failed call has an outcome");
                self.finish(failed, &campaign, outcome).await?;
                report.failed_unknown += 1;
            }
            Err(error) => {
                warn!(call_id = %call.id, %error, "provider status unavailable; will ask again");
            }
        }
        Ok(())
    }

    /// The provider's view of a call, with that provider's id: by its sid,
    /// or searched for when voxdial never learnt the sid. `None` when no
    /// provider knows it.
    async fn provider_view(
        &self,
        call: &CallAttempt,
    ) -> Result<Option<(ProviderId, ProviderCall)>, ProviderError> {
        if let (Some(sid), Some(provider)) = (
            &call.provider_sid,
            call.provider.as_ref().and_then(|p| self.providers.get(p)),
        ) {
            return match provider.fetch_call(sid).await {
                Ok(view) => Ok(Some((provider.id().clone(), view))),
                Err(ProviderError::NotFound) => Ok(None),
                Err(e) => Err(e),
            };
        }
        for provider in self.providers.all() {
            if let Some(view) = provider
                .find_call(&call.id, &call.to, call.created_at)
                .await?
            {
                return Ok(Some((provider.id().clone(), view)));
            }
        }
        Ok(None)
    }

    async fn finish_released_lead(
        &self,
        call: &CallAttempt,
        campaign: &voxdial_domain::Campaign,
        outcome: voxdial_domain::CallOutcome,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let release = LeadRelease {
            lead_id: call.lead_id.clone(),
            attempt: call.attempt,
            next: LeadState::Final {
                outcome: LeadOutcome::Called {
                    outcome: outcome.clone(),
                },
                at: now,
            },
            dialed: true,
            outcome: Some(outcome),
            at: now,
        };
        if self.store.release(&release).await? {
            self.refill_or_complete(campaign).await?;
        }
        Ok(())
    }
}

fn event_from_view(call: &CallAttempt, provider: ProviderId, view: ProviderCall) -> CallEvent {
    let mut event = CallEvent::new(provider, Some(call.id.clone()), view.status);
    event.provider_sid = Some(view.sid);
    event.duration_secs = view.duration_secs;
    event.answered_by = view.answered_by;
    event.price = view.price;
    event.timestamp = view.ended_at;
    event
}
