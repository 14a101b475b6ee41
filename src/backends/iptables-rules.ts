import { checkJailName, InputError, tryParseAddress, type Address, type Family } from '../core/index.js';
import type { ApplyReport, Command, EntryKey, JailRule } from './types.js';

// Rule text and `iptables-save` parsing shared by the ipset and iptables backends, without I/O:
// iptables-query.ts asks iptables itself.

/** Both families, in the order every backend handles them. */
export const FAMILIES: readonly Family[] = [4, 6];

interface Tools {
  readonly iptables: string;
  readonly save: string;
  readonly restore: string;
  readonly rejectWith: string;
  readonly hostBits: number;
}

const TOOLS: Readonly<Record<Family, Tools>> = {
  4: { iptables: 'iptables', save: 'iptables-save', restore: 'iptables-restore', rejectWith: 'icmp-port-unreachable', hostBits: 32 },
  6: { iptables: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore', rejectWith: 'icmp6-port-unreachable', hostBits: 128 },
};

/** `iptables` or `ip6tables`, for messages. */
export function toolOf(family: Family): string {
  return TOOLS[family].iptables;
}

/** The verdict of a ban rule, written the way `iptables-save` prints it back. */
export function verdict(blocktype: JailRule['blocktype'], family: Family): string[] {
  return blocktype === 'drop' ? ['-j', 'DROP'] : ['-j', 'REJECT', '--reject-with', TOOLS[family].rejectWith];
}

/** `-s` with the prefix length always written, as `iptables-save` prints it. */
export function sourceArgs(address: string, family: Family): string[] {
  return ['-s', address.includes('/') ? address : `${address}/${TOOLS[family].hostBits}`];
}

const PORT_ITEM = /^[A-Za-z0-9][A-Za-z0-9_.+-]*(?::[A-Za-z0-9][A-Za-z0-9_.+-]*)?$/;
const PROTOCOL = /^[a-z][a-z0-9]*$/;

/**
 * The match restricting a jail's rule to its ports: `-p tcp -m multiport --dports 22,2222`, or
 * nothing when the jail has no ports. Accepts fail2ban's syntax (`ssh`, `22, 2222`, `8000:8100`);
 * throws InputError for anything else, so no text of the config reaches a restore batch unchecked.
 */
export function portMatch(jail: JailRule): string[] {
  if (jail.port === undefined || jail.port.trim() === '') return [];
  const ports = jail.port.split(',').map((p) => p.trim());
  const bad = ports.find((p) => !PORT_ITEM.test(p));
  if (bad !== undefined) {
    throw new InputError(`jail ${jail.name}: bad port "${bad}" in "${jail.port}" (expected e.g. ssh, 22,2222 or 8000:8100)`);
  }
  const protocol = (jail.protocol ?? 'tcp').trim().toLowerCase();
  if (!PROTOCOL.test(protocol)) {
    throw new InputError(`jail ${jail.name}: bad protocol "${jail.protocol}" (expected e.g. tcp, udp or sctp)`);
  }
  return ['-p', protocol, '-m', 'multiport', '--dports', ports.join(',')];
}

/** Checks the jail's name, port and protocol; throws InputError naming the bad value. */
export function checkJail(jail: JailRule): void {
  checkJailName(jail.name);
  portMatch(jail);
}

export function saveCommand(family: Family): Command {
  return { argv: [TOOLS[family].save, '-t', 'filter'] };
}

/** One atomic `iptables-restore --noflush` of these filter-table lines. */
export function restoreCommand(family: Family, lines: readonly string[]): Command {
  return { argv: [TOOLS[family].restore, '-w', '--noflush'], stdin: `*filter\n${lines.join('\n')}\nCOMMIT\n` };
}

export function checkCommand(family: Family, chain: string, args: readonly string[]): Command {
  return { argv: [TOOLS[family].iptables, '-w', '-C', chain, ...args] };
}

/** One `-A` line of `iptables-save`: its chain, the rule text after the chain, and that text split into arguments. */
export interface SavedRule {
  readonly chain: string;
  readonly spec: string;
  readonly args: readonly string[];
}

export interface FilterTable {
  readonly chains: ReadonlySet<string>;
  readonly rules: readonly SavedRule[];
}

/** Splits rule text the way iptables-restore does: spaces separate, `"…"` quotes with `\"` inside. */
export function splitArgs(spec: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (quoted && c === '\\' && i + 1 < spec.length) {
      current += spec[++i];
    } else if (c === '"') {
      quoted = !quoted;
      started = true;
    } else if (c === ' ' && !quoted) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/** Reads the filter table from `iptables-save -t filter` output (chains and `-A` rules, in order). */
export function parseFilterTable(text: string): FilterTable {
  const chains = new Set<string>();
  const rules: SavedRule[] = [];
  let inFilter = false;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) inFilter = line === '*filter';
    else if (!inFilter) continue;
    else if (line.startsWith(':')) chains.add(line.slice(1).split(' ')[0] ?? '');
    else if (line.startsWith('-A ')) {
      const space = line.indexOf(' ', 3);
      if (space === -1) continue;
      const spec = line.slice(space + 1);
      rules.push({ chain: line.slice(3, space), spec, args: splitArgs(spec) });
    }
  }
  return { chains, rules };
}

/** The value following `flag` in a rule's arguments (`-j` → target). */
export function argAfter(args: readonly string[], flag: string): string | undefined {
  const at = args.lastIndexOf(flag);
  return at === -1 ? undefined : args[at + 1];
}

/**
 * Canonical forms of the addresses read back last time. A drift check reads the same 100,000
 * entries again and again, and core's parser costs microseconds each (tens for IPv6), so each
 * read parses only what the previous one did not see; what is gone is forgotten.
 */
export interface AddressMemo {
  parse(text: string): Address | undefined;
  /** Starts a new read: what it does not see again is dropped at the next turn. */
  turn(): void;
}

export function createAddressMemo(): AddressMemo {
  let previous = new Map<string, Address | undefined>();
  let current = new Map<string, Address | undefined>();
  return {
    parse(text) {
      if (current.has(text)) return current.get(text);
      const address = previous.has(text) ? previous.get(text) : tryParseAddress(text);
      current.set(text, address);
      return address;
    },
    turn() {
      previous = current;
      current = new Map();
    },
  };
}

/** The apply report from what was attempted, what was invalid up front and what failed on the way. */
export function applyReport<T extends { readonly kind: 'add' | 'del'; readonly key: EntryKey }>(
  attempted: readonly T[],
  invalid: readonly { readonly entry: EntryKey; readonly error: string }[],
  failures: ReadonlyMap<T, string>,
): ApplyReport {
  const done = (kind: T['kind']): number => attempted.filter((item) => item.kind === kind && !failures.has(item)).length;
  return {
    added: done('add'),
    removed: done('del'),
    failed: [...invalid, ...[...failures].map(([item, error]) => ({ entry: item.key, error }))],
  };
}
