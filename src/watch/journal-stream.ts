import { spawn, type ChildProcess } from 'node:child_process';
import { MAX_LINE_BYTES, monotonicMs, OperationError, type JournalFields, type JournalMatch, type JournalSource } from '../core/index.js';
import { formatJournalLine, journalFields, journalTime, type JournalJson } from './journal-entry.js';
import { cursorRealtime, journalctlArgv, journalctlEnd } from './journalctl.js';
import { lineDecoder, LineSplitter, type LineDecoder } from './line-splitter.js';

/** One journal entry as the filters get it. */
export interface JournalEntry {
  /** `_HOSTNAME SYSLOG_IDENTIFIER[PID]: MESSAGE`, as fail2ban formats it (see formatJournalLine). */
  readonly line: string;
  /** Epoch seconds (with the microseconds as a fraction), from the entry's timestamp fields, never from its text. */
  readonly time: number;
  readonly cursor: string;
  /** The entry's fields (the line's, the match's and those asked for), for routing to jails. */
  readonly fields: JournalFields;
}

/** Entries read from the journal, in journal order, and where reading stands after them. */
export interface JournalBatch {
  readonly entries: readonly JournalEntry[];
  /**
   * The cursor of the last entry read, entries dropped or skipped included: persisting it with
   * what the entries caused means a restart reads each entry exactly once. Undefined only while
   * nothing has been read with a cursor yet (a batch of dropped entries at the very start).
   */
  readonly cursor: string | undefined;
  /** That entry's `__REALTIME_TIMESTAMP` (microseconds since the epoch), when known. */
  readonly realtime: number | undefined;
  /** Entries whose line was longer than the limit: dropped unread, never matched. */
  readonly dropped: number;
}

export interface BatchLimits {
  /** A batch is handed over when it holds this many entries… */
  readonly entries: number;
  /** …or this many bytes of lines… */
  readonly bytes: number;
  /** …or when journalctl has said nothing more for this long (ms). */
  readonly idleMs: number;
}

export const DEFAULT_BATCH: BatchLimits = { entries: 2000, bytes: 256 * 1024, idleMs: 5 };

export interface JournalStreamOptions {
  /** The whole command (see journalctlArgv). */
  readonly argv: readonly string[];
  /** For messages: the journalctl asked for. */
  readonly journalctl: string;
  readonly decode: LineDecoder;
  readonly maxLineBytes: number;
  readonly batch: BatchLimits;
  /** The cursor reading starts at: its entry, printed first when still there, was read before. */
  readonly startCursor?: string;
  /** Entries at or before this realtime (µs) were read before: skipped (their cursor still counts). */
  readonly skipUntil?: bigint;
  /** Awaited before reading on; never called concurrently. A rejection ends the stream. */
  readonly onBatch: (batch: JournalBatch) => Promise<void>;
}

/**
 * A JSON line may hold a line of `maxLineBytes` as byte values (up to 4 characters each) next
 * to the other fields; a longer one is dropped unread, so one entry costs bounded memory.
 */
const jsonLimit = (maxLineBytes: number): number => 8 * maxLineBytes + 64 * 1024;

/**
 * One journalctl process and its output: JSON lines become entries, gathered into batches that
 * are handed over one at a time, with journalctl's output paused while a batch is handled (so
 * a slow consumer holds journalctl back instead of filling memory). `ended` resolves with why
 * it ended (undefined after a clean exit or `stop()`).
 */
export class JournalStream {
  readonly ended: Promise<string | undefined>;
  private readonly child: ChildProcess;
  private readonly splitter: LineSplitter;
  private pending: JournalEntry[] = [];
  private pendingBytes = 0;
  private pendingDropped = 0;
  private cursor: string | undefined;
  private realtime: number | undefined;
  private reported: string | undefined;
  private first = true;
  private idle: NodeJS.Timeout | undefined;
  private handling: Promise<void> | undefined;
  /** A batch is with the consumer (set before it is called: it may ask for the status at once). */
  private busy = false;
  private failure: string | undefined;
  private stopped = false;
  private readonly startedAt = monotonicMs();
  /** Epoch seconds of the last entry handed over, and of the first waiting. */
  lastTime: number | undefined;
  private waitingSince: number | undefined;

  constructor(private readonly options: JournalStreamOptions) {
    this.splitter = new LineSplitter((bytes) => bytes.toString('utf8'), jsonLimit(options.maxLineBytes));
    this.cursor = options.startCursor;
    const startTime = options.startCursor === undefined ? undefined : cursorRealtime(options.startCursor);
    this.realtime = startTime === undefined ? undefined : Number(startTime);
    this.reported = options.startCursor;
    const [file, ...args] = options.argv as [string, ...string[]];
    this.child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
    this.child.stdout?.on('data', (chunk: Buffer) => this.read(chunk));
    this.ended = new Promise((resolve) => {
      this.child.on('error', (error: NodeJS.ErrnoException) => {
        this.failure ??= error.code === 'ENOENT' ? `${file} not found: install util-linux` : error.message;
      });
      this.child.on('close', (code, signal) => {
        void this.finish().then(() => {
          if (this.stopped) resolve(undefined);
          else resolve(this.failure ?? (code === 0 ? undefined : journalctlEnd(options.journalctl, code, signal, stderr)));
        });
      });
    });
  }

  /** Whether entries are read but not yet handled. */
  get waiting(): boolean {
    return this.busy || this.pending.length > 0;
  }

  /** The time of the oldest entry not yet handled, while there is one. */
  get oldestWaiting(): number | undefined {
    return this.waiting ? this.waitingSince : undefined;
  }

