import { tryParseAddress, type Address, type Family } from '../core/index.js';
import type { Triage } from './batch.js';
import { argAfter, FAMILIES, portMatch, restoreCommand, sourceArgs, toolOf, verdict, type FilterTable, type SavedRule } from './iptables-rules.js';
import { chainName, isJailName, parseChainName } from './object-names.js';
import type { Command, Diff, EntryKey, JailRule, SkippedJail } from './types.js';

/**
 * The last rule of each of our chains, and what tells them from anyone else's (fail2ban's
 * `f2b-<jail>` chains end in a plain `-j RETURN`): a chain of our name is ours when it holds this
 * rule, or nothing at all (flushed).
 */
const MARK = '-m comment --comment f2b-store -j RETURN';

/** A chain of one family, as the census names it: `iptables f2bs-sshd`, `ip6tables f2bs-sshd`. */
export const chainObject = (chain: string, family: Family): string => `${toolOf(family)} ${chain}`;

/** Our chains of this table: those of our names holding our mark. */
export function ownChains(table: FilterTable): Set<string> {
  const marked = new Set<string>();
  for (const rule of table.rules) if (rule.spec === MARK && parseChainName(rule.chain) !== undefined) marked.add(rule.chain);
  return marked;
}

/** Chains of our names that hold rules but not our mark: someone else's. */
export function foreignChains(table: FilterTable, own: ReadonlySet<string> = ownChains(table)): Set<string> {
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
export function banIndex(table: FilterTable, parse: (text: string) => Address | undefined = tryParseAddress): Map<string, Map<string, SavedRule[]>> {
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
export interface Op {
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
export function planOps(diff: Diff, jails: readonly JailRule[], now: number): { ops: Op[]; invalid: Failure[] } {
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

/** The restore of these operations' lines for one family. */
export function opsRestore(family: Family, ops: readonly Op[]): Command {
  return restoreCommand(family, ops.flatMap((op) => op.lines));
}

/** The diff as commands: one `iptables-restore --noflush` per family with something to do. */
export function planRestores(diff: Diff, jails: readonly JailRule[], now: number): Command[] {
  const { ops } = planOps(diff, jails, now);
  return FAMILIES.flatMap((family) => {
    const lines = ops.filter((op) => op.family === family).flatMap((op) => op.lines);
    return lines.length === 0 ? [] : [restoreCommand(family, lines)];
  });
}

/** The filter table of one family as ensure reads it. */
export interface FamilyTable {
  readonly family: Family;
  readonly table: FilterTable;
  readonly own: ReadonlySet<string>;
  readonly foreign: ReadonlySet<string>;
}

export function familyTable(family: Family, table: FilterTable): FamilyTable {
  const own = ownChains(table);
  return { family, table, own, foreign: foreignChains(table, own) };
}

/** A jail whose chain name is taken by a chain without our mark (someone else's) in either family is skipped. */
export function planJails(tables: readonly FamilyTable[], jails: readonly JailRule[]): { served: JailRule[]; skipped: SkippedJail[] } {
  const served: JailRule[] = [];
  const skipped: SkippedJail[] = [];
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
  return { served, skipped };
}

/**
 * The lines making or completing a jail's chain in this table, and its jump from INPUT as it
 * should be beside the jumps to the chain there now.
 */
export function planChain(table: FamilyTable, jail: JailRule): { lines: string[]; jump: string[]; jumps: SavedRule[] } {
  const chain = chainName(jail.name);
  const lines: string[] = [];
  if (!table.table.chains.has(chain)) lines.push(`-N ${chain}`);
  if (!table.own.has(chain)) lines.push(`-A ${chain} ${MARK}`);
  const jumps = table.table.rules.filter((rule) => rule.chain === 'INPUT' && argAfter(rule.args, '-j') === chain);
  return { lines, jump: [...portMatch(jail), '-j', chain], jumps };
}

/** What ensure says of a chain named as fail2ban and earlier f2b-store both name them. */
export function legacyChainNote(family: Family, chain: string): string {
  return `${toolOf(family)}: chain ${chain} left as it is: fail2ban names its chains so, and so did earlier f2b-store `
    + '(whose chains are now f2bs-<jail>); if f2b-store made it, remove it and its jump from INPUT (see README, Migrating from an earlier f2b-store)';
}

/** Our chains in this table (ours by name and not someone else's) and the lines removing them with their jumps. */
export function planFlush(table: FilterTable): { chains: string[]; lines: string[] } {
  const foreign = foreignChains(table);
  const chains = [...table.chains].filter((chain) => parseChainName(chain) !== undefined && !foreign.has(chain));
  const owned = new Set(chains);
  const lines = [
    ...table.rules.filter((rule) => rule.chain === 'INPUT' && owned.has(argAfter(rule.args, '-j') ?? '')).map((rule) => `-D INPUT ${rule.spec}`),
    ...chains.flatMap((chain) => [`-F ${chain}`, `-X ${chain}`]),
  ];
  return { chains, lines };
}

/** Whether the table bans the operation's address in its chain. */
export function isBanned(index: ReadonlyMap<string, ReadonlyMap<string, unknown>>, op: Op): boolean {
  return index.get(op.chain)?.has(op.address) ?? false;
}

/**
 * Re-derives each operation from the rules really there: additions already present and removals
 * already gone need no line (done), a removal deletes every copy by its saved text, an addition
 * to a missing chain fails.
 */
export function triageOps(table: FilterTable, ops: readonly Op[]): Triage<Op> {
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
