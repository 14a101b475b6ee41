import type { Family } from '../core/index.js';

/** What a backend needs to know about a jail (from its configuration). */
export interface JailRule {
  readonly name: string;
  /** Ports to limit the ban to, as fail2ban writes them (`ssh`, `22,2222`, `8000:8100`); undefined = all ports. */
  readonly port?: string;
  /** `tcp`, `udp`, `sctp`…; only meaningful with `port`. Default `tcp`. */
  readonly protocol?: string;
  readonly blocktype: 'reject' | 'drop';
}

/** One address (or network) held for one jail. `address` is canonical (core/address). */
export interface EntryKey {
  readonly jail: string;
  readonly address: string;
  readonly family: Family;
}

/** An entry to hold, with its expiry: epoch seconds, null = permanent (for kernel timeouts as a safety net). */
export interface Entry extends EntryKey {
  readonly expiresAt: number | null;
}

/** What a backend must change: entries to add and entries to remove. */
export interface Diff {
  readonly add: readonly Entry[];
  readonly remove: readonly EntryKey[];
}

/** One firewall command as data: an argument vector and optional stdin. Never a shell string. */
export interface Command {
  readonly argv: readonly string[];
  readonly stdin?: string;
  /** How long it may run, where that grows with the entries (a full read-back, a large batch): longer than the executor's default. */
  readonly timeoutMs?: number;
}

/** What `apply` did: how many entries went in and out, and the ones that failed after retrying one by one. */
export interface ApplyReport {
  readonly added: number;
  readonly removed: number;
  readonly failed: readonly { readonly entry: EntryKey; readonly error: string }[];
}

/**
 * A cheap look at how many entries each object of a backend holds (a set, a chain, a file block),
 * for the drift check between full read-backs: counts, not the entries themselves.
 */
export interface Census {
  /** The object that holds `entry` (one of `represent()`'s), named as `count()` names it. Pure. */
  objectOf(entry: EntryKey): string;
  /**
   * How many entries each of its objects holds now, read from the system; an object that does not
   * exist is absent. Right after the drift tick's structural check (intact() or an ensure that
   * changed nothing), in the same turn of the event loop, it may count from what that check read.
   */
  count(): Promise<ReadonlyMap<string, number>>;
  /**
   * Where counting is costly: follows the firewall's own event stream and calls `onRemoved` when
   * anyone removes an entry from one of its objects (so a count runs then, not on a timer), with
   * the entries removed when the stream names them, and `onLost` if the stream ends by itself.
   * Returns the function that stops following.
   */
  watch?(onRemoved: (removed?: readonly EntryKey[]) => void, onLost: (why: string) => void): () => void;
  /**
   * Where reading every entry back is costly: a quick check, without listing, that the objects
   * hold these entries (represent()'s output for the active bans): why not, or undefined. It may
   * sample, so it proves presence only probably, and never that nothing else is there: a full
   * read-back now and then still has to run (see ReconcileOptions.thorough).
   */
  probe?(entries: readonly Entry[]): Promise<string | undefined>;
  /**
   * Where ensure() costs more than one read: the drift tick's structural check, why the objects
   * of these jails may not be as ensure() leaves them, or undefined; the tick runs ensure() only
   * when it finds something. It changes nothing, and may miss what only a full look finds (the
   * backend says what): ensure() at every full check still does.
   */
  intact?(jails: readonly JailRule[]): Promise<string | undefined>;
}

/** A jail `ensure` left out: an object of its name is someone else's, so nothing of the jail's was made, read or changed. */
export interface SkippedJail {
  readonly jail: string;
  /** Names the jail and the object, and says what to do. */
  readonly error: string;
}

/** What `ensure` did. */
export interface Ensured {
  /** The commands it ran (empty when nothing was missing). */
  readonly ran: readonly Command[];
  /** Jails it could not make objects for; the others were ensured. Their entries must not be given to `apply`. */
  readonly skipped: readonly SkippedJail[];
  /** What is worth telling the operator once: objects of earlier f2b-store versions taken over, or left alone. */
  readonly notes: readonly string[];
}

/** What `ensure` did when it had nothing to tell but these commands. */
export function ensured(ran: readonly Command[]): Ensured {
  return { ran, skipped: [], notes: [] };
}

/**
 * A restore streamed into a backend that holds nothing of its own yet (after a reboot): the
 * entries reach the firewall's own tool while the store is still being read (see Backend.restore).
 */
export interface Restore {
  /** Takes the next entries, as the active bans are read; resolves when it may be given more. */
  write(entries: readonly Entry[]): Promise<void>;
  /**
   * Makes what these jails need beside their entries (rules; objects of jails without one) and
   * waits for the firewall: what it did. Rejects when the firewall refused: then the reconciler
   * goes the usual way (ensure, read back, apply, retry one by one) from whatever is there.
   */
  end(jails: readonly JailRule[]): Promise<ApplyReport>;
  /**
   * Gives up before end(), e.g. when the store could not be read; resolves once the firewall's
   * tool has stopped, with nothing of the restore left where the tool allows it.
   */
  abort(): Promise<void>;
}

/**
 * A firewall (or file) that f2b-store keeps equal to the store. Each backend owns only its own
 * named objects and never reads or changes anything else.
 */
export interface Backend {
  readonly name: string;
  /**
   * Makes sure its own objects exist for these jails (tables, chains, sets, jump rules, for IPv4
   * and IPv6), creating only what is missing: when all exist it changes nothing. A jail whose
   * object name is taken by something not ours is skipped (and said so); the others go on.
   */
  ensure(jails: readonly JailRule[], now: number): Promise<Ensured>;
  /**
   * What this backend actually holds for these desired entries: the reconciler diffs `list()`
   * against this. E.g. an interval set cannot hold an address inside a prefix it holds, and
   * hosts.deny has no jails. Pure.
   */
  represent(desired: readonly Entry[]): Entry[];
  /** Every entry really present in every object it owns, read back from the system (never a cache). */
  list(): Promise<EntryKey[]>;
  /** The commands that would apply `diff`, as data (for --dry-run and unit tests). Pure. */
  plan(diff: Diff, jails: readonly JailRule[], now: number): readonly Command[];
  /**
   * Applies `diff` in one batch; when the batch fails, retries entry by entry and reports which
   * failed. Idempotent: adding a present entry or removing an absent one is not a failure.
   */
  apply(diff: Diff, jails: readonly JailRule[], now: number): Promise<ApplyReport>;
  /**
   * Where the firewall's tool can take a batch as it is made: when none of its objects exist (a
   * restore after a reboot), a started Restore; undefined when some do, and the reconciler
   * surveys and applies as usual.
   */
  restore?(now: number): Promise<Restore | undefined>;
  /** Removes every object it owns (for `stop --flush` and tests). */
  flush(): Promise<void>;
  /** Entry counts for the drift check; absent for a backend that cannot count (action.d commands). */
  readonly census?: Census;
  /**
   * A file backend's check that the file it writes is still the one everyone else sees at its
   * path: why not, or undefined. A file bind-mounted on its own (systemd's ReadWritePaths= of one
   * file) keeps this process on the old, unlinked file when something on the host replaces it by
   * a rename, and only a new mount reaches the new one: the daemon then stops with a failure, for
   * its service manager to restart it.
   */
  replaced?(): string | undefined;
}
