import { InputError, overlapFree, tryParseAddress, type Family } from '../core/index.js';
import {
  newIpsetCall, newPolicyCall, permanentEntryCall, permanentIpsetPathCall, reloadCall, runtimeEntryCall, type BusctlValue, type DbusValue,
} from './firewalld-dbus.js';
import { ipsetName, isJailName, parseIpsetName, parseLegacyIpsetName, type JailFamily } from './object-names.js';
import type { Command, Diff, Entry, EntryKey, JailRule } from './types.js';

/** The firewalld policy (ingress ANY → egress HOST) holding our rich rules; every rule in it is ours. */
export const FIREWALLD_POLICY = 'f2b-store';
/** Policies with a negative priority run before any zone; ours runs before other policies too. */
export const FIREWALLD_POLICY_PRIORITY = -32000;
/**
 * `maxelem` of the ipsets we create. firewalld cannot change an ipset's options without deleting
 * and re-creating it (and reloading), so it is set once, far above fail2ban's 65,536. It is a cap,
 * not an allocation (an nftables set `size`, or ipset's limit beside its growing `hashsize`).
 */
export const FIREWALLD_DEFAULT_MAXELEM = 1_048_576;

const FAMILY_NAME: Readonly<Record<Family, string>> = { 4: 'ipv4', 6: 'ipv6' };
const IPSET_FAMILY: Readonly<Record<Family, string>> = { 4: 'inet', 6: 'inet6' };
/** Where firewall-cmd reads `--add-entries-from-file` from: the command's stdin. */
const STDIN_FILE = '/dev/stdin';
/**
 * firewall-cmd reads entries only from a file it opens, and Node hands a child its stdin as a
 * socket, which /dev/stdin cannot open (ENXIO); `cat` turns it into a pipe, which it can. The
 * script is fixed: the arguments stay arguments and the entries stay on stdin.
 */
const THROUGH_PIPE = ['sh', '-c', 'cat | exec firewall-cmd "$@"', 'firewall-cmd'];
/** What firewall-cmd prints, with exit status 0, when it cannot read an entries file. */
export const UNREADABLE_FILE = 'Failed to read file';

