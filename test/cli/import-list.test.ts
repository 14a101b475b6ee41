import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, runCli, SAFE_CONFIG, tempDir, type CliResult } from '../helpers/cli.js';

interface BanJson {
  address: string;
  jail: string;
  expiresAt: string | null;
  source: string;
}

/** Lines in the many shapes hand-kept deny files have, bad ones among them (numbers in comments). */
const IP_DENY = [
  '# /etc/ip.deny - kept by hand since 2019',       // 1
  '203.0.113.7',                                    // 2
  '203.0.113.8   # lfd: (sshd) Failed SSH login from 203.0.113.8: 5 in the last 3600 secs',
  '198.51.100.0/255.255.255.128 ; SBL123456',       // 4
  '',                                               // 5
  '2001:DB8::7',                                    // 6
  'deny from 203.0.113.9 203.0.113.10',             // 7
  'scanner.example.com',                            // 8
  'ALL: 203.0.113.11',                              // 9
  '203.0.113.300',                                  // 10
  'sshd: [2001:db8:1::]/48, 203.0.113.12',          // 11
  '127.0.0.1',                                      // 12
  'ALL: 203.0.113.0/24 EXCEPT 203.0.113.5',         // 13
  '203.0.113.7',                                    // 14: a repeat
].join('\n');

