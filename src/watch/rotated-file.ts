import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { LogFile } from './log-file.js';
import type { LineDecoder } from './line-splitter.js';
import { continues, type LogPosition } from './log-position.js';

/** Rotated files logrotate compresses: their bytes are no longer the log's. */
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|lzma|lzo|z|zip)$/i;

/**
 * The file a log was rotated to (`auth.log.1`, `auth.log-20240101`, …), opened and placed at
 * `position`: the sibling holding the same first line (or, without one, the same inode) and at
 * least `offset` bytes. Used when the file at the path no longer continues a position — a
 * rotation while the daemon was down, or copytruncate's copy — so the lines written between
 * the last read and the rotation are still read. The inode wins among several candidates,
 * then the most recent.
 */
export async function openRotated(position: LogPosition, decode: LineDecoder, maxLineBytes: number): Promise<{ path: string; file: LogFile } | undefined> {
  const dir = dirname(position.path);
  const name = basename(position.path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  let best: { path: string; file: LogFile; sameInode: boolean; mtime: number } | undefined;
  for (const candidate of names) {
    if (!rotatedName(name, candidate) || COMPRESSED.test(candidate)) continue;
    const path = join(dir, candidate);
    const file = await LogFile.open(path, decode, maxLineBytes).catch(() => undefined);
    if (file === undefined) continue;
    const identity = await file.identity();
    const sameInode = identity.device === position.device && identity.inode === position.inode;
    const mtime = await file.modified();
    if (continues(position, identity) && (best === undefined || better({ sameInode, mtime }, best))) {
      await best?.file.close();
      best = { path, file, sameInode, mtime };
    } else await file.close();
  }
  if (best === undefined) return undefined;
  best.file.seek(position.offset);
  return { path: best.path, file: best.file };
}

/** logrotate's names: `app.log.1`, `app.log-20250101`, and with `extension .log`, `app.1.log`, `app-20250101.log`. */
function rotatedName(name: string, candidate: string): boolean {
  const stem = name.slice(0, name.length - extname(name).length);
  return candidate !== name && [name, stem].some((base) => base !== '' && (candidate.startsWith(`${base}.`) || candidate.startsWith(`${base}-`)));
}

function better(a: { sameInode: boolean; mtime: number }, b: { sameInode: boolean; mtime: number }): boolean {
  return a.sameInode !== b.sameInode ? a.sameInode : a.mtime > b.mtime;
}
