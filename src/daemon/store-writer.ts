import { contains, laterExpiry, messageOf, monotonicMs, nowSeconds, tryParseAddress, type Ban, type JournalCursor, type LogPosition, type Log } from '../core/index.js';
import { isDamaged, type BanResult, type BanStore, type DecidedBan, type FailureCounter, type LogBatchCommit } from '../store/index.js';

/** How long a daemon write waits for another process's lock: a moment, never a stall of the event loop. */
export const DAEMON_BUSY_TIMEOUT_MS = 100;
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 2000;

export interface StoreWriterOptions {
  readonly store: BanStore;
  readonly log: Log;
  /** A write changed bans (so the change log grew). */
  readonly written?: () => void;
  /** Epoch seconds. */
  readonly now?: () => number;
  /** Told how long each write transaction took, in seconds (for metrics). */
  readonly timed?: (seconds: number) => void;
}

/** What `status` shows of the daemon's writes. */
export interface WriterStatus {
  readonly writable: boolean;
  /** Since when writes fail (epoch seconds), and why; null while they work. */
  readonly failingSince: number | null;
  readonly error: string | null;
  /** Held in memory until the database takes them. */
  readonly heldBans: number;
  readonly heldCounters: number;
  readonly heldPositions: number;
}

const key = (jail: string, address: string): string => `${jail}\u0000${address}`;

/**
 * The daemon's one way into the store. What log lines caused (bans, failure counters, the
 * positions read up to) is held here and committed in one transaction; when the database cannot
 * take it — locked by another process, disk full, damaged — it stays held, merged with what
 * follows, and is written by a retry with back-off, so the daemon never waits on the database and
 * never reads a line twice. The held bans are already in the firewall (the caller applies them)
 * and count as active for every decision and reconcile (`held`). A crash while holding loses
 * nothing: the positions were not written either, so the lines are read again at the next start.
 */
