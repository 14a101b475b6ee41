import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import { banToJson, nowSeconds, type Ban } from '../../src/core/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from './cli.js';

/** A fresh store in a temporary directory for each test of the suite it is called in; the returned function gives the current one. */
export function storePerTest(): () => BanStore {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let store: BanStore | undefined;
  beforeEach(() => {
    tmp = tempDir();
    store = BanStore.open(join(tmp.dir, 'bans.sqlite3'));
  });
  afterEach(() => {
    store?.close();
    tmp?.cleanup();
  });
  return () => {
    if (store === undefined) throw new Error('storePerTest: the store exists only inside a test');
    return store;
  };
}

/**
 * The bans `read` takes from the store at `db`, read in this process and given as the CLI's
 * `--json` gives them (none while there is no database). Tests that poll the store use it: a CLI
 * process per look costs tenths of a second of CPU; what the CLI prints is tested through the CLI.
 */
export function storeBansJson<T>(db: string, read: (store: BanStore, now: number) => Iterable<Ban>): T[] {
  if (!existsSync(db)) return [];
  const store = BanStore.open(db, { create: false });
  try {
    const now = nowSeconds();
    return [...read(store, now)].map((ban) => banToJson(ban, now) as T);
  } finally {
    store.close();
  }
}
