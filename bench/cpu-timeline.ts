/**
 * A thread's CPU profile over time: `node --import tsx bench/cpu-timeline.ts PROFILE [BIN_MS]`
 * prints, for each bin of BIN_MS (250 by default), the share of its samples that were idle, the
 * collector, the daemon's commits (a function named *commit* on the stack), its counting (*count*)
 * and the rest. Profiles come from `F2B_BENCH_DAEMON_PROF=DIR` (one file per thread): side by
 * side, two threads' timelines show when one waits on the other, which totals hide.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const OWN_CATEGORIES: Readonly<Record<string, string>> = { '(idle)': 'idle', '(garbage collector)': 'gc', '(program)': 'program' };

/** Each node's category: its own when V8 names it, else that of the nearest commit or count function above it. */
function categories(profile: CpuProfile): Map<number, string> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const category = new Map<number, string>();
  for (const node of profile.nodes) {
    let found = OWN_CATEGORIES[node.callFrame.functionName];
    for (let id: number | undefined = node.id; found === undefined && id !== undefined; id = parent.get(id)) {
      const name = byId.get(id)?.callFrame.functionName ?? '';
      if (/commit/i.test(name)) found = 'commit';
      else if (/count/i.test(name)) found = 'count';
    }
    category.set(node.id, found ?? 'other');
  }
  return category;
}

function timeline(profile: CpuProfile, binMs: number): string[] {
  const category = categories(profile);
  const bins: Map<string, number>[] = [];
  let at = 0;
  profile.samples.forEach((sample, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    at += delta;
    const bin = (bins[Math.floor(at / 1000 / binMs)] ??= new Map());
    const name = category.get(sample) ?? 'other';
    bin.set(name, (bin.get(name) ?? 0) + delta);
  });
  return [...bins.entries()].map(([index, bin = new Map<string, number>()]) => {
    const total = [...bin.values()].reduce((sum, value) => sum + value, 0) || 1;
    const shares = [...bin.entries()].sort((a, b) => b[1] - a[1]).map(([name, value]) => `${name} ${Math.round((100 * value) / total)}%`);
    return `${String(index * binMs).padStart(7)} ms  ${shares.join(', ')}`;
  });
}

const [path, bin = '250'] = process.argv.slice(2);
const binMs = Number(bin);
if (path === undefined || !(binMs > 0)) {
  console.error('usage: node --import tsx bench/cpu-timeline.ts PROFILE.cpuprofile [BIN_MS]');
  process.exit(2);
}
console.log(timeline(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, binMs).join('\n'));
