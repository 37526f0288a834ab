//! The use cases the media bridge calls while it holds a conversation:
//! what the call is about, transfers to a human, callbacks, hanging up, and
//! storing the recording, the transcript and the conversation's metrics.

use std::sync::Arc;

use chrono::Duration as Span;
use serde::Serialize;
use tracing::{info, warn};
use voxdial_domain::{
    AgentStatus, AmdMode, CallAttempt, CallEvent, CallEventKind, CallId, CallState, Campaign,
    Conversation, Disposition, HumanAgent, HumanAgentId, HumanAgentStore, Lead, OrgId,
    ProviderCallSid, TelephonyProvider, Timestamp, TransferRecord, TransferTarget, WebhookError,
    WebhookRequest,
};
use voxdial_wire::media_token::{TOKEN_TTL_SECS, TokenError};

use crate::{AppError, Engine};

/// A refused token is a forbidden request (logged with its reason).
fn token_refused(error: TokenError) -> AppError {
    warn!(%error, "media stream refused");
    AppError::Webhook(WebhookError::Forbidden)
}

/// Everything known about a call when its media stream starts.
#[derive(Clone, Debug, Serialize)]
pub struct CallFacts {
    /// The call.
    pub call: CallAttempt,
    /// Its campaign.
    pub campaign: Campaign,
    /// Its lead.
    pub lead: Lead,
}

/// The query parameter (`leg=agent`) marking a warm transfer's agent leg
/// in the status webhook's URL.
const LEG: (&str, &str) = ("leg", "agent");

/// Whether a status webhook is about a warm transfer's agent leg.
pub(crate) fn is_agent_leg(request: &WebhookRequest) -> bool {
    request.query_param(LEG.0).as_deref() == Some(LEG.1)
}

/// What the human hears before joining a warm transfer.
fn whisper(agent: &HumanAgent, summary: &str) -> String {
    let summary = summary.trim();
    if summary.is_empty() {
        format!("{}, a caller is being transferred to you.", agent.name)
    } else {
        format!(
            "{}, a caller is being transferred to you. {summary}",
            agent.name
        )
    }
}

/// Cold or warm transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferMode {
    /// Connect the caller straight to the human.
    Cold,
    /// Conference: the human hears a summary, then joins.
    Warm,
}

impl Engine {
    /// A token admitting one media stream for `call_id`, valid for
    /// `extra_secs` more than [`TOKEN_TTL_SECS`] from now; `None` when no
    /// token key is configured.
    pub(crate) fn media_token(&self, call_id: &CallId, extra_secs: i64) -> Option<String> {
        let key = self.config.media_token_key.as_ref()?;
        let expiry = self.clock.now().timestamp() + TOKEN_TTL_SECS + extra_secs;
        Some(key.issue(call_id.as_str(), expiry))
    }

    /// Admits the one media stream of `call_id`: `token` must be this
    /// call's unexpired token, and the call answered (a machine-detection
    /// verdict may still be pending), not ended, and never streamed before.
    /// Marks the call streamed with a conditional write, so of two streams
    /// racing, one is admitted. Refusals are [`AppError::Webhook`]
    /// `Forbidden` (bad token) or [`AppError::Conflict`] (the call's state).
    pub async fn admit_media_stream(
        &self,
        call_id: &CallId,
        token: Option<&str>,
    ) -> Result<CallAttempt, AppError> {
        let key = self.config.media_token_key.as_ref().ok_or_else(|| {
            AppError::Conflict("no media token key is configured: no stream is admitted".into())
        })?;
        let now = self.clock.now();
        key.verify(
            call_id.as_str(),
            token.ok_or(TokenError::Missing).map_err(token_refused)?,
            now.timestamp(),
        )
        .map_err(token_refused)?;
        self.modify_call(call_id, |call| {
            if call.state.is_terminal() || call.ended_at.is_some() {
                return Err(AppError::Conflict(format!("call {call_id} has ended")));
            }
            if call.state != CallState::Answered {
                return Err(AppError::Conflict(format!(
                    "call {call_id} is not answered ({:?})",
                    call.state
                )));
            }
            if call.media_stream_at.is_some() {
                return Err(AppError::Conflict(format!(
                    "call {call_id} already had its media stream"
                )));
            }
            call.media_stream_at = Some(now);
            Ok(())
        })
        .await
    }

