import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { journalSourceName, type JournalSource } from '../../src/core/index.js';
import type { LogJails } from '../../src/daemon/log-jails.js';
import type { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { openLogJails, type LogJailsFixture } from '../helpers/log-jails.js';

const NOW = 1_800_000_000;
const message = (address: string): string => `host sshd[42]: Failed password for root from ${address} port 22 ssh2`;
/** A syslog line dated NOW in local time, as the file jail reads it. */
function failure(address: string): string {
  const at = new Date(NOW * 1000);
  const month = at.toLocaleString('en-US', { month: 'short' });
  const time = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `${month} ${String(at.getDate()).padStart(2, ' ')} ${time} ${message(address)}\n`;
}

/**
 * LogJails with a file jail whose ignorecommand takes a while (its count awaits it) and a journal
 * jail: what one commits must never carry the other's batch half counted.
 */
describe('LogJails: when what the lines caused is committed', () => {
  let tmp: ReturnType<typeof tempDir>;
  let fixture: LogJailsFixture;
  let store: BanStore;
  let jails: LogJails;
  let journalSource: string;
  let release: string;
  let asked: string;
  const log = join('/nonexistent', 'auth.log');

  beforeEach(() => {
    tmp = tempDir();
    // Says "not ignored" at once for the first address; for the second only once the test lets it go on.
    const ignore = join(tmp.dir, 'ignore');
    release = join(tmp.dir, 'release');
    asked = join(tmp.dir, 'asked');
    writeFileSync(ignore, `#!/bin/sh\n[ "$1" = 203.0.113.8 ] || exit 1\ntouch ${asked}\nwhile [ ! -e ${release} ]; do sleep 0.02; done\nexit 1\n`);
    chmodSync(ignore, 0o755);
    fixture = openLogJails(tmp.dir, [
      `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nmaxretry = 5\nignorecommand = ${ignore} <ip>`,
      '[sshd-journal]\nenabled = true\nfilter = sshd\nbackend = systemd\nmaxretry = 5',
    ].join('\n\n'), NOW);
    ({ store, jails } = fixture);
    const journal = fixture.definitions.find((jail) => jail.name === 'sshd-journal')?.journal as JournalSource;
    journalSource = journalSourceName(journal);
  });
  afterEach(async () => {
    await fixture.close();
    tmp.cleanup();
  });

  it('a journal batch counted while a file batch waits for its ignorecommand is not committed with that batch half counted', async () => {
    const text = Buffer.from(failure('203.0.113.7') + failure('203.0.113.8'));
    const fileDone = jails.handle({ path: log, lines: [], lineCount: 0, text, encoding: 'utf-8', position: { path: log, device: 1, inode: 1, offset: text.length, headHash: '' }, droppedAt: [] });
    // The first failure is counted; the count awaits the second's command.
    await waitFor('the ignorecommand of the second address', () => existsSync(asked), 30_000);
    const journalDone = jails.handleJournal(journalSource, {
      entries: [{ line: message('198.51.100.9'), time: NOW, cursor: 'c1', fields: { _COMM: ['sshd'] } }],
      cursor: 'c1', realtime: NOW * 1e6, dropped: 0,
    });
    // Whatever is committed meanwhile: the file batch's counters only with its position.
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      await sleep(10);
      seen.push(JSON.stringify({ counters: [...store.failureCounters('sshd').keys()], position: store.logPosition(log)?.offset ?? null }));
    }
    writeFileSync(release, '');
    await Promise.all([fileDone, journalDone]);
    await jails.flush();
    assert.deepEqual([...new Set(seen)], [JSON.stringify({ counters: [], position: null })], 'nothing of the file batch before it was counted whole');
    assert.equal(store.journalCursor(journalSource)?.cursor, 'c1', 'the journal batch is committed');
    assert.deepEqual([...store.failureCounters('sshd-journal').keys()], ['198.51.100.9']);
    assert.deepEqual([...store.failureCounters('sshd').keys()].sort(), ['203.0.113.7', '203.0.113.8']);
    assert.equal(store.logPosition(log)?.offset, text.length);
  });

  for (const behind of [{ more: true }, { turnEnd: true }] as const) {
    it(`a batch read while behind (${Object.keys(behind)[0]}) with nothing after it: held for the next, then committed by the timer`, async () => {
      const text = Buffer.from(failure('203.0.113.7'));
      await jails.handle({ path: log, lines: [], lineCount: 0, text, encoding: 'utf-8', position: { path: log, device: 1, inode: 1, offset: text.length, headHash: '' }, droppedAt: [], ...behind });
      assert.equal(store.logPosition(log), undefined, 'not committed at once: more of the file was expected');
      await waitFor('the position committed without another batch', () => store.logPosition(log)?.offset === text.length, 10_000);
      assert.deepEqual([...store.failureCounters('sshd').keys()], ['203.0.113.7']);
    });
  }
});
