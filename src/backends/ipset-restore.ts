import type { StreamedCommand } from './exec.js';
import { createLine, MIN_MAXELEM, planItems, type Item } from './ipset-plan.js';
import { checkJail, FAMILIES } from './iptables-rules.js';
import { ipsetName } from './object-names.js';
import type { ApplyReport, Entry, EntryKey, JailRule, Restore } from './types.js';

/** What a restore leaves to the usual way once its sets exist: their rules, and the entries beyond a set's first `maxelem`. */
export type SettleRestore = (jails: readonly JailRule[], rest: readonly Entry[]) => Promise<ApplyReport>;

/**
 * A restore into missing sets as one `ipset restore` (`command`, without -exist), written while
 * the bans are read: each set created when its first entry comes (for MIN_MAXELEM entries, as
 * ensure makes it), its entries as they come, and at the end the sets of jails without entries.
 * ipset applies each line as it reads it and stops at the first it refuses, such as an entry that
 * comes twice (an active ban given twice, which the store never holds): the usual way then reads
 * back what went in and adds the rest. Entries beyond a set's `maxelem` are kept for `settle`,
 * whose apply grows the set.
 */
export function restoreSets(command: StreamedCommand, now: number, settle: SettleRestore): Restore {
  const held = new Map<string, number>();
  const rest: Entry[] = [];
  const invalid: { entry: EntryKey; error: string }[] = [];
  let added = 0;

  const lines = (items: readonly Item[]): string => {
    let text = '';
    for (const item of items) {
      let count = held.get(item.set);
      if (count === undefined) text += `${createLine(item.set, item.key.family, 0)}\n`;
      count ??= 0;
      if (count >= MIN_MAXELEM) {
        rest.push({ ...item.key, expiresAt: item.timeout === 0 ? null : now + item.timeout });
      } else {
        text += `add ${item.set} ${item.address} timeout ${item.timeout}\n`;
        count++;
        added++;
      }
      held.set(item.set, count);
    }
    return text;
  };

  return {
    async write(entries) {
      const planned = planItems({ add: entries, remove: [] }, now);
      for (const bad of planned.invalid) invalid.push(bad);
      await command.write(lines(planned.items));
    },
    async end(jails: readonly JailRule[]): Promise<ApplyReport> {
      let empty = '';
      try {
        for (const jail of jails) {
          checkJail(jail);
          for (const family of FAMILIES) {
            const set = ipsetName(jail.name, family);
            if (!held.has(set)) empty += `${createLine(set, family, 0)}\n`;
          }
        }
      } catch (error) {
        command.abort();
        throw error;
      }
      await command.write(empty);
      await command.end();
      const settled = await settle(jails, rest);
      return { added: added + settled.added, removed: 0, failed: [...invalid, ...settled.failed] };
    },
    abort: async () => command.abort(),
  };
}
