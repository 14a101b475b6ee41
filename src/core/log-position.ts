/**
 * Where reading of a log stands: `offset` is the byte after the last complete line delivered,
 * in the file identified by `device`/`inode` and by `headHash`, the hash of its first line.
 * The watcher makes it; the store persists it (table `log_positions`) with what the lines caused.
 */
export interface LogPosition {
  readonly path: string;
  readonly device: number;
  readonly inode: number;
  readonly offset: number;
  readonly headHash: string;
}

/**
 * Where reading of a journal stands: the cursor of the last entry delivered, in the journal
 * `source` names (the system journal, or the files or directory a jail reads). The store
 * persists it (table `journal_cursors`) with what the entries caused.
 */
export interface JournalCursor {
  readonly source: string;
  readonly cursor: string;
  /** The entry's `__REALTIME_TIMESTAMP`, microseconds since the epoch. */
  readonly realtime: number;
}
