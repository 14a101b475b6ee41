import type { EnforcedBan } from '../core/index.js';
import type { Backend, Entry, Restore } from '../backends/index.js';
import { streamEnforceableEntries, type BanFloor, type RefusedBan } from './floor.js';

/** A restore under way in one backend; `failed` once it could not take entries (it is aborted then). */
export interface Streaming {
  readonly backend: Backend;
  readonly restore: Restore;
  failed?: { readonly error: unknown };
}

/**
 * Starts a streamed restore in each backend that can take one and holds nothing yet (see
 * Backend.restore). With `all` (all or nothing), only when every backend can: one that holds
 * something may have entries to keep, for which the others must not change either.
 */
export async function startRestores(backends: readonly Backend[], now: number, all: boolean): Promise<Map<Backend, Streaming>> {
  // One that cannot tell (its tool missing, its state unreadable) goes the usual way, which reports why.
  const restores = await Promise.all(backends.map((backend) => backend.restore?.(now).catch(() => undefined)));
  const started = new Map<Backend, Streaming>();
  restores.forEach((restore, i) => {
    const backend = backends[i];
    if (restore && backend) started.set(backend, { backend, restore });
  });
  if (!all || started.size === backends.length) return started;
  await abortRestores(started);
  return new Map();
}

/**
 * Reads the active bans into the started restores as it goes: the entries, as enforceableEntries
 * gives them, each shown to `seen` too. A restore that refuses entries is aborted and left to the
 * usual way; when reading fails, the caller aborts them all (abortRestores), so none commits part
 * of the bans.
 */
export async function feedRestores<B extends EnforcedBan>(
  active: Iterable<B>, floor: BanFloor | undefined, refused: ((refusal: RefusedBan<B>) => void) | undefined,
  streams: ReadonlyMap<Backend, Streaming>, seen: (entry: Entry) => void,
): Promise<void> {
  await streamEnforceableEntries(active, floor, refused, async (chunk) => {
    await Promise.all([...streams.values()].map(async (streaming) => {
      if (streaming.failed) return;
      try {
        await streaming.restore.write(chunk);
      } catch (error) {
        streaming.failed = { error };
        await streaming.restore.abort();
      }
    }));
  }, seen);
}

/** Gives every started restore up, and waits for each to have stopped. */
export async function abortRestores(streams: ReadonlyMap<Backend, Streaming>): Promise<void> {
  await Promise.all([...streams.values()].map(({ restore }) => restore.abort()));
}
