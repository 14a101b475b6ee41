/**
 * Firewall benchmark: for nftables and ipset, with 10,000 and 100,000 active bans, each inside a
 * fresh network namespace `f2bt-<random>` (deleted in `finally`; no firewall command ever runs
 * outside it):
 * 1. restore into an empty firewall from the database (the reboot case): the real CLI process
 *    `f2b-store reconcile`, wall time, then the firewall's entry count is checked;
 * 2. a no-op reconcile right after (same command): wall and CPU (user+sys incl. children);
 * 3. one periodic drift tick, in-process: store.activeJails() + the structural check (the census's
 *    intact() where it has one, else ensure(); see checkStructure), and the census (entry counts
 *    per set), within the tick where it runs at every tick; the CPU share at the default schedule
 *    (tick every 10 s, full read-back every 300 s, the census spaced out by its cost as the
 *    daemon's drift check does);
 * 4. the anchor: fail2ban 1.0.2 restoring 10,000 saved bans (bench/fail2ban-restore.ts).
 * Env: F2B_BENCH_NO_FAIL2BAN=1 skips the anchor; F2B_BENCH_FIREWALL_BANS=10000 limits the counts;
 * F2B_BENCH_FIREWALL_BACKENDS=ipset limits the backends (a comma list).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackends, systemExec, systemFollow } from '../src/backends/index.js';
import { BACKEND_CATALOG } from '../src/backends/catalog.js';
import { enabledJails } from '../src/config/index.js';
import { nowSeconds } from '../src/core/index.js';
import { jailRulesOf, rulesFor } from '../src/reconcile/index.js';
import { censusWait, checkStructure } from '../src/reconcile/drift.js';
import { BanStore } from '../src/store/index.js';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { measureFail2banRestore, type Fail2banRestoreResult } from './fail2ban-restore.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { summarize, type Samples } from './stats.js';
import type { Row } from './table.js';
import { banRequests, WORKLOAD } from './workload.js';

const CLI = fileURLToPath(new URL('../dist/cli/f2b-store.js', import.meta.url));
const BACKENDS = ['nftables', 'ipset'] as const;
const COUNTS = [10_000, 100_000] as const;
const TICKS = 20;
/** The daemon's default schedule: a structural check every 10 s, a full read-back every 300 s. */
const TICK_SECONDS = 10;
const FULLCHECK_SECONDS = 300;
const TICKS_PER_FULL_CHECK = FULLCHECK_SECONDS / TICK_SECONDS - 1;
const RESTORE_TARGET = { seconds: 1.5, atBans: 100_000 };
const CPU_TARGET_PERCENT = 2;
const ANCHOR_BANS = 10_000;
const CLK_TCK = 100;

export type BackendName = (typeof BACKENDS)[number];

export interface ProcessTime {
  /** Wall time measured around spawnSync, seconds. */
  readonly wall: number;
  /** user + sys of the child and its children (/usr/bin/time), seconds. */
  readonly cpu: number;
  /** Peak RSS of the largest process among it and its children (/usr/bin/time %M), bytes. */
  readonly maxRss: number;
}

