/**
 * The real built daemon (`f2b-store start`) as a child process of a benchmark: its configuration
 * (one `[sshd]` jail, `backends = none` unless told), started with the unit's node options, its output, and its CPU and memory from /proc.
 * F2B_BENCH_DAEMON_PROF=DIR runs it with `node --cpu-prof` writing its profile into DIR.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { MAXRETRY } from './sshd-workload.js';

export const CLI = fileURLToPath(new URL('../dist/cli/f2b-store.js', import.meta.url));
const UNIT = fileURLToPath(new URL('../contrib/f2b-store.service', import.meta.url));
const CLK_TCK = 100;
/** How often the benchmarks read the daemon's progress from its database. */
export const POLL_MS = 10;
/** A run fails when the daemon's progress has not moved for this long after the last write. */
export const STALL_MS = 60_000;
export const IDLE_SECONDS = 30;
/** A daemon with nothing to read should cost about nothing. */
export const IDLE_TARGET_PERCENT = 0.5;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export interface DaemonFiles {
  readonly config: string;
  readonly banLog: string;
  readonly db: string;
}

/**
 * A config folder in `dir` with the `[sshd]` jail of the benchmarks reading from `source`
 * (`logpath = …` or `backend = systemd`), the daemon applying its bans to `backends`.
 */
