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

/** Lines longer than this (in bytes, without the newline) are dropped unread, unless a tailer is told otherwise. */
export const MAX_LINE_BYTES = 1 << 16;

/**
 * Up to `length` bytes of the file just before `range` (read through its descriptor, once
 * readLogRange has found it the same file), and whether they reach back to the file's start.
 */
export function readBeforeRange(range: LogRange, length: number): { readonly bytes: Buffer; readonly fromStart: boolean } {
  const want = Math.min(length, range.offset);
  const bytes = Buffer.allocUnsafe(want);
  let read = 0;
  while (read < want) {
    const n = readSync(range.fd, bytes, read, want - read, range.offset - want + read);
    if (n === 0) break;
    read += n;
  }
  return { bytes: bytes.subarray(0, read), fromStart: read === range.offset };
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
