import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli, SAFE_CONFIG, tempDir } from '../helpers/cli.js';

interface Outcome { readonly code: number | null; readonly stderr: string }

/** What a user must see when a command cannot be done: one line on stderr, exit 1 or 2, no stack trace. */
function assertOneLine(outcome: Outcome, what: string, code?: 1 | 2): void {
  const lines = outcome.stderr.split('\n').filter((line) => line !== '');
  assert.ok(outcome.code === 1 || outcome.code === 2, `${what}: exit ${outcome.code}, want 1 or 2\n${outcome.stderr}`);
  if (code !== undefined) assert.equal(outcome.code, code, `${what}: ${outcome.stderr}`);
  assert.equal(lines.length, 1, `${what}: want one line on stderr, got:\n${outcome.stderr}`);
  assert.match(lines[0]!, /^f2b-store: |^-:\d+: /, what);
  assert.doesNotMatch(outcome.stderr, /\bat .*\.(js|ts):\d+|unexpected error|node:internal/, `${what}: a stack trace`);
}

describe('every command refuses bad input with one line and the contract exit code', () => {
  const tmp = tempDir();
  let db = '';
  let full = '';
  before(() => {
    db = join(tmp.dir, 'bans.sqlite3');
    assert.equal(runCli(['--db', db, '--backend', 'none', 'ban', '203.0.113.7']).code, 0);
    // Our own node of /dev/full (1,7): every write to it fails with ENOSPC.
    full = join(tmp.dir, 'full');
    execFileSync('mknod', [full, 'c', '1', '7']);
    mkdirSync(join(tmp.dir, 'a-dir'));
    writeFileSync(join(tmp.dir, 'a-file'), 'x\n');
  });
  after(tmp.cleanup);

  const missing = (): string => join(tmp.dir, 'no-such-file');
  const aDir = (): string => join(tmp.dir, 'a-dir');
  const aFile = (): string => join(tmp.dir, 'a-file');

  it('missing files, directories where files belong, files where directories belong', () => {
    const cases: [string, string[], (1 | 2)?][] = [
      ['import list of a missing file', ['--db', db, 'import', 'list', missing()]],
      ['import list of a directory', ['--db', db, 'import', 'list', aDir()]],
      ['import fail2ban-db of a missing file', ['--db', db, 'import', 'fail2ban-db', missing()]],
      ['import fail2ban-db of a text file', ['--db', db, 'import', 'fail2ban-db', aFile()]],
      ['list of a missing database', ['--db', missing(), 'list'], 1],
      ['status of a missing database', ['--db', missing(), 'status'], 1],
      ['show of a missing database', ['--db', missing(), 'show', '203.0.113.7'], 1],
      ['repair of a missing database', ['--db', missing(), 'repair'], 1],
      ['purge of a missing database', ['--db', missing(), 'purge'], 1],
      ['ban into a database below a file', ['--db', join(aFile(), 'bans.sqlite3'), '--backend', 'none', 'ban', '203.0.113.8'], 1],
      ['a text file as the database', ['--db', aFile(), 'list'], 1],
      ['a directory as the database', ['--db', aDir(), 'list'], 1],
      ['check of a config dir that is a file', ['--config', aFile(), 'check']],
      ['export --file into a missing directory', ['--db', db, 'export', 'plain', '--file', join(missing(), 'out')], 1],
      ['export --file of a directory', ['--db', db, 'export', 'plain', '--file', aDir()], 2],
      ['test-filter with a missing filter', ['test-filter', 'a log line', join(missing(), 'sshd.conf')], 2],
      ['test-filter on a directory', ['test-filter', aDir(), 'sshd'], 2],
      ['ban of a bad address', ['--db', db, '--backend', 'none', 'ban', '203.0.113.300'], 2],
      ['unban of a bad address', ['--db', db, '--backend', 'none', 'unban', 'not-an-address'], 2],
      ['ban for a bad duration', ['--db', db, '--backend', 'none', 'ban', '203.0.113.9', '--for', '3 fortnights'], 2],
      ['purge older than a bad duration', ['--db', db, 'purge', '--older-than', 'soon'], 2],
      ['an unknown command', ['--db', db, 'frobnicate'], 2],
      ['an unknown option', ['--db', db, 'list', '--colour'], 2],
      ['completion for an unknown shell', ['completion', 'tcsh'], 2],
      ['an empty --db', ['--db', '', 'list'], 2],
    ];
    for (const [what, args, code] of cases) assertOneLine(runCli(args), what, code);
  });

  it('a full disk on stdout (> /dev/full) is one line and exit 1, for every command that prints', () => {
    const printing = [
      ['list'], ['list', '--all'], ['show', '203.0.113.7'], ['--json', 'status'], ['status'],
      ...['plain', 'json', 'csv', 'hosts-deny', 'ipset', 'nft'].map((format) => ['export', format]),
      ['--version'], ['--help'], ['completion', 'bash'], ['check'], ['test-filter', 'sshd[1]: Failed password for root from 203.0.113.7 port 22 ssh2', 'sshd'],
    ];
    for (const args of printing) {
      const fd = openSync(full, 'w');
      try {
        const run = spawnSync(process.execPath, [BIN, '--db', db, ...args], {
          stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG }, timeout: 60_000,
        });
        assertOneLine({ code: run.status, stderr: run.stderr }, `${args.join(' ')} > /dev/full`, 1);
        assert.match(run.stderr, /cannot write to standard output: no space left on the device/);
      } finally {
        closeSync(fd);
      }
    }
  });

  it('bare f2b-store prints its help on stderr and exits 2, with nothing after the help', () => {
    const run = runCli([]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^Usage: f2b-store /);
    assert.match(run.stderr, /Exit codes: .*\n$/);
    assert.doesNotMatch(run.stderr, /outputHelp/);
  });

  it('a database on a read-only file system says so', () => {
    const ro = join(tmp.dir, 'ro');
    mkdirSync(ro);
    assert.equal(runCli(['--db', join(ro, 'bans.sqlite3'), '--backend', 'none', 'ban', '203.0.113.7']).code, 0);
    const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind -o ro "$1" "$1" && exec "$2" "$3" --db "$1/bans.sqlite3" list',
      'sh', ro, process.execPath, BIN], { encoding: 'utf8', env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG } });
    assertOneLine({ code: run.status, stderr: run.stderr }, 'list of a database on a read-only mount', 1);
    assert.match(run.stderr, /cannot be written \(a read-only file system\?\)/);
  });
});
