/**
 * Filter worker benchmark: fail2ban's own sshd filter over a generated 1,000,000-line auth.log
 * (bench/log-workload.ts), in batches of about 256 KiB as the daemon's tailer hands them over,
 * matched in-process (LogFilter.processLine, as the daemon does today) and through FilterWorker
 * (src/filter/filter-worker.ts): one batch at a time (the daemon awaits each), all batches queued,
 * and two jails on the file in one worker or in a worker each. Lines/s of matching only (the file
 * is read into batches first), the longest the event loop waited meanwhile, and a worker's
 * resident memory. Both ways must find the same failures.
 * Env: F2B_BENCH_WORKER_LINES=N changes the log length.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { loadFilter, FAIL2BAN_FILTER_DIR } from '../src/config/index.js';
import { FilterWorker, LogFilter, logLineBatches, unpackFailures, type FilterEntry, type MatchedBatch } from '../src/filter/index.js';
import { writeLog } from './log-workload.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import type { Row } from './table.js';

const BATCH_BYTES = 256 << 10;
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

async function readBatches(path: string): Promise<string[][]> {
  const batches: string[][] = [];
  let batch: string[] = [];
  let bytes = 0;
  for await (const lines of logLineBatches(path)) {
    for (const line of lines) {
      batch.push(line);
      bytes += line.length + 1;
      if (bytes >= BATCH_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
    }
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** In-process as the daemon does: batch after batch, the event loop free only between batches. */
async function inProcess(entries: readonly FilterEntry[], batches: readonly string[][], now: number): Promise<number> {
  let failures = 0;
  const filters = entries.map((entry) => new LogFilter(entry.definition, { ...entry.options, now: () => now }));
  for (const batch of batches) {
    for (const filter of filters) for (const line of batch) failures += filter.processLine(line).failures.length;
    await yieldToLoop();
  }
  return failures;
}

const count = ({ failures }: MatchedBatch): number =>
  [...failures.values()].reduce((n, packed) => n + unpackFailures(packed).reduce((m, l) => m + l.failures.length, 0), 0);

async function throughWorkers(workers: readonly { worker: FilterWorker; keys: string[] }[], batches: readonly string[][], now: number, queued: boolean): Promise<number> {
  let failures = 0;
  if (queued) {
    const all = batches.flatMap((batch) => workers.map(({ worker, keys }) => worker.process('/var/log/auth.log', keys, batch, now)));
    for (const results of await Promise.all(all)) failures += count(results);
    return failures;
  }
  for (const batch of batches) {
    for (const results of await Promise.all(workers.map(({ worker, keys }) => worker.process('/var/log/auth.log', keys, batch, now)))) failures += count(results);
  }
  return failures;
}

/** Time taken, and the longest the event loop waited meanwhile (what a `status` request would wait). */
async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number; stallMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  const value = await run();
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  return { value, seconds, stallMs: delay.max / 1e6 };
}

export async function runFilterWorkerBench(): Promise<void> {
  const lines = Number(process.env['F2B_BENCH_WORKER_LINES'] ?? 1_000_000);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2b-worker-bench-'));
  const table: Row[] = [];
  try {
    const now = Math.floor(Date.now() / 1000);
    const log = join(dir, 'auth.log');
    console.error(`worker bench: writing ${int(lines)} lines of auth.log…`);
    await writeLog(log, 'auth', lines, now);
    const batches = await readBatches(log);
    const sshd: FilterEntry = { definition: loadFilter('sshd', [FAIL2BAN_FILTER_DIR]), options: { assumeNow: true } };
    const aggressive: FilterEntry = { definition: loadFilter('sshd[mode=aggressive]', [FAIL2BAN_FILTER_DIR]), options: { assumeNow: true } };
    const row = (what: string, run: { seconds: number; stallMs: number; value: number }, jails: number, note = ''): Row => [
      what, `${run.seconds.toFixed(2)} s, ${int((lines * jails) / run.seconds)} lines/s per jail-line, ${int(lines / run.seconds)} log lines/s`,
      `${run.stallMs.toFixed(0)} ms`, int(run.value), note,
    ];

    console.error('worker bench: in-process…');
    const one = await timed(() => inProcess([sshd], batches, now));
    table.push(row('in-process LogFilter, 1 jail', one, 1));

    const rssBefore = process.memoryUsage().rss;
    const worker = new FilterWorker({ filters: new Map([['sshd', sshd], ['aggressive', aggressive]]) });
    await worker.process('/warm-up', ['sshd'], ['warm-up'], now);
    const workerMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.error('worker bench: one worker, batch by batch…');
    const seq = await timed(() => throughWorkers([{ worker, keys: ['sshd'] }], batches, now, false));
    table.push(row('FilterWorker, 1 jail, one batch at a time (as the daemon awaits)', seq, 1,
      `${batches.length} batches of ~256 KiB (${int(lines / batches.length)} lines); +${workerMiB.toFixed(0)} MiB RSS for the worker`));
    const queued = await timed(() => throughWorkers([{ worker, keys: ['sshd'] }], batches, now, true));
    table.push(row('FilterWorker, 1 jail, every batch queued', queued, 1));
    if (seq.value !== one.value || queued.value !== one.value) throw new Error(`failures differ: in-process ${one.value}, worker ${seq.value} / ${queued.value}`);

    console.error('worker bench: two jails on the file…');
    const two = await timed(() => inProcess([sshd, aggressive], batches, now));
    table.push(row('in-process LogFilter, 2 jails', two, 2));
    const shared = await timed(() => throughWorkers([{ worker, keys: ['sshd', 'aggressive'] }], batches, now, false));
    table.push(row('FilterWorker, 2 jails in one worker, batch by batch', shared, 2, 'each batch sent once for both jails'));
    await worker.close();
    const own = [
      { worker: new FilterWorker({ filters: new Map([['sshd', sshd]]) }), keys: ['sshd'] },
      { worker: new FilterWorker({ filters: new Map([['aggressive', aggressive]]) }), keys: ['aggressive'] },
    ];
    const split = await timed(() => throughWorkers(own, batches, now, false));
    table.push(row('FilterWorker, a worker per jail, batch by batch', split, 2, 'each batch sent to both workers'));
    await Promise.all(own.map(({ worker: w }) => w.close()));
    if (shared.value !== two.value || split.value !== two.value) throw new Error(`failures differ: in-process ${two.value}, worker ${shared.value} / ${split.value}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const remarks = [
    'Log: generated by bench/log-workload.ts (sshd among cron, sudo and logind, about one failure in eight lines), read into batches of ~256 KiB first: the times are matching (and, for the worker, handing batches over and failures back) only.',
    'Filter: fail2ban\'s own sshd.conf; the second jail is sshd[mode=aggressive] on the same file. "per jail-line": lines times jails, per second.',
    'Longest event-loop wait: the maximum of monitorEventLoopDelay meanwhile, what a status request or another jail would have waited; in-process, the loop is free only between batches.',
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)}.`,
  ];
  report('filter-worker', `Filter worker benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt },
    ['how', 'result', 'longest event-loop wait', 'failures', 'note'], table, remarks);
}
