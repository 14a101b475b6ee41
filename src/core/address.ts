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

function parseIp(text: string): Ip | undefined {
  // ipaddr.js also accepts short IPv4 forms (`1.2.3`, `0x7f.1`): only four-part decimal IPv4 is taken.
  // Its IPv4 check throws internally on IPv6 text (~40 µs each), so the colon decides first.
  if (!text.includes(':')) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
  return ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : undefined;
}

function build(ip: Ip, prefix: number): Address {
  let addr: Ip = ip;
  let bits = prefix;
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    bits = prefix - 96;
  }
  const family: Family = addr.kind() === 'ipv4' ? 4 : 6;
  const full = bitsOf(family);
  // ipaddr.js prints IPv6 in RFC 5952 form: lower case, longest zero run compressed.
  if (bits === full) return remember({ text: addr.toString(), family, prefix: full, isNetwork: false }, addr);
  const cidr = `${addr.toString()}/${bits}`;
  const network = family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
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
  // Most addresses are plain IPv4 that is already canonical (every firewall read-back, every log
  // line): recognise them without the general parser, which costs ~10x more.
  if (CANONICAL_IPV4.test(input)) return { text: input, family: 4, prefix: 32, isNetwork: false };
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

function ipOf(a: Address): Ip {
  const known = parsedForm.get(a);
  if (known) return known;
  const slash = a.text.indexOf('/');
  return ipaddr.parse(slash === -1 ? a.text : a.text.slice(0, slash));
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
