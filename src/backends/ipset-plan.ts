import { outlasts, tryParseAddress, type Address, type Expiry, type Family } from '../core/index.js';
import { FAMILIES, portMatch, verdict, type FilterTable, type SavedRule } from './iptables-rules.js';
import { ipsetName, ipsetOfTemp, ipsetTempName, isJailName, parseIpsetName, parseLegacyIpsetName, type JailFamily } from './object-names.js';
import type { Command, Diff, EntryKey, JailRule, SkippedJail } from './types.js';

/** The `maxelem` of a set created for up to half as many entries. */
export const MIN_MAXELEM = 65_536;
const MIN_HASHSIZE = 1_024;
const MAX_HASHSIZE = 1 << 20;
/** The kernel's limit for an ipset timeout, in seconds. */
export const MAX_IPSET_TIMEOUT = 2_147_483;

export interface SetHeader {
  readonly name: string;
  readonly type: string;
  readonly family: Family | undefined;
  readonly maxelem: number;
  readonly entries: number;
  /** How many rules (and list sets) match against it: the kernel's own count, 0 when no rule uses it. */
  readonly references: number;
  readonly timeout: boolean;
}

/** What f2b-store makes: `hash:net` with timeout support, of the family its name says. fail2ban's ipset actions make `hash:ip`. */
function isOurKind(header: SetHeader, family: Family): boolean {
  return header.type === 'hash:net' && header.family === family && header.timeout;
}

/** The jail and family of one of our sets; undefined for a set of another name or kind (someone else's). */
export function ownerOf(header: SetHeader): JailFamily | undefined {
  const owner = parseIpsetName(header.name);
  return owner && isOurKind(header, owner.family) ? owner : undefined;
}

/** Whether no set has a name of ours, or is one of an earlier f2b-store: nothing to read back, take over or skip (a restore after a reboot). */
export function noSetOfOurs(headers: ReadonlyMap<string, SetHeader>): boolean {
  return [...headers.values()].every((header) => parseIpsetName(ipsetOfTemp(header.name) ?? header.name) === undefined && !legacyOwner(header));
}

/** Ours, or the rebuild set of one of ours (left by an interrupted grow). */
function isOwnedSet(header: SetHeader): boolean {
  const owner = parseIpsetName(ipsetOfTemp(header.name) ?? header.name);
  return owner !== undefined && isOurKind(header, owner.family);
}

/** The jail of a set earlier f2b-store made (`f2b-<jail>`, `f2b-<jail>-6`, or their rebuild sets), told from fail2ban's by its kind. */
function legacyOwner(header: SetHeader): JailFamily | undefined {
  const { family } = header;
  if (family === undefined || !isOurKind(header, family)) return undefined;
  const jail = parseLegacyIpsetName(ipsetOfTemp(header.name) ?? header.name, family);
  return jail === undefined ? undefined : { jail, family };
}

function describe(header: SetHeader): string {
  return `${header.type} family ${header.family === 6 ? 'inet6' : header.family === 4 ? 'inet' : 'unknown'}${header.timeout ? ' with timeout' : ' without timeout'}`;
}

/** Reads `ipset list -t`: one block per set, `Name:`, `Type:`, `Header:`, `Number of entries:`. */
export function parseHeaders(text: string): Map<string, SetHeader> {
  const headers = new Map<string, SetHeader>();
  const save = (block: Map<string, string>): void => {
    const name = block.get('Name');
    if (name === undefined) return;
    const header = (block.get('Header') ?? '').split(' ');
    const after = (flag: string): string | undefined => {
      const at = header.indexOf(flag);
      return at === -1 ? undefined : header[at + 1];
    };
    const family = after('family');
    headers.set(name, {
      name,
      type: block.get('Type') ?? '',
      family: family === 'inet' ? 4 : family === 'inet6' ? 6 : undefined,
      maxelem: Number(after('maxelem') ?? MIN_MAXELEM),
      entries: Number(block.get('Number of entries') ?? 0),
      references: Number(block.get('References') ?? 0),
      timeout: header.includes('timeout'),
    });
  };
  let block = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    const field = colon === -1 ? line.replace(/:$/, '') : line.slice(0, colon);
    if (field === 'Name') {
      save(block);
      block = new Map();
    }
    block.set(field, colon === -1 ? '' : line.slice(colon + 2));
  }
  save(block);
  return headers;
}

