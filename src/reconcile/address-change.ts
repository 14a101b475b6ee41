import type { Address } from '../core/index.js';
import type { Backend } from '../backends/index.js';
import { applyChange, reconcile, type BackendReport, type EnforceOptions } from './reconcile.js';
import { knownBans } from './removal-guard.js';
import type { ReconcileStore } from './store-slice.js';

export interface ChangeResult<T> {
  readonly result: T;
  readonly reports: BackendReport[];
}

/**
 * Runs `change` (a store write about `addresses`) and brings every backend along at once. For
 * addresses only what touches them is compared (read before and after in one query each); a
 * network may overlap many entries, so a change to one runs a full reconcile. The store is written
 * first: a firewall failure never loses the ban. A full reconcile here keeps what the database
 * cannot account for, as every reconcile does unless told otherwise (see needsConsent).
 */
export async function changeAddresses<T>(
  store: Pick<ReconcileStore, 'activeAnyOrder' | 'activeTouchingAll' | 'jailCounts'>,
  backends: readonly Backend[],
  addresses: readonly Address[],
  now: number,
  change: () => T,
  options: Omit<EnforceOptions, 'known'> = {},
): Promise<ChangeResult<T>> {
  if (backends.length === 0) return { result: change(), reports: [] };
  const enforce = { ...options, known: () => knownBans(store, now) };
  if (addresses.some((address) => address.isNetwork)) {
    const result = change();
    return { result, reports: await reconcile(store.activeAnyOrder(now), backends, now, enforce) };
  }
  const texts = [...new Set(addresses.map((address) => address.text))];
  const before = [...store.activeTouchingAll(texts, now).values()].flat();
  const result = change();
  const after = [...store.activeTouchingAll(texts, now).values()].flat();
  return { result, reports: await applyChange(before, after, backends, now, enforce, () => store.activeAnyOrder(now)) };
}

