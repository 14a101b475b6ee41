import { ipOf, type Address } from './address.js';

type Ip = ReturnType<typeof ipOf>;

interface ParsedEntry {
  readonly address: Address;
  readonly ip: Ip;
}

function parsedEntry(address: Address): ParsedEntry {
  return { address, ip: ipOf(address) };
}

/**
 * A fixed list of addresses and networks, asked on every failure whether it covers an address:
 * single addresses by a lookup, networks by prefix match on the address parsed once.
 */
export class AddressMatcher {
  private readonly singles = new Map<string, Address>();
  private readonly networks: ParsedEntry[] = [];
  /** The single addresses parsed, for the networks asked about (a ban per ipv6prefix asks one per ban): parsed at the first. */
  private parsedSingles: ParsedEntry[] | undefined;

  constructor(entries: Iterable<Address>) {
    for (const entry of entries) {
      if (entry.isNetwork) this.networks.push(parsedEntry(entry));
      else this.singles.set(entry.text, entry);
    }
  }

  /** The entry sharing an address with `address` (for a network: any overlap), or undefined. */
  find(address: Address): Address | undefined {
    if (address.isNetwork) {
      const ip = ipOf(address);
      // Two networks overlap when the longer one lies in the shorter.
      const overlapping = ({ address: entry, ip: entryIp }: ParsedEntry): boolean => entry.family === address.family
        && (entry.prefix >= address.prefix ? entryIp.match(ip, address.prefix) : ip.match(entryIp, entry.prefix));
      this.parsedSingles ??= [...this.singles.values()].map(parsedEntry);
      return (this.parsedSingles.find(overlapping) ?? this.networks.find(overlapping))?.address;
    }
    const single = this.singles.get(address.text);
    if (single || this.networks.length === 0) return single;
    const ip = ipOf(address);
    return this.networks.find((n) => n.address.family === address.family && ip.match(n.ip, n.address.prefix))?.address;
  }
}
