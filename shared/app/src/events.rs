//! Provider events: status callbacks, answer webhooks, dispositions, and
//! finishing a call exactly once.

use tracing::{debug, info, warn};
use voxdial_domain::{
    AnswerInstruction, Applied, CallAttempt, CallEvent, CallEventKind, CallId, CallOutcome,
    Campaign, CampaignStatus, Disposition, DncScope, IgnoreReason, LeadOutcome, LeadRelease,
    LeadState, PendingReason, ProviderCallSid, ProviderError, ProviderId, RetryDecision,
    StoreError, VoicemailPolicy, WebhookError, WebhookRequest, WebhookResponse,
};
use voxdial_wire::media_token::TOKEN_PARAMETER;

use crate::engine::CONFLICT_RETRIES;
use crate::router::CallEnd;
use crate::{AppError, Engine};

/// Told about every call that moves on (not about terminal events), after
/// the change is stored: the local runtime lets its media bridge open the
/// model session while the phone rings, and hands it the provider's
/// machine-detection verdict. Implementations must not block.
pub trait CallObserver: Send + Sync {
    /// `call` has just been stored in its new state.
    fn call_progressed(&self, call: &CallAttempt);
}

/// Refuses a webhook naming a provider call other than the one stored for
/// the call (once known): a signed webhook of one call replayed against
/// another call's id changes nothing (403).
pub(crate) fn check_provider_sid(
    call: &CallAttempt,
    sid: Option<&ProviderCallSid>,
) -> Result<(), AppError> {
    match (&call.provider_sid, sid) {
        (Some(known), Some(given)) if known != given => {
            warn!(call_id = %call.id, "webhook for another provider call refused");
            Err(AppError::Webhook(WebhookError::Forbidden))
        }
        _ => Ok(()),
    }
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// The call moved on.
    Progressed,
    /// The call ended; `released` tells whether this event released the slot.
    Ended {
        /// True for exactly one event per call.
        released: bool,
    },
    /// Nothing changed.
    Ignored(IgnoreReason),
    /// No call has this id.
    UnknownCall,
}

impl Engine {
    /// Handles a provider's status webhook: checks the signature (403 and no
    /// change if it is wrong), applies the event, and answers 200.
    pub async fn handle_status_webhook(
        &self,
        provider_id: &ProviderId,
        request: &WebhookRequest,
    ) -> WebhookResponse {
        let Some(provider) = self.providers.get(provider_id) else {
            return WebhookResponse::text(404, format!("unknown provider {provider_id}"));
        };
        let event = match provider.parse_status_webhook(request) {
            Ok(event) => event,
            Err(error) => {
                warn!(provider = %provider_id, error = %voxdial_domain::LogSafe(&error.to_string()), "status webhook refused");
                return WebhookResponse::from_error(&error);
            }
        };
        if crate::media::is_agent_leg(request) {
            return match self.apply_agent_leg_event(&event).await {
                Ok(()) => WebhookResponse::text(200, "ok"),
                Err(error) => {
                    warn!(provider = %provider_id, %error, "agent leg event not applied");
                    WebhookResponse::text(error.http_status(), error.to_string())
                }
            };
        }
        match self.apply_event(&event).await {
            Ok(outcome) => {
                debug!(provider = %provider_id, ?outcome, kind = ?event.kind, "status event");
                WebhookResponse::text(200, "ok")
            }
            Err(error) => {
                warn!(provider = %provider_id, %error, "status event not applied");
                WebhookResponse::text(error.http_status(), error.to_string())
            }
        }
    }

    /// Applies a provider event to its call; on the first terminal event,
    /// finishes the call (slot, retry, outcome) exactly once.
    pub async fn apply_event(&self, event: &CallEvent) -> Result<EventOutcome, AppError> {
        Ok(self.apply_event_to(event, None, true).await?.0)
    }

