import { messageOf, OperationError, tryParseAddress, type Address, type Family } from '../core/index.js';
import { applyInBatches, type Triage } from './batch.js';
import { isExitError, type Exec } from './exec.js';
import {
  applyReport, argAfter, checkCommand, checkJail, createAddressMemo, FAMILIES, portMatch, readFilterTable, restoreCommand, settleInputRule,
  sourceArgs, succeeds, toolOf, verdict, type FilterTable, type SavedRule,
} from './iptables-rules.js';
import { chainName, isJailName, parseChainName, parseLegacyChainName } from './object-names.js';
import type { ApplyReport, Backend, Command, Diff, Ensured, EntryKey, JailRule, SkippedJail } from './types.js';

export interface IptablesBackendOptions {
  readonly exec: Exec;
}

/** Up to this many removals are verified with `iptables -C` each; more, by reading the table once. */
const CHECK_ONE_BY_ONE = 2;

/**
 * The last rule of each of our chains, and what tells them from anyone else's (fail2ban's
 * `f2b-<jail>` chains end in a plain `-j RETURN`): a chain of our name is ours when it holds this
 * rule, or nothing at all (flushed).
 */
const MARK = '-m comment --comment f2b-store -j RETURN';

/** A chain of one family, as the census names it: `iptables f2bs-sshd`, `ip6tables f2bs-sshd`. */
const chainObject = (chain: string, family: Family): string => `${toolOf(family)} ${chain}`;

/** Our chains of this table: those of our names holding our mark. */
function ownChains(table: FilterTable): Set<string> {
  const marked = new Set<string>();
  for (const rule of table.rules) if (rule.spec === MARK && parseChainName(rule.chain) !== undefined) marked.add(rule.chain);
  return marked;
}

/** Chains of our names that hold rules but not our mark: someone else's. */
function foreignChains(table: FilterTable, own: ReadonlySet<string> = ownChains(table)): Set<string> {
  return new Set(table.rules.map((rule) => rule.chain).filter((chain) => !own.has(chain) && parseChainName(chain) !== undefined));
}

/** The address of a rule f2b-store writes into its chains (`-s ADDR -j REJECT|DROP`), else undefined. */
function bannedBy(rule: SavedRule, parse: (text: string) => Address | undefined): string | undefined {
  const [s, address, j, target, option] = rule.args;
  const plain = rule.args.length === 4 || (rule.args.length === 6 && option === '--reject-with');
  if (s !== '-s' || j !== '-j' || (target !== 'REJECT' && target !== 'DROP') || !plain) return undefined;
  return parse(address ?? '')?.text;
}

/** Ban rules of our chains: chain → canonical address → the saved rules holding it (duplicates included). */
function banIndex(table: FilterTable, parse: (text: string) => Address | undefined = tryParseAddress): Map<string, Map<string, SavedRule[]>> {
  const index = new Map<string, Map<string, SavedRule[]>>();
  const own = ownChains(table);
  for (const rule of table.rules) {
    if (!own.has(rule.chain)) continue;
    const address = bannedBy(rule, parse);
    if (address === undefined) continue;
    let chain = index.get(rule.chain);
    if (!chain) index.set(rule.chain, chain = new Map());
    const same = chain.get(address);
    if (same) same.push(rule);
    else chain.set(address, [rule]);
  }
  return index;
}

/** One entry to add or remove, with the restore lines doing it. */
interface Op {
  readonly key: EntryKey;
  readonly kind: 'add' | 'del';
  readonly family: Family;
  readonly chain: string;
  readonly address: string;
  /** The rule as predicted: `-s ADDR/LEN -j TARGET …`. */
  readonly rule: readonly string[];
  lines: string[];
}

interface Failure {
  readonly entry: EntryKey;
  readonly error: string;
}

/**
 * The diff as operations with the lines `iptables-save` would print for them (removals first,
 * expired additions dropped). An addition needs its jail's blocktype; a removal of a jail no
 * longer configured is written as REJECT, and `apply` corrects it from the real rules if needed.
 */
