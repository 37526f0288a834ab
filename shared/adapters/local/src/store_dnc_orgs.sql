-- Schema version 5: every do-not-call list belongs to one organisation.
-- The lists that covered every campaign (scope '') were the default
-- organisation's, as every record from before organisations is.
UPDATE dnc SET scope = 'org:default' WHERE scope = '';
UPDATE suppressions SET scope = 'org:default' WHERE scope = '';
