import { createHash } from 'node:crypto';
import { checkJailName, InputError, outlasts, overlapFree, tryParseAddress, type Family, type SetMember } from '../core/index.js';
import { isJailName } from './object-names.js';
import type { Diff, Entry, EntryKey, JailRule } from './types.js';

// Everything f2b-store makes in nftables lives in this one table, so nothing else is ever touched.
export const TABLE = 'inet f2b-store';
export const CHAIN = 'input';
const CHAIN_SPEC = { type: 'filter', hook: 'input', prio: -1, policy: 'accept' } as const;

/** Kernel timeouts are a safety net only; ten years stays far below every kernel's limit. */
export const MAX_TIMEOUT_SECONDS = 3650 * 86_400;

/**
 * A timeout as nft reads it. nft 1.0.6 refuses plain seconds of nine digits or more ("value too
 * large") though the kernel holds them, so whole days are written apart: `3650d0s`, `3600s`.
 */
export function nftTimeout(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  return days === 0 ? `${seconds}s` : `${days}d${seconds - days * 86_400}s`;
}
/** Elements in one `add element` / `delete element` statement of a batch. */
export const CHUNK = 10_000;

/**
 * Set naming: `<kind><family>-<jail>`, kind `addr` (single addresses, a hash set) or `net`
 * (prefixes, an interval set): `addr4-sshd`, `net6-sshd`. Jail names are limited to
 * [A-Za-z0-9_.-] by core, all legal in an unquoted nft identifier, and the fixed letter prefix
 * keeps jails that start with a digit legal too. The name maps back by splitting at the first `-`.
 * Hosts and prefixes live in separate sets because an interval set refuses an address inside a
 * prefix it already holds.
 */
type SetKind = 'addr' | 'net';

export interface SetId {
  readonly kind: SetKind;
  readonly family: Family;
  readonly jail: string;
}

export function setName(id: SetId): string {
  return `${id.kind}${id.family}-${id.jail}`;
}

export function parseSetName(name: string): SetId | undefined {
  const dash = name.indexOf('-');
  const head = name.slice(0, dash);
  const jail = name.slice(dash + 1);
  const known: Record<string, Omit<SetId, 'jail'>> = {
    addr4: { kind: 'addr', family: 4 }, addr6: { kind: 'addr', family: 6 },
    net4: { kind: 'net', family: 4 }, net6: { kind: 'net', family: 6 },
  };
  const base = dash === -1 ? undefined : known[head];
  return base && isJailName(jail) ? { ...base, jail } : undefined;
}

function setType(id: SetId): string {
  return id.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
}

function setFlags(id: SetId): readonly string[] {
  return id.kind === 'net' ? ['interval', 'timeout'] : ['timeout'];
}

function setsOf(jail: string): SetId[] {
  return (['addr', 'net'] as const).flatMap((kind) => ([4, 6] as const).map((family) => ({ kind, family, jail })));
}

