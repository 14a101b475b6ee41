import type { StreamedCommand } from './exec.js';
import {
  elementBatch, jailSetLines, madeState, NO_TABLE, planElements, planEnsure, representEntries,
} from './nftables-plan.js';
import type { ApplyReport, Entry, EntryKey, JailRule, Restore } from './types.js';

/**
 * A restore into a missing table as one `nft -f -` (`command`), written while the bans are read:
 * the table and chain first, each jail's sets when its first element comes, host elements as they
 * come, and at the end the prefixes (made overlap-free over all of them), the rules, and the sets
 * of jails without elements. nft 1.0.6 reads its whole input before it parses any of it, and
 * commits the script in one transaction, so a stream aborted or refused leaves no table behind. Host elements are written
 * `create`: one that comes twice (an active ban given twice, which the store never holds) fails
 * the stream, and the usual way, which keeps the later expiry, takes over.
 */
export async function restoreTable(command: StreamedCommand, now: number): Promise<Restore> {
  const made = new Set<string>();
  const networks: Entry[] = [];
  const invalid: { entry: EntryKey; error: string }[] = [];
  let added = 0;

  /** The batch text of these entries, with the sets of jails seen for the first time before their elements. */
  const text = (entries: readonly Entry[], add: 'add' | 'create'): string => {
    const planned = planElements({ add: entries, remove: [] }, now);
    for (const bad of planned.invalid) invalid.push(bad);
    const sets: string[] = [];
    for (const op of planned.ops) {
      if (made.has(op.entry.jail)) continue;
      made.add(op.entry.jail);
      for (const line of jailSetLines(op.entry.jail)) sets.push(`${line}\n`);
    }
    added += planned.ops.length;
    return `${sets.join('')}${elementBatch(planned.ops, add)}`;
  };

  await command.write(`${planEnsure(NO_TABLE, []).join('\n')}\n`);
  return {
    async write(entries) {
      const hosts: Entry[] = [];
      // A canonical network always has a prefix length, a host never: what is neither planElements refuses.
      for (const entry of entries) (entry.address.includes('/') ? networks : hosts).push(entry);
      await command.write(text(hosts, 'create'));
    },
    async end(jails: readonly JailRule[]): Promise<ApplyReport> {
      let tail: string;
      try {
        // Made overlap-free, each prefix once; `create` would refuse two that touch (their ends meet in the kernel).
        const prefixes = text(representEntries(networks), 'add');
        tail = `${prefixes}${planEnsure(madeState(made), jails).map((line) => `${line}\n`).join('')}`;
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
