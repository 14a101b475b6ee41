import { Worker } from 'node:worker_threads';
import type { FilterEntry, FromWorker, LineFailures, LogText, ToWorker, WorkerData } from './worker-protocol.js';
import { logTextLines, PROGRESS_BATCH, PROGRESS_KEY, PROGRESS_LINE, PROGRESS_SLOTS } from './worker-protocol.js';

export interface FilterWorkerOptions {
  /** The filters, by key (the daemon's jail names). */
  readonly filters: ReadonlyMap<string, FilterEntry>;
  /** Longest one line may take in one filter before it is dropped, in ms (default 1000). */
  readonly budgetMs?: number;
  /** Told once for each dropped line. */
  readonly onSlowLine?: (slow: SlowLine) => void;
  /** The worker's entry point: match-worker beside this module unless given (a test runs the bundle's). */
  readonly workerUrl?: URL;
}

/** A line that took longer than the budget in one filter: it was dropped and the worker restarted. */
export interface SlowLine {
  readonly key: string;
  readonly path: string;
  /** Its index in the batch. */
  readonly index: number;
  /** The line, cut to SLOW_LINE_CHARS characters. */
  readonly line: string;
  /** How long it had run when the worker was ended. */
  readonly ms: number;
}

const DEFAULT_BUDGET_MS = 1000;
const SLOW_LINE_CHARS = 200;

/** What a daemon logs for a dropped line: which filter, file and line, and what was lost with it. */
export function slowLineMessage(slow: SlowLine): string {
  return `[${slow.key}] ${slow.path}: a line took over ${Math.round(slow.ms)} ms in the filter and was dropped`
    + ` (the filter worker restarted: multi-line state of every filter and file starts afresh): ${JSON.stringify(slow.line)}`;
}

interface Job {
  id: number;
  readonly path: string;
  readonly keys: readonly string[];
  readonly lines: readonly string[] | LogText;
  readonly times: readonly number[] | undefined;
  readonly now: number;
  readonly skip: (readonly [string, number])[];
  readonly results: Map<string, readonly LineFailures[]>;
  readonly resolve: (results: Map<string, readonly LineFailures[]>) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The worker's young generation: V8 grows it to 48 MiB under the allocation rate of a burst
 * (every line decoded and matched is short-lived garbage); a third of that keeps the daemon's
 * peak memory about 30 MiB lower.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 16 };

/** Where the worker's entry point is: beside this module, as `.ts` under tsx and `.js` in the bundle. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './match-worker.ts' : './match-worker.js', import.meta.url);

/**
 * From the sources (tests run `node --import tsx`): Node 20 does not apply the loader that
 * `--import tsx` registers to a worker's entry point, so the worker loads it through tsx's API.
 */
function tsWorker(url: URL, workerData: WorkerData): Worker {
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(url.href);
  return new Worker(`import(${api}).then((tsx) => tsx.tsImport(${entry}, ${entry}));`, { eval: true, workerData, resourceLimits: WORKER_LIMITS });
}

/**
 * Runs filters in a worker thread, so that no regex ever blocks the caller's event loop, with a
 * time budget per line: the worker publishes the line it is on, and one that runs past the
 * budget ends the thread; the line yields no failures, is reported to `onSlowLine`, and the
 * batch goes on in a fresh worker from the next line. The worker keeps one LogFilter per (key,
 * path), so multi-line state carries from batch to batch, as in the daemon (and is lost when a
 * line is dropped). Batches run one at a time, in the order given.
 */
