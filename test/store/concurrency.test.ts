import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BanStore } from '../../src/store/index.js';
import { runCliAsync, tempDir } from '../helpers/cli.js';
import { helperScript } from '../helpers/script.js';

function runWorker(db: string, worker: number, count: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...helperScript('store-worker'), db, String(worker), String(count)]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('several processes on one database', () => {
  it('lose nothing and never see SQLITE_BUSY, even creating the file together', async () => {
    const tmp = tempDir();
    try {
      const db = join(tmp.dir, 'shared.sqlite3');
      const workers = 4;
      const count = 400;
      const results = await Promise.all(Array.from({ length: workers }, (_, w) => runWorker(db, w, count)));
      for (const result of results) assert.deepEqual(result, { code: 0, stderr: '' });
      const store = BanStore.open(db);
      const all = [...store.all()];
      assert.equal(all.length, workers * count, 'every ban is recorded');
      const active = [...store.active(1_800_000_010)];
      assert.equal(active.length, (workers * count) / 2, 'every lift is recorded');
      assert.ok(active.every((b) => Number(b.address.split('.')[3]) % 2 === 0));
      store.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('concurrent CLI ban and unban calls all succeed', async () => {
    const tmp = tempDir();
    try {
      const env = { F2B_STORE_DB: join(tmp.dir, 'cli.sqlite3') };
      const addresses = Array.from({ length: 8 }, (_, i) => `198.51.100.${i + 1}`);
      const bans = await Promise.all(addresses.map((a) => runCliAsync(['ban', a, '--permanent', '--jail', 'sshd'], env)));
      for (const r of bans) assert.deepEqual([r.code, r.stderr], [0, '']);
      const mixed = await Promise.all(addresses.map((a, i) => (i % 2 === 0
        ? runCliAsync(['unban', a], env)
        : runCliAsync(['ban', a, '--jail', 'recidive', '--for', '1w'], env))));
      for (const r of mixed) assert.deepEqual([r.code, r.stderr], [0, '']);
      const list = await runCliAsync(['list', '--json'], env);
      const active = (JSON.parse(list.stdout) as { address: string; jail: string }[]).map((b) => `${b.jail} ${b.address}`).sort();
      const expected = addresses.flatMap((a, i) => (i % 2 === 0 ? [] : [`recidive ${a}`, `sshd ${a}`])).sort();
      assert.deepEqual(active, expected);
    } finally {
      tmp.cleanup();
    }
  });
});
