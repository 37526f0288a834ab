//! An operator's control of a live call (the console's buttons): hang it
//! up, or send it to a chosen human agent, cold or warm. Both go through
//! the call's provider like the conversation's own hang-up and transfer,
//! so they work wherever the call runs; the API audits each.

use tracing::info;
use voxdial_domain::{CallAttempt, CallId, HumanAgentId, OrgId};

use crate::media::TransferMode;
use crate::{AppError, Engine};

/// The reason a transfer made from the console is stored with.
pub const OPERATOR_REASON: &str = "sent to a human agent by an operator";

impl Engine {
    /// `org`'s call, while it is still in progress (`Conflict` once ended).
    async fn live_call_in(&self, org: &OrgId, call_id: &CallId) -> Result<CallAttempt, AppError> {
        let call = self.call_in(org, call_id).await?;
        if call.state.is_terminal() {
            return Err(AppError::Conflict(format!(
                "call {call_id} has already ended"
            )));
        }
        Ok(call)
    }

    /// Hangs up `org`'s live call at its provider; the provider's status
    /// callback then ends it as any hang-up does.
    pub async fn operator_hang_up(
        &self,
        org: &OrgId,
        call_id: &CallId,
    ) -> Result<CallAttempt, AppError> {
        let call = self.live_call_in(org, call_id).await?;
        self.hang_up(call_id).await?;
        info!(call_id = %call_id, "call hung up by an operator");
        Ok(call)
    }

    /// Sends `org`'s live call to `org`'s human agent `agent_id`: the agent
    /// must be available, and is busy on the call from then on (released
    /// when the call ends, or at once when the provider refuses). Another
    /// organisation's agent is `NotFound`, like one that does not exist.
    pub async fn operator_transfer(
        &self,
        org: &OrgId,
        call_id: &CallId,
        agent_id: &HumanAgentId,
        mode: TransferMode,
    ) -> Result<CallAttempt, AppError> {
        self.live_call_in(org, call_id).await?;
        let stored = Self::scoped_agent_id(org, agent_id)?;
        let agents = self.agent_store()?;
        if !agents
            .take_agent(&stored, call_id, self.clock.now())
            .await?
        {
            let exists = agents.agents().await?.iter().any(|a| a.id == stored);
            return Err(if exists {
                AppError::Conflict(format!("human agent {agent_id} is not available"))
            } else {
                AppError::NotFound(format!("human agent {agent_id}"))
            });
        }
        let agent = agents
            .agents()
            .await?
            .into_iter()
            .find(|a| a.id == stored)
            .ok_or_else(|| AppError::NotFound(format!("human agent {agent_id}")))?;
        let summary = self.live_summary(call_id);
        match self
            .transfer_call(call_id, &agent, mode, &summary, OPERATOR_REASON)
            .await
        {
            Ok(call) => Ok(call),
            Err(error) => {
                // Refused before the provider was asked (no live provider
                // call): the agent is not kept busy for nothing.
                self.release_human_agent(call_id, &stored).await?;
                Err(error)
            }
        }
    }

    /// The last lines of the call's live transcript, for the human agent's
    /// summary (empty where the call is not live in this process).
    fn live_summary(&self, call_id: &CallId) -> String {
        let lines = self.live.transcript(call_id);
        let start = lines.len().saturating_sub(6);
        lines[start..].join(" ")
    }
}
