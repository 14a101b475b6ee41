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

/**
 * Complete lines of a log as they lie in the file: `length` bytes at `offset` of the file open as
 * descriptor `fd` (`device`/`inode`), whose CRC-32 was `crc` when the tailer read them. The filter
 * worker reads them itself, so the bytes never cross threads; the CRC tells it the file changed
 * under them meanwhile (copytruncate), and then it refuses them, to be read again.
 */
export interface LogRange {
  readonly fd: number;
  readonly device: number;
  readonly inode: number;
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
}
