import type { Exclusive } from '../core/index.js';
import type { Backend, Restore } from './types.js';

/**
 * The backend with every method that changes the firewall run under `exclusive`: ensure reads the
 * objects and then creates or replaces what it found missing or outdated, which is only right
 * while no other process does the same; apply and flush change what the others read. A restore
 * holds it from its start, which finds nothing of ours, to its end.
 */
export function serialised(backend: Backend, exclusive: Exclusive): Backend {
  const { restore } = backend;
  return {
    name: backend.name,
    ensure: (jails, now) => exclusive(() => backend.ensure(jails, now)),
    represent: (desired) => backend.represent(desired),
    list: () => backend.list(),
    plan: (diff, jails, now) => backend.plan(diff, jails, now),
    apply: (diff, jails, now) => exclusive(() => backend.apply(diff, jails, now)),
    flush: () => exclusive(() => backend.flush()),
    ...(restore ? { restore: (now: number) => heldRestore(exclusive, () => restore.call(backend, now)) } : {}),
    ...(backend.census ? { census: backend.census } : {}),
    ...(backend.replaced ? { replaced: () => backend.replaced?.() } : {}),
  };
}

/** A restore started under `exclusive`, held until it ends or is aborted. */
function heldRestore(exclusive: Exclusive, start: () => Promise<Restore | undefined>): Promise<Restore | undefined> {
  return new Promise((resolve, reject) => {
    exclusive(async () => {
      const restore = await start();
      if (!restore) return resolve(undefined);
      let release!: () => void;
      const released = new Promise<void>((done) => { release = done; });
      resolve({
        write: (entries) => restore.write(entries),
        end: (jails) => restore.end(jails).finally(release),
        abort: () => restore.abort().finally(release),
      });
      await released;
    }).catch(reject);
  });
}
