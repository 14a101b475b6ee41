-- Where each watched log was read up to, so a restart resumes without losing or repeating lines.
CREATE TABLE log_positions (
  path        TEXT    PRIMARY KEY,
  device      INTEGER NOT NULL,
  inode       INTEGER NOT NULL,
  offset      INTEGER NOT NULL,
  head_hash   TEXT    NOT NULL,              -- hash of the first line, to notice rotation in place
  updated_at  INTEGER NOT NULL
);
