import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { isLogJail, loadJails, SHIPPED_FILTER_DIR, type EnabledJail } from '../../src/config/index.js';
import type { Log } from '../../src/core/index.js';
import { LogJails } from '../../src/daemon/log-jails.js';
import { StoreWriter } from '../../src/daemon/store-writer.js';
import { banFloor, defaultJailRules } from '../../src/reconcile/index.js';
import { BanStore } from '../../src/store/index.js';

/** LogJails as the daemon makes them, on a store in `dir` and the jails of `jailConf` (written there as jail.conf), with no backend. */
export interface LogJailsFixture {
  readonly store: BanStore;
  readonly jails: LogJails;
  readonly definitions: readonly EnabledJail[];
  close(): Promise<void>;
}

export function openLogJails(dir: string, jailConf: string, now: number, log: Log = () => undefined): LogJailsFixture {
  const store = BanStore.open(join(dir, 'bans.sqlite3'));
  const writer = new StoreWriter({ store, log: () => undefined, now: () => now });
  writeFileSync(join(dir, 'jail.conf'), jailConf);
  const definitions = loadJails(dir, BACKEND_CATALOG, { filterDirs: [SHIPPED_FILTER_DIR] })
    .filter((jail): jail is EnabledJail => jail.enabled && isLogJail(jail));
  const jails = new LogJails({
    store, writer, backends: [], rules: defaultJailRules, lockout: () => () => undefined, floor: () => banFloor(() => undefined),
    now: () => now, log, logLines: () => undefined, banLog: () => undefined,
  }, definitions);
  return {
    store, jails, definitions,
    async close() {
      await jails.close();
      writer.close();
      store.close();
    },
  };
}
