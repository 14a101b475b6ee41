import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { logLineBatches, terminatedLineBatches } from '../../src/filter/index.js';

const CHUNK = 1 << 16;

/** The lines as a whole-file read gives them: split on \n, one trailing \r dropped, no empty last line. */
function expected(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

describe('log lines', () => {
  it('reads lines across chunk boundaries: CRLF cut between chunks, a character cut in two, lines longer than a chunk, no final newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'f2b-log-lines-'));
    try {
      const path = join(dir, 'log');
      const crAtEdge = 'a'.repeat(CHUNK - 1);
      const euroAtEdge = `${'b'.repeat(CHUNK - 2)}€ and more`;
      const long = 'c'.repeat(3 * CHUNK + 5);
      const bytes = Buffer.concat([
        Buffer.from(`${crAtEdge}\r\n${euroAtEdge}\nshort\r\n\n${long}\nbad `),
        Buffer.from([0xff]),
        Buffer.from(' byte\nlast line without newline €'),
      ]);
      writeFileSync(path, bytes);
      const lines = [...logLineBatches(path)].flat();
      assert.deepEqual(lines, expected(path));
      assert.equal(lines.length, 7);
      const batches = [...terminatedLineBatches(path)];
      assert.deepEqual(batches.flatMap((batch) => batch.terminated), expected(path).map((line) => `${line}\n`));
      const ascii = (lines: readonly string[]): boolean => lines.every((line) => /^[\0-\x7f]*$/.test(line));
      for (const batch of batches) if (batch.ascii) assert.ok(ascii(batch.terminated), `told ASCII: ${JSON.stringify(batch.terminated).slice(0, 80)}`);
      assert.ok(batches.some((batch) => !batch.ascii), 'batches with other characters are told so');
      const asciiPath = join(dir, 'ascii-log');
      writeFileSync(asciiPath, `${'x'.repeat(CHUNK - 2)}\r\nnext\nlast`);
      assert.deepEqual([...terminatedLineBatches(asciiPath)].map((batch) => batch.ascii), [true, true, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