function addSet(id: SetId): string {
  return `add set ${TABLE} ${setName(id)} { type ${setType(id)}; flags ${setFlags(id).join(', ')}; }`;
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']);
const SERVICE = /^[a-z][a-z0-9-]{0,31}$/i;
const PORT_NUMBER = /^[0-9]{1,5}$/;

function portNumber(text: string, port: string): number {
  const value = PORT_NUMBER.test(text) ? Number(text) : NaN;
  if (!(value <= 65_535)) throw new InputError(`bad port "${port}": ${text} is not a port number`);
  return value;
}

/** fail2ban's port list (`ssh`, `22,2222`, `8000:8100`) as nft set elements; service names are left to nft. */
function nftPorts(port: string): string[] {
  const items = port.split(/[\s,]+/).filter((p) => p !== '');
  return items.map((item) => {
    if (SERVICE.test(item)) return item.toLowerCase();
    const colon = item.indexOf(':');
    if (colon === -1) return String(portNumber(item, port));
    const from = portNumber(item.slice(0, colon), port);
    const to = portNumber(item.slice(colon + 1), port);
    if (from > to) throw new InputError(`bad port "${port}": range ${item} runs backwards`);
    return from === to ? String(from) : `${from}-${to}`;
  });
}

function nftProtocols(rule: JailRule): string {
  const protocols = (rule.protocol ?? 'tcp').split(/[\s,]+/).filter((p) => p !== '').map((p) => p.toLowerCase());
  for (const p of protocols) {
    if (!PROTOCOLS.has(p)) throw new InputError(`bad protocol "${rule.protocol}" for jail ${rule.name}: use ${[...PROTOCOLS].join(', ')}`);
  }
  const [only, ...more] = protocols;
  if (only === undefined) return 'tcp';
  return more.length === 0 ? only : `{ ${protocols.join(', ')} }`;
}

interface RuleSpec {
  readonly set: string;
  /** The rule without its comment, as given to `add rule`. */
  readonly body: string;
  /** `f2b-store <set> <hash of body>`: names the rule and tells whether it is up to date. */
  readonly comment: string;
}

const COMMENT_PREFIX = 'f2b-store ';

function ruleSpec(rule: JailRule, id: SetId): RuleSpec {
  if (rule.blocktype !== 'reject' && rule.blocktype !== 'drop') {
    throw new InputError(`bad blocktype "${String(rule.blocktype)}" for jail ${rule.name}: use reject or drop`);
  }
  const parts: string[] = [];
  const ports = rule.port === undefined ? [] : nftPorts(rule.port);
  if (ports.length > 0) parts.push(`meta l4proto ${nftProtocols(rule)}`, `th dport { ${ports.join(', ')} }`);
  const set = setName(id);
  parts.push(`${id.family === 4 ? 'ip' : 'ip6'} saddr @${set}`, rule.blocktype);
  const body = parts.join(' ');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { set, body, comment: `${COMMENT_PREFIX}${set} ${hash}` };
}

/** The set named in one of our rule comments, or undefined for a rule f2b-store did not make. */
function ruleCommentSet(comment: string | undefined): string | undefined {
  if (comment === undefined || !comment.startsWith(COMMENT_PREFIX)) return undefined;
  const [set, hash, ...rest] = comment.slice(COMMENT_PREFIX.length).split(' ');
  return set !== undefined && parseSetName(set) && hash !== undefined && rest.length === 0 ? set : undefined;
}

/** What ensure() found in the table (structure only, no elements). */
export interface TableState {
  readonly table: boolean;
  readonly chain?: { readonly type?: string; readonly hook?: string; readonly prio?: number; readonly policy?: string };
  readonly sets: ReadonlyMap<string, { readonly type: string; readonly flags: readonly string[] }>;
  readonly rules: readonly { readonly handle: number; readonly comment?: string }[];
}

/**
 * The `nft -f` batch lines that bring the table to what these jails need, creating only what is
 * missing or outdated; empty when everything is in place. Rules and sets of jails not listed are
 * left alone.
 */
export function planEnsure(state: TableState, jails: readonly JailRule[]): string[] {
  const byName = new Map(jails.map((j) => [checkJailName(j.name), j]));
  const wanted = [...byName.values()].flatMap((rule) => setsOf(rule.name).map((id) => ({ id, rule: ruleSpec(rule, id) })));
  const head: string[] = [];
  const tail: string[] = [];
  if (!state.table) head.push(`add table ${TABLE}`);
  const chain = state.chain;
  const chainLine = `add chain ${TABLE} ${CHAIN} { type ${CHAIN_SPEC.type} hook ${CHAIN_SPEC.hook} priority filter - 1; policy ${CHAIN_SPEC.policy}; }`;
  const rebuild = chain !== undefined
    && (chain.type !== CHAIN_SPEC.type || chain.hook !== CHAIN_SPEC.hook || chain.prio !== CHAIN_SPEC.prio);
  if (rebuild) head.push(`flush chain ${TABLE} ${CHAIN}`, `delete chain ${TABLE} ${CHAIN}`);
  if (chain === undefined || rebuild || chain.policy !== CHAIN_SPEC.policy) tail.push(chainLine);

  const recreate = new Set<string>();
  for (const { id } of wanted) {
    const name = setName(id);
    const found = state.sets.get(name);
    if (found && (found.type !== setType(id) || [...found.flags].sort().join(',') !== setFlags(id).join(','))) recreate.add(name);
    if (!found || recreate.has(name)) tail.push(addSet(id));
  }
  const wantedRules = new Map(wanted.map(({ rule }) => [rule.set, rule]));
  const kept = new Set<string>();
  const deletes: string[] = [];
  for (const rule of rebuild ? [] : state.rules) {
    const set = ruleCommentSet(rule.comment);
    const want = set === undefined ? undefined : wantedRules.get(set);
    if (!want) continue;
    if (rule.comment === want.comment && !kept.has(want.set) && !recreate.has(want.set)) kept.add(want.set);
    else deletes.push(`delete rule ${TABLE} ${CHAIN} handle ${rule.handle}`);
  }
  for (const rule of wantedRules.values()) {
    if (!kept.has(rule.set)) tail.push(`add rule ${TABLE} ${CHAIN} ${rule.body} comment "${rule.comment}"`);
  }
  return [...head, ...deletes, ...[...recreate].map((name) => `delete set ${TABLE} ${name}`), ...tail];
}

/** A table that does not exist. */
export const NO_TABLE: TableState = { table: false, sets: new Map(), rules: [] };

/** The `nft -f` lines creating the sets of one jail (table and chain exist). */
export function jailSetLines(jail: string): string[] {
  return setsOf(checkJailName(jail)).map(addSet);
}

/** What planEnsure's lines leave for these jails when the table was missing, rules aside: the table, its chain, their sets. */
export function madeState(jails: Iterable<string>): TableState {
  const sets = new Map<string, { type: string; flags: readonly string[] }>();
  for (const jail of jails) for (const id of setsOf(jail)) sets.set(setName(id), { type: setType(id), flags: setFlags(id) });
  return { table: true, chain: CHAIN_SPEC, sets, rules: [] };
}

/** One element to add to or delete from one set. */
export interface ElementOp {
  readonly action: 'add' | 'delete';
  readonly set: string;
  readonly entry: EntryKey;
  /** The kernel timeout of an add, seconds; null for none. */
  readonly timeout: number | null;
}

/**
 * The element as written in the batch: the canonical address, then `timeout Ns` if any. Made
 * when the batch is written, not planned: a million of them kept until then would be garbage to
 * trace all along.
 */
export function elementText(op: ElementOp): string {
  return elementWords(op.entry.address, op.timeout);
}

function elementWords(address: string, timeout: number | null): string {
  return timeout === null ? address : `${address} timeout ${nftTimeout(timeout)}`;
}

/** The kernel timeout of adding an entry that expires at `expiresAt` (null: never), seconds. */
function addTimeout(expiresAt: number | null, now: number): number | null {
  return expiresAt === null ? null : Math.min(expiresAt - now, MAX_TIMEOUT_SECONDS);
}

/** One statement of a batch: `verb element` of these elements (already written) in `set`. */
function elementStatement(verb: string, set: string, elements: readonly string[]): string {
  return `${verb} element ${TABLE} ${set} { ${elements.join(', ')} }\n`;
}

export interface ElementPlan {
  /** Deletes first (a wider prefix may make room for a narrower one), then adds. */
  readonly ops: readonly ElementOp[];
  readonly invalid: readonly { readonly entry: EntryKey; readonly error: string }[];
  /** Entries not added because they had already expired at `now`. */
  readonly expired: number;
}

/** The sets of one jail, indexed by setIndex; undefined when the jail name is bad. */
type JailSets = readonly [string, string, string, string] | undefined;

const setIndex = (isNetwork: boolean, family: Family): number => (isNetwork ? 2 : 0) + (family === 6 ? 1 : 0);

function jailSets(jail: string): JailSets {
  if (!isJailName(jail)) return undefined;
  const name = (kind: SetKind, family: Family): string => setName({ kind, family, jail });
  return [name('addr', 4), name('addr', 6), name('net', 4), name('net', 6)];
}

/** An add, with the entry's expiry at hand for the later-expiry rule. */
interface AddOp extends ElementOp {
  readonly entry: Entry;
}

/** The set of each entry, every address checked to be canonical first; one that has none is told to `invalid`. */
function setFinder(invalid: { entry: EntryKey; error: string }[]): (entry: EntryKey) => string | undefined {
  // Set names made once per jail, not per entry: a name made afresh is hashed afresh as a map key.
  const jails = new Map<string, JailSets>();
  return (entry) => {
    let sets = jails.get(entry.jail);
    if (sets === undefined && !jails.has(entry.jail)) jails.set(entry.jail, sets = jailSets(entry.jail));
    if (!sets) {
      invalid.push({ entry, error: `bad jail name "${entry.jail}"` });
      return undefined;
    }
    const address = tryParseAddress(entry.address);
    if (!address || address.text !== entry.address || address.family !== entry.family) {
      invalid.push({ entry, error: `not a canonical IPv${entry.family} address or network: "${entry.address}"` });
      return undefined;
    }
    return sets[setIndex(address.isNetwork, address.family)];
  };
}

/** Turns a diff into element operations; every address is checked to be canonical before use. */
export function planElements(diff: Diff, now: number): ElementPlan {
  const invalid: { entry: EntryKey; error: string }[] = [];
  // Operations grouped by set, each address once, so the batch has one statement per set (and chunk).
  const deletes = new Map<string, Map<string, ElementOp>>();
  const adds = new Map<string, Map<string, AddOp>>();
  const target = setFinder(invalid);
  const group = <T>(groups: Map<string, Map<string, T>>, set: string): Map<string, T> => {
    let found = groups.get(set);
    if (!found) groups.set(set, found = new Map());
    return found;
  };
  for (const entry of diff.remove) {
    const set = target(entry);
    if (set) group(deletes, set).set(entry.address, { action: 'delete', set, entry, timeout: null });
  }
  let expired = 0;
  for (const entry of diff.add) {
    const set = target(entry);
    if (!set) continue;
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      expired++;
      continue;
    }
    const inSet = group(adds, set);
    const before = inSet.get(entry.address);
    if (before && !outlasts(entry.expiresAt, before.entry.expiresAt)) continue;
    inSet.set(entry.address, { action: 'add', set, entry, timeout: addTimeout(entry.expiresAt, now) });
  }
  const ops: ElementOp[] = [];
  for (const groups of [deletes, adds]) for (const inGroup of groups.values()) for (const op of inGroup.values()) ops.push(op);
  return { ops, invalid, expired };
}

