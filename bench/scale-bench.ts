/**
 * Scale benchmark: nftables with 1,000,000 active bans, each firewall in a fresh network namespace
 * `f2bt-<random>` (deleted in `finally`; no firewall command runs outside one):
 * 1. restore into an empty nftables (the reboot case), the `reconcile` process against a raw
 *    `nft -f` of the same batch (the table, its sets and rules, every element) in one run,
 *    1,000,000 once and 100,000 five times each, alternating (the VM's speed swings);
 * 2. the full check right after: a no-op `reconcile` (CPU incl. children, peak RSS), and the full
 *    read-back the daemon runs now and then (backend.list(), in-process);
 * 3. the daemon (`start`, backends = nftables in the namespace) over the 1,000,000-ban store:
 *    VmRSS and VmHWM, and its CPU share while nothing happens.
 * Env: F2B_BENCH_SCALE_BIG=0 runs the 100,000 restores only (a minute instead of many: for A/B runs).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackends, systemExec } from '../src/backends/index.js';
import { elementBatch, planElements, planEnsure, representEntries } from '../src/backends/nftables-plan.js';
import { nowSeconds } from '../src/core/index.js';
import { defaultJailRules, rulesFor } from '../src/reconcile/index.js';
import { enforceableEntries } from '../src/reconcile/floor.js';
import { readBackWait } from '../src/reconcile/drift.js';
import { BanStore } from '../src/store/index.js';
import { createNetns } from '../test/helpers/netns.js';
import { cpuSeconds as daemonCpu, idleCpuShares, IDLE_SECONDS, memory, startDaemon, writeDaemonConfig } from './daemon-process.js';
import { cpuSeconds, createDatabase, firewallEntries, runReconcile, timeProcess, type ProcessTime } from './firewall-bench.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import type { Row } from './table.js';
import { WORKLOAD } from './workload.js';

const BIG = 1_000_000;
const SMALL = 100_000;
const SMALL_RUNS = 5;
const TARGETS = { fullCheckCpu: 10, fullCheckRss: 500 * 2 ** 20, daemonRss: 600 * 2 ** 20, restoreRatio: 2 } as const;
const SETTLE_MS = 60_000;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const sec = (s: number): string => `${s.toFixed(2)} s`;
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const status = (met: boolean): string => (met ? 'met' : 'NOT met');

/** The `nft -f` batch our restore sends, as one file: table, chain, sets and rules, then every element. */
function rawBatch(db: string, file: string): number {
  const now = nowSeconds();
  const store = BanStore.open(db);
  try {
    const desired = representEntries(enforceableEntries(store.activeAnyOrder(now), undefined));
    const lines = planEnsure({ table: false, sets: new Map(), rules: [] }, rulesFor(desired, defaultJailRules));
    writeFileSync(file, `${lines.join('\n')}\n${elementBatch(planElements({ add: desired, remove: [] }, now).ops)}`);
    return desired.length;
  } finally {
    store.close();
  }
}

interface Restore {
  readonly ours: ProcessTime;
  readonly raw: ProcessTime;
}

/** Our restore and the raw `nft -f` of the same batch, each into a fresh namespace; `keep` gets ours' namespace before it goes. */
async function restorePair(db: string, bans: number, dir: string, keep?: (ns: string) => Promise<void>): Promise<Restore> {
  const batch = join(dir, `raw-${bans}.nft`);
  const elements = rawBatch(db, batch);
  if (elements !== bans) throw new Error(`the raw batch holds ${elements} elements, expected ${bans}`);
  const rawNs = createNetns();
  let raw: ProcessTime;
  try {
    raw = timeProcess(['ip', 'netns', 'exec', rawNs.name, 'nft', '-f', batch], dir);
  } finally {
    rawNs.remove();
  }
  const netns = createNetns();
  try {
    const ours = runReconcile(db, 'nftables', netns.name, dir);
    const held = firewallEntries(netns, 'nftables');
    if (held !== bans) throw new Error(`nftables holds ${held} entries after restore, expected ${bans}`);
    await keep?.(netns.name);
    return { ours, raw };
  } finally {
    netns.remove();
  }
}

interface BigFigures {
  readonly restore: Restore;
  readonly noop: ProcessTime;
  readonly readBack: { readonly wall: number; readonly cpu: number };
  readonly daemon: { readonly rss: number; readonly hwm: number; readonly idle: number; readonly startCpu: number };
}

