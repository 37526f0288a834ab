-- Schema version 10: the media bridges' load (voxdial_domain::fleet), one row per task.
CREATE TABLE bridge_fleet (
    task     TEXT PRIMARY KEY,
    expires  INTEGER NOT NULL,          -- nanoseconds: the report stops counting then
    record   TEXT NOT NULL              -- the BridgeLoad as JSON
) STRICT;
