import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { EnabledJail } from '../config/index.js';
import { isRecord } from '../filter/index.js';
import { logpathsFirstFile } from '../watch/index.js';

/** Enough of a file's end to hold its last line: the tailer drops longer ones anyway. */
const TAIL_BYTES = 64 * 1024;

/** The last complete line of `path` (a line still being written is not one), or undefined for a file with none. */
function lastLine(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = fstatSync(fd);
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8', 0, read);
    const end = text.lastIndexOf('\n');
    if (end === -1) return undefined;
    const lines = text.slice(0, end).split('\n');
    const line = lines.at(-1)?.replace(/\r$/, '');
    // A line cut by the window's start is no line to judge.
    return line === undefined || line === '' || (lines.length === 1 && length < size) ? undefined : line;
  } finally {
    closeSync(fd);
  }
}

/**
 * A warning for each jail with a `logformat` whose file does not end in one of the format's
 * records: a jail told `docker` for a plain log (or the other way round) matches nothing, every
 * line skipped, and would say nothing of it. The first file the jail names now is read.
 */
export function logFormatWarnings(jails: readonly Pick<EnabledJail, 'name' | 'logformat' | 'logpaths'>[]): string[] {
  const warnings: string[] = [];
  for (const jail of jails) {
    const format = jail.logformat;
    if (format === 'plain') continue;
    const file = logpathsFirstFile(jail.logpaths);
    const line = file === undefined ? undefined : lastLine(file);
    if (file === undefined || line === undefined || isRecord(format, line)) continue;
    warnings.push(`jail ${jail.name}: the last line of ${file} is no ${format} record: with logformat = ${format} the jail skips every line `
      + `that is not one (check logformat: ${format === 'docker' ? 'cri' : 'docker'} or plain?)`);
  }
  return warnings;
}