function prepare(diff: Diff, jails: readonly JailRule[], now: number): { ops: Op[]; invalid: Failure[] } {
  const blocktype = new Map(jails.map((jail) => [jail.name, jail.blocktype]));
  const invalid: Failure[] = [];
  const ops = new Map<string, Op>();
  const add = (key: EntryKey, kind: Op['kind']): void => {
    const address = tryParseAddress(key.address);
    if (!address) {
      invalid.push({ entry: key, error: `not an IP address or CIDR: "${key.address}"` });
      return;
    }
    if (!isJailName(key.jail)) {
      invalid.push({ entry: key, error: `bad jail name "${key.jail}"` });
      return;
    }
    const type = blocktype.get(key.jail);
    if (kind === 'add' && type === undefined) {
      invalid.push({ entry: key, error: `jail ${key.jail} is not configured for the iptables backend` });
      return;
    }
    const chain = chainName(key.jail);
    const rule = [...sourceArgs(address.text, address.family), ...verdict(type ?? 'reject', address.family)];
    ops.set(`${kind} ${address.family} ${chain} ${address.text}`, {
      key, kind, family: address.family, chain, address: address.text, rule,
      lines: [`${kind === 'add' ? '-I' : '-D'} ${chain} ${rule.join(' ')}`],
    });
  };
  for (const key of diff.remove) add(key, 'del');
  for (const entry of diff.add) {
    if (entry.expiresAt === null || entry.expiresAt > now) add(entry, 'add');
  }
  return { ops: [...ops.values()], invalid };
}

/**
 * The iptables backend: a chain `f2bs-<jail>` (see object-names) in the filter table of iptables
 * and ip6tables with one `-s ADDR -j REJECT|DROP` rule per entry and a final marked `-j RETURN`,
 * jumped to from the head of INPUT (limited to the jail's ports when it has some). Each apply is
 * one `iptables-restore --noflush` per family, which is atomic.
 */
