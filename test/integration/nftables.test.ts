import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import { CHUNK, TABLE } from '../../src/backends/nftables-plan.js';
import type { Command, Entry, JailRule } from '../../src/backends/types.js';
import { nowSeconds } from '../../src/core/index.js';
import { entry, inNetns as withBackend, inRecordingNetns, keys, reconcilePass, type RecordedRun } from '../helpers/backend.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { backendContract, nftShown, perNamespace, watchedExec } from './backend-contract.js';

const sshd: JailRule = { name: 'sshd', blocktype: 'reject' };

type Run = RecordedRun;
const inNetns = (fn: (run: Run) => Promise<void>): (() => Promise<void>) => inRecordingNetns(createNftablesBackend, fn);

/** Commands that only read: `nft -j … list …`, and the probe's batch, which the kernel always rolls back (planProbe). */
const reads = (c: Command): boolean => (c.argv[0] === 'nft' && c.argv[1] === '-j' && c.argv.includes('list') && c.stdin === undefined)
  || (c.stdin?.startsWith(`create table ${TABLE}\n`) ?? false);
/** Commands that may change something. */
const changing = (commands: readonly Command[]): Command[] => commands.filter((c) => !reads(c));

/** Reconciles again and checks that nothing needed changing and nothing was run that changes state. */
async function assertSettled(run: Run, jails: readonly JailRule[], desired: readonly Entry[], now: number): Promise<void> {
  const before = run.commands.length;
  const again = await reconcilePass(run.backend, jails, desired, now);
  assert.deepEqual(again.ensured, []);
  assert.deepEqual([again.report.added, again.report.removed], [0, 0]);
  assert.deepEqual(changing(run.commands.slice(before)), [], 'no state-changing command');
}

/** Our table's set elements as `nft -j list` shows them, as `keys()` gives them (jail from the set name). */
function shown(ns: Netns): string[] {
  let json: string;
  try {
    json = ns.run(['nft', '-j', 'list', 'table', 'inet', 'f2b-store']);
  } catch {
    return [];
  }
  return nftShown(json, /^(?:addr|net)[46]-(.+)$/);
}

const FOREIGN = `
table inet other {
  set keep { type ipv4_addr; elements = { 192.0.2.200, 198.51.100.1 } }
  chain in {
    type filter hook input priority 0; policy accept;
    ip saddr @keep tcp dport 9999 accept comment "f2b-store addr4-sshd 000000000000"
  }
}
table ip filter {
  chain INPUT {
    type filter hook input priority filter; policy accept;
    tcp dport 9998 accept
  }
}
`;
const foreign = (ns: Netns): string => ['inet other', 'ip filter'].map((t) => ns.run(['nft', '-a', 'list', 'table', ...t.split(' ')])).join('');

/**
 * Connects from each `from` (an address put on lo) to itself on `port`, all at once in one
 * process (a node process each cost ~0.1 s of CPU, and the timeouts added up): 'open', 'refused'
 * or 'timeout' for each, in order.
 */
function probe(ns: Netns, targets: readonly (readonly [from: string, port: number])[]): string[] {
  const script = `
    const net = require('node:net');
    const one = ([from, port]) => new Promise((resolve) => {
      const server = net.createServer((s) => s.end()).listen(port, from, () => {
        const socket = net.connect({ host: from, port, localAddress: from, timeout: 700 });
        const done = (what) => { socket.destroy(); server.close(); resolve(what); };
        socket.on('connect', () => done('open'));
        socket.on('timeout', () => done('timeout'));
        socket.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
      });
    });
    Promise.all(JSON.parse(process.argv[1]).map(one)).then((said) => console.log(JSON.stringify(said)));`;
  return JSON.parse(ns.run([process.execPath, '-e', script, JSON.stringify(targets)])) as string[];
}

function manyEntries(count: number, now: number): Entry[] {
  return Array.from({ length: count }, (_, i) => {
    const expiresAt = i % 2 === 0 ? null : now + 3600 + i;
    if (i % 3 === 2) return entry('sshd', `2001:db8:${(i >>> 16).toString(16)}::${(i & 0xffff).toString(16)}`, expiresAt);
    const n = 0xc6120000 + i; // 198.18.0.0/15, the benchmarking range
    return entry('recidive', `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`, expiresAt);
  });
}

