import { messageOf, OperationError, type Family } from '../core/index.js';
import { applyInBatches } from './batch.js';
import { isExitError, type Exec, type ExecStream } from './exec.js';
import {
  countsDiffer, createSetLines, deleteSetRules, growRestore, ipsetRestore, itemsRestore, noSetOfOurs, notOurSet, overflows, ownedSets, ownerOf, parseHeaders,
  parseMembers, planItems, planRestore, planSets, probeLines, setRule, setsDrift, type Item, type Member, type SetHeader,
} from './ipset-plan.js';
import { restoreSets } from './ipset-restore.js';
import { applyReport, checkJail, createAddressMemo, FAMILIES, restoreCommand } from './iptables-rules.js';
import { readFilterTable, settleInputRule } from './iptables-query.js';
import { ipsetName } from './object-names.js';
import { turnMemo } from './turn-memo.js';
import type { ApplyReport, Backend, Command, Diff, Ensured, Entry, EntryKey, JailRule, Restore } from './types.js';

export interface IpsetBackendOptions {
  readonly exec: Exec;
  /** Streams a restore into missing sets (see Backend.restore); without it, a restore is ensure then apply. */
  readonly stream?: ExecStream;
}

/** What ipset itself said of a failed command: its stderr without version and line number, or undefined when it did not run and fail. */
function ipsetSaid(error: unknown): string | undefined {
  return isExitError(error) ? error.stderr.trim().replace(/^ipset v[\d.]+: /, '').replace(/^Error in line \d+: /, '') : undefined;
}

/**
 * The ipset backend: sets `f2bs4-<jail>` (IPv4) and `f2bs6-<jail>` (IPv6; see object-names) of
 * type `hash:net` with timeout support, each matched by one rule at the head of INPUT (`-m set
 * --match-set SET src -j REJECT|DROP`, limited to the jail's ports when it has some). Every apply
 * is one `ipset restore`; a set about to overflow its `maxelem` is first rebuilt in a bigger one
 * and swapped in (`ipset swap`, one restore more), so its rule never sees it empty. What to run is
 * planned in ipset-plan.ts; this runs it and reads back.
 */
