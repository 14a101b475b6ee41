import type { Ban } from '../core/index.js';
import type { ChangeQuery, StoredChange } from '../store/index.js';

/**
 * The part of the ban store reconcile/ reads and writes, no more: the BanStore has it, and so
 * may a view that adds bans the store does not hold yet (the daemon's, see log-jails).
 */
export interface ReconcileStore {
  /** Active bans in any order, streamed. */
  activeAnyOrder(now: number): Iterable<Ban>;
  /** The active bans that block `address`: its own, in every jail, and those of networks covering it. */
  activeTouching(address: string, now: number): readonly Ban[];
  /** activeTouching of each of `addresses`. */
  activeTouchingAll(addresses: readonly string[], now: number): ReadonlyMap<string, readonly Ban[]>;
  activeJails(now: number): readonly string[];
  /** When the next active ban expires, or null when none will. */
  nextExpiry(now: number): number | null;
  /** The bans that ended by expiring in (after, upTo], in the order they ended (the daemon logs each). */
  expiredBetween(after: number, upTo: number): readonly { readonly address: string; readonly jail: string }[];
  /** Per jail: every ban ever recorded (for the removal guard). */
  jailCounts(now: number): ReadonlyMap<string, { readonly total: number }>;
  /** Changes whenever another connection commits. */
  dataVersion(): number;
  latestChange(): number;
  oldestChange(): number | undefined;
  changesAfter(query: ChangeQuery): readonly StoredChange[];
  advanceChangeReader(reader: string, after: number, now: number): void;
}
