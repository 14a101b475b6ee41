import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BanStore, type BulkBanReport } from '../src/store/index.js';
import { BIN, runNode } from './cli.js';
import { sample, summarize, timed, type Samples } from './stats.js';
import { addressAt, banRequests, randomIndexes } from './workload.js';

export interface StoreBenchOptions {
  readonly bans: number;
  readonly dir: string;
  readonly now: number;
  readonly lookups: number;
  readonly listRuns: number;
  readonly unbanRuns: number;
  readonly env: NodeJS.ProcessEnv;
}

export interface StoreFigures {
  readonly bans: number;
  /** Seconds in banMany (one transaction, committed), then in close (WAL checkpoint). */
  readonly insert: { readonly banMany: number; readonly close: number; readonly report: BulkBanReport };
  readonly fileBytes: number;
  readonly active: { readonly seconds: number; readonly count: number; readonly permanent: number };
  readonly lookup: Samples;
  readonly cliList: Samples;
  readonly unban: Samples;
  /** `node -e 0`, run alternately with the unbans: the process-start floor under the same conditions. */
  readonly floor: Samples;
}

function insert(path: string, bans: number, now: number): StoreFigures['insert'] {
  const store = BanStore.open(path);
  try {
    const { value: report, ms } = timed(() => store.banMany(banRequests(bans, now), now));
    if (report.new !== bans) throw new Error(`banMany stored ${report.new} new bans, expected ${bans}`);
    const close = timed(() => store.close());
    return { banMany: ms / 1000, close: close.ms / 1000, report };
  } catch (error) {
    store.close();
    throw error;
  }
}

function readThroughStore(path: string, o: StoreBenchOptions): Pick<StoreFigures, 'active' | 'lookup'> {
  const store = BanStore.open(path);
  try {
    const { value: { count, permanent }, ms } = timed(() => {
      let n = 0;
      let p = 0;
      for (const ban of store.active(o.now)) {
        n++;
        if (ban.expiresAt === null) p++;
      }
      return { count: n, permanent: p };
    });
    if (count !== o.bans) throw new Error(`store.active() gave ${count} bans, expected ${o.bans}`);
    const next = randomIndexes(o.bans, o.bans);
    const lookup = sample(o.lookups, () => {
      const address = addressAt(next());
      if (store.history(address).length !== 1) throw new Error(`history(${address}) did not find its one ban`);
    });
    return { active: { seconds: ms / 1000, count, permanent }, lookup };
  } finally {
    store.close();
  }
}

function distinctIndexes(count: number, limit: number, seed: number): number[] {
  const next = randomIndexes(seed, limit);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(next());
  return [...chosen];
}

function unbanAlternatingWithFloor(path: string, o: StoreBenchOptions): Pick<StoreFigures, 'unban' | 'floor'> {
  const unban: number[] = [];
  const floor: number[] = [];
  for (const address of distinctIndexes(o.unbanRuns, o.bans, o.bans + 1).map(addressAt)) {
    floor.push(timed(() => runNode(['-e', '0'])).ms);
    const run = timed(() => runNode([BIN, '--db', path, '--backend', 'none', 'unban', address], { env: o.env }));
    if (!run.value.startsWith(`unbanned ${address} `)) throw new Error(`unban ${address}: unexpected output ${run.value.trim()}`);
    unban.push(run.ms);
  }
  return { unban: summarize(unban), floor: summarize(floor) };
}

/** Fills a fresh database with `bans` bans and times the store and the CLI on it; removes it after. */
export function benchStore(o: StoreBenchOptions): StoreFigures {
  const path = join(o.dir, `bans-${o.bans}.sqlite3`);
  try {
    const inserted = insert(path, o.bans, o.now);
    const fileBytes = statSync(path).size;
    const reads = readThroughStore(path, o);
    const cliList = sample(o.listRuns, () => {
      runNode([BIN, '--db', path, 'list', '--json'], { env: o.env, discard: true });
    });
    return { bans: o.bans, insert: inserted, fileBytes, ...reads, cliList, ...unbanAlternatingWithFloor(path, o) };
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}
