import { journalMatchFields, journalMatchUnion, MAX_LINE_BYTES, messageOf, type JournalMatch, type JournalSource } from '../core/index.js';
import { cursorRealtime, journalctlArgv, probeCursor, type JournalStart } from './journalctl.js';
import { DEFAULT_BATCH, JournalStream, type BatchLimits, type JournalBatch } from './journal-stream.js';
import { lineDecoder } from './line-splitter.js';

/** Where a journalctl run started, told each time one starts. */
export type JournalStartPoint =
  | { readonly kind: 'cursor'; readonly cursor: string }
  /** From a time: no cursor was given, or `lostCursor`'s entry is no longer in the journal. */
  | { readonly kind: 'since'; readonly since: number; readonly lostCursor?: string };

export interface JournalReaderOptions {
  /** Which journal (a jail's backend options). */
  readonly source: JournalSource;
  /** The union of the jails' matches; undefined reads every entry. */
  readonly match: JournalMatch | undefined;
  /** Fields to read besides the line's and the match's (for routing by other matches). */
  readonly fields?: readonly string[];
  /** The cursor committed last: reading resumes after its entry. */
  readonly after?: string;
  /**
   * Epoch seconds to read from when there is no cursor, or its entry is gone (then from the
   * cursor's own time when that is later: what came before it was read).
   */
  readonly since: number;
  /** Awaited before reading on; never called concurrently. A rejected batch is read again (from the last cursor handled). */
  readonly onEntries: (batch: JournalBatch) => Promise<void>;
  /** Told where each journalctl run starts (a lost cursor is told there). */
  readonly onStart?: (start: JournalStartPoint) => void;
  /** Told in one line when reading fails (journalctl missing, ended, a bad journal path); told again only when the reason changes. */
  readonly onError?: (message: string) => void;
  /** Told when reading works again after onError. */
  readonly onRecovered?: () => void;
  /** The jails' `logencoding` for values that are not UTF-8; default UTF-8. */
  readonly encoding?: string;
  /** A longer line is dropped whole (counted in `JournalBatch.dropped`), never cut and matched; default 64 KiB as for files. */
  readonly maxLineBytes?: number;
  readonly batch?: Partial<BatchLimits>;
  /** The journalctl binary; default `journalctl` from PATH. */
  readonly journalctl?: string;
  /** Back-off between restarts after a failure: from `first` ms, doubling, up to `max` ms (default 1 s to 30 s). */
  readonly retry?: { readonly first: number; readonly max: number };
  /** Epoch seconds, for the lag. */
  readonly now?: () => number;
}

export interface JournalStatus {
  /** journalctl runs and has not failed since it started. */
  readonly running: boolean;
  /** Why reading fails now; undefined while it works. */
  readonly error: string | undefined;
  /** Epoch seconds since when `running`/`error` is as it is. */
  readonly since: number;
  /** Epoch seconds of the last entry handled, if any. */
  readonly lastEntryAt: number | undefined;
  /** How far behind the journal reading is: now − the time of the last entry handled, while entries wait; else 0. */
  readonly lagSeconds: number;
}

/**
 * What one reader for several jails reads: the union of their matches, and every field their
 * matches read, so that each entry can be routed to the jails whose own match it passes
 * (journalMatches(jail's match, entry.fields)).
 */
export function journalSelection(matches: readonly (JournalMatch | undefined)[]): { readonly match: JournalMatch | undefined; readonly fields: readonly string[] } {
  return { match: journalMatchUnion(matches), fields: [...new Set(matches.flatMap((m) => journalMatchFields(m)))].sort() };
}

/** A run that lived this long without failing counts as recovered: the back-off starts again from its first step. */
const HEALTHY_MS = 5000;

/**
 * Follows the journal with one `journalctl --follow` for every journal jail (their union match),
 * handing over batches of entries with the cursor to commit with what they caused. On start,
 * and after journalctl ends, it resumes after the last cursor handled (or `after`); a cursor
 * whose entry is gone starts from `since` instead, told once through `onStart`. A failing or
 * missing journalctl is told through `onError`, shown in `status()`, and retried with back-off;
 * nothing else stops.
 */
export class JournalReader {
  private readonly options: JournalReaderOptions;
  private stream: JournalStream | undefined;
  private cursor: string | undefined;
  private lastEntryAt: number | undefined;
  private error: string | undefined;
  private changedAt: number;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(options: JournalReaderOptions) {
    this.options = options;
    this.cursor = options.after;
    this.changedAt = this.now();
    // A bad encoding is refused here, before anything runs.
    lineDecoder(options.encoding);
  }

