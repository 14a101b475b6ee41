-- Failures counted but not yet banned, per jail and address, so a restart (or a crash) resumes
-- the counting: written in the same transaction as the log positions and bans they come from.
CREATE TABLE failure_counters (
  jail        TEXT    NOT NULL,
  address     TEXT    NOT NULL,
  state       TEXT    NOT NULL,              -- JSON: the failure times and kept matches (engine)
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (jail, address)
) WITHOUT ROWID;
