import { tryParseAddress, type Ban } from '../core/index.js';
import type { StoredChange } from '../store/index.js';
import type { ReconcileStore } from './store-slice.js';

/** The daemon's name in the change log: the writer of its own changes, and the reader of everyone else's. */
export const DAEMON = 'daemon';

/** More changes than this waiting at once are taken in by a full reconcile, cheaper then than one by one. */
export const CHANGE_BATCH = 10_000;

/** What other processes changed since the cursor, up to `upTo`; `full` when only a full reconcile can take it in. */
export type ChangeFeed =
  | { readonly full: false; readonly upTo: number; readonly changes: readonly StoredChange[] }
  | { readonly full: true; readonly upTo: number; readonly why: string };

/**
 * Reads the changes other processes made after `cursor` (the daemon's own were applied when it
 * made them). A full reconcile takes them in instead when some were pruned before being read,
 * when there are very many, or when one is of a network (it may overlap many entries, as in
 * changeAddresses).
 */
export function readChanges(store: Pick<ReconcileStore, 'latestChange' | 'oldestChange' | 'changesAfter'>, cursor: number): ChangeFeed {
  const upTo = store.latestChange();
  if (upTo <= cursor) return { full: false, upTo: cursor, changes: [] };
  const oldest = store.oldestChange();
  if (oldest === undefined || oldest > cursor + 1) return { full: true, upTo, why: 'changes were pruned before the daemon read them' };
  const changes = store.changesAfter({ after: cursor, upTo, except: DAEMON, limit: CHANGE_BATCH + 1 });
  if (changes.length > CHANGE_BATCH) return { full: true, upTo, why: `more than ${CHANGE_BATCH} changes` };
  if (changes.some((change) => tryParseAddress(change.address)?.isNetwork !== false)) return { full: true, upTo, why: 'a network changed' };
  return { full: false, upTo, changes };
}

const keyOf = (ban: { readonly jail: string; readonly address: string }): string => `${ban.jail}\u0000${ban.address}`;

/** The ban a change left behind it (its state before, for 'extend' and 'lift'). */
function banBefore(change: StoredChange): Ban {
  const extended = change.kind === 'extend';
  return {
    address: change.address, jail: change.jail, bannedAt: change.at,
    expiresAt: extended ? change.previousExpiresAt : change.expiresAt, source: change.source, reason: null, failures: 0, banCount: 1,
    liftedAt: null, liftedBy: null,
    // An extension that kept the expiry is what `--force` on a ban already there does.
    forced: extended && change.previousExpiresAt === change.expiresAt ? false : change.forced,
  };
}

/**
 * The active bans touching the changed addresses before and after `changes` (applyChange's
 * `before` and `after`): after is what `touching` reads now; before is the same with each changed
 * (address, jail) as it was before the first of its changes.
 */
export function changeStates(changes: readonly StoredChange[], touching: (address: string) => readonly Ban[]): { before: Ban[]; after: Ban[] } {
  const first = new Map<string, StoredChange>();
  for (const change of changes) if (!first.has(keyOf(change))) first.set(keyOf(change), change);
  const after = new Map<string, Ban>();
  for (const address of new Set(changes.map((change) => change.address))) {
    for (const ban of touching(address)) after.set(keyOf(ban), ban);
  }
  const before = [...after.values()].filter((ban) => !first.has(keyOf(ban)));
  for (const change of first.values()) if (change.kind !== 'ban') before.push(banBefore(change));
  return { before, after: [...after.values()] };
}

/** What a batch of changes was, for the daemon's log: the first few by name, the rest counted. */
export function describeChanges(changes: readonly StoredChange[], shown = 5): string {
  const named = changes.slice(0, shown).map((change) => `${change.kind} ${change.address} in ${change.jail}`);
  const more = changes.length > shown ? `, and ${changes.length - shown} more` : '';
  return `${named.join(', ')}${more}`;
}