  /** Milliseconds since journalctl started. */
  get age(): number {
    return monotonicMs() - this.startedAt;
  }

  /** Ends journalctl after the batch being handled; entries not yet handed over are left. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idle);
    await this.handling;
    this.child.kill();
    await this.ended;
  }

  private read(chunk: Buffer): void {
    for (const text of this.splitter.push(chunk)) this.take(text);
    this.pendingDropped += this.splitter.takeDropped().length;
    if (this.pending.length >= this.options.batch.entries || this.pendingBytes >= this.options.batch.bytes) {
      void this.flush();
    } else if (this.idle === undefined && this.hasNews()) {
      this.idle = setTimeout(() => void this.flush(), this.options.batch.idleMs);
    }
  }

  private hasNews(): boolean {
    return this.pending.length > 0 || this.pendingDropped > 0 || this.cursor !== this.reported;
  }

  private take(text: string): void {
    let json: JournalJson;
    try {
      json = JSON.parse(text) as JournalJson;
    } catch {
      // journalctl prints only JSON here; anything else is no entry, counted as a line dropped.
      this.pendingDropped++;
      return;
    }
    const cursor = json.__CURSOR;
    const realtime = json.__REALTIME_TIMESTAMP;
    const time = journalTime(json);
    if (typeof cursor !== 'string' || typeof realtime !== 'string' || !/^\d+$/.test(realtime) || time === undefined) return;
    const isStart = this.first && cursor === this.options.startCursor;
    this.first = false;
    this.cursor = cursor;
    this.realtime = Number(realtime);
    if (isStart) return;
    const { skipUntil } = this.options;
    if (skipUntil !== undefined && BigInt(realtime) <= skipUntil) return;
    const line = formatJournalLine(json, this.options.decode);
    const bytes = Buffer.byteLength(line);
    if (bytes > this.options.maxLineBytes) {
      this.pendingDropped++;
      return;
    }
    if (this.pending.length === 0) this.waitingSince = time;
    this.pending.push({ line, time, cursor, fields: journalFields(json) });
    this.pendingBytes += bytes;
  }

  private flush(): Promise<void> {
    clearTimeout(this.idle);
    this.idle = undefined;
    if (this.handling !== undefined || this.stopped || this.failure !== undefined || !this.hasNews()) return this.handling ?? Promise.resolve();
    const batch: JournalBatch = { entries: this.pending, cursor: this.cursor, realtime: this.realtime, dropped: this.pendingDropped };
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingDropped = 0;
    this.child.stdout?.pause();
    this.busy = true;
    this.handling = this.options.onBatch(batch).then(() => {
      this.reported = batch.cursor;
      const last = batch.entries.at(-1);
      if (last !== undefined) this.lastTime = last.time;
    }, (error: unknown) => {
      this.failure = `handling journal entries failed: ${error instanceof Error ? error.message : String(error)}`;
      this.child.kill();
    }).finally(() => {
      this.handling = undefined;
      this.busy = false;
      if (this.failure !== undefined || this.stopped) return;
      this.child.stdout?.resume();
      if (this.pending.length >= this.options.batch.entries || this.pendingBytes >= this.options.batch.bytes) void this.flush();
      else if (this.hasNews()) this.idle = setTimeout(() => void this.flush(), this.options.batch.idleMs);
    });
    return this.handling;
  }

  /** journalctl's output is all read: what is left is handed over (a clean end of a one-shot read). */
  private async finish(): Promise<void> {
    clearTimeout(this.idle);
    this.idle = undefined;
    await this.handling;
    if (!this.stopped && this.failure === undefined) await this.flush();
  }
}

export interface ReadJournalOptions {
  readonly source: JournalSource;
  readonly match: JournalMatch | undefined;
  /** Fields to read besides the line's and the match's. */
  readonly fields?: readonly string[];
  /** For values that are not UTF-8; default UTF-8. */
  readonly encoding?: string;
  readonly maxLineBytes?: number;
  /** The journalctl binary; default `journalctl` from PATH. */
  readonly journalctl?: string;
}

/**
 * Reads what the journal holds now, from its start, without following (test-filter, like
 * `fail2ban-regex systemd-journal`), batch by batch. A failing journalctl is an OperationError.
 */
export function readJournal(options: ReadJournalOptions): AsyncGenerator<JournalBatch> {
  const journalctl = options.journalctl ?? 'journalctl';
  return readJournalOnce({
    argv: journalctlArgv(journalctl, { source: options.source, match: options.match, fields: options.fields ?? [], follow: false }),
    journalctl,
    decode: lineDecoder(options.encoding),
    maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES,
    batch: DEFAULT_BATCH,
  });
}

async function* readJournalOnce(options: Omit<JournalStreamOptions, 'onBatch'>): AsyncGenerator<JournalBatch> {
  const batches: { batch: JournalBatch; done: () => void }[] = [];
  let wake: (() => void) | undefined;
  const stream = new JournalStream({
    ...options,
    onBatch: (batch) => new Promise((resolve) => {
      batches.push({ batch, done: resolve });
      wake?.();
    }),
  });
  let end: { why: string | undefined } | undefined;
  void stream.ended.then((why) => {
    end = { why };
    wake?.();
  });
  let current: (typeof batches)[number] | undefined;
  try {
    for (;;) {
      current = batches.shift();
      if (current !== undefined) {
        yield current.batch;
        current.done();
        continue;
      }
      if (end !== undefined) break;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
    }
  } finally {
    // Stopped early (the consumer broke off): the batch it was given counts as handled.
    if (end === undefined) {
      current?.done();
      await stream.stop();
    }
  }
  if (end.why !== undefined) throw new OperationError(`reading the journal: ${end.why}`);
}
