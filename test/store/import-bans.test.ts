import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isActive } from '../../src/core/index.js';
import type { BanRecord } from '../../src/store/index.js';
import { storePerTest } from '../helpers/store.js';

const T0 = 1_800_000_000;
const HOUR = 3600;

function record(address: string, bannedAt: number, expiresAt: number | null, extra: Partial<BanRecord> = {}): BanRecord {
  return { address, jail: 'sshd', bannedAt, expiresAt, banCount: 1, source: 'fail2ban', ...extra };
}

describe('importing bans with their own times (store)', () => {
  const store = storePerTest();

  it('keeps the original time of ban, expiry, count, failures and matches', () => {
    const report = store().importBans([
      record('203.0.113.7', T0 - HOUR, T0 + HOUR, { banCount: 3, failures: 5, matches: ['auth failure from 203.0.113.7'] }),
      record('2001:db8::7', T0 - 2 * HOUR, null),
    ], T0);
    assert.deepEqual(report, { new: 2, extended: 0, history: 0, kept: 0 });
    const [v6, v4] = [store().history('2001:db8::7')[0], store().history('203.0.113.7')[0]];
    assert.deepEqual(
      [v4?.bannedAt, v4?.expiresAt, v4?.banCount, v4?.failures, v4?.source, v4?.liftedAt],
      [T0 - HOUR, T0 + HOUR, 3, 5, 'fail2ban', null],
    );
    assert.deepEqual([v6?.bannedAt, v6?.expiresAt, v6?.banCount], [T0 - 2 * HOUR, null, 1], 'permanent stays permanent');
  });

  it('imports nothing new the second time: no row, no count added', () => {
    const records = [record('203.0.113.7', T0 - HOUR, T0 + HOUR, { banCount: 2 }), record('203.0.113.8', T0 - 3 * HOUR, T0 - 2 * HOUR)];
    assert.deepEqual(store().importBans(records, T0), { new: 1, extended: 0, history: 1, kept: 0 });
    assert.deepEqual(store().importBans(records, T0 + 60), { new: 0, extended: 0, history: 0, kept: 2 });
    assert.equal([...store().all()].length, 2);
    assert.equal(store().history('203.0.113.7')[0]?.banCount, 2);
  });

  it('an expired ban becomes history, lifted at its expiry', () => {
    store().importBans([record('203.0.113.8', T0 - 3 * HOUR, T0 - 2 * HOUR)], T0);
    const [ban] = store().history('203.0.113.8');
    assert.ok(ban && !isActive(ban, T0), 'not active');
    assert.deepEqual([ban.liftedAt, ban.liftedBy], [T0 - 2 * HOUR, 'expired']);
    assert.equal([...store().active(T0)].length, 0);
  });

  it('joins an open ban of the same address and jail without counting another ban', () => {
    store().ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, source: 'fail2ban' }, T0);
    const report = store().importBans([record('203.0.113.7', T0 - 60, T0 + 2 * HOUR, { banCount: 1 })], T0 + 10);
    assert.deepEqual(report, { new: 0, extended: 1, history: 0, kept: 0 });
    const rows = store().history('203.0.113.7');
    assert.equal(rows.length, 1, 'still one row');
    assert.deepEqual([rows[0]?.bannedAt, rows[0]?.expiresAt, rows[0]?.banCount], [T0, T0 + 2 * HOUR, 1]);
    const shorter = store().importBans([record('203.0.113.7', T0 - 120, T0 + HOUR)], T0 + 20);
    assert.deepEqual(shorter, { new: 0, extended: 0, history: 0, kept: 1 }, 'a shorter ban changes nothing');
  });

  it('takes a ban that ends at most one second later for the same ban (fail2ban rounds its time of ban, f2b-store truncates)', () => {
    store().ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, source: 'fail2ban' }, T0);
    const delegated = store().importBans([record('203.0.113.7', T0 + 1, T0 + 1 + HOUR)], T0 + 5);
    assert.deepEqual(delegated, { new: 0, extended: 0, history: 0, kept: 1 });
    assert.equal(store().history('203.0.113.7')[0]?.expiresAt, T0 + HOUR);
    const longer = store().importBans([record('203.0.113.7', T0 + 2, T0 + 2 + HOUR)], T0 + 5);
    assert.deepEqual(longer, { new: 0, extended: 1, history: 0, kept: 0 }, 'two seconds later is longer');
  });

  it('leaves the history of an address it already knows alone, and later bans still work', () => {
    store().ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, source: 'filter' }, T0);
    const report = store().importBans([record('203.0.113.7', T0 - 5 * HOUR, T0 - 4 * HOUR, { banCount: 4 })], T0 + 1);
    assert.deepEqual(report, { new: 0, extended: 0, history: 0, kept: 1 });
    store().lift('203.0.113.7', 'sshd', 'unban', T0 + 2);
    const again = store().ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, source: 'filter' }, T0 + 3);
    assert.deepEqual([again.change, again.ban.banCount], ['new', 2]);
  });

  it('a new ban after imported history counts on from it, and the open ban is found again', () => {
    store().importBans([
      record('203.0.113.9', T0 - 5 * HOUR, T0 - 4 * HOUR, { banCount: 1 }),
      record('203.0.113.9', T0 - 3 * HOUR, T0 + HOUR, { banCount: 1 }),
      record('203.0.113.9', T0 - 7 * HOUR, T0 - 6 * HOUR, { banCount: 1 }),
    ], T0);
    assert.deepEqual(store().history('203.0.113.9').map((b) => [b.bannedAt, b.banCount, b.liftedAt === null]), [
      [T0 - 7 * HOUR, 1, false],
      [T0 - 5 * HOUR, 2, false],
      [T0 - 3 * HOUR, 3, true],
    ]);
    const extended = store().ban({ address: '203.0.113.9', jail: 'sshd', expiresAt: T0 + 2 * HOUR, source: 'filter' }, T0);
    assert.equal(extended.change, 'extended', 'the imported open ban is the one extended, not duplicated');
  });

  it('imports all or nothing', () => {
    const bad = record('203.0.113.11', T0, T0 + HOUR, { source: 'nonsense' as BanRecord['source'] });
    assert.throws(() => store().importBans([record('203.0.113.10', T0, T0 + HOUR), bad], T0), /CHECK constraint/);
    assert.equal([...store().all()].length, 0);
  });
});
