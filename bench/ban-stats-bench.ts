import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BanSource } from '../src/core/index.js';
import { BanStore, type BanRecord } from '../src/store/index.js';
import { BIN } from './cli.js';
import { summarize, timed, type Samples } from './stats.js';
import { addressAt } from './workload.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
const SPAN = 365 * DAY;
const SOURCES: readonly BanSource[] = ['filter', 'filter', 'filter', 'filter', 'filter', 'filter', 'import', 'fail2ban', 'fleet', 'manual'];

export const STATS_WORKLOAD = 'a year of bans, one every 365 d / N, oldest first (the bans of the last 30 days, the default period, are about 8% of them); '
  + 'every 4th a repeat of an address banned long before; jails sshd 70%, postfix-sasl 25%, recidive 5%; sources 60% filter, 10% each import, '
  + 'fail2ban, fleet, manual; bans of 1 h to 7 d, so all but the last week\'s are history; addresses as above';

/** The i-th of `count` bans of the year up to `now`, as an import brings it in. */
function recordAt(i: number, count: number, now: number): BanRecord {
  const bannedAt = now - SPAN + Math.floor((i / count) * SPAN);
  const slot = i % 20;
  return {
    address: addressAt(i % 4 === 3 ? Math.floor(i / 5) : i),
    jail: slot < 14 ? 'sshd' : slot < 19 ? 'postfix-sasl' : 'recidive',
    bannedAt,
    expiresAt: bannedAt + HOUR * (1 + (i % 168)),
    banCount: 1,
    source: SOURCES[i % SOURCES.length] ?? 'filter',
  };
}

export interface StatsFigures {
  readonly bans: number;
  /** Bans in the default period (the last 30 days). */
  readonly inPeriod: number;
  /** store.stats() in-process, default period: wall and CPU, ms. */
  readonly store: { readonly wall: Samples; readonly cpu: Samples };
  /** `f2b-store stats > /dev/null`, the whole process. */
  readonly cli: ProcessRuns;
  /** `f2b-store stats --since 1y`: every ban in the period. */
  readonly cliYear: ProcessRuns;
}

export interface ProcessRuns {
  readonly wall: Samples;
  readonly cpu: Samples;
}

function timeCli(args: readonly string[], runs: number, dir: string, env: NodeJS.ProcessEnv): ProcessRuns {
  const timeFile = join(dir, 'stats.time');
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    const child = spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', timeFile, process.execPath, BIN, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.status !== 0) throw new Error(`f2b-store ${args.join(' ')} exited ${child.status}: ${child.stderr.slice(0, 500)}`);
    const [seconds, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    wall.push(seconds! * 1000);
    cpu.push((user! + system!) * 1000);
  }
  rmSync(timeFile, { force: true });
  return { wall: summarize(wall), cpu: summarize(cpu) };
}

/** A store of `bans` bans over a year (see STATS_WORKLOAD), and `stats` over it, in-process and as the CLI; removes it after. */
export function benchBanStats(o: { readonly bans: number; readonly dir: string; readonly now: number; readonly runs: number; readonly env: NodeJS.ProcessEnv }): StatsFigures {
  const path = join(o.dir, `stats-${o.bans}.sqlite3`);
  try {
    const store = BanStore.open(path);
    let inPeriod: number;
    const wall: number[] = [];
    const cpu: number[] = [];
    try {
      const records = Array.from({ length: o.bans }, (_, i) => recordAt(i, o.bans, o.now));
      const report = store.importBans(records, o.now);
      if (report.new + report.history !== o.bans) throw new Error(`the stats workload stored ${report.new + report.history} bans, expected ${o.bans}`);
      inPeriod = store.stats({ now: o.now }).bans;
      for (let run = 0; run < o.runs; run++) {
        const before = process.cpuUsage();
        wall.push(timed(() => store.stats({ now: o.now })).ms);
        const used = process.cpuUsage(before);
        cpu.push((used.user + used.system) / 1000);
      }
    } finally {
      store.close();
    }
    return {
      bans: o.bans, inPeriod, store: { wall: summarize(wall), cpu: summarize(cpu) },
      cli: timeCli(['--db', path, 'stats'], o.runs, o.dir, o.env),
      cliYear: timeCli(['--db', path, 'stats', '--since', '1y'], Math.min(o.runs, 3), o.dir, o.env),
    };
  } finally {
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}
