-- Schema version 2: human agents for transfers.
CREATE TABLE human_agents (
    id      TEXT PRIMARY KEY,
    status  TEXT NOT NULL,              -- AgentStatus: available, busy, offline, wrap_up
    since   INTEGER NOT NULL,           -- when the status last changed
    record  TEXT NOT NULL               -- the HumanAgent as JSON
) STRICT;
-- available agents, longest idle first
CREATE INDEX human_agents_idle ON human_agents (status, since);