export function createIptablesBackend(options: IptablesBackendOptions): Backend {
  const { exec } = options;
  const memo = createAddressMemo();

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
   * A jail whose chain name is taken by a chain without our mark (someone else's) is skipped in
   * both families; the chains of the others are made or completed, each with its jump. Chains of
   * the old names (`f2b-<jail>`) are left as they are: fail2ban's look the same as those of an
   * earlier f2b-store, so they are only told of, once.
   */
  async function ensure(jails: readonly JailRule[]): Promise<Ensured> {
    for (const jail of jails) checkJail(jail);
    const ran: Command[] = [];
    const notes: string[] = [];
    const tables: { family: Family; table: FilterTable; own: Set<string>; foreign: Set<string> }[] = [];
    for (const family of FAMILIES) {
      const table = await readFilterTable(exec, family);
      const own = ownChains(table);
      tables.push({ family, table, own, foreign: foreignChains(table, own) });
    }
    const skipped: SkippedJail[] = [];
    const served: JailRule[] = [];
    for (const jail of new Map(jails.map((j) => [j.name, j])).values()) {
      const chain = chainName(jail.name);
      const taken = tables.find(({ foreign }) => foreign.has(chain))?.family;
      if (taken === undefined) served.push(jail);
      else {
        skipped.push({
          jail: jail.name,
          error: `jail ${jail.name} skipped: ${toolOf(taken)} chain ${chain} holds rules but not f2b-store's mark (${MARK}), `
            + 'so it is left alone: remove or rename it and f2b-store makes its own',
        });
      }
    }
    for (const { family, table, own } of tables) {
      const lines: string[] = [];
      for (const jail of served) {
        const chain = chainName(jail.name);
        if (!table.chains.has(chain)) lines.push(`-N ${chain}`);
        if (!own.has(chain)) lines.push(`-A ${chain} ${MARK}`);
        const ours = table.rules.filter((rule) => rule.chain === 'INPUT' && argAfter(rule.args, '-j') === chain);
        lines.push(...await settleInputRule(exec, family, [...portMatch(jail), '-j', chain], ours));
      }
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (chains ${served.map((jail) => chainName(jail.name)).join(', ')})`);
        ran.push(command);
      }
      for (const chain of table.chains) {
        if (parseLegacyChainName(chain) === undefined || toldLegacy.has(`${family} ${chain}`)) continue;
        toldLegacy.add(`${family} ${chain}`);
        notes.push(`${toolOf(family)}: chain ${chain} left as it is: fail2ban names its chains so, and so did earlier f2b-store `
          + '(whose chains are now f2bs-<jail>); if f2b-store made it, remove it and its jump from INPUT (see README, Migrating from an earlier f2b-store)');
      }
    }
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

  function plan(diff: Diff, jails: readonly JailRule[], now: number): readonly Command[] {
    const { ops } = prepare(diff, jails, now);
    return FAMILIES.flatMap((family) => {
      const lines = ops.filter((op) => op.family === family).flatMap((op) => op.lines);
      return lines.length === 0 ? [] : [restoreCommand(family, lines)];
    });
  }

  /**
   * Re-derives each operation from the rules really there: additions already present and removals
   * already gone need no line (done), a removal deletes every copy by its saved text, an addition
   * to a missing chain fails.
   */
  async function fromReality(family: Family, ops: readonly Op[]): Promise<Triage<Op>> {
    const table = await readFilterTable(exec, family);
    const index = banIndex(table);
    const applied: Op[] = [];
    const failed: { item: Op; error: string }[] = [];
    const rest: Op[] = [];
    for (const op of ops) {
      const present = index.get(op.chain)?.get(op.address) ?? [];
      if (op.kind === 'del') op.lines = present.map((rule) => `-D ${op.chain} ${rule.spec}`);
      else if (present.length > 0) op.lines = [];
      else if (!table.chains.has(op.chain)) {
        failed.push({ item: op, error: `${op.chain} does not exist (ensure creates it)` });
        continue;
      }
      (op.lines.length === 0 ? applied : rest).push(op);
    }
    return { applied, failed, rest };
  }

  /**
   * Whether a removal left a copy behind (two writers once added the same entry): asked with
   * `-C` for a few removals, by reading the table for many.
   */
  async function leftBehind(family: Family, removals: readonly Op[]): Promise<boolean> {
    if (removals.length > CHECK_ONE_BY_ONE) {
      const index = banIndex(await readFilterTable(exec, family));
      return removals.some((op) => index.get(op.chain)?.has(op.address) ?? false);
    }
    for (const op of removals) if (await succeeds(exec, checkCommand(family, op.chain, op.rule))) return true;
    return false;
  }

  async function apply(diff: Diff, jails: readonly JailRule[], now: number): Promise<ApplyReport> {
    const { ops, invalid } = prepare(diff, jails, now);
    const failures = new Map<Op, string>();
    for (const family of FAMILIES) {
      const mine = ops.filter((op) => op.family === family);
      if (mine.length === 0) continue;
      const run = async (batch: readonly Op[]): Promise<void> => {
        await exec(restoreCommand(family, batch.flatMap((op) => op.lines)));
      };
      const fatal = (error: unknown): boolean => !isExitError(error);
      // A failed batch means the rules differ from what was predicted (gone already, other
      // blocktype, chain missing): the real rules say what is left to do.
      const first = await applyInBatches(mine, run, { fatal, triage: (batch) => fromReality(family, batch) });
      let failed: readonly { item: Op; error: unknown }[] = first.failed;
      // The predicted batch went through, but a removal may have left a copy (two writers once added the same entry).
      const removals = mine.filter((op) => op.kind === 'del');
      if (first.runs === 1 && failed.length === 0 && removals.length > 0 && await leftBehind(family, removals)) {
        const copies = await fromReality(family, removals);
        failed = copies.failed.concat((await applyInBatches(copies.rest, run, { fatal })).failed);
      }
      for (const { item, error } of failed) failures.set(item, messageOf(error));
      if (mine.some((op) => failures.has(op))) {
        const index = banIndex(await readFilterTable(exec, family));
        for (const op of mine) {
          if (failures.has(op) && (index.get(op.chain)?.has(op.address) ?? false) === (op.kind === 'add')) failures.delete(op);
        }
      }
    }
    return applyReport(ops, invalid, failures);
  }

  async function flush(): Promise<void> {
    for (const family of FAMILIES) {
      const table = await readFilterTable(exec, family);
      const foreign = foreignChains(table);
      const chains = [...table.chains].filter((chain) => parseChainName(chain) !== undefined && !foreign.has(chain));
      if (chains.length === 0) continue;
      const owned = new Set(chains);
      const lines = [
        ...table.rules.filter((rule) => rule.chain === 'INPUT' && owned.has(argAfter(rule.args, '-j') ?? '')).map((rule) => `-D INPUT ${rule.spec}`),
        ...chains.flatMap((chain) => [`-F ${chain}`, `-X ${chain}`]),
      ];
      const command = restoreCommand(family, lines);
      await run(command, `${command.argv[0]} (removing ${chains.join(', ')})`);
    }
  }

  async function count(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    memo.turn();
    for (const family of FAMILIES) {
      for (const [chain, addresses] of banIndex(await readFilterTable(exec, family), memo.parse)) counts.set(chainObject(chain, family), addresses.size);
    }
    return counts;
  }

  return {
    name: 'iptables',
    ensure: (jails) => ensure(jails),
    represent: (desired) => [...desired],
    list,
    plan,
    apply,
    flush,
    census: { objectOf: (entry) => chainObject(chainName(entry.jail), entry.family), count },
  };
}