/**
 * The `nft -f` text for these operations, in order, at most CHUNK elements per statement. With
 * `create`, adds are written `create element`: an element already there then fails the batch.
 */
export function elementBatch(ops: readonly ElementOp[], add: 'add' | 'create' = 'add'): string {
  const statements: string[] = [];
  let elements: string[] = [];
  let last: ElementOp | undefined;
  const close = (): void => {
    if (last) statements.push(elementStatement(last.action === 'add' ? add : 'delete', last.set, elements));
  };
  for (const op of ops) {
    if (op.action !== last?.action || op.set !== last.set || elements.length >= CHUNK) {
      close();
      elements = [];
    }
    elements.push(elementText(op));
    last = op;
  }
  close();
  return statements.join('');
}

/** The statements adding some entries (see addBatch), and what they hold. */
export interface AddBatch {
  readonly text: string;
  /** How many elements the statements add. */
  readonly added: number;
  /** The jails whose sets they add to, each once. */
  readonly jails: readonly string[];
  readonly invalid: readonly { readonly entry: EntryKey; readonly error: string }[];
}

/**
 * elementBatch(planElements({ add: entries, remove: [] }, now).ops, add) in one pass, with no
 * object per element: a streamed restore writes a million of them. Unlike planElements, an
 * address given twice in a set is written twice: with `create` nft then refuses the batch.
 */
