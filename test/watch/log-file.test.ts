import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { LogFile, REWRITTEN } from '../../src/watch/log-file.js';
import { lineDecoder } from '../../src/watch/line-splitter.js';

it('a file truncated and written longer between the rotation check and the read is never read from the old offset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-logfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'auth.log');
  writeFileSync(path, 'd1 just after\nd2\n');
  const file = (await LogFile.open(path, lineDecoder(), 1 << 16))!;
  t.after(() => file.close());
  const buffer = Buffer.alloc(1 << 12);
  assert.deepEqual(await file.read(buffer), ['d1 just after', 'd2']);
  assert.equal(await file.read(buffer), undefined, 'at the end');
  assert.equal(await file.rewritten(), false, 'not rewritten yet');

  // copytruncate and the next line, right after the check: the bytes at offset 17 are the new file's.
  truncateSync(path, 0);
  appendFileSync(path, 'e1 after a truncation to a longer file\n');
  assert.equal(await file.read(buffer), REWRITTEN, 'the read notices it, and reads nothing');
  assert.equal(file.offset, 17, 'the offset stays');
  assert.equal(await file.rewritten(), true, 'the next check says so too');
  await file.rewind();
  assert.deepEqual(await file.read(buffer), ['e1 after a truncation to a longer file'], 'then the new file from its start');
});

it('counts the complete lines each read gives as it splits them: a line ended in the next read counts there, a dropped one not at all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-logfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'auth.log');
  writeFileSync(path, 'one\ntw');
  const file = (await LogFile.open(path, lineDecoder(), 8))!;
  t.after(() => file.close());
  const buffer = Buffer.alloc(1 << 12);
  assert.deepEqual(await file.read(buffer), ['one']);
  assert.equal(file.linesRead, 1);
  appendFileSync(path, 'o\nfar too long a line\nthree\r\n');
  assert.deepEqual(await file.read(buffer), ['two', 'three']);
  assert.equal(file.linesRead, 2, 'the line begun before counts, the one over the limit does not');
  assert.deepEqual(file.takeDropped(), [2], 'after the two lines read before it');
});
