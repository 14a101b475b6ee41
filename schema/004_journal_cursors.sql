-- Where each journal reader stands: the cursor of the last entry whose effects (bans, failure
-- counters) are committed with it, so a restart resumes right after it.
CREATE TABLE journal_cursors (
  source      TEXT    PRIMARY KEY,           -- which journal: 'system', or the files/directory read
  cursor      TEXT    NOT NULL,              -- journalctl's __CURSOR of that entry
  realtime    INTEGER NOT NULL,              -- its __REALTIME_TIMESTAMP, microseconds
  updated_at  INTEGER NOT NULL
);
