import { createReadStream } from 'node:fs';

/**
 * The lines of a log file, streamed in batches (never the whole file in memory, and no promise
 * per line): split on `\n`, a trailing `\r` dropped, bytes that are not UTF-8 replaced, as
 * fail2ban reads a file.
 */
export async function* logLineBatches(path: string): AsyncGenerator<string[]> {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 }) as AsyncIterable<string>) {
    const text = rest + chunk;
    const batch: string[] = [];
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      batch.push(text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
    if (batch.length > 0) yield batch;
  }
  if (rest !== '') yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest];
}
