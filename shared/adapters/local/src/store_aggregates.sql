-- Schema version 7: analytics aggregates (counters per organisation,
-- dimension and hour or day bucket) and the markers that count each
-- (call, event kind) once.
CREATE TABLE aggregate_events (
    call_id  TEXT NOT NULL,
    kind     TEXT NOT NULL,             -- call_ended, analysed
    PRIMARY KEY (call_id, kind)
) STRICT, WITHOUT ROWID;
CREATE TABLE aggregates (
    org_id     TEXT NOT NULL,
    dimension  TEXT NOT NULL,           -- all, c#<campaign>, a#<agent>, p#<provider>
    width      TEXT NOT NULL,           -- hour, day
    start      INTEGER NOT NULL,        -- the bucket's start, seconds since the epoch
    counter    TEXT NOT NULL,           -- Tally::counters names
    value      INTEGER NOT NULL,
    PRIMARY KEY (org_id, dimension, width, start, counter)
) STRICT, WITHOUT ROWID;
