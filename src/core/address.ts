import ipaddr from 'ipaddr.js';
import { InputError } from './errors.js';

export type Family = 4 | 6;

/** A canonical IPv4/IPv6 address or network. `text` is the canonical form used everywhere. */
export interface Address {
  readonly text: string;
  readonly family: Family;
  /** Prefix length; 32 or 128 for a single address. */
  readonly prefix: number;
  readonly isNetwork: boolean;
}

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

// Parsed forms of addresses made here, so containment checks in bulk (imports) parse nothing again.
const parsedForm = new WeakMap<Address, Ip>();

function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128;
}

/**
 * `::a.b.c.d`, the IPv4-compatible form (RFC 4291 §2.5.5.1, deprecated), as the IPv6 address it
 * is. ipaddr.js reads it as the IPv4-mapped `::ffff:a.b.c.d`, which would turn it into IPv4 while
 * `::cb00:7107`, the same address, stays IPv6. It stays IPv6 in both spellings: no kernel hands
 * an IPv4 peer to a program in this form (dual-stack sockets use the mapped form), so a packet from
 * it is IPv6 on the wire and only an IPv6 entry can block it; nft and ipset print such entries as
 * `::a.b.c.d` (inet_ntop), which must read back as the address written. fail2ban keeps it IPv6 too.
 */
function ipv4Compatible(text: string): ipaddr.IPv6 | undefined {
  if (!text.startsWith('::') || !ipaddr.IPv4.isValidFourPartDecimal(text.slice(2))) return undefined;
  const [a, b, c, d] = ipaddr.IPv4.parse(text.slice(2)).octets as [number, number, number, number];
  return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, (a << 8) | b, (c << 8) | d]);
}

function parseIp(text: string): Ip | undefined {
  // ipaddr.js also accepts short IPv4 forms (`1.2.3`, `0x7f.1`): only four-part decimal IPv4 is taken.
  // Its IPv4 check throws internally on IPv6 text (~40 µs each), so the colon decides first.
  if (!text.includes(':')) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
  return ipv4Compatible(text) ?? (ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : undefined);
}

function build(ip: Ip, prefix: number): Address {
  let addr: Ip = ip;
  let bits = prefix;
  // An IPv4-mapped address (`::ffff:a.b.c.d`) is what a dual-stack socket shows of an IPv4 peer: the
  // packets are IPv4, so only the IPv4 form reaches them in a firewall (DESIGN). Its networks of
  // /96 and longer have an IPv4 form too; wider ones reach beyond ::ffff:0:0/96 and stay IPv6.
  if (prefix >= 96 && addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits = prefix - 96;
  }
  const family: Family = addr.kind() === 'ipv4' ? 4 : 6;
  const full = bitsOf(family);
  // ipaddr.js prints IPv6 in RFC 5952 form: lower case, longest zero run compressed.
  if (bits === full) return remember({ text: addr.toString(), family, prefix: full, isNetwork: false }, addr);
  // What networkAddressFromCIDR does, without printing the address and parsing it back (most of its cost).
  const mask = (family === 4 ? ipaddr.IPv4 : ipaddr.IPv6).subnetMaskFromPrefixLength(bits).toByteArray();
  const network = ipaddr.fromByteArray(addr.toByteArray().map((byte, i) => byte & (mask[i] ?? 0)));
  return remember({ text: `${network.toString()}/${bits}`, family, prefix: bits, isNetwork: true }, network);
}

function remember(address: Address, ip: Ip): Address {
  parsedForm.set(address, ip);
  return address;
}

function stripZone(text: string): string {
  const at = text.indexOf('%');
  return at === -1 ? text : text.slice(0, at);
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const CANONICAL_IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** The value of the hex digit at `code` (0-9, a-f: canonical text is lower case), or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  return code >= 97 && code <= 102 ? code - 87 : -1;
}

/** The groups isCanonicalIPv6 reads, reused: a restore asks it of every stored IPv6 ban. */
const groups = new Uint16Array(8);

/** Group `i` of the eight, the `::` at group `gap` standing for `zeros` of them (no `::` when gap is -1). */
function groupAt(i: number, gap: number, zeros: number): number {
  if (gap === -1 || i < gap) return groups[i] ?? 0;
  return i < gap + zeros ? 0 : groups[i - zeros] ?? 0;
}

/**
 * Whether `text` is a single IPv6 address exactly as build() prints it (RFC 5952: lower case, no
 * leading zeros, the leftmost longest run of two or more zero groups as `::`), told without the
 * general parser, which costs ~10 µs an address, and without allocating. Anything else (a
 * prefix, a zone, dotted IPv4, an IPv4-mapped address, a form not canonical) is false and left to
 * the parser.
 */