    /// The call, its campaign and its lead.
    pub async fn call_facts(&self, call_id: &CallId) -> Result<CallFacts, AppError> {
        let call = self.call(call_id).await?;
        let campaign = self.campaign(&call.campaign_id).await?;
        let lead = self
            .store
            .lead(&call.lead_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("lead {}", call.lead_id)))?;
        Ok(CallFacts {
            call,
            campaign,
            lead,
        })
    }

    /// Whether the call of `facts` still waits for its provider's
    /// asynchronous machine-detection verdict.
    pub fn provider_verdict_due(&self, facts: &CallFacts) -> bool {
        facts.call.answered_by.is_none()
            && facts.campaign.settings.amd == AmdMode::Async
            && facts
                .call
                .provider
                .as_ref()
                .and_then(|p| self.providers.get(p))
                .is_some_and(|p| p.sends_async_amd())
    }

    /// Reserves the longest-idle available human agent of the call's
    /// organisation with `skills` (available → busy on this call); `None`
    /// when nobody is available or no agents are configured. The agent
    /// carries the organisation's own id, as the API shows it.
    pub async fn reserve_human_agent(
        &self,
        call_id: &CallId,
        skills: &[String],
    ) -> Result<Option<HumanAgent>, AppError> {
        match &self.agents {
            Some(agents) => {
                let org = self.call_org(call_id).await?;
                let reserved = agents
                    .reserve_agent(&org, skills, call_id, self.clock.now())
                    .await?;
                Ok(reserved.map(|agent| HumanAgent {
                    id: agent.id.own(),
                    ..agent
                }))
            }
            None => Ok(None),
        }
    }

    /// The human agents of `org`, with their own ids.
    pub async fn human_agents(&self, org: &OrgId) -> Result<Vec<HumanAgent>, AppError> {
        match &self.agents {
            Some(agents) => {
                let mut all = agents.agents().await?;
                all.retain(|a| &a.org_id == org);
                for agent in &mut all {
                    agent.id = agent.id.own();
                }
                Ok(all)
            }
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn agent_store(&self) -> Result<&Arc<dyn HumanAgentStore>, AppError> {
        self.agents
            .as_ref()
            .ok_or_else(|| AppError::Conflict("no human-agent store is configured".into()))
    }

    /// The stored id of `org`'s agent `id`: agent ids are each
    /// organisation's own, so another organisation's agent and one that
    /// does not exist answer alike (no existence oracle).
    pub(crate) fn scoped_agent_id(
        org: &OrgId,
        id: &HumanAgentId,
    ) -> Result<HumanAgentId, AppError> {
        HumanAgentId::scoped(org, id).ok_or_else(|| {
            AppError::Invalid(format!(
                "a human agent id has at most {} characters and no ':'",
                HumanAgentId::MAX_OWN_LEN
            ))
        })
    }

    /// Adds or replaces a human agent of its organisation (`agent.id` is
    /// the organisation's own id).
    pub async fn put_human_agent(&self, agent: &HumanAgent) -> Result<(), AppError> {
        let stored = HumanAgent {
            id: Self::scoped_agent_id(&agent.org_id, &agent.id)?,
            ..agent.clone()
        };
        Ok(self.agent_store()?.put_agent(&stored).await?)
    }

    /// Sets the availability of a human agent of `org`.
    pub async fn set_human_agent_status(
        &self,
        org: &OrgId,
        id: &HumanAgentId,
        status: AgentStatus,
    ) -> Result<(), AppError> {
        let stored = Self::scoped_agent_id(org, id)?;
        if self
            .agent_store()?
            .set_agent_status(&stored, status, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("human agent {id}")))
        }
    }

    /// Makes the agent reserved for `call_id` available again (the
    /// transfer did not happen, or it is over); false when they were not
    /// busy on that call any more (released already, or set to another
    /// status by an operator), which changes nothing.
    pub async fn release_human_agent(
        &self,
        call_id: &CallId,
        id: &HumanAgentId,
    ) -> Result<bool, AppError> {
        let Some(agents) = &self.agents else {
            return Ok(false);
        };
        // `own()` also reads the stored ids that calls recorded before
        // agent ids were shown per organisation.
        let stored = Self::scoped_agent_id(&self.call_org(call_id).await?, &id.own())?;
        let released = agents
            .release_agent(&stored, call_id, self.clock.now())
            .await?;
        if released {
            info!(call_id = %call_id, agent = %id, "human agent released");
        }
        Ok(released)
    }

    fn live_provider(
        &self,
        call: &CallAttempt,
    ) -> Result<(ProviderCallSid, &dyn TelephonyProvider), AppError> {
        let sid = call.provider_sid.clone().ok_or_else(|| {
            AppError::Conflict(format!("call {} has no provider call yet", call.id))
        })?;
        let provider = call
            .provider
            .as_ref()
            .and_then(|p| self.providers.get(p))
            .ok_or_else(|| AppError::Conflict(format!("call {} has no known provider", call.id)))?;
        Ok((sid, provider.as_ref()))
    }

    /// Transfers a live call to `agent`, cold or warm; the call record keeps
    /// the transfer and its summary, and its disposition becomes
    /// `transferred`.
    pub async fn transfer_call(
        &self,
        call_id: &CallId,
        agent: &HumanAgent,
        mode: TransferMode,
        summary: &str,
        reason: &str,
    ) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        if call.state.is_terminal() {
            return Err(AppError::Conflict(format!(
                "call {call_id} has already ended"
            )));
        }
        let (sid, provider) = self.live_provider(&call)?;
        let caller_id = call
            .from
            .clone()
            .ok_or_else(|| AppError::Conflict(format!("call {call_id} has no caller ID")))?;
        let target = match mode {
            TransferMode::Cold => TransferTarget::Cold {
                to: agent.number.clone(),
                caller_id,
            },
            TransferMode::Warm => TransferTarget::Warm {
                conference: format!("xfer-{call_id}"),
                to: agent.number.clone(),
                caller_id,
                whisper: whisper(agent, summary),
                status_url: self.agent_leg_url(&call),
            },
        };
        if let Err(e) = provider.transfer(&sid, &target).await {
            self.release_human_agent(call_id, &agent.id).await?;
            return Err(AppError::Conflict(format!(
                "the provider refused the transfer: {e}"
            )));
        }
        let record = TransferRecord {
            mode: match mode {
                TransferMode::Cold => "cold",
                TransferMode::Warm => "warm",
            }
            .into(),
            agent_id: agent.id.clone(),
            summary: summary.to_string(),
            reason: reason.to_string(),
            at: self.clock.now(),
        };
        info!(call_id = %call_id, agent = %agent.id, mode = %record.mode, "call transferred");
        let updated = self
            .modify_call(call_id, |call| {
                call.transfer = Some(record.clone());
                call.disposition = Some(Disposition::Transferred);
                Ok(())
            })
            .await?;
        if updated.state.is_terminal() {
            // The call ended before its transfer was stored: nothing else
            // will release the agent.
            self.release_human_agent(call_id, &agent.id).await?;
        }
        Ok(updated)
    }

    /// Where a warm transfer's agent leg reports its status: the status
    /// webhook of the call's provider, marked as the agent leg; `None`
    /// without a public base URL (the call's own end then releases the
    /// agent).
    fn agent_leg_url(&self, call: &CallAttempt) -> Option<String> {
        let base = self.config.public_base_url.trim_end_matches('/');
        let provider = call.provider.as_ref()?;
        (!base.is_empty()).then(|| {
            format!(
                "{base}/webhooks/{provider}/status?call_id={}&{}={}",
                call.id, LEG.0, LEG.1
            )
        })
    }

    /// Applies a status event of a warm transfer's agent leg: once the leg
    /// ends the agent is released; when it ended unanswered (busy, no
    /// answer, failed), the caller, waiting alone in the conference, gets
    /// a callback scheduled and is hung up on.
    pub(crate) async fn apply_agent_leg_event(&self, event: &CallEvent) -> Result<(), AppError> {
        if !event.kind.is_terminal() {
            return Ok(());
        }
        let call_id = event
            .call_id
            .clone()
            .ok_or_else(|| AppError::Invalid("the event names no call_id".into()))?;
        let call = self.call(&call_id).await?;
        let Some(transfer) = &call.transfer else {
            return Ok(());
        };
        self.release_human_agent(&call_id, &transfer.agent_id)
            .await?;
        if event.kind == CallEventKind::Completed || call.state.is_terminal() {
            return Ok(());
        }
        info!(call_id = %call_id, kind = ?event.kind, "the human agent did not answer the transfer");
        self.schedule_callback(&call_id, None).await?;
        self.hang_up(&call_id).await
    }

    /// Asks for the lead to be called back at `at` (or after the campaign's
    /// no-answer delay when the person gave no time), within the attempt limit.
    pub async fn schedule_callback(
        &self,
        call_id: &CallId,
        at: Option<Timestamp>,
    ) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        let campaign = self.campaign(&call.campaign_id).await?;
        let default = self.clock.now()
            + Span::seconds(i64::from(campaign.settings.retry.no_answer_delay_secs));
        let when = at.unwrap_or(default);
        self.modify_call(call_id, |call| {
            call.callback_at = Some(when);
            call.disposition = Some(Disposition::CallbackRequested);
            Ok(())
        })
        .await
    }

    /// Records that the bridge played the call's voicemail message to its
    /// end (the call then counts a message left; see
    /// [`CallAttempt::outcome`]).
    pub async fn record_voicemail_left(&self, call_id: &CallId) -> Result<(), AppError> {
        let now = self.clock.now();
        self.modify_call(call_id, |call| {
            call.voicemail_left_at.get_or_insert(now);
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Hangs up a live call at its provider.
    pub async fn hang_up(&self, call_id: &CallId) -> Result<(), AppError> {
        let call = self.call(call_id).await?;
        if call.state.is_terminal() {
            return Ok(());
        }
        let (sid, provider) = self.live_provider(&call)?;
        provider
            .hangup(&sid)
            .await
            .map_err(|e| AppError::Conflict(format!("the provider refused to hang up: {e}")))
    }

    /// Stores a blob of a call under `{kind}/{campaign}/{call}.{extension}`.
    async fn store_call_blob(
        &self,
        call: &CallAttempt,
        kind: &str,
        extension: &str,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<String, AppError> {
        let blobs = self
            .blobs
            .as_ref()
            .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))?;
        let key = format!("{kind}/{}/{}.{extension}", call.campaign_id, call.id);
        blobs
            .put(&key, data, content_type)
            .await
            .map_err(|e| AppError::Conflict(format!("cannot store {key}: {e}")))?;
        Ok(key)
    }

    /// Stores the call's stereo recording (caller left, agent right), the
    /// WAV file at `wav`, streamed from it.
    pub async fn save_recording(
        &self,
        call_id: &CallId,
        wav: &std::path::Path,
    ) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        // What the post-call pipeline keeps of it (hash, size, length).
        let meta = crate::recordings::BridgeRecording::of_file(wav)
            .await
            .map_err(|source| voxdial_domain::BlobError::Unavailable {
                message: "cannot read the recording file".into(),
                source: Box::new(source),
            })?;
        let blobs = self
            .blobs
            .as_ref()
            .ok_or_else(|| AppError::Conflict("no blob store is configured".into()))?;
        let key = crate::recordings::call_blob_key(&call, "recordings", "wav");
        blobs.put_file(&key, wav, "audio/wav").await?;
        let updated = self
            .modify_call(call_id, |call| {
                call.conversation
                    .get_or_insert_with(Conversation::default)
                    .recording = Some(key.clone());
                Ok(())
            })
            .await?;
        if self.post.is_some() {
            return self.note_bridge_recording(call_id, &key, &meta).await;
        }
        Ok(updated)
    }

    /// Stores the call's transcript (JSON, per turn) and its first words.
    pub async fn save_transcript(
        &self,
        call_id: &CallId,
        transcript_json: Vec<u8>,
        excerpt: String,
    ) -> Result<CallAttempt, AppError> {
        let call = self.call(call_id).await?;
        let key = self
            .store_call_blob(
                &call,
                "transcripts",
                "json",
                transcript_json,
                "application/json",
            )
            .await?;
        self.modify_call(call_id, |call| {
            let conversation = call.conversation.get_or_insert_with(Conversation::default);
            conversation.transcript = Some(key.clone());
            conversation.excerpt = Some(excerpt.clone());
            Ok(())
        })
        .await
    }

    /// Stores the conversation's metrics, keeping the recording and
    /// transcript already stored, with the model's tokens priced.
    pub async fn record_conversation(
        &self,
        call_id: &CallId,
        mut report: Conversation,
    ) -> Result<CallAttempt, AppError> {
        if let Some(usage) = &mut report.model_usage {
            usage.cost = Some(usage.price(&self.config.model_prices));
        }
        let updated = self
            .modify_call(call_id, |call| {
                let previous = call.conversation.take().unwrap_or_default();
                call.conversation = Some(Conversation {
                    recording: previous.recording,
                    transcript: previous.transcript,
                    excerpt: previous.excerpt,
                    ..report.clone()
                });
                Ok(())
            })
            .await?;
        // The bridge reports last: its recording and live transcript are
        // stored, so the call can be processed now.
        self.on_conversation_reported(&updated).await;
        if updated.state.is_terminal() {
            match self.campaign(&updated.campaign_id).await {
                Ok(campaign) => self.count_model_usage(&updated, &campaign).await,
                Err(error) => warn!(%call_id, %error, "no campaign to count the model's cost"),
            }
        }
        Ok(updated)
    }
}
