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

function keepLine(line: string): string {
  return line.length <= MAX_MATCH_CHARS ? line : `${line.slice(0, MAX_MATCH_CHARS - 1)}…`;
}

/** `matches` and then `lines`, the newest `maxmatches` of them, as a new array of exactly that length: one grown by push keeps room for 17. */
function windowMatches(matches: readonly string[], lines: readonly string[], maxmatches: number): string[] {
  const all = matches.concat(lines.length === 1 ? keepLine(lines[0] as string) : lines.map(keepLine));
  return all.length > maxmatches ? all.slice(all.length - maxmatches) : all;
}

/** A slot's flags: in `changes` since the last takeChanged; the store holds a row of it (takeChanged told it, or it was loaded). */
const CHANGED = 1;
const STORED = 2;
const NO_MATCHES: readonly string[] = [];

/**
 * The failures of every address in one jail, each inside its `findtime` window: a failure older
 * than `findtime` before the address's newest failure no longer counts. Remembers which
 * addresses changed, so only those are written back to the store.
 *
 * Each tracked address has a slot: its failure times sit in one typed array, updated in place,
 * and the Map from address to slot holds a number. A burst counts hundreds of thousands of
 * failures of tens of thousands of addresses; an object and a new array of times per failure
 * were most of what counting allocated (and promoted: they live until the address fails again),
 * and every object more on the way to the times is one more cache miss per failure.
 */
export class FailureWindows {
  /**
   * Address → slot. While `ordered`, in order of last failure, least recent first: eviction takes
   * from the front. Below the cap, moving an address to the back on every failure (a delete and a
   * set, a tenth of a burst's counting) buys nothing: addresses stay where they were put, and are
   * put in order by `touched` the first time order counts (see ordered).
   */
  private slots = new Map<string, number>();
  private ordered = true;
  private touches = 0;
  /** Per slot: its address ('' when free), times (`stride` numbers from slot × stride, ascending), how many, last failure (order of record and load calls), flags, matched lines. */
  private addresses: string[] = [];
  private times: Float64Array;
  private counts: Int32Array;
  private touched: Float64Array;
  private flags: Uint8Array;
  private matches: (readonly string[])[] = [];
  private readonly free: number[] = [];
  /** Room for one time more than maxretry: a loaded row may hold maxretry already, and the new one goes in before the oldest goes. */
  private readonly stride: number;
  /**
   * What the store must be told: the slots changed since the last takeChanged (flag CHANGED), and
   * the addresses whose stored row must go. Most addresses of a burst reach maxretry within one
   * commit and never had a row: their going is nothing to write.
   */
  private changes: number[] = [];
  private removed = new Set<string>();
  /**
   * Slots of addresses that reached maxretry and start afresh, kept in `slots` with no times
   * until the next sweep (expire): an attacker failing on after its ban reaches maxretry again
   * and again, and taking it out of the Map and putting it back each time left the Map's table
   * full of deleted entries, which every lookup walks past.
   */
  private emptied = 0;

  constructor(private readonly limits: WindowLimits) {
    this.stride = limits.maxretry + 1;
    this.times = new Float64Array(0);
    this.counts = new Int32Array(0);
    this.touched = new Float64Array(0);
    this.flags = new Uint8Array(0);
  }

  /** How many addresses have failures in their window. */
  get size(): number {
    return this.slots.size - this.emptied;
  }

  /**
   * Counts a failure of `address` at `time`. When the address reaches `maxretry` failures in its
   * window, it is removed (a ban starts it afresh) and what was counted is returned.
   */
  record(address: string, time: number, lines: readonly string[]): AddressFailures | undefined {
    const { maxretry, findtime, maxmatches } = this.limits;
    const known = this.slots.get(address);
    const wasEmpty = known !== undefined && this.counts[known] === 0;
    const slot = known ?? this.allocate(address);
    this.touched[slot] = this.touches++;
    const count = this.insert(slot, time, findtime, maxretry);
    if (maxmatches > 0 && lines.length > 0) this.matches[slot] = windowMatches(this.matches[slot] as readonly string[], lines, maxmatches);
    if (count >= maxretry) {
      const reached = this.failuresOf(slot);
      if (known === undefined) this.release(slot);
      else this.empty(address, slot, wasEmpty);
      return reached;
    }
    this.noteChanged(slot);
    if (known === undefined) {
      this.slots.set(address, slot);
      this.evict();
      return undefined;
    }
    if (this.ordered) {
      this.slots.delete(address);
      this.slots.set(address, slot);
    }
    if (wasEmpty) {
      this.emptied--;
      this.evict();
    }
    return undefined;
  }

