-- Schema version 6: AI agents, one immutable row per version.
CREATE TABLE ai_agents (
    id       TEXT NOT NULL,
    version  INTEGER NOT NULL,
    org_id   TEXT NOT NULL,
    record   TEXT NOT NULL,             -- the AiAgent as JSON
    PRIMARY KEY (id, version)
) STRICT, WITHOUT ROWID;
CREATE INDEX ai_agents_org ON ai_agents (org_id, id);
