import { OperationError } from '../core/index.js';

/** An item that did not apply, with the error of the last command it went in. */
export interface BatchFailure<T> {
  readonly item: T;
  readonly error: unknown;
  /** True when that command held this item alone, so the error is its own; false when it failed with others (a fatal error, the budget spent). */
  readonly alone: boolean;
}

/** What `applyInBatches` did: every item is in exactly one of the two lists. */
export interface BatchOutcome<T> {
  readonly applied: T[];
  readonly failed: BatchFailure<T>[];
  /** Commands run, the first one included. */
  readonly runs: number;
}

/** What a look at the real state settled after a failed command, without running anything. */
export interface Triage<T> {
  readonly applied: readonly T[];
  readonly failed: readonly { readonly item: T; readonly error: unknown }[];
  /** The items still to apply (in order). */
  readonly rest: readonly T[];
}

export interface BatchOptions<T> {
  /**
   * Errors no item is to blame for (the binary missing, a timeout, no permission): every item not
   * applied yet fails with it, and nothing more runs.
   */
  readonly fatal?: (error: unknown) => boolean;
  /**
   * Called once when the first command of a chunk fails, before splitting: may settle items from
   * the real state (gone already, their set missing) and hand back the rest. If it throws, every
   * item not applied fails with its error.
   */
  readonly triage?: (items: readonly T[], error: unknown) => Promise<Triage<T>>;
  /** Items go in commands of at most this many from the start (default: all in one). */
  readonly chunk?: number;
  /** At most this many commands in all; what is left then fails, not retried alone (default RETRY_BUDGET). */
  readonly budget?: number;
}

/** Commands one apply may run before giving up on splitting, so a batch where every item fails cannot run one command per item. */
const RETRY_BUDGET = 500;

type Attempt = { readonly ok: true } | { readonly ok: false; readonly error: unknown };

/**
 * The one partial-failure algorithm of every backend: applies `items` with `run` (one command for
 * the batch it is given; it throws when the command fails), the whole batch first. A failed batch
 * is split in halves until each failing item stands alone: with b failing items among n, at most
 * 1 + 2·b·⌈log₂ n⌉ commands. `run` may be atomic (nft -f) or apply a prefix before failing
 * (ipset restore): every item is run again until a command holding it succeeds, so its
 * commands must be safe to repeat.
 */
export async function applyInBatches<T>(items: readonly T[], run: (batch: readonly T[]) => Promise<void>, options: BatchOptions<T> = {}): Promise<BatchOutcome<T>> {
  const budget = options.budget ?? RETRY_BUDGET;
  const applied: T[] = [];
  const failed: BatchFailure<T>[] = [];
  let runs = 0;
  let halted: { readonly error: unknown } | undefined;

  const attempt = async (batch: readonly T[]): Promise<Attempt> => {
    runs++;
    try {
      await run(batch);
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    }
  };

  const failAll = (batch: readonly T[], error: unknown): void => {
    for (const item of batch) failed.push({ item, error, alone: false });
  };

  /** Settles `batch`; `known` is the outcome of running it already, so it is not run again. */
  const settle = async (batch: readonly T[], known?: Attempt): Promise<void> => {
    if (batch.length === 0) return;
    if (halted) return failAll(batch, halted.error);
    if (!known && runs >= budget) {
      halted = { error: new OperationError(`not retried alone: the ${budget} commands one apply may run were spent`) };
      return failAll(batch, halted.error);
    }
    const outcome = known ?? await attempt(batch);
    if (outcome.ok) {
      // One by one, not push(...): a million items would overflow the stack as arguments.
      for (const item of batch) applied.push(item);
      return;
    }
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      failed.push({ item: only, error: outcome.error, alone: true });
      if (options.fatal?.(outcome.error)) halted = outcome;
      return;
    }
    if (options.fatal?.(outcome.error)) {
      halted = outcome;
      return failAll(batch, outcome.error);
    }
    const half = Math.ceil(batch.length / 2);
    await settle(batch.slice(0, half));
    await settle(batch.slice(half));
  };

  const first = async (chunk: readonly T[]): Promise<void> => {
    if (halted || !options.triage) return settle(chunk);
    const outcome = await attempt(chunk);
    if (outcome.ok || options.fatal?.(outcome.error)) return settle(chunk, outcome);
    let triage: Triage<T>;
    try {
      triage = await options.triage(chunk, outcome.error);
    } catch (error) {
      halted = { error };
      return failAll(chunk, error);
    }
    for (const item of triage.applied) applied.push(item);
    for (const { item, error } of triage.failed) failed.push({ item, error, alone: true });
    // Run whole again: the triage may have changed what the items' commands say, not only which remain.
    await settle(triage.rest);
  };

  const size = Math.max(1, options.chunk ?? items.length);
  for (let at = 0; at < items.length; at += size) await first(items.slice(at, at + size));
  return { applied, failed, runs };
}
