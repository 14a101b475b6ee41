import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { systemStream, type Exec, type ExecStream } from '../../src/backends/exec.js';
import { createIpsetBackend } from '../../src/backends/ipset.js';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import { RESTORE_RUN } from '../../src/backends/nftables-restore.js';
import type { Backend, Command, JailRule } from '../../src/backends/types.js';
import { lockoutCheck, nowSeconds, type Ban } from '../../src/core/index.js';
import { banFloor, jailRulesOf, reconcile, type BackendReport, type RefusedBan } from '../../src/reconcile/index.js';
import { inRecordingNetns } from '../helpers/backend.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const NOW = nowSeconds();

function ban(address: string, jail: string, expiresAt: number | null = NOW + 3600): Ban {
  return { address, jail, bannedAt: NOW, expiresAt, source: 'manual', reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null, forced: false };
}

const v4 = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const hosts = (count: number, jail: string, address: (i: number) => string): Ban[] => Array.from({ length: count }, (_, i) => ban(address(i), jail));

/** sshd: 5,000 IPv4 hosts and two prefixes, one inside the other; web: 1,000 IPv6 hosts; idle: configured, without bans. */
const BANS = [
  ...hosts(5_000, 'sshd', v4),
  ban('10.200.0.0/16', 'sshd', null), ban('10.200.7.0/24', 'sshd'),
  ...hosts(1_000, 'web', (i) => `2001:db8::${(i + 1).toString(16)}`),
];
const JAILS: readonly JailRule[] = [
  { name: 'sshd', port: '22', blocktype: 'reject' }, { name: 'web', port: '80,443', blocktype: 'drop' }, { name: 'idle', blocktype: 'reject' },
];
const OPTIONS = { rules: jailRulesOf(JAILS), jails: JAILS.map((jail) => jail.name), allOrNothing: true, known: () => BANS.length };

/** What one streamed restore went through. */
interface Stream {
  /** The text of each write, in order. */
  readonly writes: string[];
  /** How many writes there were when the last ban had been read. */
  writtenWhenRead?: number;
  /** The firewall's own listing right after the stream failed, if it did. */
  afterFailure?: string;
  aborted?: boolean;
  /** How many commands the restore started. */
  started: number;
}

interface Run {
  readonly ns: Netns;
  readonly backend: Backend;
  readonly commands: Command[];
  readonly stream: Stream;
  /** The bans, read lazily as the store hands them, noting when the last was read. */
  active(bans: readonly Ban[]): Iterable<Ban>;
}

/** How the commands of a restore run beside the reading, in a test. */
interface Timing {
  /** A command takes its first write only once the one started before it has ended: a store read slower than nft commits. */
  readonly paced?: boolean;
  /** Killing a command whose input has ended comes too late: it goes on to its commit. */
  readonly lateKill?: boolean;
}

/**
 * A backend in a namespace of its own, streaming through the real systemStream; `spoil` may
 * change what a write sends, and `look` is what is read from the firewall when the stream fails.
 */
function inNetns(
  create: (options: { exec: Exec; stream: ExecStream }) => Backend,
  look: (ns: Netns) => string,
  fn: (run: Run) => Promise<void>,
  spoil: (text: string, index: number, command: number) => string = (text) => text,
  timing: Timing = {},
): () => Promise<void> {
  return async () => {
    const state: Stream = { writes: [], started: 0 };
    let netns: Netns | undefined;
    const recording = (name: string): ExecStream => {
      const real = systemStream(name);
      let lastEnd: Promise<unknown> | undefined;
      return (command) => {
        const number = ++state.started;
        const started = real(command);
        const before = timing.paced ? lastEnd : undefined;
        let ended = false;
        return {
          write: async (text) => {
            await before?.catch(() => undefined);
            await started.write(spoil(text, state.writes.push(text) - 1, number));
          },
          end: () => {
            ended = true;
            const done = started.end().catch((error: unknown) => {
              state.afterFailure = netns ? look(netns) : '';
              throw error;
            });
            lastEnd = done;
            return done;
          },
          abort: () => {
            state.aborted = true;
            if (!ended || !timing.lateKill) started.abort();
          },
        };
      };
    };
    await inRecordingNetns(({ exec, netns: name }) => create({ exec, stream: recording(name) }), async ({ ns, backend, commands }) => {
      netns = ns;
      function* active(bans: readonly Ban[]): Iterable<Ban> {
        yield* bans;
        state.writtenWhenRead = state.writes.length;
      }
      await fn({ ns, backend, commands, stream: state, active });
    })();
  };
}

