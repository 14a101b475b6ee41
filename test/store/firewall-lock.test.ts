import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { firewallLock, firewallLockFile } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { helperScript } from '../helpers/script.js';

describe('the firewall lock', () => {
  it('waits while another process holds it, and is free as soon as that process is killed (kill -9)', async () => {
    const tmp = tempDir();
    const db = join(tmp.dir, 'bans.sqlite3');
    const holder = spawn(process.execPath, [...helperScript('lock-holder'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [said] = await once(holder.stdout.setEncoding('utf8'), 'data') as [string];
      assert.equal(said, 'held\n');
      let mine = false;
      const taken = firewallLock(db)(async () => {
        mine = true;
      });
      await sleep(500);
      assert.equal(mine, false, 'taken while the other process holds it');
      holder.kill('SIGKILL');
      // Room for a loaded machine: the kernel frees it at the exit, the lock is tried again every few ms.
      await Promise.race([taken, sleep(10_000).then(() => assert.fail('not free 10 s after its holder was killed'))]);
      assert.equal(mine, true);
    } finally {
      holder.kill('SIGKILL');
      tmp.cleanup();
    }
  });

  it('lets one holder of this process in at a time, in the order asked, and goes on after one that failed; its file is 0600', async () => {
    const tmp = tempDir();
    try {
      const db = join(tmp.dir, 'bans.sqlite3');
      const lock = firewallLock(db);
      const events: string[] = [];
      const hold = (name: string, fail = false) => lock(async () => {
        events.push(`${name} in`);
        await sleep(20);
        events.push(`${name} out`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
      const results = await Promise.allSettled([hold('a'), hold('b', true), hold('c')]);
      assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), ['a', 'b failed', 'c']);
      assert.deepEqual(events, ['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
      assert.equal(statSync(firewallLockFile(db)).mode & 0o777, 0o600, 'no other user may open it');
    } finally {
      tmp.cleanup();
    }
  });
});
