import { InputError, isoTime, type Family } from '../core/index.js';
import { createLine, timeoutOf } from './ipset-plan.js';
import { parseIpsetName } from './object-names.js';
import type { Entry } from './types.js';

/**
 * Neither the ipset backend's (`f2bs4-…`) nor fail2ban's (`f2b-…`): loading the file empties the
 * sets it names, and it must not empty theirs on the host it is loaded on.
 */
export const DEFAULT_EXPORT_SET = 'f2b_export';

// ipset names stop at 31 characters, and the IPv6 set adds `-6`.
const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,28}$/;

/** The IPv4 and IPv6 set names of an export named `name`: `name` and `name-6`. */
export function exportSetNames(name: string): Readonly<Record<Family, string>> {
  if (!SET_NAME.test(name)) {
    throw new InputError(`bad set name "${name}": use 1-29 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  const names = { 4: name, 6: `${name}-6` } as const;
  if (name.startsWith('f2b-')) throw new InputError(`bad set name "${name}": names starting with f2b- are fail2ban's (and were earlier f2b-store's)`);
  if (parseIpsetName(names[4]) || parseIpsetName(names[6])) throw new InputError(`bad set name "${name}": ${parseIpsetName(names[4]) ? name : names[6]} is a set of the ipset backend`);
  return names;
}

/**
 * The lines of a file `ipset restore` loads: one `hash:net` set per family (both always, sized for
 * `counts`), then one `add` per entry with its remaining time (capped at the kernel's limit;
 * permanent = `timeout 0`). `-exist` and `flush` let the file be loaded again over sets it made.
 * Entries must be one per address; they stream through.
 */
export function* ipsetExportLines(
  names: Readonly<Record<Family, string>>, counts: Readonly<Record<Family, number>>, entries: Iterable<Entry>, now: number,
): Generator<string> {
  yield `# f2b-store export at ${isoTime(now)}: ${counts[4] + counts[6]} addresses, timeouts counted from then\n`;
  for (const family of [4, 6] as const) yield `${createLine(names[family], family, counts[family])} -exist\nflush ${names[family]}\n`;
  for (const entry of entries) {
    const timeout = timeoutOf(entry.expiresAt, now);
    if (timeout !== undefined) yield `add ${names[entry.family]} ${entry.address} timeout ${timeout}\n`;
  }
}
