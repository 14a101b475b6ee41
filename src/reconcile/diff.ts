import type { Diff, Entry, EntryKey } from '../backends/types.js';

export interface DiffResult {
  readonly diff: Diff;
  readonly unchanged: number;
}

const keyOf = (e: EntryKey): string => `${e.jail}\u0000${e.address}`;

/** What to add and remove so that `actual` becomes `desired`; entries are matched on (jail, address). */
export function diffEntries(desired: readonly Entry[], actual: readonly EntryKey[]): DiffResult {
  if (actual.length === 0) return { diff: { add: desired, remove: [] }, unchanged: 0 };
  const present = new Map(actual.map((e) => [keyOf(e), e]));
  const add: Entry[] = [];
  let unchanged = 0;
  for (const entry of desired) {
    if (present.delete(keyOf(entry))) unchanged++;
    else add.push(entry);
  }
  return { diff: { add, remove: [...present.values()] }, unchanged };
}
