import { contains, tryParseAddress, type Address } from '../core/index.js';

/** What is kept of one address's recent failures. */
export interface AddressFailures {
  /** Epoch seconds from the log, ascending; at most `maxretry` of them. */
  readonly times: readonly number[];
  /** The newest matched lines, at most `maxmatches`. */
  readonly matches: readonly string[];
}

export interface WindowLimits {
  readonly maxretry: number;
  readonly findtime: number;
  readonly maxmatches: number;
  /** Most addresses tracked at once; past it the one that failed least recently is forgotten. */
  readonly maxTracked: number;
}

/** A matched line longer than this is kept cut: it goes into memory, the store and `show`. */
export const MAX_MATCH_CHARS = 2048;

interface Entry {
  readonly address: string;
  times: number[];
  matches: string[];
  /** When it last failed, in the order of record and load calls: what eviction goes by. */
  touched: number;
  /** In `changes` since the last takeChanged. */
  changed: boolean;
  /** The store holds a row of it (takeChanged told it, or it was loaded). */
  stored: boolean;
  /** No longer tracked (banned, expired, evicted or forgotten). */
  gone: boolean;
}

function keepLine(line: string): string {
  return line.length <= MAX_MATCH_CHARS ? line : `${line.slice(0, MAX_MATCH_CHARS - 1)}…`;
}

/**
 * `times` with `time` in its place, less those before `findtime` from the newest and all but the
 * newest `maxretry`, as a new array of exactly that length: one grown by push or splice keeps room
 * for 17 numbers, most of what a window held per address.
 */
function windowTimes(times: readonly number[], time: number, findtime: number, maxretry: number): number[] {
  let at = times.length;
  while (at > 0 && (times[at - 1] ?? 0) > time) at--;
  const all = at === times.length ? times.concat(time) : times.slice(0, at).concat(time, times.slice(at));
  const oldest = (all[all.length - 1] ?? time) - findtime;
  let drop = 0;
  while (drop < all.length && (all[drop] ?? 0) < oldest) drop++;
  drop = Math.max(drop, all.length - maxretry);
  return drop > 0 ? all.slice(drop) : all;
}

/** `matches` and then `lines`, the newest `maxmatches` of them, as a new array of exactly that length (see windowTimes). */
function windowMatches(matches: readonly string[], lines: readonly string[], maxmatches: number): string[] {
  const all = matches.concat(lines.length === 1 ? keepLine(lines[0] as string) : lines.map(keepLine));
  return all.length > maxmatches ? all.slice(all.length - maxmatches) : all;
}

/**
 * The failures of every address in one jail, each inside its `findtime` window: a failure older
 * than `findtime` before the address's newest failure no longer counts. Remembers which
 * addresses changed, so only those are written back to the store.
 */
export class FailureWindows {
  /**
   * While `ordered`, in order of last failure, least recent first: eviction takes from the front.
   * Below the cap, moving an entry to the back on every failure (a delete and a set, a tenth of a
   * burst's counting) buys nothing: entries stay where they were put, and are put in order by
   * `touched` the first time order counts (see ordered).
   */
  private entries = new Map<string, Entry>();
  private ordered = true;
  private touches = 0;
  /**
   * What the store must be told: the entries changed since the last takeChanged, and the addresses
   * whose stored row must go. Flags on the entries, not a set of addresses: a burst counts hundreds
   * of thousands of failures, and every lookup by address text is a hash of it in a table of tens
   * of thousands. Most addresses of a burst reach maxretry within one commit and never had a row:
   * their going is nothing to write.
   */
  private changes: Entry[] = [];
  private removed = new Set<string>();

