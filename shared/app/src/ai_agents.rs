//! AI agents as versioned records of an organisation: create, update (a
//! new immutable version), read, list and validate, the agent a campaign
//! talks with (pinned to a version when it starts, moved only by an
//! operator), and the configuration a call runs with.
//!
//! A draft is JSON: `{"preferred_provider": "twilio", "config": {…}}`,
//! where `config` is an [`AgentConfig`] (every field optional; the
//! built-in agent fills the rest). Unknown fields, at any depth, are
//! problems rather than silently dropped, so a typo never stores an agent
//! that differs from what its author wrote.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::info;
use voxdial_conversation::AgentConfig;
use voxdial_domain::{AgentId, AiAgent, Campaign, CampaignId, OrgId, ProviderId, StoreError};

use crate::engine::new_id;
use crate::{AppError, Engine};

/// A draft's top-level fields.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    /// The provider the `agent_assigned` strategy tries first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preferred_provider: Option<ProviderId>,
    /// The configuration.
    #[serde(default)]
    config: AgentConfig,
    /// For an update: the version the draft was edited from; the update
    /// is refused (409) when the agent has moved on since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_version: Option<u32>,
}

/// The keys of `input` that `known` (the same document after a round
/// trip through its type) lacks, as paths (`config.ivr.colection`).
fn unknown_keys(input: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                match known.get(key) {
                    Some(known) => unknown_keys(value, known, &join(key), out),
                    None => out.push(format!("{}: unknown field", join(key))),
                }
            }
        }
        (Value::Array(input), Value::Array(known)) => {
            for (i, (value, known)) in input.iter().zip(known).enumerate() {
                unknown_keys(value, known, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

impl Draft {
    /// Reads a draft and lists its problems (none: it may be stored).
    fn read(body: &[u8], engine: &Engine) -> Result<Draft, Vec<String>> {
        let input: Value =
            serde_json::from_slice(body).map_err(|e| vec![format!("invalid JSON: {e}")])?;
        let draft: Draft = serde_json::from_value(input.clone())
            .map_err(|e| vec![format!("invalid AI agent: {e}")])?;
        let mut problems = Vec::new();
        let known = serde_json::to_value(&draft).map_err(|e| vec![e.to_string()])?;
        unknown_keys(&input, &known, "", &mut problems);
        problems.extend(
            draft
                .config
                .problems()
                .into_iter()
                .map(|p| format!("config.{p}")),
        );
        if let Some(id) = &draft.preferred_provider
            && engine.providers.get(id).is_none()
        {
            problems.push(format!(
                "preferred_provider: no provider {id} is configured"
            ));
        }
        if problems.is_empty() {
            Ok(draft)
        } else {
            Err(problems)
        }
    }

    /// Reads a draft, or the 400 that lists its problems.
    fn checked(body: &[u8], engine: &Engine) -> Result<Draft, AppError> {
        Draft::read(body, engine).map_err(|problems| AppError::Invalid(problems.join("; ")))
    }

    fn into_record(self, id: AgentId, org: &OrgId, version: u32, engine: &Engine) -> AiAgent {
        AiAgent {
            id,
            org_id: org.clone(),
            version,
            preferred_provider: self.preferred_provider,
            config: serde_json::to_value(&self.config).unwrap_or(Value::Null),
            created_at: engine.clock.now(),
        }
    }
}

/// What validating a draft found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// No problem: the draft may be stored.
    pub valid: bool,
    /// Every problem, `field: reason` each.
    pub problems: Vec<String>,
}

/// The configuration an agent version holds.
pub fn agent_config(agent: &AiAgent) -> Result<AgentConfig, AppError> {
    serde_json::from_value(agent.config.clone()).map_err(|e| {
        AppError::Store(StoreError::Corrupt(format!(
            "AI agent {} version {}: {e}",
            agent.id, agent.version
        )))
    })
}

impl Engine {
    /// The problems of a draft, without storing anything.
    pub fn validate_ai_agent(&self, body: &[u8]) -> Validation {
        let problems = Draft::read(body, self).err().unwrap_or_default();
        Validation {
            valid: problems.is_empty(),
            problems,
        }
    }

    /// Stores version 1 of a new agent of `org` (a 400 listing every
    /// problem of an invalid draft).
    pub async fn create_ai_agent(&self, org: &OrgId, body: &[u8]) -> Result<AiAgent, AppError> {
        let draft = Draft::checked(body, self)?;
        if draft.base_version.is_some() {
            return Err(AppError::Invalid(
                "base_version: a new agent has no version to build on".into(),
            ));
        }
        let id = AgentId::parse(new_id("agt")).map_err(|e| AppError::Invalid(e.to_string()))?;
        let agent = draft.into_record(id, org, 1, self);
        self.store.put_ai_agent(&agent).await?;
        info!(agent_id = %agent.id, org_id = %org, "AI agent created");
        Ok(agent)
    }

    /// Stores the next version of an agent of `org`: 409 when its
    /// `base_version` is not the latest, or another update came first.
    pub async fn update_ai_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        body: &[u8],
    ) -> Result<AiAgent, AppError> {
        let latest = self.ai_agent_in(org, id, None).await?;
        let draft = Draft::checked(body, self)?;
        if draft.base_version.is_some_and(|v| v != latest.version) {
            return Err(AppError::Conflict(format!(
                "AI agent {id} is at version {}, not {}: reload it and edit that",
                latest.version,
                draft.base_version.unwrap_or_default()
            )));
        }
        let agent = draft.into_record(id.clone(), org, latest.version + 1, self);
        self.store.put_ai_agent(&agent).await?;
        info!(agent_id = %id, version = agent.version, "AI agent updated");
        Ok(agent)
    }

    /// A version of an agent of `org` (its latest with `None`); another
    /// organisation's agent is not found.
    pub async fn ai_agent_in(
        &self,
        org: &OrgId,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<AiAgent, AppError> {
        let not_found = || match version {
            Some(v) => AppError::NotFound(format!("AI agent {id} version {v}")),
            None => AppError::NotFound(format!("AI agent {id}")),
        };
        match self.store.ai_agent(id, version).await? {
            Some(agent) if &agent.org_id == org => Ok(agent),
            _ => Err(not_found()),
        }
    }

    /// The latest version of every agent of `org`.
    pub async fn ai_agents(&self, org: &OrgId) -> Result<Vec<AiAgent>, AppError> {
        Ok(self.store.ai_agents(org).await?)
    }

    /// Checks that a new campaign of `org` names the built-in agent or one
    /// of the organisation's (400 otherwise).
    pub(crate) async fn check_campaign_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
    ) -> Result<(), AppError> {
        if id.is_built_in() {
            return Ok(());
        }
        match self.ai_agent_in(org, id, None).await {
            Err(AppError::NotFound(_)) => Err(AppError::Invalid(format!(
                "agent_id: the organisation has no AI agent {id}"
            ))),
            other => other.map(drop),
        }
    }

    /// The agent and version a campaign starting now pins: the version it
    /// already has, or its agent's latest (`None` for the built-in agent).
    pub(crate) async fn version_to_pin(
        &self,
        campaign: &Campaign,
    ) -> Result<(AgentId, Option<u32>), AppError> {
        let id = &campaign.settings.agent_id;
        if id.is_built_in() || campaign.agent_version.is_some() {
            return Ok((id.clone(), campaign.agent_version));
        }
        let latest = self.ai_agent_in(&campaign.org_id, id, None).await?;
        Ok((id.clone(), Some(latest.version)))
    }

    /// Moves a campaign of `org` to an agent version (its latest when
    /// `version` is `None`; a draft campaign then pins at its start). A
    /// running campaign's next calls use it. Unknown agents and versions
    /// are 404; finished campaigns 409.
    pub async fn set_campaign_agent(
        &self,
        org: &OrgId,
        campaign: &CampaignId,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<Campaign, AppError> {
        let current = self.campaign_in(org, campaign).await?;
        if current.status.is_finished() {
            return Err(AppError::Conflict(format!(
                "campaign {campaign} is {}: its agent can no longer change",
                current.status.label()
            )));
        }
        let pinned = if id.is_built_in() {
            if version.is_some() {
                return Err(AppError::Invalid(
                    "version: the built-in agent has no versions".into(),
                ));
            }
            None
        } else {
            let agent = self.ai_agent_in(org, id, version).await?;
            let draft = current.status == voxdial_domain::CampaignStatus::Draft;
            (version.is_some() || !draft).then_some(agent.version)
        };
        let moved = self
            .modify_campaign(campaign, |c| {
                c.settings.agent_id = id.clone();
                c.agent_version = pinned;
                Ok(())
            })
            .await?;
        info!(campaign_id = %campaign, agent_id = %id, version = ?pinned, "campaign moved to an AI agent");
        Ok(moved)
    }

    /// The configuration a call of `campaign` runs with and its agent
    /// record (`None` for the built-in agent): the pinned version, or the
    /// latest when none is pinned yet.
    pub async fn campaign_agent(&self, campaign: &Campaign) -> Result<Option<AiAgent>, AppError> {
        let id = &campaign.settings.agent_id;
        if id.is_built_in() {
            return Ok(None);
        }
        let agent = self
            .ai_agent_in(&campaign.org_id, id, campaign.agent_version)
            .await?;
        Ok(Some(agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_found_at_any_depth() {
        let input = serde_json::json!({
            "config": {"name": "Raj", "sytem_prompt": "x", "ivr": {"options": [{"digit": "1", "action": "callback", "lable": "x"}]}},
            "extra": 1
        });
        let draft: Draft =
            serde_json::from_value(serde_json::json!({"config": {"name": "Raj"}})).unwrap();
        let known = serde_json::to_value(&draft).unwrap();
        let mut found = Vec::new();
        unknown_keys(&input, &known, "", &mut found);
        assert!(found.contains(&"config.sytem_prompt: unknown field".to_string()));
        assert!(found.contains(&"extra: unknown field".to_string()));
    }
}
