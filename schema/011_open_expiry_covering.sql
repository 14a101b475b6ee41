-- The open bans' expiry index also holds what enforcing them takes (address, jail, forced): a full
-- reconcile and a count of the active bans read the index alone, in place of every row with its
-- matched log lines. lifted_at, NULL in every entry, is there for SQLite to see the index as
-- covering a query that names it. The queries by expiry use it as before.
DROP INDEX bans_open_expiry;
CREATE INDEX bans_open_expiry ON bans (expires_at, address, jail, forced, lifted_at) WHERE lifted_at IS NULL;
