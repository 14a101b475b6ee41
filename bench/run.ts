import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowSeconds } from '../src/core/index.js';
import { benchBanStats, STATS_WORKLOAD, type StatsFigures } from './ban-stats-bench.js';
import { runChangesBench } from './changes-bench.js';
import { runDaemonBench } from './daemon-bench.js';
import { runFilterBench } from './filter-bench.js';
import { runFilterWorkerBench } from './filter-worker-bench.js';
import { runFirewallBench } from './firewall-bench.js';
import { runFleetBench } from './fleet-bench.js';
import { runInteropBench } from './interop-bench.js';
import { runJournalBench } from './journal-bench.js';
import { describeMachine, startAsOnAHost } from './machine.js';
import { runMetricsBench } from './metrics-bench.js';
import { report } from './results.js';
import { runScaleBench } from './scale-bench.js';
import type { Samples } from './stats.js';
import { benchStore, type StoreFigures } from './store-bench.js';
import type { Row } from './table.js';
import { WORKLOAD } from './workload.js';

startAsOnAHost();

const PROCESS_RUNS = 21;
const LOOKUPS = 1000;
const PLAN = [
  { bans: 100_000, listRuns: 3 },
  { bans: 1_000_000, listRuns: 1 },
] as const;

/** From DESIGN.md "Numbers to reach" and the benchmark brief. */
interface Target {
  readonly label: string;
  readonly limitMs: number;
  readonly inclusive: boolean;
  readonly atBans: number;
}
const UNBAN_TARGET: Target = { label: '≤ 150 ms', limitMs: 150, inclusive: true, atBans: 100_000 };
const LOOKUP_TARGET: Target = { label: '< 5 ms', limitMs: 5, inclusive: false, atBans: 1_000_000 };
const RESTORE_TARGET = { seconds: 1.5, atBans: 100_000 };
const IMPORT_TARGET: Target = { label: '≤ 10 s', limitMs: 10_000, inclusive: true, atBans: 1_000_000 };
const STATS_TARGET: Target = { label: '< 300 ms', limitMs: 300, inclusive: false, atBans: 1_000_000 };
const STATS_RUNS = 7;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const sec = (s: number): string => `${s.toFixed(2)} s`;
const ms = (v: number): string => `${v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
const spread = (s: Samples): string => `median ${ms(s.median)}, min ${ms(s.min)}, p90 ${ms(s.p90)}`;

function judged(value: number, target: Target, bans: number): [string, string] {
  if (bans !== target.atBans) return [`(${target.label} at ${int(target.atBans)})`, '—'];
  const met = target.inclusive ? value <= target.limitMs : value < target.limitMs;
  const ratio = value / target.limitMs;
  return [target.label, `${met ? 'met' : 'NOT met'} (${ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}× target)`];
}

function rows(f: StoreFigures): Row[] {
  const bans = int(f.bans);
  const insertSeconds = f.insert.banMany + f.insert.close;
  const list = f.cliList.runs === 1 ? sec(f.cliList.median / 1000) : `median ${sec(f.cliList.median / 1000)}, min ${sec(f.cliList.min / 1000)}`;
  return [
    [bans, 'insert: banMany() in one transaction + close', `${sec(insertSeconds)}, ${int(f.bans / insertSeconds)} bans/s (close/checkpoint ${sec(f.insert.close)})`, '', ''],
    [bans, 'database file', `${(f.fileBytes / 2 ** 20).toFixed(0)} MiB`, '', ''],
    [bans, 'store.active(): iterate all active bans', `${sec(f.active.seconds)}, ${int(f.active.count / f.active.seconds)} bans/s (${int(f.active.count)} active, ${int(f.active.permanent)} permanent)`, '', ''],
    [bans, `\`list --json > /dev/null\` (${f.cliList.runs} run${f.cliList.runs > 1 ? 's' : ''})`, list, '', ''],
    [bans, `store.history(address), ${int(f.lookup.runs)} random lookups`, `median ${ms(f.lookup.median)}, p90 ${ms(f.lookup.p90)}, max ${ms(f.lookup.max)}`, ...judged(f.lookup.median, LOOKUP_TARGET, f.bans)],
    [bans, `\`--backend none unban ADDR\`, whole process (${f.unban.runs} runs)`, spread(f.unban), ...judged(f.unban.median, UNBAN_TARGET, f.bans)],
    [bans, `\`import list\` of ${int(f.importList.lines)} lines (${bans} addresses) into a new database, whole process`,
      `${sec(f.importList.seconds)} (CPU ${sec(f.importList.cpuSeconds)}), ${int(f.importList.addresses / f.importList.seconds)} addresses/s, `
      + `peak RSS ${f.importList.peakMiB.toFixed(0)} MiB`, ...judged(f.importList.seconds * 1000, IMPORT_TARGET, f.bans)],
    [bans, `\`node -e 0\`, process-start floor (${f.floor.runs} runs, alternating with unban)`, spread(f.floor), '', ''],
  ];
}

