/**
 * The daemon's own log through the built binary: `[daemon] loglevel` and `logtarget`, sd-daemon
 * `<N>` priorities when its standard error is the journal's stream, and the journal and syslog
 * targets written to a private journald (in a mount namespace of the test's own), read back with
 * journalctl and with the shipped recidive filter.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { askDaemon, controlSocketFor, type DaemonStatus } from '../../src/daemon/index.js';
import { BIN, runCli, SAFE_CONFIG, tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { privateJournald, type PrivateJournald } from '../helpers/journal.js';
import { syslogDate } from '../helpers/sshd-daemon.js';

interface Setup {
  readonly args: string[];
  readonly db: string;
  readonly authLog: string;
  readonly banLog: string;
}

/**
 * A config dir with an sshd jail on a log file of the test's and a jail whose file does not exist;
 * no firewall, and a full reconcile (which tells the bans that expired) every 2 s.
 */
function setup(dir: string, daemon: string): Setup {
  const config = join(dir, 'etc');
  mkdirSync(config);
  const authLog = join(dir, 'auth.log');
  const banLog = join(dir, 'ban.log');
  writeFileSync(authLog, '');
  writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = none\nschedule = * * * * * *\nfullcheck = 2\n[daemon]\nlogfile = ${banLog}\n${daemon}`);
  writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${authLog}\nmaxretry = 3\nbantime = 1h\n`
    // A file backend named: with auto, a daemon run where journald runs (the private one below) would read the journal instead.
    + `[ghost]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = ${join(dir, 'missing', 'auth.log')}\n`);
  const db = join(dir, 'bans.sqlite3');
  return { args: ['--db', db, '--config', config, '--backend', 'none'], db, authLog, banLog };
}

function fail(s: Setup, address: string, count: number): void {
  for (let i = 0; i < count; i++) appendFileSync(s.authLog, `${syslogDate()} web1 sshd[4242]: Failed password for root from ${address} port ${50000 + i} ssh2\n`);
}

/**
 * Waits until the daemon follows the auth log, so the failures written next are read: its status,
 * asked on its control socket as `status` asks it, in this process (a `status` process per look
 * would cost tenths of a second of CPU).
 */
