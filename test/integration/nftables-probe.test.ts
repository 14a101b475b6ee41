import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import type { Command } from '../../src/backends/types.js';
import { nowSeconds, type Ban } from '../../src/core/index.js';
import { reconcile } from '../../src/reconcile/index.js';
import { QUICK_FROM } from '../../src/reconcile/reconcile.js';
import { assertProbedNoop, entry, inRecordingNetns, type RecordedRun } from '../helpers/backend.js';
import type { Netns } from '../helpers/netns.js';

const NOW = nowSeconds();
const COUNT = QUICK_FROM + 50;

function ban(address: string, jail = 'sshd'): Ban {
  return { address, jail, bannedAt: NOW, expiresAt: NOW + 3600, source: 'manual', reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null, forced: false };
}

/** COUNT distinct addresses in 10.0.0.0/8. */
const BANS = Array.from({ length: COUNT }, (_, i) => ban(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));

type Run = RecordedRun;
const inNetns = (fn: (run: Run) => Promise<void>): (() => Promise<void>) => inRecordingNetns(createNftablesBackend, fn);

/** Whether a command lists elements (a full read-back); `-t` structure reads and single-set lists of empty sets aside. */
const readBack = (c: Command): boolean => c.argv.join(' ') === 'nft -j list table inet f2b-store';

const elements = (ns: Netns, set: string): string[] => {
  const json = JSON.parse(ns.run(['nft', '-j', 'list', 'set', 'inet', 'f2b-store', set])) as { nftables: { set?: { elem?: unknown[] } }[] };
  return (json.nftables.find((item) => item.set)?.set?.elem ?? []).map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
};

describe(`nftables: a backend of ${COUNT} entries is probed, not read back (real nft)`, { timeout: 180_000 }, () => {
  it('a no-op full check probes it, changes nothing and reads nothing back', inNetns(async (run) => {
    await assertProbedNoop(run, BANS, NOW, readBack);
  }));

  it('a restore into an empty firewall lists the ruleset once and reads nothing back', inNetns(async ({ ns, backend, commands }) => {
    const [restored] = await reconcile(BANS, [backend], NOW, { allOrNothing: true, known: () => COUNT });
    assert.deepEqual({ added: restored?.added, kept: restored?.kept, error: restored?.error }, { added: COUNT, kept: 0, error: null });
    assert.equal(elements(ns, 'addr4-sshd').length, COUNT);
    const ran = commands.map((c) => c.argv.join(' '));
    assert.equal(ran.filter((c) => c === 'nft -j -t list ruleset inet').length, 1, ran.join('\n'));
    assert.equal(commands.some(readBack), false, ran.join('\n'));
  }));

  it('an emptied set fails the probe and is refilled by the same check', inNetns(async ({ ns, backend }) => {
    await reconcile(BANS, [backend], NOW);
    ns.run(['nft', 'flush', 'set', 'inet', 'f2b-store', 'addr4-sshd']);
    const [report] = await reconcile(BANS, [backend], NOW);
    assert.equal(report?.added, COUNT);
    assert.equal(elements(ns, 'addr4-sshd').length, COUNT);
  }));

  it('an element added behind its back passes the probe and goes at the thorough read-back', inNetns(async ({ ns, backend }) => {
    await reconcile(BANS, [backend], NOW);
    ns.run(['nft', 'add', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 192.0.2.1 }']);
    const [quick] = await reconcile(BANS, [backend], NOW);
    assert.deepEqual({ added: quick?.added, removed: quick?.removed }, { added: 0, removed: 0 });
    const [thorough] = await reconcile(BANS, [backend], NOW, { thorough: true });
    assert.deepEqual({ added: thorough?.added, removed: thorough?.removed, unchanged: thorough?.unchanged }, { added: 0, removed: 1, unchanged: COUNT });
    assert.equal(elements(ns, 'addr4-sshd').length, COUNT);
  }));

  it('the probe itself changes nothing: a missing element stays missing, and is named', inNetns(async ({ ns, backend }) => {
    const few = [ban('192.0.2.1', 'web'), ban('192.0.2.2', 'web'), ban('192.0.2.3', 'web')];
    await reconcile(few, [backend], NOW);
    ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-web', '{ 192.0.2.2 }']);
    const wanted = few.map((b) => entry(b.jail, b.address, b.expiresAt));
    assert.equal(await backend.census?.probe?.(wanted), '1 of 3 sampled elements are missing');
    const held = elements(ns, 'addr4-web');
    assert.equal(held.length, 2);
    assert.equal(held.some((e) => e.includes('192.0.2.2')), false);
    assert.equal(await backend.census?.probe?.(wanted.filter((e) => e.address !== '192.0.2.2')), undefined);
  }));
});
