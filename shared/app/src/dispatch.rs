//! Dispatching one lead: screen, route, create the attempt, place the call.
//!
//! Safe under at-least-once delivery: a message only acts while its lead
//! still holds the slot for that attempt, and the attempt record is created
//! with "put if absent" on a deterministic id before any provider is asked,
//! so a redelivered or duplicated message never dials twice.

use std::time::Duration;

use chrono::Duration as Span;
use rand::RngExt;
use tracing::{debug, info, warn};
use voxdial_domain::{
    CallAttempt, CallOutcome, CallState, Campaign, CampaignStatus, ComplianceRecord, CreateCall,
    DispatchMessage, Lead, LeadOutcome, LeadRelease, LeadState, PendingReason, PlaceCall,
    ProviderError, ProviderId, ProviderStrategy, ScreenDecision, ScreenReason, Timestamp,
};

use crate::router::{RoutePlan, SetupResult};

/// Puts the step of `preferred` first in a chain (the stored AI agent's
/// provider, under `agent_assigned`); the router's order follows. A
/// provider the router left out (its circuit open, no route to the
/// destination) stays out.
fn prefer(plan: RoutePlan, preferred: Option<&ProviderId>) -> RoutePlan {
    match (plan, preferred) {
        (RoutePlan::Chain(mut steps), Some(provider)) => {
            if let Some(i) = steps.iter().position(|s| &s.provider == provider) {
                let step = steps.remove(i);
                steps.insert(0, step);
            }
            RoutePlan::Chain(steps)
        }
        (plan, _) => plan,
    }
}
use crate::{AppError, Engine};

/// What dispatching a message did.
#[derive(Clone, Debug, PartialEq)]
pub enum DispatchOutcome {
    /// A provider accepted the call.
    Placed {
        /// The provider that took it.
        provider: ProviderId,
    },
    /// Every provider failed or refused; the attempt ended as failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// Screening ruled the lead out for good.
    ScreenedOut(ScreenReason),
    /// Outside the calling window: the lead waits until then.
    Rescheduled(Timestamp),
    /// The campaign is paused or canceled: the slot was given back.
    Returned,
    /// Nothing to do (duplicate or stale message).
    Skipped(&'static str),
    /// Every provider is at its rate limit: deliver the message again later.
    RetryAfter(Duration),
}

impl Engine {
    /// Handles one dispatch message.
    pub async fn dispatch(&self, message: &DispatchMessage) -> Result<DispatchOutcome, AppError> {
        let now = self.clock.now();
        let (lead, campaign) = self
            .store
            .lead_and_campaign(&message.lead_id, &message.campaign_id)
            .await?;
        let Some(lead) = lead.filter(|lead| lead.campaign_id == message.campaign_id) else {
            return Ok(DispatchOutcome::Skipped("unknown lead"));
        };
        if lead.state.active_attempt() != Some(message.attempt) {
            return Ok(DispatchOutcome::Skipped(
                "the lead no longer holds this slot",
            ));
        }
        // No read of the attempt here: creating it below is a conditional
        // put that refuses a second one, and duplicates are rare.
        let campaign = campaign
            .ok_or_else(|| AppError::NotFound(format!("campaign {}", message.campaign_id)))?;
        if !campaign.is_dialling() {
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
            self.release_undialled(&lead, &campaign, message.attempt, next, now)
                .await?;
            return Ok(DispatchOutcome::Returned);
        }
        // The do-not-call lists, and the keyed hashes of erased numbers.
        let dnc = self.do_not_call(&campaign, &lead.phone).await?;
        match voxdial_domain::screening::screen(&lead, &campaign, message.attempt, dnc, now) {
            ScreenDecision::Reject(reason) => {
                info!(lead_id = %lead.id, reason = reason.label(), "lead screened out");
                let next = LeadState::Final {
                    outcome: LeadOutcome::ScreenedOut {
                        reason: reason.clone(),
                    },
                    at: now,
                };
                self.release_undialled(&lead, &campaign, message.attempt, next, now)
                    .await?;
                Ok(DispatchOutcome::ScreenedOut(reason))
            }
            ScreenDecision::Reschedule { at } => {
                debug!(lead_id = %lead.id, %at, "outside the calling window; rescheduled");
                let next = LeadState::Pending {
                    due_at: at,
                    reason: PendingReason::CallingWindow,
                };
                self.release_undialled(&lead, &campaign, message.attempt, next, now)
                    .await?;
                Ok(DispatchOutcome::Rescheduled(at))
            }
            ScreenDecision::Allow(record) => {
                self.place(&lead, &campaign, message.attempt, record).await
            }
        }
    }