function statsRows(f: StatsFigures): Row[] {
  const bans = int(f.bans);
  const cpu = (s: Samples): string => `CPU median ${ms(s.median)}`;
  return [
    [bans, `\`stats\` (${int(f.inPeriod)} bans in the default 30 days), whole process (${f.cli.wall.runs} runs)`, `${spread(f.cli.wall)}; ${cpu(f.cli.cpu)}`,
      ...judged(f.cli.wall.median, STATS_TARGET, f.bans)],
    [bans, `store.stats(), in-process, default period (${f.store.wall.runs} runs)`, `${spread(f.store.wall)}; ${cpu(f.store.cpu)}`, '', ''],
    [bans, `\`stats --since 1y\` (every ban in the period), whole process (${f.cliYear.wall.runs} runs)`, `${spread(f.cliYear.wall)}; ${cpu(f.cliYear.cpu)}`, '', ''],
  ];
}

function notes(figures: readonly StoreFigures[], load: { start: number; end: number }): string[] {
  const lines = [`Workload: ${WORKLOAD}.`, `\`stats\` rows: a store of its own, ${STATS_WORKLOAD}.`];
  const { start, end } = load;
  const busy = start > 0.5 || end > 1.5;
  lines.push(`1-minute load average at start / end: ${start.toFixed(2)} / ${end.toFixed(2)} (the bench itself adds about 1)`
    + `${busy ? ': other work was running, timings are inflated' : ''}.`);
  for (const f of figures) {
    lines.push(`${int(f.bans)} bans: \`unban\` median is ${ms(f.unban.median - f.floor.median)} above the \`node -e 0\` median.`);
  }
  const atRestore = figures.find((f) => f.bans === RESTORE_TARGET.atBans);
  if (atRestore) {
    const share = (100 * atRestore.active.seconds) / RESTORE_TARGET.seconds;
    lines.push(`Reading ${int(RESTORE_TARGET.atBans)} active bans through store.active() takes ${share.toFixed(0)}% of the `
      + `${RESTORE_TARGET.seconds} s end-to-end firewall restore target.`);
  }
  lines.push(`Bench process peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB.`);
  return lines;
}

function storeBench(): void {
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-bench-'));
  const env = { ...process.env, F2B_STORE_CONFIG: join(dir, 'no-config') };
  const figures: StoreFigures[] = [];
  const statsFigures: StatsFigures[] = [];
  try {
    for (const { bans, listRuns } of PLAN) {
      console.error(`store bench: ${int(bans)} bans…`);
      figures.push(benchStore({ bans, dir, now: nowSeconds(), lookups: LOOKUPS, listRuns, unbanRuns: PROCESS_RUNS, env }));
      statsFigures.push(benchBanStats({ bans, dir, now: nowSeconds(), runs: STATS_RUNS, env }));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const headers = ['bans', 'what', 'result', 'target', 'status'];
  const table = figures.flatMap((f, i) => [...rows(f), ...statsRows(statsFigures[i]!)]);
  const remarks = notes(figures, { start: loadAtStart, end: loadavg()[0]! });
  const title = `Store benchmark — ${startedAt.toISOString().slice(0, 10)}`;
  report('store', title, { machine, startedAt }, headers, table, remarks);
}

const SECTIONS = ['store', 'firewall', 'filter', 'filter-worker', 'daemon', 'journal', 'interop', 'changes', 'scale', 'fleet', 'metrics'] as const;

/** F2B_BENCH_ONLY=store|firewall|filter|filter-worker|daemon|journal|interop|changes|scale|fleet|metrics runs one section; default all. */
async function main(): Promise<void> {
  const only = process.env['F2B_BENCH_ONLY'] || undefined;
  if (only !== undefined && !(SECTIONS as readonly string[]).includes(only)) {
    throw new Error(`F2B_BENCH_ONLY: unknown section "${only}" (${SECTIONS.join(', ')})`);
  }
  if (!only || only === 'store') storeBench();
  if (!only || only === 'firewall') await runFirewallBench();
  if (!only || only === 'filter') await runFilterBench();
  if (!only || only === 'filter-worker') await runFilterWorkerBench();
  if (!only || only === 'daemon') await runDaemonBench();
  if (!only || only === 'journal') await runJournalBench();
  if (!only || only === 'interop') runInteropBench();
  if (!only || only === 'changes') await runChangesBench();
  if (!only || only === 'scale') await runScaleBench();
  if (!only || only === 'fleet') await runFleetBench();
  if (!only || only === 'metrics') await runMetricsBench();
}

await main();
