import { messageOf, OperationError, outlasts, tryParseAddress, type Address, type Expiry, type Family } from '../core/index.js';
import { applyInBatches } from './batch.js';
import { isExitError, type Exec } from './exec.js';
import {
  applyReport, checkJail, createAddressMemo, FAMILIES, portMatch, readFilterTable, restoreCommand, settleInputRule, verdict, type SavedRule,
} from './iptables-rules.js';
import { ipsetName, ipsetOfTemp, ipsetTempName, isJailName, parseIpsetName, parseLegacyIpsetName, type JailFamily } from './object-names.js';
import type { ApplyReport, Backend, Command, Diff, Ensured, EntryKey, JailRule, SkippedJail } from './types.js';

export interface IpsetBackendOptions {
  readonly exec: Exec;
}

const MIN_MAXELEM = 65_536;
const MIN_HASHSIZE = 1_024;
const MAX_HASHSIZE = 1 << 20;
/** The kernel's limit for an ipset timeout, in seconds. */
export const MAX_IPSET_TIMEOUT = 2_147_483;
/** What f2b-store makes: `hash:net` with timeout support, of the family its name says. fail2ban's ipset actions make `hash:ip`. */
function isOurKind(header: SetHeader, family: Family): boolean {
  return header.type === 'hash:net' && header.family === family && header.timeout;
}