export function createIpsetBackend(options: IpsetBackendOptions): Backend {
  const memo = createAddressMemo();
  /** The headers the census's intact() read, for the count that follows it in the drift tick (see turnMemo). */
  const intactHeaders = turnMemo<Map<string, SetHeader>>();
  const exec: Exec = intactHeaders.clearingBefore(options.exec);

  async function run(command: Command, what: string): Promise<string> {
    try {
      return await exec(command);
    } catch (error) {
      throw new OperationError(`${what}: ${messageOf(error)}`, { cause: error });
    }
  }

  const readHeaders = async (): Promise<Map<string, SetHeader>> => parseHeaders(await run({ argv: ['ipset', 'list', '-t'] }, 'ipset list'));

  const readMembers = async (set: string): Promise<Member[]> => parseMembers(await run({ argv: ['ipset', 'save', set] }, `ipset save ${set}`), set);

  /** Runs `ipset restore` of these lines, or nothing when there are none. */
  async function restoreLines(lines: readonly string[], what: string, ran: Command[]): Promise<void> {
    if (lines.length === 0) return;
    const command = ipsetRestore(lines);
    await run(command, `ipset restore (${what})`);
    ran.push(command);
  }

  /**
   * Sets are made as planSets says; what a set of an earlier f2b-store held for a jail served
   * here is copied into the jail's new set, and the new rules are in before the old ones go, so
   * no ban lapses.
   */
  async function ensure(jails: readonly JailRule[]): Promise<Ensured> {
    for (const jail of jails) checkJail(jail);
    const ran: Command[] = [];
    const notes: string[] = [];
    const { served, skipped, creates, legacy } = planSets(await readHeaders(), jails);
    const setLines: string[] = [];
    for (const set of creates) setLines.push(...createSetLines(set.name, set.family, set.from === undefined ? [] : await readMembers(set.from)));
    await restoreLines(setLines, `creating ${creates.length} sets`, ran);
    for (const family of FAMILIES) {
      const table = await readFilterTable(exec, family);
      const lines: string[] = [];
      for (const jail of served) {
        const { desired, ours } = setRule(table, jail, family);
        lines.push(...await settleInputRule(exec, family, desired, ours));
      }
      // After the new rules: the old sets' rules go in the same atomic restore.
      lines.push(...deleteSetRules(table, legacy));
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (rules matching the f2b-store sets)`);
        ran.push(command);
      }
    }
    for (const name of legacy) {
      const into = creates.find((set) => set.from === name)?.name;
      try {
        await restoreLines([`destroy ${name}`], `removing ${name}`, ran);
        notes.push(`ipset: ${name}, a set of an earlier f2b-store, removed${into === undefined ? '' : ` after copying its entries into ${into}`}`);
      } catch (error) {
        notes.push(`ipset: ${name}, a set of an earlier f2b-store, could not be removed: ${messageOf(error)} (a rule f2b-store did not make still uses it?)`);
      }
    }
    return { ran, skipped, notes };
  }

  async function list(): Promise<EntryKey[]> {
    const entries: EntryKey[] = [];
    memo.turn();
    for (const header of (await readHeaders()).values()) {
      const jail = ownerOf(header)?.jail;
      if (jail === undefined) continue;
      let text: string;
      try {
        text = await exec({ argv: ['ipset', 'save', header.name] });
      } catch (error) {
        if (ipsetSaid(error)?.includes('does not exist')) continue;
        throw new OperationError(`ipset save ${header.name}: ${messageOf(error)}`, { cause: error });
      }
      for (const member of parseMembers(text, header.name, memo.parse)) {
        if (member.address) entries.push({ jail, address: member.address.text, family: member.address.family });
      }
    }
    return entries;
  }

  async function grow(set: string, family: Family, items: readonly Item[]): Promise<void> {
    await run(growRestore(set, family, await readMembers(set), items), `ipset ${set}: growing it`);
  }

  async function apply(diff: Diff, _jails: readonly JailRule[], now: number): Promise<ApplyReport> {
    const { items, invalid } = planItems(diff, now);
    const failures = new Map<Item, string>();
    const bySet = new Map<string, Item[]>();
    for (const item of items) {
      const group = bySet.get(item.set);
      if (group) group.push(item);
      else bySet.set(item.set, [item]);
    }
    const ready: Item[] = [];
    const headers = items.length > 0 ? await readHeaders() : new Map<string, SetHeader>();
    for (const [set, setItems] of bySet) {
      const header = headers.get(set);
      const owner = header && ownerOf(header);
      if (!header || !owner) {
        const why = notOurSet(set, header);
        for (const item of setItems) if (item.kind === 'add') failures.set(item, why);
        continue;
      }
      if (overflows(header, setItems)) {
        try {
          await grow(set, owner.family, setItems);
        } catch (error) {
          for (const item of setItems) failures.set(item, messageOf(error));
          continue;
        }
      }
      // One by one, not push(...): a million items would overflow the stack as arguments.
      for (const item of setItems) ready.push(item);
    }
    // ipset restore is not atomic (the lines before a failing one are done), but with -exist every line is safe to repeat.
    const outcome = await applyInBatches(ready, async (batch) => {
      await exec(itemsRestore(batch));
    }, { fatal: (error) => !isExitError(error) });
    for (const { item, error, alone } of outcome.failed) {
      const said = alone ? ipsetSaid(error) : undefined;
      failures.set(item, `ipset ${item.set}: ${said === undefined || said === '' ? messageOf(error) : said}`);
    }
    return applyReport(items, invalid, failures);
  }

  async function flush(): Promise<void> {
    const owned = ownedSets(await readHeaders());
    if (owned.length === 0) return;
    const names = new Set(owned);
    for (const family of FAMILIES) {
      const lines = deleteSetRules(await readFilterTable(exec, family), names);
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (removing the rules matching the f2b-store sets)`);
      }
    }
    await run(ipsetRestore(owned.map((name) => `destroy ${name}`)), `ipset destroy ${owned.join(' ')}`);
  }

  /**
   * The census's probe: every set holds exactly as many entries as it should (`ipset list -t`
   * counts them without listing), and a random sample of each set's entries is there, tested in
   * one `ipset -q restore` of `test` lines that stops with an error at the first one missing (-q
   * keeps it going past those found). Only an entry swapped for another keeps the counts: it is
   * missed when the entry gone is outside the sample, or is a host a network of its set still
   * covers (`test` of a host matches any entry covering it). The full read-back finds those: it
   * runs whenever a count or a test fails, after any drift the tick finds, and on the daemon's
   * schedule as often as its cost allows (ReconcileOptions.thorough).
   */
  async function probe(entries: readonly Entry[]): Promise<string | undefined> {
    const wanted = new Map<string, string[]>();
    for (const entry of entries) {
      const set = ipsetName(entry.jail, entry.family);
      const addresses = wanted.get(set);
      if (addresses) addresses.push(entry.address);
      else wanted.set(set, [entry.address]);
    }
    const differ = countsDiffer(await readHeaders(), wanted);
    if (differ !== undefined) return differ;
    const planned = probeLines(wanted, (n) => Math.floor(Math.random() * n));
    if ('bad' in planned) return `"${planned.bad}" is no address ipset takes`;
    if (planned.lines.length === 0) return undefined;
    try {
      await exec({ argv: ['ipset', '-q', 'restore'], stdin: `${planned.lines.join('\n')}\n` });
    } catch (error) {
      if (!isExitError(error)) throw new OperationError(`ipset: testing ${planned.lines.length} sampled entries: ${messageOf(error)}`, { cause: error });
      return `one of ${planned.lines.length} sampled entries is missing`;
    }
    return undefined;
  }

  /** A restore streamed into sets none of which exist; their rules, and what did not fit, go through ensure and apply after. */
  async function restore(now: number): Promise<Restore | undefined> {
    if (!options.stream || !noSetOfOurs(await readHeaders())) return undefined;
    return restoreSets(options.stream({ argv: ['ipset', 'restore'] }), now, async (jails, rest) => {
      await ensure(jails);
      return rest.length === 0 ? { added: 0, removed: 0, failed: [] } : apply({ add: rest, remove: [] }, jails, now);
    });
  }

  async function count(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const header of (intactHeaders.get() ?? await readHeaders()).values()) {
      if (ownerOf(header)) counts.set(header.name, header.entries);
    }
    return counts;
  }

  return {
    name: 'ipset',
    ensure: (jails) => ensure(jails),
    restore,
    represent: (desired) => [...desired],
    list,
    plan: (diff, _jails, now) => planRestore(diff, now),
    apply,
    flush,
    // `ipset list -t` prints each set's header with its number of entries and references, never the entries.
    census: {
      objectOf: (entry) => ipsetName(entry.jail, entry.family),
      count,
      probe,
      intact: async (jails) => {
        for (const jail of jails) checkJail(jail);
        return setsDrift(intactHeaders.set(await readHeaders()), jails);
      },
    },
  };
}