export function addBatch(entries: readonly Entry[], now: number, add: 'add' | 'create'): AddBatch {
  const invalid: { entry: EntryKey; error: string }[] = [];
  const target = setFinder(invalid);
  const bySet = new Map<string, string[]>();
  const jails = new Set<string>();
  let added = 0;
  for (const entry of entries) {
    const set = target(entry);
    if (!set || (entry.expiresAt !== null && entry.expiresAt <= now)) continue;
    let elements = bySet.get(set);
    if (!elements) {
      bySet.set(set, elements = []);
      jails.add(entry.jail);
    }
    elements.push(elementWords(entry.address, addTimeout(entry.expiresAt, now)));
    added++;
  }
  const statements: string[] = [];
  for (const [set, elements] of bySet) {
    for (let at = 0; at < elements.length; at += CHUNK) {
      statements.push(elementStatement(add, set, elements.slice(at, at + CHUNK)));
    }
  }
  return { text: statements.join(''), added, jails: [...jails], invalid };
}

/**
 * What the sets hold for these desired entries: hosts as they are; the prefixes of one jail and
 * family made overlap-free (core's overlapFree: the widest kept, a contained prefix comes back when
 * the wider one is lifted; a prefix given twice keeps its later expiry). Entries that are not
 * addresses pass through for plan() to refuse.
 */
