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
import type { Backend, EntryKey, JailRule } from '../../src/backends/types.js';
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

/** What a test of the nftables drift check gets: a store of 10,500 bans reconciled in a namespace, and a check that has seen that pass. */
interface Followed {
  readonly ns: Netns;
  readonly check: DriftCheck;
  /** The backend as the check sees it: each census it runs counted in `counts()`. */
  readonly counting: Backend;
  counts(): number;
  readonly structural: () => Promise<undefined>;
}

/**
 * Runs `fn` with an nftables backend that follows `nft monitor`, holding over 10,000 entries, and a
 * drift check on a clock where each census takes a second (a costly census); `stillHeld` is the
 * check's question about removals it hears of. The namespace and the check end with it.
 */
function withFollowedNftables(stillHeld: ((removed: readonly EntryKey[]) => boolean) | undefined, fn: (f: Followed) => Promise<void>): () => Promise<void> {
  return async () => {
    const ns = createNetns();
    let ms = 0;
    const check = new DriftCheck(() => (ms += 1000), stillHeld);
    try {
      const backend = createNftablesBackend({ exec: systemExec(ns.name), follow: systemFollow(ns.name) });
      const census = backend.census;
      assert.ok(census?.watch, 'nftables follows its event stream');
      let counts = 0;
      const counting: Backend = { ...backend, census: { ...census, count: () => { counts++; return census.count(); } } };
      const { report } = await reconcilePass(backend, JAILS, MANY, NOW);
      assert.deepEqual(report.failed, []);
      const held = backend.represent(MANY);
      check.reconciled(counting, { name: 'nftables', added: held.length, removed: 0, kept: 0, unchanged: 0, failed: [], error: null }, held);
      await fn({ ns, check, counting, counts: () => counts, structural: async () => undefined });
    } finally {
      check.close();
      ns.remove();
    }
  };
}

/** Over 10,000 entries: a census of them is costly. */
const MANY = Array.from({ length: 10_500 }, (_, i) => entry('sshd', `198.18.${i >> 8}.${i & 255}`));

/** Adds and deletes an element of no ban until `heard()` says the check heard of it (until `nft monitor` listens), checking that it is no drift. */
async function untilHeard(f: Followed, heard: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !heard(); i++) {
    f.ns.run(['nft', 'add', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
    f.ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 203.0.113.1 }']);
    await sleep(100);
    assert.deepEqual(await f.check.due([f.counting], f.structural), [], 'an element that came and went is no drift');
  }
}

/** Deletes the element of an active ban behind the backend's back; returns what the next drift checks find stale. */
async function removeBanned(f: Followed): Promise<Awaited<ReturnType<DriftCheck['due']>>> {
  f.ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 198.18.0.7 }']);
  let stale: Awaited<ReturnType<DriftCheck['due']>> = [];
  for (let i = 0; i < 50 && stale.length === 0; i++) {
    await sleep(100);
    stale = await f.check.due([f.counting], f.structural);
  }
  return stale;
}

describe('nftables: a removal behind its back is heard from `nft monitor`, so a costly count runs only then', () => {
  it('no count while nothing is removed; the removal of one element makes the next drift check count and find it', withFollowedNftables(undefined, async (f) => {
    assert.deepEqual(await f.check.due([f.counting], f.structural), [], 'the first tick finds nothing');
    assert.equal(f.counts(), 0, 'a large backend whose removals nft monitor tells is not counted before a removal');
    // An element added and removed again is heard, counted, and changes nothing.
    await untilHeard(f, () => f.counts() > 0);
    assert.equal(f.counts(), 1, 'the removal was heard and counted');
    for (let i = 0; i < 5; i++) assert.deepEqual(await f.check.due([f.counting], f.structural), [], 'nothing to do');
    assert.equal(f.counts(), 1, 'a costly census is not repeated while nothing is removed');
    const stale = await removeBanned(f);
    assert.equal(f.counts(), 2, 'the removal made it count once');
    assert.match(stale[0]?.why ?? '', /addr4-sshd holds 10499 entries, 10500 expected/, 'and find the missing entry');
  }));

  const asked: string[] = [];
  const active = new Set(MANY.map((e) => `${e.jail} ${e.address}`));
  const stillHeld = (removed: readonly EntryKey[]): boolean => {
    asked.push(...removed.map((e) => `${e.jail} ${e.address}`));
    return removed.some((e) => active.has(`${e.jail} ${e.address}`));
  };
  it('a removal it names of no active ban (the daemon\'s own lift or expiry) costs no count; of an active ban, it does', withFollowedNftables(stillHeld, async (f) => {
    // Once `nft monitor` listens: an element of no active ban came and went.
    await untilHeard(f, () => asked.length > 0);
    assert.deepEqual([...new Set(asked)], ['sshd 203.0.113.1'], 'the removal was named');
    assert.equal(f.counts(), 0, 'and cost no count');
    const stale = await removeBanned(f);
    assert.equal(f.counts(), 1, 'the removal of an active ban\'s element made it count');
    assert.match(stale[0]?.why ?? '', /addr4-sshd holds 10499 entries, 10500 expected/);
  }));
});
