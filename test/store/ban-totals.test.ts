import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { BanRequest, JailSourceCount } from '../../src/core/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const T0 = 1_800_000_000;

function request(address: string, jail: string, expiresAt: number | null, source: BanRequest['source'] = 'filter'): BanRequest {
  return { address, jail, expiresAt, source };
}

/** Counts as `jail/source → n`, zeros left out, for comparing. */
const byKey = (counts: readonly JailSourceCount[]): Record<string, number> =>
  Object.fromEntries(counts.filter((c) => c.count !== 0).map((c) => [`${c.jail}/${c.source}`, c.count]));

describe('the store\'s ban totals (for metrics)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: BanStore;
  let other: BanStore;

  beforeEach(() => {
    tmp = tempDir();
    const path = join(tmp.dir, 'bans.sqlite3');
    store = BanStore.open(path);
    // Another process (a CLI call) writing to the same database.
    other = BanStore.open(path);
  });
  afterEach(() => {
    other.close();
    store.close();
    tmp.cleanup();
  });

  it('counts the active bans at the first read, then follows bans, extensions, lifts and expiries made by any process', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 100), T0);
    store.ban(request('203.0.113.2', 'sshd', null), T0);
    store.ban(request('203.0.113.3', 'nginx', T0 + 5), T0);
    store.ban(request('203.0.113.4', 'sshd', T0 - 1), T0 - 10);
    const first = store.banTotals(T0);
    assert.deepEqual(byKey(first.active), { 'sshd/filter': 2, 'nginx/filter': 1 });
    assert.deepEqual([first.banned, first.lifted, first.expired].map(byKey), [{}, {}, {}]);

    other.ban(request('198.51.100.1', 'manual', null, 'manual'), T0 + 1);
    // An extension is no new ban.
    other.ban(request('203.0.113.1', 'sshd', T0 + 500), T0 + 1);
    other.lift('203.0.113.2', undefined, 'unban', T0 + 2);
    store.ban(request('203.0.113.9', 'sshd', T0 + 8), T0 + 3);
    const later = store.banTotals(T0 + 10);
    assert.deepEqual(byKey(later.banned), { 'manual/manual': 1, 'sshd/filter': 1 });
    assert.deepEqual(byKey(later.lifted), { 'sshd/filter': 1 });
    // nginx's ban expired at T0 + 5, and 203.0.113.9 at T0 + 8.
    assert.deepEqual(byKey(later.expired), { 'nginx/filter': 1, 'sshd/filter': 1 });
    assert.deepEqual(byKey(later.active), { 'sshd/filter': 1, 'manual/manual': 1 });
  });

  it('a ban that expired and was banned again before the next read counts as an expiry and a new ban', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 5), T0);
    store.banTotals(T0);
    // The expired row is closed as history when the address is banned again.
    other.ban(request('203.0.113.1', 'sshd', T0 + 100), T0 + 6);
    const totals = store.banTotals(T0 + 7);
    assert.deepEqual(byKey(totals.expired), { 'sshd/filter': 1 });
    assert.deepEqual(byKey(totals.banned), { 'sshd/filter': 1 });
    assert.deepEqual(byKey(totals.active), { 'sshd/filter': 1 });
  });

  it('misses no change the daemon prunes from the change log between two reads', () => {
    store.banTotals(T0);
    other.ban(request('203.0.113.1', 'sshd', null), T0 + 1);
    other.ban(request('203.0.113.2', 'sshd', null), T0 + 1);
    store.advanceChangeReader('daemon', store.latestChange(), T0 + 2);
    assert.equal(store.oldestChange(), undefined, 'every change read by every reader is pruned');
    assert.deepEqual(byKey(store.banTotals(T0 + 3).banned), { 'sshd/filter': 2 });
  });

  it('counts bans made in bulk (an import) and the active count agrees with a fresh count', () => {
    store.banTotals(T0);
    other.banMany(Array.from({ length: 50 }, (_, i) => request(`198.51.100.${i + 1}`, 'recidive', T0 + 20 + i, 'import')), T0 + 1);
    const totals = store.banTotals(T0 + 40);
    assert.deepEqual(byKey(totals.banned), { 'recidive/import': 50 });
    // Expiring at T0 + 20 … T0 + 40.
    assert.deepEqual(byKey(totals.expired), { 'recidive/import': 21 });
    const fresh = BanStore.open(join(tmp.dir, 'bans.sqlite3'));
    try {
      assert.deepEqual(byKey(totals.active), byKey(fresh.banTotals(T0 + 40).active));
    } finally {
      fresh.close();
    }
  });
});