export function representEntries(desired: readonly Entry[]): Entry[] {
  const networks: (SetMember & { readonly index: number; readonly entry: Entry })[] = [];
  for (let index = 0; index < desired.length; index++) {
    const entry = desired[index];
    if (!entry?.address.includes('/')) continue; // a canonical host has no prefix length: nothing to parse
    const address = tryParseAddress(entry.address);
    if (!address?.isNetwork || address.text !== entry.address) continue;
    networks.push({ index, entry, address, expiresAt: entry.expiresAt });
  }
  const replaced = new Map<number, Entry | undefined>(networks.map(({ index }) => [index, undefined]));
  for (const { index, entry, expiresAt } of overlapFree(networks, (network) => network.entry.jail)) {
    if (expiresAt === entry.expiresAt) replaced.delete(index);
    else replaced.set(index, { ...entry, expiresAt });
  }
  if (replaced.size === 0) return [...desired];
  const represented: Entry[] = [];
  for (const [index, entry] of desired.entries()) {
    const instead = replaced.has(index) ? replaced.get(index) : entry;
    if (instead) represented.push(instead);
  }
  return represented;
}

/** How many elements of each hash set a probe samples. */
export const PROBE_SAMPLE = 256;

/** A presence probe of sampled elements of hash sets (see planProbe). */
export interface Probe {
  /** The `nft -f` text: line 1 `create table` (always fails), then one `create element` per sampled element. */
  readonly text: string;
  readonly lines: number;
}

/**
 * A batch that proves, without listing, that each hash set holds a sample of `wanted` (set →
 * canonical addresses): `create element` of an element that exists fails with "File exists", of
 * one that does not succeeds, and the first line (`create table` of our existing table) always
 * fails, so the kernel rolls the whole batch back and nothing changes. Every line failing with
 * "File exists" is the proof; listing a set of 600,000 costs nft 1.0.6 tens of seconds.
 */
export function planProbe(wanted: ReadonlyMap<string, readonly string[]>, pick: (n: number) => number): Probe {
  const lines = [`create table ${TABLE}`];
  for (const [set, addresses] of wanted) {
    const chosen = new Set<number>();
    const size = Math.min(PROBE_SAMPLE, addresses.length);
    if (size === addresses.length) for (let i = 0; i < size; i++) chosen.add(i);
    while (chosen.size < size) chosen.add(pick(addresses.length));
    for (const i of chosen) lines.push(`create element ${TABLE} ${set} { ${addresses[i] ?? ''} }`);
  }
  return { text: `${lines.join('\n')}\n`, lines: lines.length };
}

/** The batch lines (1-based) nft reported as "File exists" in its stderr. */
export function existingLines(stderr: string): Set<number> {
  const lines = new Set<number>();
  for (const match of stderr.matchAll(/:(\d+):\d+(?:-\d+)?: Error: Could not process rule: File exists$/gm)) lines.add(Number(match[1]));
  return lines;
}
