-- Every change to what is enforced (an active ban made, lengthened or lifted), appended in the same
-- transaction as the change to bans, by every writer: the daemon, the CLI, imports. Readers follow
-- it after a cursor of their own (change_readers): the daemon applies other processes' changes to
-- its backends from it, and a fleet pushes this host's changes from it (its outbox: `id` is the
-- local sequence number, never reused, as AUTOINCREMENT never hands out an id twice).
-- Rows that end nothing active are not changes: an expired ban closed as history, history
-- imported or purged.
CREATE TABLE changes (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  kind        TEXT    NOT NULL,              -- 'ban' (a new active ban), 'extend' (a later expiry or --force), 'lift'
  address     TEXT    NOT NULL,              -- canonical, as bans.address
  jail        TEXT    NOT NULL,
  expires_at  INTEGER,                       -- the ban's expiry after the change (the lifted ban's for 'lift'); NULL = permanent
  previous_expires_at INTEGER,               -- 'extend': the expiry before (NULL = permanent); NULL for the other kinds
  forced      INTEGER NOT NULL DEFAULT 0,    -- the ban is forced past the lockout floor
  source      TEXT    NOT NULL,              -- the ban's source (bans.source)
  at          INTEGER NOT NULL,              -- epoch seconds of the change
  writer      TEXT    NOT NULL,              -- which process made it: 'daemon' or 'cli'
  origin      TEXT                           -- the host that decided it; NULL = this host (a fleet's pulled bans name theirs)
);
CREATE INDEX changes_at ON changes (at);

-- Where each reader of changes stands (the last id it has taken in): changes every reader has
-- taken are deleted; so are changes older than the history kept (purge), after which a reader
-- whose cursor is older than the oldest change left starts over from the whole bans table.
CREATE TABLE change_readers (
  reader      TEXT    PRIMARY KEY,           -- 'daemon'; a fleet's pusher adds its own
  after       INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
