import assert from 'node:assert/strict';
import { systemExec, type Exec } from '../../src/backends/exec.js';
import type { Backend, Command, Diff, Entry, EntryKey, JailRule } from '../../src/backends/types.js';
import { parseAddress, type Ban } from '../../src/core/index.js';
import { jailRulesOf, reconcile, type BackendReport } from '../../src/reconcile/index.js';
import { createNetns, type Netns } from './netns.js';

export const sshd: JailRule = { name: 'sshd', blocktype: 'reject' };

export function entry(jail: string, address: string, expiresAt: number | null = null): Entry {
  const parsed = parseAddress(address);
  return { jail, address: parsed.text, family: parsed.family, expiresAt };
}

export const keys = (entries: readonly EntryKey[]): string[] => entries.map((e) => `${e.jail} ${e.address}`).sort();

/** An active ban holding `e`, as the store would hand it to the reconciler. */
export function banOf(e: Entry, now: number): Ban {
  return {
    address: e.address, jail: e.jail, bannedAt: now, expiresAt: e.expiresAt, source: 'manual', reason: null, failures: 0, banCount: 1,
    liftedAt: null, liftedBy: null, forced: false,
  };
}

/** Runs `fn` with a backend inside a namespace of its own, removed afterwards whatever happens. */
export function inNetns(
  create: (options: { exec: Exec }) => Backend,
  fn: (ns: Netns, backend: Backend) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const ns = createNetns();
    try {
      assert.match(ns.name, /^f2bt-/);
      await fn(ns, create({ exec: systemExec(ns.name) }));
    } finally {
      ns.remove();
    }
  };
}

/** A backend in a namespace of its own, with every command it ran, in order. */
export interface RecordedRun {
  readonly ns: Netns;
  readonly backend: Backend;
  readonly commands: Command[];
}

/** inNetns, recording every command the backend runs; `create` is told the namespace's name, for what else it runs there. */
export function inRecordingNetns(create: (options: { exec: Exec; netns: string }) => Backend, fn: (run: RecordedRun) => Promise<void>): () => Promise<void> {
  return async () => {
    const ns = createNetns();
    try {
      assert.match(ns.name, /^f2bt-/);
      const commands: Command[] = [];
      const inner = systemExec(ns.name);
      const exec: Exec = (command) => {
        commands.push(command);
        return inner(command);
      };
      await fn({ ns, backend: create({ exec, netns: ns.name }), commands });
    } finally {
      ns.remove();
    }
  };
}

/**
 * A backend restored with `bans` and then checked again in full: the second check changes nothing
 * and runs no command that reads entries back (`readBack`). Returns what that check ran.
 */
export async function assertProbedNoop(run: RecordedRun, bans: readonly Ban[], now: number, readBack: (command: Command) => boolean): Promise<readonly Command[]> {
  const [restored] = await reconcile(bans, [run.backend], now);
  assert.equal(restored?.added, bans.length);
  const from = run.commands.length;
  const [again] = await reconcile(bans, [run.backend], now);
  assert.deepEqual({ added: again?.added, removed: again?.removed, unchanged: again?.unchanged, error: again?.error }, { added: 0, removed: 0, unchanged: bans.length, error: null });
  const ran = run.commands.slice(from);
  assert.ok(!ran.some(readBack), ran.map((c) => c.argv.join(' ')).join('\n'));
  return ran;
}

/** What one reconcile pass did to one backend. */
export interface Pass {
  /** The reconciler's own report. */
  readonly report: BackendReport;
  /** The commands ensure ran. */
  readonly ensured: readonly Command[];
  /** The diff apply was given: empty when the reconciler found nothing to change. */
  readonly diff: Diff;
}

/**
 * One pass of the real reconciler (`reconcile()`) over one backend, with `desired` as the active
 * bans and `jails` as the configured jails. Throws when the reconciler reports the backend failed.
 */
export async function reconcilePass(backend: Backend, jails: readonly JailRule[], desired: readonly Entry[], now: number): Promise<Pass> {
  let ran: readonly Command[] = [];
  let diff: Diff = { add: [], remove: [] };
  const observed: Backend = {
    ...backend,
    async ensure(rules, at) {
      const done = await backend.ensure(rules, at);
      ran = done.ran;
      return done;
    },
    apply(given, rules, at) {
      diff = given;
      return backend.apply(given, rules, at);
    },
  };
  const [report] = await reconcile(desired.map((e) => banOf(e, now)), [observed], now, { rules: jailRulesOf(jails), jails: jails.map((j) => j.name) });
  assert.ok(report);
  if (report.error !== null) throw new Error(`${backend.name}: ${report.error}`);
  return { report, ensured: ran, diff };
}
