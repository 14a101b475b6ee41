import { InputError, isoTime, type Family } from '../core/index.js';
import { createLine, timeoutOf } from './ipset.js';
import type { Entry } from './types.js';

/** Not `f2b-…`: the ipset backend owns those names and would empty a set of that name on its host. */
export const DEFAULT_EXPORT_SET = 'f2b_export';

// ipset names stop at 31 characters, and the IPv6 set adds `-6`.
const SET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,28}$/;

/** The IPv4 and IPv6 set names of an export named `name`: `name` and `name-6`. */
export function exportSetNames(name: string): Readonly<Record<Family, string>> {
  if (!SET_NAME.test(name)) {
    throw new InputError(`bad set name "${name}": use 1-29 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  if (name.startsWith('f2b-')) throw new InputError(`bad set name "${name}": names starting with f2b- belong to the ipset backend`);
  return { 4: name, 6: `${name}-6` };
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
