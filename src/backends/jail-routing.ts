import type { Backend, Census, Entry, EntryKey, JailRule, Restore } from './types.js';

/**
 * A backend that holds the bans of some jails only (a jail's `banaction` chose another
 * firewall): what it is asked to hold, and what of its state is compared, are that jail set's.
 * Entries of other jails it may hold are neither counted nor removed. Entries without a jail of
 * their own (hosts.deny's) are always its.
 */
export function forJails(backend: Backend, holds: (jail: string) => boolean): Backend {
  const mine = (entry: EntryKey): boolean => entry.jail === '*' || holds(entry.jail);
  const rules = (jails: readonly JailRule[]): JailRule[] => jails.filter((jail) => holds(jail.name));
  return {
    name: backend.name,
    ensure: (jails, now) => backend.ensure(rules(jails), now),
    represent: (desired: readonly Entry[]) => backend.represent(desired.filter(mine)),
    list: async () => (await backend.list()).filter(mine),
    plan: (diff, jails, now) => backend.plan({ add: diff.add.filter(mine), remove: diff.remove.filter(mine) }, rules(jails), now),
    apply: (diff, jails, now) => backend.apply({ add: diff.add.filter(mine), remove: diff.remove.filter(mine) }, rules(jails), now),
    flush: () => backend.flush(),
    ...(backend.restore ? { restore: (now: number) => routedRestore(backend, now, mine, rules) } : {}),
    // Counted whole: an object of a jail held elsewhere shows as a difference that a reconcile
    // cannot change, which the drift check then takes as it is. The structural check looks, as
    // ensure does, at the objects of its own jails only.
    ...(backend.census ? { census: routedCensus(backend.census, rules) } : {}),
    ...(backend.replaced ? { replaced: () => backend.replaced?.() } : {}),
  };
}

async function routedRestore(
  backend: Backend, now: number, mine: (entry: EntryKey) => boolean, rules: (jails: readonly JailRule[]) => JailRule[],
): Promise<Restore | undefined> {
  const restore = await backend.restore?.(now);
  return restore && {
    write: (entries) => restore.write(entries.filter(mine)),
    end: (jails) => restore.end(rules(jails)),
    abort: () => restore.abort(),
  };
}

function routedCensus(census: Census, rules: (jails: readonly JailRule[]) => JailRule[]): Census {
  const { intact } = census;
  if (!intact) return census;
  return { ...census, intact: (jails) => intact.call(census, rules(jails)) };
}

/**
 * The backends for a set of jails: the configured ones hold every jail that names no native
 * backend of its own (and every ban not from a jail: manual, import…); a jail whose actions map
 * to native backends is held by exactly those.
 */
export function routeJails(configured: readonly string[], jails: readonly { name: string; backends: readonly string[] }[]): Map<string, (jail: string) => boolean> {
  const own = new Map(jails.filter((jail) => jail.backends.length > 0).map((jail) => [jail.name, jail.backends]));
  const names = new Set([...configured, ...[...own.values()].flat()]);
  names.delete('none');
  return new Map([...names].map((name) => [name, (jail: string) => {
    const chosen = own.get(jail);
    return chosen === undefined ? configured.includes(name) : chosen.includes(name);
  }]));
}
