import { Worker } from 'node:worker_threads';
import type { FilterEntry, FromWorker, LogFileText, LogText, PackedFailures, ToWorker, WorkerData } from './worker-protocol.js';
import { threadCpuMs } from './thread-cpu.js';
import { logTextLines, logTextOf, PROGRESS_BATCH, PROGRESS_KEY, PROGRESS_LINE, PROGRESS_SLOTS, PROGRESS_THREAD } from './worker-protocol.js';

export interface FilterWorkerOptions {
  /** The filters, by key (the daemon's jail names). */
  readonly filters: ReadonlyMap<string, FilterEntry>;
  /**
   * Most CPU time one line may take in one filter before it is dropped, in ms (default 1000): the
   * worker thread's own (wall time where /proc cannot tell it), so a thread that did not run (a
   * paused VM, a machine short of cores) is not taken for a stuck line.
   */
  readonly budgetMs?: number;
  /** Told once for each dropped line. */
  readonly onSlowLine?: (slow: SlowLine) => void;
  /** The worker's entry point: match-worker beside this module unless given (a test runs the bundle's). */
  readonly workerUrl?: URL;
}

/** What a batch's lines gave, by key. */
export interface MatchedBatch {
  /** The lines that completed failures, packed (see PackedFailures); every key of the batch has an entry. */
  readonly failures: ReadonlyMap<string, PackedFailures>;
  /** How many lines were no record of the filter's `logFormat`: only the keys with any. */
  readonly notRecords: ReadonlyMap<string, number>;
}

/** A line that took longer than the budget in one filter: it was dropped and the worker restarted. */
export interface SlowLine {
  readonly key: string;
  readonly path: string;
  /** Its index in the batch. */
  readonly index: number;
  /** The line, cut to SLOW_LINE_CHARS characters. */
  readonly line: string;
  /** How long it had run when the worker was ended: the worker thread's CPU time, in ms (see budgetMs). */
  readonly ms: number;
}

const DEFAULT_BUDGET_MS = 1000;
/**
 * Most batches handed to the worker at once. The daemon reads at most 32 chunks ahead (see the
 * tailer's READ_AHEAD), so they all go; the bound is for callers that queue more.
 */
const MAX_IN_FLIGHT = 32;
const SLOW_LINE_CHARS = 200;

/** What a daemon logs for a dropped line: which filter, file and line, and what was lost with it. */
export function slowLineMessage(slow: SlowLine): string {
  return `[${slow.key}] ${slow.path}: a line took over ${Math.round(slow.ms)} ms in the filter and was dropped`
    + ` (the filter worker restarted: multi-line state of every filter and file starts afresh): ${JSON.stringify(slow.line)}`;
}

interface Job {
  id: number;
  /** The keys handed to the worker with the batch (PROGRESS_KEY indexes them). */
  sent: readonly string[];
  readonly path: string;
  readonly keys: readonly string[];
  readonly lines: readonly string[] | LogText | LogFileText;
  readonly times: readonly number[] | undefined;
  readonly now: number;
  readonly skip: (readonly [string, number])[];
  readonly results: Map<string, PackedFailures>;
  readonly notRecords: Map<string, number>;
  readonly resolve: (matched: MatchedBatch) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The worker's young generation: V8 grows it to 48 MiB under the allocation rate of a burst
 * (every line decoded and matched is short-lived garbage); a third of that keeps the daemon's
 * peak memory about 30 MiB lower.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 16 };

