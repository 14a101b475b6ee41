import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { readBeforeRange, readLogRange, type LogRange } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

describe('a range of a log file, read through its descriptor', () => {
  const tmp = tempDir();
  const log = join(tmp.dir, 'c1-json.log');
  const text = 'first line\nsecond line\nthird line\n';
  writeFileSync(log, text);
  const fd = openSync(log, 'r');
  after(() => {
    closeSync(fd);
    tmp.cleanup();
  });
  const rangeOf = (offset: number, length: number): LogRange => {
    const { dev, ino } = fstatSync(fd);
    return { fd, device: dev, inode: ino, offset, length, crc: crc32(Buffer.from(text.slice(offset, offset + length))) };
  };

  it('gives the bytes the tailer read, and refuses them when the file changed under them', () => {
    assert.equal(readLogRange(rangeOf(11, 12)).toString(), 'second line\n');
    assert.throws(() => readLogRange({ ...rangeOf(11, 12), crc: 1 }), /the log changed under bytes 11 to 23/);
    assert.throws(() => readLogRange({ ...rangeOf(11, 12), inode: 1 }), /no longer the log read/);
  });

  it('reads back what lies before a range, saying whether it reaches the file\'s start', () => {
    assert.deepEqual(readBeforeRange(rangeOf(23, 11), 64), { bytes: Buffer.from('first line\nsecond line\n'), fromStart: true });
    assert.deepEqual(readBeforeRange(rangeOf(23, 11), 16), { bytes: Buffer.from('ine\nsecond line\n'), fromStart: false });
    assert.deepEqual(readBeforeRange(rangeOf(0, 11), 64), { bytes: Buffer.alloc(0), fromStart: true });
  });
});