  /** Forgets the address, or every tracked address inside it when it is a network. */
  forget(address: Address): void {
    if (!address.isNetwork) {
      const slot = this.slots.get(address.text);
      if (slot !== undefined) this.drop(address.text, slot);
      return;
    }
    for (const [key, slot] of this.slots) {
      const tracked = tryParseAddress(key);
      if (tracked && contains(address, tracked)) this.drop(key, slot);
    }
  }

  /** Drops addresses whose newest failure is before `oldest`: none of their failures can count again. */
  expire(oldest: number): void {
    for (const [address, slot] of this.slots) {
      const count = this.counts[slot] as number;
      if (count === 0 || (this.times[slot * this.stride + count - 1] as number) < oldest) this.drop(address, slot);
    }
  }

  /** Puts back an address's failures (read from the store), keeping the limits. */
  load(address: string, failures: AddressFailures): void {
    const { maxretry, maxmatches } = this.limits;
    const times = [...failures.times].sort((a, b) => a - b).slice(-maxretry);
    const known = this.slots.get(address);
    const changed = known !== undefined && ((this.flags[known] as number) & CHANGED) !== 0;
    if (known !== undefined) this.drop(address, known);
    const slot = this.allocate(address);
    this.times.set(times, slot * this.stride);
    this.counts[slot] = times.length;
    this.touched[slot] = this.touches++;
    this.flags[slot] = STORED;
    this.matches[slot] = maxmatches > 0 ? failures.matches.slice(-maxmatches).map(keepLine) : NO_MATCHES;
    this.slots.set(address, slot);
    this.removed.delete(address);
    if (changed) this.noteChanged(slot);
    this.evict();
  }

  /** Marks an address as changed without tracking it: its stored copy is stale and must go. */
  discard(address: string): void {
    this.removed.add(address);
  }

  /** Every tracked address with its failures, least recent first. */
  *all(): IterableIterator<[string, AddressFailures]> {
    for (const [address, slot] of this.inOrder()) if (this.counts[slot] !== 0) yield [address, this.failuresOf(slot)];
  }

  /**
   * The addresses changed since the last call, as the store must be told them: each with its
   * failures, or undefined when no longer tracked but stored. Taken now; the failures are made as
   * the result is iterated (each time it is): a burst's commit tells tens of thousands, and made
   * all at once, with what is made of them, they outlived the young generation. Iterate it before
   * counting again.
   */
  takeChanged(): Iterable<readonly [string, AddressFailures | undefined]> {
    const gone: string[] = [];
    for (const address of this.removed) {
      // Tracked again since its row was to go: the row is written over below instead.
      const slot = this.slots.get(address);
      if (slot === undefined || this.counts[slot] === 0) gone.push(address);
    }
    const changed: number[] = [];
    for (const slot of this.changes) {
      const flags = this.flags[slot] as number;
      // Freed since (its flags cleared), or listed twice after being freed and taken again.
      if ((flags & CHANGED) === 0) continue;
      this.flags[slot] = STORED;
      changed.push(slot);
    }
    this.changes = [];
    this.removed = new Set();
    const tell = (slot: number): readonly [string, AddressFailures] => [this.addresses[slot] as string, this.failuresOf(slot)];
    return {
      *[Symbol.iterator]() {
        for (const address of gone) yield [address, undefined];
        for (const slot of changed) yield tell(slot);
      },
    };
  }