  constructor(private readonly limits: WindowLimits) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * Counts a failure of `address` at `time`. When the address reaches `maxretry` failures in its
   * window, it is removed (a ban starts it afresh) and what was counted is returned.
   */
  record(address: string, time: number, lines: readonly string[]): AddressFailures | undefined {
    const { maxretry, findtime, maxmatches } = this.limits;
    const known = this.entries.get(address);
    const entry = known ?? { address, times: [], matches: [], touched: 0, changed: false, stored: false, gone: false };
    entry.touched = this.touches++;
    entry.times = windowTimes(entry.times, time, findtime, maxretry);
    if (maxmatches > 0 && lines.length > 0) entry.matches = windowMatches(entry.matches, lines, maxmatches);
    if (entry.times.length >= maxretry) {
      if (known) this.drop(known);
      return entry;
    }
    this.noteChanged(entry);
    if (known === undefined) {
      this.entries.set(address, entry);
      this.evict();
    } else if (this.ordered) {
      this.entries.delete(address);
      this.entries.set(address, entry);
    }
    return undefined;
  }

  /** Forgets the address, or every tracked address inside it when it is a network. */
  forget(address: Address): void {
    if (!address.isNetwork) {
      const entry = this.entries.get(address.text);
      if (entry !== undefined) this.drop(entry);
      return;
    }
    for (const [key, entry] of this.entries) {
      const tracked = tryParseAddress(key);
      if (tracked && contains(address, tracked)) this.drop(entry);
    }
  }

  /** Drops addresses whose newest failure is before `oldest`: none of their failures can count again. */
  expire(oldest: number): void {
    for (const entry of this.entries.values()) {
      if ((entry.times[entry.times.length - 1] ?? 0) < oldest) this.drop(entry);
    }
  }

  /** Puts back an address's failures (read from the store), keeping the limits. */
  load(address: string, failures: AddressFailures): void {
    const { maxretry, maxmatches } = this.limits;
    const times = [...failures.times].sort((a, b) => a - b).slice(-maxretry);
    const matches = maxmatches > 0 ? failures.matches.slice(-maxmatches).map(keepLine) : [];
    const known = this.entries.get(address);
    if (known !== undefined) this.drop(known);
    const entry: Entry = { address, times, matches, touched: this.touches++, changed: false, stored: true, gone: false };
    this.entries.set(address, entry);
    this.removed.delete(address);
    if (known?.changed === true) this.noteChanged(entry);
    this.evict();
  }

  /** Marks an address as changed without tracking it: its stored copy is stale and must go. */
  discard(address: string): void {
    this.removed.add(address);
  }

  /** Every tracked address with its failures, least recent first. */
  *all(): IterableIterator<[string, AddressFailures]> {
    for (const [address, entry] of this.inOrder()) yield [address, entry];
  }

  /**
   * The addresses changed since the last call, each with its failures, or undefined when no longer
   * tracked but stored: what the store must be told.
   */
  takeChanged(): [string, AddressFailures | undefined][] {
    const out: [string, AddressFailures | undefined][] = [];
    for (const address of this.removed) {
      // Tracked again since its row was to go: the row is written over below instead.
      if (!this.entries.has(address)) out.push([address, undefined]);
    }
    for (const entry of this.changes) {
      entry.changed = false;
      if (entry.gone) continue;
      entry.stored = true;
      out.push([entry.address, entry]);
    }
    this.changes = [];
    this.removed = new Set();
    return out;
  }

  private noteChanged(entry: Entry): void {
    if (entry.changed) return;
    entry.changed = true;
    this.changes.push(entry);
  }

  /** Stops tracking `entry`; its stored row, if any, is to go. */
  private drop(entry: Entry): void {
    this.entries.delete(entry.address);
    entry.gone = true;
    if (entry.stored) this.removed.add(entry.address);
  }

  /** The entries in order of last failure: put in that order once, kept in it while at the cap. */
  private inOrder(): Map<string, Entry> {
    if (!this.ordered) {
      this.entries = new Map([...this.entries].sort(([, a], [, b]) => a.touched - b.touched));
      this.ordered = true;
    }
    return this.entries;
  }

  private evict(): void {
    // Checked before iterating: finding the first key walks past every slot deleted since the Map last compacted.
    if (this.entries.size <= this.limits.maxTracked) {
      if (this.ordered && this.entries.size < this.limits.maxTracked / 2) this.ordered = false;
      return;
    }
    for (const entry of this.inOrder().values()) {
      if (this.entries.size <= this.limits.maxTracked) return;
      this.drop(entry);
    }
  }
}
