import { fstatSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';

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

/**
 * The bytes of `range`, read into `buffer` when it is long enough; throws when the descriptor is
 * no longer that file, or the bytes are not those the tailer read (the file was truncated or
 * rewritten since): the batch then fails, and the tailer reads it again.
 */
export function readLogRange(range: LogRange, buffer?: Buffer): Buffer {
  const { fd, device, inode, offset, length, crc } = range;
  const stats = fstatSync(fd);
  if (stats.dev !== device || stats.ino !== inode) throw new Error(`descriptor ${fd} is no longer the log read (inode ${inode}): it is read again`);
  const bytes = buffer !== undefined && buffer.length >= length ? buffer.subarray(0, length) : Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, bytes, read, length - read, offset + read);
    if (n === 0) break;
    read += n;
  }
  if (read !== length || crc32(bytes) !== crc) throw new Error(`the log changed under bytes ${offset} to ${offset + length} before they were matched (truncated or rewritten): they are read again`);
  return bytes;
}
