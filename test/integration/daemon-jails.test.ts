import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, syslogDate, type SshdDaemon } from '../helpers/sshd-daemon.js';
import { scaled } from '../helpers/slowness.js';

const PERMANENT = '2001:db8::66';

/** Seconds between two ISO times. */
const seconds = (from: string, to: string): number => (Date.parse(to) - Date.parse(from)) / 1000;

describe('the daemon bans from an sshd log, with real nftables in a namespace', () => {
  let s: SshdDaemon;

  before(async () => {
    s = sshdDaemon('bantime.increment = true\n');
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('a permanent ban by hand reaches the firewall at once', () => {
    const result = s.cli('ban', PERMANENT, '--permanent');
    assert.equal(result.code, 0, result.stderr);
    assert.ok(s.inTable(PERMANENT), `${PERMANENT} in\n${s.table()}`);
  });

  it('bans an address within 2 s of its maxretry-th failure, in the firewall and the store', async () => {
    s.fail('203.0.113.7', 2);
    await waitFor('two failures counted', async () => (await s.counts()).currentlyFailed === 1, 5_000);
    assert.ok(!s.inTable('203.0.113.7'), 'not banned after maxretry-1 failures');
    s.fail('203.0.113.7');
    const took = await waitFor('the ban in nftables', () => s.inTable('203.0.113.7'), 2_000);
    assert.ok(took <= scaled(2_000), `banned in ${took} ms`);
    const bans = s.list().filter((b) => b.address === '203.0.113.7');
    assert.equal(bans.length, 1, JSON.stringify(bans));
    const [ban] = bans;
    assert.deepEqual([ban!.jail, ban!.source, ban!.failures, ban!.banCount], ['sshd', 'filter', 3, 1]);
    assert.equal(seconds(ban!.bannedAt, ban!.expiresAt!), 3600, 'bantime 1h');
    await waitFor('the ban log line', () => /f2b-store\[\d+\]: NOTICE \[sshd\] Ban 203\.0\.113\.7\n/.test(readFileSync(s.banLog, 'utf8')), 5_000);
  });

  it('status --json shows the live counters, the watched file and an in-sync backend', () => {
    const status = s.status();
    assert.equal(status.daemon.running, true);
    const sshd = status.jails.find((j) => j.name === 'sshd');
    assert.deepEqual(sshd, {
      name: 'sshd', enabled: true, currentlyFailed: 0, totalFailed: 3, currentlyBanned: 1, totalBanned: 1, files: [s.authLog], droppedLines: 0, notRecords: null, journal: null,
    });
    assert.deepEqual(status.backends, [{ name: 'nftables', inSync: true, missing: 0, extra: 0, kept: 0, error: null }]);
  });

  it('a restart resumes where it stopped: lines written while down count once, lines read before are not read again', async () => {
    s.fail('203.0.113.20', 2);
    s.fail('203.0.113.21', 2);
    await waitFor('four more failures counted', async () => (await s.counts()).totalFailed === 7, 5_000);
    assert.equal(await s.stop(), 0, 'SIGTERM is a clean exit');
    assert.ok(s.inTable('203.0.113.7') && s.inTable(PERMANENT), `SIGTERM leaves the bans in the firewall:\n${s.table()}`);
    s.fail('203.0.113.20');
    const daemon = await s.start();
    await waitFor('the straddling attacker banned', () => s.inTable('203.0.113.20'), 5_000);
    const sshd = s.sshd();
    assert.equal(sshd.totalFailed, 1, 'only the line written while down was read');
    assert.equal(sshd.currentlyFailed, 1, '203.0.113.21 with its two failures from before the restart');
    assert.ok(!s.inTable('203.0.113.21'), 'two failures, not four: not banned');
    s.fail('203.0.113.21');
    await waitFor('its third failure bans it', () => s.inTable('203.0.113.21'), 5_000);
    const shown = s.activeBans('203.0.113.7');
    assert.equal(shown.length, 1, 'no duplicate ban');
    assert.equal(shown[0]!.banCount, 1);
    assert.ok(!/\] Ban 203\.0\.113\.7$/m.test(daemon.log()), `not banned again:\n${daemon.log()}`);
  });

  it('repairs a flushed ruleset within 5 s', async () => {
    // The daemon hears of the flush from `nft monitor` and may have begun a new table before a
    // listing here: a table with another handle is what shows the flush happened and was repaired.
    const handle = (): number | undefined => (JSON.parse(s.ns.run(['nft', '-j', 'list', 'tables'])) as { nftables: { table?: { name: string; handle: number } }[] })
      .nftables.find((o) => o.table?.name === 'f2b-store')?.table?.handle;
    const before = handle();
    assert.ok(before !== undefined, 'the table is there before the flush');
    s.ns.run(['nft', 'flush', 'ruleset']);
    const took = await waitFor('the repair', () => handle() !== before && ['203.0.113.7', '203.0.113.20', '203.0.113.21', PERMANENT].every((a) => s.inTable(a)), 5_000);
    assert.ok(took <= scaled(5_000), `repaired in ${took} ms`);
  });

  it('unban lifts it in the firewall and the store, and clears its failure counters in the daemon', async () => {
    s.fail('203.0.113.7', 2);
    await waitFor('two failures of the banned address counted', async () => (await s.counts()).currentlyFailed === 1, 5_000);
    const result = s.cli('--json', 'unban', '203.0.113.7');
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { lifted: unknown[] }).lifted.length, 1);
    assert.ok(!s.inTable('203.0.113.7'), 'gone from the firewall at once');
    assert.deepEqual(s.activeBans('203.0.113.7'), [], 'no active ban in the store');
    assert.equal(s.sshd().currentlyFailed, 0, 'its failures forgotten by the running daemon');
    s.fail('203.0.113.7', 2);
    s.fail('203.0.113.22', 3);
    await waitFor('a later attacker banned (the lines before it are read)', () => s.inTable('203.0.113.22'), 5_000);
    assert.ok(!s.inTable('203.0.113.7'), 'two new failures after the unban do not ban it');
    assert.equal(s.sshd().currentlyFailed, 1, 'the two new failures are counted');
  });

  it('bantime.increment: the second ban of the same address lasts twice as long', async () => {
    s.fail('203.0.113.7');
    await waitFor('banned again', () => s.inTable('203.0.113.7'), 5_000);
    const bans = s.cli('--json', 'show', '203.0.113.7');
    const [first, second] = (JSON.parse(bans.stdout) as { bannedAt: string; expiresAt: string; banCount: number; liftedAt: string | null }[])
      .sort((a, b) => a.banCount - b.banCount);
    assert.ok(first && second, bans.stdout);
    assert.ok(first.liftedAt !== null && second.liftedAt === null, bans.stdout);
    assert.equal(second.banCount, 2);
    assert.equal(seconds(second.bannedAt, second.expiresAt), 2 * seconds(first.bannedAt, first.expiresAt), bans.stdout);
  });

  it('the permanent ban survived the restart and the flush, and SIGTERM leaves every ban in place', async () => {
    s.fail('203.0.113.23', 2);
    await waitFor('two failures of a new attacker counted', async () => (await s.counts()).currentlyFailed === 1, 5_000);
    assert.equal(await s.stop(), 0, 'clean exit');
    const table = s.table();
    for (const address of [PERMANENT, '203.0.113.7', '203.0.113.20', '203.0.113.21', '203.0.113.22']) {
      assert.ok(s.inTable(address), `${address} still in\n${table}`);
    }
    const permanent = s.activeBans(PERMANENT);
    assert.equal(permanent.length, 1);
    assert.equal(permanent[0]!.expiresAt, null, 'still permanent');
  });

  it('status works from the database without the daemon', () => {
    const status = s.status();
    assert.equal(status.daemon.running, false);
    const sshd = status.jails.find((j) => j.name === 'sshd');
    assert.ok(sshd, JSON.stringify(status));
    assert.equal(sshd.totalFailed, null, 'total failed needs the daemon');
    assert.equal(sshd.currentlyFailed, 1, 'the stored counters: 203.0.113.23 with two failures');
    assert.deepEqual([sshd.currentlyBanned, sshd.totalBanned, sshd.files], [4, 5, [s.authLog]]);
    assert.deepEqual(status.backends, [{ name: 'nftables', inSync: true, missing: 0, extra: 0, kept: 0, error: null }]);
  });
});

