/** Summary of repeated timings, in milliseconds. */
export interface Samples {
  readonly runs: number;
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

function nearestRank(sorted: readonly number[], fraction: number): number {
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)]!;
}

export function summarize(values: readonly number[]): Samples {
  if (values.length === 0) throw new Error('no samples');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { runs: sorted.length, min: sorted[0]!, median, p90: nearestRank(sorted, 0.9), max: sorted.at(-1)! };
}

/** Runs `fn` and returns its result with the elapsed wall time in milliseconds. */
export function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

/** Times `runs` calls of `fn(run)`. */
export function sample(runs: number, fn: (run: number) => void): Samples {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) times.push(timed(() => fn(run)).ms);
  return summarize(times);
}
