-- voxdial local store, schema version 1.
-- Instants are INTEGER nanoseconds since the Unix epoch; `record` is the
-- full domain record as JSON, the other columns are derived from it on
-- every write (they exist to be indexed and counted).

CREATE TABLE campaigns (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    record      TEXT NOT NULL
) STRICT;
CREATE INDEX campaigns_newest ON campaigns (created_at, id);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    campaign_id     TEXT NOT NULL REFERENCES campaigns (id),
    phone           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'active', 'final')),
    due_at          INTEGER,            -- pending only
    waiting_window  INTEGER NOT NULL,   -- 1 when pending for the calling window
    active_attempt  INTEGER,            -- active only
    lease_until     INTEGER,            -- active only
    final_label     TEXT,               -- final only: LeadOutcome::label
    attempts        INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    record          TEXT NOT NULL,
    UNIQUE (campaign_id, phone),
    CHECK ((state = 'pending') = (due_at IS NOT NULL)),
    CHECK ((state = 'active') = (active_attempt IS NOT NULL AND lease_until IS NOT NULL)),
    CHECK ((state = 'final') = (final_label IS NOT NULL))
) STRICT;
-- the next due pending leads of a campaign and its active count; covering
-- for the progress counts (the rows hold large JSON records)
CREATE INDEX leads_due ON leads (campaign_id, state, due_at, id, waiting_window, final_label);
-- expired leases across campaigns
CREATE INDEX leads_lease ON leads (lease_until) WHERE state = 'active';
-- a campaign's leads in id order
CREATE INDEX leads_by_campaign ON leads (campaign_id, id);

CREATE TABLE calls (
    id          TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    lead_id     TEXT NOT NULL REFERENCES leads (id),
    state       TEXT NOT NULL,          -- CallState::label
    terminal    INTEGER NOT NULL CHECK (terminal IN (0, 1)),
    created_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    record      TEXT NOT NULL
) STRICT;
-- live calls of a campaign by state
CREATE INDEX calls_live ON calls (campaign_id, state) WHERE terminal = 0;
-- a campaign's calls by time
CREATE INDEX calls_newest ON calls (campaign_id, created_at, id);
-- a lead's calls (and the foreign key's child index)
CREATE INDEX calls_by_lead ON calls (lead_id);

CREATE TABLE dnc (
    scope     TEXT NOT NULL,            -- '' for the global list, else a campaign id
    number    TEXT NOT NULL,            -- E.164
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (number, scope)
) STRICT, WITHOUT ROWID;
