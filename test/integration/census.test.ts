/**
 * Every backend's census against the real firewall in a namespace: after a reconcile it counts,
 * per object, exactly what represent() says the backend holds, and it sees an entry taken out
 * behind the backend's back. (hosts-deny's: test/reconcile/drift.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemExec, systemFollow, type Exec } from '../../src/backends/exec.js';
import { createIpsetBackend } from '../../src/backends/ipset.js';
import { createIptablesBackend } from '../../src/backends/iptables.js';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import type { Backend, JailRule } from '../../src/backends/types.js';
import { DriftCheck, tally } from '../../src/reconcile/drift.js';
import { entry, inNetns, reconcilePass } from '../helpers/backend.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const NOW = 1_700_000_000;
const JAILS: readonly JailRule[] = [{ name: 'sshd', port: '22', blocktype: 'reject' }, { name: 'recidive', blocktype: 'drop' }];
const DESIRED = [
  entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::66'), entry('sshd', '198.51.100.0/24'), entry('sshd', '198.51.100.9', NOW + 3600),
  entry('recidive', '203.0.113.7'), entry('recidive', '2001:db8:1::/48'), entry('recidive', '2001:db8:1::5'),
];

const BACKENDS: readonly { name: string; create: (options: { exec: Exec }) => Backend; object: string; remove: (ns: Netns) => void }[] = [
  { name: 'nftables', create: createNftablesBackend, object: 'addr4-sshd', remove: (ns) => ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.7 }']) },
  { name: 'ipset', create: createIpsetBackend, object: 'f2bs4-sshd', remove: (ns) => ns.run(['ipset', 'del', 'f2bs4-sshd', '203.0.113.7']) },
  {
    name: 'iptables',
    create: createIptablesBackend,
    object: 'iptables f2bs-sshd',
    remove: (ns) => ns.run(['iptables', '-D', 'f2bs-sshd', '-s', '203.0.113.7/32', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']),
  },
];

/** Counts as [object, n] pairs, objects holding nothing left out, in name order. */
const nonZero = (counts: ReadonlyMap<string, number>): [string, number][] => [...counts].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b));

describe('census: entry counts per object, read cheaply from the real firewall', () => {
  for (const { name, create, object, remove } of BACKENDS) {
    it(`${name}: counts what represent() says it holds, and sees an entry taken out`, inNetns(create, async (ns, backend) => {
      const census = backend.census;
      assert.ok(census, `${name} has a census`);
      assert.deepEqual(nonZero(await census.count()), [], 'nothing before the first reconcile');
      const { report } = await reconcilePass(backend, JAILS, DESIRED, NOW);
      assert.deepEqual(report.failed, []);
      const expected = nonZero(tally(census, backend.represent(DESIRED)));
      assert.ok(expected.length >= 4, `entries spread over several objects: ${JSON.stringify(expected)}`);
      assert.deepEqual(nonZero(await census.count()), expected);

      remove(ns);
      const after = new Map(await census.count());
      assert.equal(after.get(object), (new Map(expected).get(object) ?? 0) - 1, `${object} lost one entry`);

      await backend.flush();
      assert.deepEqual(nonZero(await census.count()), [], 'nothing after a flush');
    }));
  }
});

