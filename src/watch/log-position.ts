import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { LogPosition } from '../core/index.js';

export type { LogPosition } from '../core/index.js';


/** The file identity a position is compared with. */
export interface FileIdentity {
  readonly device: number;
  readonly inode: number;
  readonly size: number;
  readonly headHash: string;
}

/**
 * The head is the first line including its `\n`, or the first HEAD_BYTES bytes when that line is
 * longer: either never changes while the file only grows. A shorter unfinished first line gives ''.
 */
const HEAD_BYTES = 4096;

export async function readHeadHash(handle: FileHandle): Promise<string> {
  const buffer = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
  return headHashOf(buffer.subarray(0, bytesRead));
}

/** As readHeadHash, without leaving the thread (see LogFile.readText). */
export function readHeadHashSync(fd: number): string {
  const buffer = Buffer.alloc(HEAD_BYTES);
  return headHashOf(buffer.subarray(0, readSync(fd, buffer, 0, HEAD_BYTES, 0)));
}

function headHashOf(head: Buffer): string {
  const newline = head.indexOf(10);
  if (newline === -1 && head.length < HEAD_BYTES) return '';
  return createHash('sha256').update(head.subarray(0, newline === -1 ? HEAD_BYTES : newline + 1)).digest('hex');
}

/**
 * True when `file` is the file `stored` was taken from, still holding at least `offset` bytes.
 * The head hash decides when known: inode numbers are reused after a delete, and device numbers
 * may change across reboots. Without a head (no complete first line then) the inode decides.
 */
export function continues(stored: LogPosition, file: FileIdentity): boolean {
  if (file.size < stored.offset) return false;
  if (stored.headHash !== '') return file.headHash === stored.headHash;
  return file.device === stored.device && file.inode === stored.inode;
}

export function samePosition(a: LogPosition | undefined, b: LogPosition): boolean {
  return (
    a !== undefined &&
    a.path === b.path &&
    a.device === b.device &&
    a.inode === b.inode &&
    a.offset === b.offset &&
    a.headHash === b.headHash
  );
}
