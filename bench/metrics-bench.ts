/**
 * Metrics benchmark: what a Prometheus scrape of the daemon's /metrics costs the daemon at
 * 100,000 active bans, against what a scrape that counted the bans table would cost.
 * 1. In-process, on the store: the counts a scrape reads (BanStore.banTotals) when nothing and when
 *    100 bans changed since the last, the first read (the one count at daemon start), and the
 *    anchor, a grouped COUNT over the bans table (BanStore.jailCounts, what `status` runs).
 * 2. The real daemon (`start`, backends = none, `[metrics] listen` on 127.0.0.1): its CPU (user +
 *    sys from /proc) over rounds of back-to-back scrapes, less its CPU over as long with none.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowSeconds } from '../src/core/index.js';
import { BanStore } from '../src/store/index.js';
import { freePort } from '../test/helpers/prometheus.js';
import { cpuSeconds, loadRemark, startDaemon, writeDaemonConfig } from './daemon-process.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { sample, summarize } from './stats.js';
import type { Row } from './table.js';
import { requestAt, WORKLOAD } from './workload.js';

const BANS = 100_000;
const ROUNDS = 5;
const SCRAPES = 200;
const STORE_RUNS = 7;
const TARGET_MS = 5;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (v: number): string => `${v < 1 ? v.toFixed(3) : v.toFixed(2)} ms`;

/** The store's side: each read's wall time in-process (ms), medians of STORE_RUNS. */
function storeReads(db: string): { first: number; unchanged: number; changed: number; anchor: number } {
  const firsts: number[] = [];
  for (let run = 0; run < STORE_RUNS; run++) {
    // The first read of a store counts its active bans once: a fresh connection each run.
    const store = BanStore.open(db);
    try {
      const start = performance.now();
      store.banTotals(nowSeconds());
      firsts.push(performance.now() - start);
    } finally {
      store.close();
    }
  }
  const store = BanStore.open(db);
  try {
    store.banTotals(nowSeconds());
    const unchanged = sample(STORE_RUNS * 10, () => store.banTotals(nowSeconds())).median;
    let next = BANS;
    const changedTimes: number[] = [];
    for (let run = 0; run < STORE_RUNS; run++) {
      const now = nowSeconds();
      store.banMany(Array.from({ length: 100 }, () => requestAt(next++, now)), now);
      const start = performance.now();
      store.banTotals(now);
      changedTimes.push(performance.now() - start);
    }
    const anchor = sample(STORE_RUNS, () => store.jailCounts(nowSeconds())).median;
    return { first: summarize(firsts).median, unchanged, changed: summarize(changedTimes).median, anchor };
  } finally {
    store.close();
  }
}

interface Round {
  /** Daemon CPU per scrape with its idle CPU over as long taken off, ms. */
  readonly perScrape: number;
  /** Wall time per scrape as the client saw it, ms. */
  readonly wall: number;
  readonly idleShare: number;
}

async function scrapeRounds(url: string, pid: number): Promise<{ rounds: Round[]; bytes: number }> {
  const rounds: Round[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const cpuBefore = cpuSeconds(pid);
    const started = performance.now();
    for (let i = 0; i < SCRAPES; i++) bytes = (await (await fetch(url)).arrayBuffer()).byteLength;
    const wall = performance.now() - started;
    const busy = cpuSeconds(pid) - cpuBefore;
    // As long without scrapes: the daemon's own ticks (drift check every 10 s, timers) are not the scrapes'.
    const idleBefore = cpuSeconds(pid);
    await sleep(wall);
    const idle = cpuSeconds(pid) - idleBefore;
    rounds.push({ perScrape: (1000 * Math.max(0, busy - idle)) / SCRAPES, wall: wall / SCRAPES, idleShare: idle / (wall / 1000) });
  }
  return { rounds, bytes };
}

export async function runMetricsBench(): Promise<void> {
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-bench-'));
  try {
    const authLog = join(dir, 'auth.log');
    writeFileSync(authLog, '');
    const files = writeDaemonConfig(dir, `logpath = ${authLog}`);
    const port = await freePort();
    appendFileSync(join(files.config, 'f2b-store.conf'), `[metrics]\nlisten = 127.0.0.1:${port}\n`);
    console.error(`metrics bench: ${int(BANS)} bans…`);
    const seed = BanStore.open(files.db);
    try {
      const now = nowSeconds();
      seed.banMany(Array.from({ length: BANS }, (_, i) => requestAt(i, now)), now);
    } finally {
      seed.close();
    }
    const daemon = startDaemon(files);
    let scrapes: Awaited<ReturnType<typeof scrapeRounds>>;
    try {
      await daemon.watching;
      // The start's reconcile and first counts are done before the rounds.
      await sleep(3000);
      scrapes = await scrapeRounds(`http://127.0.0.1:${port}/metrics`, daemon.pid);
    } finally {
      await daemon.stop();
    }
    // The daemon is stopped: the store's reads are timed alone (they add bans to the store).
    const store = storeReads(files.db);
    const perScrape = summarize(scrapes.rounds.map((r) => r.perScrape)).median;
    const wall = summarize(scrapes.rounds.map((r) => r.wall)).median;
    const met = perScrape < TARGET_MS;
    const headers = ['what', 'result', 'target', 'status'];
    const table: Row[] = [
      [`one scrape of /metrics at ${int(BANS)} bans: the daemon's CPU (user+sys), idle CPU over as long taken off; median of ${ROUNDS} rounds of ${SCRAPES} scrapes`,
        `${ms(perScrape)} (rounds: ${scrapes.rounds.map((r) => r.perScrape.toFixed(2)).join(', ')} ms); ${ms(wall)} wall per scrape; ${int(scrapes.bytes)} bytes`,
        `< ${TARGET_MS} ms`, `${met ? 'met' : 'NOT met'} (${(perScrape / TARGET_MS).toFixed(2)}× target)`],
      ['the store\'s counts a scrape reads (banTotals), nothing changed since the last', ms(store.unchanged), '', ''],
      ['the same, 100 bans added since the last', ms(store.changed), '', ''],
      ['their first read (once, at daemon start: counts the active bans)', ms(store.first), '', ''],
      [`anchor: a grouped COUNT over the bans table (jailCounts), what a scrape that scanned would cost`, ms(store.anchor), '', ''],
    ];
    const remarks = [
      `Workload: ${WORKLOAD}.`,
      `The daemon's idle CPU during the rounds: ${scrapes.rounds.map((r) => `${(100 * r.idleShare).toFixed(1)}%`).join(', ')} of a core.`,
      'CPU from /proc/PID/stat counts in 10 ms ticks: a round of 200 scrapes makes each tick 0.05 ms per scrape.',
      loadRemark(loadAtStart, loadavg()[0]!, 'the bench itself adds about 1'),
    ];
    report('metrics', `Metrics benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt }, headers, table, remarks);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
