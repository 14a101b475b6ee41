import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { python } from '../helpers/fail2ban.js';

const NOBODY = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());

/** Runs `argv` as the unprivileged user nobody (a real other user, not a simulation). */
function asNobody(argv: readonly string[]): void {
  execFileSync('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', ...argv]);
}

function hash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('a database another user owns or may write is refused (the root daemon would make its rows firewall rules)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  /** A fresh directory of root's, 0700, for one case. */
  const place = (): string => {
    const dir = join(tmp.dir, `case-${++n}`);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  };
  const refused = (result: CliResult, pattern: RegExp): void => {
    assert.equal(result.code, 1, `exit code 1: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  };

  before(() => {
    tmp = tempDir();
    // nobody may pass through to the directories a case opens to it.
    chmodSync(tmp.dir, 0o711);
  });
  after(() => tmp.cleanup());

  it('a world-writable database file made by another user, as the issue found it: refused by the CLI and the daemon, left as it is', () => {
    const dir = place();
    chmodSync(dir, 0o777);
    const db = join(dir, 'bans.sqlite3');
    asNobody(['touch', db]);
    asNobody(['chmod', '666', db]);
    chmodSync(dir, 0o755);
    refused(runCli(['--db', db, 'ban', '203.0.113.7']), new RegExp(`database ${db} is owned by uid ${NOBODY}, not by root \\(uid 0\\) .*--insecure-db`));
    refused(runCli(['--db', db, 'start']), /is owned by uid \d+.*--insecure-db/);
    assert.deepEqual(readdirSync(dir), ['bans.sqlite3'], 'no -wal or -shm made');
    assert.equal(readFileSync(db, 'utf8'), '', 'nothing written into it');
  });

  it('a database directory that others may write (they could plant its -wal, or the pid file) is refused before anything is made in it', () => {
    const dir = place();
    chmodSync(dir, 0o777);
    const db = join(dir, 'bans.sqlite3');
    refused(runCli(['--db', db, 'ban', '203.0.113.7']), new RegExp(`database directory ${dir} may be written by everyone \\(mode 0777\\)`));
    assert.deepEqual(readdirSync(dir), []);
    chmodSync(dir, 0o770);
    refused(runCli(['--db', db, 'ban', '203.0.113.7']), /may be written by its group \(mode 0770\)/);
    chmodSync(dir, 0o700);
    chownSync(dir, NOBODY, 0);
    refused(runCli(['--db', db, 'ban', '203.0.113.7']), new RegExp(`database directory ${dir} is owned by uid ${NOBODY}`));
  });

  it('our own database made writable by others is refused by every command; --insecure-db uses it anyway', () => {
    const dir = place();
    const db = join(dir, 'bans.sqlite3');
    assert.equal(runCli(['--db', db, 'ban', '203.0.113.7']).code, 0);
    chmodSync(db, 0o666);
    for (const args of [['list'], ['ban', '203.0.113.8'], ['export', 'plain'], ['reconcile'], ['status'], ['repair']]) {
      refused(runCli(['--db', db, ...args]), new RegExp(`database ${db} may be written by everyone \\(mode 0666\\)`));
    }
    const insecure = runCli(['--insecure-db', '--db', db, '--json', 'list']);
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal((JSON.parse(insecure.stdout) as unknown[]).length, 1);
  });

  it('a -wal planted beside our database by another user is refused', () => {
    const dir = place();
    const db = join(dir, 'bans.sqlite3');
    assert.equal(runCli(['--db', db, 'ban', '203.0.113.7']).code, 0);
    writeFileSync(`${db}-wal`, '');
    chownSync(`${db}-wal`, NOBODY, 0);
    refused(runCli(['--db', db, 'list']), new RegExp(`database WAL ${db}-wal is owned by uid ${NOBODY}`));
  });

  it('fail2ban\'s own database is refused, unchanged, with the way to import it', () => {
    const dir = place();
    const db = join(dir, 'fail2ban.sqlite3');
    python('import sys\nfrom fail2ban.server.database import Fail2BanDb\nFail2BanDb(sys.stdin.read())', db);
    const before = hash(db);
    for (const args of [['list'], ['ban', '203.0.113.7'], ['start']]) {
      refused(runCli(['--db', db, ...args]), new RegExp(`${db} is not an f2b-store database \\(it holds tables bans, bips, fail2banDb, jails, logs\\).*import fail2ban-db ${db}`));
    }
    assert.equal(hash(db), before, 'never migrated');
  });

  it('any other program\'s SQLite database, with or without a schema version, is refused unchanged', () => {
    const dir = place();
    for (const [name, version] of [['app.sqlite3', 2], ['plain.sqlite3', 0]] as const) {
      const db = join(dir, name);
      const other = new Database(db);
      other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
      other.pragma(`user_version = ${version}`);
      other.close();
      const before = hash(db);
      refused(runCli(['--db', db, 'ban', '203.0.113.7']), new RegExp(`${db} is not an f2b-store database \\(it holds tables notes\\)`));
      assert.equal(hash(db), before, `${name} was not changed`);
      assert.ok(!existsSync(`${db}.v${version}.bak`), 'no upgrade backup either');
    }
  });
});
