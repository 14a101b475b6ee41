/**
 * Daemon benchmark: the real built daemon (`f2b-store start`) follows a temp auth.log with an
 * sshd jail (maxretry 3, findtime 1h, bantime 1h, `backends = none`) while this process appends
 * 1,000,000 sshd-format lines dated now: 30% failures from 50,000 distinct attackers
 * (198.18.0.0/15 and 2001:db8::/32), 70% noise. Measured: the writer's rate, the daemon's backlog
 * while writing, its lag behind the last write (its log position in the database reaching the
 * file size, read read-only every POLL_MS), the bans in the store against the addresses written
 * with ≥ maxretry failures (they must be the same set, else the run fails), its CPU for the run,
 * its peak RSS (VmHWM) and its CPU over IDLE_SECONDS without writes.
 * Env: F2B_BENCH_DAEMON_LINES=N changes the log length (attackers scale with it);
 * F2B_BENCH_DAEMON_RATE=N writes N lines/s instead of as fast as the disk allows;
 * F2B_BENCH_DAEMON_PROF=DIR runs the daemon with `node --cpu-prof` writing its profile into DIR.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import type { Row } from './table.js';

const CLI = fileURLToPath(new URL('../dist/cli/f2b-store.js', import.meta.url));
const FAILURE_SHARE = 0.3;
/** 50,000 attackers per 1,000,000 lines: six failures each on average, skewed. */
const ATTACKERS_PER_LINE = 0.05;
const MAXRETRY = 3;
const BATCH_LINES = 1000;
const POLL_MS = 10;
const IDLE_SECONDS = 30;
/** The run fails when the daemon's position has not moved for this long after the last write. */
const STALL_MS = 60_000;
const IDLE_TARGET_PERCENT = 0.5;
const CLK_TCK = 100;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const USERS = ['root', 'admin', 'test', 'oracle', 'ubuntu', 'git', 'postgres', 'user', 'guest', 'ftpuser'];

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** xorshift32: the same log on every run, so runs compare. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Attacker `i` in canonical form: every tenth in 2001:db8::/32, the others in 198.18.0.0/15. */
function attackerAddress(i: number): string {
  const n = i + 1;
  if (i % 10 === 9) return `2001:db8:f2b:${n.toString(16)}::1`;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** Local time, as sshd's syslog lines carry it (the filter reads them as local time). */
function syslogDate(at: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[at.getMonth()]} ${String(at.getDate()).padStart(2, ' ')} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

interface Workload {
  readonly lines: number;
  readonly failures: number;
  readonly attackers: number;
}

/**
 * The log in batches of BATCH_LINES lines, each dated when it is produced. Exactly
 * `failures` failure lines: every attacker fails at least once, the rest go mostly to a few
 * (an attacker index from the product of two uniform draws), so some attackers stay below
 * maxretry. `failuresOf[i]` counts attacker i's failures.
 */
function* sshdBatches(w: Workload, failuresOf: Uint32Array): Generator<string> {
  const rng = random(5);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const port = (): number => 1024 + Math.floor(rng() * 64000);
  const anyAttacker = (): number => Math.floor(w.attackers * rng() * rng());
  let linesLeft = w.lines;
  let failuresLeft = w.failures;
  let nextFirst = 0;
  // Every line a connection of its own, as sshd forks one process per connection: lines of one
  // pid are one session to the filter (<F-MLFID>), and two user names in a session count as a failure.
  let pid = 10_000;
  const failure = (): string => {
    // An attacker not seen yet, as often as needed for all of them to appear by the last failure.
    const i = rng() * failuresLeft < w.attackers - nextFirst ? nextFirst++ : anyAttacker();
    failuresLeft--;
    failuresOf[i]!++;
    const ip = attackerAddress(i);
    const r = rng();
    if (r < 0.6) return `Failed password for ${pick(USERS)} from ${ip} port ${port()} ssh2`;
    if (r < 0.9) return `Failed password for invalid user ${pick(USERS)} from ${ip} port ${port()} ssh2`;
    return `Invalid user ${pick(USERS)} from ${ip} port ${port()}`;
  };
  // Noise: lines the sshd filter must reject, some of them naming attackers.
  const noise = (): string => {
    const r = rng();
    const ip = attackerAddress(anyAttacker());
    if (r < 0.15) return `Received disconnect from ${ip} port ${port()}:11: Bye Bye [preauth]`;
    if (r < 0.30) return `Disconnected from invalid user ${pick(USERS)} ${ip} port ${port()} [preauth]`;
    if (r < 0.40) return `Connection closed by ${ip} port ${port()} [preauth]`;
    if (r < 0.50) return `Accepted publickey for deploy from 10.0.${Math.floor(rng() * 256)}.${Math.floor(rng() * 256)} port ${port()} ssh2: ED25519 SHA256:q3H0t8yqVb0b1Xw2k5m9yZ1d4cS8fJ2pLr7Tn6uWvE0`;
    if (r < 0.65) return 'pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)';
    if (r < 0.80) return 'pam_unix(sshd:session): session closed for user deploy';
    return 'error: kex_exchange_identification: Connection closed by remote host';
  };
  while (linesLeft > 0) {
    const date = syslogDate(new Date());
    const count = Math.min(BATCH_LINES, linesLeft);
    let text = '';
    for (let k = 0; k < count; k++) {
      const message = rng() * linesLeft < failuresLeft ? failure() : noise();
      linesLeft--;
      text += `${date} web1 sshd[${pid++}]: ${message}\n`;
    }
    yield text;
  }
}

/** The daemon as a child process: its output read line by line, the ban lines counted. */
interface Daemon {
  readonly pid: number;
  /** Resolves at the `watching N log files` line; rejects if the daemon exits first. */
  readonly watching: Promise<void>;
  readonly started: () => string;
  readonly banLines: () => number;
  readonly tail: () => string;
  readonly exited: () => boolean;
  stop(): Promise<number | null>;
}

function startDaemon(db: string, config: string): Daemon {
  const profile = process.env['F2B_BENCH_DAEMON_PROF'];
  const node = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...node, CLI, '--db', db, '--config', config, 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  const last: string[] = [];
  let started = '';
  let bans = 0;
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    exited = true;
    resolve(code);
  }));
  const watching = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (line.includes('] Ban ')) bans++;
        else if (line.includes(' started (pid ')) started = line;
        else if (/ watching \d+ log files/.test(line)) resolve();
        last.push(line);
        if (last.length > 20) last.shift();
      });
    }
    void exit.then((code) => reject(new Error(`the daemon exited (${code}) before following its log: ${last.join(' | ')}`)));
  });
  return {
    pid: child.pid, watching,
    started: () => started,
    banLines: () => bans,
    tail: () => last.join('\n'),
    exited: () => exited,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        return await exit;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** user + sys CPU seconds of process `pid` (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM). */
function memory(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) * 1024;
}

