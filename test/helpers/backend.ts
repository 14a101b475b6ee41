import assert from 'node:assert/strict';
import { systemExec, type Exec } from '../../src/backends/exec.js';
import type { Backend, Entry, EntryKey, JailRule } from '../../src/backends/types.js';
import { parseAddress } from '../../src/core/index.js';
import { diffEntries } from '../../src/reconcile/diff.js';
import { createNetns, type Netns } from './netns.js';

export const sshd: JailRule = { name: 'sshd', blocktype: 'reject' };

export function entry(jail: string, address: string, expiresAt: number | null = null): Entry {
  const parsed = parseAddress(address);
  return { jail, address: parsed.text, family: parsed.family, expiresAt };
}

export const keys = (entries: readonly EntryKey[]): string[] => entries.map((e) => `${e.jail} ${e.address}`).sort();

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

/** One reconcile pass as the reconciler does it: ensure → list → diff → apply. */
export async function reconcilePass(backend: Backend, jails: readonly JailRule[], desired: readonly Entry[], now: number) {
  const ensured = (await backend.ensure(jails, now)).ran;
  const { diff, unchanged } = diffEntries(backend.represent(desired), await backend.list());
  const report = await backend.apply(diff, jails, now);
  return { ensured, diff, unchanged, report };
}
