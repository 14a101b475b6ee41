/**
 * Changes benchmark (issue 14): a ban made by another process reaches the daemon's backends as a
 * change, not as a full reconcile. A store of N bans (`--backend none import list FILE`), the real
 * daemon with `[reconcile] backends = nftables` in a fresh network namespace `f2bt-<random>`
 * (deleted in `finally`; no firewall command runs outside it), waited for until its start
 * reconcile has put the N bans in; then K CLI calls `--backend none ban ADDR`, a few seconds apart
 * (none: only the daemon puts them in the firewall). For each: the daemon's CPU (user+sys from
 * /proc/PID/stat) and the wall time from the call until ADDR is in the nftables set, and the
 * daemon's log must say it took the ban in as a change made by another process (else the run
 * fails). For comparison: the daemon's CPU per drift tick while idle.
 * Env: F2B_BENCH_CHANGES_BANS=N (default 100,000), F2B_BENCH_CHANGES_CALLS=K (default 10).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import {
  CLI, cpuSeconds, driftSchedule, IDLE_SECONDS, idleCpuShares, loadRemark, startDaemon, writeDaemonConfig, type Daemon, type DaemonFiles,
} from './daemon-process.js';
import { firewallEntries } from './firewall-bench.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { summarize, type Samples } from './stats.js';
import type { Row } from './table.js';

const run = promisify(execFile);

/** The CLI bans go to the `ban` command's default jail; nftables names its IPv4 host set `addr4-<jail>`. */
const BAN_JAIL = 'manual';
const BAN_SET = `addr4-${BAN_JAIL}`;
const GAP_MS = 3000;
const POLL_MS = 20;
/** A ban not in the firewall this long after its call fails the run: the drift tick is every 10 s by default. */
const REACH_MS = 60_000;
const START_MS = 600_000;
/** The imported bans: 100.64.0.0/10 holds 4,194,304 addresses, none of them this host's. */
const MAX_BANS = 2 ** 22;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;

interface CallFigures {
  readonly address: string;
  /** The daemon's user+sys from the call until the address is in the set, ms. */
  readonly cpu: number;
  readonly latency: number;
}

interface ChangesFigures {
  readonly bans: number;
  readonly startSeconds: number;
  readonly calls: readonly CallFigures[];
  readonly idleShare: number;
  readonly tickSeconds: number;
  readonly started: string;
}

function importedAddress(i: number): string {
  const n = 0x64400000 + i;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function cliArgs(files: DaemonFiles, args: readonly string[]): string[] {
  return [CLI, '--db', files.db, '--config', files.config, '--backend', 'none', ...args];
}

/** Runs the CLI with `args` to its end; rejects unless it exits 0. */
function cli(files: DaemonFiles, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(files, args), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`f2b-store ${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
}

async function inSet(netns: Netns, address: string): Promise<boolean> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', netns.name, 'nft', 'list', 'set', 'inet', 'f2b-store', BAN_SET]);
    return new RegExp(`[{ ,]${address.replaceAll('.', '\\.')}[ ,}]`).test(stdout);
  } catch {
    // The set is made with the jail's first ban.
    return false;
  }
}

/** One CLI ban: the daemon's CPU and the wall time from the call until the address is in the set. */
async function banOnce(files: DaemonFiles, netns: Netns, daemon: Daemon, address: string): Promise<CallFigures> {
  const cpu0 = cpuSeconds(daemon.pid);
  const start = performance.now();
  const call = cli(files, ['ban', address]);
  let failed: unknown;
  call.catch((error: unknown) => (failed = error));
  while (!(await inSet(netns, address))) {
    if (failed !== undefined) throw failed;
    if (daemon.exited()) throw new Error(`the daemon exited: ${daemon.tail()}`);
    if (performance.now() - start > REACH_MS) throw new Error(`${address} not in nftables set ${BAN_SET} ${REACH_MS / 1000} s after the CLI ban: ${daemon.tail()}`);
    await sleep(POLL_MS);
  }
  const latency = performance.now() - start;
  const cpu = (cpuSeconds(daemon.pid) - cpu0) * 1000;
  await call;
  return { address, cpu, latency };
}

/** Resolves at the first output line that `test` accepts; rejects when the daemon exits or `limitMs` pass first. */
function waitForLine(lines: string[], daemon: Daemon, test: (line: string) => boolean, what: string, limitMs: number): Promise<void> {
  return (async () => {
    const start = performance.now();
    while (!lines.some(test)) {
      if (daemon.exited()) throw new Error(`the daemon exited before ${what}: ${daemon.tail()}`);
      if (performance.now() - start > limitMs) throw new Error(`no ${what} in ${limitMs / 1000} s: ${daemon.tail()}`);
      await sleep(POLL_MS);
    }
  })();
}

/** Each address must have been taken in as a change; no full reconcile may have run for them. */
function checkTakenIn(lines: readonly string[], calls: readonly CallFigures[]): void {
  const takenIn = lines.filter((l) => l.includes('made by another process'));
  for (const { address } of calls) {
    if (!takenIn.some((l) => l.includes(` ${address} in ${BAN_JAIL}`))) {
      throw new Error(`the daemon's log has no "took in … changes made by another process" line for ${address}: ${takenIn.join(' | ') || 'none at all'}`);
    }
  }
  const full = lines.filter((l) => l.includes('the database changed'));
  if (full.length > 0) throw new Error(`the daemon ran a full reconcile for the CLI bans: ${full.join(' | ')}`);
}

