import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { damagePages, integrityProblems, leafPages, rootPage } from '../helpers/damage.js';

const BANS = 3000;

function damagedLine(result: CliResult, db: string): void {
  assert.equal(result.code, 1, `exit code 1: ${result.stderr}`);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  assert.ok(result.stderr.startsWith(`f2b-store: database ${db} is damaged (`), result.stderr);
  assert.ok(result.stderr.includes(`sqlite3 ${db} 'PRAGMA integrity_check'`), result.stderr);
  assert.match(result.stderr, /backup.*f2b-store repair/);
  assert.doesNotMatch(result.stderr, /unexpected error|\bat .*\.(js|ts):\d+/);
}

describe('a damaged database (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  /** A sound database holding BANS bans, copied for each case. */
  let sound: string;
  let n = 0;
  const fresh = (): string => {
    const db = join(tmp.dir, `case-${++n}.sqlite3`);
    copyFileSync(sound, db);
    return db;
  };
  const cli = (db: string, ...args: string[]): CliResult => runCli(['--db', db, ...args]);

  before(() => {
    tmp = tempDir();
    sound = join(tmp.dir, 'sound.sqlite3');
    const list = join(tmp.dir, 'list.txt');
    writeFileSync(list, Array.from({ length: BANS }, (_, i) => `198.51.${i >> 8}.${i & 255}\n`).join(''));
    const imported = runCli(['--db', sound, 'import', 'list', list, '--jail', 'sshd']);
    assert.equal(imported.code, 0, imported.stderr);
  });
  after(() => tmp.cleanup());

  it('two pages overwritten from the root of the bans table (as dd seek=… count=2 would): list, ban, show, unban, export, status say so in one line', () => {
    const db = fresh();
    damagePages(db, rootPage(db, 'bans'), 2);
    assert.notDeepEqual(integrityProblems(db), [], 'SQLite sees the damage');
    for (const args of [['list'], ['--json', 'list'], ['ban', '203.0.113.7'], ['show', '198.51.0.1'], ['unban', '198.51.0.1'],
      ['export', 'json'], ['status']]) {
      damagedLine(cli(db, ...args), db);
    }
  });

  it('the bans table damaged: every reader says so', () => {
    const db = fresh();
    const [, leaf] = leafPages(db, 'bans');
    assert.ok(leaf !== undefined, 'several leaf pages of bans');
    damagePages(db, leaf.page, 1);
    assert.notDeepEqual(integrityProblems(db), []);
    for (const args of [['list', '--all'], ['export', 'plain'], ['export', 'csv'], ['status'], ['reconcile', '--dry-run']]) {
      damagedLine(cli(db, ...args), db);
    }
  });

  it('an empty (0-byte) file is damaged, not "no active bans"', () => {
    const db = fresh();
    truncateSync(db, 0);
    for (const args of [['list'], ['ban', '203.0.113.7'], ['status']]) damagedLine(cli(db, ...args), db);
    assert.equal(statSync(db).size, 0, 'nothing was written into it');
  });

  it('a file that is not a database', () => {
    const db = fresh();
    writeFileSync(db, 'ALL: 203.0.113.7\n'.repeat(1000));
    damagedLine(cli(db, 'list'), db);
  });

  it('repair says a sound database is sound and changes nothing', () => {
    const db = fresh();
    const before = readFileSync(db);
    const result = cli(db, 'repair');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `database ${db} is sound (integrity_check: ok): nothing to repair\n`);
    assert.deepEqual(readFileSync(db), before);
  });

  it('repair saves what can be read, reports it per table, keeps the damaged file aside; the commands work again', () => {
    const db = fresh();
    const leaves = leafPages(db, 'bans');
    const leaf = leaves[Math.floor(leaves.length / 2)];
    assert.ok(leaf !== undefined && leaf.rows > 0);
    damagePages(db, leaf.page, 1);
    const result = cli(db, '--json', 'repair');
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; saved: Record<string, number>; lost: Record<string, number | null>; kept: string };
    assert.equal(report.ok, true);
    assert.deepEqual(report.saved, { bans: BANS - leaf.rows, log_positions: 0, failure_counters: 0, journal_cursors: 0 });
    assert.equal(report.lost.bans, leaf.rows);
    assert.match(report.kept, /\.damaged-\d{8}T\d{6}Z$/);
    assert.equal(statSync(report.kept).mode & 0o777, 0o600);
    const listed = cli(db, '--json', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal((JSON.parse(listed.stdout) as unknown[]).length, BANS - leaf.rows);
    assert.equal(cli(db, 'ban', '203.0.113.7').code, 0);
    assert.equal(cli(db, 'status').code, 0);
  });

  it('repair in words, and on an empty file', () => {
    const db = fresh();
    truncateSync(db, 0);
    const result = cli(db, 'repair');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^database .* was damaged \(the file is empty\): kept it as .*\.damaged-\d{8}T\d{6}Z, and put a new one in its place\nbans: 0 rows saved, 0 lost\n/);
    const listed = cli(db, 'list');
    assert.deepEqual([listed.code, listed.stdout], [0, 'no active bans\n']);
  });

  it('repair cannot read a file that is not a database: exit 1, left as it is', () => {
    const db = fresh();
    writeFileSync(db, 'x'.repeat(8192));
    const result = cli(db, 'repair');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^f2b-store: cannot repair .*: nothing in it can be read \(file is not a database\); it was left as it is/);
    assert.equal(readFileSync(db, 'utf8'), 'x'.repeat(8192));
  });

  it('repair refuses while the daemon runs on the database', async () => {
    const db = fresh();
    damagePages(db, 4, 2);
    const daemon = startDaemon(['--db', db]);
    try {
      await waitFor('the daemon to start', () => /watching \d+ log files/.test(daemon.log()), 15_000);
      const result = cli(db, 'repair');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^f2b-store: the daemon \(pid \d+\) is using .*: stop it first \(f2b-store stop\), then run repair again; nothing was changed\n$/);
      assert.deepEqual(readdirSync(tmp.dir).filter((name) => name.startsWith(`${basename(db)}.damaged-`)), [], 'nothing kept aside');
      assert.notDeepEqual(integrityProblems(db), [], 'still the damaged file');
    } finally {
      await daemon.stop();
    }
  });
});
