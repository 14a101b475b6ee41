import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { createHostsDenyBackend } from '../../src/backends/index.js';
import { lockoutCheck, nowSeconds, type Ban } from '../../src/core/index.js';
import { banFloor, DAEMON, ReconcileLoop } from '../../src/reconcile/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

test('changes another process tells of while a run is under way are enforced when the run ends, not at the next tick', async () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'bans.sqlite3');
  const file = join(tmp.dir, 'hosts.deny');
  writeFileSync(file, '');
  const daemon = BanStore.open(db);
  daemon.setChangeWriter(DAEMON);
  const other = BanStore.open(db);
  other.setChangeWriter('fleet');
  const now = nowSeconds();
  other.ban({ address: '203.0.113.1', jail: 'sshd', expiresAt: now + 3600, source: 'filter' }, now);
  let told = false;
  /** At each tookIn: whether the change taken in was in the backend already. */
  const tookIn: boolean[] = [];
  const loop = new ReconcileLoop({
    store: daemon, backends: [createHostsDenyBackend({ file, daemons: 'ALL' })],
    // No tick during the test: only the loop's own runs touch the backend.
    schedule: '0 0 0 1 1 *', fullCheck: 3600, clock: nowSeconds, log: () => undefined, floor: () => banFloor(lockoutCheck([])),
    tookIn: () => tookIn.push(readFileSync(file, 'utf8').includes('ALL: 203.0.113.2')),
    active: (at) => {
      const bans: Ban[] = [...daemon.active(at)];
      if (!told) {
        // The start run has read the store: a ban written now is not in it, and is told of while the run goes on.
        told = true;
        other.ban({ address: '203.0.113.2', jail: 'sshd', expiresAt: now + 3600, source: 'filter' }, now);
        queueMicrotask(() => loop.takeInChanges());
      }
      return bans;
    },
  });
  try {
    await loop.start();
    assert.ok(told, 'the start run read the active bans');
    const deadline = Date.now() + 5000;
    while (!readFileSync(file, 'utf8').includes('ALL: 203.0.113.2') && Date.now() < deadline) await delay(20);
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.1\nALL: 203\.0\.113\.2\n/);
    assert.deepEqual(tookIn, [true], 'told once, after the change taken in was applied (a jail counting bans decides then)');
  } finally {
    loop.stop();
    daemon.close();
    other.close();
    tmp.cleanup();
  }
});

test('a ban that expires between a full run and a change taken in is still lifted at once, not at the next full check', async () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'bans.sqlite3');
  const file = join(tmp.dir, 'hosts.deny');
  writeFileSync(file, '');
  const daemon = BanStore.open(db);
  daemon.setChangeWriter(DAEMON);
  const other = BanStore.open(db);
  other.setChangeWriter('fleet');
  const start = nowSeconds();
  let clock = start;
  daemon.ban({ address: '203.0.113.1', jail: 'sshd', expiresAt: start + 60, source: 'filter' }, start);
  const loop = new ReconcileLoop({
    store: daemon, backends: [createHostsDenyBackend({ file, daemons: 'ALL' })],
    schedule: '0 0 0 1 1 *', fullCheck: 3600, clock: () => clock, log: () => undefined, floor: () => banFloor(lockoutCheck([])),
  });
  try {
    await loop.start();
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.1\n/);
    // The clock reaches the expiry; before the expiry timer fires, another process's permanent ban is taken in.
    clock = start + 60;
    other.ban({ address: '203.0.113.2', jail: 'manual', expiresAt: null, source: 'manual' }, clock);
    await loop.takeInChanges();
    const deadline = Date.now() + 5000;
    while (readFileSync(file, 'utf8').includes('203.0.113.1') && Date.now() < deadline) await delay(20);
    assert.equal(readFileSync(file, 'utf8').includes('ALL: 203.0.113.1'), false, 'the expired ban left the backend');
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.2\n/);
  } finally {
    loop.stop();
    daemon.close();
    other.close();
    tmp.cleanup();
  }
});
