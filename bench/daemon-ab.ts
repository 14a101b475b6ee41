/**
 * The daemon section's 1,000,000-line burst alone (no idle period), run by turns from several
 * built checkouts, to compare a change with the code before it:
 * `node --import tsx bench/daemon-ab.ts TREE TREE… [--rounds N] [--ipv6prefix N]` (each TREE a
 * checkout of this repository with `npm run build` done; 3 rounds by default; the jail's
 * ipv6prefix 128 by default, 64 to compare the daemon section's ipv6prefix row). One run can move by 20% with the
 * load and this machine's speed, so only runs taken by turns compare: each round runs every tree
 * once, and the medians per tree are printed at the end.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { benchFileSource as BenchFileSource } from './daemon-bench.js';
import type { sshdWorkload as SshdWorkload } from './sshd-workload.js';
import { summarize } from './stats.js';
import { textTable } from './table.js';

const LINES = 1_000_000;

interface Run {
  readonly rate: number;
  readonly cpu: number;
  readonly main: number;
  readonly worker: number;
  readonly rest: number;
  readonly peakMiB: number;
}

async function burst(tree: string, ipv6prefix: number): Promise<Run> {
  const bench = pathToFileURL(`${tree}/bench/`);
  const { benchFileSource } = await import(new URL('daemon-bench.ts', bench).href) as { benchFileSource: typeof BenchFileSource };
  const { sshdWorkload } = await import(new URL('sshd-workload.ts', bench).href) as { sshdWorkload: typeof SshdWorkload };
  const f = await benchFileSource(sshdWorkload(LINES), 0, ipv6prefix, false);
  return {
    rate: LINES / f.totalSeconds, cpu: f.runCpu, main: f.threads.main, worker: f.threads.worker, rest: f.threads.rest, peakMiB: f.peakRss / 2 ** 20,
  };
}

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, ipv6prefix: { type: 'string', default: '128' } }, allowPositionals: true, strict: false });
const rounds = Number(values.rounds);
const ipv6prefix = Number(values.ipv6prefix);
const trees = positionals.map((tree) => resolve(tree));
if (trees.length === 0 || !(rounds >= 1) || !Number.isInteger(ipv6prefix) || ipv6prefix < 1 || ipv6prefix > 128) {
  console.error('usage: node --import tsx bench/daemon-ab.ts TREE [TREE…] [--rounds N] [--ipv6prefix 1-128]');
  process.exit(2);
}

const runs = new Map<string, Run[]>(trees.map((tree) => [tree, []]));
for (let round = 1; round <= rounds; round++) {
  for (const tree of trees) {
    const run = await burst(tree, ipv6prefix);
    runs.get(tree)!.push(run);
    console.log(`round ${round} ${tree}: ${Math.round(run.rate).toLocaleString('en-US')} lines/s, CPU ${run.cpu.toFixed(2)} s `
      + `(main ${run.main.toFixed(2)}, worker ${run.worker.toFixed(2)}, rest ${run.rest.toFixed(2)}), peak ${run.peakMiB.toFixed(0)} MiB`);
  }
}
const median = (list: readonly Run[], pick: (run: Run) => number): number => summarize(list.map(pick)).median;
console.log(`\nmedians of ${rounds} runs each\n${textTable(['tree', 'lines/s', 'CPU s', 'main s', 'worker s', 'rest s', 'peak MiB'], trees.map((tree) => {
  const list = runs.get(tree)!;
  return [tree, Math.round(median(list, (r) => r.rate)).toLocaleString('en-US'), ...[
    median(list, (r) => r.cpu), median(list, (r) => r.main), median(list, (r) => r.worker), median(list, (r) => r.rest),
  ].map((value) => value.toFixed(2)), median(list, (r) => r.peakMiB).toFixed(0)];
}))}`);
