import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { loadJails, type BansJail } from '../../src/config/index.js';
import { BansJails } from '../../src/daemon/bans-jails.js';
import { StoreWriter } from '../../src/daemon/store-writer.js';
import type { BanDecision } from '../../src/engine/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const DAY = 86_400;
const ADDRESS = '203.0.113.7';

/** The `source = bans` jails of a jail.conf written from `text`. */
function bansJails(dir: string, text: string): BansJail[] {
  writeFileSync(join(dir, 'jail.conf'), text);
  return loadJails(dir, BACKEND_CATALOG).filter((jail): jail is BansJail => jail.enabled && jail.source === 'bans');
}

const RECIDIVE = '[recidive-store]\nenabled = true\nsource = bans\nfindtime = 1d\nbantime = 1w\nmaxretry = 3\n';

describe('jails with source = bans count the bans recorded in the store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let store: BanStore;
  let writer: StoreWriter;
  let now: number;
  let decided: BanDecision[];

  /** BansJails over the current store; decisions are recorded as the daemon records them, and counted again as a daemon's write is. */
  function start(text = RECIDIVE): BansJails {
    const jails: BansJails = new BansJails({
      store, writer, now: () => now, log: () => undefined, lockout: () => () => undefined,
      ban: (decisions) => {
        decided.push(...decisions);
        writer.commit({ bans: decisions, counters: [], positions: [] });
        // As the daemon's writer tells of a write: not awaited, the check under way is this one's caller.
        void jails.check();
        return Promise.resolve();
      },
    }, bansJails(tmp.dir, text));
    return jails;
  }

  /** A ban of `address` in `jail`, lifted at once (each one is a ban of its own), `ago` seconds before now. */
  function banned(jail: string, ago = 0, address = ADDRESS): void {
    store.ban({ address, jail, expiresAt: now - ago + 600, source: 'manual' }, now - ago);
    store.lift(address, jail, 'cli', now - ago);
  }

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'bans.sqlite3');
    store = BanStore.open(path);
    writer = new StoreWriter({ store, log: () => undefined, now: () => now });
    now = 1_800_000_000;
    decided = [];
  });
  afterEach(() => {
    writer.close();
    store.close();
    tmp.cleanup();
  });

  it('bans for its own bantime at maxretry bans within findtime, after a restart that lost the log positions', async () => {
    banned('sshd', 2 * 3600);
    banned('postfix', 3600);
    store.commitLogBatch({ bans: [], counters: [], positions: [{ path: '/var/log/auth.log', device: 1, inode: 2, offset: 4096, headHash: 'h' }] }, now);
    // A restart, and the position of the log gone (purged, or the log rotated away): only the store remembers.
    writer.close();
    store.close();
    const raw = new Database(path);
    raw.exec('DELETE FROM log_positions');
    raw.close();
    store = BanStore.open(path);
    writer = new StoreWriter({ store, log: () => undefined, now: () => now });
    assert.equal(store.logPosition('/var/log/auth.log'), undefined);

    const jails = start();
    await jails.check();
    assert.equal(decided.length, 0, 'two bans are below maxretry, and the earlier ones decide nothing by themselves');
    banned('sshd');
    await jails.check();
    assert.equal(decided.length, 1);
    assert.deepEqual([decided[0]?.address, decided[0]?.jail, decided[0]?.expiresAt, decided[0]?.failures], [ADDRESS, 'recidive-store', now + 7 * DAY, 3]);
    assert.equal(decided[0]?.reason, '3 bans in 1d (other jails)');
    assert.ok(store.history(ADDRESS).some((ban) => ban.jail === 'recidive-store' && ban.liftedAt === null), 'recorded in the store');
  });

  it('does not count its own bans, nor bans older than findtime, and bans once while its ban is in force', async () => {
    const jails = start();
    banned('sshd', DAY + 60);
    banned('recidive-store', 60);
    banned('recidive-store', 30);
    banned('sshd', 10);
    await jails.check();
    assert.equal(decided.length, 0, 'one ban within findtime that counts');
    banned('sshd', 5);
    banned('postfix');
    await jails.check();
    assert.deepEqual(decided.map((d) => d.jail), ['recidive-store']);
    banned('sshd');
    await jails.check();
    assert.equal(decided.length, 1, 'already banned in recidive-store');
  });

  it('counts only the jails of bans.jails when they are listed', async () => {
    const jails = start(`${RECIDIVE}bans.jails = sshd, dovecot\n`);
    banned('postfix', 30);
    banned('postfix', 20);
    banned('sshd', 10);
    banned('manual', 5);
    await jails.check();
    assert.equal(decided.length, 0, 'postfix and manual are not listed');
    banned('dovecot');
    await jails.check();
    assert.equal(decided.length, 0);
    banned('sshd');
    await jails.check();
    assert.equal(decided[0]?.reason, '3 bans in 1d (sshd, dovecot)');
  });

  it('without bans.jails, leaves out every jail counting bans: one never feeds another', async () => {
    const jails = start(`${RECIDIVE}\n[recidive-long]\nenabled = true\nsource = bans\nfindtime = 30d\nbantime = 1y\nmaxretry = 2\n`);
    banned('sshd', 20);
    await jails.check();
    banned('recidive-store', 10);
    banned('recidive-store', 5);
    await jails.check();
    assert.equal(decided.length, 0, 'recidive-long does not count the bans of recidive-store');
    banned('sshd');
    await jails.check();
    assert.deepEqual(decided.map((d) => d.jail), ['recidive-long']);
  });

  it('counts each address alone, and a ban lengthened while in force once', async () => {
    const jails = start();
    banned('sshd', 20, '198.51.100.1');
    banned('sshd', 10, '198.51.100.2');
    store.ban({ address: ADDRESS, jail: 'sshd', expiresAt: now + 600, source: 'manual' }, now);
    store.ban({ address: ADDRESS, jail: 'sshd', expiresAt: now + 1200, source: 'manual' }, now);
    store.ban({ address: ADDRESS, jail: 'sshd', expiresAt: now + 1800, source: 'manual' }, now);
    await jails.check();
    assert.equal(decided.length, 0);
  });

  it('tells status its addresses with bans counted in findtime and not banned in it yet, and the bans counted since start', async () => {
    banned('sshd', 30, '198.51.100.1');
    const jails = start();
    assert.deepEqual(jails.status().map(({ currentlyFailed, totalFailed }) => ({ currentlyFailed, totalFailed })),
      [{ currentlyFailed: 1, totalFailed: 0 }], 'a ban before the start is counted, not new');
    banned('sshd', DAY + 60, '198.51.100.2');
    banned('recidive-store', 20, '198.51.100.3');
    banned('sshd', 10);
    banned('postfix', 5);
    await jails.check();
    assert.deepEqual(jails.status().map(({ name, currentlyFailed, totalFailed }) => ({ name, currentlyFailed, totalFailed })),
      [{ name: 'recidive-store', currentlyFailed: 2, totalFailed: 3 }], 'its own ban and one older than findtime are no failure');
    banned('sshd');
    await jails.check();
    assert.equal(decided.length, 1);
    assert.equal(jails.status()[0]?.currentlyFailed, 1, 'banned in recidive-store now: only 198.51.100.1 is left');
    assert.equal(jails.status()[0]?.totalFailed, 4);
  });

  it('refuses bans.jails naming the jail itself', () => {
    assert.throws(() => bansJails(tmp.dir, `${RECIDIVE}bans.jails = sshd recidive-store\n`),
      /\[recidive-store\] bans.jails: names the jail itself/);
  });
});
