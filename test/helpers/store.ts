import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
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