  private failuresOf(slot: number): AddressFailures {
    const from = slot * this.stride;
    const count = this.counts[slot] as number;
    const times = new Array<number>(count);
    for (let i = 0; i < count; i++) times[i] = this.times[from + i] as number;
    return { times, matches: this.matches[slot] as readonly string[] };
  }

  /**
   * Puts `time` among the slot's times in order, less those before `findtime` from the newest
   * and all but the newest `maxretry`; returns how many are left.
   */
  private insert(slot: number, time: number, findtime: number, maxretry: number): number {
    const { times } = this;
    const from = slot * this.stride;
    const count = this.counts[slot] as number;
    let at = from + count;
    for (; at > from && (times[at - 1] as number) > time; at--) times[at] = times[at - 1] as number;
    times[at] = time;
    const end = from + count + 1;
    const oldest = (times[end - 1] as number) - findtime;
    let drop = 0;
    while (drop < count + 1 && (times[from + drop] as number) < oldest) drop++;
    drop = Math.max(drop, count + 1 - maxretry);
    if (drop > 0) times.copyWithin(from, from + drop, end);
    return (this.counts[slot] = count + 1 - drop);
  }

  /** A free slot for `address`, with no times and no lines (not in `slots` yet). */
  private allocate(address: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.addresses.length;
      if (slot >= this.counts.length) this.grow(Math.max(64, slot * 2));
      this.addresses.push(address);
      this.matches.push(NO_MATCHES);
    } else {
      this.addresses[slot] = address;
    }
    this.counts[slot] = 0;
    this.flags[slot] = 0;
    return slot;
  }

  private grow(slots: number): void {
    const times = new Float64Array(slots * this.stride);
    times.set(this.times);
    this.times = times;
    const counts = new Int32Array(slots);
    counts.set(this.counts);
    this.counts = counts;
    const touched = new Float64Array(slots);
    touched.set(this.touched);
    this.touched = touched;
    const flags = new Uint8Array(slots);
    flags.set(this.flags);
    this.flags = flags;
  }

  /** Frees a slot that is not (or no longer) in `slots`. */
  private release(slot: number): void {
    this.addresses[slot] = '';
    this.matches[slot] = NO_MATCHES;
    this.flags[slot] = 0;
    this.free.push(slot);
  }

  private noteChanged(slot: number): void {
    const flags = this.flags[slot] as number;
    if ((flags & CHANGED) !== 0) return;
    this.flags[slot] = flags | CHANGED;
    this.changes.push(slot);
  }

  /** Stops tracking `address`; its stored row, if any, is to go. */
  private drop(address: string, slot: number): void {
    this.slots.delete(address);
    if (this.counts[slot] === 0) this.emptied--;
    if (((this.flags[slot] as number) & STORED) !== 0) this.removed.add(address);
    this.release(slot);
  }

  /** As drop, but `address` keeps its slot, with no failures (see emptied); `wasEmpty`: it had none before this one either. */
  private empty(address: string, slot: number, wasEmpty: boolean): void {
    if (((this.flags[slot] as number) & STORED) !== 0) this.removed.add(address);
    this.counts[slot] = 0;
    this.matches[slot] = NO_MATCHES;
    this.flags[slot] = 0;
    if (!wasEmpty) this.emptied++;
  }

  /** The addresses in order of last failure: put in that order once, kept in it while at the cap. */
  private inOrder(): Map<string, number> {
    if (!this.ordered) {
      const { touched } = this;
      this.slots = new Map([...this.slots].sort(([, a], [, b]) => (touched[a] as number) - (touched[b] as number)));
      this.ordered = true;
    }
    return this.slots;
  }

  private evict(): void {
    // Checked before iterating: finding the first key walks past every slot deleted since the Map last compacted.
    if (this.size <= this.limits.maxTracked) {
      if (this.ordered && this.size < this.limits.maxTracked / 2) this.ordered = false;
      return;
    }
    for (const [address, slot] of this.inOrder()) {
      if (this.size <= this.limits.maxTracked) return;
      this.drop(address, slot);
    }
  }
}