/** The jail and family of one of our sets; undefined for a set of another name or kind (someone else's). */
function ownerOf(header: SetHeader): JailFamily | undefined {
  const owner = parseIpsetName(header.name);
  return owner && isOurKind(header, owner.family) ? owner : undefined;
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

interface SetHeader {
  readonly name: string;
  readonly type: string;
  readonly family: Family | undefined;
  readonly maxelem: number;
  readonly entries: number;
  readonly timeout: boolean;
}

/** Reads `ipset list -t`: one block per set, `Name:`, `Type:`, `Header:`, `Number of entries:`. */
function parseHeaders(text: string): Map<string, SetHeader> {
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

interface Member {
  /** As `ipset save` printed it. */
  readonly text: string;
  readonly address: Address | undefined;
  /** Everything after the address (` timeout 3599`), kept when the set is rebuilt. */
  readonly options: string;
}

/** The `add SET …` lines of `ipset save SET`. Entries marked `nomatch` are exceptions, not bans, and are left out. */
function parseMembers(text: string, set: string, parse: (text: string) => Address | undefined = tryParseAddress): Member[] {
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

interface Item {
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

function lineOf(item: Item, set = item.set): string {
  return item.kind === 'del' ? `del ${set} ${item.address}` : `add ${set} ${item.address} timeout ${item.timeout}`;
}

/** The diff as items, removals first; expired additions dropped; the same entry added twice keeps its longest timeout. */
function prepare(diff: Diff, now: number): { items: Item[]; invalid: Failure[] } {
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

function restore(lines: readonly string[]): Command {
  return { argv: RESTORE, stdin: `${lines.join('\n')}\n` };
}

/** What ipset itself said of a failed command: its stderr without version and line number, or undefined when it did not run and fail. */
function ipsetSaid(error: unknown): string | undefined {
  return isExitError(error) ? error.stderr.trim().replace(/^ipset v[\d.]+: /, '').replace(/^Error in line \d+: /, '') : undefined;
}

function matchesSet(rule: SavedRule, sets: ReadonlySet<string>): boolean {
  const at = rule.args.indexOf('--match-set');
  return rule.chain === 'INPUT' && at > 0 && rule.args[at - 1] !== '!' && sets.has(rule.args[at + 1] ?? '') && rule.args[at + 2] === 'src';
}

/**
 * The ipset backend: sets `f2bs4-<jail>` (IPv4) and `f2bs6-<jail>` (IPv6; see object-names) of
 * type `hash:net` with timeout support, each matched by one rule at the head of INPUT (`-m set
 * --match-set SET src -j REJECT|DROP`, limited to the jail's ports when it has some). Every apply
 * is one `ipset restore`; a set about to overflow its `maxelem` is first rebuilt in a bigger one
 * and swapped in (`ipset swap`, one restore more), so its rule never sees it empty.
 */
export function createIpsetBackend(options: IpsetBackendOptions): Backend {
  const { exec } = options;
  const memo = createAddressMemo();

  async function run(command: Command, what: string): Promise<string> {
    try {
      return await exec(command);
    } catch (error) {
      throw new OperationError(`${what}: ${messageOf(error)}`, { cause: error });
    }
  }

  const readHeaders = async (): Promise<Map<string, SetHeader>> => parseHeaders(await run({ argv: ['ipset', 'list', '-t'] }, 'ipset list'));

  /** Runs `ipset restore` of these lines, or nothing when there are none. */
  async function restoreLines(lines: readonly string[], what: string, ran: Command[]): Promise<void> {
    if (lines.length === 0) return;
    const command = restore(lines);
    await run(command, `ipset restore (${what})`);
    ran.push(command);
  }

  /**
   * A jail whose set name is taken by a set f2b-store does not make (another kind, another family)
   * is skipped; the sets of the others are created where missing, each matched by its rule. Sets
   * an earlier f2b-store made under the old names go: what one held for a jail served here is
   * copied into the jail's new set first (when that is being created), and the new rules are in
   * before the old ones go, so no ban lapses.
   */
  async function ensure(jails: readonly JailRule[]): Promise<Ensured> {
    for (const jail of jails) checkJail(jail);
    const ran: Command[] = [];
    const skipped: SkippedJail[] = [];
    const notes: string[] = [];
    const headers = await readHeaders();
    const legacy = [...headers.values()].flatMap((header) => {
      const owner = legacyOwner(header);
      return owner ? [{ header, owner }] : [];
    });
    const served: JailRule[] = [];
    const creates: string[] = [];
    /** Old set → the new set its entries were copied into. */
    const copied = new Map<string, string>();
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
        const members = old ? parseMembers(await run({ argv: ['ipset', 'save', old.header.name] }, `ipset save ${old.header.name}`), old.header.name) : [];
        creates.push(createLine(name, family, members.length), ...members.map((m) => `add ${name} ${m.text}${m.options}`));
        if (old) copied.set(old.header.name, name);
      }
    }
    await restoreLines(creates, `creating ${creates.filter((line) => line.startsWith('create ')).length} sets`, ran);
    const legacyNames = new Set(legacy.map((l) => l.header.name));
    for (const family of FAMILIES) {
      const table = await readFilterTable(exec, family);
      const lines: string[] = [];
      for (const jail of served) {
        const set = ipsetName(jail.name, family);
        const desired = [...portMatch(jail), '-m', 'set', '--match-set', set, 'src', ...verdict(jail.blocktype, family)];
        const ours = table.rules.filter((rule) => matchesSet(rule, new Set([set])));
        lines.push(...await settleInputRule(exec, family, desired, ours));
      }
      // After the new rules: the old sets' rules go in the same atomic restore.
      lines.push(...table.rules.filter((rule) => matchesSet(rule, legacyNames)).map((rule) => `-D INPUT ${rule.spec}`));
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (rules matching the f2b-store sets)`);
        ran.push(command);
      }
    }
    for (const name of legacyNames) {
      const into = copied.get(name);
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

  function plan(diff: Diff, _jails: readonly JailRule[], now: number): readonly Command[] {
    const { items } = prepare(diff, now);
    return items.length === 0 ? [] : [restore(items.map((item) => lineOf(item)))];
  }

  /**
   * Rebuilds `set` with room for what it will hold (its members but those removed, and the
   * additions) and swaps it in, so the rule matching it never sees it empty; the items go in after.
   */
  async function grow(set: string, family: Family, items: readonly Item[]): Promise<void> {
    const temp = ipsetTempName(set);
    const kept = new Map<string, Member>();
    for (const member of parseMembers(await run({ argv: ['ipset', 'save', set] }, `ipset save ${set}`), set)) {
      kept.set(member.address?.text ?? member.text, member);
    }
    for (const item of items) if (item.kind === 'del') kept.delete(item.address);
    const adding = items.filter((item) => item.kind === 'add').length;
    await run(restore([
      `destroy ${temp}`,
      createLine(temp, family, kept.size + adding),
      ...[...kept.values()].map((m) => `add ${temp} ${m.text}${m.options}`),
      `swap ${temp} ${set}`,
      `destroy ${temp}`,
    ]), `ipset ${set}: growing it`);
  }

  async function apply(diff: Diff, _jails: readonly JailRule[], now: number): Promise<ApplyReport> {
    const { items, invalid } = prepare(diff, now);
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
        const why = header ? `ipset ${set} is ${describe(header)}, someone else's: left alone` : `ipset ${set} does not exist (ensure creates it)`;
        for (const item of setItems) if (item.kind === 'add') failures.set(item, why);
        continue;
      }
      if (header.entries + setItems.filter((item) => item.kind === 'add').length > header.maxelem) {
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
      await exec(restore(batch.map((item) => lineOf(item))));
    }, { fatal: (error) => !isExitError(error) });
    for (const { item, error, alone } of outcome.failed) {
      const said = alone ? ipsetSaid(error) : undefined;
      failures.set(item, `ipset ${item.set}: ${said === undefined || said === '' ? messageOf(error) : said}`);
    }
    return applyReport(items, invalid, failures);
  }

  async function flush(): Promise<void> {
    const owned = [...(await readHeaders()).values()].filter((header) => isOwnedSet(header) || legacyOwner(header)).map((header) => header.name);
    if (owned.length === 0) return;
    const names = new Set(owned);
    for (const family of FAMILIES) {
      const table = await readFilterTable(exec, family);
      const lines = table.rules.filter((rule) => matchesSet(rule, names)).map((rule) => `-D INPUT ${rule.spec}`);
      if (lines.length > 0) {
        const command = restoreCommand(family, lines);
        await run(command, `${command.argv[0]} (removing the rules matching the f2b-store sets)`);
      }
    }
    await run(restore(owned.map((name) => `destroy ${name}`)), `ipset destroy ${owned.join(' ')}`);
  }

  async function count(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const header of (await readHeaders()).values()) {
      if (ownerOf(header)) counts.set(header.name, header.entries);
    }
    return counts;
  }

  return {
    name: 'ipset',
    ensure: (jails) => ensure(jails),
    represent: (desired) => [...desired],
    list,
    plan,
    apply,
    flush,
    // `ipset list -t` prints each set's header with its number of entries, never the entries.
    census: { objectOf: (entry) => ipsetName(entry.jail, entry.family), count },
  };
}