export class FilterWorker {
  private worker: Worker;
  private progress: Int32Array;
  private filters: [string, FilterEntry][];
  private readonly budgetMs: number;
  private readonly onSlowLine: (slow: SlowLine) => void;
  private readonly workerUrl: URL;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private nextId = 1;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: FilterWorkerOptions) {
    this.filters = [...options.filters];
    this.budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
    this.onSlowLine = options.onSlowLine ?? ((): void => undefined);
    this.workerUrl = options.workerUrl ?? WORKER_URL;
    [this.worker, this.progress] = this.spawn();
  }

  /**
   * Runs `lines` of the log `path` through the filters of `keys`, read at time `now` (epoch
   * seconds, for dates without a year and lines without a date); LogText is decoded by the worker. `times`, when the source knows
   * them (the journal), are the lines' times by index: no date is looked for in those lines.
   * Resolves with the lines that completed failures, by key.
   */
  process(
    path: string, keys: readonly string[], lines: readonly string[] | LogText, now: number, times?: readonly number[],
  ): Promise<Map<string, readonly LineFailures[]>> {
    if (this.closed) return Promise.reject(new Error('the filter worker is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: 0, path, keys, lines, times, now, skip: [], results: new Map(), resolve, reject });
      this.next();
    });
  }

  /** Takes a new set of filters; a key whose entry is unchanged keeps its multi-line state. */
  replace(filters: ReadonlyMap<string, FilterEntry>): void {
    this.filters = [...filters];
    this.send({ type: 'filters', filters: this.filters });
  }

  /** Ends the worker; batches not done are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWatchdog();
    const error = new Error('the filter worker was closed');
    for (const job of this.queue.splice(0)) job.reject(error);
    this.current?.reject(error);
    this.current = undefined;
    await this.worker.terminate();
  }

  private spawn(): [Worker, Int32Array] {
    const progress = new Int32Array(new SharedArrayBuffer(PROGRESS_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    progress[PROGRESS_LINE] = -1;
    const workerData: WorkerData = { filters: this.filters, progress: progress.buffer as SharedArrayBuffer };
    const worker = this.workerUrl.pathname.endsWith('.ts') ? tsWorker(this.workerUrl, workerData) : new Worker(this.workerUrl, { workerData, resourceLimits: WORKER_LIMITS });
    worker.on('message', (message: FromWorker) => this.received(worker, message));
    worker.on('error', (error) => this.failed(worker, error));
    worker.on('exit', (code) => this.failed(worker, new Error(`the filter worker exited with code ${code}`)));
    worker.unref();
    return [worker, progress];
  }

  private next(): void {
    if (this.current !== undefined) return;
    const job = this.queue.shift();
    if (job === undefined) {
      this.worker.unref();
      return;
    }
    this.current = job;
    job.id = this.nextId++;
    const keys = job.keys.filter((key) => !job.results.has(key));
    this.worker.ref();
    this.send({ type: 'batch', id: job.id, path: job.path, keys, lines: job.lines, ...(job.times ? { times: job.times } : {}), now: job.now, skip: job.skip });
    this.startWatchdog(job, keys);
  }

  private send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private received(worker: Worker, message: FromWorker): void {
    const job = this.current;
    if (worker !== this.worker || job === undefined || message.id !== job.id) return;
    if (message.type === 'result') {
      job.results.set(message.key, message.lines);
      return;
    }
    this.finish(message.type === 'done' ? undefined : new Error(`filter worker: ${message.message}`));
  }

  private finish(error: Error | undefined): void {
    const job = this.current;
    if (job === undefined) return;
    this.stopWatchdog();
    this.current = undefined;
    if (error === undefined) job.resolve(new Map(job.keys.map((key) => [key, job.results.get(key) ?? []])));
    else job.reject(error);
    this.next();
  }

  /** The worker died (it should not: the filters were compiled before): the batch fails, a new worker takes the next. */
  private failed(worker: Worker, error: Error): void {
    if (worker !== this.worker || this.closed) return;
    [this.worker, this.progress] = this.spawn();
    this.finish(error);
  }

  /**
   * Looks at the worker's position a few times per budget: the same line of the same batch seen
   * for longer than the budget is a line to drop.
   */
  private startWatchdog(job: Job, keys: readonly string[]): void {
    let seen = '';
    let since = 0;
    this.watchdog = setInterval(() => {
      const line = Atomics.load(this.progress, PROGRESS_LINE);
      if (Atomics.load(this.progress, PROGRESS_BATCH) !== job.id || line < 0) {
        seen = '';
        return;
      }
      const key = keys[Atomics.load(this.progress, PROGRESS_KEY)] ?? '';
      const at = `${key}\n${line}`;
      const now = performance.now();
      if (at !== seen) {
        seen = at;
        since = now;
      } else if (now - since >= this.budgetMs) {
        void this.drop(job, key, line, now - since);
      }
    }, Math.max(5, Math.floor(this.budgetMs / 4)));
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private async drop(job: Job, key: string, index: number, ms: number): Promise<void> {
    this.stopWatchdog();
    const stuck = this.worker;
    [this.worker, this.progress] = this.spawn();
    await stuck.terminate();
    this.onSlowLine({ key, path: job.path, index, line: ((Array.isArray(job.lines) ? job.lines as readonly string[] : logTextLines(job.lines as LogText))[index] ?? '').slice(0, SLOW_LINE_CHARS), ms });
    if (this.closed || this.current !== job) return;
    job.skip.push([key, index]);
    this.current = undefined;
    this.queue.unshift(job);
    this.next();
  }
}
