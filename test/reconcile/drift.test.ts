import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createHostsDenyBackend, type Backend } from '../../src/backends/index.js';
import type { Ban } from '../../src/core/index.js';
import { DriftCheck } from '../../src/reconcile/drift.js';
import { applyChange, entryOf, reconcile } from '../../src/reconcile/index.js';
import { tempDir } from '../helpers/cli.js';

const NOW = 1_700_000_000;
const ban = (address: string, jail = 'sshd'): Ban => ({
  address, jail, bannedAt: NOW, expiresAt: null, source: 'manual', reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null, forced: false,
});

/** The drift check against a real hosts.deny file, fed by real reconciles as the daemon's loop feeds it. */
describe('the drift check', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let backend: Backend;
  let drift: DriftCheck;
  let active: Ban[];
  // The structural check (ensure()) finds nothing missing: hosts.deny has no objects but its block.
  const nothingMissing = async (): Promise<undefined> => undefined;
  const due = async (): Promise<string[]> => (await drift.due([backend], nothingMissing)).map((s) => `${s.backend.name}: ${s.why}`);
  const settle = (): Promise<unknown> => reconcile(active, [backend], NOW, { observe: (b, report, held) => drift.reconciled(b, report, held) });
  const editBlock = (edit: (lines: string[]) => string[]): void => {
    const [head, rest] = readFileSync(file, 'utf8').split('# BEGIN f2b-store\n') as [string, string];
    const [block, tail] = rest.split('# END f2b-store\n') as [string, string];
    writeFileSync(file, `${head}# BEGIN f2b-store\n${edit(block.split('\n').filter((l) => l !== '')).map((l) => `${l}\n`).join('')}# END f2b-store\n${tail}`);
  };

  beforeEach(async () => {
    tmp = tempDir();
    file = join(tmp.dir, 'hosts.deny');
    writeFileSync(file, 'sshd: 192.0.2.99\n');
    backend = createHostsDenyBackend({ file, daemons: 'ALL' });
    drift = new DriftCheck();
    active = [ban('203.0.113.7'), ban('203.0.113.7', 'recidive'), ban('2001:db8::66'), ban('198.51.100.0/24')];
    await settle();
  });
  afterEach(() => tmp.cleanup());

  it('finds nothing while the counts are what the last reconcile left', async () => {
    assert.deepEqual(await due(), []);
    assert.deepEqual(await due(), []);
  });

  it('finds an entry deleted behind its back, and nothing once a reconcile put it back', async () => {
    editBlock((lines) => lines.filter((l) => !l.includes('203.0.113.7')));
    assert.deepEqual(await due(), [`hosts-deny: ${file} holds 2 entries, 3 expected`]);
    await settle();
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.7\n/);
    assert.deepEqual(await due(), []);
  });

  it('tells what each count found, for the debug log: as expected, or what differs', async () => {
    const notes: string[] = [];
    drift = new DriftCheck(undefined, undefined, (note) => notes.push(note));
    await settle();
    await due();
    editBlock((lines) => lines.slice(1));
    await due();
    assert.deepEqual(notes, ['hosts-deny: counts as expected, 3 in all', `hosts-deny: ${file} holds 2 entries, 3 expected`]);
  });

  it('counts a ban committed after a full reconcile read the bans and applied before it ended: when that reconcile took it out, the next tick finds it missing', async () => {
    const late = ban('203.0.113.30');
    drift.reconciling([backend], 1);
    drift.changed(backend, [], backend.represent([entryOf(late)]), (await applyChange([], [late], [backend], NOW))[0]!, 2);
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.30\n/);
    // The reconcile read the active bans before the late one was committed: it takes the entry out again.
    await settle();
    assert.doesNotMatch(readFileSync(file, 'utf8'), /203\.0\.113\.30/);
    assert.deepEqual(await due(), [`hosts-deny: ${file} holds 3 entries, 4 expected`]);
    active = [...active, late];
    await settle();
    assert.match(readFileSync(file, 'utf8'), /ALL: 203\.0\.113\.30\n/);
    assert.deepEqual(await due(), []);
  });

  it('does not count twice a ban committed before a full reconcile read the bans', async () => {
    const early = ban('203.0.113.31');
    active = [...active, early];
    drift.reconciling([backend], 2);
    drift.changed(backend, [], backend.represent([entryOf(early)]), (await applyChange([], [early], [backend], NOW))[0]!, 1);
    await settle();
    assert.deepEqual(await due(), []);
  });

  it('retries a change committed after a full reconcile read the bans whose apply failed, though the reconcile succeeded', async () => {
    const late = ban('203.0.113.32');
    drift.reconciling([backend], 1);
    const [report] = await applyChange([], [late], [backend], NOW);
    drift.changed(backend, [], backend.represent([entryOf(late)]), { ...report!, error: 'the firewall did not answer' }, 2);
    await settle();
    assert.deepEqual(await due(), ['hosts-deny: retrying after a failed apply']);
  });

  it('counts with the changes applied since, without a read-back', async () => {
    const before = active.filter((b) => b.address === '203.0.113.7');
    active = active.filter((b) => b.address !== '203.0.113.7');
    const reports = await applyChange(before, [], [backend], NOW);
    drift.changed(backend, backend.represent(before.map(entryOf)), [], reports[0]!);
    const added = [ban('203.0.113.20')];
    drift.changed(backend, [], backend.represent(added.map(entryOf)), (await applyChange([], added, [backend], NOW))[0]!);
    assert.deepEqual(await due(), []);
    editBlock((lines) => lines.slice(1));
    assert.equal((await due()).length, 1);
  });

  it('retries a failed reconcile at the next tick, then 2, 4, 8 … ticks apart while it keeps failing, checking nothing in between', async () => {
    backend = createHostsDenyBackend({ file: join(tmp.dir, 'missing-dir', 'hosts.deny'), daemons: 'ALL' });
    drift = new DriftCheck();
    const retried: number[] = [];
    const checked: number[] = [];
    for (let tick = 0; tick < 16; tick++) {
      if (tick > 0) {
        const stale = await drift.due([backend], async () => { checked.push(tick); return undefined; });
        if (stale.length === 0) continue;
        retried.push(tick);
      }
      const [report] = await reconcile(active, [backend], NOW, { observe: (b, r, held) => drift.reconciled(b, r, held) });
      assert.match(report!.error ?? '', /cannot write/);
    }
    assert.deepEqual(retried, [1, 3, 7, 15]);
    assert.deepEqual(checked, retried);
  });

  it('reports what the structural check found missing before anything else', async () => {
    const stale = await drift.due([backend], async () => 'objects were missing');
    assert.deepEqual(stale.map((s) => s.why), ['objects were missing']);
  });

  it('retries a change whose apply failed at the next tick, and stops once a reconcile succeeds', async () => {
    const broken = createHostsDenyBackend({ file: join(tmp.dir, 'missing-dir', 'hosts.deny'), daemons: 'ALL' });
    const [failed] = await applyChange([], [ban('203.0.113.30')], [broken], NOW);
    assert.notEqual(failed!.error, null);
    drift.changed(backend, [], [], failed!);
    assert.deepEqual(await due(), ['hosts-deny: retrying after a failed apply']);
    await settle();
    assert.deepEqual(await due(), []);
  });

  it('takes counts that a reconcile cannot change as they are', async () => {
    // A line of our block that is no address: hosts.deny counts it, list() does not show it.
    editBlock((lines) => [...lines, 'ALL: PARANOID']);
    assert.deepEqual(await due(), [`hosts-deny: ${file} holds 4 entries, 3 expected`]);
    await settle();
    assert.deepEqual(await due(), []);
    editBlock((lines) => lines.filter((l) => !l.includes('2001:db8::66')));
    assert.deepEqual(await due(), [`hosts-deny: ${file} holds 3 entries, 4 expected`]);
  });

  it('spaces out a census that is costly on a big backend, by its cost', async () => {
    // A clock that moves 200 ms at each look: each census takes 200 ms, so over 10,000 entries it runs every 20 s.
    let ms = 0;
    drift = new DriftCheck(() => (ms += 200));
    active = Array.from({ length: 10_001 }, (_, i) => ban(`10.0.${i >> 8}.${i & 0xff}`));
    await settle();
    assert.deepEqual(await due(), []);
    editBlock((lines) => lines.slice(1));
    assert.deepEqual(await due(), [], 'not counted again yet');
    ms += 20_000;
    assert.deepEqual(await due(), [`hosts-deny: ${file} holds 10000 entries, 10001 expected`]);
  });
});