async function following(s: Setup, child: ChildProcess, output: () => string): Promise<void> {
  const socket = controlSocketFor(s.db);
  await waitFor('the daemon following the log', async () => {
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}):\n${output()}`);
    // Not listening yet (no socket, or refused), or not answering yet: not following either.
    const status = await askDaemon(socket, { command: 'status' }).catch(() => undefined) as DaemonStatus | undefined;
    return status?.jails.find((jail) => jail.name === 'sshd')?.files.includes(s.authLog) === true;
  }, 20_000);
}

async function stopped(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

const banned = (s: Setup, address: string): boolean => existsSync(s.banLog) && readFileSync(s.banLog, 'utf8').includes(`] Ban ${address}\n`);

describe('the daemon\'s log on standard error', () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) await stopped(child);
    tmp.cleanup();
  });

  /** Runs the daemon with its standard error in a file (whose device and inode JOURNAL_STREAM may name), bans `address`, does `then`, stops it. */
  const run = async (name: string, daemonConf: string, address: string, journalStream: (fd: number) => string | undefined,
    then?: (s: Setup, output: () => string) => Promise<void>): Promise<string> => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    const s = setup(dir, daemonConf);
    const errPath = join(dir, 'stderr');
    const fd = openSync(errPath, 'w');
    const stream = journalStream(fd);
    const child = spawn(process.execPath, [BIN, ...s.args, 'start'], {
      env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG, ...(stream === undefined ? {} : { JOURNAL_STREAM: stream }) },
      stdio: ['ignore', 'ignore', fd],
    });
    closeSync(fd);
    children.push(child);
    const output = (): string => readFileSync(errPath, 'utf8');
    await following(s, child, output);
    fail(s, address, 3);
    await waitFor('the ban in the ban log', () => banned(s, address), 10_000);
    await then?.(s, output);
    assert.equal(await stopped(child), 0, output());
    return output();
  };
  /** Runs the daemon with its standard error (or output) on a pipe read by this test, until it follows its log. */
  const piped = async (name: string, daemonConf = '', stream: 'stderr' | 'stdout' = 'stderr'): Promise<{ s: Setup; child: ChildProcess; output: () => string }> => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    const s = setup(dir, daemonConf);
    const stdio = stream === 'stderr' ? ['ignore', 'ignore', 'pipe'] as const : ['ignore', 'pipe', 'ignore'] as const;
    const child = spawn(process.execPath, [BIN, ...s.args, 'start'], { env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG }, stdio: [...stdio] });
    children.push(child);
    let text = '';
    child[stream]!.setEncoding('utf8').on('data', (d: string) => (text += d));
    const output = (): string => text;
    await following(s, child, output);
    return { s, child, output };
  };
  const devIno = (fd: number): string => {
    const stat = fstatSync(fd, { bigint: true });
    return `${stat.dev}:${stat.ino}`;
  };

  it('loglevel = warning: the problems only, with sd-daemon <N> priorities when the stream is the journal\'s', async () => {
    const log = await run('warning', 'loglevel = warning\n', '203.0.113.7', devIno);
    const lines = log.trimEnd().split('\n');
    assert.ok(lines.length > 0 && lines.every((line) => /^<[34]>(WARNING|ERROR) /.test(line)), log);
    assert.ok(lines.some((line) => line.startsWith('<4>WARNING jail ghost watches no log file: nothing matches ')), log);
    assert.doesNotMatch(log, /started|Ban 203\.0\.113\.7|\d{4}-\d\d-\d\dT/, 'no notice or info line, and no time stamp: the journal keeps its own');
  });

  it('by default (info): a ban and a lift as fail2ban writes them at notice, details at info, and no <N> for a JOURNAL_STREAM that is not this stream', async () => {
    const log = await run('info', '', '203.0.113.8', (fd) => `${devIno(fd).split(':')[0]}:1`, async (s, output) => {
      assert.equal(runCli([...s.args, 'ban', '203.0.113.12', '--for', '5']).code, 0);
      assert.equal(runCli([...s.args, 'unban', '203.0.113.8']).code, 0);
      await waitFor('the lift and the expiry logged', () => /\[sshd\] Unban 203\.0\.113\.8\n/.test(output()) && /\[manual\] Unban 203\.0\.113\.12\n/.test(output()), 20_000)
        .catch((error: Error) => assert.fail(`${error.message}:\n${output()}`));
    });
    const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ f2b-store: ';
    assert.match(log, new RegExp(`^${stamp}NOTICE \\[sshd\\] Ban 203\\.0\\.113\\.8$`, 'm'));
    assert.match(log, new RegExp(`^${stamp}INFO \\[sshd\\] 203\\.0\\.113\\.8 banned for 3600 s after 3 failures \\(ban #1\\)$`, 'm'));
    assert.match(log, new RegExp(`^${stamp}NOTICE started \\(pid \\d+\\)`, 'm'));
    assert.match(log, new RegExp(`^${stamp}WARNING jail ghost watches no log file`, 'm'));
    assert.match(log, new RegExp(`^${stamp}NOTICE SIGTERM: stopping`, 'm'));
    assert.match(log, new RegExp(`^${stamp}NOTICE \\[sshd\\] Unban 203\\.0\\.113\\.8$`, 'm'), 'unban, taken in from the CLI');
    assert.match(log, new RegExp(`^${stamp}NOTICE \\[manual\\] Unban 203\\.0\\.113\\.12$`, 'm'), 'expired');
    assert.doesNotMatch(log, /^</m);
  });

  it('a syslog socket nobody listens on: said once, and the log goes to standard error meanwhile', async () => {
    const log = await run('no-syslog', `logtarget = syslog\nsyslogsocket = ${join(tmp.dir, 'no-such-socket')}\n`, '203.0.113.11', () => undefined);
    assert.equal(log.split('cannot write the log to syslog').length, 2, log);
    assert.match(log, /ERROR cannot write the log to syslog \(.*no-such-socket\): ENOENT; writing it to standard error until that works again\n/);
    assert.match(log, /f2b-store: NOTICE \[sshd\] Ban 203\.0\.113\.11$/m);
  });

  it('stopped while the reader of its standard error lags (a pipe, as journald\'s stream): every Ban line still reaches it', async () => {
    const { s, child, output } = await piped('slow-reader');
    // Not read from now on: the socket's buffers (a few hundred KiB) fill, and the daemon's writes wait in its memory.
    child.stderr!.pause();
    const attackers = Array.from({ length: 10_000 }, (_, i) => `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    appendFileSync(s.authLog, attackers.map((address) => `${syslogDate()} web1 sshd[4242]: Failed password for root from ${address} port 50000 ssh2\n`.repeat(3)).join(''));
    const inBanLog = (): number => (existsSync(s.banLog) ? readFileSync(s.banLog, 'utf8').split('] Ban ').length - 1 : 0);
    await waitFor('10,000 bans in the ban log', () => inBanLog() === attackers.length, 30_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.kill('SIGTERM');
    // The reader catches up once the daemon has stopped (its exit, which used to drop what waited) or had time to.
    await Promise.race([exited, sleep(2000)]);
    child.stderr!.resume();
    assert.equal(await exited, 0);
    await closed;
    const told = attackers.filter((address) => output().includes(`] Ban ${address}\n`));
    assert.equal(told.length, attackers.length, `Ban lines on standard error for ${told.length} of ${attackers.length} bans; it ends:\n${output().slice(-500)}`);
    assert.match(output(), /NOTICE SIGTERM: stopping/);
  });

  for (const stream of ['stderr', 'stdout'] as const) {
    it(`the reader of its ${stream} (its log) goes away, a closed pipe: the daemon goes on banning, and stops cleanly`, async () => {
      const { s, child, output } = await piped(`gone-${stream}`, stream === 'stdout' ? 'logtarget = stdout\n' : '', stream);
      child[stream]!.destroy();
      fail(s, '203.0.113.30', 3);
      await waitFor('the ban in the ban log', () => banned(s, '203.0.113.30') || child.exitCode !== null, 10_000);
      assert.equal(child.exitCode, null, `the daemon exited (${child.exitCode}) when its ${stream} went away; it had written:\n${output()}`);
      fail(s, '203.0.113.31', 3);
      await waitFor('the next ban in the ban log', () => banned(s, '203.0.113.31') || child.exitCode !== null, 10_000);
      assert.equal(child.exitCode, null, 'still running after more lines to log');
      assert.equal(runCli([...s.args, 'status']).code, 0);
      assert.equal(await stopped(child), 0);
    });
  }

  it('check refuses a bad loglevel or logtarget with one line', () => {
    for (const [conf, message] of [
      ['loglevel = loud\n', /\[daemon\] loglevel: "loud" is no log level \(known: error, warning, notice, info, debug\)$/],
      ['logtarget = jurnal\n', /\[daemon\] logtarget: "jurnal" is no log target \(did you mean journal\?\)/],
    ] as const) {
      const dir = join(tmp.dir, `check-${conf.split(' ')[0]}`);
      mkdirSync(dir);
      const s = setup(dir, conf);
      const result = runCli([...s.args, 'check']);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.match(result.stderr.trimEnd(), message);
    }
  });
});

describe('the journal and syslog targets, into a private journald', () => {
  const tmp = tempDir();
  let journald: PrivateJournald;
  before(async () => {
    journald = await privateJournald();
  });
  after(async () => {
    await journald?.stop();
    tmp.cleanup();
  });

  /** The daemon inside the journald's namespace: bans `address`, stops. */
  const run = async (name: string, daemonConf: string, address: string): Promise<void> => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    const s = setup(dir, daemonConf);
    const child = journald.spawn([process.execPath, BIN, ...s.args, 'start'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG } });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { output += d; });
    try {
      await following(s, child, () => output);
      fail(s, address, 3);
      await waitFor('the ban in the ban log', () => banned(s, address), 10_000);
    } finally {
      assert.equal(await stopped(child), 0, output);
    }
    assert.equal(output, '', 'nothing on standard error: every line went to the target');
  };
  /** The entries journald holds from f2b-store, as [PRIORITY, transport, MESSAGE]. */
  const entries = (...filter: string[]): [string, string, string][] => {
    const result = journald.run(['journalctl', '--no-pager', '-o', 'json', 'SYSLOG_IDENTIFIER=f2b-store', ...filter]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim().split('\n').filter((line) => line !== '').map((line) => {
      const entry = JSON.parse(line) as Record<string, string>;
      return [entry.PRIORITY!, entry._TRANSPORT!, entry.MESSAGE!];
    });
  };

  it('journal: each line with its priority (journalctl -p works), and recidive reads the ban from the journal', async () => {
    await run('journal', 'logtarget = journal\nloglevel = debug\n', '203.0.113.9');
    const all = entries('_TRANSPORT=journal');
    assert.ok(all.some(([p, , m]) => p === '5' && m === 'NOTICE [sshd] Ban 203.0.113.9'), JSON.stringify(all));
    assert.ok(all.some(([p, , m]) => p === '6' && m.startsWith('INFO [sshd] 203.0.113.9 banned for 3600 s')), JSON.stringify(all));
    const warnings = entries('_TRANSPORT=journal', '-p', 'warning');
    assert.ok(warnings.length > 0 && warnings.every(([p, , m]) => p === '4' && m.startsWith('WARNING ')), JSON.stringify(warnings));
    const recidive = journald.run([process.execPath, BIN, '--config', SAFE_CONFIG, '--json', 'test-filter', 'journal[SYSLOG_IDENTIFIER=f2b-store]', 'recidive']);
    assert.equal(recidive.code, 0, recidive.stderr);
    const found = JSON.parse(recidive.stdout) as { matches: { host: string }[] };
    assert.deepEqual(found.matches.map((m) => m.host), ['203.0.113.9']);
  });

  it('syslog: RFC 3164 datagrams that journald\'s syslog socket takes with their priority and tag', async () => {
    await run('syslog', 'logtarget = syslog\nsyslogsocket = /run/systemd/journal/dev-log\n', '203.0.113.10');
    const all = entries('_TRANSPORT=syslog');
    assert.ok(all.some(([p, , m]) => p === '5' && m === 'NOTICE [sshd] Ban 203.0.113.10'), JSON.stringify(all));
    assert.ok(all.some(([p, , m]) => p === '4' && m.startsWith('WARNING jail ghost watches no log file')), JSON.stringify(all));
  });
});