    /// [`Engine::apply_event`] to `known`, the event's call as the caller
    /// just read it (read here when `None`, and again after a conflict);
    /// `act_on_verdict` is false when the caller acts on a machine verdict
    /// itself (the answer webhook). Returns the call as last seen too,
    /// unless it ended.
    async fn apply_event_to(
        &self,
        event: &CallEvent,
        mut known: Option<CallAttempt>,
        act_on_verdict: bool,
    ) -> Result<(EventOutcome, Option<CallAttempt>), AppError> {
        let call_id = event
            .call_id
            .clone()
            .ok_or_else(|| AppError::Invalid("the event names no call_id".into()))?;
        for _ in 0..CONFLICT_RETRIES {
            let read = match known.take() {
                Some(call) => Some(call),
                None => self.store.call(&call_id).await?,
            };
            let Some(mut call) = read else {
                return Ok((EventOutcome::UnknownCall, None));
            };
            check_provider_sid(&call, event.provider_sid.as_ref())?;
            let now = self.clock.now();
            let stored = call.clone();
            let result = match call.apply(event, now) {
                Applied::Ignored(IgnoreReason::AlreadyTerminal) if event.kind.is_terminal() => {
                    // A repeated end: repairs a count the first one missed.
                    self.recount_call_end(&call).await;
                    return Ok((EventOutcome::Ignored(IgnoreReason::AlreadyTerminal), None));
                }
                Applied::Ignored(reason) => {
                    return Ok((EventOutcome::Ignored(reason), Some(stored)));
                }
                Applied::Progressed => match self.store.update_call_or_current(&call).await {
                    Ok(Ok(updated)) => {
                        if let Some(observer) = &self.observer {
                            observer.call_progressed(&updated);
                        }
                        if act_on_verdict && event.kind == CallEventKind::MachineDetection {
                            self.on_machine_verdict(&updated).await;
                        }
                        Ok((EventOutcome::Progressed, Some(updated)))
                    }
                    // Changed since it was read (another callback of the
                    // call): apply the event again to the call as stored.
                    Ok(Err(Some(stored))) => {
                        known = Some(stored);
                        continue;
                    }
                    Ok(Err(None)) => return Ok((EventOutcome::UnknownCall, None)),
                    Err(e) => Err(e),
                },
                Applied::Terminal => {
                    let campaign = self.campaign(&call.campaign_id).await?;
                    let retryable =
                        event.kind != CallEventKind::Failed || failure_is_retryable(event);
                    let outcome = call
                        .outcome(&campaign.settings.voicemail, retryable)
                        .expect("a terminal call has an outcome");
                    match self.finish(call, &campaign, outcome).await {
                        Ok(released) => Ok((EventOutcome::Ended { released }, None)),
                        Err(AppError::Store(e)) => Err(e),
                        Err(other) => return Err(other),
                    }
                }
            };
            match result {
                Ok(outcome) => return Ok(outcome),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::contended(format_args!("call {call_id}")))
    }

    /// Stores a terminal call and releases its lead's slot in one atomic
    /// write, decides the retry, refills the slot, and completes the campaign
    /// when it was the last open lead. Returns whether the slot was released
    /// (true exactly once per call).
    pub(crate) async fn finish(
        &self,
        mut call: CallAttempt,
        campaign: &Campaign,
        outcome: CallOutcome,
    ) -> Result<bool, AppError> {
        let now = self.clock.now();
        let end = CallEnd {
            answered: call.answered_at.is_some(),
            duration_secs: call.duration_secs.unwrap_or(0),
            reported_price: call.cost,
        };
        if let Some(provider) = &call.provider {
            call.cost = self.router.cost(provider, &call.to, &end).or(call.cost);
        }
        // A person who asked to be called back is, at the time they gave or
        // after the no-answer delay, within the attempt limit.
        let asked = matches!(
            outcome,
            CallOutcome::Human {
                disposition: Some(Disposition::CallbackRequested)
            }
        );
        let callback = call
            .callback_at
            .or_else(|| {
                asked.then(|| {
                    now + chrono::Duration::seconds(i64::from(
                        campaign.settings.retry.no_answer_delay_secs,
                    ))
                })
            })
            .filter(|_| call.attempt < campaign.settings.retry.max_attempts);
        let decision = match callback {
            Some(at) => RetryDecision::RetryAt(at),
            None => campaign.settings.retry.decide(&outcome, call.attempt, now),
        };
        let next = match decision {
            RetryDecision::RetryAt(due_at) if campaign.status != CampaignStatus::Canceled => {
                LeadState::Pending {
                    due_at,
                    reason: PendingReason::Retry,
                }
            }
            _ => LeadState::Final {
                outcome: LeadOutcome::Called {
                    outcome: outcome.clone(),
                },
                at: now,
            },
        };
        call.outcome = Some(outcome.clone());
        let release = LeadRelease {
            lead_id: call.lead_id.clone(),
            attempt: call.attempt,
            next,
            dialed: true,
            outcome: Some(outcome.clone()),
            at: now,
        };
        let released = self.store.finish_call(&call, &release).await?;
        // Answered calls go on to the post-call pipeline (idempotent).
        self.on_call_ended(&call).await;
        self.release_transfer_agent(&call).await;
        self.count_call_end(&call, campaign).await;
        if released {
            if let Some(provider) = &call.provider {
                self.router
                    .record_call_end(provider, &call.to, call.from.as_ref(), &end, now)
                    .await;
            }
            info!(call_id = %call.id, outcome = outcome.label(), "call finished");
            self.refill_or_complete(campaign).await?;
        }
        Ok(released)
    }

    /// Frees the human agent a transferred call held, now that the call
    /// (and with it the transfer) is over. Idempotent: a duplicate terminal
    /// event finds the agent released; a failure is logged (the agent can
    /// be set available through the API).
    async fn release_transfer_agent(&self, call: &CallAttempt) {
        let Some(transfer) = &call.transfer else {
            return;
        };
        if let Err(error) = self.release_human_agent(&call.id, &transfer.agent_id).await {
            warn!(call_id = %call.id, agent = %transfer.agent_id, %error, "could not release the human agent");
        }
    }

    /// The voicemail message of the campaign's AI agent (the engine's
    /// default for the built-in agent, or when the agent cannot be read).
    async fn voicemail_text(&self, campaign: &voxdial_domain::Campaign) -> String {
        match self.campaign_agent(campaign).await {
            Ok(Some(agent)) => match crate::ai_agents::agent_config(&agent) {
                Ok(config) => return config.voicemail.text,
                Err(error) => warn!(campaign_id = %campaign.id, %error, "unreadable AI agent"),
            },
            Ok(None) => {}
            Err(error) => warn!(campaign_id = %campaign.id, %error, "cannot read the AI agent"),
        }
        self.config.voicemail_text.clone()
    }

    /// Acts on an asynchronous machine verdict when no media bridge runs
    /// (the bridge handles voicemail itself): leave the message or hang up,
    /// as the campaign's policy says.
    async fn on_machine_verdict(&self, call: &CallAttempt) {
        if self.config.media_url.is_some() || call.state != voxdial_domain::CallState::Answered {
            return;
        }
        let Some(verdict) = call.answered_by.filter(|v| v.is_machine()) else {
            return;
        };
        let (Some(sid), Some(provider)) = (
            &call.provider_sid,
            call.provider.as_ref().and_then(|p| self.providers.get(p)),
        ) else {
            return;
        };
        let campaign = match self.campaign(&call.campaign_id).await {
            Ok(campaign) => campaign,
            Err(error) => {
                warn!(call_id = %call.id, %error, "no campaign for a machine verdict");
                return;
            }
        };
        let instruction = match campaign.settings.voicemail {
            VoicemailPolicy::LeaveMessage => AnswerInstruction::Voicemail {
                wait_for_beep: verdict == voxdial_domain::AnsweredBy::MachineStart,
                audio_url: None,
                text: self.voicemail_text(&campaign).await,
            },
            VoicemailPolicy::HangUp => AnswerInstruction::Hangup,
        };
        match provider.redirect(sid, &instruction).await {
            Ok(()) => {}
            // The machine hung up before the verdict was acted on.
            Err(error @ (ProviderError::Permanent { .. } | ProviderError::NotFound)) => {
                debug!(call_id = %call.id, %error, "the call ended before its machine verdict")
            }
            Err(error) => warn!(call_id = %call.id, %error, "could not act on the machine verdict"),
        }
    }

    /// Whether the media bridges can take one more call: always without a
    /// fleet to ask, and when the fleet cannot be read (a stream the
    /// bridges then refuse costs that one call; a failed read taken as
    /// "full" would send every call to the fallback).
    async fn bridge_has_room(&self) -> bool {
        let Some(fleet) = &self.fleet else {
            return true;
        };
        match fleet.bridge_loads(self.clock.now()).await {
            Ok(loads) => {
                let fleet = voxdial_domain::FleetCapacity::of(&loads);
                if fleet.free == 0 {
                    warn!(
                        tasks = fleet.tasks,
                        live = fleet.live,
                        "no media bridge has room for a call"
                    );
                }
                fleet.free > 0
            }
            Err(error) => {
                warn!(%error, "cannot read the media bridges' load; connecting the stream");
                true
            }
        }
    }

    /// The answer when no media bridge can take the call: the campaign's
    /// voicemail message, which tells a person (or their voicemail) that
    /// we will try again, and the callback that does, as when the call
    /// cannot reach a human agent ([`Engine::schedule_callback`], within
    /// the attempt limit).
    async fn no_bridge_answer(
        &self,
        call: &CallAttempt,
        campaign: &Campaign,
    ) -> Result<AnswerInstruction, AppError> {
        info!(call_id = %call.id, "the media bridges are full: voicemail message and a callback");
        self.schedule_callback(&call.id, None).await?;
        Ok(AnswerInstruction::Voicemail {
            wait_for_beep: false,
            audio_url: None,
            text: self.voicemail_text(campaign).await,
        })
    }

    /// Handles a provider's answer webhook: what the answered call does next.
    /// A person (or a call whose machine verdict is still pending) gets a
    /// media stream to the AI agent while a bridge has room, else the
    /// voicemail-or-callback path ([`Engine::with_bridge_fleet`]); a
    /// machine gets the campaign's voicemail policy.
    pub async fn handle_answer_webhook(
        &self,
        provider_id: &ProviderId,
        request: &WebhookRequest,
    ) -> WebhookResponse {
        let Some(provider) = self.providers.get(provider_id) else {
            return WebhookResponse::text(404, format!("unknown provider {provider_id}"));
        };
        let answer = match provider.parse_answer_webhook(request) {
            Ok(answer) => answer,
            Err(error) => return WebhookResponse::from_error(&error),
        };
        let instruction = match self.answer_instruction(provider_id, &answer).await {
            Ok(instruction) => instruction,
            Err(AppError::Webhook(error)) => return WebhookResponse::from_error(&error),
            Err(error) => {
                warn!(call_id = %answer.call_id, %error, "answer webhook failed; hanging up");
                AnswerInstruction::Hangup
            }
        };
        provider.render_answer(&instruction)
    }

    async fn answer_instruction(
        &self,
        provider_id: &ProviderId,
        answer: &voxdial_domain::AnswerRequest,
    ) -> Result<AnswerInstruction, AppError> {
        let Some(mut call) = self.store.call(&answer.call_id).await? else {
            return Ok(AnswerInstruction::Hangup);
        };
        check_provider_sid(&call, answer.provider_sid.as_ref())?;
        if let Some(verdict) = answer.answered_by {
            let mut event = CallEvent::new(
                provider_id.clone(),
                Some(call.id.clone()),
                CallEventKind::MachineDetection,
            );
            event.answered_by = Some(verdict);
            event.provider_sid = answer.provider_sid.clone();
            if let (_, Some(seen)) = self
                .apply_event_to(&event, Some(call.clone()), false)
                .await?
            {
                call = seen;
            }
        }
        let campaign = self.campaign(&call.campaign_id).await?;
        Ok(match answer.answered_by {
            Some(verdict) if verdict.is_machine() => match campaign.settings.voicemail {
                VoicemailPolicy::LeaveMessage => AnswerInstruction::Voicemail {
                    wait_for_beep: verdict == voxdial_domain::AnsweredBy::MachineStart,
                    audio_url: None,
                    text: self.config.voicemail_text.clone(),
                },
                VoicemailPolicy::HangUp => AnswerInstruction::Hangup,
            },
            Some(voxdial_domain::AnsweredBy::Fax) => AnswerInstruction::Hangup,
            _ => match &self.config.media_url {
                Some(_) if !self.bridge_has_room().await => {
                    self.no_bridge_answer(&call, &campaign).await?
                }
                Some(url) => {
                    // The answer webhook is the answer: the call is answered
                    // for the bridge's admission check even when the status
                    // callback saying so is still on its way.
                    use voxdial_domain::CallState::{Dialing, Pending, Ringing};
                    if matches!(call.state, Pending | Dialing | Ringing) {
                        let mut event = CallEvent::new(
                            provider_id.clone(),
                            Some(call.id.clone()),
                            CallEventKind::Answered,
                        );
                        event.provider_sid = answer.provider_sid.clone();
                        self.apply_event_to(&event, Some(call.clone()), false)
                            .await?;
                    }
                    let mut parameters = vec![
                        ("call_id".into(), call.id.to_string()),
                        ("campaign_id".into(), call.campaign_id.to_string()),
                        ("agent_id".into(), campaign.settings.agent_id.to_string()),
                    ];
                    // The bridge admits the stream only with this call's
                    // token (the upgrade signature covers a fixed URL).
                    if let Some(token) = self.media_token(&call.id, 0) {
                        parameters.push((TOKEN_PARAMETER.into(), token));
                    }
                    AnswerInstruction::ConnectMedia {
                        url: url.clone(),
                        parameters,
                    }
                }
                None => AnswerInstruction::Say {
                    text: "Hello, this is an automated assistant calling from voxdial.".into(),
                },
            },
        })
    }

    /// Records the conversation's disposition on a call (the last one wins;
    /// opted-out is final). Opting out puts the number on the do-not-call
    /// list of the campaign's organisation at once.
    pub async fn record_disposition(
        &self,
        call_id: &CallId,
        disposition: Disposition,
    ) -> Result<CallAttempt, AppError> {
        let call = self
            .modify_call(call_id, |call| {
                if call.disposition != Some(Disposition::OptedOut) {
                    call.disposition = Some(disposition);
                }
                Ok(())
            })
            .await?;
        if disposition == Disposition::OptedOut {
            let org = self.campaign(&call.campaign_id).await?.org_id;
            self.store
                .add_dnc(
                    &DncScope::Organisation(org),
                    std::slice::from_ref(&call.to),
                    self.clock.now(),
                )
                .await?;
            info!(call_id = %call_id, "caller opted out; number added to the do-not-call list");
        }
        Ok(call)
    }

    /// Reads a call, or `NotFound`.
    pub async fn call(&self, id: &CallId) -> Result<CallAttempt, AppError> {
        self.store
            .call(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("call {id}")))
    }
}

/// Whether a failed call may succeed on a later attempt: SIP 404/410/484/604
/// (no such number) and 403/603 (refused) are final, the rest are not.
fn failure_is_retryable(event: &CallEvent) -> bool {
    !matches!(
        event.sip_response_code,
        Some(403 | 404 | 410 | 484 | 603 | 604)
    )
}
