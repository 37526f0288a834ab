-- Schema version 9: asynchronous lead imports (progress records).
CREATE TABLE lead_imports (
    id       TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    record   TEXT NOT NULL              -- the LeadImport as JSON
) STRICT;
