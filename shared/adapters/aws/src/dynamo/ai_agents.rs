//! [`AiAgentStore`] on the table: one immutable item per version
//! (`G#<agent>`, `V#<version>`) and a head item holding the latest
//! (`G#<agent>`, `H`, listed through `by_parent` under `AIAGENTS`).

use async_trait::async_trait;
use voxdial_domain::ai_agent::check_version;
use voxdial_domain::{AgentId, AiAgent, AiAgentStore, OrgId, StoreError};

use super::DynamoStore;
use super::table::{TxError, Write};

#[async_trait]
impl AiAgentStore for DynamoStore {
    async fn put_ai_agent(&self, agent: &AiAgent) -> Result<(), StoreError> {
        check_version(agent)?;
        let writes = [
            Write::PutAiAgentVersion(agent.clone()),
            Write::PutAiAgentHead(agent.clone()),
        ];
        match self.table.transact(&writes).await {
            Ok(()) => Ok(()),
            Err(TxError::Store(e)) => Err(e),
            Err(TxError::Canceled(_)) => {
                let head = self.table.ai_agent(&agent.id, None).await?;
                let what = format!("AI agent {}", agent.id);
                Err(match (agent.version, head) {
                    (1, Some(_)) => StoreError::AlreadyExists(what),
                    (_, None) if agent.version > 1 => StoreError::NotFound(what),
                    _ => StoreError::Conflict(what),
                })
            }
        }
    }

    async fn ai_agent(
        &self,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<Option<AiAgent>, StoreError> {
        self.table.ai_agent(id, version).await
    }

    async fn ai_agents(&self, org: &OrgId) -> Result<Vec<AiAgent>, StoreError> {
        self.table.ai_agents(org).await
    }
}
