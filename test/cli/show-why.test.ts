import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BanStore } from '../../src/store/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

const T0 = Math.floor(Date.now() / 1000) - 60;
const LINES = [
  'Dec  3 07:00:01 web sshd[7]: Failed password for root from 203.0.113.7 port 22 ssh2',
  'Dec  3 07:00:02 web sshd[7]: Failed password for invalid user \x1b[31madmin\nINFO forged from 203.0.113.7 port 22 ssh2',
];

describe('show: why an address is banned (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  const cli = (...args: string[]): CliResult => runCli(['--db', db, ...args]);

  before(() => {
    tmp = tempDir();
    db = join(tmp.dir, 'bans.sqlite3');
    const store = BanStore.open(db);
    store.ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + 3600, source: 'filter', failures: 2, matches: LINES, failureTimes: [T0 - 2, T0 - 1],
      captures: { user: 'admin' } }, T0);
    store.ban({ address: '203.0.113.7', jail: 'manual', expiresAt: null, source: 'manual' }, T0);
    store.close();
  });
  after(() => tmp.cleanup());

  it('prints under each ban the times of its failures, the captures and the matched lines, log text on one line each', () => {
    const result = cli('show', '203.0.113.7');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ADDRESS\s+JAIL/);
    assert.match(lines[1] ?? '', /^203\.0\.113\.7\s+sshd\s/);
    assert.equal(lines[2], `    failures at ${new Date((T0 - 2) * 1000).toISOString().replace('.000', '')}, ${new Date((T0 - 1) * 1000).toISOString().replace('.000', '')}`);
    assert.equal(lines[3], '    captured user=admin');
    assert.equal(lines[4], `    | ${LINES[0]}`);
    assert.equal(lines[5], '    | Dec  3 07:00:02 web sshd[7]: Failed password for invalid user \\x1b[31madmin\\x0aINFO forged from 203.0.113.7 port 22 ssh2');
    assert.match(lines[6] ?? '', /^203\.0\.113\.7\s+manual\s/, 'a manual ban has nothing under it');
    assert.equal(lines.length, 7);
  });

  it('--json gives each ban its why, times in ISO-8601 UTC', () => {
    const result = cli('--json', 'show', '203.0.113.7');
    assert.equal(result.code, 0, result.stderr);
    const bans = JSON.parse(result.stdout) as { jail: string; why: { failureTimes: string[]; matches: string[]; captures: Record<string, string> } }[];
    assert.deepEqual(bans.map((b) => [b.jail, b.why]), [
      ['sshd', { failureTimes: [T0 - 2, T0 - 1].map((t) => new Date(t * 1000).toISOString().replace('.000', '')), matches: LINES, captures: { user: 'admin' } }],
      ['manual', { failureTimes: [], matches: [], captures: {} }],
    ]);
  });
});
