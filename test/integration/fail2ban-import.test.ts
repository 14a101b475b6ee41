import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isoTime } from '../../src/core/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { fail2banBips, privateFail2ban, python, type Fail2banBip, type PrivateFail2ban } from '../helpers/fail2ban.js';
import { createNetns, type Netns } from '../helpers/netns.js';

interface BanJson { address: string; jail: string; bannedAt: string; expiresAt: string | null; source: string; banCount: number; liftedAt: string | null; liftedBy: string | null }

function jail(name: string, options: string, log: string): string {
  return `[${name}]\nenabled = true\nfilter = f2bt\nlogpath = ${log}\n${options}\n`;
}

/**
 * A database written by the real fail2ban 1.0.2: bans in four jails (IPv4, IPv6, permanent, one
 * already expired, one counted twice by bantime.increment over all jails, one of loopback), then
 * one row fail2ban can also hold but that is no address (a filter's F-ID), added after it stopped.
 */
describe('import fail2ban-db from a database the real fail2ban wrote', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let fail2ban: PrivateFail2ban;
  let db: string;
  let bips: Fail2banBip[];
  const store = (): string => join(tmp.dir, 'store.sqlite3');
  const cli = (...args: string[]): CliResult => runCli(['--db', store(), ...args]);

  before(async () => {
    tmp = tempDir();
    ns = createNetns();
    const log = join(tmp.dir, 'quiet.log');
    writeFileSync(log, '');
    fail2ban = privateFail2ban(ns, {
      'filter.d/f2bt.conf': '[Definition]\nfailregex = ^auth failure from <HOST>$\ndatepattern = {NONE}\n',
      'jail.local': [
        jail('alpha', 'bantime = 1h', log),
        jail('beta', 'bantime = 1h\nbantime.increment = true\nbantime.overalljails = true', log),
        jail('forever', 'bantime = -1', log),
        jail('brief', 'bantime = 1', log),
      ].join('\n'),
    });
    await fail2ban.start(['alpha', 'beta', 'forever', 'brief']);
    fail2ban.client(['set', 'alpha', 'banip', '203.0.113.10', '2001:db8::10', '127.0.0.1']);
    fail2ban.client(['set', 'forever', 'banip', '198.51.100.20', '2001:db8::20']);
    fail2ban.client(['set', 'brief', 'banip', '203.0.113.30']);
    // fail2ban writes bans to its database asynchronously: beta must find alpha's to count 2.
    await sleep(500);
    fail2ban.client(['set', 'beta', 'banip', '203.0.113.10']);
    await sleep(1500);
    await fail2ban.stop();
    db = join(tmp.dir, 'fail2ban.sqlite3');
    copyFileSync(fail2ban.db, db);
    python([
      'import sqlite3, sys',
      'con = sqlite3.connect(sys.stdin.read())',
      'with con:',
      '    con.execute("INSERT INTO bips(ip, jail, timeofban, bantime, bancount) VALUES(\'alice\', \'alpha\', strftime(\'%s\'), 600, 1)")',
      'con.close()',
    ].join('\n'), db);
    bips = fail2banBips(db);
  });
  after(async () => {
    await fail2ban?.remove();
    ns?.remove();
    tmp?.cleanup();
  });

  it('fail2ban made the database this test expects', () => {
    const beta = bips.find((b) => b.jail === 'beta');
    assert.equal(bips.length, 8, fail2ban.log());
    assert.deepEqual([beta?.bancount, beta?.bantime], [2, 7200], 'bantime.increment counted the ban in alpha');
    assert.equal(bips.find((b) => b.jail === 'forever')?.bantime, -1);
  });

  it('imports the active bans with their original time, length and count; reports the bad row and loopback', () => {
    const result = cli('--json', 'import', 'fail2ban-db', db);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 5, skipped: 2 });
    assert.match(result.stderr, /fail2ban\.sqlite3: bips row \d+: not an IP address or CIDR: "alice"\n/);
    assert.match(result.stderr, /fail2ban\.sqlite3: 127\.0\.0\.1 in jail alpha: refused: .*loopback.* \(use --force to import it\)\n/);
    assert.equal(result.stderr.trim().split('\n').length, 2, 'one line each');
    const active = JSON.parse(cli('--json', 'list').stdout) as BanJson[];
    const expected = bips.filter((b) => !['alice', '127.0.0.1'].includes(b.ip) && b.jail !== 'brief').map((b) => ({
      address: b.ip,
      jail: b.jail,
      bannedAt: isoTime(b.timeofban),
      expiresAt: b.bantime === -1 ? null : isoTime(b.timeofban + b.bantime),
      source: 'fail2ban',
      banCount: b.bancount,
    }));
    const got = active.map(({ address, jail: j, bannedAt, expiresAt, source, banCount }) => ({ address, jail: j, bannedAt, expiresAt, source, banCount }));
    const order = (a: { jail: string; address: string }, b: { jail: string; address: string }): number =>
      `${a.jail} ${a.address}`.localeCompare(`${b.jail} ${b.address}`);
    assert.deepEqual(got.sort(order), expected.sort(order));
  });

  it('keeps the expired ban as history, not as an active ban', () => {
    const [ban, ...more] = JSON.parse(cli('--json', 'show', '203.0.113.30').stdout) as BanJson[];
    const brief = bips.find((b) => b.jail === 'brief');
    assert.equal(more.length, 0);
    assert.deepEqual([ban?.jail, ban?.liftedBy, ban?.liftedAt], ['brief', 'expired', isoTime((brief?.timeofban ?? 0) + 1)]);
  });

  it('importing it again adds nothing and counts nothing twice', () => {
    const before = cli('--json', 'list', '--all').stdout;
    const result = cli('--json', 'import', 'fail2ban-db', db);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 0, skipped: 8 });
    assert.equal(cli('--json', 'list', '--all').stdout, before);
  });

  it('says what it did in words', () => {
    const result = runCli(['--db', join(tmp.dir, 'other.sqlite3'), 'import', 'fail2ban-db', db]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'imported 5 active bans from fail2ban (5 new, 0 extended), 1 expired as history; skipped 2 (2 bad or refused, 0 already here)\n');
  });

  it('--force imports loopback too', () => {
    const forced = ['--db', join(tmp.dir, 'forced.sqlite3')];
    const result = runCli([...forced, '--json', 'import', 'fail2ban-db', db, '--force']);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 6, skipped: 1 });
    const [ban] = JSON.parse(runCli([...forced, '--json', 'show', '127.0.0.1']).stdout) as BanJson[];
    assert.deepEqual([ban?.jail, ban?.liftedAt], ['alpha', null]);
  });

  it('holds a ban fail2ban kept for millions of years to 100 years, and refuses a time of ban past year 9999', () => {
    const huge = join(tmp.dir, 'huge.sqlite3');
    copyFileSync(db, huge);
    python([
      'import sqlite3, sys',
      'con = sqlite3.connect(sys.stdin.read())',
      'with con:',
      '    con.execute("INSERT INTO bips(ip, jail, timeofban, bantime, bancount) VALUES(\'203.0.113.40\', \'alpha\', 1700000000, 100000000000000, 1)")',
      '    con.execute("INSERT INTO bips(ip, jail, timeofban, bantime, bancount) VALUES(\'203.0.113.41\', \'alpha\', 1000000000000000, 600, 1)")',
      'con.close()',
    ].join('\n'), huge);
    const target = ['--db', join(tmp.dir, 'huge-store.sqlite3')];
    const result = runCli([...target, 'import', 'fail2ban-db', huge]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /bips row \d+: bad timeofban "1000000000000000"/);
    const [ban, ...more] = JSON.parse(runCli([...target, '--json', 'show', '203.0.113.40']).stdout) as BanJson[];
    assert.equal(more.length, 0);
    assert.deepEqual([ban?.bannedAt, ban?.expiresAt], [isoTime(1_700_000_000), isoTime(1_700_000_000 + 100 * 365 * 86400)]);
    const exported = runCli([...target, 'export', 'json']);
    assert.equal(exported.code, 0, exported.stderr);
  });

  it('refuses a file that is not a fail2ban database in one line, exit 2', () => {
    const result = cli('import', 'fail2ban-db', store());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^f2b-store: .*store\.sqlite3 is not a fail2ban database \(it has no fail2banDb table\)\n$/);
  });
});
