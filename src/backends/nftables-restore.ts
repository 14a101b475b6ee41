import type { StreamedCommand } from './exec.js';
import {
  elementBatch, jailSetLines, madeState, NO_TABLE, planElements, planEnsure, representEntries, type ElementOp,
} from './nftables-plan.js';
import { writtenOnce } from './restore-written.js';
import type { ApplyReport, Entry, EntryKey, JailRule, Restore } from './types.js';

/**
 * A restore into a missing table as one `nft -f -` (`command`), written while the bans are read:
 * the table and chain first, each jail's sets when its first element comes, host elements as they
 * come, and at the end the prefixes (made overlap-free over all of them), the rules, and the sets
 * of jails without elements. nft commits the whole script in one transaction when its input
 * ends, so a stream aborted or refused leaves no table behind.
 */
export async function restoreTable(command: StreamedCommand, now: number): Promise<Restore> {
  const made = new Set<string>();
  const networks: Entry[] = [];
  const invalid: { entry: EntryKey; error: string }[] = [];
  // An element written again with a later expiry: replaced at the end (delete, then add).
  const later = new Map<string, ElementOp>();
  const written = writtenOnce();
  let added = 0;

  /** The batch text of these planned adds, with the sets of jails seen for the first time before them. */
  const text = (ops: readonly ElementOp[]): string => {
    const sets: string[] = [];
    const fresh: ElementOp[] = [];
    for (const op of ops) {
      if (!made.has(op.entry.jail)) {
        made.add(op.entry.jail);
        sets.push(...jailSetLines(op.entry.jail));
      }
      const coming = written(op.set, op.entry.address, op.timeout);
      if (coming === 'first') fresh.push(op);
      else if (coming === 'again') later.set(`${op.set} ${op.entry.address}`, op);
    }
    added += fresh.length;
    return `${sets.map((line) => `${line}\n`).join('')}${elementBatch(fresh)}`;
  };

  const plan = (entries: readonly Entry[]): ElementOp[] => {
    const planned = planElements({ add: entries, remove: [] }, now);
    for (const bad of planned.invalid) invalid.push(bad);
    return [...planned.ops];
  };

  await command.write(`${planEnsure(NO_TABLE, []).join('\n')}\n`);
  return {
    async write(entries) {
      const hosts: Entry[] = [];
      // A canonical network always has a prefix length, a host never: what is neither planElements refuses.
      for (const entry of entries) (entry.address.includes('/') ? networks : hosts).push(entry);
      await command.write(text(plan(hosts)));
    },
    async end(jails: readonly JailRule[]): Promise<ApplyReport> {
      let tail: string;
      try {
        const prefixes = text(plan(representEntries(networks)));
        const structure = planEnsure(madeState(made), jails);
        const replaced = [...later.values()];
        const deletes = replaced.map((op): ElementOp => ({ ...op, action: 'delete' }));
        tail = `${prefixes}${structure.map((line) => `${line}\n`).join('')}${elementBatch(deletes)}${elementBatch(replaced)}`;
      } catch (error) {
        command.abort();
        throw error;
      }
      await command.write(tail);
      await command.end();
      return { added, removed: 0, failed: invalid };
    },
    abort: () => command.abort(),
  };
}
