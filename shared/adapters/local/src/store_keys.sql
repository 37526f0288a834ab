-- Schema version 4: API keys (digests, never keys) and the audit trail.
CREATE TABLE api_keys (
    id       TEXT PRIMARY KEY,
    org_id   TEXT NOT NULL,
    version  INTEGER NOT NULL,
    record   TEXT NOT NULL              -- the ApiKey as JSON
) STRICT;
CREATE INDEX api_keys_org ON api_keys (org_id, id);
CREATE TABLE audit (
    org_id   TEXT NOT NULL,
    at       INTEGER NOT NULL,          -- nanoseconds
    id       TEXT NOT NULL,             -- random, orders entries of one instant
    record   TEXT NOT NULL,             -- the AuditEntry as JSON
    PRIMARY KEY (org_id, at, id)
) STRICT, WITHOUT ROWID;
