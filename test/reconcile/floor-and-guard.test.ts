import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createHostsDenyBackend, type Backend } from '../../src/backends/index.js';
import { lockoutCheck, parseAddress, type Ban } from '../../src/core/index.js';
import { DriftCheck } from '../../src/reconcile/drift.js';
import { applyChange, banFloor, reconcile, type RefusedBan } from '../../src/reconcile/index.js';
import { tempDir } from '../helpers/cli.js';

const NOW = 1_700_000_000;
const ban = (address: string, extra: Partial<Ban> = {}): Ban => ({
  address, jail: 'sshd', bannedAt: NOW, expiresAt: null, source: 'filter', reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null,
  forced: false, ...extra,
});

/** This host, as the floor sees it in these tests. */
const floor = banFloor(lockoutCheck([parseAddress('192.0.2.10'), parseAddress('2001:db8:1::10')]));

describe('the reconciler\'s lockout floor and removal guard, against a real hosts.deny', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let backend: Backend;
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('ALL: '));

  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'hosts.deny');
    writeFileSync(file, 'sshd: 10.9.9.9\n');
    backend = createHostsDenyBackend({ file, daemons: 'ALL' });
  });
  afterEach(() => tmp.cleanup());

  it('skips the rows the floor refuses, tells each, and takes them out of a backend that holds them', async () => {
    const planted = [ban('128.0.0.0/1'), ban('192.0.2.10'), ban('192.0.2.0/24'), ban('127.0.0.1'), ban('2000::/3'), ban('::'), ban('2001:DB8::7'),
      ban('203.0.113.7 ')];
    await reconcile(planted, [backend], NOW);
    assert.equal(lines().length, 8, 'without a floor every one goes in, the non-canonical ones as the backend reads them');
    const refused: RefusedBan[] = [];
    const [report] = await reconcile([...planted, ban('203.0.113.8')], [backend], NOW, { floor, refused: (r) => refused.push(r) });
    assert.deepEqual(lines(), ['ALL: 203.0.113.8']);
    assert.equal(report!.removed, 8);
    assert.deepEqual(refused.map((r) => [r.ban.address, r.why]), [
      ['128.0.0.0/1', '128.0.0.0/1 is wider than /8'],
      ['192.0.2.10', '192.0.2.10 is an address of this host'],
      ['192.0.2.0/24', '192.0.2.0/24 contains 192.0.2.10, an address of this host'],
      ['127.0.0.1', '127.0.0.1 is loopback'],
      ['2000::/3', '2000::/3 is wider than /32'],
      ['::', ':: is the unspecified address'],
      ['2001:DB8::7', '"2001:DB8::7" is not an address in canonical form'],
      ['203.0.113.7 ', '"203.0.113.7 " is not an address in canonical form'],
    ]);
  });

  it('applies a forced row all the same: --force is the administrator\'s word', async () => {
    await reconcile([ban('10.0.0.0/7', { forced: true }), ban('192.0.2.10', { forced: true })], [backend], NOW, { floor });
    assert.deepEqual(lines(), ['ALL: 10.0.0.0/254.0.0.0', 'ALL: 192.0.2.10']);
  });

  it('a change of one address never adds a refused ban, and drops one being lifted without touching the file for it', async () => {
    const [added] = await applyChange([], [ban('192.0.2.0/24'), ban('203.0.113.9')], [backend], NOW, { floor });
    assert.deepEqual([added!.added, lines()], [1, ['ALL: 203.0.113.9']]);
    const [lifted] = await applyChange([ban('192.0.2.0/24')], [], [backend], NOW, { floor });
    assert.deepEqual([lifted!.removed, lines()], [0, ['ALL: 203.0.113.9']]);
  });

  describe('removals a database cannot account for', () => {
    const held = Array.from({ length: 20 }, (_, i) => ban(`198.51.100.${i + 1}`));
    beforeEach(async () => {
      await reconcile(held, [backend], NOW);
      assert.equal(lines().length, 20);
    });

    it('are kept, while the adds still go in; the drift check counts the kept entries as held', async () => {
      const drift = new DriftCheck();
      let asked = 0;
      const [report] = await reconcile([ban('203.0.113.8')], [backend], NOW, {
        known: () => { asked++; return 1; },
        observe: (b, r, entries) => drift.reconciled(b, r, entries),
      });
      assert.deepEqual([report!.added, report!.removed, report!.kept, report!.unchanged, asked], [1, 0, 20, 0, 1]);
      assert.equal(lines().length, 21);
      assert.deepEqual(await drift.due([backend], async () => undefined), [], 'no drift: what it keeps is what it holds');
    });

    it('go once the database has held as many bans, or when no guard is asked for (reconcile --yes)', async () => {
      const [fewer] = await reconcile([], [backend], NOW, { known: () => 19 });
      assert.deepEqual([fewer!.removed, fewer!.kept], [0, 20]);
      const [enough] = await reconcile([], [backend], NOW, { known: () => 20 });
      assert.deepEqual([enough!.removed, enough!.kept, lines().length], [20, 0, 0]);
      await reconcile(held, [backend], NOW);
      const [yes] = await reconcile([], [backend], NOW);
      assert.deepEqual([yes!.removed, yes!.kept, lines().length], [20, 0, 0]);
    });

    it('go without asking when they are at most half of what the backend holds, or fewer than 10', async () => {
      let asked = 0;
      const known = (): number => { asked++; return 0; };
      const [half] = await reconcile(held.slice(0, 10), [backend], NOW, { known });
      assert.deepEqual([half!.removed, half!.kept, asked], [10, 0, 0]);
      const [few] = await reconcile(held.slice(0, 1), [backend], NOW, { known });
      assert.deepEqual([few!.removed, few!.kept, asked, lines().length], [9, 0, 0, 1]);
    });

    it('a dry run tells what it would keep', async () => {
      const [dry] = await reconcile([], [backend], NOW, { dryRun: true, known: () => 0 });
      assert.deepEqual([dry!.removed, dry!.kept, dry!.plan], [0, 20, []]);
      assert.equal(lines().length, 20);
    });
  });
});
