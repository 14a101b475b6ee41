import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FAIL2BAN_FILTER_DIR } from '../../src/config/index.js';
import { tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, syslogDate, type SshdDaemon } from '../helpers/sshd-daemon.js';
import { scaled } from '../helpers/slowness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** One sshd failure line with its own port, so each line is told apart in the stored matches. */
const failureLine = (address: string, port: number): string =>
  `${syslogDate()} web1 sshd[4242]: Failed password for root from ${address} port ${port} ssh2\n`;

/** The matched lines stored with the newest ban of `address`, read from the database file itself. */
function storedMatches(db: string, address: string): string[] {
  const conn = new Database(db, { readonly: true });
  try {
    const row = conn.prepare('SELECT matches FROM bans WHERE address = ? ORDER BY id DESC LIMIT 1').get(address) as { matches: string | null } | undefined;
    return JSON.parse(row?.matches ?? '[]') as string[];
    } finally {
    conn.close();
  }
}

/**
 * Another process holding the database's write lock, as a long CLI import or a backup tool would,
 * until `release()`: it commits when its stdin closes.
 */
function holdWriteLock(db: string): { ready: Promise<void>; release: () => Promise<void> } {
  const script = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(db)}); db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE bans SET reason = reason WHERE id = -1").run(); console.log('locked');
    process.stdin.resume().on('end', () => { db.exec('COMMIT'); db.close(); });`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (d.includes('locked')) resolve(); });
    child.once('exit', (code) => reject(new Error(`the lock holder exited early (${code})`)));
  });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { ready, release: () => { child.stdin.end(); return done; } };
}

/**
 * How long the lock is held at least: past the daemon's write retries backing off to their
 * longest (0.25, 0.5, 1, 2, 2 s), so "said once" covers several failed retries.
 */
const LOCK_MS = 8_000;

const count = (text: string, what: string): number => text.split(what).length - 1;

describe('the daemon under faults, with real nftables in a namespace', () => {
  let s: SshdDaemon;

  before(async () => {
    s = sshdDaemon();
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('database locked by another process over several write retries: bans go to the firewall at once, status answers, each line counts once', async () => {
    // The daemon's counts asked on its control socket, in this process: a `status` process (tenths
    // of a second of CPU) is run where what status says is under test.
    const before = (await s.counts()).totalFailed;
    const lock = holdWriteLock(s.db);
    try {
      await lock.ready;
      const locked = performance.now();
      for (const port of [1, 2]) appendFileSync(s.authLog, failureLine('203.0.113.170', port));
      for (const port of [11, 12, 13]) appendFileSync(s.authLog, failureLine('203.0.113.171', port));
      await waitFor('the attacker banned in the firewall while the database is locked', () => s.inTable('203.0.113.171'), 5_000);
      const asked = performance.now();
      const status = s.status();
      assert.ok(performance.now() - asked < scaled(5_000), 'status answers while the database is locked');
      assert.equal(status.daemon.store?.writable, false, 'status says the database cannot be written');
      assert.equal(status.daemon.store?.heldBans, 1, 'and counts the ban held in memory');
      assert.deepEqual(s.activeBans('203.0.113.171'), [], 'not in the database yet');
      await sleep(Math.max(0, LOCK_MS - (performance.now() - locked)));
      assert.deepEqual(s.activeBans('203.0.113.171'), [], 'still not in the database while it is locked');
    } finally {
      // Also when an assertion failed: the holder would otherwise keep the test file alive.
      await lock.release();
    }
    await waitFor('the held ban written once the lock is gone', () => s.activeBans('203.0.113.171').length === 1, 10_000);
    assert.equal((await s.counts()).totalFailed, before + 5, 'five lines, five failures');
    assert.deepEqual(s.activeBans('203.0.113.170'), [], 'two failures are not a ban');
    appendFileSync(s.authLog, failureLine('203.0.113.170', 3));
    await waitFor('the third failure bans', () => s.inTable('203.0.113.170'), 5_000);
    assert.equal(s.activeBans('203.0.113.170')[0]?.failures, 3);
    assert.deepEqual(storedMatches(s.db, '203.0.113.170').map((l) => / port (\d+) /.exec(l)?.[1]), ['1', '2', '3'], 'each line stored once');
    assert.deepEqual(storedMatches(s.db, '203.0.113.171').map((l) => / port (\d+) /.exec(l)?.[1]), ['11', '12', '13'], 'each line stored once');
    assert.equal(count(s.daemon!.log(), 'cannot write the database'), 1, 'said once');
    assert.equal(count(s.daemon!.log(), 'the database takes writes again: wrote'), 1, 'and its end once');
  });

  it('a 70 KiB line cannot choose the banned address: it is dropped unmatched, counted, and said once', async () => {
    const prefix = `${syslogDate()} web1 sshd[4242]: Failed password for invalid user `;
    const injected = ' from 198.51.100.9 port 22 ssh2';
    // Cut at 64 KiB, the line would end with the injected address.
    const line = `${prefix}${'A'.repeat(65_536 - prefix.length - injected.length)}${injected}${'B'.repeat(6 * 1024)} from 203.0.113.5 port 4444 ssh2\n`;
    assert.ok(Buffer.byteLength(line) > 70 * 1024, 'a 70 KiB line');
    appendFileSync(s.authLog, line.repeat(3));
    s.fail('203.0.113.172', 3);
    await waitFor('the attack after the long lines banned', () => s.inTable('203.0.113.172'), 5_000);
    assert.ok(!s.inTable('198.51.100.9') && !s.inTable('203.0.113.5'), `neither address of the long line is banned:\n${s.table()}`);
    assert.deepEqual([...s.activeBans('198.51.100.9'), ...s.activeBans('203.0.113.5')], [], 'nor in the store');
    assert.equal(s.sshd().droppedLines, 3, 'status counts the dropped lines');
    appendFileSync(s.authLog, line);
    await waitFor('the fourth counted', async () => (await s.counts()).droppedLines === 4, 5_000);
    assert.equal(count(s.daemon!.log(), 'longer than 64 KiB unmatched'), 1, `said once for the file:\n${s.daemon!.log()}`);
  });
});

describe('the daemon on a full disk (its database on a 2 MiB tmpfs), with real nftables in a namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let state: string;
  let s: SshdDaemon;

  before(async () => {
    tmp = tempDir();
    state = join(tmp.dir, 'state');
    mkdirSync(state);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'f2bt-full', state]);
    s = sshdDaemon('', { stateDir: state });
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
    if (state !== undefined) execFileSync('umount', [state]);
    tmp?.cleanup();
  });

  it('keeps banning in the firewall while the disk is full, says so once, and writes every held ban once when space returns', async () => {
    for (const port of [1, 2]) appendFileSync(s.authLog, failureLine('203.0.113.180', port));
    await waitFor('two failures counted', async () => (await s.counts()).totalFailed === 2, 5_000);
    const fill = join(state, 'fill');
    const block = Buffer.alloc(64 * 1024);
    try {
      for (;;) appendFileSync(fill, block);
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC', 'filled up');
    }
    appendFileSync(s.authLog, failureLine('203.0.113.180', 3));
    for (const port of [11, 12, 13]) appendFileSync(s.authLog, failureLine('203.0.113.181', port));
    await waitFor('both banned in the firewall on a full disk', () => s.inTable('203.0.113.180') && s.inTable('203.0.113.181'), 5_000);
    for (const port of [21, 22, 23]) appendFileSync(s.authLog, failureLine('203.0.113.182', port));
    await waitFor('a third one too', () => s.inTable('203.0.113.182'), 5_000);
    const status = s.status();
    assert.equal(status.daemon.store?.writable, false, 'status says the database cannot be written');
    assert.match(status.daemon.store?.error ?? '', /full/, 'and why');
    assert.equal(status.daemon.store?.heldBans, 3, 'with the bans held');
    assert.equal(count(s.daemon!.log(), 'cannot write the database'), 1, `said once, not per line:\n${s.daemon!.log()}`);
    await sleep(1_000);
    rmSync(fill);
    await waitFor('the held bans written once space returns', () => ['203.0.113.180', '203.0.113.181', '203.0.113.182'].every((a) => s.activeBans(a).length === 1), 10_000);
    assert.deepEqual(storedMatches(s.db, '203.0.113.180').map((l) => / port (\d+) /.exec(l)?.[1]), ['1', '2', '3'], 'each line once');
    assert.equal((await s.counts()).totalFailed, 9, 'nine lines, nine failures');
    assert.equal(s.status().daemon.store?.writable, true, 'writable again');
    assert.ok(s.inTable('203.0.113.180') && s.inTable('203.0.113.181') && s.inTable('203.0.113.182'), 'still in the firewall');
  });
});

/** libfaketime (Debian's `faketime` package): the daemon's wall clock steps when the test writes an offset. */
function faketimeLibrary(): string {
  const found = execFileSync('dpkg', ['-L', 'libfaketime'], { encoding: 'utf8' }).split('\n').find((p) => p.endsWith('/libfaketime.so.1'));
  if (found === undefined || !existsSync(found)) throw new Error('libfaketime.so.1 not found: apt-get install faketime (.ci/run does)');
  return found;
}

describe('the daemon across wall-clock steps (libfaketime), with real nftables in a namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let offset: string;
  let s: SshdDaemon;
  const step = async (to: string): Promise<void> => {
    writeFileSync(offset, `${to}\n`);
    // libfaketime reads the file again after FAKETIME_CACHE_DURATION seconds.
    await sleep(1_500);
  };

  before(async () => {
    tmp = tempDir();
    offset = join(tmp.dir, 'faketime');
    writeFileSync(offset, '+0\n');
    s = sshdDaemon('bantime = 1w\n', {
      env: {
        LD_PRELOAD: faketimeLibrary(), FAKETIME_TIMESTAMP_FILE: offset, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1',
      },
    });
    await s.start();
    s.fail('203.0.113.190', 3);
    await waitFor('a first ban', () => s.inTable('203.0.113.190'), 5_000);
  });
  after(async () => {
    await s?.cleanup();
    tmp?.cleanup();
  });

  it('a step back of 5 minutes: a flushed ruleset is still repaired within 5 s, and new bans still come', async () => {
    await step('-5m');
    s.ns.run(['nft', 'flush', 'ruleset']);
    await waitFor('the ruleset repaired', () => s.inTable('203.0.113.190'), 5_000);
    s.fail('203.0.113.191', 3);
    await waitFor('a ban after the step', () => s.inTable('203.0.113.191'), 5_000);
    s.ns.run(['nft', 'flush', 'ruleset']);
    await waitFor('both back after another flush', () => s.inTable('203.0.113.190') && s.inTable('203.0.113.191'), 5_000);
  });

  it('a step forward of 2 days: no replay of missed ticks, and a flush is repaired within 5 s', async () => {
    const linesBefore = s.daemon!.log().split('\n').length;
    await step('+2d');
    await sleep(2_000);
    s.ns.run(['nft', 'flush', 'ruleset']);
    await waitFor('the ruleset repaired', () => s.inTable('203.0.113.190') && s.inTable('203.0.113.191'), 5_000);
    const log = s.daemon!.log();
    assert.ok(!/missed execution/i.test(log), 'no missed-execution warnings');
    assert.ok(log.split('\n').length - linesBefore < 20, `a handful of log lines, not one per missed tick:\n${log.split('\n').slice(linesBefore).join('\n')}`);
    assert.equal(s.daemon!.child.exitCode, null, 'still running');
  });
});

describe('the daemon with a filter that backtracks catastrophically (fail2ban\'s own exim), with real nftables in a namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let s: SshdDaemon;
  let eximLog: string;

  before(async () => {
    tmp = tempDir();
    eximLog = join(tmp.dir, 'exim-mainlog');
    writeFileSync(eximLog, '');
    // fail2ban's exim.conf, by its path (`filter = exim` names the one f2b-store ships), loads with a warning (its failregex
    // at line 24 backtracks exponentially on quotes).
    s = sshdDaemon(`\n[exim]\nenabled = true\nfilter = ${join(FAIL2BAN_FILTER_DIR, 'exim.conf')}\nlogpath = ${eximLog}\nmaxretry = 3\n`);
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
    tmp?.cleanup();
  });

  it('a line that would take hours is dropped after its budget; the other jail bans, status answers, the filter goes on', async () => {
    const when = new Date().toISOString().replace('T', ' ').slice(0, 19);
    const attack = `${when} [26221] SMTP protocol error in "a${'"'.repeat(40)} [198.51.100.9]:14243 AUTH command used when not advertised!\n`;
    appendFileSync(eximLog, attack);
    await sleep(200);
    s.fail('203.0.113.195', 3);
    const asked = performance.now();
    assert.equal(s.status().daemon.running, true);
    // Matched on the main thread, the line would hold it for hours: a CLI call (seconds under load) is far from that.
    assert.ok(performance.now() - asked < scaled(30_000), 'status answers while the line is being matched');
    await waitFor('the sshd attacker banned', () => s.inTable('203.0.113.195'), 10_000);
    assert.match(s.daemon!.log(), /\[exim\] .*exim-mainlog: a line took over \d+ ms in the filter and was dropped/, 'the dropped line is logged');
    const failure = (address: string, n: number): string =>
      `${when} [2622${n}] SMTP protocol error in "AUTH LOGIN aW5mb0BtYW5iYXQub3Jn" H=([127.0.0.1]) [${address}]:1424${n} I=[172.89.0.6]:587 AUTH command used when not advertised\n`;
    appendFileSync(eximLog, [1, 2, 3].map((n) => failure('203.0.113.196', n)).join(''));
    await waitFor('the exim jail still bans', () => s.inTable('203.0.113.196'), 10_000);
    assert.ok(!s.inTable('198.51.100.9'), 'the address in the dropped line is not banned');
  });
});