/** The daemon's progress as its database shows it, read-only. */
interface Progress {
  offset(): number;
  bannedAddresses(): Set<string>;
  close(): void;
}

function openProgress(db: string, log: string): Progress {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  const offset = conn.prepare<[string], number>('SELECT offset FROM log_positions WHERE path = ?').pluck();
  const addresses = conn.prepare<[], string>("SELECT address FROM bans WHERE jail = 'sshd' AND lifted_at IS NULL").pluck();
  return {
    offset: () => offset.get(log) ?? 0,
    bannedAddresses: () => new Set(addresses.all()),
    close: () => conn.close(),
  };
}

interface Figures {
  readonly bytes: number;
  readonly writeSeconds: number;
  readonly writerRate: number;
  readonly maxBacklogBytes: number;
  readonly lagSeconds: number;
  readonly totalSeconds: number;
  readonly bans: number;
  readonly banLogLines: number;
  readonly daemonBanLines: number;
  readonly runCpu: number;
  readonly startRss: number;
  readonly peakRss: number;
  readonly endRss: number;
  readonly idleCpu: number;
  readonly started: string;
}

/**
 * Appends the workload in batches while sampling the daemon's position, then waits until it has
 * read the whole file. Returns the writer's figures and when the daemon was done.
 */
async function appendAndFollow(path: string, w: Workload, failuresOf: Uint32Array, rate: number, progress: Progress, daemon: Daemon) {
  const file = await open(path, 'a');
  let bytes = 0;
  let maxBacklogBytes = 0;
  const sample = (): number => {
    const offset = progress.offset();
    maxBacklogBytes = Math.max(maxBacklogBytes, bytes - offset);
    return offset;
  };
  let writing = true;
  const sampler = (async () => {
    while (writing) {
      sample();
      await sleep(POLL_MS);
    }
  })();
  const start = performance.now();
  let lastWrite = start;
  let written = 0;
  try {
    for (const batch of sshdBatches(w, failuresOf)) {
      const buffer = Buffer.from(batch);
      await file.write(buffer);
      lastWrite = performance.now();
      bytes += buffer.length;
      written += BATCH_LINES;
      const ahead = rate > 0 ? start + (1000 * written) / rate - performance.now() : 0;
      if (ahead > 0) await sleep(ahead);
    }
  } finally {
    await file.close();
    writing = false;
    await sampler;
  }
  let moved = lastWrite;
  let seen = -1;
  for (;;) {
    const offset = sample();
    const now = performance.now();
    if (offset === bytes) return { bytes, start, lastWrite, done: now, maxBacklogBytes };
    if (offset !== seen) [seen, moved] = [offset, now];
    if (daemon.exited()) throw new Error(`the daemon exited while reading the log: ${daemon.tail()}`);
    if (now - moved > STALL_MS) throw new Error(`the daemon stopped at byte ${int(offset)} of ${int(bytes)} for ${STALL_MS / 1000} s: ${daemon.tail()}`);
    await sleep(POLL_MS);
  }
}

