-- Bans: one row per ban of an address in a jail. A row with lifted_at NULL is open; it is active
-- while expires_at is NULL (permanent) or in the future. Lifted rows stay as history.
CREATE TABLE bans (
  id          INTEGER PRIMARY KEY,
  address     TEXT    NOT NULL,              -- canonical address or network (core/address)
  prefix      INTEGER,                       -- prefix length for networks, NULL for one address
  jail        TEXT    NOT NULL,
  banned_at   INTEGER NOT NULL,              -- epoch seconds
  expires_at  INTEGER,                       -- epoch seconds, NULL = permanent
  source      TEXT    NOT NULL CHECK (source IN ('filter', 'manual', 'import', 'fail2ban')),
  reason      TEXT,
  failures    INTEGER NOT NULL DEFAULT 0,
  matches     TEXT,                          -- JSON array of the matched log lines
  ban_count   INTEGER NOT NULL DEFAULT 1,    -- how many times this address was banned in this jail
  lifted_at   INTEGER,
  lifted_by   TEXT
);

-- At most one open ban per (address, jail).
CREATE UNIQUE INDEX bans_open ON bans (address, jail) WHERE lifted_at IS NULL;
-- Every ban of one address, open or not (show, unban); the latest one per jail (ban, ban_count).
CREATE INDEX bans_address ON bans (address, jail);
-- Open bans by jail and by expiry (list, next expiry, desired state).
CREATE INDEX bans_open_jail ON bans (jail, address) WHERE lifted_at IS NULL;
CREATE INDEX bans_open_expiry ON bans (expires_at) WHERE lifted_at IS NULL;
-- Open bans of networks, to find the ones covering an address.
CREATE INDEX bans_open_networks ON bans (prefix, address) WHERE prefix IS NOT NULL AND lifted_at IS NULL;
-- History purge by age.
CREATE INDEX bans_lifted ON bans (lifted_at) WHERE lifted_at IS NOT NULL;
