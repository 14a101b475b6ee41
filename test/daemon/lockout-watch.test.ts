import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LOCKOUT_FLOOR, hostAddresses, OperationError, parseAddress, type Address, type Ban } from '../../src/core/index.js';
import { LockoutWatch } from '../../src/daemon/lockout-watch.js';
import { waitFor } from '../helpers/daemon.js';

const ban = (address: string): Ban => ({
  address, jail: 'sshd', bannedAt: 0, expiresAt: null, source: 'filter', reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null, forced: false,
});

describe('the daemon\'s lockout floor follows this host\'s addresses', () => {
  it('reads them at start, again on its timer, and tells a change once; a failed reading keeps the last ones', async () => {
    let addresses: Address[] | Error = [parseAddress('10.99.0.2')];
    const logged: string[] = [];
    let changes = 0;
    const watch = new LockoutWatch({
      floor: DEFAULT_LOCKOUT_FLOOR, every: 0.05, log: (line) => logged.push(line), changed: () => changes++,
      read: async () => {
        if (addresses instanceof Error) throw addresses;
        return addresses;
      },
    });
    const own = hostAddresses().find((a) => !a.text.startsWith('127.') && a.text !== '::1');
    if (own) assert.match(watch.lockout()(own) ?? '', /address of this host/, 'before the first reading: the addresses this process sees');
    try {
      await watch.start();
      assert.match(watch.lockout()(parseAddress('10.99.0.2')) ?? '', /10\.99\.0\.2 is an address of this host/);
      assert.match(watch.banFloor()(ban('10.0.0.0/8')) ?? '', /contains 10\.99\.0\.2/);
      assert.equal(changes, 0, 'the first reading is no change');
      addresses = [parseAddress('10.99.0.3'), parseAddress('10.99.0.3')];
      await waitFor('the new address read', () => changes === 1, 5_000);
      assert.equal(watch.lockout()(parseAddress('10.99.0.2')), undefined);
      assert.match(watch.lockout()(parseAddress('10.99.0.3')) ?? '', /address of this host/);
      assert.deepEqual(logged, ['this host\'s addresses changed, the lockout floor follows: 10.99.0.3']);
      addresses = new OperationError('ip -j addr show: Cannot open network namespace "t1"');
      await waitFor('the failure said', () => logged.length === 2, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(logged.length, 2, 'said once, not at every reading');
      assert.match(logged[1]!, /^reading this host's addresses failed: ip -j addr show: Cannot open network namespace "t1"; the lockout floor uses the last ones known/);
      assert.match(watch.lockout()(parseAddress('10.99.0.3')) ?? '', /address of this host/);
      assert.equal(changes, 1);
    } finally {
      watch.stop();
    }
  });
});
