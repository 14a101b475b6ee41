/**
 * The ipset backend's cheap checks against real ipset and iptables in a namespace: the full check
 * of a large backend probes it (counts from `ipset list -t`, a sample tested) instead of reading
 * every entry back, and the drift tick's structural check reads `ipset list -t` alone. What each
 * finds is repaired by the same reconcile; what they cannot see, a thorough read-back or ensure does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIpsetBackend } from '../../src/backends/ipset.js';
import type { Command, JailRule } from '../../src/backends/types.js';
import { nowSeconds, type Ban } from '../../src/core/index.js';
import { reconcile } from '../../src/reconcile/index.js';
import { checkStructure } from '../../src/reconcile/drift.js';
import { QUICK_FROM } from '../../src/reconcile/reconcile.js';
import { assertProbedNoop, banOf, entry, inRecordingNetns, type RecordedRun } from '../helpers/backend.js';
import type { Netns } from '../helpers/netns.js';

const NOW = nowSeconds();
const COUNT = QUICK_FROM + 50;
const JAILS: readonly JailRule[] = [{ name: 'sshd', blocktype: 'reject' }];
const RULE = ['INPUT', '-m', 'set', '--match-set', 'f2bs4-sshd', 'src', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'];

/** COUNT distinct addresses in 10.0.0.0/8, and one network in 198.51.100.0/24 holding 198.51.100.7, all in sshd. */
const BANS: Ban[] = [
  ...Array.from({ length: COUNT - 2 }, (_, i) => banOf(entry('sshd', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, NOW + 3600), NOW)),
  banOf(entry('sshd', '198.51.100.0/24'), NOW), banOf(entry('sshd', '198.51.100.7'), NOW),
];

const inNetns = (fn: (run: RecordedRun) => Promise<void>): (() => Promise<void>) => inRecordingNetns(createIpsetBackend, fn);

/** Whether a command reads entries back (`ipset save`, `ipset list` without -t). */
const readBack = (c: Command): boolean => c.argv[0] === 'ipset' && (c.argv[1] === 'save' || (c.argv[1] === 'list' && c.argv[2] !== '-t'));

const held = (ns: Netns): string[] => ns.run(['ipset', 'save', 'f2bs4-sshd']).split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!);

describe(`ipset: a backend of ${COUNT} entries is probed, not read back (real ipset)`, { timeout: 180_000 }, () => {
  it('a no-op full check probes it, changes nothing and reads nothing back', inNetns(async (run) => {
    const checked = await assertProbedNoop(run, BANS, NOW, readBack);
    assert.ok(checked.some((c) => c.argv.join(' ') === 'ipset -q restore' && c.stdin?.startsWith('test f2bs4-sshd ')), 'a sample was tested');
  }));

  it('an emptied set, an entry deleted and an entry added behind its back fail the probe and are repaired by the same check', inNetns(async ({ ns, backend }) => {
    await reconcile(BANS, [backend], NOW);
    ns.run(['ipset', 'flush', 'f2bs4-sshd']);
    const [refilled] = await reconcile(BANS, [backend], NOW);
    assert.deepEqual([refilled?.added, refilled?.removed], [COUNT, 0]);
    ns.run(['ipset', 'del', 'f2bs4-sshd', '10.0.0.9']);
    const [deleted] = await reconcile(BANS, [backend], NOW);
    assert.deepEqual([deleted?.added, deleted?.removed], [1, 0]);
    ns.run(['ipset', 'add', 'f2bs4-sshd', '192.0.2.1']);
    const [added] = await reconcile(BANS, [backend], NOW);
    assert.deepEqual([added?.added, added?.removed], [0, 1]);
    assert.equal(held(ns).length, COUNT);
  }));

  it('a host swapped for another while a network of its set covers it passes the probe, and goes at the thorough read-back', inNetns(async ({ ns, backend }) => {
    await reconcile(BANS, [backend], NOW);
    ns.run(['ipset', 'del', 'f2bs4-sshd', '198.51.100.7']);
    ns.run(['ipset', 'add', 'f2bs4-sshd', '192.0.2.1']);
    const [quick] = await reconcile(BANS, [backend], NOW);
    assert.deepEqual([quick?.added, quick?.removed], [0, 0], 'the count is right and `test` of the host matches its network');
    const [thorough] = await reconcile(BANS, [backend], NOW, { thorough: true });
    assert.deepEqual([thorough?.added, thorough?.removed], [1, 1]);
    assert.ok(held(ns).includes('198.51.100.7') && !held(ns).includes('192.0.2.1'));
  }));

  it('the probe itself changes nothing: an entry swapped in a set small enough to be tested whole is found, and stays as it was', inNetns(async ({ ns, backend }) => {
    const few = [entry('web', '192.0.2.1'), entry('web', '192.0.2.2'), entry('web', '192.0.2.3')];
    await reconcile(few.map((e) => banOf(e, NOW)), [backend], NOW);
    ns.run(['ipset', 'del', 'f2bs4-web', '192.0.2.2']);
    ns.run(['ipset', 'add', 'f2bs4-web', '192.0.2.9']);
    assert.equal(await backend.census?.probe?.(few), 'one of 3 sampled entries is missing');
    assert.deepEqual(ns.run(['ipset', 'save', 'f2bs4-web']).split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]).sort(),
      ['192.0.2.1', '192.0.2.3', '192.0.2.9']);
    assert.equal(await backend.census?.probe?.([...few.filter((e) => e.address !== '192.0.2.2'), entry('web', '192.0.2.9')]), undefined);
  }));
});

