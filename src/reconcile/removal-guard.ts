import type { ReconcileStore } from './store-slice.js';

/** A backend about to lose at least this many entries, … */
export const GUARD_MIN = 10;
/** … more than this share of what it holds, … */
const GUARD_SHARE = 0.5;

/**
 * … to a database that has held fewer bans than that, active and ended (`known`, asked only
 * then): such a database cannot account for what the firewall holds — it is new, empty or not the
 * one meant (a typo in --db) — so those removals wait for an explicit word (`reconcile --yes`).
 * The guard lifts by itself once the database has held as many bans as would go; the entries
 * leave at once when `reconcile --yes` removes them, or stay wanted once `import` brings them in.
 */
export function needsConsent(removed: number, held: number, known: () => number): boolean {
  return removed >= GUARD_MIN && removed > held * GUARD_SHARE && removed > known();
}

/** Every ban the store holds, active and ended: what it can account for (see needsConsent). */
export function knownBans(store: Pick<ReconcileStore, 'jailCounts'>, now: number): number {
  return [...store.jailCounts(now).values()].reduce((sum, counts) => sum + counts.total, 0);
}