/** The ipset of a jail for one family, named as the ipset backend names its sets (`f2bs4-sshd`). Throws InputError for a bad jail name. */
export function firewalldIpset(jail: string, family: Family): string {
  if (!isJailName(jail)) throw new InputError(`firewalld: bad jail name "${jail}": use 1-24 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  return ipsetName(jail, family);
}

/** True for the names of ipsets this backend owns. */
export function isOwnIpset(name: string): boolean {
  return parseIpsetName(name) !== undefined;
}

/** The jail whose ipset `name` is (the inverse of firewalldIpset). */
export function jailOfIpset(name: string): string | undefined {
  return parseIpsetName(name)?.jail;
}

/**
 * The ipset an earlier f2b-store bound with this rule of our policy (`f2b-<jail>`, `f2b-<jail>-6`),
 * with its jail and family (the rule's); undefined for any other rule.
 */
export function legacyIpsetOfRichRule(rule: string): (JailFamily & { readonly ipset: string }) | undefined {
  const ipset = ipsetOfRichRule(rule);
  const family = /^rule family="ipv([46])"/.exec(rule)?.[1] === '6' ? 6 : 4;
  const jail = ipset === undefined || isOwnIpset(ipset) ? undefined : parseLegacyIpsetName(ipset, family);
  return ipset !== undefined && jail !== undefined ? { ipset, jail, family } : undefined;
}

/**
 * fail2ban's `port` (`ssh`, `22,2222`, `8000:8100`) as firewalld ports (`8000-8100`), or
 * undefined when the ban covers every port (no port, or protocol `all`).
 */
function portsOf(jail: JailRule): { ports: string[]; protocol: string } | undefined {
  const protocol = (jail.protocol ?? 'tcp').trim().toLowerCase();
  if (jail.port === undefined || protocol === 'all') return undefined;
  const ports = jail.port.split(',').map((p) => p.trim().replace(':', '-')).filter((p) => p !== '');
  if (ports.length === 0) return undefined;
  for (const port of ports) {
    if (!/^[A-Za-z0-9][\w.+]*(-[A-Za-z0-9][\w.+]*)?$/.test(port)) {
      throw new InputError(`firewalld: jail "${jail.name}": bad port "${port}" (expected e.g. ssh, 22, 8000:8100)`);
    }
  }
  if (!/^[a-z][a-z0-9-]*$/.test(protocol)) {
    throw new InputError(`firewalld: jail "${jail.name}": bad protocol "${protocol}" (expected e.g. tcp, udp)`);
  }
  return { ports, protocol };
}

/** One rich rule of our policy: the jail's ipset of one family, maybe limited to one port, and its verdict. */
interface RichRule {
  readonly family: Family;
  readonly ipset: string;
  readonly port?: { readonly port: string; readonly protocol: string };
  readonly verdict: JailRule['blocktype'];
}

/** The rich rules binding a jail's ipsets: one per family and port. */
function richRules(jail: JailRule): RichRule[] {
  const limit = portsOf(jail);
  return ([4, 6] as const).flatMap((family) => {
    const base = { family, ipset: firewalldIpset(jail.name, family), verdict: jail.blocktype };
    return limit ? limit.ports.map((port) => ({ ...base, port: { port, protocol: limit.protocol } })) : [base];
  });
}

/** A rich rule in the text firewalld prints back. */
function richRuleText(rule: RichRule): string {
  const port = rule.port ? ` port port="${rule.port.port}" protocol="${rule.port.protocol}"` : '';
  return `rule family="${FAMILY_NAME[rule.family]}" source ipset="${rule.ipset}"${port} ${rule.verdict}`;
}

/**
 * The rich rules (in the text firewalld prints back) that bind a jail's ipsets: one per family
 * and port, e.g. `rule family="ipv4" source ipset="f2bs4-sshd" port port="22" protocol="tcp" reject`.
 */
export function firewalldRichRules(jail: JailRule): string[] {
  return richRules(jail).map(richRuleText);
}

/** The ipset a rich rule matches on, if any. */
export function ipsetOfRichRule(rule: string): string | undefined {
  return /\bsource ipset="([^"]+)"/.exec(rule)?.[1];
}

/** What `firewall-cmd --info-policy` says about a policy. */
export interface PolicyInfo {
  readonly ingressZones: readonly string[];
  readonly egressZones: readonly string[];
  readonly richRules: readonly string[];
}

/** Our policy's zones and rich rules, from its settings as firewalld's D-Bus API gives them. */
export function policyInfo(settings: { readonly [key: string]: DbusValue }): PolicyInfo {
  const strings = (key: string): string[] => {
    const value = settings[key];
    return Array.isArray(value) ? value.map(String) : [];
  };
  return { ingressZones: strings('ingress_zones'), egressZones: strings('egress_zones'), richRules: strings('rich_rules') };
}

export const reloadCommand: Command = reloadCall();

/** The call creating our (permanent) ipset for one family. */
export function newIpsetCommand(ipset: string, family: Family, maxelem: number): Command {
  return newIpsetCall(ipset, 'hash:net', { family: IPSET_FAMILY[family], maxelem: String(maxelem) });
}

/** The call creating our (permanent) policy: every zone to the host, before any zone's rules, with the rich rules of these jails. */
export function newPolicyCommand(jails: readonly JailRule[]): Command {
  return newPolicyCall(FIREWALLD_POLICY, {
    priority: FIREWALLD_POLICY_PRIORITY, target: 'CONTINUE', ingress_zones: ['ANY'], egress_zones: ['HOST'],
    rich_rules: [...new Set(jails.flatMap(firewalldRichRules))],
  });
}

/**
 * The settings that make an existing policy of ours right, or undefined when it is: the zones it
 * lacks, and rich rules holding exactly `wanted` among the rules on `ipsets` (the rules an earlier
 * f2b-store made on its ipsets go too; other rules stay).
 */
export function policyChanges(info: PolicyInfo, wanted: readonly string[], ipsets: ReadonlySet<string>): Record<string, BusctlValue> | undefined {
  const changes: Record<string, BusctlValue> = {};
  if (!info.ingressZones.includes('ANY')) changes['ingress_zones'] = [...info.ingressZones, 'ANY'];
  if (!info.egressZones.includes('HOST')) changes['egress_zones'] = [...info.egressZones, 'HOST'];
  const stale = info.richRules.filter((r) => !wanted.includes(r) && (ipsets.has(ipsetOfRichRule(r) ?? '') || legacyIpsetOfRichRule(r) !== undefined));
  const missing = wanted.filter((r) => !info.richRules.includes(r));
  if (stale.length > 0 || missing.length > 0) changes['rich_rules'] = [...info.richRules.filter((r) => !stale.includes(r)), ...missing];
  return Object.keys(changes).length === 0 ? undefined : changes;
}

/**
 * At runtime, firewalld answers a file of entries by re-writing the whole set (flushed, then
 * refilled), which costs with the size of the set (about 10 s at 60,000 entries here); one entry
 * is checked against the set and added alone, by one D-Bus call (milliseconds on a small set;
 * firewalld's overlap check grows with it). In the permanent configuration a file costs a
 * firewall-cmd (half a second of CPU), one entry a D-Bus call that rewrites the ipset's file. So
 * up to this many entries go one call each (the ban or two of a typical change); more go as one file.
 */
export const FIREWALLD_ONE_BY_ONE = 8;

/** True when `count` entries go one command each (see FIREWALLD_ONE_BY_ONE). */
export function oneByOne(count: number): boolean {
  return count <= FIREWALLD_ONE_BY_ONE;
}

/** How a plan shows the permanent ipset's object path, which only the lookup before it answers. */
const pathOf = (ipset: string): string => `<path of ${ipset}>`;

/** Command adding or removing entries of one ipset in one go, the entries on stdin. */
export function entriesCommand(ipset: string, op: 'add' | 'remove', permanent: boolean, entries: readonly string[]): Command {
  const args = [...(permanent ? ['--permanent'] : []), `--ipset=${ipset}`, `--${op}-entries-from-file=${STDIN_FILE}`];
  return { argv: [...THROUGH_PIPE, ...args], stdin: entries.join('\n') };
}

/** One entry of a batch: the key it came from and the text firewalld gets. */
export interface BatchItem {
  readonly key: EntryKey;
  readonly text: string;
}

/** Entries going into (or out of) one ipset together. */
export interface EntryBatch {
  readonly ipset: string;
  readonly op: 'add' | 'remove';
  readonly items: readonly BatchItem[];
}

/**
 * Groups a diff into one batch per ipset and direction, removals first (so a prefix replacing
 * the addresses it covers never overlaps them). Entries that cannot go in any ipset (not an
 * address, a jail that cannot name an ipset) come back in `invalid`.
 */
export function firewalldBatches(diff: Diff): { batches: EntryBatch[]; invalid: { entry: EntryKey; error: string }[] } {
  const invalid: { entry: EntryKey; error: string }[] = [];
  const group = (op: 'add' | 'remove', entries: readonly EntryKey[]): EntryBatch[] => {
    const byIpset = new Map<string, BatchItem[]>();
    for (const key of entries) {
      const address = tryParseAddress(key.address);
      if (!address) {
        invalid.push({ entry: key, error: `firewalld: not an IP address or CIDR: "${key.address}"` });
        continue;
      }
      let ipset: string;
      try {
        ipset = firewalldIpset(key.jail, address.family);
      } catch (error) {
        invalid.push({ entry: key, error: (error as Error).message });
        continue;
      }
      const items = byIpset.get(ipset) ?? [];
      items.push({ key, text: address.text });
      byIpset.set(ipset, items);
    }
    return [...byIpset].map(([ipset, items]) => ({ ipset, op, items }));
  };
  const batches = [...group('remove', diff.remove), ...group('add', diff.add)];
  return { batches, invalid };
}

/**
 * The commands changing these entries of one ipset, runtime or permanent: one each (permanent:
 * after looking up the ipset's object path), or one file.
 */
export function itemCommands(ipset: string, op: 'add' | 'remove', permanent: boolean, entries: readonly string[]): Command[] {
  if (entries.length === 0) return [];
  if (!oneByOne(entries.length)) return [entriesCommand(ipset, op, permanent, entries)];
  return permanent
    ? [permanentIpsetPathCall(ipset), ...entries.map((entry) => permanentEntryCall(pathOf(ipset), op, entry))]
    : entries.map((entry) => runtimeEntryCall(ipset, op, entry));
}

/** The commands applying the batches: for each, runtime first (in effect at once), then permanent (kept across reloads). */
export function batchCommands(batches: readonly EntryBatch[]): Command[] {
  return batches.flatMap((b) => [false, true].flatMap((permanent) => itemCommands(b.ipset, b.op, permanent, b.items.map((i) => i.text))));
}

/**
 * What firewalld's `hash:net` ipsets can hold of `desired`: firewalld refuses overlapping entries
 * in one set, so an address (or network) inside another network of the same jail and family is
 * left out (and comes back when that network is lifted). Duplicates merge, the longest ban wins.
 * Addresses come back canonical; what is not an address is left out.
 */
export function representFirewalld(desired: readonly Entry[]): Entry[] {
  const members = desired.flatMap((entry) => {
    const address = tryParseAddress(entry.address);
    return address ? [{ entry, address, expiresAt: entry.expiresAt }] : [];
  });
  return overlapFree(members, (member) => member.entry.jail)
    .map(({ entry, address, expiresAt }) => ({ ...entry, address: address.text, family: address.family, expiresAt }));
}
