import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { banToJson } from '../../src/core/index.js';
import { BanStore, FLEET_PUSHER, type FleetEvent, type StoredChange } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { storePerTest } from '../helpers/store.js';

const T0 = 1_800_000_000;
const HOUR = 3600;
const event = (kind: FleetEvent['kind'], address: string, at: number, extra: Partial<FleetEvent> = {}): FleetEvent =>
  ({ kind, origin: 'mail2', address, jail: 'sshd', expiresAt: T0 + HOUR, at, ...extra });

describe('a fleet\'s bans in the store', () => {
  const store = storePerTest();
  const changes = (): StoredChange[] => store().changesAfter({ after: 0, upTo: store().latestChange(), except: '', limit: 100 });

  it('a pulled ban is stored with source fleet and its origin, logged with the origin, and the cursor moves with it', () => {
    assert.equal(store().fleetCursor('f'), undefined);
    assert.deepEqual(store().applyFleet('f', [event('ban', '203.0.113.7', T0)], 41, T0 + 1), { banned: 1, extended: 0, lifted: 0, kept: 0 });
    const [ban] = [...store().active(T0 + 1)];
    assert.equal(ban?.source, 'fleet');
    assert.equal(ban?.origin, 'mail2');
    assert.equal(ban && banToJson(ban, T0 + 1).origin, 'mail2');
    assert.deepEqual(changes().map((c) => [c.kind, c.address, c.origin]), [['ban', '203.0.113.7', 'mail2']]);
    assert.equal(store().fleetCursor('f'), 41);
  });

  it('this host\'s own bans carry no origin, and their changes none either', () => {
    store().ban({ address: '203.0.113.8', jail: 'sshd', expiresAt: null, source: 'filter' }, T0);
    const [ban] = [...store().active(T0)];
    assert.equal(ban && 'origin' in ban, false);
    assert.equal(ban && 'origin' in banToJson(ban, T0), false);
    assert.deepEqual(changes().map((c) => c.origin), [null]);
  });

  it('a remote lift lifts a fleet ban and this host\'s own once pushed, never one not pushed yet (whatever the clocks), nor one of a jail not shared', () => {
    store().applyFleet('f', [event('ban', '203.0.113.1', T0)], 1, T0);
    store().ban({ address: '203.0.113.2', jail: 'sshd', expiresAt: T0 + HOUR, source: 'filter' }, T0 + 5);
    store().ban({ address: '203.0.113.9', jail: 'postfix', expiresAt: T0 + HOUR, source: 'filter' }, T0 + 5);
    store().markChangeReader(FLEET_PUSHER, store().latestChange(), T0 + 6);
    // Made before the lift by this host's clock, but not pushed yet: it reaches the fleet after the lift.
    store().ban({ address: '203.0.113.3', jail: 'sshd', expiresAt: T0 + HOUR, source: 'filter' }, T0 + 1);
    const report = store().applyFleet('f', [
      event('lift', '203.0.113.1', T0 + 10, { liftsOwn: true }), event('lift', '203.0.113.2', T0 + 10, { liftsOwn: true }),
      event('lift', '203.0.113.3', T0 + 10, { liftsOwn: true }), event('lift', '203.0.113.9', T0 + 10, { jail: 'postfix', liftsOwn: false }),
    ], 4, T0 + 30);
    assert.deepEqual(report, { banned: 0, extended: 0, lifted: 2, kept: 2 });
    assert.deepEqual([...store().active(T0 + 30)].map((b) => b.address).sort(), ['203.0.113.3', '203.0.113.9']);
    assert.deepEqual(store().history('203.0.113.2').map((b) => b.liftedBy), ['fleet:mail2']);
  });

  it('events that change nothing write nothing, so another connection sees no commit', () => {
    const tmp = tempDir();
    const [daemon, fleet] = [BanStore.open(join(tmp.dir, 'b.sqlite3')), BanStore.open(join(tmp.dir, 'b.sqlite3'))];
    try {
      daemon.ban({ address: '203.0.113.6', jail: 'sshd', expiresAt: null, source: 'filter' }, T0);
      const [version, fleetVersion] = [daemon.dataVersion(), fleet.dataVersion()];
      assert.deepEqual(fleet.applyFleet('f', [event('ban', '203.0.113.6', T0), event('lift', '203.0.113.7', T0)], 9, T0 + 1),
        { banned: 0, extended: 0, lifted: 0, kept: 2 });
      assert.equal(daemon.dataVersion(), version);
      assert.equal(fleet.fleetCursor('f'), undefined, 'the cursor is the caller\'s to save');
      daemon.saveFleetCursor('f', 9, T0 + 1);
      assert.notEqual(fleet.dataVersion(), fleetVersion);
      assert.equal(fleet.fleetCursor('f'), 9);
    } finally {
      daemon.close();
      fleet.close();
      tmp.cleanup();
    }
  });

  it('a pulled ban extends this host\'s own ban of the jail; an expired one is kept out', () => {
    store().ban({ address: '203.0.113.4', jail: 'sshd', expiresAt: T0 + 60, source: 'filter' }, T0);
    const report = store().applyFleet('f', [
      event('ban', '203.0.113.4', T0, { expiresAt: T0 + HOUR }), event('ban', '203.0.113.5', T0, { expiresAt: T0 - 1 }),
    ], 2, T0 + 1);
    assert.deepEqual(report, { banned: 0, extended: 1, lifted: 0, kept: 1 });
    const [ban] = [...store().active(T0 + 1)];
    assert.deepEqual([ban?.source, ban?.expiresAt], ['filter', T0 + HOUR]);
  });
});