export function writeDaemonConfig(dir: string, source: string, backends = 'none'): DaemonFiles {
  const config = join(dir, 'etc');
  const banLog = join(dir, 'f2b-store.log');
  mkdirSync(config);
  writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = ${backends}\n[daemon]\nlogfile = ${banLog}\n`);
  writeFileSync(join(config, 'jail.local'),
    `[sshd]\nenabled = true\nfilter = sshd\n${source}\nmaxretry = ${MAXRETRY}\nfindtime = 1h\nbantime = 1h\n`);
  return { config, banLog, db: join(dir, 'bans.sqlite3') };
}

/** The daemon as a child process: its output read line by line, the ban lines counted. */
export interface Daemon {
  readonly pid: number;
  /** Resolves at the `watching N log files` line; rejects if the daemon exits first. */
  readonly watching: Promise<void>;
  readonly started: () => string;
  readonly banLines: () => number;
  readonly tail: () => string;
  readonly exited: () => boolean;
  stop(): Promise<number | null>;
}

/** Starts a command: node's spawn, or one that runs it somewhere else (in a private journald's namespace). */
export type Spawner = (command: readonly string[], options: SpawnOptions) => ChildProcess;

const spawnHere: Spawner = ([file, ...args], options) => spawn(file!, args, options);

/** What a benchmark adds to the daemon: global options before `start` (`--netns NS`), and a reader of each output line. */
export interface DaemonExtras {
  readonly options?: readonly string[];
  readonly onLine?: (line: string) => void;
}

/**
 * The node options of the shipped unit's ExecStart= (the words between node and f2b-store.js):
 * the benchmarks start the daemon as a host's systemd does, read from the unit so the two cannot drift.
 */
export function unitNodeOptions(): string[] {
  const words = (/^ExecStart=(.*)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1] ?? '').split(/\s+/).filter((w) => w !== '');
  const bin = words.findIndex((w) => w.endsWith('/f2b-store.js'));
  if (bin < 1) throw new Error(`${UNIT}: no ExecStart= of node running f2b-store.js: ${words.join(' ')}`);
  return words.slice(1, bin);
}

export function startDaemon(files: DaemonFiles, spawner: Spawner = spawnHere, extras: DaemonExtras = {}): Daemon {
  const profile = process.env['F2B_BENCH_DAEMON_PROF'];
  const node = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const argv = [process.execPath, ...unitNodeOptions(), ...node, CLI, '--db', files.db, '--config', files.config, ...extras.options ?? [], 'start'];
  const child = spawner(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  const last: string[] = [];
  let started = '';
  let bans = 0;
  let exited = false;
  // 'close', not 'exit': a process's last writes may still be in the pipes when it has exited, and the Ban lines are counted from them.
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => {
    exited = true;
    resolve(code);
  }));
  const watching = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        extras.onLine?.(line);
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

/**
 * Stops the daemon, which must exit 0, and checks that each of the `bans` in the store has one
 * line in the ban log and one `Ban` line on its output.
 */
export async function stopAndCheckBanLines(daemon: Daemon, files: DaemonFiles, bans: number): Promise<void> {
  const code = await daemon.stop();
  if (code !== 0) throw new Error(`the daemon exited ${code} on SIGTERM: ${daemon.tail()}`);
  const banLogLines = readFileSync(files.banLog, 'utf8').split('\n').filter((l) => l.includes(' Ban ')).length;
  if (banLogLines !== bans || daemon.banLines() !== bans) {
    throw new Error(`${int(bans)} bans in the store, but ${int(banLogLines)} in the ban log and ${int(daemon.banLines())} Ban lines on stderr`);
  }
}

/** The drift check's schedule as the daemon's start line states it, for the remarks. */
export function driftSchedule(started: string): string {
  const schedule = / drift check: (.*?), full check every (\d+) s/.exec(started);
  return `drift check ${schedule ? `\`${schedule[1]}\`, full check every ${schedule[2]} s` : 'at its default schedule'}`;
}

/** The daemon's progress as its database shows it, read-only. */
export interface DaemonProgress {
  /** Its committed position in a log file; 0 before the first. */
  offset(path: string): number;
  /** The cursor committed last for a journal source (`system`). */
  cursor(source: string): string | undefined;
  bannedAddresses(): Set<string>;
  close(): void;
}

export function openProgress(db: string): DaemonProgress {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  const offset = conn.prepare<[string], number>('SELECT offset FROM log_positions WHERE path = ?').pluck();
  const cursor = conn.prepare<[string], string>('SELECT cursor FROM journal_cursors WHERE source = ?').pluck();
  const addresses = conn.prepare<[], string>("SELECT address FROM bans WHERE jail = 'sshd' AND lifted_at IS NULL").pluck();
  return {
    offset: (path) => offset.get(path) ?? 0,
    cursor: (source) => cursor.get(source),
    bannedAddresses: () => new Set(addresses.all()),
    close: () => conn.close(),
  };
}

/** user + sys CPU seconds of process `pid` (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

function statCpuSeconds(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** user + sys CPU seconds of each thread of process `pid` (/proc/PID/task/TID/stat), by thread id; the main thread's id is `pid`. */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(Number(task), statCpuSeconds(`/proc/${pid}/task/${task}/stat`));
    } catch {
      // Ended since the list was read.
    }
  }
  return threads;
}

/**
 * Splits the CPU that process `pid` spent since `before` (threadCpuSeconds) into its main thread,
 * its busiest other thread (the filter worker, in the daemon) and the rest (V8's GC and compiler
 * helpers, libuv's pool).
 */
export function threadShares(pid: number, before: ReadonlyMap<number, number>): { main: number; worker: number; rest: number } {
  const spent = [...threadCpuSeconds(pid)].map(([tid, seconds]) => [tid, seconds - (before.get(tid) ?? 0)] as const);
  const main = spent.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = spent.filter(([tid]) => tid !== pid).map(([, seconds]) => seconds).sort((a, b) => b - a);
  const worker = others[0] ?? 0;
  return { main, worker, rest: others.slice(1).reduce((a, b) => a + b, 0) };
}

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM). */
export function memory(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]) * 1024;
}

/** Each process's CPU over IDLE_SECONDS of waiting, as a share of one core. */
export async function idleCpuShares(pids: readonly number[]): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  const start = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const seconds = (performance.now() - start) / 1000;
  return pids.map((pid, i) => (cpuSeconds(pid) - before[i]!) / seconds);
}

/** The 1-minute load average at the start and end of a run, and what the run itself adds (`own`). */
export function loadRemark(start: number, end: number, own: string): string {
  return `1-minute load average at start / end: ${start.toFixed(2)} / ${end.toFixed(2)} (${own})`
    + `${start > 0.5 || end > 1.5 ? ': other work was running, timings are inflated' : ''}.`;
}

/** The children of process `pid` (of all its threads) whose command name is `comm`. */
export function childrenNamed(pid: number, comm: string): number[] {
  const children: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${child}/comm`, 'utf8').trim() === comm) children.push(child);
      } catch {
        // Exited since the list was read.
      }
    }
  }
  return children;
}