describe('nftables: a removal behind its back is heard from `nft monitor`, so a costly count runs only then', () => {
  it('no count while nothing is removed; the removal of one element makes the next drift check count and find it', async () => {
    const ns = createNetns();
    let check: DriftCheck | undefined;
    try {
      const backend = createNftablesBackend({ exec: systemExec(ns.name), follow: systemFollow(ns.name) });
      const census = backend.census;
      assert.ok(census?.watch, 'nftables follows its event stream');
      let counts = 0;
      const counting: Backend = { ...backend, census: { ...census, count: () => { counts++; return census.count(); } } };
      // Over 10,000 entries, and a clock on which each census takes a second: a costly census.
      const many = Array.from({ length: 10_500 }, (_, i) => entry('sshd', `198.18.${i >> 8}.${i & 255}`));
      let ms = 0;
      check = new DriftCheck(() => (ms += 1000));
      const { report } = await reconcilePass(backend, JAILS, many, NOW);
      assert.deepEqual(report.failed, []);
      const held = backend.represent(many);
      check.reconciled(counting, { name: 'nftables', added: held.length, removed: 0, kept: 0, unchanged: 0, failed: [], error: null }, held);
      const structural = async (): Promise<undefined> => undefined;
      assert.deepEqual(await check.due([counting], structural), [], 'the first tick finds nothing');
      assert.equal(counts, 0, 'a large backend whose removals nft monitor tells is not counted before a removal');
      // Until `nft monitor` listens: an element added and removed again is heard, counted, and changes nothing.
      for (let i = 0; i < 100 && counts === 0; i++) {
        ns.run(['nft', 'add', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
        ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
        await sleep(100);
        assert.deepEqual(await check.due([counting], structural), [], 'an element that came and went is no drift');
      }
      assert.equal(counts, 1, 'the removal was heard and counted');
      for (let i = 0; i < 5; i++) assert.deepEqual(await check.due([counting], structural), [], 'nothing to do');
      assert.equal(counts, 1, 'a costly census is not repeated while nothing is removed');
      ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 198.18.0.7 }']);
      let stale: Awaited<ReturnType<DriftCheck['due']>> = [];
      for (let i = 0; i < 50 && stale.length === 0; i++) {
        await sleep(100);
        stale = await check.due([counting], structural);
      }
      assert.equal(counts, 2, 'the removal made it count once');
      assert.match(stale[0]?.why ?? '', /addr4-sshd holds 10499 entries, 10500 expected/, 'and find the missing entry');
    } finally {
      check?.close();
      ns.remove();
    }
  });

  it('a removal it names of no active ban (the daemon\'s own lift or expiry) costs no count; of an active ban, it does', async () => {
    const ns = createNetns();
    let check: DriftCheck | undefined;
    try {
      const backend = createNftablesBackend({ exec: systemExec(ns.name), follow: systemFollow(ns.name) });
      const census = backend.census;
      assert.ok(census);
      let counts = 0;
      const counting: Backend = { ...backend, census: { ...census, count: () => { counts++; return census.count(); } } };
      const many = Array.from({ length: 10_500 }, (_, i) => entry('sshd', `198.18.${i >> 8}.${i & 255}`));
      const active = new Set(many.map((e) => `${e.jail} ${e.address}`));
      const asked: string[] = [];
      let ms = 0;
      check = new DriftCheck(() => (ms += 1000), (removed) => {
        asked.push(...removed.map((e) => `${e.jail} ${e.address}`));
        return removed.some((e) => active.has(`${e.jail} ${e.address}`));
      });
      const { report } = await reconcilePass(backend, JAILS, many, NOW);
      assert.deepEqual(report.failed, []);
      const held = backend.represent(many);
      check.reconciled(counting, { name: 'nftables', added: held.length, removed: 0, kept: 0, unchanged: 0, failed: [], error: null }, held);
      const structural = async (): Promise<undefined> => undefined;
      // Until `nft monitor` listens, then once more: an element of no active ban came and went.
      for (let i = 0; i < 100 && asked.length === 0; i++) {
        ns.run(['nft', 'add', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
        ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
        await sleep(100);
        assert.deepEqual(await check.due([counting], structural), []);
      }
      assert.deepEqual([...new Set(asked)], ['sshd 203.0.113.1'], 'the removal was named');
      assert.equal(counts, 0, 'and cost no count');
      ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 198.18.0.7 }']);
      let stale: Awaited<ReturnType<DriftCheck['due']>> = [];
      for (let i = 0; i < 50 && stale.length === 0; i++) {
        await sleep(100);
        stale = await check.due([counting], structural);
      }
      assert.equal(counts, 1, 'the removal of an active ban\'s element made it count');
      assert.match(stale[0]?.why ?? '', /addr4-sshd holds 10499 entries, 10500 expected/);
    } finally {
      check?.close();
      ns.remove();
    }
  });
});
