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
  times: number[];
  matches: string[];
  /** When it last failed, in the order of record and load calls: what eviction goes by. */
  touched: number;
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
  private readonly changed = new Set<string>();
  /**
   * The addresses whose failures the store holds as far as takeChanged has said (or load was
   * given): the deletion of any other is nothing to write. Most addresses of a burst reach
   * maxretry within one commit and never had a row.
   */
  private readonly persisted = new Set<string>();

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
    const entry = known ?? { times: [], matches: [], touched: 0 };
    entry.touched = this.touches++;
    this.changed.add(address);
    entry.times = windowTimes(entry.times, time, findtime, maxretry);
    if (maxmatches > 0 && lines.length > 0) entry.matches = windowMatches(entry.matches, lines, maxmatches);
    if (entry.times.length >= maxretry) {
      if (known) this.entries.delete(address);
      return entry;
    }
    this.put(address, entry, known !== undefined);
    return undefined;
  }

  /** Forgets the address, or every tracked address inside it when it is a network. */
  forget(address: Address): void {
    if (!address.isNetwork) {
      if (this.entries.delete(address.text)) this.changed.add(address.text);
      return;
    }
    for (const key of this.entries.keys()) {
      const tracked = tryParseAddress(key);
      if (tracked && contains(address, tracked)) {
        this.entries.delete(key);
        this.changed.add(key);
      }
    }
  }

  /** Drops addresses whose newest failure is before `oldest`: none of their failures can count again. */
  expire(oldest: number): void {
    for (const [key, entry] of this.entries) {
      if ((entry.times[entry.times.length - 1] ?? 0) < oldest) {
        this.entries.delete(key);
        this.changed.add(key);
      }
    }
  }

  /** Puts back an address's failures (read from the store), keeping the limits. */
  load(address: string, failures: AddressFailures): void {
    const { maxretry, maxmatches } = this.limits;
    const times = [...failures.times].sort((a, b) => a - b).slice(-maxretry);
    const matches = maxmatches > 0 ? failures.matches.slice(-maxmatches).map(keepLine) : [];
    this.put(address, { times, matches, touched: this.touches++ }, this.entries.has(address));
    this.persisted.add(address);
  }

  /** Marks an address as changed without tracking it: its stored copy is stale and must go. */
  discard(address: string): void {
    this.changed.add(address);
    this.persisted.add(address);
  }

  /** Every tracked address with its failures, least recent first. */
  *all(): IterableIterator<[string, AddressFailures]> {
    yield* this.inOrder();
  }

  /**
   * The addresses changed since the last call, each with its failures, or undefined when no longer
   * tracked but persisted (see persisted): what the store must be told.
   */
  takeChanged(): [string, AddressFailures | undefined][] {
    const out: [string, AddressFailures | undefined][] = [];
    for (const address of this.changed) {
      const entry = this.entries.get(address);
      if (entry !== undefined) {
        this.persisted.add(address);
        out.push([address, entry]);
      } else if (this.persisted.delete(address)) {
        out.push([address, undefined]);
      }
    }
    this.changed.clear();
    return out;
  }

  /** Tracks `entry` as the most recent failure; `known`: the address is tracked already. */
  private put(address: string, entry: Entry, known: boolean): void {
    if (known && this.ordered) this.entries.delete(address);
    this.entries.set(address, entry);
    if (!known) this.evict();
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
    for (const key of this.inOrder().keys()) {
      if (this.entries.size <= this.limits.maxTracked) return;
      this.entries.delete(key);
      this.changed.add(key);
    }
  }
}
