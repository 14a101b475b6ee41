/** An expiry in epoch seconds; null = permanent. */
export type Expiry = number | null;

/** Something held until an expiry: a ban, a firewall entry. */
export interface Expiring {
  readonly expiresAt: Expiry;
}

/** True when `a` holds strictly longer than `b`: permanent (null) outlasts any time, and nothing outlasts permanent. */
export function outlasts(a: Expiry, b: Expiry): boolean {
  return b !== null && (a === null || a > b);
}

/** Of two expiries of one address, the one that holds: the later; permanent (null) always wins. */
export function laterExpiry(a: Expiry, b: Expiry): Expiry {
  return outlasts(b, a) ? b : a;
}

/**
 * One item per key, in the order each key first appears, each holding its first copy's fields
 * and the later expiry of all its copies (the rule of laterExpiry).
 */
export function mergeByKey<T extends Expiring>(items: Iterable<T>, keyOf: (item: T) => string): T[] {
  const merged = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    const seen = merged.get(key);
    if (seen === undefined) merged.set(key, item);
    else if (outlasts(item.expiresAt, seen.expiresAt)) merged.set(key, { ...seen, expiresAt: item.expiresAt });
  }
  return [...merged.values()];
}