describe('the daemon on a backlog that ends where the tailer pauses for other files', () => {
  let s: SshdDaemon;

  before(() => {
    s = sshdDaemon();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('commits a burst of exactly one turn (64 chunks of 256 KiB): its bans do not wait for a next line', async () => {
    await s.start();
    assert.equal(await s.stop(), 0);
    // Lines of 1,024 bytes from a line boundary: each 256 KiB chunk ends at a line's end, and the 64th at the file's.
    const pad = (line: string): string => `${line}${'x'.repeat(1023 - line.length)}\n`;
    const attacker = '203.0.113.77';
    const noise = pad(`${syslogDate()} web1 CRON[77]: (root) CMD `);
    const failure = pad(`${syslogDate()} web1 sshd[4242]: Failed password for invalid user `).replace(/x+\n$/, (x) => {
      const tail = ` from ${attacker} port 52144 ssh2\n`;
      return `${'u'.repeat(x.length - tail.length)}${tail}`;
    });
    assert.equal(failure.length, 1024, failure);
    const offset = statSync(s.authLog).size;
    appendFileSync(s.authLog, noise.repeat(64 * 256 - 3) + failure.repeat(3));
    assert.equal(statSync(s.authLog).size - offset, 16 * 1024 * 1024);
    await s.start();
    // Room for a loaded machine; the commit of what waits comes at most 2 s (or 5 commits' time) after the turn.
    await waitFor('the attacker banned', () => s.inTable(attacker), 30_000);
    assert.deepEqual(s.activeBans(attacker).map((b) => b.failures), [3]);
  });
});