    /// Gives a slot back without a call, then lets another lead have it.
    async fn release_undialled(
        &self,
        lead: &Lead,
        campaign: &Campaign,
        attempt: u32,
        next: LeadState,
        now: Timestamp,
    ) -> Result<(), AppError> {
        let release = LeadRelease {
            lead_id: lead.id.clone(),
            attempt,
            next,
            dialed: false,
            outcome: None,
            at: now,
        };
        if self.store.release(&release).await? {
            self.refill_or_complete(campaign).await?;
        }
        Ok(())
    }

    async fn place(
        &self,
        lead: &Lead,
        campaign: &Campaign,
        attempt: u32,
        record: ComplianceRecord,
    ) -> Result<DispatchOutcome, AppError> {
        let now = self.clock.now();
        let preferred = self.preferred_provider(campaign).await?;
        let preferring = |plan| prefer(plan, preferred.as_ref());
        let (steps, no_route) = match preferring(
            self.router
                .plan(
                    &lead.phone,
                    &campaign.settings.provider_strategy,
                    &campaign.settings.agent_id,
                    campaign.settings.caller_id.as_ref(),
                    now,
                )
                .await,
        ) {
            RoutePlan::Chain(steps) => (steps, None),
            RoutePlan::NotBefore(at) => {
                let wait = (at - now)
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_millis(50));
                return Ok(DispatchOutcome::RetryAfter(wait));
            }
            RoutePlan::NoRoute(reason) => (Vec::new(), Some(reason)),
        };
        let call = CallAttempt::new(
            campaign.id.clone(),
            lead.id.clone(),
            attempt,
            lead.phone.clone(),
            record,
            now,
        );
        if let CreateCall::Exists(_) = self.store.create_call(&call).await? {
            return Ok(DispatchOutcome::Skipped("the attempt exists already"));
        }
        if let Some(reason) = no_route {
            return self.fail_setup(call, campaign, reason, false).await;
        }
        let settings = &campaign.settings;
        let lease = i64::from(
            settings.ring_timeout_secs
                + settings.max_call_secs
                + self.config.call_lease_margin_secs,
        );

