import { statSync } from 'node:fs';
import type { LogPosition } from '../core/index.js';

/**
 * Bytes of the file at `at.path` not read yet: from `at` on, or all of it when reading stands in
 * another file (the one rotated away); undefined when the path holds no file now.
 */
export function bytesBehind(at: LogPosition): number | undefined {
  const stats = statSync(at.path, { throwIfNoEntry: false });
  if (stats === undefined || !stats.isFile()) return undefined;
  const same = at.device === stats.dev && at.inode === stats.ino;
  return Math.max(0, stats.size - (same ? at.offset : 0));
}
