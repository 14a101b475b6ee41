import { messageOf, OperationError, type Family } from '../core/index.js';
import { applyInBatches, type Triage } from './batch.js';
import { isExitError, type Exec } from './exec.js';
import {
  banIndex, chainObject, familyTable, isBanned, legacyChainNote, opsRestore, planChain, planFlush, planJails, planOps, planRestores, triageOps,
  type FamilyTable, type Op,
} from './iptables-plan.js';
import { readFilterTable, settleInputRule, succeeds } from './iptables-query.js';
import { applyReport, checkCommand, checkJail, createAddressMemo, FAMILIES, restoreCommand, type FilterTable } from './iptables-rules.js';
import { chainName, parseChainName, parseLegacyChainName } from './object-names.js';
import { turnMemo } from './turn-memo.js';
import type { ApplyReport, Backend, Command, Diff, Ensured, EntryKey, JailRule } from './types.js';

export interface IptablesBackendOptions {
  readonly exec: Exec;
}

/** Up to this many removals are verified with `iptables -C` each; more, by reading the table once. */
const CHECK_ONE_BY_ONE = 2;

/**
 * The iptables backend: a chain `f2bs-<jail>` (see object-names) in the filter table of iptables
 * and ip6tables with one `-s ADDR -j REJECT|DROP` rule per entry and a final marked `-j RETURN`,
 * jumped to from the head of INPUT (limited to the jail's ports when it has some). Each apply is
 * one `iptables-restore --noflush` per family, which is atomic. What to run is planned in
 * iptables-plan.ts; this runs it and reads back.
 */
export function createIptablesBackend(options: IptablesBackendOptions): Backend {
  const memo = createAddressMemo();
  /** The filter tables of both families as an ensure that changed nothing read them, for the count that follows it in the drift tick (see turnMemo). */
  const ensuredTables = turnMemo<ReadonlyMap<Family, FilterTable>>();
  const exec: Exec = ensuredTables.clearingBefore(options.exec);

  async function run(command: Command, what: string): Promise<void> {
    try {
      await exec(command);
    } catch (error) {
      throw new OperationError(`${what}: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Chains named as fail2ban and earlier f2b-store both name them, already told of. */
  const toldLegacy = new Set<string>();

  /**
   * Jails are skipped or served as planJails says; the chains of those served are made or
   * completed, each with its jump. Chains of the old names (`f2b-<jail>`) are left as they are:
   * fail2ban's look the same as those of an earlier f2b-store, so they are only told of, once.
   */
  async function ensure(jails: readonly JailRule[]): Promise<Ensured> {
    for (const jail of jails) checkJail(jail);
    const ran: Command[] = [];
    const notes: string[] = [];
    const tables: FamilyTable[] = [];
    for (const family of FAMILIES) tables.push(familyTable(family, await readFilterTable(exec, family)));
    const { served, skipped } = planJails(tables, jails);
    for (const table of tables) {
      const { family } = table;
      const lines: string[] = [];
      for (const jail of served) {
        const chain = planChain(table, jail);
        lines.push(...chain.lines, ...await settleInputRule(exec, family, chain.jump, chain.jumps));
      }
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (chains ${served.map((jail) => chainName(jail.name)).join(', ')})`);
        ran.push(command);
      }
      for (const chain of table.table.chains) {
        if (parseLegacyChainName(chain) === undefined || toldLegacy.has(`${family} ${chain}`)) continue;
        toldLegacy.add(`${family} ${chain}`);
        notes.push(legacyChainNote(family, chain));
      }
    }
    if (ran.length === 0) ensuredTables.set(new Map(tables.map(({ family, table }) => [family, table])));
    return { ran, skipped, notes };
  }

  async function list(): Promise<EntryKey[]> {
    const entries: EntryKey[] = [];
    memo.turn();
    for (const family of FAMILIES) {
      for (const [chain, addresses] of banIndex(await readFilterTable(exec, family), memo.parse)) {
        const jail = parseChainName(chain);
        if (jail !== undefined) for (const address of addresses.keys()) entries.push({ jail, address, family });
      }
    }
    return entries;
  }

  /**
   * Whether a removal left a copy behind (two writers once added the same entry): asked with
   * `-C` for a few removals, by reading the table for many.
   */
  async function leftBehind(family: Family, removals: readonly Op[]): Promise<boolean> {
    if (removals.length > CHECK_ONE_BY_ONE) {
      const index = banIndex(await readFilterTable(exec, family));
      return removals.some((op) => isBanned(index, op));
    }
    for (const op of removals) if (await succeeds(exec, checkCommand(family, op.chain, op.rule))) return true;
    return false;
  }

  async function apply(diff: Diff, jails: readonly JailRule[], now: number): Promise<ApplyReport> {
    const { ops, invalid } = planOps(diff, jails, now);
    const failures = new Map<Op, string>();
    for (const family of FAMILIES) {
      const mine = ops.filter((op) => op.family === family);
      if (mine.length === 0) continue;
      const run = async (batch: readonly Op[]): Promise<void> => {
        await exec(opsRestore(family, batch));
      };
      const fatal = (error: unknown): boolean => !isExitError(error);
      const fromReality = async (batch: readonly Op[]): Promise<Triage<Op>> => triageOps(await readFilterTable(exec, family), batch);
      // A failed batch means the rules differ from what was predicted (gone already, other
      // blocktype, chain missing): the real rules say what is left to do.
      const first = await applyInBatches(mine, run, { fatal, triage: fromReality });
      let failed: readonly { item: Op; error: unknown }[] = first.failed;
      // The predicted batch went through, but a removal may have left a copy (two writers once added the same entry).
      const removals = mine.filter((op) => op.kind === 'del');
      if (first.runs === 1 && failed.length === 0 && removals.length > 0 && await leftBehind(family, removals)) {
        const copies = await fromReality(removals);
        failed = copies.failed.concat((await applyInBatches(copies.rest, run, { fatal })).failed);
      }
      for (const { item, error } of failed) failures.set(item, messageOf(error));
      if (mine.some((op) => failures.has(op))) {
        const index = banIndex(await readFilterTable(exec, family));
        for (const op of mine) {
          if (failures.has(op) && isBanned(index, op) === (op.kind === 'add')) failures.delete(op);
        }
      }
    }
    return applyReport(ops, invalid, failures);
  }

  async function flush(): Promise<void> {
    for (const family of FAMILIES) {
      const { chains, lines } = planFlush(await readFilterTable(exec, family));
      if (chains.length === 0) continue;
      const command = restoreCommand(family, lines);
      await run(command, `${command.argv[0]} (removing ${chains.join(', ')})`);
    }
  }

  async function count(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    memo.turn();
    const ensured = ensuredTables.get();
    for (const family of FAMILIES) {
      const table = ensured?.get(family) ?? await readFilterTable(exec, family);
      for (const [chain, addresses] of banIndex(table, memo.parse)) counts.set(chainObject(chain, family), addresses.size);
    }
    return counts;
  }

  return {
    name: 'iptables',
    ensure: (jails) => ensure(jails),
    represent: (desired) => [...desired],
    list,
    plan: planRestores,
    apply,
    flush,
    census: { objectOf: (entry) => chainObject(chainName(entry.jail), entry.family), count },
  };
}