        let mut steps = steps;
        let mut errors = Vec::new();
        let started = tokio::time::Instant::now();
        for round in 0..=self.config.setup_retries {
            if round > 0 {
                if started.elapsed() >= self.config.setup_budget {
                    break;
                }
                // Every step failed with a transient error: wait, then plan
                // again (a probe that failed reopened its breaker; a fallback
                // at its rate limit may be free now).
                self.sleep_backoff(round).await;
                match preferring(
                    self.router
                        .replan(
                            &lead.phone,
                            &settings.provider_strategy,
                            &settings.agent_id,
                            settings.caller_id.as_ref(),
                            self.clock.now(),
                        )
                        .await,
                ) {
                    RoutePlan::Chain(next) => steps = next,
                    RoutePlan::NotBefore(_) => continue,
                    RoutePlan::NoRoute(_) => break,
                }
                debug!(call_id = %call.id, round, "call setup: trying the chain again");
            }
            errors.clear();
            for step in &steps {
                match self.try_step(lead, campaign, &call, step, lease).await? {
                    Ok(()) => {
                        return Ok(DispatchOutcome::Placed {
                            provider: step.provider.clone(),
                        });
                    }
                    Err(error) => {
                        let transient = error.allows_fallback();
                        errors.push(format!("{}: {error}", step.provider));
                        if !transient {
                            return self
                                .fail_setup(call, campaign, errors.join("; "), false)
                                .await;
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            errors.push("no telephony provider can call this destination".into());
        }
        self.fail_setup(call, campaign, errors.join("; "), true)
            .await
    }

    /// The provider the campaign's AI agent prefers, under the
    /// `agent_assigned` strategy (the agent record is read only then).
    async fn preferred_provider(
        &self,
        campaign: &Campaign,
    ) -> Result<Option<ProviderId>, AppError> {
        if campaign.settings.provider_strategy != ProviderStrategy::AgentAssigned {
            return Ok(None);
        }
        Ok(self
            .campaign_agent(campaign)
            .await?
            .and_then(|agent| agent.preferred_provider))
    }

    /// Asks the provider of one step of the chain; on acceptance the attempt
    /// record learns the provider's id. The router learns the result. The
    /// outer error is the store's, the inner one the provider's.
    async fn try_step(
        &self,
        lead: &Lead,
        campaign: &Campaign,
        call: &CallAttempt,
        step: &crate::router::RouteStep,
        lease: i64,
    ) -> Result<Result<(), ProviderError>, AppError> {
        let Some(provider) = self.providers.get(&step.provider) else {
            return Ok(Err(ProviderError::Transient {
                message: "not configured".into(),
                source: None,
            }));
        };
        let settings = &campaign.settings;
        let request = PlaceCall {
            call_id: call.id.clone(),
            campaign_id: campaign.id.clone(),
            to: lead.phone.clone(),
            from: step.caller_id.clone(),
            answer_url: self.webhook_url(&step.provider, "answer", &campaign.id, &call.id),
            status_url: self.webhook_url(&step.provider, "status", &campaign.id, &call.id),
            recording_status_url: (settings.recording != voxdial_domain::RecordingPolicy::Off)
                .then(|| self.webhook_url(&step.provider, "recording", &campaign.id, &call.id)),
            amd: settings.amd,
            amd_status_url: Some(self.webhook_url(
                &step.provider,
                "status",
                &campaign.id,
                &call.id,
            )),
            // With a media bridge, the bridge records both channels
            // itself: a provider recording too would be paid, downloaded
            // and deleted for nothing (the first stored one wins).
            record: settings.recording.records_every_call() && self.config.media_url.is_none(),
            ring_timeout_secs: settings.ring_timeout_secs,
            time_limit_secs: settings.max_call_secs,
            // Valid through the ring time: SansPBX connects the stream on
            // answer, with no answer webhook to issue it later.
            media_token: self.media_token(&call.id, i64::from(settings.ring_timeout_secs)),
        };
        match self
            .place_with_backoff(provider.as_ref(), &request, step, lead, call, lease)
            .await?
        {
            Ok(placed) => {
                self.router
                    .record_setup(
                        &step.provider,
                        &lead.phone,
                        SetupResult::Accepted,
                        self.clock.now(),
                    )
                    .await;
                self.note_placed(call, step, placed.sid).await?;
                info!(call_id = %call.id, provider = %step.provider, to = %lead.phone, "call placed");
                Ok(Ok(()))
            }
            Err(error) => {
                self.router
                    .record_setup(
                        &step.provider,
                        &lead.phone,
                        SetupResult::Failed {
                            transient: error.allows_fallback(),
                        },
                        self.clock.now(),
                    )
                    .await;
                warn!(call_id = %call.id, provider = %step.provider, %error, "call setup failed");
                Ok(Err(error))
            }
        }
    }

    /// Sleeps before setup round `round` (1, 2, …): the backoff base
    /// doubled per round, with jitter.
    async fn sleep_backoff(&self, round: u32) {
        let wait = self.config.backoff_base.saturating_mul(1 << round.min(16));
        let jitter = rand::rng().random_range(0.5..1.5);
        tokio::time::sleep(wait.mul_f64(jitter)).await;
    }

    /// Asks one provider, backing off on rate limits and transient errors.
    /// A rate limit says nothing about the call or the provider's health
    /// (the request was not processed and is safe to repeat), so rate limits
    /// get twice the tries of other transient errors: when the provider is
    /// the last one left (the others' circuits open), a short burst of 429s
    /// must not fail the call.
    async fn place_with_backoff(
        &self,
        provider: &dyn voxdial_domain::TelephonyProvider,
        request: &PlaceCall,
        step: &crate::router::RouteStep,
        lead: &Lead,
        call: &CallAttempt,
        lease: i64,
    ) -> Result<Result<voxdial_domain::PlacedCall, ProviderError>, AppError> {
        let mut delay = self.config.backoff_base;
        let (mut tries, mut rate_limited) = (0, 0);
        let mut held = lead.clone();
        loop {
            held = self.hold_slot(&held, call, lease).await?;
            self.router
                .reserve(step, &request.to, self.clock.now())
                .await;
            let result = provider.place_call(request).await;
            match &result {
                Err(ProviderError::RateLimited { .. }) => rate_limited += 1,
                Err(_) => tries += 1,
                Ok(_) => {}
            }
            let again = tries < self.config.tries_per_provider
                && rate_limited < 2 * self.config.tries_per_provider;
            match result {
                Ok(placed) => return Ok(Ok(placed)),
                Err(error) if error.allows_fallback() && again => {
                    let wait = match &error {
                        ProviderError::RateLimited {
                            retry_after: Some(after),
                        } => (*after).max(delay),
                        _ => delay,
                    };
                    let jitter = rand::rng().random_range(0.5..1.5);
                    tokio::time::sleep(wait.mul_f64(jitter)).await;
                    delay = delay.saturating_mul(2);
                }
                Err(error) => return Ok(Err(error)),
            }
        }
    }

    /// Extends the attempt's slot lease to `lease` seconds from now, before
    /// each request to a provider: however long the setup takes (rounds,
    /// backoff, fallbacks), the sweeper never judges a working dispatcher
    /// dead. If the slot was taken back meanwhile (the dispatcher was slow
    /// past its lease and the sweeper found no call at any provider), the
    /// setup stops here: a call placed now would be in flight without a
    /// slot, over the cap. `lead` is the lead as last read or held;
    /// returns it as held now.
    async fn hold_slot(
        &self,
        lead: &Lead,
        call: &CallAttempt,
        lease: i64,
    ) -> Result<Lead, AppError> {
        let until = self.clock.now() + Span::seconds(lease);
        self.store
            .extend_lease(lead, call.attempt, until)
            .await?
            .ok_or_else(|| {
                AppError::Conflict(format!(
                    "attempt {} lost its slot during call setup: not dialling",
                    call.id
                ))
            })
    }

    /// Records the provider's acceptance on the attempt, merging with any
    /// status callback that got there first.
    async fn note_placed(
        &self,
        call: &CallAttempt,
        step: &crate::router::RouteStep,
        sid: voxdial_domain::ProviderCallSid,
    ) -> Result<(), AppError> {
        // First write the record as created (usually nobody changed it yet);
        // when a status callback got there first, merge with the call as
        // the refused write found it.
        let mut known = Some(call.clone());
        for _ in 0..crate::engine::CONFLICT_RETRIES {
            let Some(mut current) = known.take() else {
                return Err(AppError::NotFound(format!("call {}", call.id)));
            };
            let before = current.clone();
            // A call that ended before this response came back learnt its
            // provider and sid from its events; only its caller ID is new.
            current.from.get_or_insert_with(|| step.caller_id.clone());
            if !current.state.is_terminal() {
                current
                    .provider
                    .get_or_insert_with(|| step.provider.clone());
                current.provider_sid.get_or_insert(sid.clone());
                if current.state == CallState::Pending {
                    current.state = CallState::Dialing;
                }
            }
            if current == before {
                return Ok(());
            }
            match self.store.update_call_or_current(&current).await? {
                Ok(_) => return Ok(()),
                Err(Some(stored)) => known = Some(stored),
                Err(None) => return Err(AppError::NotFound(format!("call {}", call.id))),
            }
        }
        Err(AppError::contended(format_args!("call {}", call.id)))
    }

    /// Ends an attempt that no provider accepted.
    async fn fail_setup(
        &self,
        mut call: CallAttempt,
        campaign: &Campaign,
        reason: String,
        retryable: bool,
    ) -> Result<DispatchOutcome, AppError> {
        call.fail(reason.clone(), self.clock.now());
        let outcome = CallOutcome::Failed {
            reason: reason.clone(),
            retryable,
        };
        self.finish(call, campaign, outcome).await?;
        Ok(DispatchOutcome::Failed { reason })
    }
}

#[cfg(test)]
mod tests {
    use voxdial_domain::E164;

    use super::*;
    use crate::router::RouteStep;

    fn chain(ids: &[&str]) -> RoutePlan {
        let caller = E164::parse("+12125550100", None).unwrap();
        RoutePlan::Chain(
            ids.iter()
                .map(|id| RouteStep::new(ProviderId::parse(*id).unwrap(), caller.clone()))
                .collect(),
        )
    }

    #[test]
    fn the_preferred_provider_goes_first_and_the_rest_keep_their_order() {
        let b = ProviderId::parse("b").unwrap();
        assert_eq!(
            prefer(chain(&["a", "c", "b"]), Some(&b)),
            chain(&["b", "a", "c"])
        );
        assert_eq!(prefer(chain(&["a", "c"]), Some(&b)), chain(&["a", "c"]));
        assert_eq!(prefer(chain(&["a", "b"]), None), chain(&["a", "b"]));
        let none = RoutePlan::NoRoute("no".into());
        assert_eq!(prefer(none.clone(), Some(&b)), none);
    }
}
