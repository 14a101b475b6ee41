/**
 * The backend contract: the scenarios every backend must pass against its real system, each
 * through the real reconciler (`reconcilePass`) and each checked by reading the system with its
 * own tools (`shown`), not only with the backend's `list()`. A backend's test file calls
 * `backendContract` once with how to reach its system; its own file keeps what only it does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { systemExec, type Exec } from '../../src/backends/exec.js';
import type { Backend, Command, Entry, JailRule } from '../../src/backends/types.js';
import { nowSeconds, parseAddress } from '../../src/core/index.js';
import { entry, keys, reconcilePass, type Pass } from '../helpers/backend.js';

/** Something done to the system behind the backend's back that takes away what it holds. */
export interface Wipe {
  readonly name: string;
  run(): void | Promise<void>;
}

/** An entry the system itself refuses (the backend passes it on), with what it must hold first for that. */
export interface Refusal {
  /** Entries reconciled first. */
  readonly held: readonly Entry[];
  /** Jails the refused entry's jail needs in `apply` beside the contract's (one never ensured, say). */
  readonly jails?: readonly JailRule[];
  readonly refused: Entry;
  /** The system's words in the failure. */
  readonly error: RegExp;
  /** Commands beyond the bisection of the refused entry's batch (firewalld writes the permanent configuration after the runtime). */
  readonly extra?: number;
}

/** One backend on a system in a known empty state, for one scenario. */
export interface ContractSystem {
  readonly backend: Backend;
  /** The entries its objects hold, read with the system's own tools (never the backend's list()), as `keys()` gives them. */
  shown(): Promise<string[]>;
  /** Starts watching; the function returned tells what ran or was written since that changes the system. */
  watch(): () => readonly string[];
  /** Ways someone else takes our entries or objects away (a flush, a reload without us, a wiped file); each is followed by a pass. */
  readonly wipes: readonly Wipe[];
  /** Our objects (tables, sets, chains, rules, a file's block) as the system shows them: none after a flush. */
  objects(): Promise<string[]>;
  /** Makes objects of someone else's; returns the function that reads them back (equal text = untouched). */
  plantForeign(): Promise<() => Promise<string>>;
}

export interface ContractTarget {
  readonly name: string;
  /** Absent where no single entry can be refused (a file is written whole): that scenario is then not registered. */
  readonly refusal?: Refusal;
  /** Once for the file: starts what the system needs (a firewalld, a shorewall), or nothing. */
  open(): Promise<ContractSession>;
}

export interface ContractSession {
  /**
   * A system holding no entry of ours and nothing planted, for the next scenario. Our objects may
   * remain where the system keeps them as a reboot would (firewalld's permanent configuration).
   */
  fresh(): Promise<ContractSystem>;
  close(): Promise<void>;
}

/** Records every command run through `inner` and tells which ones change state (`reads` says which do not). */
export function watchedExec(inner: Exec, reads: (command: Command) => boolean): { exec: Exec; watch: () => () => string[] } {
  const commands: Command[] = [];
  const exec: Exec = (command) => {
    commands.push(command);
    return inner(command);
  };
  const watch = (): (() => string[]) => {
    const from = commands.length;
    return () => commands.slice(from).filter((c) => !reads(c)).map((c) => c.argv.join(' '));
  };
  return { exec, watch };
}

/** Commands of iptables, ip6tables and ipset that only read. */
export function iptablesReads(command: Command): boolean {
  const [tool, ...args] = command.argv;
  if (command.stdin !== undefined || tool === undefined) return false;
  if (/^ip6?tables-save$/.test(tool)) return true;
  if (tool === 'ipset') return ['list', 'save', 'test', '-L', '-n'].includes(args[0] ?? '');
  return /^ip6?tables$/.test(tool) && args.some((a) => ['-S', '-C', '-L', '--list-rules', '--check', '--list'].includes(a));
}

/**
 * The elements of the sets in `nft -j list table …` output whose names `setName` matches, as
 * `keys()` gives them: the jail is the pattern's first group.
 */
export function nftShown(json: string, setName: RegExp): string[] {
  const valueOf = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as { elem?: { val: unknown }; prefix?: { addr: string; len: number } };
    if (o.elem) return valueOf(o.elem.val);
    if (o.prefix) return `${o.prefix.addr}/${o.prefix.len}`;
    throw new Error(`unexpected element ${JSON.stringify(v)}`);
  };
  const listed = JSON.parse(json) as { nftables: { set?: { name: string; elem?: unknown[] } }[] };
  return listed.nftables.flatMap((o) => {
    const jail = setName.exec(o.set?.name ?? '')?.[1];
    return jail === undefined ? [] : (o.set?.elem ?? []).map((e) => `${jail} ${parseAddress(valueOf(e)).text}`);
  }).sort();
}

