import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

const BAN_KEYS = ['address', 'jail', 'bannedAt', 'expiresAt', 'source', 'reason', 'failures', 'banCount', 'liftedAt', 'liftedBy', 'forced'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('f2b-store command line (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  const cli = (...args: string[]): CliResult => runCli(['--db', db, ...args]);
  const json = <T>(...args: string[]): T => {
    const result = cli('--json', ...args);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as T;
  };
  const failsWith = (code: number, pattern: RegExp, ...args: string[]): void => {
    const result = cli(...args);
    assert.equal(result.code, code, `exit code of ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /\bat .*\.(js|ts):\d+/, 'no stack trace');
  };

  before(() => {
    tmp = tempDir();
    db = join(tmp.dir, 'lib', 'bans.sqlite3');
  });
  after(() => tmp.cleanup());

  it('bans an address and prints the contract JSON', () => {
    const out = json<{ ban: Record<string, unknown> }>('ban', '203.0.113.7', '--for', '1h', '--reason', 'ssh brute force');
    assert.deepEqual(Object.keys(out.ban), BAN_KEYS);
    assert.equal(out.ban.address, '203.0.113.7');
    assert.equal(out.ban.jail, 'manual');
    assert.equal(out.ban.source, 'manual');
    assert.equal(out.ban.reason, 'ssh brute force');
    assert.match(String(out.ban.bannedAt), ISO);
    const length = Date.parse(String(out.ban.expiresAt)) - Date.parse(String(out.ban.bannedAt));
    assert.equal(length, 3600_000);
    assert.equal(out.ban.liftedAt, null);
  });

  it('stores the canonical form and extends instead of duplicating', () => {
    json('ban', '::ffff:203.0.113.7', '--for', '2h');
    const list = json<Record<string, unknown>[]>('list');
    const mine = list.filter((b) => b.address === '203.0.113.7');
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.banCount, 2);
  });

  it('bans IPv6 and networks, permanent, in a named jail', () => {
    const v6 = json<{ ban: { address: string; expiresAt: null } }>('ban', '2001:DB8:0::66', '--permanent', '--jail', 'sshd');
    assert.equal(v6.ban.address, '2001:db8::66');
    assert.equal(v6.ban.expiresAt, null);
    const net = json<{ ban: { address: string } }>('ban', '198.51.100.77/24', '--jail', 'sshd', '--for', '7d');
    assert.equal(net.ban.address, '198.51.100.0/24');
  });

  it('lists for people in aligned columns, relative times, no colour codes', () => {
    const result = cli('list');
    assert.equal(result.code, 0);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ADDRESS\s+JAIL\s+BANNED\s+EXPIRES\s+SOURCE\s+BANS\s+REASON$/);
    assert.equal(lines.length, 4);
    const col = lines[0]!.indexOf('EXPIRES');
    for (const line of lines.slice(1)) assert.match(line.slice(col), /^(in \d+|permanent)/, line);
    assert.match(result.stdout, /permanent/);
    assert.match(result.stdout, /in 1w|in 6d 23h/);
    assert.ok(!result.stdout.includes('\u001b['), 'no escape sequences');
  });

  it('lists one jail', () => {
    assert.deepEqual(json<{ address: string }[]>('list', '--jail', 'sshd').map((b) => b.address).sort(), ['198.51.100.0/24', '2001:db8::66']);
  });

  it('unban lifts the address in every jail and keeps it as history', () => {
    json('ban', '203.0.113.7', '--jail', 'sshd', '--for', '1d');
    const out = json<{ lifted: { jail: string; liftedAt: string; liftedBy: string }[] }>('unban', '203.0.113.7');
    assert.deepEqual(out.lifted.map((b) => b.jail).sort(), ['manual', 'sshd']);
    assert.ok(out.lifted.every((b) => ISO.test(b.liftedAt) && b.liftedBy === 'unban'));
    assert.ok(!json<{ address: string }[]>('list').some((b) => b.address === '203.0.113.7'));
    const shown = json<{ liftedAt: string | null }[]>('show', '203.0.113.7');
    assert.equal(shown.length, 2);
    assert.ok(shown.every((b) => b.liftedAt !== null));
    assert.ok(json<{ address: string }[]>('list', '--all').some((b) => b.address === '203.0.113.7'));
  });

  it('unban --jail lifts only that jail and says what still blocks the address', () => {
    json('ban', '203.0.113.50', '--jail', 'sshd');
    json('ban', '203.0.113.50', '--jail', 'recidive', '--permanent');
    const result = cli('unban', '203.0.113.50', '--jail', 'sshd');
    assert.equal(result.code, 0);
    assert.match(result.stdout, /unbanned 203\.0\.113\.50 in jail sshd/);
    assert.match(result.stdout, /still blocked by 203\.0\.113\.50 in jail recidive \(permanent\)/);
    assert.deepEqual(json<{ jail: string }[]>('list').filter((b) => 'address' in b && (b as { address: string }).address === '203.0.113.50').map((b) => b.jail), ['recidive']);
  });

  it('unban of an address inside a banned network says the network still blocks it', () => {
    const result = cli('unban', '198.51.100.9');
    assert.equal(result.code, 0);
    assert.match(result.stdout, /198\.51\.100\.9 was not banned\nstill blocked by 198\.51\.100\.0\/24 in jail sshd/);
    assert.deepEqual(json<{ lifted: unknown[] }>('unban', '198.51.100.9').lifted, []);
  });

  it('show for people', () => {
    const result = cli('show', '203.0.113.7');
    assert.match(result.stdout, /^ADDRESS\s+JAIL\s+BANNED\s+ENDS/);
    assert.match(result.stdout, /unban (just now|\d+s ago)/);
    assert.match(cli('show', '203.0.113.99').stdout, /203\.0\.113\.99 has never been banned/);
  });

  for (const bad of ['1.2.3', '999.1.1.1', '::g', '1.2.3.4/33', 'example.com', '']) {
    it(`rejects address ${JSON.stringify(bad)} with exit 2 naming it`, () => {
      failsWith(2, new RegExp(`"${bad.replace(/[.*/]/g, '\\$&')}"`), 'ban', bad);
    });
  }

  for (const bad of ['10x', '-5', '1.5.3h']) {
    it(`rejects duration ${bad} with exit 2 naming it`, () => failsWith(2, new RegExp(`bad duration "${bad.replace(/\./g, '\\.')}"`), 'ban', '203.0.113.9', '--for', bad));
  }

  it('rejects bad usage with exit 2 and one line', () => {
    failsWith(2, /unknown command 'frobnicate' \(see f2b-store --help\)\n$/, 'frobnicate');
    // The help that lists the options the mistyped one was meant for: the command's own.
    failsWith(2, /unknown option '--nope' \(see f2b-store ban --help\)\n$/, 'ban', '203.0.113.9', '--nope');
    failsWith(2, /unknown option '--nope' \(see f2b-store --help\)\n$/, '--nope', 'list');
    failsWith(2, /unknown option '--nope' \(see f2b-store export plain --help\)\n$/, 'export', 'plain', '--nope');
    failsWith(2, /cannot be used with/, 'ban', '203.0.113.9', '--for', '1h', '--permanent');
    failsWith(2, /bad jail name "no spaces"/, 'ban', '203.0.113.9', '--jail', 'no spaces');
    failsWith(2, /bad source "robot"/, 'ban', '203.0.113.9', '--source', 'robot');
    failsWith(2, /unknown backend "pf"/, '--backend', 'pf', 'ban', '203.0.113.9');
  });

  for (const [address, why] of [['127.0.0.1', 'loopback'], ['::1', 'loopback'], ['0.0.0.0/0', 'wider than /8'], ['::/0', 'wider than /32'], ['10.0.0.0/7', 'wider than /8']] as const) {
    it(`refuses to ban ${address} (${why}) unless --force`, () => failsWith(2, new RegExp(`refusing to ban .*${why}.*--force`), 'ban', address));
  }

  it('refuses this host\'s own addresses', () => {
    const own = Object.values(networkInterfaces()).flat().map((i) => i!.address).filter((a) => !a.startsWith('127.') && a !== '::1');
    for (const address of own) failsWith(2, /address of this host/, 'ban', address);
  });

  it('--force bans what would otherwise be refused', () => {
    const out = json<{ ban: { address: string } }>('ban', '127.0.0.2', '--force', '--for', '1m');
    assert.equal(out.ban.address, '127.0.0.2');
    json('unban', '127.0.0.2');
  });

  it('--backend none records without a firewall', () => {
    assert.equal(cli('--backend', 'none', 'ban', '203.0.113.60', '--for', '1m').code, 0);
  });

  it('--backend none with --db unbans without reading the configuration, even one that would not load', () => {
    const broken = join(tmp.dir, 'broken-config');
    mkdirSync(broken);
    writeFileSync(join(broken, 'f2b-store.conf'), '[reconcile]\nbackends = no-such-firewall\n');
    const result = cli('--config', broken, '--backend', 'none', 'unban', '203.0.113.60');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'unbanned 203.0.113.60 in jail manual\n');
  });

  it('imports a list: bad lines reported by number and skipped, the rest stored, twice adds nothing', () => {
    const file = join(tmp.dir, 'ip.deny');
    writeFileSync(file, '# hand-kept\n203.0.113.100\n\nbogus line\n198.51.100.128/25\n127.0.0.1\n2001:db8::bad\n203.0.113.100\n');
    const first = cli('--json', 'import', 'list', file);
    assert.equal(first.code, 0);
    assert.deepEqual(JSON.parse(first.stdout), { imported: 3, skipped: 3 });
    assert.match(first.stderr, new RegExp(`${file}:4: not an IP address or CIDR: "bogus line"`));
    assert.match(first.stderr, new RegExp(`${file}:6: refused: 127\\.0\\.0\\.1 is loopback`));
    const imported = json<{ address: string; jail: string; source: string; expiresAt: null }[]>('list', '--jail', 'import');
    assert.deepEqual(imported.map((b) => b.address).sort(), ['198.51.100.128/25', '2001:db8::bad', '203.0.113.100']);
    assert.ok(imported.every((b) => b.source === 'import' && b.expiresAt === null));
    const second = cli('import', 'list', file);
    assert.match(second.stdout, /imported 0 .* skipped 6 \(2 bad or refused, 4 already banned\)/);
  });

  it('imports from standard input with a jail and a duration', () => {
    const result = runCli(['--db', db, '--json', 'import', 'list', '-', '--jail', 'blocklist', '--for', '30d'], { input: '203.0.113.200\n203.0.113.201\n' });
    assert.deepEqual(JSON.parse(result.stdout), { imported: 2, skipped: 0 });
  });

  it('a missing import file is bad input', () => failsWith(2, /cannot read ban list .*nope\.txt/, 'import', 'list', join(tmp.dir, 'nope.txt')));

  it('finds the database through F2B_STORE_DB and through the config file', () => {
    const viaEnv = join(tmp.dir, 'env.sqlite3');
    runCli(['ban', '203.0.113.70'], { env: { F2B_STORE_DB: viaEnv } });
    assert.equal(JSON.parse(runCli(['--json', 'list'], { env: { F2B_STORE_DB: viaEnv } }).stdout).length, 1);
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[store]\ndbfile = ${join(tmp.dir, 'wrong.sqlite3')}\n[reconcile]\nbackends = none\n`);
    writeFileSync(join(config, 'f2b-store.local'), `[store]\ndbfile = ${viaEnv}   ; .local wins\n`);
    const env = { F2B_STORE_DB: undefined };
    const viaConfig = runCli(['--config', config, '--json', 'list'], { env });
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.equal(JSON.parse(viaConfig.stdout).length, 1);
  });

  it('a database it cannot open is exit 1, one line, naming the file', () => {
    const result = runCli(['--db', '/proc/version/x.sqlite3', 'ban', '203.0.113.9']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^f2b-store: cannot open database \/proc\/version\/x\.sqlite3: .*\n$/);
  });

  it('a database from a newer f2b-store is refused with exit 1', () => {
    const newer = join(tmp.dir, 'newer.sqlite3');
    const handle = new Database(newer);
    handle.pragma('user_version = 42');
    handle.close();
    const result = runCli(['--db', newer, 'list']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /schema version 42, newer than this f2b-store knows .*not modified/);
  });

  it('purge keeps active bans', () => {
    const out = json<{ purged: number }>('purge', '--older-than', '1s');
    assert.equal(typeof out.purged, 'number');
    assert.ok(json<unknown[]>('list').length > 0);
  });

  it('--help explains every command', () => {
    const help = runCli(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['ban', 'unban', 'list', 'show', 'import', 'purge']) assert.match(help.stdout, new RegExp(`\\n  ${command} `));
    assert.match(runCli(['ban', '--help']).stdout, /--permanent/);
  });
});
