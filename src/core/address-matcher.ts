import { ipOf, type Address } from './address.js';

type Ip = ReturnType<typeof ipOf>;

interface ParsedEntry {
  readonly address: Address;
  readonly ip: Ip;
}

/** An IPv4 network as numbers: an address lies in it when its bits under `mask` are `base`. */
interface Ipv4Network {
  readonly address: Address;
  readonly base: number;
  readonly mask: number;
}

/** The 32 bits of a canonical IPv4 address's text (four plain decimal octets). */
function ipv4Bits(text: string): number {
  let bits = 0;
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      bits = (bits << 8) | octet;
      octet = 0;
    } else {
      octet = octet * 10 + c - 48;
    }
  }
  return ((bits << 8) | octet) >>> 0;
}

function ipv4Network(address: Address): Ipv4Network {
  const mask = address.prefix === 0 ? 0 : (~0 << (32 - address.prefix)) >>> 0;
  const slash = address.text.indexOf('/');
  return { address, base: (ipv4Bits(slash === -1 ? address.text : address.text.slice(0, slash)) & mask) >>> 0, mask };
}

function parsedEntry(address: Address): ParsedEntry {
  return { address, ip: ipOf(address) };
}

/** Whether `entry` and the network `address` (parsed: `ip`) overlap: the longer one lies in the shorter. */
function overlapping(entry: ParsedEntry, address: Address, ip: Ip): boolean {
  return entry.address.family === address.family
    && (entry.address.prefix >= address.prefix ? entry.ip.match(ip, address.prefix) : ip.match(entry.ip, entry.address.prefix));
}

/**
 * A fixed list of addresses and networks, asked on every failure whether it covers an address:
 * single addresses by a lookup, networks by prefix match on the address parsed once (IPv4 as
 * numbers, with no parse at all).
 */
export class AddressMatcher {
  private readonly singles = new Map<string, Address>();
  private readonly networks: ParsedEntry[] = [];
  /** The IPv4 ones of `networks`, in the same order, as numbers: a failure's IPv4 address is matched without parsing it. */
  private readonly networks4: Ipv4Network[] = [];
  /** The single addresses parsed, for the networks asked about (a ban per ipv6prefix asks one per ban): parsed at the first. */
  private parsedSingles: ParsedEntry[] | undefined;

  constructor(entries: Iterable<Address>) {
    for (const entry of entries) {
      if (entry.isNetwork) {
        this.networks.push(parsedEntry(entry));
        if (entry.family === 4) this.networks4.push(ipv4Network(entry));
      } else this.singles.set(entry.text, entry);
    }
  }

  /** The entry sharing an address with `address` (for a network: any overlap), or undefined. */
  find(address: Address): Address | undefined {
    if (address.isNetwork) {
      const ip = ipOf(address);
      this.parsedSingles ??= [...this.singles.values()].map(parsedEntry);
      for (const entry of this.parsedSingles) if (overlapping(entry, address, ip)) return entry.address;
      for (const entry of this.networks) if (overlapping(entry, address, ip)) return entry.address;
      return undefined;
    }
    const single = this.singles.get(address.text);
    if (single || this.networks.length === 0) return single;
    // Loops, not find() with a closure: asked several times for every failure, a closure each is most of a burst's garbage here.
    if (address.family === 4) {
      const bits = ipv4Bits(address.text);
      for (const n of this.networks4) if (((bits & n.mask) >>> 0) === n.base) return n.address;
      return undefined;
    }
    const ip = ipOf(address);
    for (const n of this.networks) if (n.address.family === address.family && ip.match(n.ip, n.address.prefix)) return n.address;
    return undefined;
  }
}
