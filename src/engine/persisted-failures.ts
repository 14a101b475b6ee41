import type { AddressFailures } from './failure-window.js';

/** The stored form of one address's failures: JSON `{"t":[times],"m":[matched lines]}`. */
export function encodeFailures(failures: AddressFailures): string {
  return JSON.stringify({ t: failures.times, m: failures.matches });
}

/** Reads the stored form back; undefined when it is not one (a damaged or foreign row). */
export function decodeFailures(state: string): AddressFailures | undefined {
  let value: unknown;
  try {
    value = JSON.parse(state);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { t, m } = value as { t?: unknown; m?: unknown };
  if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  if (!Array.isArray(m) || !m.every((x) => typeof x === 'string')) return undefined;
  return { times: t as number[], matches: m as string[] };
}