export interface Member {
  /** As `ipset save` printed it. */
  readonly text: string;
  readonly address: Address | undefined;
  /** Everything after the address (` timeout 3599`), kept when the set is rebuilt. */
  readonly options: string;
}

/** The `add SET …` lines of `ipset save SET`. Entries marked `nomatch` are exceptions, not bans, and are left out. */
export function parseMembers(text: string, set: string, parse: (text: string) => Address | undefined = tryParseAddress): Member[] {
  const prefix = `add ${set} `;
  const members: Member[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const rest = line.slice(prefix.length).trimEnd();
    const space = rest.indexOf(' ');
    const options = space === -1 ? '' : rest.slice(space);
    if (/ nomatch\b/.test(options)) continue;
    const printed = space === -1 ? rest : rest.slice(0, space);
    members.push({ text: printed, address: parse(printed), options });
  }
  return members;
}

/** The `create` line of a `hash:net` set with timeouts, sized for `size` entries. */
export function createLine(name: string, family: Family, size: number): string {
  let maxelem = MIN_MAXELEM;
  while (maxelem < 2 * size) maxelem *= 2;
  let hashsize = MIN_HASHSIZE;
  while (hashsize < size / 2 && hashsize < MAX_HASHSIZE) hashsize *= 2;
  return `create ${name} hash:net family ${family === 4 ? 'inet' : 'inet6'} hashsize ${hashsize} maxelem ${maxelem} timeout 0`;
}

/** Seconds an entry should live in the kernel: 0 = permanent, undefined = already expired. */
export function timeoutOf(expiresAt: number | null, now: number): number | undefined {
  if (expiresAt === null) return 0;
  const left = expiresAt - now;
  return left > 0 ? Math.min(left, MAX_IPSET_TIMEOUT) : undefined;
}

/** A timeout of timeoutOf as the expiry it stands for, counted from the same `now`, for the later-expiry rule. */
function expiryOf(timeout: number): Expiry {
  return timeout === 0 ? null : timeout;
}

/** One entry to add to or delete from one set. */
export interface Item {
  readonly key: EntryKey;
  readonly kind: 'add' | 'del';
  readonly set: string;
  readonly address: string;
  readonly timeout: number;
}

interface Failure {
  readonly entry: EntryKey;
  readonly error: string;
}

function lineOf(item: Item): string {
  return item.kind === 'del' ? `del ${item.set} ${item.address}` : `add ${item.set} ${item.address} timeout ${item.timeout}`;
}

/** The diff as items, removals first; expired additions dropped; the same entry added twice keeps its longest timeout. */
export function planItems(diff: Diff, now: number): { items: Item[]; invalid: Failure[] } {
  const invalid: Failure[] = [];
  const setsOf = new Map<string, Readonly<Record<Family, string>> | undefined>();
  const locate = (key: EntryKey, kind: Item['kind'], timeout: number): Item | undefined => {
    const address = tryParseAddress(key.address);
    let sets = setsOf.get(key.jail);
    if (!setsOf.has(key.jail)) {
      sets = isJailName(key.jail) ? { 4: ipsetName(key.jail, 4), 6: ipsetName(key.jail, 6) } : undefined;
      setsOf.set(key.jail, sets);
    }
    if (address && sets) return { key, kind, set: sets[address.family], address: address.text, timeout };
    invalid.push({ entry: key, error: address ? `bad jail name "${key.jail}"` : `not an IP address or CIDR: "${key.address}"` });
    return undefined;
  };
  const removes = new Map<string, Item>();
  const adds = new Map<string, Item>();
  for (const key of diff.remove) {
    const item = locate(key, 'del', 0);
    if (item) removes.set(`${item.set} ${item.address}`, item);
  }
  for (const entry of diff.add) {
    const timeout = timeoutOf(entry.expiresAt, now);
    if (timeout === undefined) continue;
    const item = locate(entry, 'add', timeout);
    if (!item) continue;
    const id = `${item.set} ${item.address}`;
    const earlier = adds.get(id);
    if (!earlier || outlasts(expiryOf(timeout), expiryOf(earlier.timeout))) adds.set(id, item);
  }
  return { items: [...removes.values(), ...adds.values()], invalid };
}

const RESTORE: readonly string[] = ['ipset', 'restore', '-exist'];