describe('nftables backend in a network namespace (real nft)', () => {
  it('ensure creates the table, chain, sets and rules, and a second ensure changes nothing', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    const ran = (await backend.ensure([sshd], now)).ran;
    assert.equal(ran.length, 1);
    const table = ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
    assert.match(table, /chain input \{\n\s+type filter hook input priority filter - 1; policy accept;/);
    assert.match(table, /set addr4-sshd \{\n\s+type ipv4_addr\n\s+flags timeout\n/);
    assert.match(table, /set addr6-sshd \{\n\s+type ipv6_addr\n\s+flags timeout\n/);
    assert.match(table, /set net4-sshd \{\n\s+type ipv4_addr\n\s+flags interval,timeout\n/);
    assert.match(table, /set net6-sshd \{\n\s+type ipv6_addr\n\s+flags interval,timeout\n/);
    assert.equal(table.match(/ reject with icmpv?6? port-unreachable comment "f2b-store /g)?.length, 4);
    assert.deepEqual(await backend.list(), []);
    await assertSettled(run, [sshd], [], now);
  }));

  it('gives each entry its remaining time as the kernel timeout: none when permanent, five years kept', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    const year = 365 * 86_400;
    const desired = [
      entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::7', now + 3600), entry('sshd', '198.51.100.0/24'), entry('sshd', '2001:db8:1::/48'),
      entry('sshd', '203.0.113.77', now + 5 * year),
    ];
    const { report } = await reconcilePass(backend, [sshd], desired, now);
    assert.deepEqual([report.added, report.failed], [5, []]);
    const elements = (set: string): unknown[] => {
      const listed = JSON.parse(ns.run(['nft', '-j', 'list', 'set', 'inet', 'f2b-store', set])) as { nftables: { set?: { elem?: unknown[] } }[] };
      return listed.nftables.find((o) => o.set)?.set?.elem ?? [];
    };
    const [timed] = elements('addr6-sshd') as { elem: { val: string; timeout: number } }[];
    assert.equal(timed?.elem.val, '2001:db8::7');
    assert.ok(timed.elem.timeout > 3500 && timed.elem.timeout <= 3600, 'the IPv6 entry carries its remaining time');
    const v4 = elements('addr4-sshd');
    assert.ok(v4.includes('203.0.113.7'), 'permanent: no timeout');
    const long = v4.find((e): e is { elem: { val: string; timeout: number } } => typeof e === 'object');
    assert.equal(long?.elem.val, '203.0.113.77');
    assert.ok(long.elem.timeout > 5 * year - 100 && long.elem.timeout <= 5 * year, `a five-year ban keeps its timeout: ${long.elem.timeout}`);
    await assertSettled(run, [sshd], desired, now);
  }));

  it('holds an address inside a banned prefix and the prefix; nested prefixes come back when the wider is lifted', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    const host = entry('sshd', '198.51.100.7');
    const wide = entry('sshd', '198.51.100.0/24');
    const narrow = entry('sshd', '198.51.100.0/26');
    const host6 = entry('sshd', '2001:db8::7');
    const wide6 = entry('sshd', '2001:db8::/32');
    const first = await reconcilePass(backend, [sshd], [host, wide, narrow, host6, wide6], now);
    assert.deepEqual(first.report.failed, []);
    assert.deepEqual(keys(await backend.list()), keys([host, wide, host6, wide6]), 'the /26 inside the /24 is left out');
    assert.match(ns.run(['nft', 'get', 'element', 'inet', 'f2b-store', 'net4-sshd', '{', '198.51.100.7', '}']), /198\.51\.100\.0\/24/);
    await assertSettled(run, [sshd], [host, wide, narrow, host6, wide6], now);

    const lifted = await reconcilePass(backend, [sshd], [host, narrow, host6], now);
    assert.deepEqual([lifted.report.added, lifted.report.removed, lifted.report.failed], [1, 2, []], 'the /24 goes and the /26 takes its place in one batch');
    assert.deepEqual(keys(await backend.list()), keys([host, narrow, host6]));
    await assertSettled(run, [sshd], [host, narrow, host6], now);
  }));

  it('blocks real connections from banned addresses and prefixes, on the jail ports only', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    ns.run(['ip', 'addr', 'add', '203.0.113.5/32', 'dev', 'lo']);
    ns.run(['ip', 'addr', 'add', '198.51.100.77/32', 'dev', 'lo']);
    ns.run(['ip', 'addr', 'add', '2001:db8::5/128', 'dev', 'lo', 'nodad']);
    ns.run(['ip', 'addr', 'add', '2001:db8:1::9/128', 'dev', 'lo', 'nodad']);
    const jail: JailRule = { name: 'sshd', port: '2222,8000:8100', blocktype: 'reject' };
    assert.deepEqual(probe(ns, [['203.0.113.5', 2222]]), ['open']);
    const desired = [entry('sshd', '203.0.113.5'), entry('sshd', '198.51.100.0/24'), entry('sshd', '2001:db8::5'), entry('sshd', '2001:db8:1::/48')];
    assert.deepEqual((await reconcilePass(backend, [jail], desired, now)).report.failed, []);
    // Over lo the kernel does not hand the ICMPv6 error of an IPv6 reject back to the socket, so
    // a rejected IPv6 connection shows as a timeout here; IPv4 shows the reject itself.
    const froms = ['203.0.113.5', '198.51.100.77', '2001:db8::5', '2001:db8:1::9'];
    const said = probe(ns, froms.flatMap((from) => [[from, 2222], [from, 8050], [from, 3333]] as const));
    for (const [i, from] of froms.entries()) {
      const blocked = from.includes(':') ? /^(refused|timeout)$/ : /^refused$/;
      const [jailPort, inRange, other] = said.slice(3 * i, 3 * i + 3);
      assert.match(jailPort ?? '', blocked, `${from} on a jail port`);
      assert.match(inRange ?? '', blocked, `${from} inside the jail's port range`);
      assert.equal(other, 'open', `${from} on another port`);
    }
    await backend.ensure([{ ...jail, blocktype: 'drop' }], now);
    assert.deepEqual(probe(ns, [['203.0.113.5', 2222]]), ['timeout'], 'drop: no answer at all');
    await reconcilePass(backend, [jail], [], now);
    assert.deepEqual(probe(ns, [['203.0.113.5', 2222]]), ['open'], 'unbanned');
  }));

  it('writes the jail port, protocol and blocktype into its rules, and updates them when they change', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    const jails: JailRule[] = [
      { name: 'sshd', port: 'ssh,2222', blocktype: 'reject' },
      { name: 'dns', port: '53', protocol: 'udp', blocktype: 'drop' },
      { name: '9web.x-y', port: 'http,https,8000:8100', protocol: 'tcp,udp', blocktype: 'reject' },
    ];
    await backend.ensure(jails, now);
    const chain = ns.run(['nft', 'list', 'chain', 'inet', 'f2b-store', 'input']);
    const rules = chain.split('\n').map((l) => l.trim()).filter((l) => l.includes('saddr'));
    assert.equal(rules.length, 12);
    const has = (pattern: RegExp): void => assert.ok(rules.some((r) => pattern.test(r)), `${pattern} in\n${chain}`);
    has(/^tcp dport \{ 22, 2222 \} ip saddr @addr4-sshd reject with icmp port-unreachable comment "f2b-store addr4-sshd [0-9a-f]{12}"$/);
    has(/^tcp dport \{ 22, 2222 \} ip6 saddr @net6-sshd reject with icmpv6 port-unreachable comment "f2b-store net6-sshd [0-9a-f]{12}"$/);
    has(/^udp dport 53 ip saddr @addr4-dns drop comment "f2b-store addr4-dns [0-9a-f]{12}"$/);
    has(/^meta l4proto \{ tcp, udp \} th dport \{ 80, 443, 8000-8100 \} ip6 saddr @addr6-9web\.x-y reject with icmpv6 port-unreachable comment "f2b-store addr6-9web\.x-y [0-9a-f]{12}"$/);
    await assertSettled(run, jails, [], now);

    const changed: JailRule[] = [{ name: 'sshd', blocktype: 'drop' }, ...jails.slice(1)];
    const desired = [entry('sshd', '203.0.113.7')];
    await reconcilePass(backend, jails, desired, now);
    const ran = (await backend.ensure(changed, now)).ran;
    assert.equal(ran.length, 1);
    assert.equal(ran[0]!.stdin!.split('\n').filter((l) => l.startsWith('delete rule')).length, 4, 'only the sshd rules are replaced');
    const after = ns.run(['nft', 'list', 'chain', 'inet', 'f2b-store', 'input']);
    assert.match(after, /^\s+ip saddr @addr4-sshd drop comment "f2b-store addr4-sshd [0-9a-f]{12}"$/m);
    assert.doesNotMatch(after, /dport \{ 22, 2222 \}/);
    assert.deepEqual(keys(await backend.list()), keys(desired), 'set contents survive a rule change');
    await assertSettled(run, changed, desired, now);
  }));

  it('does not add entries that have already expired', inNetns(async (run) => {
    const { backend } = run;
    const now = nowSeconds();
    await backend.ensure([sshd], now);
    const report = await backend.apply({ add: [entry('sshd', '203.0.113.1', now - 10), entry('sshd', '203.0.113.2', now), entry('sshd', '203.0.113.3', now + 60)], remove: [] }, [sshd], now);
    assert.deepEqual(report, { added: 1, removed: 0, failed: [] });
    assert.deepEqual(keys(await backend.list()), ['sshd 203.0.113.3']);
  }));

  it('retries one by one when the batch fails: an absent element is no failure, a refused one is reported', inNetns(async (run) => {
    const { backend, commands } = run;
    const now = nowSeconds();
    await reconcilePass(backend, [sshd], [entry('sshd', '198.51.100.0/24'), entry('sshd', '203.0.113.9')], now);
    const before = commands.length;
    const add = Array.from({ length: 200 }, (_, i) => entry('sshd', `203.0.113.${i + 10}`, now + 600));
    const report = await backend.apply({
      add: [...add, entry('sshd', '198.51.100.128/25'), entry('sshd', '203.0.113.250', now + 600)],
      remove: [{ jail: 'sshd', address: '2001:db8::99', family: 6 }, { jail: 'sshd', address: '203.0.113.9', family: 4 }],
    }, [sshd], now);
    assert.equal(report.added, 201);
    assert.equal(report.removed, 2);
    assert.deepEqual(report.failed.map((f) => f.entry.address), ['198.51.100.128/25']);
    assert.match(report.failed[0]!.error, /interval overlaps/);
    assert.ok(commands.length - before < 40, `bisected: ${commands.length - before} commands`);
    assert.equal((await backend.list()).length, 202);
  }));

  it('repairs only what is missing: one deleted rule, one flushed set', inNetns(async (run) => {
    const { ns, backend } = run;
    const now = nowSeconds();
    const jails: JailRule[] = [sshd, { name: 'recidive', blocktype: 'drop' }];
    const desired = [
      entry('sshd', '203.0.113.7', now + 600), entry('sshd', '2001:db8::7'), entry('recidive', '198.51.100.0/24'),
      entry('recidive', '198.51.100.0/25'), entry('recidive', '203.0.113.7'),
    ];
    await reconcilePass(backend, jails, desired, now);
    const handle = /comment "f2b-store addr4-sshd [0-9a-f]+" # handle (\d+)/.exec(ns.run(['nft', '-a', 'list', 'chain', 'inet', 'f2b-store', 'input']));
    ns.run(['nft', 'delete', 'rule', 'inet', 'f2b-store', 'input', 'handle', handle![1]!]);
    ns.run(['nft', 'flush', 'set', 'inet', 'f2b-store', 'net4-recidive']);
    const repaired = await reconcilePass(backend, jails, desired, now);
    assert.equal(repaired.ensured[0]!.stdin!.trimEnd().split('\n').length, 1, 'only the missing rule is added');
    assert.deepEqual([repaired.report.added, repaired.report.removed, repaired.report.failed], [1, 0, []]);
    assert.deepEqual(keys(await backend.list()), keys(backend.represent(desired)));
    await assertSettled(run, jails, desired, now);
  }));

  it('ensure plans again when another writer changed the table between its read and its batch', async () => {
    /** Made to delete a rule made twice, each batch first meets it already deleted, as another process would have. */
    let raced = 0;
    await withBackend(({ exec }) => createNftablesBackend({
      exec: async (command) => {
        const handle = /^delete rule inet f2b-store input handle (\d+)$/m.exec(command.stdin ?? '')?.[1];
        if (handle !== undefined && raced++ === 0) await exec({ argv: ['nft', 'delete', 'rule', 'inet', 'f2b-store', 'input', 'handle', handle] });
        return exec(command);
      },
    }), async (ns, backend) => {
      await backend.ensure([sshd], nowSeconds());
      const rule = /^\s*(ip saddr @addr4-sshd .*) # handle \d+$/m.exec(ns.run(['nft', '-a', 'list', 'chain', 'inet', 'f2b-store', 'input']))?.[1];
      assert.ok(rule, 'the rule of addr4-sshd');
      ns.run(['nft', '-f', '-'], `add rule inet f2b-store input ${rule}\n`);
      await backend.ensure([sshd], nowSeconds());
      assert.equal(raced, 1, 'the batch deleting the second rule met it deleted');
      const rules = ns.run(['nft', 'list', 'chain', 'inet', 'f2b-store', 'input']).match(/comment "f2b-store addr4-sshd /g);
      assert.equal(rules?.length, 1);
      assert.deepEqual((await backend.ensure([sshd], nowSeconds())).ran, []);
    })();
  });

  // 4 CHUNKs: two thirds go to addr4-recidive and one third to addr6-sshd, so each set takes
  // several statements, and one pass means one nft run of them all. 100,000 cost 2 s of CPU more
  // and proved nothing more; bench/firewall-bench.ts times 100,000.
  it(`applies ${(4 * CHUNK).toLocaleString('en')} entries, several statements a set, to an empty firewall in one pass (time printed)`, inNetns(async (run) => {
    const { backend, commands } = run;
    const now = nowSeconds();
    const jails: JailRule[] = [sshd, { name: 'recidive', blocktype: 'drop' }];
    const count = 4 * CHUNK;
    const desired = manyEntries(count, now);
    const started = performance.now();
    const { report } = await reconcilePass(backend, jails, desired, now);
    const restore = performance.now() - started;
    assert.deepEqual([report.added, report.failed], [count, []]);
    const batches = changing(commands);
    assert.equal(batches.length, 2, 'one batch to create the objects, one to fill the sets');
    for (const set of ['addr4-recidive', 'addr6-sshd']) {
      const statements = batches[1]!.stdin!.split('\n').filter((line) => line.startsWith(`add element ${TABLE} ${set} `)).length;
      assert.ok(statements > 1, `${set} filled by ${statements} statements in the one batch`);
    }

    const checkStarted = performance.now();
    await assertSettled(run, jails, desired, now);
    const check = performance.now() - checkStarted;
    assert.equal((await backend.list()).length, count);
    console.log(`nftables: ${count.toLocaleString('en')} entries into an empty firewall (ensure + list + diff + apply): ${restore.toFixed(0)} ms; `
      + `unchanged check (ensure + list + diff): ${check.toFixed(0)} ms`);
  }));
});

backendContract(perNamespace({
  name: 'nftables',
  refusal: { held: [entry('sshd', '198.51.100.0/24')], refused: entry('sshd', '198.51.100.128/25'), error: /interval overlaps/ },
}, createNetns, (ns, inner) => {
  const { exec, watch } = watchedExec(inner, reads);
  return {
    backend: createNftablesBackend({ exec }),
    shown: async () => shown(ns),
    objects: async () => ns.run(['nft', 'list', 'tables']).split('\n').filter((l) => l.includes('f2b-store')),
    watch,
    wipes: ['nft delete table inet f2b-store', 'nft flush ruleset'].map((name) => ({ name, run: () => void ns.run(name.split(' ')) })),
    async plantForeign() {
      ns.run(['nft', '-f', '-'], FOREIGN);
      return async () => foreign(ns);
    },
  };
}));