const nftTables = (ns: Netns): string => ns.run(['nft', 'list', 'tables']);

function nftElements(ns: Netns, set: string): number {
  const json = JSON.parse(ns.run(['nft', '-j', 'list', 'set', 'inet', 'f2b-store', set])) as { nftables: { set?: { elem?: unknown[] } }[] };
  return json.nftables.find((item) => item.set)?.set?.elem?.length ?? 0;
}

const summary = (report: BackendReport | undefined): object => ({ added: report?.added, removed: report?.removed, failed: report?.failed.length, error: report?.error });

/** Every ban in place: sshd's hosts, its wider prefix (the narrower one inside it left out), web's hosts, and rules for each jail, idle's too. */
function assertNftRestored(ns: Netns): void {
  assert.equal(nftElements(ns, 'addr4-sshd'), 5_000);
  assert.equal(nftElements(ns, 'net4-sshd'), 1);
  assert.equal(nftElements(ns, 'addr6-web'), 1_000);
  assert.equal(nftElements(ns, 'addr4-idle'), 0);
  const chain = ns.run(['nft', 'list', 'chain', 'inet', 'f2b-store', 'input']);
  assert.equal(chain.match(/comment "f2b-store /g)?.length, 12, chain);
  assert.match(chain, /tcp dport 22 ip saddr @addr4-sshd reject/);
}

const nftInNetns = (fn: (run: Run) => Promise<void>, spoil?: (text: string, index: number, command: number) => string, timing?: Timing): (() => Promise<void>) =>
  inNetns(createNftablesBackend, nftTables, fn, spoil, timing);

describe('nftables: a restore into an empty namespace is streamed into one nft -f (real nft)', { timeout: 120_000 }, () => {
  it('the elements reach nft while the bans are still read, and the kernel holds every one', nftInNetns(async ({ ns, backend, commands, stream, active }) => {
    const [report] = await reconcile(active(BANS), [backend], NOW, OPTIONS);
    assert.deepEqual(summary(report), { added: 6_001, removed: 0, failed: 0, error: null });
    assertNftRestored(ns);
    assert.ok((stream.writtenWhenRead ?? 0) > 1 && stream.writes.slice(1, stream.writtenWhenRead).some((text) => text.includes('create element')),
      'elements were written before the last ban was read');
    assert.equal(commands.filter((c) => c.stdin?.includes('add element')).length, 0, 'no element went the usual way');
    const [again] = await reconcile(BANS, [backend], NOW, OPTIONS);
    assert.deepEqual({ ...summary(again), unchanged: again?.unchanged }, { added: 0, removed: 0, failed: 0, error: null, unchanged: 6_001 });
  }));

  it('a stream nft refuses leaves no table behind; the usual way then restores it, and says so', nftInNetns(async ({ ns, backend, stream, active }) => {
    const [report] = await reconcile(active(BANS), [backend], NOW, OPTIONS);
    assert.equal(stream.afterFailure?.includes('f2b-store'), false, `nft list tables after the failure: ${stream.afterFailure ?? '(no failure)'}`);
    assert.deepEqual(summary(report), { added: 6_001, removed: 0, failed: 0, error: null });
    assert.match(report?.notes?.[0] ?? '', /^nftables: the restore streamed into it failed \(.*No such file or directory.*\); it was done the usual way$/);
    assertNftRestored(ns);
  }, (text, index) => (index === 2 ? `${text}add element inet f2b-store addr4-nosuch { 192.0.2.1 }\n` : text)));

  it('a ban given twice fails the stream; the usual way then holds it once, with the later expiry', nftInNetns(async ({ ns, backend }) => {
    const twice = [...BANS, ban('10.0.0.9', 'sshd', null)];
    const [report] = await reconcile(twice, [backend], NOW, OPTIONS);
    assert.deepEqual(summary(report), { added: 6_001, removed: 0, failed: 0, error: null });
    assert.match(report?.notes?.[0] ?? '', /^nftables: the restore streamed into it failed \(.*File exists.*\); it was done the usual way$/);
    assertNftRestored(ns);
    const held = ns.run(['nft', 'get', 'element', 'inet', 'f2b-store', 'addr4-sshd', '{ 10.0.0.9 }']);
    assert.doesNotMatch(held, /10\.0\.0\.9 (timeout|expires)/, held);
  }));

  it('a store that fails while read ends the stream, and leaves no table behind', nftInNetns(async ({ ns, backend, stream }) => {
    function* failing(): Iterable<Ban> {
      yield* BANS.slice(0, 4_500);
      throw new Error('database disk image is malformed');
    }
    await assert.rejects(reconcile(failing(), [backend], NOW, OPTIONS), /malformed/);
    assert.equal(stream.aborted, true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(nftTables(ns).includes('f2b-store'), false);
  }));
});

/**
 * sshd: 2 RESTORE_RUNs and 2,000 IPv4 hosts, and a prefix; web: 1,000 IPv6 hosts: two nft runs
 * and a last one, paced. The second run is neither the first nor the last: what a run refused
 * after another committed leaves, and a run between others, need no more.
 */
const MANY_HOSTS = 2 * RESTORE_RUN + 2_000;
const MANY = [...hosts(MANY_HOSTS, 'sshd', v4), ban('10.200.0.0/16', 'sshd', null), ...hosts(1_000, 'web', (i) => `2001:db8::${(i + 1).toString(16)}`)];
const MANY_OPTIONS = { ...OPTIONS, known: () => MANY.length };

/**
 * Every set's element count and the comments of the input chain's rules, from one listing: nft
 * 1.0.6 fetches every element of the table for any listing of it, a set's or a chain's alike
 * (about 0.3 s of CPU at 50,000), so one read of the whole table costs no more than one of those.
 */
function nftTable(ns: Netns): { elements: Map<string, number>; ruleComments: string[] } {
  const json = JSON.parse(ns.run(['nft', '-j', 'list', 'table', 'inet', 'f2b-store'])) as {
    nftables: { set?: { name: string; elem?: unknown[] }; rule?: { chain: string; comment?: string } }[];
  };
  const elements = new Map<string, number>();
  const ruleComments: string[] = [];
  for (const item of json.nftables) {
    if (item.set) elements.set(item.set.name, item.set.elem?.length ?? 0);
    if (item.rule?.chain === 'input') ruleComments.push(item.rule.comment ?? '');
  }
  return { elements, ruleComments };
}

function assertManyRestored(ns: Netns): void {
  const { elements, ruleComments } = nftTable(ns);
  assert.equal(elements.get('addr4-sshd'), MANY_HOSTS);
  assert.equal(elements.get('net4-sshd'), 1);
  assert.equal(elements.get('addr6-web'), 1_000);
  assert.equal(ruleComments.filter((comment) => comment.startsWith('f2b-store ')).length, 12, ruleComments.join('\n'));
}

describe('nftables: a restore of more than RESTORE_RUN elements goes as several nft runs (real nft)', { timeout: 180_000 }, () => {
  it('runs commit while the bans are still read, without rules until the last; the kernel then holds every ban', nftInNetns(async ({ ns, backend, stream }) => {
    let whenRead: ReturnType<typeof nftTable> | string | undefined;
    function* active(): Iterable<Ban> {
      yield* MANY;
      try {
        whenRead = nftTable(ns);
      } catch (error) {
        // No table yet: nft says so.
        whenRead = String(error);
      }
    }
    let reads = 0;
    const reread = (): Iterable<Ban> => {
      reads++;
      return MANY;
    };
    const [report] = await reconcile(active(), [backend], NOW, { ...MANY_OPTIONS, reread });
    assert.deepEqual(summary(report), { added: MANY.length, removed: 0, failed: 0, error: null });
    assert.equal(reads, 0, 'a restore that succeeds reads the bans once');
    assert.equal(stream.started, 3);
    assert.ok(typeof whenRead === 'object', `a run was committed before the last ban was read (${whenRead})`);
    assert.deepEqual(whenRead.ruleComments.filter((comment) => comment.startsWith('f2b-store ')), [], 'no rule before the last run');
    assertManyRestored(ns);
    const [again] = await reconcile(MANY, [backend], NOW, MANY_OPTIONS);
    assert.deepEqual({ ...summary(again), unchanged: again?.unchanged }, { added: 0, removed: 0, failed: 0, error: null, unchanged: MANY.length });
  }, undefined, { paced: true }));

  it('a run refused after others committed: the usual way leaves the firewall equal to the store, and says so', nftInNetns(async ({ ns, backend, commands }) => {
    const [report] = await reconcile(MANY, [backend], NOW, MANY_OPTIONS);
    assert.deepEqual(summary(report), { added: MANY.length, removed: 0, failed: 0, error: null });
    assert.match(report?.notes?.[0] ?? '', /^nftables: the restore streamed into it failed \(.*No such file or directory.*\); it was done the usual way$/);
    assert.ok(commands.some((c) => c.argv.join(' ') === 'nft delete table inet f2b-store'), 'what the committed runs made was deleted');
    assertManyRestored(ns);
    const [again] = await reconcile(MANY, [backend], NOW, MANY_OPTIONS);
    assert.deepEqual({ ...summary(again), unchanged: again?.unchanged }, { added: 0, removed: 0, failed: 0, error: null, unchanged: MANY.length });
  }, (text, index, command) => (command === 2 ? `${text}add element inet f2b-store addr4-nosuch { 192.0.2.1 }\n` : text), { paced: true }));

  it('a run refused after others committed, the entries read not kept: the usual way reads the bans again, and the floor\'s refusals are told once', nftInNetns(async ({ ns, backend }) => {
    const loopback = ban('127.0.0.1', 'sshd');
    const refused: string[] = [];
    let reads = 0;
    const reread = (): Iterable<Ban> => {
      reads++;
      return [...MANY, loopback];
    };
    const options = { ...MANY_OPTIONS, floor: banFloor(lockoutCheck([])), refused: ({ ban: { address } }: RefusedBan) => refused.push(address), reread };
    const [report] = await reconcile([...MANY, loopback], [backend], NOW, options);
    assert.deepEqual(summary(report), { added: MANY.length, removed: 0, failed: 0, error: null });
    assert.match(report?.notes?.[0] ?? '', /^nftables: the restore streamed into it failed \(.*No such file or directory.*\); it was done the usual way$/);
    assert.equal(reads, 1);
    assert.deepEqual(refused, ['127.0.0.1']);
    assertManyRestored(ns);
  }, (text, index, command) => (command === 2 ? `${text}add element inet f2b-store addr4-nosuch { 192.0.2.1 }\n` : text), { paced: true }));

  it('a last run refused after others committed leaves no table; nor does the usual way, refused as well', nftInNetns(async ({ ns, backend }) => {
    const jails = [{ name: 'sshd', port: 'no-such-service', blocktype: 'reject' as const }, { name: 'web', blocktype: 'drop' as const }];
    const [report] = await reconcile(MANY, [backend], NOW, { rules: jailRulesOf(jails), allOrNothing: true, known: () => MANY.length });
    assert.match(report?.error ?? '', /no-such-service/);
    assert.match(report?.notes?.[0] ?? '', /^nftables: the restore streamed into it failed \(.*no-such-service.*\); it was done the usual way$/);
    assert.equal(nftTables(ns).includes('f2b-store'), false);
  }));

  it('a store that fails after a run was committed leaves no table behind', nftInNetns(async ({ ns, backend, commands, stream }) => {
    function* failing(): Iterable<Ban> {
      yield* MANY.slice(0, 2 * RESTORE_RUN);
      throw new Error('database disk image is malformed');
    }
    await assert.rejects(reconcile(failing(), [backend], NOW, MANY_OPTIONS), /malformed/);
    assert.equal(stream.aborted, true);
    assert.ok(commands.some((c) => c.argv.join(' ') === 'nft delete table inet f2b-store'), 'what the committed run made was deleted');
    assert.equal(nftTables(ns).includes('f2b-store'), false);
  }, undefined, { lateKill: true }));
});

const ipsetHeaders = (ns: Netns): string => ns.run(['ipset', 'list', '-t']);

function ipsetEntries(ns: Netns, set: string): number {
  return Number(/Number of entries: (\d+)/.exec(ns.run(['ipset', 'list', '-t', set]))?.[1]);
}

const ipsetInNetns = (fn: (run: Run) => Promise<void>, spoil?: (text: string, index: number) => string): (() => Promise<void>) =>
  inNetns(createIpsetBackend, ipsetHeaders, fn, spoil);

function assertIpsetRestored(ns: Netns): void {
  // hash:net holds the prefix and the one inside it alike.
  assert.equal(ipsetEntries(ns, 'f2bs4-sshd'), 5_002);
  assert.equal(ipsetEntries(ns, 'f2bs6-web'), 1_000);
  assert.equal(ipsetEntries(ns, 'f2bs4-idle'), 0);
  assert.match(ns.run(['iptables', '-S', 'INPUT']), /--dports 22 -m set --match-set f2bs4-sshd src -j REJECT/);
  assert.match(ns.run(['ip6tables', '-S', 'INPUT']), /-m set --match-set f2bs6-web src -j DROP/);
}

describe('ipset: a restore into a namespace without our sets is streamed into one ipset restore (real ipset)', { timeout: 180_000 }, () => {
  it('the entries reach ipset while the bans are still read; rules follow', ipsetInNetns(async ({ ns, backend, commands, stream, active }) => {
    const [report] = await reconcile(active(BANS), [backend], NOW, OPTIONS);
    assert.deepEqual(summary(report), { added: 6_002, removed: 0, failed: 0, error: null });
    assertIpsetRestored(ns);
    assert.ok((stream.writtenWhenRead ?? 0) > 1, 'entries were written before the last ban was read');
    assert.equal(commands.filter((c) => c.stdin?.includes('add f2bs')).length, 0, 'no entry went the usual way');
    const [again] = await reconcile(BANS, [backend], NOW, OPTIONS);
    assert.deepEqual({ ...summary(again), unchanged: again?.unchanged }, { added: 0, removed: 0, failed: 0, error: null, unchanged: 6_002 });
  }));

  it('a stream ipset refuses half-way is finished the usual way from what it left, and says so', ipsetInNetns(async ({ ns, backend, stream }) => {
    const [report] = await reconcile(BANS, [backend], NOW, OPTIONS);
    assert.match(stream.afterFailure ?? '', /Name: f2bs4-sshd/, 'the lines before the refused one were applied');
    assert.equal(report?.error, null);
    assert.equal(report?.failed.length, 0);
    assert.match(report?.notes?.[0] ?? '', /^ipset: the restore streamed into it failed \(.*\); it was done the usual way$/);
    assertIpsetRestored(ns);
  }, (text, index) => (index === 1 ? `${text}add f2bs4-nosuch 192.0.2.1\n` : text)));

  it('a ban given twice stops the stream; the usual way then adds what it left out', ipsetInNetns(async ({ ns, backend }) => {
    const twice = [...BANS, ban('10.0.0.9', 'sshd', null)];
    const [report] = await reconcile(twice, [backend], NOW, OPTIONS);
    assert.equal(report?.error, null);
    assert.match(report?.notes?.[0] ?? '', /^ipset: the restore streamed into it failed \(.*already added.*\); it was done the usual way$/);
    assertIpsetRestored(ns);
  }));

  it('a set that outgrows what it was created for is grown, and takes every entry', ipsetInNetns(async ({ ns, backend }) => {
    const many = hosts(70_000, 'sshd', v4);
    const [report] = await reconcile(many, [backend], NOW, { allOrNothing: true, known: () => many.length });
    assert.deepEqual(summary(report), { added: 70_000, removed: 0, failed: 0, error: null });
    assert.equal(ipsetEntries(ns, 'f2bs4-sshd'), 70_000);
  }));
});

describe('the built binary restores into an empty namespace by the stream, and fails as before when nft refuses (real nft)', { timeout: 120_000 }, () => {
  it('a refused restore leaves no table and exits 1; once the configuration is right the next one restores every ban', () => {
    const tmp = tempDir();
    const ns = createNetns();
    try {
      const config = join(tmp.dir, 'etc');
      mkdirSync(config);
      writeFileSync(join(tmp.dir, 'auth.log'), '');
      writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = nftables\n');
      const jail = (port: string): void => writeFileSync(join(config, 'jail.local'),
        `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(tmp.dir, 'auth.log')}\nport = ${port}\n`);
      const args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', ns.name];
      const banned = runCli([...args, '--backend', 'none', 'ban', '203.0.113.7', '2001:db8::7', '198.51.100.0/24', '--jail', 'sshd', '--for', '1h']);
      assert.equal(banned.code, 0, banned.stderr);
      // A service name nft does not know: only nft itself finds out, at the end of the stream.
      jail('no-such-service');
      const refused = runCli([...args, 'reconcile'], { timeoutMs: 60_000 });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /nftables: the restore streamed into it failed \(.*no-such-service/);
      assert.match(refused.stderr, /reconcile incomplete: .*no-such-service/);
      assert.equal(ns.run(['nft', 'list', 'tables']).includes('f2b-store'), false);
      jail('ssh');
      const restored = runCli([...args, '--json', 'reconcile'], { timeoutMs: 60_000 });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual((JSON.parse(restored.stdout) as { backends: BackendReport[] }).backends.map(summary), [{ added: 3, removed: 0, failed: 0, error: null }]);
      const table = ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
      for (const address of ['203.0.113.7', '2001:db8::7', '198.51.100.0/24']) assert.ok(table.includes(address), `${address} in\n${table}`);
    } finally {
      ns.remove();
      tmp.cleanup();
    }
  });
});