describe('import list: ip.deny, hosts.deny and plain lists through the built binary', () => {
  let tmp: ReturnType<typeof tempDir>;
  const dbOf = (name: string): string => join(tmp.dir, `${name}.sqlite3`);
  const cli = (db: string, ...args: string[]): CliResult => runCli(['--db', db, ...args]);
  const listed = (db: string): BanJson[] => {
    const result = cli(db, '--json', 'list');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as BanJson[];
  };
  const addresses = (db: string): string[] => listed(db).map((b) => b.address).sort();

  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.cleanup());

  it('an ip.deny with bad lines: each reported with its number and skipped, the rest imported at once', () => {
    const file = join(tmp.dir, 'ip.deny');
    writeFileSync(file, IP_DENY);
    const db = dbOf('ipdeny');
    const result = cli(db, '--json', 'import', 'list', file, '--jail', 'legacy');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 9, skipped: 5 });
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      `${file}:8: not an IP address or CIDR: "scanner.example.com"`,
      `${file}:10: not an IP address or CIDR: "203.0.113.300"`,
      `${file}:13: an EXCEPT list, not imported: "ALL: 203.0.113.0/24 EXCEPT 203.0.113.5"`,
      `${file}:12: refused: 127.0.0.1 is loopback (use --force to import it)`,
    ]);
    const bans = listed(db);
    assert.deepEqual(bans.map((b) => b.address).sort(), [
      '198.51.100.0/25', '2001:db8:1::/48', '2001:db8::7',
      '203.0.113.10', '203.0.113.11', '203.0.113.12', '203.0.113.7', '203.0.113.8', '203.0.113.9',
    ]);
    assert.ok(bans.every((b) => b.jail === 'legacy' && b.source === 'import' && b.expiresAt === null), 'every ban in jail legacy, permanent');
    // Permanent, so a second import finds every ban already as long (a timed one would be extended by the seconds passed).
    const again = cli(db, 'import', 'list', file, '--jail', 'legacy');
    assert.match(again.stdout, /^imported 0 into jail legacy .*skipped 14 \(4 bad or refused, 10 already banned\)\n$/);
  });

  it('a hosts.deny written by fail2ban\'s own hostsdeny action imports as it is', () => {
    // The action's ban command from the installed fail2ban, run as fail2ban runs it (through sh).
    const action = readFileSync('/etc/fail2ban/action.d/hostsdeny.conf', 'utf8');
    const ban = /^actionban = (.*)$/m.exec(action)?.[1];
    assert.ok(ban !== undefined, 'hostsdeny.conf has an actionban line');
    const file = join(tmp.dir, 'fail2ban-hosts.deny');
    writeFileSync(file, '# hosts.deny: list of hosts that are _not_ allowed to access the system.\nALL: PARANOID\n');
    for (const value of ['203.0.113.40', '203.0.113.41', '[2001:db8::40]']) {
      const command = ban.replaceAll('%%', '%').replaceAll('<daemon_list>', 'ALL').replaceAll('<ip_value>', value).replaceAll('<file>', file);
      execFileSync('sh', ['-c', command]);
    }
    assert.match(readFileSync(file, 'utf8'), /^ALL: \[2001:db8::40\]$/m);
    const db = dbOf('fail2ban-hostsdeny');
    const result = cli(db, '--json', 'import', 'list', file);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 3, skipped: 1 });
    assert.equal(result.stderr, `${file}:2: not an IP address or CIDR: "PARANOID"\n`);
    assert.deepEqual(addresses(db), ['2001:db8::40', '203.0.113.40', '203.0.113.41']);
  });

  it('round trip: export hosts-deny into a file, import list of that file, the same addresses are banned', () => {
    const source = dbOf('source');
    for (const [address, jail] of [['203.0.113.50', 'sshd'], ['203.0.113.50', 'web'], ['198.51.100.0/24', 'sshd'],
      ['198.51.100.200/29', 'web'], ['2001:db8::50', 'sshd'], ['2001:db8:5::/48', 'web'], ['203.0.113.128/25', 'sshd']] as const) {
      assert.equal(cli(source, 'ban', address, '--jail', jail, '--for', '1d').code, 0);
    }
    const file = join(tmp.dir, 'round-trip.deny');
    writeFileSync(file, 'sshd: 10.9.9.9 : allow\n');
    assert.equal(cli(source, 'export', 'hosts-deny', '--file', file).code, 0);
    assert.match(readFileSync(file, 'utf8'), /^ALL: 198\.51\.100\.200\/255\.255\.255\.248$/m);
    assert.match(readFileSync(file, 'utf8'), /^ALL: \[2001:db8:5::\]\/48$/m);
    const target = dbOf('target');
    const result = cli(target, '--json', 'import', 'list', file, '--force');
    assert.deepEqual(JSON.parse(result.stdout), { imported: 6, skipped: 1 });
    assert.equal(result.stderr, `${file}:1: an allow rule, not a ban: "sshd: 10.9.9.9 : allow"\n`);
    assert.deepEqual(addresses(target), [...new Set(addresses(source))].sort());
  });

  it('round trip through export plain, from standard input', () => {
    const source = dbOf('source');
    const exported = cli(source, 'export', 'plain');
    assert.equal(exported.code, 0, exported.stderr);
    const target = dbOf('plain-target');
    const result = runCli(['--db', target, '--json', 'import', 'list', '-', '--force'], { input: exported.stdout });
    assert.deepEqual(JSON.parse(result.stdout), { imported: 6, skipped: 0 });
    assert.deepEqual(addresses(target), [...new Set(addresses(source))].sort());
  });

  // How fast is the bench's to say (store section, import list of 1,000,000): a time bound here would only measure the machine's load.
  it('100,000 lines: all imported, with no progress output when stderr is not a terminal', () => {
    const file = join(tmp.dir, 'large.deny');
    writeFileSync(file, Array.from({ length: 100_000 }, (_, i) => `ALL: 100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`).join('\n'));
    const result = cli(dbOf('large'), '--json', 'import', 'list', file);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 100_000, skipped: 0 });
    assert.equal(result.stderr, '', 'nothing on stderr');
  });

  it('killed with SIGKILL in the middle of a first import: no ban kept, every index there, and the import runs again', async () => {
    const file = join(tmp.dir, 'killed.deny');
    writeFileSync(file, Array.from({ length: 200_000 }, (_, i) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`).join('\n'));
    const db = dbOf('killed');
    const child = spawn(process.execPath, [BIN, '--db', db, '--config', SAFE_CONFIG, 'import', 'list', file], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Killed once its transaction has written pages to the WAL: bans inserted, indexes dropped, nothing committed.
    while ((statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0) < (1 << 20) && child.exitCode === null) await sleep(20);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', 'killed before it finished');
    assert.deepEqual(listed(db), []);
    const indexes = (path: string): string[] => {
      const handle = new Database(path, { readonly: true });
      try {
        return handle.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'bans' ORDER BY name").pluck().all();
      } finally {
        handle.close();
      }
    };
    const fresh = dbOf('fresh');
    assert.equal(cli(fresh, 'ban', '203.0.113.60').code, 0);
    assert.deepEqual(indexes(db), indexes(fresh));
    const again = cli(db, '--json', 'import', 'list', file);
    assert.deepEqual(JSON.parse(again.stdout), { imported: 200_000, skipped: 0 });
  });

  it('on a terminal, a large import draws a progress bar to the end', () => {
    const file = join(tmp.dir, 'large.deny');
    const db = dbOf('large-tty');
    // script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    const command = [process.execPath, BIN, '--db', db, '--config', SAFE_CONFIG, 'import', 'list', file].map((a) => `'${a}'`).join(' ');
    const screen = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    assert.match(screen, /importing \[=+\] 100% 100000\/100000/);
    assert.match(screen, /imported 100000 into jail import/);
  });
});
