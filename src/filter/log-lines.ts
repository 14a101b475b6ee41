import { isAscii } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { TerminatedLines } from './filter-run.js';

const CHUNK_BYTES = 1 << 16;

/**
 * The lines of a log file, in batches (never the whole file in memory): split on `\n`, a
 * trailing `\r` dropped, bytes that are not UTF-8 replaced, as fail2ban reads a file. Read
 * synchronously: a file read as it stands gains nothing from waiting on the thread pool for each
 * chunk, and on a busy machine that wait was a tenth of test-filter's time.
 */
export function* logLineBatches(path: string): Generator<string[]> {
  for (const { lines } of lineBatches(path, false)) yield lines;
}

/**
 * The same lines, each followed by one `\n` that is not part of it (`line + '\n'`, see
 * LogFilter.processLine): a slice of the text read, not a copy, except after a dropped `\r`.
 */
export function* terminatedLineBatches(path: string): Generator<TerminatedLines> {
  for (const { lines, ascii } of lineBatches(path, true)) yield { terminated: lines, ascii };
}

/** A batch is ASCII when the bytes its lines were decoded from are (read from the bytes, which is quicker). */
function* lineBatches(path: string, terminated: boolean): Generator<{ lines: string[]; ascii: boolean }> {
  const newline = terminated ? '\n' : '';
  // The end of a line's slice: its `\n` too when kept.
  const keep = terminated ? 1 : 0;
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let restAscii = true;
    for (let read = readSync(fd, buffer, 0, CHUNK_BYTES, null); read > 0; read = readSync(fd, buffer, 0, CHUNK_BYTES, null)) {
      const bytes = buffer.subarray(0, read);
      const ascii = isAscii(bytes);
      // The line cut by the chunk's start is joined on its own: `rest + text` would copy the whole chunk once more.
      const text = decoder.write(bytes);
      let end = text.indexOf('\n');
      if (end === -1) {
        rest += text;
        restAscii &&= ascii;
        continue;
      }
      const lines = [withoutCr(rest + text.slice(0, end)) + newline];
      let start = end + 1;
      for (end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
        lines.push(text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) + newline : text.slice(start, end + keep));
        start = end + 1;
      }
      yield { lines, ascii: ascii && restAscii };
      rest = text.slice(start);
      restAscii = ascii;
    }
    // Bytes of a character cut off by the end of the file read as one replacement character.
    const cut = decoder.end();
    rest += cut;
    if (rest !== '') yield { lines: [withoutCr(rest) + newline], ascii: restAscii && cut === '' };
  } finally {
    closeSync(fd);
  }
}

const withoutCr = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);
