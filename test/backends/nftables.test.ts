import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExecError, type Exec } from '../../src/backends/exec.js';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import { removedEntries } from '../../src/backends/nftables-json.js';
import { existingLines, planProbe, PROBE_SAMPLE } from '../../src/backends/nftables-plan.js';
import type { Command, Entry, EntryKey, JailRule } from '../../src/backends/types.js';
import { InputError, OperationError } from '../../src/core/index.js';
import { execFailure } from '../helpers/exec-error.js';

const T0 = 1_800_000_000;
const HOUR = 3600;
const SSHD: JailRule = { name: 'sshd', port: 'ssh,2222', blocktype: 'reject' };

const entry = (address: string, jail = 'sshd', expiresAt: number | null = null): Entry =>
  ({ jail, address, family: address.includes(':') ? 6 : 4, expiresAt });
const key = (address: string, jail = 'sshd'): EntryKey => ({ jail, address, family: address.includes(':') ? 6 : 4 });

const ENOENT = 'Error: Could not process rule: No such file or directory';

/** An Exec that answers reads from `reads` (keyed by argv) and records every command. */
function fakeNft(reads: Record<string, string> = {}, batch: (stdin: string) => void = () => undefined) {
  const calls: Command[] = [];
  const exec: Exec = async (command) => {
    calls.push(command);
    const argv = command.argv.join(' ');
    if (argv === 'nft -f -') {
      batch(command.stdin ?? '');
      return '';
    }
    const answer = reads[argv];
    if (answer === undefined) throw execFailure('Error: No such file or directory\n');
    return answer;
  };
  const changes = (): Command[] => calls.filter((c) => c.argv.join(' ') === 'nft -f -' || c.argv.includes('delete'));
  return { backend: createNftablesBackend({ exec }), calls, changes };
}

const META = { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } };
const nftJson = (...objects: object[]): string => JSON.stringify({ nftables: [META, ...objects] });

