import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIpsetBackend } from '../../src/backends/ipset.js';
import type { Entry, JailRule } from '../../src/backends/types.js';
import { nowSeconds } from '../../src/core/index.js';
import { entry, inNetns, keys, reconcilePass, sshd } from '../helpers/backend.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { backendContract, iptablesReads, perNamespace, watchedExec } from './backend-contract.js';

/** `iptables-save`/`ip6tables-save` lines that are not ours (no f2bs* name), without comments and counters. */
function foreignRules(ns: Netns): string[] {
  return ns.runAll([['iptables-save'], ['ip6tables-save']]).split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && !line.includes('f2bs'))
    .map((line) => line.replace(/\[\d+:\d+\]$/, ''));
}

/** What our sets hold, from `ipset save`, as `keys()` gives them. */
function shown(ns: Netns): string[] {
  return ns.run(['ipset', 'save']).split('\n').flatMap((line) => {
    const [verb, set, address] = line.split(' ');
    const jail = /^f2bs[46]-(.+)$/.exec(set ?? '')?.[1];
    return verb === 'add' && jail !== undefined && address !== undefined ? [`${jail} ${address}`] : [];
  }).sort();
}

function manyAddresses(count: number, base = 0x0a000000): Entry[] {
  return Array.from({ length: count }, (_, i) => {
    const n = base + i;
    return entry('sshd', `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  });
}

describe('ipset backend in a network namespace', () => {
  it('ensure creates both sets and both rules, and a second ensure changes nothing', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    const ran = (await backend.ensure([sshd], now)).ran;
    assert.ok(ran.length > 0, 'ensure ran commands');
    assert.match(ns.run(['ipset', 'list', '-t', 'f2bs4-sshd']), /Type: hash:net[\s\S]*family inet .*maxelem 65536 timeout 0/);
    assert.match(ns.run(['ipset', 'list', '-t', 'f2bs6-sshd']), /family inet6 .*timeout 0/);
    assert.deepEqual(ns.run(['iptables', '-S', 'INPUT']).split('\n').filter((l) => l.includes('f2bs')),
      ['-A INPUT -m set --match-set f2bs4-sshd src -j REJECT --reject-with icmp-port-unreachable']);
    assert.deepEqual(ns.run(['ip6tables', '-S', 'INPUT']).split('\n').filter((l) => l.includes('f2bs')),
      ['-A INPUT -m set --match-set f2bs6-sshd src -j REJECT --reject-with icmp6-port-unreachable']);
    assert.deepEqual((await backend.ensure([sshd], now)).ran, []);
    assert.deepEqual(await backend.list(), []);
  }));

  it('writes each entry with its remaining time as its timeout, 0 when permanent', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    const desired = [entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::7', now + 3600), entry('sshd', '198.51.100.0/24')];
    const { report } = await reconcilePass(backend, [sshd], desired, now);
    assert.deepEqual([report.added, report.failed], [3, []]);
    const v4 = ns.run(['ipset', 'list', 'f2bs4-sshd']);
    assert.match(v4, /^203\.0\.113\.7 timeout 0$/m);
    assert.match(v4, /^198\.51\.100\.0\/24 timeout 0$/m);
    const timeout = /^2001:db8::7 timeout (\d+)$/m.exec(ns.run(['ipset', 'list', 'f2bs6-sshd']));
    assert.ok(timeout && Number(timeout[1]) > 3500 && Number(timeout[1]) <= 3600, 'IPv6 entry carries its remaining time');
  }));

  it('does not add expired entries, and caps kernel timeouts', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    await backend.ensure([sshd], now);
    const report = await backend.apply({
      add: [entry('sshd', '203.0.113.10', now - 1), entry('sshd', '203.0.113.11', now), entry('sshd', '203.0.113.12', now + 10 * 365 * 86400)],
      remove: [],
    }, [sshd], now);
    assert.deepEqual(report, { added: 1, removed: 0, failed: [] });
    assert.deepEqual(keys(await backend.list()), ['sshd 203.0.113.12']);
    const timeout = /^203\.0\.113\.12 timeout (\d+)$/m.exec(ns.run(['ipset', 'list', 'f2bs4-sshd']));
    assert.ok(timeout && Number(timeout[1]) <= 2147483 && Number(timeout[1]) > 2147000, `capped timeout: ${timeout?.[1]}`);
  }));

  it('writes ports, protocol and blocktype into the rules, and replaces a rule when they change', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    const rulesOf = (save: string): string[] => ns.run([save, '-t', 'filter']).split('\n').filter((l) => l.includes('f2bs'));
    await backend.ensure([
      { name: 'sshd', port: 'ssh, 2222', blocktype: 'reject' },
      { name: 'dns', port: '53', protocol: 'udp', blocktype: 'drop' },
      { name: 'web', port: '8000:8100', protocol: 'tcp', blocktype: 'drop' },
    ], now);
    assert.deepEqual(rulesOf('iptables-save').sort(), [
      '-A INPUT -p tcp -m multiport --dports 22,2222 -m set --match-set f2bs4-sshd src -j REJECT --reject-with icmp-port-unreachable',
      '-A INPUT -p tcp -m multiport --dports 8000:8100 -m set --match-set f2bs4-web src -j DROP',
      '-A INPUT -p udp -m multiport --dports 53 -m set --match-set f2bs4-dns src -j DROP',
    ]);
    assert.ok(rulesOf('ip6tables-save').includes('-A INPUT -p udp -m multiport --dports 53 -m set --match-set f2bs6-dns src -j DROP'), 'IPv6 rule with ports');

    const changed: JailRule[] = [{ name: 'sshd', blocktype: 'drop' }];
    assert.ok((await backend.ensure(changed, now)).ran.length > 0, 'the changed rule is replaced');
    assert.deepEqual(rulesOf('iptables-save').filter((l) => l.includes('f2bs4-sshd ')), ['-A INPUT -m set --match-set f2bs4-sshd src -j DROP']);
    assert.deepEqual(rulesOf('ip6tables-save').filter((l) => l.includes('f2bs6-sshd ')), ['-A INPUT -m set --match-set f2bs6-sshd src -j DROP']);
    assert.deepEqual((await backend.ensure(changed, now)).ran, []);

    // Duplicates (two daemons racing) collapse to one rule.
    ns.run(['iptables', '-I', 'INPUT', '-m', 'set', '--match-set', 'f2bs4-sshd', 'src', '-j', 'DROP']);
    assert.ok((await backend.ensure(changed, now)).ran.length > 0, 'the duplicate is removed');
    assert.equal(rulesOf('iptables-save').filter((l) => l.includes('f2bs4-sshd ')).length, 1);
  }));

  it('holds 100,000 entries (more than 65,536) in one apply', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    const desired = manyAddresses(100_000);
    const started = performance.now();
    const { report } = await reconcilePass(backend, [sshd], desired, now);
    const applied = performance.now();
    assert.deepEqual([report.added, report.failed], [100_000, []]);
    const listed = await backend.list();
    const listedAt = performance.now();
    assert.equal(listed.length, 100_000);
    const second = await reconcilePass(backend, [sshd], desired, now);
    const checked = performance.now();
    assert.deepEqual(second.diff, { add: [], remove: [] });
    assert.match(ns.run(['ipset', 'list', '-t', 'f2bs4-sshd']), /maxelem 262144[\s\S]*References: 1[\s\S]*Number of entries: 100000/);
    console.log(`ipset: 100,000 bans into an empty firewall (ensure+list+diff+apply) ${(applied - started).toFixed(0)} ms; `
      + `list ${(listedAt - applied).toFixed(0)} ms; drift check with nothing changed ${(checked - listedAt).toFixed(0)} ms`);
  }));

  it('grows a full set into a bigger one without losing what it held', inNetns(createIpsetBackend, async (ns, backend) => {
    const now = nowSeconds();
    const first = manyAddresses(60_000);
    first.push(entry('sshd', '203.0.113.99', now + 5000));
    await reconcilePass(backend, [sshd], first, now);
    assert.match(ns.run(['ipset', 'list', '-t', 'f2bs4-sshd']), /maxelem 65536/);

    const more = manyAddresses(10_000, 0x0b000000);
    const started = performance.now();
    const report = await backend.apply({ add: more, remove: [first[0]!] }, [sshd], now);
    console.log(`ipset: grow 60,001 → 70,000 entries (rebuild + swap) ${(performance.now() - started).toFixed(0)} ms`);
    assert.deepEqual(report, { added: 10_000, removed: 1, failed: [] });
    const header = ns.run(['ipset', 'list', '-t', 'f2bs4-sshd']);
    assert.match(header, /maxelem 262144/);
    assert.match(header, /References: 1/, 'the INPUT rule still matches the grown set');
    assert.deepEqual(keys(await backend.list()), keys([...first.slice(1), ...more]));
    const timeout = /^add f2bs4-sshd 203\.0\.113\.99 timeout (\d+)$/m.exec(ns.run(['ipset', 'save', 'f2bs4-sshd']));
    assert.ok(timeout && Number(timeout[1]) > 4900, 'remaining timeouts survive the rebuild');
    assert.doesNotMatch(ns.run(['ipset', 'list', '-n']), /~/, 'the temporary set is gone');
  }));

  it('fails an entry of a jail it has no set for, and still applies the rest', inNetns(createIpsetBackend, async (_ns, backend) => {
    const now = nowSeconds();
    await backend.ensure([sshd], now);
    const report = await backend.apply({ add: [entry('sshd', '203.0.113.20'), entry('nojail', '203.0.113.22'), entry('sshd', '203.0.113.21')], remove: [] }, [sshd], now);
    assert.equal(report.added, 2);
    assert.deepEqual(report.failed.map((f) => `${f.entry.jail} ${f.entry.address}`), ['nojail 203.0.113.22']);
    assert.deepEqual(keys(await backend.list()), ['sshd 203.0.113.20', 'sshd 203.0.113.21']);
  }));
});

/** Sets, chains and rules of someone else's, one set named like fail2ban's. */
const FOREIGN: readonly string[][] = [
  ['ipset', 'create', 'other', 'hash:ip'], ['ipset', 'add', 'other', '192.0.2.44'], ['ipset', 'create', 'f2b', 'hash:ip'],
  ['iptables', '-N', 'mychain'], ['iptables', '-A', 'mychain', '-s', '192.0.2.9', '-m', 'comment', '--comment', 'keep me', '-j', 'ACCEPT'],
  ['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '80', '-j', 'mychain'], ['iptables', '-A', 'INPUT', '-m', 'set', '--match-set', 'other', 'src', '-j', 'DROP'],
  ['ip6tables', '-A', 'INPUT', '-s', '2001:db8:1::/48', '-j', 'ACCEPT'],
];

const ourSets = (ns: Netns): string[] => ns.run(['ipset', 'list', '-n']).split('\n').filter((name) => name.startsWith('f2bs'));

backendContract(perNamespace({
  name: 'ipset',
  refusal: { held: [], refused: entry('sshd', '0.0.0.0/0'), error: /ipset f2bs4-sshd: The value of the CIDR parameter of the IP address is invalid/ },
}, createNetns, (ns, inner) => {
  const { exec, watch } = watchedExec(inner, iptablesReads);
  return {
    backend: createIpsetBackend({ exec }),
    shown: async () => shown(ns),
    objects: async () => [...ourSets(ns), ...ns.runAll([['iptables-save'], ['ip6tables-save']]).split('\n').filter((l) => l.includes('f2bs'))],
    watch,
    wipes: [
      {
        name: 'iptables -F INPUT, ip6tables -F INPUT and ipset destroy of our sets',
        run: () => {
          ns.runAll([['iptables', '-F', 'INPUT'], ['ip6tables', '-F', 'INPUT']]);
          ns.runAll(ourSets(ns).map((set) => ['ipset', 'destroy', set]));
        },
      },
      { name: 'nft flush ruleset', run: () => void ns.run(['nft', 'flush', 'ruleset']) },
      { name: 'ipset flush f2bs4-sshd', run: () => void ns.run(['ipset', 'flush', 'f2bs4-sshd']) },
    ],
    async plantForeign() {
      ns.runAll(FOREIGN);
      return async () => ns.runAll([['ipset', 'save', 'other'], ['ipset', 'save', 'f2b']]) + foreignRules(ns).join('\n');
    },
  };
}));