export class StoreWriter {
  private readonly bans = new Map<string, DecidedBan>();
  private readonly counters = new Map<string, FailureCounter>();
  private readonly positions = new Map<string, LogPosition>();
  private readonly cursors = new Map<string, JournalCursor>();
  private failure: { since: number; error: string } | undefined;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: StoreWriterOptions) {
    this.now = options.now ?? nowSeconds;
  }

  /**
   * Takes what a batch of lines caused and writes everything held, unless writes are failing (the
   * retry does it then). Returns the store's results for `batch.bans` when written now, undefined
   * when held.
   */
  commit(batch: LogBatchCommit): BanResult[] | undefined {
    // Nothing held (writes work): the batch goes as it is, and is held only if it cannot be written.
    if (this.failure === undefined && !this.holding()) {
      let results: BanResult[];
      try {
        results = this.commitTimed(batch);
      } catch (error) {
        this.hold(batch);
        this.failed(error);
        return undefined;
      }
      this.tellWritten(results);
      return results;
    }
    this.hold(batch);
    if (this.failure !== undefined) return undefined;
    return this.write();
  }

  /** The held bans that are active at `now`, as bans (not yet in the store). */
  held(now: number): Ban[] {
    return [...this.bans.values()].filter((ban) => ban.expiresAt === null || ban.expiresAt > now).map((ban) => ({
      address: ban.address, jail: ban.jail, bannedAt: ban.bannedAt, expiresAt: ban.expiresAt, source: ban.source,
      reason: ban.reason ?? null, failures: ban.failures ?? 0, banCount: 1, liftedAt: null, liftedBy: null, forced: ban.forced === true,
    }));
  }

  /** The held active bans that block `address`: its own and those of networks covering it. */
  heldTouching(address: string, now: number): Ban[] {
    // Asked for every address of every commit: nothing held (the usual case) costs no parse.
    if (this.bans.size === 0) return [];
    const target = tryParseAddress(address);
    if (target === undefined) return [];
    return this.held(now).filter((ban) => {
      const banned = tryParseAddress(ban.address);
      return banned !== undefined && contains(banned, target);
    });
  }

  /** Where reading `path` stands if that is held here (newer than the store's). */
  heldPosition(path: string): LogPosition | undefined {
    return this.positions.get(path);
  }

  /** Where reading the journal `source` stands if that is held here (newer than the store's). */
  heldCursor(source: string): JournalCursor | undefined {
    return this.cursors.get(source);
  }

  /** An address was unbanned by hand: a held ban of it must not be written after the unban. */
  drop(address: string): void {
    for (const [k, ban] of this.bans) if (ban.address === address) this.bans.delete(k);
  }

  status(): WriterStatus {
    return {
      writable: this.failure === undefined,
      failingSince: this.failure?.since ?? null,
      error: this.failure?.error ?? null,
      heldBans: this.bans.size,
      heldCounters: this.counters.size,
      heldPositions: this.positions.size + this.cursors.size,
    };
  }

  /** Stops retrying after one last attempt; says what could not be written. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.failure === undefined || this.write() !== undefined) return;
    this.options.log(`stopping with ${this.describeHeld()} not written to the database: the log lines that caused them are read again at the next start`, 'warning');
  }

  private commitTimed(batch: LogBatchCommit): BanResult[] {
    const started = monotonicMs();
    const results = this.options.store.commitLogBatch(batch, this.now());
    this.options.timed?.((monotonicMs() - started) / 1000);
    return results;
  }

  private hold(batch: LogBatchCommit): void {
    for (const ban of batch.bans) this.holdBan(ban);
    for (const counter of batch.counters) this.counters.set(key(counter.jail, counter.address), counter);
    for (const position of batch.positions) this.positions.set(position.path, position);
    for (const cursor of batch.cursors ?? []) this.cursors.set(cursor.source, cursor);
  }

  private holdBan(ban: DecidedBan): void {
    const k = key(ban.jail, ban.address);
    const held = this.bans.get(k);
    this.bans.set(k, held === undefined ? ban : { ...held, expiresAt: laterExpiry(held.expiresAt, ban.expiresAt) });
  }

  private write(): BanResult[] | undefined {
    const held = this.describeHeld();
    let results: BanResult[];
    try {
      results = this.commitTimed({
        bans: [...this.bans.values()], counters: [...this.counters.values()], positions: [...this.positions.values()],
        cursors: [...this.cursors.values()],
      });
    } catch (error) {
      this.failed(error);
      return undefined;
    }
    this.bans.clear();
    this.counters.clear();
    this.positions.clear();
    this.cursors.clear();
    this.tellWritten(results);
    if (this.failure !== undefined) {
      this.options.log(`the database takes writes again: wrote ${held} held since ${new Date(this.failure.since * 1000).toISOString()}`, 'notice');
      this.failure = undefined;
      this.retryMs = FIRST_RETRY_MS;
    }
    return results;
  }

  /** Tells of a write that changed a ban (the fleet's pusher is woken by it). */
  private tellWritten(results: readonly BanResult[]): void {
    if (results.some((result) => result.change !== 'kept')) this.options.written?.();
  }

  private failed(error: unknown): void {
    const message = messageOf(error);
    // Damage is said once by the store itself, with what to do about it.
    if (this.failure?.error !== message && !isDamaged(error)) {
      this.options.log(`cannot write the database (${message}): holding ${this.describeHeld()} in memory; `
        + 'new bans still go to the firewall at once and are written when the database takes writes again', 'error');
    }
    this.failure = { since: this.failure?.since ?? this.now(), error: message };
    clearTimeout(this.retryTimer);
    if (this.closed) return;
    this.retryTimer = setTimeout(() => this.write(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
  }

  private holding(): boolean {
    return this.bans.size + this.counters.size + this.positions.size + this.cursors.size > 0;
  }

  private describeHeld(): string {
    return `${this.bans.size} bans, ${this.counters.size} failure counters and ${this.positions.size + this.cursors.size} log positions`;
  }
}
