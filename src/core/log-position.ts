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
