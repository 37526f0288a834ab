//! [`HumanAgentStore`] on the table: every change is a read, a decision
//! on the domain record ([`HumanAgent::reserve`], [`HumanAgent::take`], [`HumanAgent::release`],
//! [`HumanAgent::set_status`]) and a write on condition of the version
//! read; a lost race reads again. Two concurrent reservations can both
//! pick the same agent, but only one write over that version succeeds.

use async_trait::async_trait;
use voxdial_domain::{
    AgentStatus, CallId, HumanAgent, HumanAgentId, HumanAgentStore, OrgId, StoreError, Timestamp,
};

use super::DynamoStore;
use super::table::backoff;

/// Rounds of read-decide-write before a change that keeps losing races
/// gives up with `Conflict` (each lost round means another writer won).
const ROUNDS: u32 = 32;

impl DynamoStore {
    /// Applies `change` to agent `id` over the version read; false when
    /// there is no such agent or `change` declines.
    async fn change_human(
        &self,
        id: &HumanAgentId,
        change: impl Fn(&mut HumanAgent) -> bool + Send + Sync,
    ) -> Result<bool, StoreError> {
        for round in 0..ROUNDS {
            let Some(mut row) = self.table.human(id).await? else {
                return Ok(false);
            };
            if !change(&mut row.agent) {
                return Ok(false);
            }
            if self.table.put_human(&row.agent, Some(row.version)).await? {
                return Ok(true);
            }
            backoff(round).await;
        }
        Err(StoreError::Conflict(format!("human agent {id}")))
    }
}

#[async_trait]
impl HumanAgentStore for DynamoStore {
    async fn put_agent(&self, agent: &HumanAgent) -> Result<(), StoreError> {
        self.table.put_human(agent, None).await.map(drop)
    }

    async fn agents(&self) -> Result<Vec<HumanAgent>, StoreError> {
        Ok(self
            .table
            .humans()
            .await?
            .into_iter()
            .map(|row| row.agent)
            .collect())
    }

    async fn set_agent_status(
        &self,
        id: &HumanAgentId,
        status: AgentStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.change_human(id, |agent| {
            agent.set_status(status, now);
            true
        })
        .await
    }

    async fn reserve_agent(
        &self,
        org: &OrgId,
        skills: &[String],
        call: &CallId,
        now: Timestamp,
    ) -> Result<Option<HumanAgent>, StoreError> {
        for round in 0..ROUNDS {
            let Some(mut row) = self
                .table
                .humans()
                .await?
                .into_iter()
                .filter(|row| row.agent.fits(org, skills))
                .min_by(|a, b| (a.agent.since, &a.agent.id).cmp(&(b.agent.since, &b.agent.id)))
            else {
                return Ok(None);
            };
            row.agent.reserve(call, now);
            if self.table.put_human(&row.agent, Some(row.version)).await? {
                return Ok(Some(row.agent));
            }
            backoff(round).await;
        }
        Err(StoreError::Conflict(
            "every human agent kept changing".into(),
        ))
    }

    async fn take_agent(
        &self,
        id: &HumanAgentId,
        call: &CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.change_human(id, |agent| agent.take(call, now)).await
    }

    async fn release_agent(
        &self,
        id: &HumanAgentId,
        call: &CallId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.change_human(id, |agent| agent.release(call, now))
            .await
    }
}