function isCanonicalIPv6(text: string): boolean {
  const end = text.length;
  if (end < 2 || end > 39) return false;
  let count = 0;
  let gap = -1;
  let at = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    at = 2;
  }
  while (at < end) {
    if (count === 8) return false;
    const start = at;
    let value = 0;
    for (let digit = hexDigit(text.charCodeAt(at)); digit !== -1 && at - start < 4; digit = hexDigit(text.charCodeAt(at))) {
      value = value * 16 + digit;
      at++;
    }
    const length = at - start;
    if (length === 0 || (length > 1 && text.charCodeAt(start) === 48)) return false;
    groups[count++] = value;
    if (at === end) break;
    if (text.charCodeAt(at) !== 58) return false;
    at++;
    if (text.charCodeAt(at) === 58) {
      if (gap !== -1) return false;
      gap = count;
      at++;
    } else if (at === end) return false;
  }
  const zeros = 8 - count;
  if (gap === -1 ? zeros !== 0 : zeros < 2) return false;
  // An IPv4-mapped address (::ffff:0:0/96) is printed as IPv4.
  let mapped = groupAt(5, gap, zeros) === 0xffff;
  for (let i = 0; mapped && i < 5; i++) mapped = groupAt(i, gap, zeros) === 0;
  if (mapped) return false;
  // The `::` must stand for the leftmost longest run of zeros, and no run of two or more may be left written out.
  let best = 0;
  let bestAt = -1;
  for (let i = 0; i < 8;) {
    if (groupAt(i, gap, zeros) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groupAt(j, gap, zeros) === 0) j++;
    if (j - i > best) {
      best = j - i;
      bestAt = i;
    }
    i = j;
  }
  return best < 2 ? gap === -1 : bestAt === gap && best === zeros;
}

/** `255.255.255.0` → 24, for IPv4 `net/mask` notation (tcp_wrappers, old ip.deny files). */
function netmaskPrefix(ip: Ip, mask: string): number | undefined {
  if (ip.kind() !== 'ipv4' || !ipaddr.IPv4.isValidFourPartDecimal(mask)) return undefined;
  return ipaddr.IPv4.parse(mask).prefixLengthFromSubnetMask() ?? undefined;
}

/** The dotted IPv4 netmask of a prefix length: 24 → `255.255.255.0`. */
export function ipv4Netmask(prefix: number): string {
  return ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString();
}

/** Parses the address if it is one (also IPv4 `net/mask`), else returns undefined. Never throws. */
export function tryParseAddress(input: string): Address | undefined {
  // Most addresses are plain and already canonical (every firewall read-back, every stored ban,
  // most log lines): recognise them without the general parser, which costs ~10x more.
  if (CANONICAL_IPV4.test(input)) return { text: input, family: 4, prefix: 32, isNetwork: false };
  if (isCanonicalIPv6(input)) return { text: input, family: 6, prefix: 128, isNetwork: false };
  let text = input.trim();
  if (text.startsWith('[')) {
    // `[2001:db8::1]` as in hosts.deny and URLs; a prefix may follow the bracket.
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    text = text.slice(1, close) + text.slice(close + 1);
  }
  const slash = text.indexOf('/');
  const host = stripZone(slash === -1 ? text : text.slice(0, slash));
  const ip = parseIp(host);
  if (!ip) return undefined;
  const full = ip.kind() === 'ipv4' ? 32 : 128;
  if (slash === -1) return build(ip, full);
  const prefixText = text.slice(slash + 1);
  const prefix = /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : netmaskPrefix(ip, prefixText);
  if (prefix === undefined) return undefined;
  if (prefix > full) return undefined;
  return build(ip, prefix);
}

/** Parses an IPv4/IPv6 address or CIDR into canonical form; throws InputError naming the value. */
export function parseAddress(input: string): Address {
  const address = tryParseAddress(input);
  if (!address) {
    throw new InputError(`not an IP address or CIDR: "${input}" (expected e.g. 203.0.113.7, 2001:db8::7 or 198.51.100.0/24)`);
  }
  return address;
}

/** The parsed form of an address (a network's: its first address), remembered if this module made it, else read from its canonical text. */
export function ipOf(address: Address): ipaddr.IPv4 | ipaddr.IPv6 {
  const known = parsedForm.get(address);
  if (known) return known;
  const slash = address.text.indexOf('/');
  const host = slash === -1 ? address.text : address.text.slice(0, slash);
  // Canonical IPv4 is four plain decimal octets: cheaper to take apart than to parse.
  return address.family === 4 ? new ipaddr.IPv4(host.split('.').map(Number)) : ipaddr.IPv6.parse(host);
}

/**
 * The network of `prefix` bits that holds `address` (`2001:db8:1:2::7`, 64 → `2001:db8:1:2::/64`);
 * `address` itself when it is no wider than that already.
 */
export function networkOf(address: Address, prefix: number): Address {
  return prefix >= address.prefix ? address : build(ipOf(address), prefix);
}

/**
 * The networks of `lengths` (ascending) that would hold each of `targets` (canonical text), other
 * than the target itself: network text → the targets inside it. Made by lookup per length rather
 * than by matching every network; a target no length is shorter than is not even parsed.
 */
export function networksHolding(targets: Iterable<string>, lengths: readonly number[]): Map<string, string[]> {
  const holding = new Map<string, string[]>();
  const shortest = lengths[0];
  if (shortest === undefined) return holding;
  for (const text of targets) {
    const slash = text.indexOf('/');
    const prefix = slash !== -1 ? Number(text.slice(slash + 1)) : text.includes(':') ? 128 : 32;
    const target = shortest < prefix ? tryParseAddress(text) : undefined;
    if (target === undefined) continue;
    for (const length of lengths) {
      if (length >= target.prefix) break;
      const network = networkOf(target, length).text;
      const inside = holding.get(network);
      if (inside === undefined) holding.set(network, [text]);
      else inside.push(text);
    }
  }
  return holding;
}

/** True when every address of `inner` lies in `outer`. */
export function contains(outer: Address, inner: Address): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  return ipOf(inner).match(ipOf(outer) as never, outer.prefix);
}

/** True when the two share at least one address. */
export function overlaps(a: Address, b: Address): boolean {
  return contains(a, b) || contains(b, a);
}
