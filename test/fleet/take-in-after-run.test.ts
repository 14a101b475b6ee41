import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHostsDenyBackend, type Backend } from '../../src/backends/index.js';
import { nowSeconds } from '../../src/core/index.js';
import { ReconcileLoop } from '../../src/reconcile/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

/** How long the slow reconcile under way reads the backend back. */
const SLOW_LIST_MS = 1500;

describe('changes a fleet pulls while a reconcile runs', () => {
  let tmp: ReturnType<typeof tempDir>;
  const stores: BanStore[] = [];
  before(() => { tmp = tempDir(); });
  after(() => {
    for (const store of stores) store.close();
    tmp.cleanup();
  });

  it('are applied right after that reconcile, not at the next tick', async () => {
    const path = join(tmp.dir, 'store.sqlite3');
    const daemon = BanStore.open(path);
    const inbox = BanStore.open(path);
    stores.push(daemon, inbox);
    inbox.setChangeWriter('fleet');
    const file = join(tmp.dir, 'hosts.deny');
    writeFileSync(file, '');
    const real = createHostsDenyBackend({ file, daemons: 'ALL' });
    let slow = false;
    // The real backend, whose read-back takes SLOW_LIST_MS while `slow`: a full reconcile under way.
    const backend: Backend = Object.assign(Object.create(real) as Backend, {
      list: async () => {
        if (slow) await new Promise((resolve) => setTimeout(resolve, SLOW_LIST_MS));
        return real.list();
      },
    });
    const lines: string[] = [];
    const loop = new ReconcileLoop({
      store: daemon, backends: [backend], schedule: '0 0 0 1 1 *', fullCheck: 3600, floor: () => () => undefined,
      clock: nowSeconds, log: (line) => lines.push(line),
    });
    await loop.start();
    try {
      slow = true;
      const running = loop.run('a slow reconcile');
      await new Promise((resolve) => setTimeout(resolve, 200));
      slow = false;
      inbox.applyFleet('f', [{ kind: 'ban', origin: 'a', address: '203.0.113.90', jail: 'sshd', expiresAt: nowSeconds() + 600, at: nowSeconds() }],
        1, nowSeconds());
      loop.takeInChanges();
      await running;
      const ended = performance.now();
      while (!readFileSync(file, 'utf8').includes('203.0.113.90')) {
        assert.ok(performance.now() - ended < 5000, `the pulled ban is not in hosts.deny 5 s after the run ended; log: ${lines.join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      console.log(`# the pulled ban was in hosts.deny ${Math.round(performance.now() - ended)} ms after the reconcile under way ended`);
      assert.match(lines.join('\n'), /took in 1 change made by another process .*ban 203\.0\.113\.90 in sshd/);
    } finally {
      loop.stop();
    }
  });
});