async function measure(dir: string, bans: number, calls: number): Promise<ChangesFigures> {
  const authLog = join(dir, 'auth.log');
  writeFileSync(authLog, '');
  const files = writeDaemonConfig(dir, `logpath = ${authLog}`, 'nftables');
  console.error(`changes bench: importing ${int(bans)} bans…`);
  await cli(files, ['import', 'list', await writeList(dir, bans)]);
  const netns = createNetns();
  const lines: string[] = [];
  let daemon: Daemon | undefined;
  try {
    console.error(`changes bench: daemon in namespace ${netns.name}, waiting for its start reconcile…`);
    const start = performance.now();
    daemon = startDaemon(files, undefined, { options: ['--netns', netns.name], onLine: (line) => lines.push(line) });
    await daemon.watching;
    await waitForLine(lines, daemon, (l) => l.includes('reconcile (start)'), 'reconcile (start) line', START_MS);
    const startSeconds = (performance.now() - start) / 1000;
    const entries = firewallEntries(netns, 'nftables');
    if (entries !== bans) throw new Error(`nftables holds ${int(entries)} entries after the start reconcile, expected ${int(bans)}`);
    const figures: CallFigures[] = [];
    for (let i = 0; i < calls; i++) {
      await sleep(GAP_MS);
      const address = `203.0.113.${i + 1}`;
      figures.push(await banOnce(files, netns, daemon, address));
      console.error(`changes bench: ${address}: daemon CPU ${ms(figures.at(-1)!.cpu)}, latency ${ms(figures.at(-1)!.latency)}`);
    }
    // The log line follows the backends' change by a moment.
    const last = figures.at(-1)!.address;
    await waitForLine(lines, daemon, (l) => l.includes(` ${last} in ${BAN_JAIL}`), `line for ${last}`, REACH_MS);
    checkTakenIn(lines, figures);
    console.error(`changes bench: every ban taken in as a change; ${IDLE_SECONDS} s idle…`);
    const [idleShare] = await idleCpuShares([daemon.pid]);
    const started = daemon.started();
    const code = await daemon.stop();
    if (code !== 0) throw new Error(`the daemon exited ${code} on SIGTERM: ${daemon.tail()}`);
    return { bans, startSeconds, calls: figures, idleShare: idleShare!, tickSeconds: tickSeconds(started), started };
  } finally {
    await daemon?.stop();
    netns.remove();
  }
}