/** A target whose every scenario gets a network namespace of its own (see netns.ts), made by `system`. */
export function perNamespace<N extends { remove(): void; readonly name: string }>(
  target: Omit<ContractTarget, 'open'>,
  namespace: () => N,
  system: (ns: N, exec: Exec) => ContractSystem | Promise<ContractSystem>,
): ContractTarget {
  return {
    ...target,
    async open() {
      let current: N | undefined;
      return {
        async fresh() {
          current?.remove();
          current = namespace();
          assert.match(current.name, /^f2bt-/);
          return system(current, systemExec(current.name));
        },
        async close() {
          current?.remove();
        },
      };
    },
  };
}

const JAILS: readonly JailRule[] = [{ name: 'sshd', port: '22', blocktype: 'reject' }, { name: 'recidive', blocktype: 'drop' }];

/** IPv4 and IPv6 hosts and networks, permanent and timed, in two jails, one address in both. */
function desiredAt(now: number): Entry[] {
  return [
    entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::7', now + 3600), entry('sshd', '198.51.100.0/24'), entry('sshd', '2001:db8:1::/48', now + 7200),
    entry('recidive', '203.0.113.7', now + 86_400), entry('recidive', '203.0.113.99'), entry('recidive', '2001:db8:2::9'),
  ];
}

