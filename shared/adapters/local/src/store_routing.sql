-- Schema version 8: the routing engine's shared state (voxdial_domain::routing_state).
CREATE TABLE routing_counters (
    key      TEXT NOT NULL,             -- RoutingKey as text
    name     TEXT NOT NULL,
    value    INTEGER NOT NULL,
    PRIMARY KEY (key, name)
) STRICT, WITHOUT ROWID;
CREATE TABLE routing_records (
    key      TEXT PRIMARY KEY,          -- RoutingKey as text
    version  INTEGER NOT NULL,
    value    TEXT NOT NULL              -- the routing engine's JSON
) STRICT;