/** One `ipset restore -exist` of these lines: with -exist every line is safe to repeat. */
export function ipsetRestore(lines: readonly string[]): Command {
  return { argv: RESTORE, stdin: `${lines.join('\n')}\n` };
}

/** The restore of these items, in order. */
export function itemsRestore(items: readonly Item[]): Command {
  return ipsetRestore(items.map(lineOf));
}

/** The diff as commands: one restore, or nothing. */
export function planRestore(diff: Diff, now: number): Command[] {
  const { items } = planItems(diff, now);
  return items.length === 0 ? [] : [itemsRestore(items)];
}

/** A set to create in ensure; `from` is the set of an earlier f2b-store whose members it takes over. */
export interface SetToCreate {
  readonly name: string;
  readonly family: Family;
  readonly from?: string;
}

export interface SetsPlan {
  readonly served: readonly JailRule[];
  readonly skipped: readonly SkippedJail[];
  readonly creates: readonly SetToCreate[];
  /** The sets of an earlier f2b-store: their rules go once the new ones are in, then they are destroyed. */
  readonly legacy: ReadonlySet<string>;
}

/**
 * A jail whose set name is taken by a set f2b-store does not make (another kind, another family)
 * is skipped; the sets of the others are created where missing, taking over the members of the
 * set an earlier f2b-store made for the jail when there is one.
 */
export function planSets(headers: ReadonlyMap<string, SetHeader>, jails: readonly JailRule[]): SetsPlan {
  const legacy = [...headers.values()].flatMap((header) => {
    const owner = legacyOwner(header);
    return owner ? [{ header, owner }] : [];
  });
  const served: JailRule[] = [];
  const skipped: SkippedJail[] = [];
  const creates: SetToCreate[] = [];
  for (const jail of new Map(jails.map((j) => [j.name, j])).values()) {
    const taken = FAMILIES.map((family) => ({ family, header: headers.get(ipsetName(jail.name, family)) }))
      .find(({ family, header }) => header && !isOurKind(header, family))?.header;
    if (taken) {
      skipped.push({
        jail: jail.name,
        error: `jail ${jail.name} skipped: ipset ${taken.name} is ${describe(taken)}, not a set f2b-store made (hash:net with timeout), `
          + 'so it is left alone: remove or rename it and f2b-store makes its own',
      });
      continue;
    }
    served.push(jail);
    for (const family of FAMILIES) {
      const name = ipsetName(jail.name, family);
      if (headers.has(name)) continue;
      const old = legacy.find((l) => l.owner.jail === jail.name && l.owner.family === family && ipsetOfTemp(l.header.name) === undefined);
      creates.push(old ? { name, family, from: old.header.name } : { name, family });
    }
  }
  return { served, skipped, creates, legacy: new Set(legacy.map((l) => l.header.name)) };
}

/**
 * Why the sets of these jails may not be as ensure() leaves them, from `ipset list -t` alone: a
 * set missing, or a set no rule matches (its kernel reference count is 0), or undefined. A jail
 * whose set name is someone else's is ensure's to skip, not a drift. It cannot see a rule of ours
 * changed in place, moved, or removed while another rule still matches the set, nor a set of an
 * earlier f2b-store to take over: ensure() at every full check reads the rules themselves.
 */
export function setsDrift(headers: ReadonlyMap<string, SetHeader>, jails: readonly JailRule[]): string | undefined {
  const { served, creates } = planSets(headers, jails);
  const [missing] = creates;
  if (missing) return `ipset ${missing.name} does not exist`;
  for (const jail of served) {
    for (const family of FAMILIES) {
      const name = ipsetName(jail.name, family);
      if (headers.get(name)?.references === 0) return `no rule matches ipset ${name}`;
    }
  }
  return undefined;
}

/** How many entries of each set a probe tests. */
export const PROBE_SAMPLE = 256;

/**
 * Why our sets cannot hold exactly what `wanted` says (set → addresses), from the counts of
 * `ipset list -t`, or undefined: a wanted set missing, or any set of ours holding another number
 * of entries (one that should be empty, too).
 */
