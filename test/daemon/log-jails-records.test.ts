import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { LogPosition } from '../../src/core/index.js';
import type { LogJails } from '../../src/daemon/log-jails.js';
import type { LineBatch } from '../../src/watch/index.js';
import { tempDir } from '../helpers/cli.js';
import { openLogJails, type LogJailsFixture } from '../helpers/log-jails.js';

const NOW = 1_800_000_000;
const record = (line: string): string => `${JSON.stringify({ log: `${line}\n`, stream: 'stderr', time: new Date(NOW * 1000).toISOString() })}\n`;

/** LogJails on a docker container log: the lines that are no docker record are counted once each, whatever is read again. */
describe('LogJails: lines that are no record of a jail\'s logformat', () => {
  let tmp: ReturnType<typeof tempDir>;
  let fixture: LogJailsFixture;
  let jails: LogJails;
  let log: string;
  const warnings: string[] = [];

  beforeEach(() => {
    tmp = tempDir();
    log = join(tmp.dir, 'c1-json.log');
    warnings.length = 0;
    fixture = openLogJails(tmp.dir, `[sshd-docker]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nlogformat = docker\nmaxretry = 5\n`, NOW, (line, level) => {
      if (level === 'warning') warnings.push(line);
    });
    jails = fixture.jails;
  });
  afterEach(async () => {
    await fixture.close();
    tmp.cleanup();
  });

  it('a batch read ahead and read again after the one before it failed counts its non-records once', async () => {
    const first = record('Server listening on 0.0.0.0 port 22.');
    const plain = 'Jan  1 00:00:00 web sshd[7]: Server listening on :: port 22.\n'.repeat(2);
    writeFileSync(log, first + plain);
    const position = (offset: number): LogPosition => ({ path: log, device: 1, inode: 1, offset, headHash: '' });
    const text = (bytes: string, offset: number): LineBatch => ({
      path: log, lines: [], lineCount: bytes.split('\n').length - 1, text: Buffer.from(bytes), encoding: 'utf-8', position: position(offset), droppedAt: [],
    });
    const fd = openSync(log, 'r');
    try {
      const { dev, ino } = fstatSync(fd);
      // The first record as a file range whose CRC no longer matches (the file changed under it): the worker refuses it.
      const refused: LineBatch = {
        path: log, lines: [], lineCount: 1, encoding: 'utf-8', position: position(first.length), droppedAt: [],
        range: { fd, device: dev, inode: ino, offset: 0, length: first.length, crc: 0 },
      };
      const ahead = text(plain, first.length + plain.length);
      jails.prepare(refused);
      jails.prepare(ahead);
      await assert.rejects(jails.handle(refused), /the log changed under bytes 0 to \d+/);
      // The tailer reads both again, and this time they go through.
      await jails.handle(text(first, first.length));
      await jails.handle(text(plain, first.length + plain.length));
    } finally {
      closeSync(fd);
    }
    const [status] = jails.status([log], () => undefined);
    assert.equal(status?.notRecords, 2, 'the two plain lines, once each');
    assert.equal(warnings.filter((line) => line.includes('no docker record')).length, 1, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /skipped 2 lines that are no docker record/);
  });
});
