import ipaddr from 'ipaddr.js';
import { overlaps, type Address } from './address.js';

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

// Address.text is canonical, so IPv4 is four plain decimal octets: cheaper to take apart than to parse.
function ipOf(address: Address): Ip {
  const host = address.isNetwork ? address.text.slice(0, address.text.indexOf('/')) : address.text;
  return address.family === 4 ? new ipaddr.IPv4(host.split('.').map(Number)) : ipaddr.IPv6.parse(host);
}

/**
 * A fixed list of addresses and networks, asked on every failure whether it covers an address:
 * single addresses by a lookup, networks by prefix match on the address parsed once.
 */
export class AddressMatcher {
  private readonly singles = new Map<string, Address>();
  private readonly networks: { readonly address: Address; readonly ip: Ip }[] = [];

  constructor(entries: Iterable<Address>) {
    for (const entry of entries) {
      if (entry.isNetwork) this.networks.push({ address: entry, ip: ipOf(entry) });
      else this.singles.set(entry.text, entry);
    }
  }

  /** The entry sharing an address with `address` (for a network: any overlap), or undefined. */
  find(address: Address): Address | undefined {
    if (address.isNetwork) {
      return [...this.singles.values()].find((e) => overlaps(e, address)) ?? this.networks.find((n) => overlaps(n.address, address))?.address;
    }
    const single = this.singles.get(address.text);
    if (single || this.networks.length === 0) return single;
    const ip = ipOf(address);
    return this.networks.find((n) => n.address.family === address.family && ip.match(n.ip, n.address.prefix))?.address;
  }
}