// Captured from nft 1.0.6 in a namespace after ensure([SSHD]) (`nft -j -t list ruleset inet`),
// next to a foreign table whose rule even carries a comment that looks like ours.
const SSHD_SETS = [
  { set: { family: 'inet', name: 'addr4-sshd', table: 'f2b-store', type: 'ipv4_addr', handle: 2, flags: ['timeout'] } },
  { set: { family: 'inet', name: 'addr6-sshd', table: 'f2b-store', type: 'ipv6_addr', handle: 3, flags: ['timeout'] } },
  { set: { family: 'inet', name: 'net4-sshd', table: 'f2b-store', type: 'ipv4_addr', handle: 4, flags: ['interval', 'timeout'] } },
  { set: { family: 'inet', name: 'net6-sshd', table: 'f2b-store', type: 'ipv6_addr', handle: 5, flags: ['interval', 'timeout'] } },
];
const CHAIN = { chain: { family: 'inet', table: 'f2b-store', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: -1, policy: 'accept' } };
const dport = { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: { set: [22, 2222] } } };
const saddr = (family: 'ip' | 'ip6', set: string) => ({ match: { op: '==', left: { payload: { protocol: family, field: 'saddr' } }, right: `@${set}` } });
const rule = (handle: number, comment: string, family: 'ip' | 'ip6', set: string) => ({
  rule: {
    family: 'inet', table: 'f2b-store', chain: 'input', handle, comment,
    expr: [dport, saddr(family, set), { reject: { type: family === 'ip' ? 'icmp' : 'icmpv6', expr: 'port-unreachable' } }],
  },
});
const SSHD_RULES = [
  rule(11, 'f2b-store addr4-sshd bc7b7d6a45c3', 'ip', 'addr4-sshd'),
  rule(13, 'f2b-store addr6-sshd 3fe2601266fe', 'ip6', 'addr6-sshd'),
  rule(15, 'f2b-store net4-sshd f373df973732', 'ip', 'net4-sshd'),
  rule(17, 'f2b-store net6-sshd 376d28da2ef7', 'ip6', 'net6-sshd'),
];
const OTHER = [
  { table: { family: 'inet', name: 'other', handle: 12 } },
  { set: { family: 'inet', name: 'keep', table: 'other', type: 'ipv4_addr', handle: 1 } },
  { chain: { family: 'inet', table: 'other', name: 'in', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
  {
    rule: {
      family: 'inet', table: 'other', chain: 'in', handle: 3, comment: 'f2b-store addr4-sshd 000000000000',
      expr: [saddr('ip', 'keep'), { counter: { packets: 0, bytes: 0 } }, { accept: null }],
    },
  },
];
const TABLE = { table: { family: 'inet', name: 'f2b-store', handle: 11 } };
const READ_STATE = 'nft -j -t list ruleset inet';
const READ_TABLE = 'nft -j list table inet f2b-store';

// Captured `nft -j list table inet f2b-store` sets with elements: a plain address, a prefix, and
// timed elements wrapped in {elem: {val, timeout, expires}}.
const LISTED = nftJson(
  TABLE,
  { set: { family: 'inet', name: 'addr4-sshd', table: 'f2b-store', type: 'ipv4_addr', handle: 2, flags: ['timeout'], elem: ['198.51.100.9', { elem: { val: '203.0.113.7', timeout: 3600, expires: 3599 } }] } },
  { set: { family: 'inet', name: 'net4-sshd', table: 'f2b-store', type: 'ipv4_addr', handle: 4, flags: ['interval', 'timeout'], elem: [{ prefix: { addr: '198.51.100.0', len: 24 } }] } },
  { set: { family: 'inet', name: 'addr6-9web', table: 'f2b-store', type: 'ipv6_addr', handle: 7, flags: ['timeout'], elem: ['2001:db8::7'] } },
  { set: { family: 'inet', name: 'net6-9web', table: 'f2b-store', type: 'ipv6_addr', handle: 9, flags: ['interval', 'timeout'], elem: [{ elem: { val: { prefix: { addr: '2001:db8::', len: 48 } }, timeout: 60, expires: 49 } }] } },
  { set: { family: 'inet', name: 'net6-sshd', table: 'f2b-store', type: 'ipv6_addr', handle: 5, flags: ['interval', 'timeout'] } },
  { set: { family: 'inet', name: 'scratch', table: 'f2b-store', type: 'ipv4_addr', handle: 10, elem: ['203.0.113.200'] } },
  CHAIN,
);

describe('nftables backend: plan', () => {
  const { backend } = fakeNft();
  const planText = (add: Entry[], remove: EntryKey[] = [], now = T0): string => {
    const commands = backend.plan({ add, remove }, [SSHD], now);
    assert.equal(commands.length, 1);
    assert.deepEqual(commands[0]!.argv, ['nft', '-f', '-']);
    return commands[0]!.stdin!;
  };

  it('adds hosts to the address sets and prefixes to the interval sets, timed or permanent', () => {
    const text = planText([
      entry('203.0.113.7', 'sshd', T0 + HOUR), entry('2001:db8::7'), entry('198.51.100.0/24', 'sshd', T0 + 90),
      entry('2001:db8:1::/48', 'recidive'), entry('203.0.113.8'),
    ]);
    assert.equal(text, [
      'add element inet f2b-store addr4-sshd { 203.0.113.7 timeout 3600s, 203.0.113.8 }',
      'add element inet f2b-store addr6-sshd { 2001:db8::7 }',
      'add element inet f2b-store net4-sshd { 198.51.100.0/24 timeout 90s }',
      'add element inet f2b-store net6-recidive { 2001:db8:1::/48 }',
      '',
    ].join('\n'), 'one statement per set');
  });

  it('deletes before adding, so a narrower prefix can take the place of a wider one', () => {
    const text = planText([entry('198.51.100.0/25')], [key('198.51.100.0/24'), key('2001:db8::7'), key('203.0.113.7')]);
    assert.equal(text, [
      'delete element inet f2b-store net4-sshd { 198.51.100.0/24 }',
      'delete element inet f2b-store addr6-sshd { 2001:db8::7 }',
      'delete element inet f2b-store addr4-sshd { 203.0.113.7 }',
      'add element inet f2b-store net4-sshd { 198.51.100.0/25 }',
      '',
    ].join('\n'));
  });

  it('skips what has expired, caps long timeouts at ten years, and merges duplicates keeping the longest', () => {
    const tenYears = 3650 * 86_400;
    const text = planText([
      entry('203.0.113.1', 'sshd', T0), entry('203.0.113.2', 'sshd', T0 - 5), entry('203.0.113.3', 'sshd', T0 + 100 * tenYears),
      entry('203.0.113.4', 'sshd', T0 + 10), entry('203.0.113.4', 'sshd', T0 + 20), entry('203.0.113.4', 'sshd', T0 + 15),
      entry('203.0.113.5', 'sshd', T0 + 10), entry('203.0.113.5'),
    ]);
    assert.equal(text, 'add element inet f2b-store addr4-sshd { 203.0.113.3 timeout 3650d0s, 203.0.113.4 timeout 20s, 203.0.113.5 }\n');
    assert.deepEqual(backend.plan({ add: [entry('203.0.113.1', 'sshd', T0)], remove: [] }, [SSHD], T0), [], 'nothing to do, no command');
  });

  it('splits very long element lists into statements of 10,000 in the same batch', () => {
    const many = Array.from({ length: 25_000 }, (_, i) => entry(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
    const lines = planText(many).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.map((l) => l.split(', ').length), [10_000, 10_000, 5_000]);
    assert.ok(lines[2]!.endsWith('10.0.97.167 }'));
  });

  it('refuses anything that is not a canonical address or a valid jail, naming it', () => {
    for (const bad of [
      entry('203.0.113.7; flush ruleset'), entry('10.1.2.3/8'), entry('::ffff:203.0.113.7'), entry('2001:DB8::1'),
      { ...entry('203.0.113.7'), family: 6 as const }, entry('203.0.113.7', 'ssh d'), entry('203.0.113.7', 'x } ; flush ruleset ; {'),
    ]) {
      assert.throws(() => backend.plan({ add: [bad], remove: [] }, [SSHD], T0), InputError, JSON.stringify(bad));
      assert.throws(() => backend.plan({ add: [], remove: [bad] }, [SSHD], T0), InputError, JSON.stringify(bad));
    }
    assert.throws(() => backend.plan({ add: [entry('10.1.2.3/8')], remove: [] }, [SSHD], T0), /"10\.1\.2\.3\/8"/);
  });
});

describe('nftables: the removals `nft -j monitor destroy elements` names', () => {
  it('reads hosts and prefixes, with and without timeouts, as nft 1.0.6 writes them', () => {
    const line = (name: string, elements: unknown[]): string =>
      JSON.stringify({ delete: { element: { family: 'inet', table: 'f2b-store', name, elem: { set: elements } } } });
    assert.deepEqual(removedEntries(line('addr4-sshd', [{ elem: { val: '203.0.113.4', timeout: 100, expires: 99 } }, '203.0.113.5'])), [
      { jail: 'sshd', address: '203.0.113.4', family: 4 }, { jail: 'sshd', address: '203.0.113.5', family: 4 },
    ]);
    assert.deepEqual(removedEntries(line('net6-recidive', [{ elem: { val: { prefix: { addr: '2001:db8::', len: 32 } }, timeout: 9, expires: 8 } }])), [
      { jail: 'recidive', address: '2001:db8::/32', family: 6 },
    ]);
  });

  it('cannot tell from anything else: a set not ours, an element not of its set, another table, no JSON', () => {
    const line = (table: string, name: string, elements: unknown[]): string =>
      JSON.stringify({ delete: { element: { family: 'inet', table, name, elem: { set: elements } } } });
    assert.equal(removedEntries(line('f2b-store', 'other', ['203.0.113.4'])), undefined);
    assert.equal(removedEntries(line('f2b-store', 'addr4-sshd', ['198.51.100.0/24'])), undefined);
    assert.equal(removedEntries(line('filter', 'addr4-sshd', ['203.0.113.4'])), undefined);
    assert.equal(removedEntries('{"delete": {"element": '), undefined);
  });
});

describe('nftables backend: represent', () => {
  const { backend } = fakeNft();

  it('keeps hosts as they are, even inside a banned prefix', () => {
    const desired = [entry('198.51.100.7'), entry('198.51.100.0/24'), entry('2001:db8::1'), entry('2001:db8::/32')];
    assert.deepEqual(backend.represent(desired), desired);
  });

  it('leaves out prefixes inside a wider one of the same jail and family, keeping the widest', () => {
    const desired = [
      entry('198.51.100.128/25', 'sshd', T0 + 9 * HOUR), entry('198.51.100.0/24', 'sshd', T0 + HOUR), entry('198.51.0.0/16'),
      entry('203.0.113.0/24'), entry('198.51.100.0/24', 'recidive'), entry('2001:db8:1::/48'), entry('2001:db8::/32'),
      entry('2001:db8:1:2::/64', 'other'), entry('203.0.113.0/25', 'other'),
    ];
    assert.deepEqual(backend.represent(desired).map((e) => `${e.jail} ${e.address}`), [
      'sshd 198.51.0.0/16', 'sshd 203.0.113.0/24', 'recidive 198.51.100.0/24', 'sshd 2001:db8::/32',
      'other 2001:db8:1:2::/64', 'other 203.0.113.0/25',
    ]);
  });

  it('keeps disjoint prefixes, and the longest expiry of a prefix given twice', () => {
    const desired = [entry('203.0.113.0/25', 'sshd', T0 + HOUR), entry('203.0.113.128/25'), entry('203.0.113.0/25', 'sshd', T0 + 2 * HOUR)];
    assert.deepEqual(backend.represent(desired), [entry('203.0.113.0/25', 'sshd', T0 + 2 * HOUR), entry('203.0.113.128/25')]);
    const permanent = [entry('203.0.113.0/25', 'sshd', T0 + HOUR), entry('203.0.113.0/25')];
    assert.deepEqual(backend.represent(permanent), [entry('203.0.113.0/25')]);
  });

  it('handles many prefixes quickly', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => entry(`10.${i >> 8}.${i & 255}.0/24`));
    const started = performance.now();
    const kept = backend.represent([...many, entry('10.0.0.0/9'), entry('10.128.0.0/9')]);
    assert.deepEqual(kept.map((e) => e.address), ['10.0.0.0/9', '10.128.0.0/9']);
    // Catches a quadratic pass (minutes at 50,000), with room for a loaded machine (5 s failed at load 14).
    assert.ok(performance.now() - started < 30_000);
  });
});

describe('nftables backend: list', () => {
  it('reads every element back in canonical form, ignoring sets that are not ours', async () => {
    const { backend } = fakeNft({ [READ_TABLE]: LISTED });
    assert.deepEqual(await backend.list(), [
      key('198.51.100.9'), key('203.0.113.7'), key('198.51.100.0/24'), key('2001:db8::7', '9web'), key('2001:db8::/48', '9web'),
    ]);
  });

  it('finds nothing when the table does not exist', async () => {
    const { backend } = fakeNft();
    assert.deepEqual(await backend.list(), []);
  });

  it('refuses elements it could never lift: ranges, hosts in a prefix set, the other family', async () => {
    const set = (name: string, elem: unknown[]) => nftJson(TABLE, { set: { family: 'inet', name, table: 'f2b-store', type: 'ipv4_addr', handle: 4, flags: ['interval', 'timeout'], elem } });
    for (const [name, elem, shown] of [
      ['net4-sshd', [{ range: ['203.0.113.4', '203.0.113.9'] }], /203\.0\.113\.4/],
      ['net4-sshd', ['203.0.113.9'], /"203\.0\.113\.9"/],
      ['addr6-sshd', ['::ffff:203.0.113.9'], /::ffff:203\.0\.113\.9/],
    ] as const) {
      const { backend } = fakeNft({ [READ_TABLE]: set(name, [...elem]) });
      await assert.rejects(backend.list(), (error: Error) => error instanceof OperationError && shown.test(error.message) && error.message.includes(name));
    }
  });
});

describe('nftables backend: one listing a drift tick', () => {
  // Our whole table as `nft -j list table` writes it: the structure ensure wants, and `hosts` elements in addr4-sshd.
  const whole = (hosts: number): string => nftJson(
    TABLE,
    { set: { ...SSHD_SETS[0]!.set, elem: Array.from({ length: hosts }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`) } },
    ...SSHD_SETS.slice(1), CHAIN, ...SSHD_RULES,
  );
  const argvs = (calls: readonly Command[]): string[] => calls.map((c) => c.argv.join(' '));
  /** A drift tick as the daemon runs one: the structural check (ensure), then the count, in one turn of the event loop. */
  const tick = async (backend: ReturnType<typeof fakeNft>['backend']): Promise<ReadonlyMap<string, number>> => {
    assert.deepEqual((await backend.ensure([SSHD], T0)).ran, []);
    return backend.census!.count();
  };

  it('a table of at most 10,000 elements at its last listing: its structure and its counts come from one nft run', async () => {
    const { backend, calls } = fakeNft({ [READ_TABLE]: whole(10_000), [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES) });
    // Nothing is known at first (a table of a million must not be listed for its structure): the terse read.
    assert.equal((await backend.census!.count()).get('addr4-sshd'), 10_000);
    assert.deepEqual(argvs(calls), [READ_TABLE]);
    for (let n = 0; n < 2; n++) {
      // Ticks are seconds apart: what one read is gone by the next.
      await new Promise((resolve) => setImmediate(resolve));
      calls.length = 0;
      assert.deepEqual(Object.fromEntries(await tick(backend)), { 'addr4-sshd': 10_000, 'addr6-sshd': 0, 'net4-sshd': 0, 'net6-sshd': 0 });
      assert.deepEqual(argvs(calls), [READ_TABLE], 'one listing for the tick');
    }
    // list() reads the real state back, always: not the listing the structural check just made.
    await new Promise((resolve) => setImmediate(resolve));
    calls.length = 0;
    await backend.ensure([SSHD], T0);
    assert.equal((await backend.list()).length, 10_000);
    assert.deepEqual(argvs(calls), [READ_TABLE, READ_TABLE]);
  });

  it('a larger table is read tersely for its structure, and listed for its count', async () => {
    const { backend, calls } = fakeNft({ [READ_TABLE]: whole(10_001), [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES) });
    await backend.census!.count();
    calls.length = 0;
    assert.equal((await tick(backend)).get('addr4-sshd'), 10_001);
    assert.deepEqual(argvs(calls), [READ_STATE, READ_TABLE]);
  });

  it('our applies count: a table grown past 10,000 by them is read tersely from then on', async () => {
    const { backend, calls } = fakeNft({ [READ_TABLE]: whole(9_999), [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES) });
    await backend.census!.count();
    await backend.apply({ add: [entry('203.0.113.1'), entry('203.0.113.2')], remove: [] }, [SSHD], T0);
    calls.length = 0;
    await backend.ensure([SSHD], T0);
    assert.deepEqual(argvs(calls), [READ_STATE]);
  });

  it('a command run between the two, or a turn of the event loop, makes the count list again', async () => {
    const { backend, calls } = fakeNft({ [READ_TABLE]: whole(3), [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES) });
    await backend.census!.count();
    calls.length = 0;
    await backend.ensure([SSHD], T0);
    await backend.apply({ add: [entry('203.0.113.1')], remove: [] }, [SSHD], T0);
    await backend.census!.count();
    assert.deepEqual(argvs(calls), [READ_TABLE, 'nft -f -', READ_TABLE]);
    calls.length = 0;
    await backend.ensure([SSHD], T0);
    await new Promise((resolve) => setImmediate(resolve));
    await backend.census!.count();
    assert.deepEqual(argvs(calls), [READ_TABLE, READ_TABLE]);
  });
});

describe('nftables backend: ensure', () => {
  it('creates table, chain, four sets and four rules per jail in one batch on an empty ruleset', async () => {
    const { backend, changes } = fakeNft({ [READ_STATE]: nftJson(...OTHER) });
    const commands = (await backend.ensure([SSHD, { name: '9web', blocktype: 'drop' }], T0)).ran;
    assert.deepEqual(changes(), commands);
    assert.equal(commands.length, 1);
    assert.equal(commands[0]!.stdin, [
      'add table inet f2b-store',
      'add chain inet f2b-store input { type filter hook input priority filter - 1; policy accept; }',
      'add set inet f2b-store addr4-sshd { type ipv4_addr; flags timeout; }',
      'add set inet f2b-store addr6-sshd { type ipv6_addr; flags timeout; }',
      'add set inet f2b-store net4-sshd { type ipv4_addr; flags interval, timeout; }',
      'add set inet f2b-store net6-sshd { type ipv6_addr; flags interval, timeout; }',
      'add set inet f2b-store addr4-9web { type ipv4_addr; flags timeout; }',
      'add set inet f2b-store addr6-9web { type ipv6_addr; flags timeout; }',
      'add set inet f2b-store net4-9web { type ipv4_addr; flags interval, timeout; }',
      'add set inet f2b-store net6-9web { type ipv6_addr; flags interval, timeout; }',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip saddr @addr4-sshd reject comment "f2b-store addr4-sshd bc7b7d6a45c3"',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip6 saddr @addr6-sshd reject comment "f2b-store addr6-sshd 3fe2601266fe"',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip saddr @net4-sshd reject comment "f2b-store net4-sshd f373df973732"',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip6 saddr @net6-sshd reject comment "f2b-store net6-sshd 376d28da2ef7"',
      'add rule inet f2b-store input ip saddr @addr4-9web drop comment "f2b-store addr4-9web 1697095647f5"',
      'add rule inet f2b-store input ip6 saddr @addr6-9web drop comment "f2b-store addr6-9web 93ce2f810dd6"',
      'add rule inet f2b-store input ip saddr @net4-9web drop comment "f2b-store net4-9web 590c3887e060"',
      'add rule inet f2b-store input ip6 saddr @net6-9web drop comment "f2b-store net6-9web 22985bc16e83"',
      '',
    ].join('\n'));
  });

  it('changes nothing and returns [] when everything is in place', async () => {
    const { backend, changes } = fakeNft({ [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES, ...OTHER) });
    assert.deepEqual((await backend.ensure([SSHD], T0)).ran, []);
    assert.deepEqual(changes(), []);
  });

  it('falls back to reading its own table when the ruleset cannot be read', async () => {
    const { backend, calls } = fakeNft({ [READ_TABLE]: nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES) });
    assert.deepEqual((await backend.ensure([SSHD], T0)).ran, []);
    assert.deepEqual(calls.map((c) => c.argv.join(' ')), [READ_STATE, READ_TABLE]);
  });

  it('adds only what is missing: a deleted set and its rule, a deleted rule', async () => {
    const state = nftJson(TABLE, ...SSHD_SETS.slice(0, 3), CHAIN, ...SSHD_RULES.slice(1, 3));
    const { backend } = fakeNft({ [READ_STATE]: state });
    const [command] = (await backend.ensure([SSHD], T0)).ran;
    assert.equal(command!.stdin, [
      'add set inet f2b-store net6-sshd { type ipv6_addr; flags interval, timeout; }',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip saddr @addr4-sshd reject comment "f2b-store addr4-sshd bc7b7d6a45c3"',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip6 saddr @net6-sshd reject comment "f2b-store net6-sshd 376d28da2ef7"',
      '',
    ].join('\n'));
  });

  it('replaces rules of a jail whose ports or blocktype changed, and duplicates', async () => {
    const state = nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES, rule(30, 'f2b-store addr4-sshd bc7b7d6a45c3', 'ip', 'addr4-sshd'));
    const { backend } = fakeNft({ [READ_STATE]: state });
    const [dup] = (await backend.ensure([SSHD], T0)).ran;
    assert.equal(dup!.stdin, 'delete rule inet f2b-store input handle 30\n');
    const [changed] = (await backend.ensure([{ name: 'sshd', port: '8000:8100', protocol: 'udp', blocktype: 'drop' }], T0)).ran;
    const lines = changed!.stdin!.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 5), [11, 13, 15, 17, 30].map((h) => `delete rule inet f2b-store input handle ${h}`));
    assert.match(lines[5]!, /^add rule inet f2b-store input meta l4proto udp th dport \{ 8000-8100 \} ip saddr @addr4-sshd drop comment "f2b-store addr4-sshd [0-9a-f]{12}"$/);
    assert.equal(lines.length, 9);
  });

  it('recreates a set of the wrong kind (with its rule) and a chain on the wrong hook', async () => {
    const wrongSet = { set: { ...SSHD_SETS[0]!.set, flags: [] } };
    const wrongChain = { chain: { ...CHAIN.chain, prio: 0 } };
    const { backend } = fakeNft({ [READ_STATE]: nftJson(TABLE, wrongSet, ...SSHD_SETS.slice(1), CHAIN, ...SSHD_RULES) });
    const [set] = (await backend.ensure([SSHD], T0)).ran;
    assert.equal(set!.stdin, [
      'delete rule inet f2b-store input handle 11',
      'delete set inet f2b-store addr4-sshd',
      'add set inet f2b-store addr4-sshd { type ipv4_addr; flags timeout; }',
      'add rule inet f2b-store input meta l4proto tcp th dport { ssh, 2222 } ip saddr @addr4-sshd reject comment "f2b-store addr4-sshd bc7b7d6a45c3"',
      '',
    ].join('\n'));
    const chainState = fakeNft({ [READ_STATE]: nftJson(TABLE, ...SSHD_SETS, wrongChain, ...SSHD_RULES) });
    const [chain] = (await chainState.backend.ensure([SSHD], T0)).ran;
    const lines = chain!.stdin!.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      'flush chain inet f2b-store input', 'delete chain inet f2b-store input',
      'add chain inet f2b-store input { type filter hook input priority filter - 1; policy accept; }',
    ]);
    assert.equal(lines.filter((l) => l.startsWith('add rule')).length, 4);
  });

  it('writes ports and protocols the way nft wants them, and refuses bad ones', async () => {
    const ruleOf = async (jail: Partial<JailRule>): Promise<string> => {
      const { backend } = fakeNft({ [READ_STATE]: nftJson() });
      const [command] = (await backend.ensure([{ name: 'web', blocktype: 'reject', ...jail }], T0)).ran;
      return command!.stdin!.split('\n').find((l) => l.includes('@addr4-web'))!.replace(/ comment .*/, '');
    };
    const prefix = 'add rule inet f2b-store input ';
    assert.equal(await ruleOf({}), `${prefix}ip saddr @addr4-web reject`);
    assert.equal(await ruleOf({ port: 'http, HTTPS,8000:8100, 8443:8443' }), `${prefix}meta l4proto tcp th dport { http, https, 8000-8100, 8443 } ip saddr @addr4-web reject`);
    assert.equal(await ruleOf({ port: '0:65535', protocol: 'tcp,udp', blocktype: 'drop' }), `${prefix}meta l4proto { tcp, udp } th dport { 0-65535 } ip saddr @addr4-web drop`);
    assert.equal(await ruleOf({ port: ' ', protocol: 'udp' }), `${prefix}ip saddr @addr4-web reject`, 'no ports: every port');
    for (const bad of [{ port: '70000' }, { port: '22;flush ruleset' }, { port: '9:1' }, { port: 'ssh:http' }, { port: '22', protocol: 'icmp' }, { port: '22', protocol: 'tcp }' }]) {
      await assert.rejects(ruleOf(bad), InputError, JSON.stringify(bad));
    }
    await assert.rejects(ruleOf({ name: '-bad' }), InputError);
  });
});

describe('nftables backend: apply', () => {
  it('runs the plan as one batch and counts', async () => {
    const batches: string[] = [];
    const { backend } = fakeNft({}, (stdin) => batches.push(stdin));
    const report = await backend.apply({ add: [entry('203.0.113.7'), entry('203.0.113.8', 'sshd', T0 - 1)], remove: [key('2001:db8::7')] }, [SSHD], T0);
    assert.deepEqual(report, { added: 1, removed: 1, failed: [] });
    assert.equal(batches.length, 1);
  });

  it('when the batch fails, settles each element: absent deletes are fine, the rest is reported', async () => {
    const state = nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES);
    const batches: string[] = [];
    const { backend } = fakeNft({ [READ_STATE]: state }, (stdin) => {
      batches.push(stdin);
      if (stdin.includes('delete element inet f2b-store addr4-sshd { 203.0.113.99')) throw execFailure(`/dev/stdin:1:40-50: ${ENOENT}\n`);
      if (stdin.includes('198.51.100.128/25')) throw execFailure('/dev/stdin:3:1-20: Error: interval overlaps with an existing one\n');
    });
    const add = Array.from({ length: 100 }, (_, i) => entry(`203.0.113.${i}`, 'sshd', T0 + HOUR));
    const report = await backend.apply({
      add: [...add, entry('198.51.100.128/25'), entry('203.0.113.200', 'nojail'), entry('not an address')],
      remove: [key('203.0.113.99'), key('2001:db8::1', 'nojail')],
    }, [SSHD], T0);
    assert.equal(report.added, 100);
    assert.equal(report.removed, 2, 'an absent element or set is already removed');
    assert.deepEqual(report.failed.map((f) => f.entry.address), ['not an address', '203.0.113.200', '198.51.100.128/25']);
    assert.match(report.failed[1]!.error, /addr4-nojail does not exist/);
    assert.match(report.failed[2]!.error, /interval overlaps/);
    assert.ok(batches.length < 30, `bisected, not one command per element: ${batches.length}`);
  });

  it('stops retrying after a bounded number of commands when every element fails', async () => {
    const state = nftJson(TABLE, ...SSHD_SETS, CHAIN, ...SSHD_RULES);
    let batches = 0;
    const { backend } = fakeNft({ [READ_STATE]: state }, () => {
      batches++;
      throw execFailure('Error: Could not process rule: Cannot allocate memory\n');
    });
    const add = Array.from({ length: 5000 }, (_, i) => entry(`10.0.${i >> 8}.${i & 255}`));
    const report = await backend.apply({ add, remove: [] }, [SSHD], T0);
    assert.equal(report.added, 0);
    assert.equal(report.failed.length, 5000);
    assert.ok(batches <= 501, `${batches} commands`);
    assert.match(report.failed.at(-1)!.error, /not retried alone: the 500 commands one apply may run were spent/);
    assert.ok(report.failed.some((f) => /Cannot allocate memory/.test(f.error)), 'the real error is reported for those tried');
  });

  it('does not retry element by element when nft itself is missing', async () => {
    let runs = 0;
    const exec: Exec = async () => {
      runs++;
      throw new ExecError('nft not found: install nftables', { kind: 'missing' });
    };
    const report = await createNftablesBackend({ exec }).apply({ add: [entry('203.0.113.7'), entry('203.0.113.8')], remove: [] }, [SSHD], T0);
    assert.equal(runs, 1);
    assert.deepEqual(report.failed.map((f) => f.error), ['nftables: nft not found: install nftables', 'nftables: nft not found: install nftables']);
  });
});

describe('nftables backend: flush', () => {
  it('deletes its table when present and nothing else, and does nothing when absent', async () => {
    const present = fakeNft({ [READ_STATE]: nftJson(TABLE, ...OTHER) });
    await present.backend.flush();
    assert.deepEqual(present.changes().map((c) => c.argv), [['nft', 'delete', 'table', 'inet', 'f2b-store']]);
    const absent = fakeNft({ [READ_STATE]: nftJson(...OTHER) });
    await absent.backend.flush();
    assert.deepEqual(absent.changes(), []);
  });
});

describe('nftables backend: probe batch', () => {
  it('names every element of a small set and a sample of a large one, after a line that always fails', () => {
    const large = Array.from({ length: PROBE_SAMPLE * 4 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    let next = 0;
    const probe = planProbe(new Map([['addr4-web', ['192.0.2.1', '192.0.2.2']], ['addr4-sshd', large]]), (n) => (next += 7) % n);
    const lines = probe.text.trimEnd().split('\n');
    assert.equal(lines[0], 'create table inet f2b-store');
    assert.deepEqual(lines.slice(1, 3), ['create element inet f2b-store addr4-web { 192.0.2.1 }', 'create element inet f2b-store addr4-web { 192.0.2.2 }']);
    assert.equal(probe.lines, 3 + PROBE_SAMPLE);
    assert.equal(new Set(lines.slice(3)).size, PROBE_SAMPLE);
  });

  it('reads the lines nft reported as existing from its stderr', () => {
    const stderr = [
      '/dev/stdin:1:19-27: Error: Could not process rule: File exists', 'create table inet f2b-store', '                  ^^^^^^^^^',
      '/dev/stdin:3:44-58: Error: Could not process rule: File exists', 'create element inet f2b-store addr4-sshd { 10.0.0.2 }',
      '/dev/stdin:4:44-58: Error: Could not process rule: No such file or directory', 'create element inet f2b-store addr4-sshd { 10.0.0.3 }',
    ].join('\n');
    assert.deepEqual([...existingLines(stderr)], [1, 3]);
  });
});