/** The full read-back (every element listed and parsed), as the daemon's thorough check runs it, in-process. */
async function readBack(ns: string, bans: number): Promise<BigFigures['readBack']> {
  // The executor's default timeout, as the daemon's: the backend gives its read-back the time a million elements take.
  const [backend] = createBackends(['nftables'], { exec: systemExec(ns), hostsDeny: { file: '/dev/null', daemons: 'ALL' } });
  const cpu0 = cpuSeconds();
  const start = performance.now();
  const entries = await backend!.list();
  const wall = (performance.now() - start) / 1000;
  if (entries.length !== bans) throw new Error(`the read-back found ${entries.length} entries, expected ${bans}`);
  return { wall, cpu: cpuSeconds() - cpu0 };
}

async function daemonOver(db: string, ns: string, dir: string): Promise<BigFigures['daemon']> {
  const home = mkdtempSync(join(dir, 'daemon-'));
  const log = join(home, 'empty.log');
  writeFileSync(log, '');
  const files = { ...writeDaemonConfig(home, `logpath = ${log}`, 'nftables'), db };
  const daemon = startDaemon(files, undefined, { options: ['--netns', ns] });
  try {
    await daemon.watching;
    await sleep(SETTLE_MS);
    const startCpu = daemonCpu(daemon.pid);
    const [idle] = await idleCpuShares([daemon.pid]);
    return { rss: memory(daemon.pid, 'VmRSS'), hwm: memory(daemon.pid, 'VmHWM'), idle: idle!, startCpu };
  } finally {
    const code = await daemon.stop();
    if (code !== 0) console.error(`scale bench: the daemon exited ${code}: ${daemon.tail()}`);
  }
}

function restoreRow(bans: number, ours: ProcessTime, raw: ProcessTime, runs: number, judged: boolean): Row {
  const ratio = ours.wall / raw.wall;
  const what = runs > 1 ? ` (medians of ${runs} runs each)` : '';
  return [int(bans), `restore into empty nftables: \`reconcile\` ÷ raw \`nft -f\` of the same batch${what}`,
    `${ratio.toFixed(2)}× (${sec(ours.wall)} vs ${sec(raw.wall)} wall; CPU ${sec(ours.cpu)} vs ${sec(raw.cpu)}, ${(ours.cpu / raw.cpu).toFixed(2)}×)`,
    judged ? `≤ ${TARGETS.restoreRatio}×` : '', judged ? status(ratio <= TARGETS.restoreRatio) : ''];
}

/** The 1,000,000-ban rows: its restore, the full check right after, the read-back and the daemon over it. */
async function bigRows(dir: string): Promise<Row[]> {
  console.error(`scale bench: writing ${int(BIG)} bans (minutes)…`);
  const db = createDatabase(dir, BIG);
  let figures: Omit<BigFigures, 'restore'> | undefined;
  const restore = await restorePair(db, BIG, dir, async (ns) => {
    console.error('scale bench: no-op reconcile, full read-back, daemon…');
    const noop = runReconcile(db, 'nftables', ns, dir);
    figures = { noop, readBack: await readBack(ns, BIG), daemon: await daemonOver(db, ns, dir) };
  });
  const f = { restore, ...figures! };
  const rows: Row[] = [];
  rows.push(restoreRow(BIG, f.restore.ours, f.restore.raw, 1, false));
  rows.push([int(BIG), 'full check: no-op `reconcile` right after (probe, no read-back), CPU incl. children',
    `${sec(f.noop.cpu)} (wall ${sec(f.noop.wall)})`, `≤ ${TARGETS.fullCheckCpu} s`, status(f.noop.cpu <= TARGETS.fullCheckCpu)]);
  rows.push([int(BIG), 'full check: peak RSS of the largest process', mib(f.noop.maxRss), `≤ ${mib(TARGETS.fullCheckRss)}`, status(f.noop.maxRss <= TARGETS.fullCheckRss)]);
  rows.push([int(BIG), 'full read-back (nft -j list table + parse), in-process: the daemon\'s thorough check',
    `CPU ${sec(f.readBack.cpu)}, wall ${sec(f.readBack.wall)}: at most every ${(readBackWait(f.readBack.wall * 1000) / 60_000).toFixed(0)} min`, '', '']);
  rows.push([int(BIG), `daemon (backends = nftables), ${SETTLE_MS / 1000} s after start: VmRSS / VmHWM`,
    `${mib(f.daemon.rss)} / ${mib(f.daemon.hwm)} (start: CPU ${sec(f.daemon.startCpu)})`, `≤ ${mib(TARGETS.daemonRss)}`, status(f.daemon.hwm <= TARGETS.daemonRss)]);
  rows.push([int(BIG), `daemon CPU share over the next ${IDLE_SECONDS} s, no log lines`, `${(100 * f.daemon.idle).toFixed(1)}% of one core`, '', '']);
  return rows;
}