async function writeList(dir: string, bans: number): Promise<string> {
  const list = join(dir, 'bans.txt');
  const lines: string[] = [];
  for (let i = 0; i < bans; i++) lines.push(importedAddress(i));
  writeFileSync(list, `${lines.join('\n')}\n`);
  return list;
}

// The drift tick's period from the daemon's start line: its schedule `*/N * * * * *`.
function tickSeconds(started: string): number {
  const m = / drift check: \*\/(\d+) \* \* \* \* \*,/.exec(started);
  if (!m) throw new Error(`cannot read the drift tick's period from the daemon's start line: ${started}`);
  return Number(m[1]);
}

function rows(f: ChangesFigures): Row[] {
  const cpu: Samples = summarize(f.calls.map((c) => c.cpu));
  const latency: Samples = summarize(f.calls.map((c) => c.latency));
  const idleTick = f.idleShare * f.tickSeconds * 1000;
  const bans = int(f.bans);
  return [
    [bans, 'daemon start until its `reconcile (start)` line (all bans in nftables, verified)', `${f.startSeconds.toFixed(2)} s`],
    [bans, `daemon CPU per CLI \`ban --backend none\` (${cpu.runs} calls), call until in the set`,
      `median ${ms(cpu.median)}, p90 ${ms(cpu.p90)}, max ${ms(cpu.max)}`],
    [bans, 'latency: CLI call until the address is in the nftables set', `median ${ms(latency.median)}, p90 ${ms(latency.p90)}, max ${ms(latency.max)}`],
    [bans, `daemon CPU per drift tick when idle (${IDLE_SECONDS} s, tick every ${f.tickSeconds} s)`,
      `${ms(idleTick)} (${(100 * f.idleShare).toFixed(3)}% of one core)`],
  ];
}

export async function runChangesBench(): Promise<void> {
  const bans = Number(process.env['F2B_BENCH_CHANGES_BANS'] ?? 100_000);
  const calls = Number(process.env['F2B_BENCH_CHANGES_CALLS'] ?? 10);
  if (!(Number.isInteger(bans) && bans >= 1 && bans <= MAX_BANS)) throw new Error(`F2B_BENCH_CHANGES_BANS: not a whole number from 1 to ${int(MAX_BANS)}: ${bans}`);
  if (!(Number.isInteger(calls) && calls >= 1 && calls <= 254)) throw new Error(`F2B_BENCH_CHANGES_CALLS: not a whole number from 1 to 254: ${calls}`);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-changes-bench-'));
  let figures: ChangesFigures;
  try {
    figures = await measure(dir, bans, calls);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAtEnd = loadavg()[0]!;
  const remarks = [
    `Store: ${int(bans)} bans in jail \`import\` (100.64.0.0/10), written by \`f2b-store --backend none import list FILE\`. The real built daemon, `
      + '`node dist/cli/f2b-store.js --db DB --config DIR --netns NS start`, `[reconcile] backends = nftables`, one `[sshd]` jail on an empty log, '
      + 'in a fresh network namespace `f2bt-<random>` deleted afterwards.',
    `Then ${calls} calls \`f2b-store --backend none ban 203.0.113.X\` (jail \`${BAN_JAIL}\`), ${GAP_MS / 1000} s after the previous one was in the firewall: `
      + `only the daemon puts them in \`nft list set inet f2b-store ${BAN_SET}\`, which this process reads every ${POLL_MS} ms. `
      + 'The daemon sees another process\'s write at its next drift tick, so the latency is mostly the wait for that tick, and the CPU includes '
      + 'that tick. The run fails unless the daemon\'s log says it took each ban in as a change made by another process, with no full reconcile.',
    `CPU: user+sys of the daemon from /proc/PID/stat (10 ms ticks); idle: ${IDLE_SECONDS} s after the last ban, ${driftSchedule(figures.started)}.`,
    loadRemark(loadAtStart, loadAtEnd, 'the daemon, the CLI and the nft polling share the machine'),
  ];
  report('changes', `Changes benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt },
    ['bans', 'what', 'result'], rows(figures), remarks);
}
