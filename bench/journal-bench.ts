/**
 * Journal benchmark: the daemon's `backend = systemd` sshd jail reading a real journal, beside the
 * file source on the same lines. A private systemd-journald (its own mount namespace and tmpfs
 * journal, rate limiting off) receives 200,000 sshd log calls of the daemon benchmark's workload
 * as sshd sends them (syslog datagrams, bench/sshd-syslog.py) while the real built daemon, run
 * inside that namespace, follows the journal with its one `journalctl --follow` reader. Measured: when journald stored the
 * last entry, the daemon's lag behind it (its committed cursor reaching that entry, read from its
 * database every POLL_MS), lines/s end to end, the bans against the expected set (else the run
 * fails), the CPU of the daemon, its journalctl and journald for the run, and of the daemon and
 * its journalctl over IDLE_SECONDS without writes. Then the daemon benchmark's file source runs
 * on the same messages as syslog lines.
 * Env: F2B_BENCH_JOURNAL_LINES=N changes the number of entries (attackers scale with it).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { privateJournald, type PrivateJournald } from '../test/helpers/journal.js';
import { benchFileSource, type Figures as FileFigures } from './daemon-bench.js';
import {
  childrenNamed, cpuSeconds, driftSchedule, IDLE_SECONDS, IDLE_TARGET_PERCENT, idleCpuShares, loadRemark, memory, openProgress, POLL_MS, STALL_MS,
  startDaemon, stopAndCheckBanLines, writeDaemonConfig, type Daemon, type DaemonProgress,
} from './daemon-process.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { checkBans, MAXRETRY, sshdBatches, sshdWorkload, WORKLOAD_REMARK, type Workload } from './sshd-workload.js';
import type { Row } from './table.js';

const JOURNALD_SETTINGS = {
  // journald's default, 10,000 messages per 30 s from one service, would drop most of the run.
  RateLimitIntervalSec: '0',
  RateLimitBurst: '0',
  // Not flushed to /var (nothing asks it to), journald writes to /run/log/journal: room for the
  // whole run in one file, so nothing is rotated or vacuumed away under the reader.
  RuntimeMaxUse: '4G',
  RuntimeMaxFileSize: '2G',
  SystemMaxUse: '4G',
  SystemMaxFileSize: '2G',
};
/** The daemon's name for the system journal, as its database keys the cursor. */
const SOURCE = 'system';
/** What journald records for the writer (python3 run as sshd); the shipped sshd filter's journalmatch includes it. */
const WRITER_MATCH = '_COMM=sshd';
const WRITER = fileURLToPath(new URL('sshd-syslog.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const pct = (share: number): string => `${(100 * share).toFixed(3)}%`;

/** journalctl in the journald's namespace; its output. */
function journalctl(journald: PrivateJournald, args: readonly string[]): Promise<string> {
  const [file, ...rest] = journald.argv(['journalctl', '--no-pager', '--quiet', ...args]) as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(file, rest, { encoding: 'utf8', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`journalctl ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** How many entries pass `match`, counted from `journalctl --output=cat` as it streams. */
function countEntries(journald: PrivateJournald, match: string): Promise<number> {
  const child = journald.spawn(['journalctl', '--no-pager', '--quiet', '--output=cat', match], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  // 'close': the lines are counted from the pipe, which may still hold some when the process has exited.
  return new Promise((resolve, reject) => child.once('close', (code) => {
    if (code === 0) resolve(lines);
    else reject(new Error(`journalctl --output=cat ${match} exited ${code}: ${stderr.trim()}`));
  }));
}

interface Entry {
  readonly cursor: string;
  readonly message: string;
  /** journald's __REALTIME_TIMESTAMP, epoch ms. */
  readonly storedAt: number;
}

async function newestEntry(journald: PrivateJournald): Promise<Entry | undefined> {
  const line = (await journalctl(journald, ['--lines=1', '--output=json', '--output-fields=MESSAGE', WRITER_MATCH])).trim();
  if (line === '') return undefined;
  const json = JSON.parse(line) as { __CURSOR: string; __REALTIME_TIMESTAMP: string; MESSAGE: string };
  return { cursor: json.__CURSOR, message: json.MESSAGE, storedAt: Number(json.__REALTIME_TIMESTAMP) / 1000 };
}

function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Ends a child of ours (SIGTERM) and waits for it. */
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill();
  await exited;
}

interface Run {
  /** Epoch ms: the first write, the last line handed to the writer, journald storing it, the daemon's cursor on it. */
  readonly start: number;
  readonly lastWrite: number;
  readonly stored: number;
  readonly done: number;
}

/**
 * Hands the workload to `writer` (sshd-syslog.py's stdin) in batches while sampling the daemon's
 * committed cursor, and waits until that cursor is on the last entry. Each cursor is timed when
 * first seen, so the done time does not depend on when the last entry is known.
 */
async function writeAndFollow(journald: PrivateJournald, writer: ChildProcess, w: Workload, failuresOf: Uint32Array, progress: DaemonProgress, daemon: Daemon): Promise<Run> {
  const firstSeen = new Map<string, number>();
  let latest: string | undefined;
  let movedAt = Date.now();
  const sample = (): void => {
    const cursor = progress.cursor(SOURCE);
    if (cursor === undefined || firstSeen.has(cursor)) return;
    firstSeen.set(cursor, Date.now());
    [latest, movedAt] = [cursor, Date.now()];
  };
  let following = true;
  const sampler = (async () => {
    while (following) {
      sample();
      await sleep(POLL_MS);
    }
  })();
  let writerStderr = '';
  writer.stderr!.setEncoding('utf8').on('data', (d: string) => { writerStderr += d; });
  const writerExit = new Promise<number | null>((resolve) => writer.once('exit', (code) => resolve(code)));
  try {
    const start = Date.now();
    let lastWrite = start;
    let lastMessage = '';
    for (const batch of sshdBatches(w, failuresOf)) {
      await write(writer.stdin!, batch.map((line) => `${line.pid}\t${line.message}\n`).join(''));
      lastWrite = Date.now();
      lastMessage = batch.at(-1)!.message;
    }
    writer.stdin!.end();
    const code = await writerExit;
    if (code !== 0) throw new Error(`${WRITER} exited ${code}: ${writerStderr.trim()}`);
    // journald may still be storing what was sent, and the last message may have come
    // before too: the daemon is done when it is on the newest entry once the journal holds them all.
    for (;;) {
      const newest = await newestEntry(journald);
      if (newest?.message === lastMessage && firstSeen.has(newest.cursor) && await countEntries(journald, WRITER_MATCH) === w.lines) {
        const last = (await newestEntry(journald))!;
        const done = firstSeen.get(last.cursor);
        if (done !== undefined) return { start, lastWrite, stored: last.storedAt, done };
      }
      if (daemon.exited()) throw new Error(`the daemon exited while reading the journal: ${daemon.tail()}`);
      if (Date.now() - movedAt > STALL_MS) {
        throw new Error(`the daemon's cursor stayed at ${latest} for ${STALL_MS / 1000} s; the journal holds ${int(await countEntries(journald, WRITER_MATCH))} `
          + `of the ${int(w.lines)} entries written, the newest ${JSON.stringify(newest)}: ${daemon.tail()}`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    following = false;
    await sampler;
  }
}

interface JournalFigures {
  readonly handSeconds: number;
  readonly storeSeconds: number;
  readonly lagSeconds: number;
  readonly totalSeconds: number;
  readonly bans: number;
  readonly daemonCpu: number;
  readonly readerCpu: number;
  readonly journaldCpu: number;
  readonly daemonPeakRss: number;
  readonly readerPeakRss: number;
  readonly idleDaemon: number;
  readonly idleReader: number;
  readonly diskUsage: string;
  readonly started: string;
}

/** The daemon's one journalctl: waited for, since the reader starts it after the daemon says it is watching. */
async function readerPid(daemon: Daemon): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = childrenNamed(daemon.pid, 'journalctl');
    if (found.length === 1) return found[0]!;
    if (daemon.exited() || Date.now() > deadline) throw new Error(`the daemon runs ${found.length} journalctl processes, not one: ${daemon.tail()}`);
    await sleep(POLL_MS);
  }
}

async function measureJournal(dir: string, w: Workload): Promise<JournalFigures> {
  const files = writeDaemonConfig(dir, 'backend = systemd');
  // python3 started through a symlink named sshd has the command name sshd: journald records _COMM=sshd, as for sshd itself.
  const sshd = join(dir, 'bin', 'sshd');
  mkdirSync(join(dir, 'bin'));
  symlinkSync(PYTHON, sshd);
  const journald = await privateJournald({ settings: JOURNALD_SETTINGS });
  let daemon: Daemon | undefined;
  let writer: ChildProcess | undefined;
  let progress: DaemonProgress | undefined;
  try {
    daemon = startDaemon(files, (command, options) => journald.spawn(command, options));
    await daemon.watching;
    const reader = await readerPid(daemon);
    progress = openProgress(files.db);
    const pids = [daemon.pid, reader, journald.journald()] as const;
    const before = pids.map(cpuSeconds);
    const failuresOf = new Uint32Array(w.attackers);
    console.error(`journal bench: writing ${int(w.lines)} entries to the journal…`);
    writer = journald.spawn([sshd, WRITER], { stdio: ['pipe', 'ignore', 'pipe'] });
    const run = await writeAndFollow(journald, writer, w, failuresOf, progress, daemon);
    const [daemonCpu, readerCpu, journaldCpu] = pids.map((pid, i) => cpuSeconds(pid) - before[i]!) as [number, number, number];
    const bans = checkBans(progress.bannedAddresses(), failuresOf);
    console.error(`journal bench: ${int(bans)} bans, as expected; ${IDLE_SECONDS} s idle…`);
    const [idleDaemon, idleReader] = await idleCpuShares([daemon.pid, reader]) as [number, number];
    if (childrenNamed(daemon.pid, 'journalctl').join() !== String(reader)) throw new Error(`the daemon's journalctl (pid ${reader}) was restarted during the run: ${daemon.tail()}`);
    const daemonPeakRss = memory(daemon.pid, 'VmHWM');
    const readerPeakRss = memory(reader, 'VmHWM');
    const diskUsage = /take up (\S+)/.exec(await journalctl(journald, ['--disk-usage']))?.[1] ?? '?';
    await stopAndCheckBanLines(daemon, files, bans);
    return {
      handSeconds: (run.lastWrite - run.start) / 1000,
      storeSeconds: (run.stored - run.start) / 1000,
      lagSeconds: (run.done - run.stored) / 1000,
      totalSeconds: (run.done - run.start) / 1000,
      bans, daemonCpu, readerCpu, journaldCpu, daemonPeakRss, readerPeakRss, idleDaemon, idleReader, diskUsage,
      started: daemon.started(),
    };
  } finally {
    progress?.close();
    if (writer) await end(writer);
    await daemon?.stop();
    await journald.stop();
  }
}

function rows(w: Workload, j: JournalFigures, f: FileFigures): Row[] {
  const core = (cpu: number, seconds: number): string => `${cpu.toFixed(2)} s (${(100 * cpu / seconds).toFixed(0)}% of one core)`;
  const idleJournal = j.idleDaemon + j.idleReader;
  const idleMet = idleJournal < IDLE_TARGET_PERCENT / 100 && f.idleCpu < IDLE_TARGET_PERCENT / 100;
  return [
    ['lines', `${int(w.lines)} syslog datagrams as sshd sends them (journal files: ${j.diskUsage})`, `${int(w.lines)} lines appended to auth.log (${mib(f.bytes)})`, '', ''],
    ['written', `journald stored the last entry ${j.storeSeconds.toFixed(2)} s after the first write, ${int(w.lines / j.storeSeconds)} lines/s `
      + `(sent in ${j.handSeconds.toFixed(2)} s: the writer waits while journald's queue is full)`, `${f.writeSeconds.toFixed(2)} s, ${int(f.writerRate)} lines/s`, '', ''],
    ['lag', `${j.lagSeconds.toFixed(2)} s from journald storing the last entry until the daemon's committed cursor was on it`,
      `${f.lagSeconds.toFixed(2)} s from the last write until the daemon's committed position was at the end`, '', ''],
    ['throughput end to end', `${int(w.lines / j.totalSeconds)} lines/s (${j.totalSeconds.toFixed(2)} s from the first write until everything was read and banned)`,
      `${int(w.lines / f.totalSeconds)} lines/s (${f.totalSeconds.toFixed(2)} s)`, '', ''],
    ['bans', `${int(j.bans)}, exactly the addresses with ≥ ${MAXRETRY} failures`, `${int(f.bans)}, the same`, '= expected (else the run fails)', 'met'],
    ['daemon CPU for the run', core(j.daemonCpu, j.totalSeconds), core(f.runCpu, f.totalSeconds), '', ''],
    ['its `journalctl --follow` CPU for the run', core(j.readerCpu, j.totalSeconds), '—', '', ''],
    ['journald CPU for the run (the writing side)', core(j.journaldCpu, j.totalSeconds), '—', '', ''],
    ['peak RSS (VmHWM)', `daemon ${mib(j.daemonPeakRss)}, journalctl ${mib(j.readerPeakRss)}`, `daemon ${mib(f.peakRss)}`, '', ''],
    [`CPU when idle (${IDLE_SECONDS} s without writes)`, `${pct(idleJournal)} of one core: daemon ${pct(j.idleDaemon)}, journalctl ${pct(j.idleReader)}`,
      `${pct(f.idleCpu)} (daemon)`, `≈ 0 (< ${IDLE_TARGET_PERCENT}%)`, idleMet ? 'met' : 'NOT met'],
  ];
}

export async function runJournalBench(): Promise<void> {
  const lines = Number(process.env['F2B_BENCH_JOURNAL_LINES'] ?? 200_000);
  if (!(Number.isInteger(lines) && lines >= 100)) throw new Error(`F2B_BENCH_JOURNAL_LINES: not a whole number ≥ 100: ${lines}`);
  const workload = sshdWorkload(lines);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-journal-bench-'));
  let journal: JournalFigures;
  try {
    journal = await measureJournal(dir, workload);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.error(`journal bench: the file source on the same ${int(lines)} lines…`);
  const file = await benchFileSource(workload, 0);
  const loadAtEnd = loadavg()[0]!;
  const settings = Object.entries(JOURNALD_SETTINGS).map(([key, value]) => `${key}=${value}`).join(', ');
  const remarks = [
    'Both columns: the real built daemon, `node dist/cli/f2b-store.js --db DB --config DIR start`, one jail `[sshd]` with the shipped sshd filter, '
      + `maxretry ${MAXRETRY}, findtime 1h, bantime 1h, \`[reconcile] backends = none\`. Journal: \`backend = systemd\` with the filter's own journalmatch `
      + '(`_COMM=sshd + _COMM=sshd-session + _COMM=sshd-auth`), read by the daemon\'s one `journalctl --follow --output=json`; the daemon runs inside the mount '
      + `namespace of a private systemd-journald (tmpfs journal, ${settings}: the default rate limit would drop most entries). File: a temp auth.log, as in the daemon section.`,
    `Lines: the daemon section's workload generator at ${int(lines)} lines (${int(workload.failures)} failures from ${int(workload.attackers)} attackers); ${WORKLOAD_REMARK} `
      + 'Journal: each line as sshd\'s syslog(3) call sends it, a datagram `<38>Mmm dd hh:mm:ss sshd[PID]: MESSAGE` on journald\'s syslog socket from python3 run as `sshd` '
      + '(bench/sshd-syslog.py), so the journal records `_COMM=sshd`, `SYSLOG_IDENTIFIER=sshd` and each line\'s own `SYSLOG_PID` (the filter tells sessions apart by it, '
      + 'as in the file); the host and the time come from the journal. File: the same lines in syslog format, made and dated just before the clock starts (as in the daemon section), run after the journal.',
    `Lag and throughput: this process reads the daemon's database read-only every ${POLL_MS} ms. Journal: the daemon is done when its committed cursor `
      + '(stored in the same transaction as the bans and failure counters of those entries) is the last entry\'s (the newest once the journal holds every entry written, counted), '
      + 'timed from that entry\'s `__REALTIME_TIMESTAMP` (journald storing it). File: done when the committed position equals the file size. '
      + 'Either run fails unless the active bans are exactly the addresses written with ≥ maxretry failures, each with one line in the ban log and one on stderr.',
    `CPU: user+sys from /proc/PID/stat (10 ms ticks) of the daemon, the journalctl it runs, and journald; idle = ${IDLE_SECONDS} s after the daemon was done, `
      + `no writes, ${driftSchedule(journal.started)}. The run fails if the daemon's journalctl was restarted.`,
    loadRemark(loadAtStart, loadAtEnd, `the writer, journald, the daemon and its journalctl share the machine's ${machine.cores} cores`),
  ];
  report('journal', `Journal benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt },
    ['what', 'journal (`backend = systemd`)', 'file (`logpath`)', 'target', 'status'], rows(workload, journal, file), remarks);
}
