//! [`AiAgentStore`] on the store file: `ai_agents`, one row per version
//! (see `store_ai_agents.sql`). A new version is written in one immediate
//! transaction that reads the latest version first, so two writers of the
//! same next version never both succeed.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use voxdial_domain::ai_agent::check_version;
use voxdial_domain::{AgentId, AiAgent, AiAgentStore, OrgId, StoreError};

use super::{LocalStore, Sql, decode, encode, immediate};

#[async_trait]
impl AiAgentStore for LocalStore {
    async fn put_ai_agent(&self, agent: &AiAgent) -> Result<(), StoreError> {
        check_version(agent)?;
        let record = encode("cannot encode an AI agent", agent)?;
        let (id, org, version) = (agent.id.clone(), agent.org_id.clone(), agent.version);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let latest: Option<(u32, String)> = tx
                .prepare_cached(
                    "SELECT version, org_id FROM ai_agents WHERE id = ?1 \
                     ORDER BY version DESC LIMIT 1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .sql("cannot read an AI agent")?;
            match latest {
                None if version == 1 => {}
                None => return Err(StoreError::NotFound(format!("AI agent {id}"))),
                Some(_) if version == 1 => {
                    return Err(StoreError::AlreadyExists(format!("AI agent {id}")));
                }
                Some((latest, owner)) if latest + 1 != version || owner != org.as_str() => {
                    return Err(StoreError::Conflict(format!("AI agent {id}")));
                }
                Some(_) => {}
            }
            tx.prepare_cached(
                "INSERT INTO ai_agents (id, version, org_id, record) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| stmt.execute(params![id.as_str(), version, org.as_str(), record]))
            .sql("cannot insert an AI agent")?;
            tx.commit().sql("cannot commit an AI agent")
        })
        .await
    }

    async fn ai_agent(
        &self,
        id: &AgentId,
        version: Option<u32>,
    ) -> Result<Option<AiAgent>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT record FROM ai_agents WHERE id = ?1 AND (?2 IS NULL OR version = ?2) \
                 ORDER BY version DESC LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![id.as_str(), version], |row| row.get::<_, String>(0))
                    .optional()
            })
            .sql("cannot read an AI agent")?
            .map(|record| decode("AI agent", id.as_str(), &record))
            .transpose()
        })
        .await
    }

    async fn ai_agents(&self, org: &OrgId) -> Result<Vec<AiAgent>, StoreError> {
        let org = org.clone();
        let rows: Vec<(String, String)> = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT a.id, a.record FROM ai_agents a WHERE a.org_id = ?1 \
                         AND a.version = (SELECT MAX(version) FROM ai_agents WHERE id = a.id) \
                         ORDER BY a.id",
                    )
                    .sql("cannot list AI agents")?;
                stmt.query_map([org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .sql("cannot list AI agents")
            })
            .await?;
        rows.iter()
            .map(|(id, record)| decode("AI agent", id, record))
            .collect()
    }
}
