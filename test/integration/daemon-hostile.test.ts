import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { sshdDaemon, sshdFailure, syslogDate, type SshdDaemon } from '../helpers/sshd-daemon.js';

/** This host's own addresses besides loopback (ignoreself). */
const ownAddresses = (): string[] => Object.values(networkInterfaces()).flatMap((list) => list ?? [])
  .filter((i) => !i.internal && i.family === 'IPv4').map((i) => i.address);

describe('the daemon on hostile logs and its ignore rules, with real nftables in a namespace', () => {
  let s: SshdDaemon;

  before(async () => {
    s = sshdDaemon('ignoreip = 198.51.100.77 198.51.100.128/25\nmaxmatches = 2\n');
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('a 1 MiB line, binary junk and invalid UTF-8 do not stop it; the attacks around them still ban', async () => {
    s.fail('203.0.113.60', 2);
    appendFileSync(s.authLog, `${syslogDate()} web1 sshd[4242]: ${'A'.repeat(1 << 20)}\n`);
    appendFileSync(s.authLog, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256)));
    appendFileSync(s.authLog, '\n');
    const invalid = Buffer.concat([
      Buffer.from(`${syslogDate()} web1 sshd[4242]: Failed password for invalid user `), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      Buffer.from(' from 203.0.113.61 port 22 ssh2\n'),
    ]);
    for (let i = 0; i < 3; i++) appendFileSync(s.authLog, invalid);
    s.fail('203.0.113.60');
    s.fail('203.0.113.62', 3);
    await waitFor('the attack after the junk banned', () => s.inTable('203.0.113.62'), 5_000);
    assert.ok(s.inTable('203.0.113.60'), 'failures on both sides of the junk add up');
    assert.ok(s.inTable('203.0.113.61'), 'a user name that is not UTF-8 still counts as a failure');
    assert.equal(s.daemon!.child.exitCode, null, 'still running');
  });

  it('a log-injection user name never bans the injected address', async () => {
    for (let i = 0; i < 3; i++) {
      appendFileSync(s.authLog, `${syslogDate()} web1 sshd[4242]: Failed password for invalid user admin from 198.51.100.9 port 22 from 203.0.113.50 port 5555 ssh2\n`);
    }
    for (let i = 0; i < 3; i++) {
      appendFileSync(s.authLog, `${syslogDate()} web1 sshd[4242]: Invalid user admin from 198.51.100.9 from 203.0.113.51 port 4000\n`);
    }
    await waitFor('the real sources banned', () => s.inTable('203.0.113.50') && s.inTable('203.0.113.51'), 5_000);
    assert.ok(!s.inTable('198.51.100.9'), `the injected address is not in the firewall:\n${s.table()}`);
    assert.deepEqual(s.activeBans('198.51.100.9'), [], 'nor in the store');
  });

  it('a line written in two pieces is read whole, even with a restart between the pieces', async () => {
    const total = s.sshd().totalFailed ?? 0;
    const line = sshdFailure('203.0.113.90');
    appendFileSync(s.authLog, line.repeat(2) + line.slice(0, 40));
    await waitFor('the two whole lines counted', async () => (await s.counts()).totalFailed === total + 2, 5_000);
    assert.equal(await s.stop(), 0);
    await s.start();
    appendFileSync(s.authLog, line.slice(40));
    await waitFor('the completed line bans', () => s.inTable('203.0.113.90'), 5_000);
    assert.equal(s.sshd().totalFailed, 1, 'read once, as one line');
  });

  it('ignoreip and ignoreself: never banned, not even counted', async () => {
    const before = s.sshd().totalFailed ?? 0;
    const ignored = ['198.51.100.77', '198.51.100.200', '127.0.0.1', ...ownAddresses()];
    for (const address of ignored) s.fail(address, 3);
    s.fail('203.0.113.70', 3);
    await waitFor('the attacker after them banned', () => s.inTable('203.0.113.70'), 5_000);
    for (const address of ignored) assert.ok(!s.inTable(address) && s.activeBans(address).length === 0, `${address} is not banned`);
    assert.equal(s.sshd().totalFailed, before + 3, 'only the attacker\'s failures count');
  });

  it('findtime is a window of log time', async () => {
    const minutesAgo = (m: number): Date => new Date(Date.now() - m * 60_000);
    appendFileSync(s.authLog, [0, 1, 2].map(() => sshdFailure('203.0.113.81', minutesAgo(11))).join(''));
    appendFileSync(s.authLog, sshdFailure('203.0.113.82', minutesAgo(9)).repeat(2));
    appendFileSync(s.authLog, sshdFailure('203.0.113.83', minutesAgo(20)) + sshdFailure('203.0.113.83').repeat(2));
    s.fail('203.0.113.82');
    s.fail('203.0.113.84', 3);
    await waitFor('the attacker after them banned', () => s.inTable('203.0.113.84'), 5_000);
    assert.ok(s.inTable('203.0.113.82'), 'two failures 9 minutes ago and one now are inside 10m');
    assert.ok(!s.inTable('203.0.113.81'), 'three failures 11 minutes ago are outside it');
    assert.ok(!s.inTable('203.0.113.83'), 'one failure 20 minutes ago and two now are only two');
  });

  it('maxmatches bounds the log lines kept with a ban', () => {
    const db = new Database(s.db, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT matches FROM bans WHERE address = '203.0.113.84'").get() as { matches: string } | undefined;
      assert.ok(row, 'the ban is stored');
      const matches = JSON.parse(row.matches) as string[];
      assert.equal(matches.length, 2, row.matches);
      assert.ok(matches.every((line) => line.includes('from 203.0.113.84 port 52144')), row.matches);
    } finally {
      db.close();
    }
  });

  it('a broken jail file is refused by start and check with its file and line', async () => {
    const config = join(s.dir, 'broken');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = nftables\n');
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${s.authLog}\nmaxretry = lots\n`);
    const args = ['--db', join(s.dir, 'broken.sqlite3'), '--config', config, '--netns', s.ns.name];
    const expected = new RegExp(`^f2b-store: ${join(config, 'jail.local').replace(/[.]/g, '\\.')}:5: .*maxretry.*lots.*\\n$`);
    const daemon = startDaemon(args);
    try {
      await waitFor('start to give up', () => daemon.child.exitCode !== null, 10_000);
    } finally {
      await daemon.stop();
    }
    assert.equal(daemon.child.exitCode, 2, daemon.log());
    assert.match(daemon.log(), expected);
    const check = runCli([...args, 'check']);
    assert.equal(check.code, 2, check.stderr);
    assert.match(check.stderr, expected);
    assert.equal(check.stdout, '');
  });
});
