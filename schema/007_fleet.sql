-- A fleet (src/fleet/) shares bans between hosts through PostgreSQL. A ban taken from another host
-- is stored like any other, with source 'fleet' and the host that decided it in `origin`: the
-- source's CHECK names the sources allowed, so the table is made again with 'fleet' among them
-- (SQLite cannot change a CHECK in place), with every row and index as it was.
CREATE TABLE bans_007 (
  id          INTEGER PRIMARY KEY,
  address     TEXT    NOT NULL,
  prefix      INTEGER,
  jail        TEXT    NOT NULL,
  banned_at   INTEGER NOT NULL,
  expires_at  INTEGER,
  source      TEXT    NOT NULL CHECK (source IN ('filter', 'manual', 'import', 'fail2ban', 'fleet')),
  reason      TEXT,
  failures    INTEGER NOT NULL DEFAULT 0,
  matches     TEXT,
  ban_count   INTEGER NOT NULL DEFAULT 1,
  lifted_at   INTEGER,
  lifted_by   TEXT,
  forced      INTEGER NOT NULL DEFAULT 0,
  origin      TEXT                           -- the fleet host that decided it; NULL = this host
);
INSERT INTO bans_007 (id, address, prefix, jail, banned_at, expires_at, source, reason, failures, matches, ban_count, lifted_at, lifted_by, forced)
  SELECT id, address, prefix, jail, banned_at, expires_at, source, reason, failures, matches, ban_count, lifted_at, lifted_by, forced FROM bans;
DROP TABLE bans;
ALTER TABLE bans_007 RENAME TO bans;
CREATE UNIQUE INDEX bans_open ON bans (address, jail) WHERE lifted_at IS NULL;
CREATE INDEX bans_address ON bans (address, jail);
CREATE INDEX bans_open_jail ON bans (jail, address) WHERE lifted_at IS NULL;
CREATE INDEX bans_open_expiry ON bans (expires_at) WHERE lifted_at IS NULL;
CREATE INDEX bans_open_networks ON bans (prefix, address) WHERE prefix IS NOT NULL AND lifted_at IS NULL;
CREATE INDEX bans_lifted ON bans (lifted_at) WHERE lifted_at IS NOT NULL;

-- Where this host's puller stands in the fleet's event stream (the PostgreSQL event id it took in
-- last), written in the same transaction as the bans those events made or lifted.
CREATE TABLE fleet_cursors (
  fleet       TEXT    PRIMARY KEY,           -- the fleet: its schema and database (see src/fleet/)
  after       INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
