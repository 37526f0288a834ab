//! AI agents as stored records: one immutable [`AiAgent`] per version, and
//! their store port [`AiAgentStore`].
//!
//! An agent belongs to one organisation. Creating it stores version 1;
//! every change stores the next version beside the others, so a campaign
//! that pinned a version keeps talking with exactly that configuration.
//! The configuration itself (prompt, voice, language, tools, IVR menu,
//! fillers, voicemail, transfer, principles, AMD options) is the
//! `voxdial-conversation` crate's `AgentConfig`, kept here as the JSON
//! document the use cases validated: the domain does not depend on the
//! conversation crate.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AgentId, OrgId, ProviderId, StoreError, Timestamp};

/// One version of an AI agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AiAgent {
    /// The agent.
    pub id: AgentId,
    /// Its organisation.
    pub org_id: OrgId,
    /// 1 for the first version, one more for each change.
    pub version: u32,
    /// The provider the `agent_assigned` strategy tries first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_provider: Option<ProviderId>,
    /// The configuration document (an `AgentConfig`, validated before it
    /// was stored).
    pub config: serde_json::Value,
    /// When this version was stored.
    pub created_at: Timestamp,
}

impl AgentId {
    /// The id of the built-in agent every campaign has unless it names
    /// another; never stored, so no stored agent takes it.
    pub const BUILT_IN: &str = "default";

    /// Whether this is the built-in agent's id.
    pub fn is_built_in(&self) -> bool {
        self.as_str() == AgentId::BUILT_IN
    }
}

/// AI agents, version by version.
#[async_trait]
pub trait AiAgentStore: Send + Sync {
    /// Stores `agent` as a new version. Version 1 needs a free id
    /// (`AlreadyExists` otherwise); version `n + 1` needs `n` to be the
    /// latest version, of the same organisation (`Conflict` when another
    /// version came first or the organisations differ, `NotFound` when no
    /// agent has the id). Version 0 is `Invalid`.
    async fn put_ai_agent(&self, agent: &AiAgent) -> Result<(), StoreError>;

    /// One version of an agent, or its latest with `version: None`.
    async fn ai_agent(
        &self,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<Option<AiAgent>, StoreError>;

    /// The latest version of every agent of `org`, by id.
    async fn ai_agents(&self, org: &OrgId) -> Result<Vec<AiAgent>, StoreError>;
}

/// Refuses version 0, which no agent has: [`AiAgentStore::put_ai_agent`]'s
/// precondition, checked by every adapter.
pub fn check_version(agent: &AiAgent) -> Result<(), StoreError> {
    if agent.version == 0 {
        return Err(StoreError::Invalid(format!(
            "AI agent {}: versions start at 1",
            agent.id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_id_is_recognised() {
        assert!(AgentId::parse(AgentId::BUILT_IN).unwrap().is_built_in());
        assert!(!AgentId::parse("agt_1").unwrap().is_built_in());
    }

    #[test]
    fn version_0_is_refused_and_1_accepted() {
        let mut agent = AiAgent {
            id: AgentId::parse("agt_1").unwrap(),
            org_id: OrgId::default(),
            version: 0,
            preferred_provider: None,
            config: serde_json::json!({}),
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        assert!(matches!(check_version(&agent), Err(StoreError::Invalid(_))));
        agent.version = 1;
        assert!(check_version(&agent).is_ok());
    }
}