/** The active bans must be exactly the attackers written with ≥ maxretry failures; returns how many. */
function checkBans(progress: Progress, failuresOf: Uint32Array): number {
  const expected = new Set<string>();
  failuresOf.forEach((n, i) => {
    if (n >= MAXRETRY) expected.add(attackerAddress(i));
  });
  const stored = progress.bannedAddresses();
  const missing = [...expected].filter((a) => !stored.has(a));
  const extra = [...stored].filter((a) => !expected.has(a));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`bans: ${int(stored.size)} in the store, ${int(expected.size)} expected; missing ${int(missing.length)} `
      + `(${missing.slice(0, 3).join(', ')}), unexpected ${int(extra.length)} (${extra.slice(0, 3).join(', ')})`);
  }
  return expected.size;
}

function writeConfig(dir: string): { config: string; authLog: string; banLog: string; db: string } {
  const config = join(dir, 'etc');
  const authLog = join(dir, 'auth.log');
  const banLog = join(dir, 'f2b-store.log');
  mkdirSync(config);
  writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = none\n[daemon]\nlogfile = ${banLog}\n`);
  writeFileSync(join(config, 'jail.local'),
    `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${authLog}\nmaxretry = ${MAXRETRY}\nfindtime = 1h\nbantime = 1h\n`);
  writeFileSync(authLog, '');
  return { config, authLog, banLog, db: join(dir, 'bans.sqlite3') };
}

async function measure(dir: string, w: Workload, rate: number): Promise<Figures> {
  const { config, authLog, banLog, db } = writeConfig(dir);
  const daemon = startDaemon(db, config);
  let progress: Progress | undefined;
  try {
    await daemon.watching;
    progress = openProgress(db, authLog);
    const startRss = memory(daemon.pid, 'VmRSS');
    const cpuBefore = cpuSeconds(daemon.pid);
    const failuresOf = new Uint32Array(w.attackers);
    console.error(`daemon bench: appending ${int(w.lines)} lines ${rate > 0 ? `at ${int(rate)} lines/s` : 'as fast as the disk allows'}…`);
    const run = await appendAndFollow(authLog, w, failuresOf, rate, progress, daemon);
    const runCpu = cpuSeconds(daemon.pid) - cpuBefore;
    const bans = checkBans(progress, failuresOf);
    console.error(`daemon bench: ${int(bans)} bans, as expected; ${IDLE_SECONDS} s idle…`);
    const idleBefore = cpuSeconds(daemon.pid);
    const idleStart = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const idleCpu = (cpuSeconds(daemon.pid) - idleBefore) / ((performance.now() - idleStart) / 1000);
    const peakRss = memory(daemon.pid, 'VmHWM');
    const endRss = memory(daemon.pid, 'VmRSS');
    const code = await daemon.stop();
    if (code !== 0) throw new Error(`the daemon exited ${code} on SIGTERM: ${daemon.tail()}`);
    const banLogLines = readFileSync(banLog, 'utf8').split('\n').filter((l) => l.includes(' Ban ')).length;
    if (banLogLines !== bans || daemon.banLines() !== bans) {
      throw new Error(`${int(bans)} bans in the store, but ${int(banLogLines)} in the ban log and ${int(daemon.banLines())} Ban lines on stderr`);
    }
    return {
      bytes: run.bytes,
      writeSeconds: (run.lastWrite - run.start) / 1000,
      writerRate: (w.lines * 1000) / (run.lastWrite - run.start),
      maxBacklogBytes: run.maxBacklogBytes,
      lagSeconds: (run.done - run.lastWrite) / 1000,
      totalSeconds: (run.done - run.start) / 1000,
      bans, banLogLines, daemonBanLines: daemon.banLines(),
      runCpu, startRss, peakRss, endRss, idleCpu,
      started: daemon.started(),
    };
  } finally {
    progress?.close();
    await daemon.stop();
  }
}

function rows(w: Workload, f: Figures, rate: number): Row[] {
  const lineBytes = f.bytes / w.lines;
  const idlePercent = 100 * f.idleCpu;
  const ipv6 = Math.floor(w.attackers / 10);
  return [
    ['log appended', `${int(w.lines)} lines (${mib(f.bytes)}): ${int(w.failures)} failures (${(100 * w.failures / w.lines).toFixed(0)}%), ${int(w.lines - w.failures)} noise`, '', ''],
    ['attackers', `${int(w.attackers)} distinct (${int(w.attackers - ipv6)} in 198.18.0.0/15, ${int(ipv6)} in 2001:db8::/32); ${int(f.bans)} with ≥ ${MAXRETRY} failures`, '', ''],
    ['writer', `batches of ${int(BATCH_LINES)} lines, ${rate > 0 ? `paced at ${int(rate)} lines/s` : 'as fast as the disk allows'}: ${f.writeSeconds.toFixed(2)} s, ${int(f.writerRate)} lines/s`, '', ''],
    ['daemon backlog while writing (max)', `${int(f.maxBacklogBytes / lineBytes)} lines (${mib(f.maxBacklogBytes)})`, '', ''],
    ['lag behind the writer', `${f.lagSeconds.toFixed(2)} s from the last write until the daemon had read (and committed) every line`, '', ''],
    ['bans applied', `${int(f.bans)} in the store, exactly the addresses with ≥ ${MAXRETRY} failures; ${int(f.banLogLines)} in the ban log, `
      + `${int(f.daemonBanLines)} \`Ban\` lines on stderr`, `= ${int(f.bans)} expected (else the run fails)`, 'met'],
    ['throughput end to end', `${int(w.lines / f.totalSeconds)} lines/s (${f.totalSeconds.toFixed(2)} s from the first write until everything was read and banned`
      + `${rate > 0 ? '; bound by the paced writer' : ''})`, '', ''],
    ['daemon CPU for the run', `${f.runCpu.toFixed(2)} s user+sys (${(100 * f.runCpu / f.totalSeconds).toFixed(0)}% of one core over the run)`, '', ''],
    ['daemon memory', `peak RSS (VmHWM) ${mib(f.peakRss)}; RSS ${mib(f.startRss)} before the first line, ${mib(f.endRss)} after the idle period`, '', ''],
    ['daemon CPU when idle', `${idlePercent.toFixed(3)}% of one core over ${IDLE_SECONDS} s without writes`, `≈ 0 (< ${IDLE_TARGET_PERCENT}%)`, idlePercent < IDLE_TARGET_PERCENT ? 'met' : 'NOT met'],
  ];
}