describe('ipset: the drift tick\'s structural check reads `ipset list -t` alone (real ipset and iptables)', () => {
  const check = (run: RecordedRun): Promise<string | undefined> => checkStructure(run.backend, JAILS, NOW, () => undefined);
  const few = [banOf(entry('sshd', '203.0.113.7'), NOW), banOf(entry('sshd', '2001:db8::7'), NOW)];

  it('finds nothing on an intact firewall, running one command', inNetns(async (run) => {
    await reconcile(few, [run.backend], NOW);
    run.commands.length = 0;
    assert.equal(await check(run), undefined);
    assert.deepEqual(run.commands.map((c) => c.argv.join(' ')), ['ipset list -t']);
  }));

  it('finds a deleted rule, a flushed INPUT and a destroyed set; a full reconcile puts them back', inNetns(async (run) => {
    const { ns, backend } = run;
    await reconcile(few, [backend], NOW);
    ns.run(['iptables', '-D', ...RULE]);
    assert.equal(await check(run), 'no rule matches ipset f2bs4-sshd');
    await reconcile(few, [backend], NOW);
    assert.equal(await check(run), undefined);
    ns.run(['ip6tables', '-F', 'INPUT']);
    assert.equal(await check(run), 'no rule matches ipset f2bs6-sshd');
    await reconcile(few, [backend], NOW);
    ns.run(['iptables', '-D', ...RULE]);
    ns.run(['ipset', 'destroy', 'f2bs4-sshd']);
    assert.equal(await check(run), 'ipset f2bs4-sshd does not exist');
    const [repaired] = await reconcile(few, [backend], NOW);
    assert.deepEqual([repaired?.added, repaired?.error], [1, null]);
    assert.equal(await check(run), undefined);
    assert.match(ns.run(['iptables-save', '-t', 'filter']), /^-A INPUT -m set --match-set f2bs4-sshd src -j REJECT --reject-with icmp-port-unreachable$/m);
  }));

  it('misses a rule of ours changed in place, which the full check\'s ensure() puts right', inNetns(async (run) => {
    const { ns, backend } = run;
    await reconcile(few, [backend], NOW);
    ns.run(['iptables', '-R', 'INPUT', '1', '-m', 'set', '--match-set', 'f2bs4-sshd', 'src', '-j', 'ACCEPT']);
    assert.equal(await check(run), undefined);
    assert.ok((await backend.ensure(JAILS, NOW)).ran.length > 0, 'ensure() replaces it');
    assert.deepEqual(ns.run(['iptables', '-S', 'INPUT']).split('\n').filter((l) => l.includes('f2bs4-sshd')),
      ['-A INPUT -m set --match-set f2bs4-sshd src -j REJECT --reject-with icmp-port-unreachable']);
  }));
});