export function countsDiffer(headers: ReadonlyMap<string, SetHeader>, wanted: ReadonlyMap<string, readonly string[]>): string | undefined {
  for (const [set, addresses] of wanted) {
    const header = headers.get(set);
    if (!header || !ownerOf(header)) return notOurSet(set, header);
    if (header.entries !== addresses.length) return `ipset ${set} holds ${header.entries} entries, ${addresses.length} expected`;
  }
  for (const header of headers.values()) {
    if (header.entries > 0 && !wanted.has(header.name) && ownerOf(header)) return `ipset ${header.name} holds ${header.entries} entries, 0 expected`;
  }
  return undefined;
}

/**
 * `test SET ADDRESS` lines for up to PROBE_SAMPLE addresses of each set, picked with `pick(n)` (an
 * index below n), or why an address picked is none ipset takes (only canonical addresses reach
 * a batch: entries come from log lines).
 */
export function probeLines(wanted: ReadonlyMap<string, readonly string[]>, pick: (n: number) => number): { lines: string[] } | { bad: string } {
  const lines: string[] = [];
  for (const [set, addresses] of wanted) {
    const picked = new Set<number>();
    if (addresses.length <= PROBE_SAMPLE) for (let i = 0; i < addresses.length; i++) picked.add(i);
    else while (picked.size < PROBE_SAMPLE) picked.add(pick(addresses.length));
    for (const i of picked) {
      const address = addresses[i] ?? '';
      if (tryParseAddress(address)?.text !== address) return { bad: address };
      lines.push(`test ${set} ${address}`);
    }
  }
  return { lines };
}

/** The restore lines creating a set holding these members. */
export function createSetLines(name: string, family: Family, members: readonly Member[]): string[] {
  return [createLine(name, family, members.length), ...members.map((m) => `add ${name} ${m.text}${m.options}`)];
}

function matchesSet(rule: SavedRule, sets: ReadonlySet<string>): boolean {
  const at = rule.args.indexOf('--match-set');
  return rule.chain === 'INPUT' && at > 0 && rule.args[at - 1] !== '!' && sets.has(rule.args[at + 1] ?? '') && rule.args[at + 2] === 'src';
}

/** The rule matching a jail's set of this family, as it should be, and the INPUT rules matching that set now. */
export function setRule(table: FilterTable, jail: JailRule, family: Family): { desired: string[]; ours: SavedRule[] } {
  const set = ipsetName(jail.name, family);
  const desired = [...portMatch(jail), '-m', 'set', '--match-set', set, 'src', ...verdict(jail.blocktype, family)];
  return { desired, ours: table.rules.filter((rule) => matchesSet(rule, new Set([set]))) };
}

/** Restore lines deleting the INPUT rules that match any of these sets. */
export function deleteSetRules(table: FilterTable, sets: ReadonlySet<string>): string[] {
  return table.rules.filter((rule) => matchesSet(rule, sets)).map((rule) => `-D INPUT ${rule.spec}`);
}

/** Our sets, their leftover rebuild sets and the sets of an earlier f2b-store: what flush destroys. */
export function ownedSets(headers: ReadonlyMap<string, SetHeader>): string[] {
  return [...headers.values()].filter((header) => isOwnedSet(header) || legacyOwner(header)).map((header) => header.name);
}

/** Why items for `set`, missing or not one of ours, are not applied. */
export function notOurSet(set: string, header: SetHeader | undefined): string {
  return header ? `ipset ${set} is ${describe(header)}, someone else's: left alone` : `ipset ${set} does not exist (ensure creates it)`;
}

/** Whether adding these items would overflow the set's `maxelem`. */
export function overflows(header: SetHeader, items: readonly Item[]): boolean {
  return header.entries + items.filter((item) => item.kind === 'add').length > header.maxelem;
}

/**
 * The restore rebuilding `set` with room for what it will hold (its members but those removed, and
 * the additions) and swapping it in, so the rule matching it never sees it empty; the items go in after.
 */
export function growRestore(set: string, family: Family, members: readonly Member[], items: readonly Item[]): Command {
  const temp = ipsetTempName(set);
  const kept = new Map<string, Member>();
  for (const member of members) kept.set(member.address?.text ?? member.text, member);
  for (const item of items) if (item.kind === 'del') kept.delete(item.address);
  const adding = items.filter((item) => item.kind === 'add').length;
  return ipsetRestore([
    `destroy ${temp}`,
    createLine(temp, family, kept.size + adding),
    ...[...kept.values()].map((m) => `add ${temp} ${m.text}${m.options}`),
    `swap ${temp} ${set}`,
    `destroy ${temp}`,
  ]);
}