  /** Starts reading (journalctl runs in the background). */
  start(): void {
    this.loop ??= this.run();
  }

  status(): JournalStatus {
    const stream = this.stream;
    const waiting = stream?.oldestWaiting;
    const behind = waiting === undefined ? undefined : this.lastEntryAt ?? waiting;
    return {
      running: stream !== undefined && this.error === undefined,
      error: this.error,
      since: this.changedAt,
      lastEntryAt: this.lastEntryAt,
      lagSeconds: behind === undefined ? 0 : Math.max(0, this.now() - behind),
    };
  }

  /** Stops: waits for a batch being handled, ends journalctl; no batch is handed over after. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.stream?.stop();
    await this.loop;
  }

  private now(): number {
    return (this.options.now ?? ((): number => Date.now() / 1000))();
  }

  private async run(): Promise<void> {
    const retry = this.options.retry ?? { first: 1000, max: 30_000 };
    let delay = retry.first;
    while (!this.closed) {
      let why: string | undefined;
      let healthy = false;
      try {
        const stream = await this.follow();
        if (stream === undefined) break;
        const healthyTimer = setTimeout(() => {
          healthy = true;
          this.recovered();
        }, HEALTHY_MS);
        why = await stream.ended;
        clearTimeout(healthyTimer);
        healthy ||= stream.age >= HEALTHY_MS;
        this.stream = undefined;
      } catch (error) {
        why = messageOf(error);
      }
      if (this.closed) break;
      if (healthy) delay = retry.first;
      this.failed(why ?? `${this.options.journalctl ?? 'journalctl'} ended`);
      await this.sleep(delay);
      delay = Math.min(delay * 2, retry.max);
    }
  }

  /** Starts journalctl where reading stands; undefined once closed. */
  private async follow(): Promise<JournalStream | undefined> {
    const journalctl = this.options.journalctl ?? 'journalctl';
    const { start, skipUntil, point } = await this.startPoint(journalctl);
    if (this.closed) return undefined;
    this.options.onStart?.(point);
    const stream = new JournalStream({
      argv: journalctlArgv(journalctl, { source: this.options.source, match: this.options.match, fields: this.options.fields ?? [], start, follow: true }),
      journalctl,
      decode: lineDecoder(this.options.encoding),
      maxLineBytes: this.options.maxLineBytes ?? MAX_LINE_BYTES,
      batch: { ...DEFAULT_BATCH, ...this.options.batch },
      ...('cursor' in start ? { startCursor: start.cursor } : {}),
      ...(skipUntil === undefined ? {} : { skipUntil }),
      onBatch: async (batch) => {
        await this.options.onEntries(batch);
        this.cursor = batch.cursor ?? this.cursor;
        const last = batch.entries.at(-1);
        if (last !== undefined) this.lastEntryAt = last.time;
        this.recovered();
      },
    });
    this.stream = stream;
    return stream;
  }

  /**
   * After the cursor when its entry is still there; else from `since`, or from the cursor's own
   * time when later, skipping entries up to that very microsecond (they were read before).
   */
  private async startPoint(journalctl: string): Promise<{ start: JournalStart; skipUntil?: bigint; point: JournalStartPoint }> {
    const { cursor } = this;
    const since = this.options.since;
    if (cursor === undefined) return { start: { since }, point: { kind: 'since', since } };
    if (await probeCursor(journalctl, this.options.source, cursor) === 'found') {
      return { start: { cursor }, point: { kind: 'cursor', cursor } };
    }
    const at = cursorRealtime(cursor);
    const from = at !== undefined && Number(at) / 1e6 > since ? Number(at) / 1e6 : since;
    // Read from the same second: --since takes whole and fractional seconds alike, but a
    // microsecond more or less must not decide; entries up to `at` are skipped exactly.
    return {
      start: { since: Math.floor(from) },
      ...(at === undefined || from === since ? {} : { skipUntil: at }),
      point: { kind: 'since', since: from, lostCursor: cursor },
    };
  }

  private failed(why: string): void {
    if (why !== this.error) {
      this.error = why;
      this.changedAt = this.now();
      this.options.onError?.(why);
    }
  }

  private recovered(): void {
    if (this.error === undefined) return;
    this.error = undefined;
    this.changedAt = this.now();
    this.options.onRecovered?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