export async function runDaemonBench(): Promise<void> {
  const lines = Number(process.env['F2B_BENCH_DAEMON_LINES'] ?? 1_000_000);
  const rate = Number(process.env['F2B_BENCH_DAEMON_RATE'] ?? 0);
  if (!(Number.isInteger(lines) && lines >= 100)) throw new Error(`F2B_BENCH_DAEMON_LINES: not a whole number ≥ 100: ${lines}`);
  if (!(rate >= 0)) throw new Error(`F2B_BENCH_DAEMON_RATE: not a rate in lines/s: ${rate}`);
  const workload: Workload = { lines, failures: Math.round(lines * FAILURE_SHARE), attackers: Math.round(lines * ATTACKERS_PER_LINE) };
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-daemon-bench-'));
  let figures: Figures;
  try {
    figures = await measure(dir, workload, rate);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAtEnd = loadavg()[0]!;
  const schedule = / drift check: (.*?), full check every (\d+) s/.exec(figures.started);
  const remarks = [
    'The real built daemon, `node dist/cli/f2b-store.js --db DB --config DIR start`, with one jail: `[sshd]` on a temp auth.log, '
      + `shipped sshd filter, maxretry ${MAXRETRY}, findtime 1h, bantime 1h. \`[reconcile] backends = none\`: no firewall is touched here; `
      + 'applying bans to nftables and ipset is measured by the firewall section.',
    'Log: sshd lines dated when written (syslog format, local time); failures are `Failed password` (60%), `Failed password for invalid user` (30%) '
      + 'and `Invalid user` (10%) lines; noise is disconnects and closed connections naming attackers, logins, sessions and kex errors, none of which the filter counts. '
      + 'Every attacker fails at least once; the other failures are skewed toward a few, so some attackers stay below maxretry.',
    `Lag and throughput: this process reads the daemon's database read-only every ${POLL_MS} ms; the daemon is done when its stored log position `
      + '(committed in the same transaction as the bans and failure counters of those lines) equals the file size. The run fails unless the active '
      + 'bans are exactly the addresses written with ≥ maxretry failures, each with one line in the ban log and one on stderr.',
    `CPU: user+sys from /proc/PID/stat (10 ms ticks); idle = ${IDLE_SECONDS} s after the daemon was done, no writes, `
      + `drift check ${schedule ? `\`${schedule[1]}\`, full check every ${schedule[2]} s` : 'at its default schedule'}, log sweep every 2 s. Peak RSS is VmHWM from /proc/PID/status.`,
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadAtEnd.toFixed(2)} (the writer and the daemon share the machine's ${machine.cores} cores; `
      + `the run adds about 1)${loadAtStart > 0.5 || loadAtEnd > 1.5 ? ': other work was running, timings are inflated' : ''}.`,
    'Where the daemon\'s time goes (cpu profiles, F2B_BENCH_DAEMON_PROF, 300,000 lines): the filter worker matches a chunk while the main thread '
      + 'counts and commits the one before (the tailer reads one 256 KiB chunk ahead); while the tailer is behind, up to 8 chunks share one '
      + 'transaction (with synchronous = FULL each commit is an fsync: per chunk it was the largest cost). Attackers fail on after their ban '
      + '(six failures each on average, maxretry 3): those failures are still counted (as fail2ban does), but a ban the daemon knows of is not '
      + 'decided again; the bans of a batch are read in one query. What remains on the main thread, largest first: the transaction '
      + '(failure-counter upserts, one per address whose window changed, and the ban rows with their indexes), counting (window update, '
      + 'address parsing), one store read per new ban for bantime.increment\'s count, the Ban lines (stderr and the ban log), sending the '
      + 'lines to the worker (structured clone), and GC.',
  ];
  report('daemon', `Daemon benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt },
    ['what', 'result', 'target', 'status'], rows(workload, figures, rate), remarks);
}
