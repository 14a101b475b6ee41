import { createRequire as requireFrom } from 'node:module';
import Database from 'better-sqlite3';

/** Where `npm install` builds better-sqlite3's addon (and the Debian package keeps it). */
const ADDON = 'better-sqlite3/build/Release/better_sqlite3.node';

let addon: string | null | undefined;

/**
 * The addon's path, named to better-sqlite3 rather than left to its own search (the `bindings`
 * package, which walks the stack and tries a dozen paths): that search cost about 10 ms of CPU at
 * every command's start. Null where an install keeps the addon elsewhere: then it searches.
 */
function addonPath(): string | null {
  if (addon === undefined) {
    try {
      addon = requireFrom(import.meta.url).resolve(ADDON);
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** A better-sqlite3 connection to `path`: every connection the store opens is made here. */
export function openSqlite(path: string, options: Database.Options = {}): Database.Database {
  const nativeBinding = addonPath();
  return new Database(path, nativeBinding === null ? options : { ...options, nativeBinding });
}
