-- Schema version 3: erasure tombstones, suppression digests of erased
-- numbers, and the retention schedule of call files.
CREATE TABLE tombstones (
    lead_id    TEXT PRIMARY KEY,
    erased_at  INTEGER NOT NULL,
    record     TEXT NOT NULL            -- the Tombstone as JSON (no personal data)
) STRICT;

CREATE TABLE suppressions (
    scope     TEXT NOT NULL,            -- '' for the global list, else a campaign id
    digest    TEXT NOT NULL,            -- keyed hash of the number (hex)
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (digest, scope)
) STRICT, WITHOUT ROWID;

CREATE TABLE purges (
    call_id  TEXT PRIMARY KEY,
    due_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX purges_due ON purges (due_at, call_id);