/** Every scenario of the contract, for one backend. */
export function backendContract(target: ContractTarget): void {
  describe(`${target.name}: the backend contract`, () => {
    let session: ContractSession;
    before(async () => {
      session = await target.open();
    });
    after(async () => {
      await session?.close();
    });

    const pass = (sys: ContractSystem, desired: readonly Entry[], now: number, jails: readonly JailRule[] = JAILS): Promise<Pass> =>
      reconcilePass(sys.backend, jails, desired, now);

    /** The system holds exactly what the backend says it holds for `desired`, read both ways; returns what the system shows. */
    async function assertHolds(sys: ContractSystem, desired: readonly Entry[], why: string): Promise<string[]> {
      const expected = keys(sys.backend.represent(desired));
      const shown = await sys.shown();
      assert.deepEqual(shown, expected, `${why}: the system shows`);
      assert.deepEqual(keys(await sys.backend.list()), expected, `${why}: list() reads back`);
      return shown;
    }

    /** A pass that finds nothing to change: reported so, and nothing run or written that changes the system. */
    async function assertSettled(sys: ContractSystem, desired: readonly Entry[], now: number, jails: readonly JailRule[] = JAILS): Promise<void> {
      const changed = sys.watch();
      const again = await pass(sys, desired, now, jails);
      assert.deepEqual([again.report.added, again.report.removed, again.report.failed], [0, 0, []]);
      assert.equal(again.report.unchanged, sys.backend.represent(desired).length);
      assert.deepEqual(again.ensured, []);
      assert.deepEqual(changed(), [], 'nothing run that changes the system');
    }

    it('restores IPv4, IPv6 and networks, permanent and timed, in several jails, into an empty system', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const desired = desiredAt(now);
      assert.deepEqual(await sys.shown(), [], 'empty before');
      const { report } = await pass(sys, desired, now);
      const held = sys.backend.represent(desired);
      assert.ok(held.length >= 6, `nearly every entry is held: ${keys(held).join(', ')}`);
      assert.deepEqual(report, { name: sys.backend.name, added: held.length, removed: 0, kept: 0, unchanged: 0, failed: [], error: null });
      await assertHolds(sys, desired, 'restored');
    });

    it('a second pass with nothing to change reports it and runs nothing that changes the system; so does a second ensure', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const desired = desiredAt(now);
      await pass(sys, desired, now);
      await assertSettled(sys, desired, now);
      const changed = sys.watch();
      assert.deepEqual((await sys.backend.ensure(JAILS, now)).ran, []);
      assert.deepEqual(changed(), []);
      await assertHolds(sys, desired, 'still');
    });

    it('lifts and adds only what changed; an address another jail still bans stays', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const first = desiredAt(now);
      await pass(sys, first, now);
      // sshd lifts 203.0.113.7 (recidive keeps it) and its IPv6 host, and bans two more.
      const next = [
        ...first.filter((e) => !(e.jail === 'sshd' && ['203.0.113.7', '2001:db8::7'].includes(e.address))),
        entry('sshd', '203.0.113.8', now + 600), entry('sshd', '2001:db8::8'),
      ];
      const before = keys(sys.backend.represent(first));
      const after = keys(sys.backend.represent(next));
      const { report } = await pass(sys, next, now);
      assert.deepEqual(
        [report.added, report.removed, report.unchanged, report.failed],
        [after.filter((k) => !before.includes(k)).length, before.filter((k) => !after.includes(k)).length, after.filter((k) => before.includes(k)).length, []],
      );
      const shown = await assertHolds(sys, next, 'after the change');
      assert.ok(shown.some((k) => k.endsWith(' 203.0.113.7')), 'still banned by recidive');
      assert.ok(!shown.some((k) => k.endsWith(' 2001:db8::7')), 'lifted');
      await assertSettled(sys, next, now);

      const lifted = await pass(sys, [], now);
      assert.deepEqual([lifted.report.added, lifted.report.removed, lifted.report.failed], [0, after.length, []]);
      await assertHolds(sys, [], 'all lifted');
    });

    it('after an outside flush, list reads back what is really left, and the next pass restores exactly the desired entries', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const desired = desiredAt(now);
      await pass(sys, desired, now);
      const held = keys(sys.backend.represent(desired));
      for (const wipe of sys.wipes) {
        await wipe.run();
        const left = await sys.shown();
        assert.deepEqual(keys(await sys.backend.list()), left, `after ${wipe.name}, list() reads back what is left`);
        const repaired = await pass(sys, desired, now);
        assert.ok(repaired.ensured.length > 0 || left.length < held.length, `${wipe.name} was noticed`);
        assert.deepEqual([repaired.report.added, repaired.report.removed, repaired.report.failed], [held.length - left.length, 0, []], wipe.name);
        await assertHolds(sys, desired, `restored after ${wipe.name}`);
        await assertSettled(sys, desired, now);
      }
    });

    it('adding what is there and removing what is gone are no failures', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const desired = desiredAt(now);
      await pass(sys, desired, now);
      const [present] = sys.backend.represent(desired);
      assert.ok(present);
      // Networks too: nft refuses a missing element of an interval set in its own words, and another
      // of our processes may have lifted it between this one's listing and its batch.
      const gone = sys.backend.represent([
        entry('sshd', '203.0.113.250'), entry('sshd', '2001:db8::250'), entry('sshd', '192.0.2.128/25'), entry('sshd', '2001:db8:9::/48'),
      ]);
      assert.deepEqual(await sys.backend.apply({ add: [present], remove: gone }, JAILS, now), { added: 1, removed: gone.length, failed: [] });
      await assertHolds(sys, desired, 'unchanged');
    });

    const refusal = target.refusal;
    if (refusal) {
      it('an entry the system refuses fails alone, with the system\'s words; the rest of its batch goes in', async () => {
        const sys = await session.fresh();
        const now = nowSeconds();
        await pass(sys, refusal.held, now);
        const good = sys.backend.represent(Array.from({ length: 40 }, (_, i) => entry('sshd', `203.0.113.${100 + i}`, now + 600 + i)));
        const add = [...good.slice(0, 25), refusal.refused, ...good.slice(25)];
        const changed = sys.watch();
        const report = await sys.backend.apply({ add, remove: [] }, [...JAILS, ...refusal.jails ?? []], now);
        assert.equal(report.added, good.length);
        assert.deepEqual(report.failed.map((f) => keys([f.entry])[0]), keys([refusal.refused]));
        assert.match(report.failed[0]!.error, refusal.error);
        // The one partial-failure algorithm (backends/batch.ts) bisects: 1 + 2·⌈log₂ n⌉ commands for one refused entry among n.
        const bound = 1 + 2 * Math.ceil(Math.log2(add.length)) + (refusal.extra ?? 0);
        assert.ok(changed().length <= bound, `at most ${bound} commands, not one per entry: ${changed().join('\n')}`);
        await assertHolds(sys, [...refusal.held, ...good], 'the rest went in');
      });
    }

    it('leaves someone else\'s objects as they were through passes, a change of a jail\'s rules, and flush', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const foreign = await sys.plantForeign();
      const untouched = await foreign();
      const desired = desiredAt(now);
      await pass(sys, desired, now);
      assert.equal(await foreign(), untouched, 'after a pass');
      await assertHolds(sys, desired, 'only ours is listed');
      const changed = JAILS.map((j) => (j.name === 'sshd' ? { name: 'sshd', port: '2222,8000:8100', blocktype: 'drop' as const } : j));
      const fewer = desired.slice(2);
      await pass(sys, fewer, now, changed);
      await assertSettled(sys, fewer, now, changed);
      assert.equal(await foreign(), untouched, 'after a change');
      await pass(sys, [], now, changed);
      await sys.backend.flush();
      assert.equal(await foreign(), untouched, 'after flush');
    });

    it('flush removes everything of ours; a second flush is harmless and the next pass puts everything back', async () => {
      const sys = await session.fresh();
      const now = nowSeconds();
      const desired = desiredAt(now);
      await pass(sys, desired, now);
      assert.notDeepEqual(await sys.objects(), [], 'objects of ours before');
      await sys.backend.flush();
      await assertHolds(sys, [], 'flushed');
      assert.deepEqual(await sys.objects(), [], 'no object of ours is left');
      await sys.backend.flush();
      await assertHolds(sys, [], 'flushed twice');
      const back = await pass(sys, desired, now);
      assert.deepEqual([back.report.added, back.report.failed], [sys.backend.represent(desired).length, []]);
      await assertHolds(sys, desired, 'back');
    });
  });
}
