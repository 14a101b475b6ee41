/**
 * The daemon reading the systemd journal (`backend = systemd`), end to end: a private journald in
 * a mount namespace of the test's own, entries written by a process whose name is `sshd` (so
 * journald records `_COMM=sshd`, as the shipped filter's journalmatch asks), the real built daemon
 * inside that namespace, its bans in nftables in a network namespace, and its database read back.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { askDaemon, controlSocketFor, type DaemonStatus } from '../../src/daemon/index.js';
import { BIN, runCli, tempDir } from '../helpers/cli.js';
import { keepBanLogPrivate, waitFor } from '../helpers/daemon.js';
import { privateJournald, type PrivateJournald } from '../helpers/journal.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { scaled } from '../helpers/slowness.js';
import { storeBansJson } from '../helpers/store.js';

interface Daemon {
  readonly child: ChildProcess;
  log(): string;
  /** SIGTERM (or `signal`), and the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

describe('the daemon reading the systemd journal (a private journald), with real nftables in a namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let journald: PrivateJournald;
  let ns: Netns;
  let args: string[];
  let db: string;
  let sshd: string;
  let daemon: Daemon | undefined;

  /**
   * Writes sshd's failure lines to the journal through one long-running process named sshd: journald
   * reads _COMM from /proc when a stream connects, which a process that exits at once may have left.
   */
  const fail = (address: string, count = 1, from = 1): void => {
    const lines = Array.from({ length: count }, (_, i) => `Failed password for root from ${address} port ${from + i} ssh2`);
    writer.stdin?.write(lines.map((l) => `${l}\n`).join(''));
  };
  let writer: ChildProcess;
  const table = (): string => {
    try {
      return ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
    } catch {
      return '';
    }
  };
  const inTable = (address: string): boolean => new RegExp(`(^|[\\s{,])${address.replace(/\./g, '\\.')}([\\s},]|$)`, 'm').test(table());
  const query = <T>(sql: string, ...params: unknown[]): T[] => {
    const conn = new Database(db, { readonly: true });
    try {
      return conn.prepare(sql).all(...params) as T[];
    } finally {
      conn.close();
    }
  };
  const bansOf = (address: string): { failures: number; matches: string | null }[] =>
    query('SELECT failures, matches FROM bans WHERE address = ? AND lifted_at IS NULL', address);
  const status = (): { jails: { name: string; totalFailed: number | null; journal: { source: string; match: string; reading?: boolean } | null }[] } =>
    JSON.parse(runCli([...args, '--json', 'status']).stdout) as never;
  /**
   * The sshd jail's total failed, asked of the daemon on its control socket as `status` asks it:
   * a status process per look (~0.4 s of CPU, reading nftables too) would slow the daemon it polls.
   */
  const totalFailed = async (): Promise<number | null | undefined> =>
    (await askDaemon(controlSocketFor(db), { command: 'status' }) as DaemonStatus | undefined)?.jails.find((j) => j.name === 'sshd')?.totalFailed;

  const start = async (extraArgs: readonly string[] = args): Promise<Daemon> => {
    const child = journald.spawn([process.execPath, BIN, ...extraArgs, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started: Daemon = {
      child,
      log: () => output,
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    try {
      await waitFor('the daemon following the journal', () => {
        if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}):\n${output}`);
        return /the journal: system/.test(output);
      }, 15_000);
    } catch (error) {
      // Not yet anyone's to stop: left running, it would hold this file's process open for ever.
      await started.stop('SIGKILL');
      throw error;
    }
    return started;
  };

  before(async () => {
    tmp = tempDir();
    ns = createNetns();
    journald = await privateJournald();
    // A copy of cat named sshd, run by systemd-cat: the journal records _COMM=sshd for what it writes.
    mkdirSync(join(tmp.dir, 'bin'));
    sshd = join(tmp.dir, 'bin', 'sshd');
    copyFileSync('/usr/bin/cat', sshd);
    writer = journald.spawn(['systemd-cat', '-t', 'sshd', sshd], { stdio: ['pipe', 'ignore', 'inherit'] });
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = nftables\nschedule = * * * * * *\n[daemon]\nlogfile =\n');
    // The shipped sshd filter, its own journalmatch (_COMM=sshd …).
    writeFileSync(join(config, 'jail.local'), '[sshd]\nenabled = true\nfilter = sshd\nbackend = systemd\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\n');
    db = join(tmp.dir, 'bans.sqlite3');
    args = ['--db', db, '--config', config, '--netns', ns.name];
    daemon = await start();
  });
  after(async () => {
    await daemon?.stop();
    writer?.kill();
    await journald?.stop();
    ns?.remove();
    tmp?.cleanup();
  });

  it('bans an attacker written to the journal within 2 s, and status shows the journal and its match', async () => {
    const written = Date.now();
    fail('203.0.113.101', 3);
    await waitFor('the attacker in the firewall', () => inTable('203.0.113.101'), 10_000);
    const took = Date.now() - written;
    assert.ok(took < scaled(2_000 * 2), `banned ${took} ms after the write (target 2 s; room for a loaded machine)`);
    assert.deepEqual(bansOf('203.0.113.101').map((b) => b.failures), [3]);
    const sshdStatus = status().jails.find((j) => j.name === 'sshd');
    assert.equal(sshdStatus?.journal?.source, 'system');
    assert.match(sshdStatus?.journal?.match ?? '', /_COMM=sshd/);
    assert.equal(sshdStatus?.journal?.reading, true, 'its reader runs');
    assert.match(daemon!.log(), /no saved cursor, reading from .* \(now − findtime\)/, 'the first start says where it reads from');
    daemon!.child.kill('SIGHUP');
    await waitFor('the reload', () => daemon!.log().includes('SIGHUP: reloaded'), 10_000);
    fail('203.0.113.106', 3);
    await waitFor('a ban after the reload', () => inTable('203.0.113.106'), 5_000);
    assert.deepEqual(bansOf('203.0.113.106').map((b) => b.failures), [3], 'counted once across the reload');
  });

  it('a restart resumes after the committed cursor: what was read is not counted again, what came meanwhile is', async () => {
    const counted = await totalFailed() ?? 0;
    fail('203.0.113.102', 2);
    await waitFor('two failures counted', async () => await totalFailed() === counted + 2, 5_000);
    assert.equal(await daemon!.stop(), 0);
    fail('203.0.113.102', 1, 3);
    daemon = await start();
    await waitFor('the straddling attacker banned', () => inTable('203.0.113.102'), 5_000);
    assert.equal(await totalFailed(), 1, 'only the entry written while down was read');
    assert.deepEqual(bansOf('203.0.113.102').map((b) => JSON.parse(b.matches ?? '[]').length), [3], 'three lines, each once');
    assert.doesNotMatch(daemon!.log(), /reading from/, 'resumed from its cursor, not from a time');
  });

  it('kill -9 in the middle of a burst: after the restart every attacker is banned once, no failure counted twice', async (t) => {
    const attackers = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`);
    for (const address of attackers) fail(address, 2);
    await sleep(300);
    for (const address of attackers) fail(address, 1, 3);
    await sleep(150);
    const before = query<{ n: number }>('SELECT count(*) AS n FROM bans WHERE address LIKE ? AND lifted_at IS NULL', '198.51.100.%')[0]?.n;
    await daemon!.stop('SIGKILL');
    t.diagnostic(`killed with ${before} of ${attackers.length} attackers banned`);
    daemon = await start();
    await waitFor('every attacker banned', () => attackers.every((a) => inTable(a)), 20_000).catch((error: unknown) => {
      throw new Error(`${String(error)}: missing ${attackers.filter((a) => !inTable(a)).join(' ')}\n${daemon!.log()}`);
    });
    const bans = attackers.map((a) => bansOf(a));
    assert.ok(bans.every((b) => b.length === 1), 'one active ban each');
    assert.ok(bans.every((b) => b[0]?.failures === 3), `three failures each, never more: ${JSON.stringify(bans.map((b) => b[0]?.failures))}`);
  });

  it('journal rotation and vacuuming while running and while stopped: it keeps reading, and counts nothing twice', async () => {
    assert.equal(journald.run(['journalctl', '--rotate']).code, 0);
    assert.equal(journald.run(['journalctl', '--vacuum-files=1']).code, 0);
    fail('203.0.113.103', 3);
    await waitFor('banned after a rotation while running', () => inTable('203.0.113.103'), 5_000);
    fail('203.0.113.104', 2);
    await waitFor('two counted', () => query<{ n: number }>('SELECT count(*) AS n FROM failure_counters WHERE address = ?', '203.0.113.104')[0]?.n === 1, 5_000);
    assert.equal(await daemon!.stop(), 0);
    assert.equal(journald.run(['journalctl', '--rotate']).code, 0);
    assert.equal(journald.run(['journalctl', '--vacuum-files=1']).code, 0);
    fail('203.0.113.104', 1, 3);
    daemon = await start();
    await waitFor('banned after a rotation while stopped', () => inTable('203.0.113.104'), 5_000);
    assert.deepEqual(bansOf('203.0.113.104').map((b) => b.failures), [3], 'its two earlier failures counted once, with the new one');
    assert.equal(await totalFailed(), 1, 'nothing read again');
  });

  it('with --config naming a copy of /etc/fail2ban and backend = systemd in its jail.local, fail2ban\'s own sshd jail bans unchanged', async () => {
    assert.equal(await daemon!.stop(), 0);
    daemon = undefined;
    const fail2ban = join(tmp.dir, 'fail2ban');
    cpSync('/etc/fail2ban', fail2ban, { recursive: true });
    writeFileSync(join(fail2ban, 'jail.local'), '[sshd]\nenabled = true\nbackend = systemd\nmaxretry = 3\n');
    keepBanLogPrivate(fail2ban);
    const other = join(tmp.dir, 'f2b.sqlite3');
    const f2bArgs = ['--db', other, '--config', fail2ban, '--backend', 'none'];
    daemon = await start(f2bArgs);
    fail('203.0.113.105', 3);
    // Read in this process, as `list` reads it: a list process per look cost tenths of a second of CPU.
    await waitFor('banned by fail2ban\'s own sshd jail',
      () => storeBansJson<{ address: string }>(other, (store, now) => store.active(now)).some((b) => b.address === '203.0.113.105'), 5_000);
  });

  it('backend = auto on a system that logs only to the journal: a jail whose log file is missing reads the journal, and check and the log say so', async () => {
    assert.equal(await daemon!.stop(), 0);
    daemon = undefined;
    const config = join(tmp.dir, 'auto');
    const missing = join(tmp.dir, 'no-rsyslog', 'auth.log');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[daemon]\nlogfile =\n');
    // No backend given: fail2ban's default, auto. Here journald runs and nothing writes auth.log, as on a fresh Debian 12.
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${missing}\nmaxretry = 3\n`);
    const notice = `jail sshd: no log file matches ${missing}: it reads the systemd journal instead (backend = auto)`;
    const other = join(tmp.dir, 'auto.sqlite3');
    const autoArgs = ['--db', other, '--config', config, '--backend', 'none'];
    const checked = journald.run([process.execPath, BIN, ...autoArgs, 'check']);
    assert.deepEqual([checked.code, checked.stderr], [0, '']);
    assert.equal(checked.stdout.split('\n')[1], notice);
    const json = JSON.parse(journald.run([process.execPath, BIN, ...autoArgs, '--json', 'check']).stdout) as { notices: string[]; warnings: string[] };
    assert.deepEqual([json.notices, json.warnings], [[notice], []]);
    daemon = await start(autoArgs);
    assert.match(daemon.log(), new RegExp(`NOTICE ${notice.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.doesNotMatch(daemon.log(), /watches no log file/);
    fail('203.0.113.107', 3);
    await waitFor('banned from the journal',
      () => storeBansJson<{ address: string }>(other, (store, now) => store.active(now)).some((b) => b.address === '203.0.113.107'), 5_000);
    // Once the file is there (rsyslog installed), a reload reads it instead of the journal.
    mkdirSync(dirname(missing));
    writeFileSync(missing, '');
    daemon.child.kill('SIGHUP');
    await waitFor('the reload', () => daemon!.log().includes('SIGHUP: reloaded'), 10_000);
    const jail = (await askDaemon(controlSocketFor(other), { command: 'status' }) as DaemonStatus | undefined)?.jails.find((j) => j.name === 'sshd');
    assert.deepEqual([jail?.files, jail?.journal], [[missing], null]);
    assert.equal(daemon.log().split(notice).length, 2, 'said at start, not at the reload that found the file');
  });
});
