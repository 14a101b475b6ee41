import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
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
  readonly importList: ImportRun;
}

/** `import list` of a file of `addresses` addresses into a new database, the whole process. */
export interface ImportRun {
  readonly addresses: number;
  readonly lines: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakMiB: number;
}

/**
 * A deny list of `count` distinct addresses (addressAt: IPv4, IPv6 and networks) in the shapes
 * import list reads: plain lines, some with a trailing comment, hosts.deny and Apache lines,
 * comment and blank lines between. Written in pieces. Returns the number of lines.
 */
function writeDenyList(path: string, count: number): number {
  const fd = openSync(path, 'w');
  let lines = 0;
  try {
    let piece: string[] = ['# generated deny list'];
    for (let i = 0; i < count; i++) {
      if (i % 10_000 === 0) piece.push('', `# block ${i / 10_000}`);
      const address = addressAt(i);
      const [host, prefix] = address.split('/');
      if (i % 1000 === 500) piece.push(`ALL: ${address.includes(':') ? `[${host}]` : host}${prefix === undefined ? '' : `/${prefix}`}`);
      else if (i % 1000 === 700) piece.push(`deny from ${address}`);
      else if (i % 100 === 7) piece.push(`${address}   # lfd: (sshd) Failed SSH login from ${address}`);
      else piece.push(address);
      if (piece.length >= 10_000) {
        writeSync(fd, `${piece.join('\n')}\n`);
        lines += piece.length;
        piece = [];
      }
    }
    writeSync(fd, `${piece.join('\n')}\n`);
    return lines + piece.length;
  } finally {
    closeSync(fd);
  }
}

function importList(o: StoreBenchOptions): ImportRun {
  const list = join(o.dir, `deny-${o.bans}.list`);
  const db = join(o.dir, `import-${o.bans}.sqlite3`);
  const timeFile = join(o.dir, 'import.time');
  try {
    const lines = writeDenyList(list, o.bans);
    const child = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, BIN, '--db', db, '--json', 'import', 'list', list],
      { encoding: 'utf8', env: o.env });
    if (child.status !== 0) throw new Error(`import list exited ${child.status}: ${child.stderr.slice(0, 500)}`);
    const { imported, skipped } = JSON.parse(child.stdout) as { imported: number; skipped: number };
    if (imported !== o.bans || skipped !== 0) throw new Error(`import list: imported ${imported}, skipped ${skipped}, expected ${o.bans} and 0`);
    const [seconds, user, system, kib] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    return { addresses: o.bans, lines, seconds: seconds!, cpuSeconds: user! + system!, peakMiB: kib! / 1024 };
  } finally {
    for (const path of [list, timeFile, db, `${db}-wal`, `${db}-shm`]) rmSync(path, { force: true });
  }
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
    const unbans = unbanAlternatingWithFloor(path, o);
    return { bans: o.bans, insert: inserted, fileBytes, ...reads, cliList, ...unbans, importList: importList(o) };
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}
