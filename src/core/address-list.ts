import { tryParseAddress, type Address } from './address.js';

export interface ListEntry {
  readonly lineno: number;
  readonly address: Address;
}

export interface ListProblem {
  readonly lineno: number;
  /** What was not taken: the line, or the one pattern of it. */
  readonly text: string;
  /** Why, e.g. `not an IP address or CIDR`. */
  readonly reason: string;
}

export interface ParsedList {
  readonly entries: readonly ListEntry[];
  readonly problems: readonly ListProblem[];
}

const NOT_AN_ADDRESS = 'not an IP address or CIDR';

// Apache 2.2 (`deny from`, what cPanel's IP Deny Manager writes) and Apache 2.4 (`Require not ip`).
const APACHE_DENY = /^(?:deny\s+from|require\s+not\s+ip)\s+(.*)$/i;
// The daemon list of a tcp_wrappers line `DAEMONS: CLIENTS [: OPTIONS]`.
const DAEMONS = /^[\w.@*?, \t-]+$/;
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
// `203.0.113.` (tcp_wrappers) and `203.0.113` (Apache): the network of the leading octets.
const PARTIAL_IPV4 = new RegExp(`^(${OCTET}(?:\\.${OCTET}){0,2})(\\.?)$`);

/** A leading-octets network: `10.` → 10.0.0.0/8; the dot is required where `dotted` says so. */
function partialIpv4(text: string, dotted: boolean): Address | undefined {
  const match = PARTIAL_IPV4.exec(text);
  if (!match || (dotted && match[2] !== '.')) return undefined;
  const octets = (match[1] ?? '').split('.');
  return tryParseAddress(`${[...octets, '0', '0', '0'].slice(0, 4).join('.')}/${8 * octets.length}`);
}

/** The content of a line: without its `#` comment, or `;` comment (blocklists such as Spamhaus DROP). */
function withoutComment(line: string): string {
  const hash = line.indexOf('#');
  let content = hash === -1 ? line : line.slice(0, hash);
  // Only a `;` after blank space: tcp_wrappers shell options (`spawn (a; b)`) hold bare ones.
  const semicolon = content.search(/(?:^|\s);/);
  if (semicolon !== -1) content = content.slice(0, semicolon);
  return content.trim();
}

/** Splits `CLIENTS : OPTIONS` at the first colon outside brackets that has blank space beside it. */
function splitOptions(rest: string): { clients: string; options: string[] } {
  let depth = 0;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ':' && depth === 0 && (/\s/.test(rest[i - 1] ?? ' ') || /\s/.test(rest[i + 1] ?? ' '))) {
      return { clients: rest.slice(0, i), options: rest.slice(i + 1).split(':').map((o) => o.trim().toLowerCase()) };
    }
  }
  return { clients: rest, options: [] };
}

type Reading = { readonly address: Address } | { readonly problem: string; readonly text: string };

/** The patterns of one line, each an address or a problem; undefined when the line is in no known form. */
function readLine(content: string): Reading[] | undefined {
  const apache = APACHE_DENY.exec(content);
  if (apache) {
    const hosts = (apache[1] ?? '').split(/\s+/).filter((h) => h !== '');
    if (hosts.length === 0) return [{ problem: NOT_AN_ADDRESS, text: content }];
    return hosts.map((host) => {
      const address = tryParseAddress(host) ?? partialIpv4(host, false);
      return address ? { address } : { problem: NOT_AN_ADDRESS, text: host };
    });
  }
  const colon = content.indexOf(':');
  const daemons = content.slice(0, colon);
  // A daemon list always holds a letter: a malformed IPv6 line (`2001:db8::zz`) is not read as one.
  if (colon === -1 || !DAEMONS.test(daemons) || !/[A-Za-z]/.test(daemons)) return undefined;
  const { clients, options } = splitOptions(content.slice(colon + 1));
  if (options.includes('allow')) return [{ problem: 'an allow rule, not a ban', text: content }];
  const patterns = clients.split(/[\s,]+/).filter((p) => p !== '');
  if (patterns.length === 0) return [{ problem: NOT_AN_ADDRESS, text: content }];
  // `a EXCEPT b` spares b: banning a alone would block what the line lets through.
  if (patterns.some((p) => p.toUpperCase() === 'EXCEPT')) return [{ problem: 'an EXCEPT list, not imported', text: content }];
  return patterns.map((pattern) => {
    const address = tryParseAddress(pattern) ?? partialIpv4(pattern, true);
    return address ? { address } : { problem: NOT_AN_ADDRESS, text: pattern };
  });
}

/** One line's outcome in readAddressList: an address taken, or a pattern not taken. */
export type ListItem = ({ readonly address: Address } | { readonly problem: string; readonly text: string }) & { readonly lineno: number };

/**
 * Reads a ban list in the forms people keep (an `ip.deny` file):
 * - one address or network per line (`203.0.113.7`, `198.51.100.0/24`, `198.51.100.0/255.255.255.0`,
 *   `2001:db8::/32`, `[2001:db8::1]`), `#` comments anywhere, `;` comments after blank space;
 * - Apache's `deny from ADDR…` and `Require not ip ADDR…`, partial addresses (`10.1`) as networks;
 * - hosts.deny lines `DAEMONS: CLIENTS [: OPTIONS]` (`ALL: 203.0.113.7`, `sshd: a, b`,
 *   `ALL: [2001:db8::]/32`, `ALL: 203.0.113.` as 203.0.113.0/24, `\` continuation lines), every
 *   daemon taken as all; lines with `EXCEPT` or an `allow` option are not bans and are reported.
 * Blank lines are ignored; anything else is a problem with its 1-based line number. `lines` are
 * taken one at a time (a file read in pieces): a million-line list is never held whole.
 */
export function* readAddressList(lines: Iterable<string>): Generator<ListItem> {
  const source = lines[Symbol.iterator]();
  let lineno = 0;
  let next = source.next();
  while (!next.done) {
    let raw = next.value;
    next = source.next();
    const first = ++lineno;
    while (raw.trimEnd().endsWith('\\') && !next.done) {
      raw = `${raw.trimEnd().slice(0, -1)} ${next.value}`;
      next = source.next();
      lineno++;
    }
    const content = withoutComment(raw);
    if (content === '') continue;
    // An address holds no blank: the other forms skip the parser, slow on text that is no address.
    const address = /\s/.test(content) ? undefined : tryParseAddress(content);
    if (address) {
      yield { lineno: first, address };
      continue;
    }
    for (const reading of readLine(content) ?? [{ problem: NOT_AN_ADDRESS, text: content }]) yield { lineno: first, ...reading };
  }
}

/** readAddressList of a whole text, split into what was taken and what was not. */
export function parseAddressList(text: string): ParsedList {
  const entries: ListEntry[] = [];
  const problems: ListProblem[] = [];
  for (const item of readAddressList(text.split('\n'))) {
    if ('address' in item) entries.push({ lineno: item.lineno, address: item.address });
    else problems.push({ lineno: item.lineno, text: item.text, reason: item.problem });
  }
  return { entries, problems };
}