export async function runScaleBench(): Promise<void> {
  const big = process.env['F2B_BENCH_SCALE_BIG'] ?? '1';
  if (big !== '0' && big !== '1') throw new Error(`F2B_BENCH_SCALE_BIG: 0 or 1, not "${big}"`);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-scale-'));
  const rows: Row[] = [];
  try {
    console.error(`scale bench: writing ${int(SMALL)} bans…`);
    const small = createDatabase(dir, SMALL);
    const pairs: Restore[] = [];
    for (let run = 0; run < SMALL_RUNS; run++) pairs.push(await restorePair(small, SMALL, dir));
    const pick = (side: keyof Restore): ProcessTime => ({
      wall: median(pairs.map((p) => p[side].wall)), cpu: median(pairs.map((p) => p[side].cpu)), maxRss: median(pairs.map((p) => p[side].maxRss)),
    });
    rows.push(restoreRow(SMALL, pick('ours'), pick('raw'), SMALL_RUNS, true));
    if (big === '1') rows.push(...await bigRows(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const remarks = [
    `Workload: ${WORKLOAD}.`,
    'Every firewall is a fresh network namespace (`f2bt-<random>`, deleted afterwards). Restore and no-op rows are the real CLI '
      + 'process `f2b-store --backend nftables --netns NS reconcile`; the anchor is one `nft -f` of the batch f2b-store sends, written '
      + 'to a file first (table, chain, sets, rules, every element); CPU and peak RSS from `/usr/bin/time`, incl. children. '
      + 'f2b-store sends it as several `nft -f -` runs (25,000 to 100,000 elements each, the rules with the last), nft committing '
      + 'each while the next is read: nft 1.0.6 parses nothing before its input ends. The reconcile keeps none of the entries it '
      + 'streams, only their jails (a restore that fails reads the bans again), and writes each element without an object of its '
      + 'own. Tried on 2026-12-03 and not kept: an index holding what the read takes (0.1 s less CPU, but a damaged page of the '
      + 'table went untold), every run started before the first ban is read with runs shrinking towards the end (no gain in 18 '
      + 'alternating pairs on a quiet machine), and a young generation of 16 MiB from the start (`--min-semi-space-size=16` on '
      + 'the CLI\'s first line: a third of the scavenge pauses, but no less CPU or wall in 18 alternating pairs). Tried on '
      + '2026-12-05 and not kept, each by turns against the code as it is (8 to 10 pairs): runs that nft parses side by side, each '
      + 'naming the table and its sets, the rules last (877 against 939 ms, then 890 against 915 ms, then no gain); runs held in '
      + 'the CLI and given whole, the last split in two (896 against 877 ms); runs of 12,500 (no gain); the scan read through '
      + 'mmap (60 ms less CPU for the read alone, 15 to 30 ms of wall, within the noise, and an I/O error would become a SIGBUS). '
      + 'The restore is bound by CPU: about 0.8 s of the CLI (0.13 s of it node\'s own start, 0.1 s reading the configuration and '
      + 'probing, then 5 µs a ban: the row read 1.4, the floor 0.6, the batch text 0.5, GC 0.45) and 0.5 s of nft, on two cores. '
      + 'A reconcile of an empty store into empty nftables takes about as long as `--version`. The ratio moves with the VM\'s '
      + 'state, which changes the raw anchor (0.44 to 0.57 s) more than the CLI\'s run (0.91 to 1.03 s): 1.6x to 2.07x seen on 2026-12-05.',
    'The full check probes a backend of 10,000 entries or more instead of reading it back: every set exists, prefix sets and sets '
      + 'that should be empty are listed, and each hash set proves 256 sampled elements in one `nft -f` of `create element` lines that '
      + 'the kernel rolls back. The daemon reads every element back when a drift is found, and otherwise at most at 1% of wall '
      + 'time (the read-back row); `nft monitor` tells it of removals in between, and it counts the table only after one of an '
      + 'active ban\'s element (its own lifts and expiries are told apart by the store).',
    ...(big === '0' ? ['The 1,000,000-ban part was left out (F2B_BENCH_SCALE_BIG=0).'] : []),
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)}${loadAtStart > 1 ? ': other work was running, wall times are inflated' : ''}.`,
  ];
  report('scale', `Scale benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt }, ['bans', 'what', 'result', 'target', 'status'], rows, remarks);
}
