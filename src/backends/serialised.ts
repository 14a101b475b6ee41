import type { Exclusive } from '../core/index.js';
import type { Backend } from './types.js';

/**
 * The backend with every method that changes the firewall run under `exclusive`: ensure reads the
 * objects and then creates or replaces what it found missing or outdated, which is only right
 * while no other process does the same; apply and flush change what the others read.
 */
export function serialised(backend: Backend, exclusive: Exclusive): Backend {
  return {
    name: backend.name,
    ensure: (jails, now) => exclusive(() => backend.ensure(jails, now)),
    represent: (desired) => backend.represent(desired),
    list: () => backend.list(),
    plan: (diff, jails, now) => backend.plan(diff, jails, now),
    apply: (diff, jails, now) => exclusive(() => backend.apply(diff, jails, now)),
    flush: () => exclusive(() => backend.flush()),
    ...(backend.census ? { census: backend.census } : {}),
    ...(backend.replaced ? { replaced: () => backend.replaced?.() } : {}),
  };
}