interface FirewallFigures {
  readonly backend: BackendName;
  readonly bans: number;
  readonly restore: ProcessTime;
  readonly restoredEntries: number;
  readonly noop: ProcessTime;
  /** One drift tick, in ms. */
  readonly tickWall: Samples;
  /** Mean CPU of one tick incl. the firewall commands it ran, ms. */
  readonly tickCpu: number;
  /** One census (entry counts per set), in ms, and its mean CPU incl. the commands it ran. */
  readonly censusWall: Samples;
  readonly censusCpu: number;
  /** Its removals are told by an event stream: a costly census runs only after one. */
  readonly watched: boolean;
  /** The census runs at every tick, and the tick's figures include it. */
  readonly censusInTick: boolean;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const sec = (s: number): string => `${s.toFixed(2)} s`;
const ms = (v: number): string => `${v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;

/** `argv` as its own process under /usr/bin/time, for user+sys and peak RSS incl. children; throws unless it exits 0. */
export function timeProcess(argv: readonly string[], dir: string): ProcessTime {
  const timeFile = join(dir, 'time.out');
  const start = performance.now();
  const child = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...argv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wall = (performance.now() - start) / 1000;
  if (child.status !== 0) {
    throw new Error(`${argv.join(' ').slice(0, 200)} exited ${child.status}: ${child.stderr.trim().split('\n').slice(0, 5).join('; ')}`);
  }
  const fields = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: (fields[1] ?? NaN) + (fields[2] ?? NaN), maxRss: (fields[3] ?? NaN) * 1024 };
}

/** The configuration directory the runs use: none, so the built-in jails. */
const configOf = (dir: string): string => join(dir, 'no-config');

/** `f2b-store … reconcile` as its own process, under /usr/bin/time for user+sys incl. children. */
export function runReconcile(db: string, backend: BackendName, ns: string, dir: string): ProcessTime {
  return timeProcess([process.execPath, CLI, '--db', db, '--backend', backend, '--netns', ns, '--config', configOf(dir), 'reconcile'], dir);
}

/** Entries the firewall in `netns` holds in f2b-store's own sets. */
export function firewallEntries(netns: Netns, backend: BackendName): number {
  if (backend === 'nftables') {
    const json = JSON.parse(netns.run(['nft', '-j', 'list', 'table', 'inet', 'f2b-store'])) as { nftables: Record<string, unknown>[] };
    let total = 0;
    for (const item of json.nftables) {
      const set = item['set'] as { elem?: unknown[] } | undefined;
      if (set?.elem) total += set.elem.length;
    }
    return total;
  }
  let total = 0;
  let ours = false;
  for (const line of netns.run(['ipset', 'list', '-t']).split('\n')) {
    if (line.startsWith('Name: ')) ours = line.slice(6).trim().startsWith('f2bs');
    const m = /^Number of entries: (\d+)/.exec(line);
    if (m && ours) total += Number(m[1]);
  }
  return total;
}

/** CPU seconds of this process plus its waited-for children (cutime + cstime from /proc). */
export function cpuSeconds(): number {
  const own = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): cutime is field 16, cstime field 17.
  const children = (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  return (own.user + own.system) / 1e6 + children;
}

/** Runs `step` TICKS times: its wall times, and its mean CPU incl. the commands it spawned, ms. */
async function measure(step: () => Promise<void>): Promise<{ wall: Samples; cpu: number }> {
  const times: number[] = [];
  const cpu0 = cpuSeconds();
  for (let i = 0; i < TICKS; i++) {
    // Ticks are seconds apart: what a backend keeps until the event loop turns (nftables' last
    // listing) must not serve the next one.
    await new Promise((resolve) => setImmediate(resolve));
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  return { wall: summarize(times), cpu: ((cpuSeconds() - cpu0) / TICKS) * 1000 };
}

async function measureTicks(db: string, backend: BackendName, ns: string, bans: number, dir: string) {
  const store = BanStore.open(db);
  // The jails the `reconcile` runs applied (their ports and blocktypes), as the daemon's tick uses them.
  const configured = enabledJails(configOf(dir), BACKEND_CATALOG);
  const jailRules = jailRulesOf(configured);
  try {
    const [fw] = createBackends([backend], { exec: systemExec(ns), follow: systemFollow(ns), hostsDeny: { file: '/dev/null', daemons: 'ALL' } });
    const count = async (): Promise<void> => {
      const counts = await fw!.census!.count();
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      if (total !== bans) throw new Error(`${backend}: the census counted ${total} entries, expected ${bans}`);
    };
    const census = await measure(count);
    const watched = fw!.census!.watch !== undefined;
    // A census due at every tick is measured within the tick, as the daemon runs it: right after
    // the structural check, whose listing it may share (nftables, at most 10,000 elements).
    const censusInTick = censusEveryTick(census.wall.median, bans, watched);
    const tick = await measure(async () => {
      const now = nowSeconds();
      const rules = rulesFor(store.activeJails(now).map((jail) => ({ jail })), jailRules, configured.map((jail) => jail.name));
      const why = await checkStructure(fw!, rules, now, () => undefined);
      if (why !== undefined) throw new Error(`${backend}: the structural check found an intact firewall wanting: ${why}`);
      if (censusInTick) await count();
    });
    return { tickWall: tick.wall, tickCpu: tick.cpu, censusWall: census.wall, censusCpu: census.cpu, watched, censusInTick };
  } finally {
    store.close();
  }
}

export function createDatabase(dir: string, bans: number): string {
  const db = join(dir, `bans-${bans}.sqlite`);
  const now = nowSeconds();
  const store = BanStore.open(db);
  try {
    store.banMany(banRequests(bans, now), now);
  } finally {
    store.close();
  }
  return db;
}

async function benchOne(db: string, backend: BackendName, bans: number, dir: string): Promise<FirewallFigures> {
  const netns = createNetns();
  try {
    console.error(`firewall bench: ${backend}, ${int(bans)} bans, namespace ${netns.name}…`);
    const restore = runReconcile(db, backend, netns.name, dir);
    const restoredEntries = firewallEntries(netns, backend);
    if (restoredEntries !== bans) throw new Error(`${backend}: firewall holds ${restoredEntries} entries after restore, expected ${bans}`);
    const noop = runReconcile(db, backend, netns.name, dir);
    return { backend, bans, restore, restoredEntries, noop, ...await measureTicks(db, backend, netns.name, bans, dir) };
  } finally {
    netns.remove();
  }
}

/**
 * How many of the ticks between two full checks run a census, as the drift check spaces them by
 * their cost; a costly census of a backend whose removals are told (nftables' monitor) runs only
 * after a removal, so none while nothing drifts.
 */
function censusesPerFullCheck(censusMs: number, bans: number, watched: boolean): number {
  const wait = censusWait(censusMs, bans);
  if (wait > 0 && watched) return 0;
  const every = Math.max(TICK_SECONDS, wait / 1000);
  return Math.min(TICKS_PER_FULL_CHECK, Math.floor(FULLCHECK_SECONDS / every));
}

/** Whether the drift check counts this backend at every tick. */
const censusEveryTick = (censusMs: number, bans: number, watched: boolean): boolean =>
  censusesPerFullCheck(censusMs, bans, watched) === TICKS_PER_FULL_CHECK;

/**
 * CPU share of one core at the default schedule, in %: the ticks between two full checks, the
 * censuses among them, and one full no-op reconcile (ms, ms, s).
 */
function cpuShare(f: FirewallFigures, tickMs: number, censusMs: number, fullSeconds: number): number {
  const censuses = f.censusInTick ? 0 : censusesPerFullCheck(f.censusWall.median, f.bans, f.watched);
  return (100 * (TICKS_PER_FULL_CHECK * (tickMs / 1000) + censuses * (censusMs / 1000) + fullSeconds)) / FULLCHECK_SECONDS;
}

function rows(f: FirewallFigures, anchor: Fail2banRestoreResult | undefined): Row[] {
  const bans = int(f.bans);
  const atTarget = f.bans === RESTORE_TARGET.atBans;
  const restoreMet = f.restore.wall <= RESTORE_TARGET.seconds;
  const share = cpuShare(f, f.tickCpu, f.censusCpu, f.noop.cpu);
  const shareBound = cpuShare(f, f.tickWall.median, f.censusWall.median, f.noop.wall);
  const censuses = censusesPerFullCheck(f.censusWall.median, f.bans, f.watched);
  const shareMet = share < CPU_TARGET_PERCENT;
  const out: Row[] = [
    [f.backend, bans, 'restore into an empty firewall: `reconcile` process, wall', `${sec(f.restore.wall)} (CPU ${sec(f.restore.cpu)}; ${int(f.restoredEntries)} entries verified)`,
      atTarget ? `≤ ${RESTORE_TARGET.seconds} s` : `(≤ ${RESTORE_TARGET.seconds} s at ${int(RESTORE_TARGET.atBans)})`,
      atTarget ? (restoreMet ? 'met' : 'NOT met') : '—'],
    [f.backend, bans, 'no-op `reconcile` right after (full check: a probe from 10,000 entries, else a read-back)', `wall ${sec(f.noop.wall)}, CPU ${sec(f.noop.cpu)}`, '', ''],
    [f.backend, bans, `drift tick: activeJails() + structural check${f.censusInTick ? ' + census' : ''} (${f.tickWall.runs} ticks)`,
      `median ${ms(f.tickWall.median)}, p90 ${ms(f.tickWall.p90)}; CPU ${ms(f.tickCpu)}/tick`, '', ''],
    [f.backend, bans, `drift tick: census, entry counts per set (${f.censusWall.runs} runs)`,
      `median ${ms(f.censusWall.median)}, p90 ${ms(f.censusWall.p90)}; CPU ${ms(f.censusCpu)}/run; runs at ${censuses} of ${TICKS_PER_FULL_CHECK} ticks${f.censusInTick ? ', within them (above)' : ''}`, '', ''],
    [f.backend, bans, `CPU share at default schedule (${TICKS_PER_FULL_CHECK} ticks, ${censuses} censuses, 1 full check per ${FULLCHECK_SECONDS} s)`,
      `${share.toFixed(3)}% of one core (from wall times: ${shareBound.toFixed(3)}%)`, atTarget ? `< ${CPU_TARGET_PERCENT}%` : `(< ${CPU_TARGET_PERCENT}% at ${int(RESTORE_TARGET.atBans)})`,
      atTarget ? (shareMet ? 'met' : 'NOT met') : '—'],
  ];
  if (anchor && anchor.restored === anchor.count) {
    const perTenK = (f.restore.wall * ANCHOR_BANS) / f.bans;
    const ratio = anchor.seconds / perTenK;
    out.push([f.backend, bans, `fail2ban ${int(anchor.count)}-ban restore ÷ ours${f.bans === ANCHOR_BANS ? '' : ' (per 10,000)'}`,
      `${ratio.toFixed(0)}× faster (${sec(anchor.seconds)} vs ${sec(perTenK)})`, '', '']);
  }
  return out;
}

export async function runFirewallBench(): Promise<void> {
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const only = Number(process.env['F2B_BENCH_FIREWALL_BANS'] ?? 0);
  const counts = only > 0 ? [only] : COUNTS;
  const chosen = process.env['F2B_BENCH_FIREWALL_BACKENDS']?.split(',') ?? BACKENDS;
  const unknown = chosen.find((name) => !(BACKENDS as readonly string[]).includes(name));
  if (unknown !== undefined) throw new Error(`F2B_BENCH_FIREWALL_BACKENDS: not one of ${BACKENDS.join(', ')}: ${unknown}`);
  const backends = BACKENDS.filter((name) => chosen.includes(name));
  const dir = mkdtempSync(join(tmpdir(), 'f2b-fwbench-'));
  const figures: FirewallFigures[] = [];
  try {
    for (const bans of counts) {
      console.error(`firewall bench: writing ${int(bans)} bans to the database…`);
      const db = createDatabase(dir, bans);
      for (const backend of backends) figures.push(await benchOne(db, backend, bans, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  let anchor: Fail2banRestoreResult | undefined;
  let anchorNote = 'fail2ban anchor skipped (F2B_BENCH_NO_FAIL2BAN=1).';
  if (process.env['F2B_BENCH_NO_FAIL2BAN'] !== '1') {
    console.error(`firewall bench: fail2ban anchor, ${int(ANCHOR_BANS)} bans (takes a minute or two)…`);
    try {
      anchor = await measureFail2banRestore(ANCHOR_BANS, { log: (line) => console.error(`  fail2ban: ${line}`) });
      anchorNote = `Anchor: fail2ban ${anchor.fail2banVersion} (iptables-ipset-proto6 action, own namespace) restored `
        + `${int(anchor.restored)} of ${int(anchor.count)} saved bans in ${sec(anchor.seconds)}${anchor.restored < anchor.count ? ' — TIMED OUT' : ''}.`;
    } catch (error) {
      anchorNote = `fail2ban anchor failed: ${error instanceof Error ? error.message : String(error)}.`;
      console.error(anchorNote);
    }
  }

  const headers = ['backend', 'bans', 'what', 'result', 'target', 'status'];
  const table = figures.flatMap((f) => rows(f, anchor));
  const loadAtEnd = loadavg()[0]!;
  const remarks = [
    `Workload: ${WORKLOAD}.`,
    'Every measurement runs in a fresh network namespace of its own (`f2bt-<random>`, deleted afterwards); the '
      + 'restore and no-op rows are the real CLI process `f2b-store --backend B --netns NS reconcile`, wall time around '
      + 'the spawn, CPU = user+sys of it and its children from `/usr/bin/time`.',
    `Drift tick = what the daemon does every ${TICK_SECONDS} s: \`store.activeJails(now)\`, \`rulesFor\` and the backend's `
      + `structural check (its census's \`intact()\` where it has one, else \`ensure()\`), then its census (entry counts per set, compared with what the store implies), `
      + `measured in-process over ${TICKS} runs each; CPU includes the firewall commands they spawn (cutime/cstime, 10 ms `
      + 'granularity, averaged). A census that costs over 100 ms on a backend of over 10,000 entries runs at most at 1% of '
      + 'wall time (src/reconcile/drift.ts), so it runs at some ticks only — or, for nftables, whose removals `nft monitor` '
      + 'tells, only after a removal: none while nothing drifts. A census due at every tick is measured within the tick, '
      + 'right after the structural check, as the daemon runs it: nftables then lists a table of at most 10,000 elements '
      + 'once for both (src/backends/nftables.ts); its census row alone is that listing.',
    `CPU share = (${TICKS_PER_FULL_CHECK} × tick CPU + censuses outside the ticks × census CPU + CPU of one full no-op reconcile) `
      + `/ ${FULLCHECK_SECONDS} s; the figure "from wall times" uses wall times instead of CPU.`,
    anchorNote,
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadAtEnd.toFixed(2)}.`,
  ];
  const title = `Firewall benchmark — ${startedAt.toISOString().slice(0, 10)}`;
  report('firewall', title, { machine, startedAt }, headers, table, remarks);
}
