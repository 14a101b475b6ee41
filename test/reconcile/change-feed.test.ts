import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BanRequest } from '../../src/core/index.js';
import { CHANGE_BATCH, changeStates, DAEMON, readChanges } from '../../src/reconcile/index.js';
import { storePerTest } from '../helpers/store.js';

const T0 = 1_800_000_000;
const HOUR = 3600;

function request(address: string, jail = 'sshd', expiresAt: number | null = T0 + HOUR, extra: Partial<BanRequest> = {}): BanRequest {
  return { address, jail, expiresAt, source: 'manual', ...extra };
}

describe('following the change log', () => {
  const store = storePerTest();

  it('reads the other processes\' changes after the cursor and moves past the daemon\'s own', () => {
    store().ban(request('203.0.113.7'), T0);
    store().setChangeWriter(DAEMON);
    store().ban(request('203.0.113.8'), T0);
    const feed = readChanges(store(), 0);
    assert.equal(feed.full, false);
    assert.equal(feed.upTo, 2);
    assert.deepEqual(!feed.full && feed.changes.map((c) => c.address), ['203.0.113.7']);
    assert.deepEqual(readChanges(store(), 2), { full: false, upTo: 2, changes: [] });
  });

  it('asks for a full reconcile when changes were pruned unread, when one is of a network, and when there are too many', () => {
    store().ban(request('203.0.113.7'), T0);
    store().ban(request('203.0.113.8'), T0);
    store().advanceChangeReader('other', 1, T0);
    assert.equal(readChanges(store(), 0).full, true, 'change 1 is gone');
    assert.equal(readChanges(store(), 1).full, false);
    store().ban(request('198.51.100.0/24'), T0);
    assert.equal(readChanges(store(), 1).full, true);
    store().advanceChangeReader('other', 3, T0);
    store().banMany(Array.from({ length: CHANGE_BATCH + 1 }, (_, i) => request(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)), T0);
    assert.equal(readChanges(store(), 3).full, true);
  });

  it('turns changes into the bans touching their addresses before and after them', () => {
    store().ban(request('203.0.113.7'), T0);
    store().ban(request('203.0.113.8', 'sshd', T0 + HOUR), T0);
    const cursor = store().latestChange();
    store().ban(request('203.0.113.9'), T0 + 1);
    store().ban(request('203.0.113.8', 'sshd', T0 + 2 * HOUR), T0 + 1);
    store().lift('203.0.113.7', undefined, 'unban', T0 + 1);
    store().lift('203.0.113.9', undefined, 'unban', T0 + 1);
    const feed = readChanges(store(), cursor);
    assert.ok(!feed.full);
    const { before, after } = changeStates(feed.changes, (address) => store().activeTouching(address, T0 + 2));
    const entries = (bans: typeof before): string[] => bans.map((b) => `${b.jail} ${b.address} ${b.expiresAt}`).sort();
    // 203.0.113.9 came and went within the batch: it was in no backend before and is in none after.
    assert.deepEqual(entries(before), [`sshd 203.0.113.7 ${T0 + HOUR}`, `sshd 203.0.113.8 ${T0 + HOUR}`]);
    assert.deepEqual(entries(after), [`sshd 203.0.113.8 ${T0 + 2 * HOUR}`]);
  });
});
