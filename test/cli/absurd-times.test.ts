import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const FAR_END = '9999-12-31T23:59:59Z';

interface BanJson { address: string; bannedAt: string; expiresAt: string | null; liftedAt: string | null; banCount: number }

function oneLine(result: CliResult): void {
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\bat .*\.(js|ts):\d+|unexpected error/, 'no stack trace');
}

describe('durations past 100 years, and absurd times already stored (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  const cli = (...args: string[]): CliResult => runCli(['--db', db, ...args]);
  const ok = (...args: string[]): string => {
    const result = cli(...args);
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr, '');
    return result.stdout;
  };

  before(() => {
    tmp = tempDir();
    db = join(tmp.dir, 'bans.sqlite3');
  });
  after(() => tmp.cleanup());

  it('refuses --for 1000000y with exit 2, naming the value and permanent, and stores nothing', () => {
    for (const args of [['ban', '203.0.113.7', '--for', '1000000y'], ['ban', '203.0.113.7', '--for', '101y']]) {
      const result = cli(...args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^f2b-store: duration "10(00000|1)y" is longer than the maximum of 100 years .*permanent/);
      oneLine(result);
    }
    assert.equal(existsSync(db), false, 'no database was even made');
  });

  it('accepts 100y', () => {
    const { ban } = JSON.parse(ok('--json', 'ban', '203.0.113.8', '--for', '100y')) as { ban: BanJson };
    assert.equal(Date.parse(ban.expiresAt ?? '') - Date.parse(ban.bannedAt), 100 * 365 * 86400_000);
  });

  it('reads rows an old version or sqlite3 by hand wrote with absurd times: every reader works', () => {
    const raw = new Database(db);
    const insert = raw.prepare(
      "INSERT INTO bans (address, jail, banned_at, expires_at, source, ban_count, lifted_at) VALUES (?, 'manual', ?, ?, 'manual', ?, ?)");
    insert.run('203.0.113.9', 1_700_000_000, 1e15, 1, null);
    insert.run('203.0.113.10', 'yesterday', 'never', 'many', null);
    insert.run('2001:db8::9', 1_700_000_000, 2 ** 62, 1, null);
    insert.run('203.0.113.11', 1_700_000_000, 1_700_000_600, 1, 1e300);
    raw.close();
    const active = JSON.parse(ok('--json', 'list')) as BanJson[];
    assert.deepEqual(active.map((b) => [b.address, b.expiresAt]).sort(), [
      ['2001:db8::9', FAR_END], ['203.0.113.10', FAR_END], ['203.0.113.8', active.find((b) => b.address === '203.0.113.8')?.expiresAt],
      ['203.0.113.9', FAR_END],
    ]);
    for (const ban of active) {
      assert.match(ban.bannedAt, ISO);
      assert.equal(typeof ban.banCount, 'number');
    }
    assert.equal(ok('export', 'json'), ok('--json', 'list'));
    const csv = ok('export', 'csv').trimEnd().split('\r\n');
    assert.equal(csv.length, 5);
    assert.ok(csv.some((line) => line.startsWith(`203.0.113.9,manual,2023-11-14T22:13:20Z,${FAR_END},`)), csv.join('\n'));
    assert.deepEqual(ok('export', 'plain').trimEnd().split('\n').sort(), ['2001:db8::9', '203.0.113.10', '203.0.113.8', '203.0.113.9']);
    for (const format of ['nft', 'ipset', 'hosts-deny']) assert.match(ok('export', format), /203\.0\.113\.9/, format);
    assert.match(ok('list'), /203\.0\.113\.9 +manual .* in 7\d{3}y/);
    assert.match(ok('list', '--all'), /203\.0\.113\.11 .* expired in 7\d{3}y/);
    const [shown] = JSON.parse(ok('--json', 'show', '203.0.113.9')) as BanJson[];
    assert.equal(shown?.expiresAt, FAR_END);
    assert.match(ok('show', '203.0.113.10'), /203\.0\.113\.10/);
    const [lifted] = JSON.parse(ok('--json', 'show', '203.0.113.11')) as BanJson[];
    assert.equal(lifted?.liftedAt, FAR_END);
    assert.match(ok('status'), /manual +no +0 +- +4 +5/);
    const hostsDeny = join(tmp.dir, 'hosts.deny');
    writeFileSync(hostsDeny, '');
    mkdirSync(join(tmp.dir, 'deny'));
    writeFileSync(join(tmp.dir, 'deny', 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${hostsDeny}\n`);
    const reconciled = runCli(['--db', db, '--config', join(tmp.dir, 'deny'), 'reconcile']);
    assert.equal(reconciled.code, 0, reconciled.stderr);
    assert.match(readFileSync(hostsDeny, 'utf8'), /^ALL: 203\.0\.113\.10$/m);
  });

  it('a new ban of an address held until the far end keeps it, and repeat bans count on', () => {
    const { ban, change } = JSON.parse(ok('--json', 'ban', '203.0.113.9', '--for', '1h')) as { ban: BanJson; change: string };
    assert.deepEqual([change, ban.expiresAt], ['kept', FAR_END]);
    const again = JSON.parse(ok('--json', 'ban', '203.0.113.10', '--for', '1h')) as { ban: BanJson; change: string };
    assert.deepEqual([again.change, again.ban.expiresAt], ['kept', FAR_END]);
  });

  it('refuses bantime = 1000000y in a jail: check exits 2 naming the file and line', () => {
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(tmp.dir, 'auth.log'), '');
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(tmp.dir, 'auth.log')}\nbantime = 1000000y\n`);
    const result = runCli(['--db', db, '--config', config, 'check']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^f2b-store: .*\/etc\/jail\.local:5: \[sshd\] bantime: duration "1000000y" is longer than the maximum of 100 years/);
    oneLine(result);
  });
});