const NO_FAILURES: PackedFailures = { numbers: new Float64Array(0), ends: new Uint32Array(0), text: new Uint8Array(0), encoding: 'latin1' };

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
 * CPU time budget per line (see budgetMs): the worker publishes the line it is on, and one that
 * runs past the budget ends the thread; the line yields no failures, is reported to
 * `onSlowLine`, and the batch goes on in a fresh worker from the next line. The worker keeps one
 * LogFilter per (key, path), so multi-line state carries from batch to batch, as in the daemon
 * (and is lost when a line is dropped). Batches run one at a time, in the order given; up to
 * MAX_IN_FLIGHT of them are handed to the worker at once, so it matches on while the caller is
 * busy (a commit that holds the daemon's main thread for a second) instead of waiting to be
 * handed the next.
 */
export class FilterWorker {
  private worker: Worker;
  private progress: Int32Array;
  private filters: [string, FilterEntry][];
  private readonly budgetMs: number;
  private readonly onSlowLine: (slow: SlowLine) => void;
  private readonly workerUrl: URL;
  /** Not handed to the worker yet. */
  private readonly queue: Job[] = [];
  /** Handed to the worker, in order: the first is the one it works on. */
  private readonly inFlight: Job[] = [];
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
   * seconds, for dates without a year and lines without a date); LogText is decoded by the worker, and a LogFileText read by it. `times`, when the source knows
   * them (the journal), are the lines' times by index: no date is looked for in those lines.
   * Resolves with the lines that completed failures, by key, packed: unpackFailures them when
   * they are counted, not before (see PackedFailures). A batch the caller reads again (its count
   * failed) is matched again, and so are its lines that were no record: count them with the batch.
   */
  process(
    path: string, keys: readonly string[], lines: readonly string[] | LogText | LogFileText, now: number, times?: readonly number[],
  ): Promise<MatchedBatch> {
    if (this.closed) return Promise.reject(new Error('the filter worker is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: 0, sent: [], path, keys, lines, times, now, skip: [], results: new Map(), notRecords: new Map(), resolve, reject });
      this.next();
    });
  }

  /**
   * Takes a new set of filters for the batches not yet handed to the worker (those it has finish
   * with the filters they were sent under); a key whose entry is unchanged keeps its multi-line state.
   */
  replace(filters: ReadonlyMap<string, FilterEntry>): void {
    this.filters = [...filters];
    this.send({ type: 'filters', filters: this.filters });
  }

  /** Ends the worker; batches not done are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWatchdog();
    const error = new Error('the filter worker was closed');
    for (const job of [...this.inFlight.splice(0), ...this.queue.splice(0)]) job.reject(error);
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

  /** Hands the worker what it can take; keeps the thread alive (ref) only while it has work. */
  private next(): void {
    while (this.inFlight.length < MAX_IN_FLIGHT) {
      const job = this.queue.shift();
      if (job === undefined) break;
      job.id = this.nextId++;
      // A batch sent again after a dropped line: only the keys whose results did not come back.
      job.sent = job.keys.filter((key) => !job.results.has(key));
      this.inFlight.push(job);
      this.send({
        type: 'batch', id: job.id, path: job.path, keys: job.sent, lines: job.lines,
        ...(job.times ? { times: job.times } : {}), now: job.now, skip: job.skip,
      });
    }
    if (this.inFlight.length === 0) {
      this.worker.unref();
      this.stopWatchdog();
      return;
    }
    this.worker.ref();
    this.watchdog ??= this.startWatchdog();
  }

  private send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private received(worker: Worker, message: FromWorker): void {
    const job = this.inFlight[0];
    if (worker !== this.worker || job === undefined || message.id !== job.id) return;
    if (message.type === 'result') {
      job.results.set(message.key, message.failures);
      // A key's result comes once for a batch: one sent again after a dropped line leaves out the keys that came back.
      if (message.notRecords > 0) job.notRecords.set(message.key, message.notRecords);
      return;
    }
    this.finish(message.type === 'done' ? undefined : new Error(`filter worker: ${message.message}`));
  }

  /** The batch the worker was on is done (or failed). */
  private finish(error: Error | undefined): void {
    const job = this.inFlight.shift();
    if (job === undefined) return;
    if (error === undefined) job.resolve({ failures: new Map(job.keys.map((key) => [key, job.results.get(key) ?? NO_FAILURES])), notRecords: job.notRecords });
    else job.reject(error);
    this.next();
  }

  /** The batches handed to a worker that is gone go to the next one, first in the queue, in their order. */
  private requeue(): void {
    this.queue.unshift(...this.inFlight.splice(0));
  }

  /** The worker died (it should not: the filters were compiled before): the batch it was on fails, a new worker takes the others. */
  private failed(worker: Worker, error: Error): void {
    if (worker !== this.worker || this.closed) return;
    [this.worker, this.progress] = this.spawn();
    const job = this.inFlight.shift();
    this.requeue();
    job?.reject(error);
    this.next();
  }

  /**
   * Looks at the worker's position a few times per budget: the same line of the same batch seen
   * while the worker thread spent more than the budget of CPU time is a line to drop.
   */
  private startWatchdog(): NodeJS.Timeout {
    let seen = '';
    let since = { cpu: false, ms: 0 };
    const watchdog = setInterval(() => {
      const line = Atomics.load(this.progress, PROGRESS_LINE);
      const job = this.inFlight.find((j) => j.id === Atomics.load(this.progress, PROGRESS_BATCH));
      if (job === undefined || line < 0) {
        seen = '';
        return;
      }
      const key = job.sent[Atomics.load(this.progress, PROGRESS_KEY)] ?? '';
      const thread = Atomics.load(this.progress, PROGRESS_THREAD);
      const at = `${thread}\n${job.id}\n${key}\n${line}`;
      const cpu = threadCpuMs(thread);
      const now = cpu === undefined ? { cpu: false, ms: performance.now() } : { cpu: true, ms: cpu };
      // A new line, or the clock changed kind (the thread's id came, or its CPU time went): measured afresh.
      if (at !== seen || now.cpu !== since.cpu) {
        seen = at;
        since = now;
        return;
      }
      const used = now.ms - since.ms;
      if (used >= this.budgetMs) void this.drop(job, key, line, used);
    }, Math.max(5, Math.floor(this.budgetMs / 4)));
    watchdog.unref();
    return watchdog;
  }

  private stopWatchdog(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  /** A batch's lines, to quote one: a file range is read again here (nothing, when it cannot be). */
  private linesOf(job: Job): readonly string[] {
    if (Array.isArray(job.lines)) return job.lines as readonly string[];
    try {
      return logTextLines(logTextOf(job.lines as LogText | LogFileText));
    } catch {
      return [];
    }
  }

  private async drop(job: Job, key: string, index: number, ms: number): Promise<void> {
    this.stopWatchdog();
    const stuck = this.worker;
    [this.worker, this.progress] = this.spawn();
    // The batches before it are done; it and those after it go to the fresh worker.
    this.requeue();
    job.skip.push([key, index]);
    await stuck.terminate();
    this.onSlowLine({ key, path: job.path, index, line: (this.linesOf(job)[index] ?? '').slice(0, SLOW_LINE_CHARS), ms });
    if (this.closed) return;
    this.next();
  }
}
