import { networkInterfaces } from 'node:os';
import { overlaps, tryParseAddress, type Address } from './address.js';

/** Shortest prefixes we ban without `--force`: anything wider cuts off a large part of the Internet. */
const MIN_PREFIX = { 4: 8, 6: 32 } as const;

const LOOPBACK = [tryParseAddress('127.0.0.0/8'), tryParseAddress('::1')] as Address[];
const UNSPECIFIED = [tryParseAddress('0.0.0.0'), tryParseAddress('::')] as Address[];

/** The addresses configured on this host's interfaces (in the current network namespace). */
export function hostAddresses(): Address[] {
  const found: Address[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      const address = tryParseAddress(info.address);
      if (address) found.push(address);
    }
  }
  return found;
}

/**
 * Why banning `address` could lock the administrator out, or undefined when it is safe.
 * `local` is this host's own addresses (see hostAddresses).
 */
export function lockoutReason(address: Address, local: readonly Address[]): string | undefined {
  if (address.prefix < MIN_PREFIX[address.family]) {
    return `${address.text} is wider than /${MIN_PREFIX[address.family]}`;
  }
  if (UNSPECIFIED.some((u) => u.text === address.text)) return `${address.text} is the unspecified address`;
  if (LOOPBACK.some((l) => overlaps(l, address))) return `${address.text} is loopback`;
  const own = local.find((l) => overlaps(address, l));
  if (own) {
    return own.text === address.text
      ? `${address.text} is an address of this host`
      : `${address.text} contains ${own.text}, an address of this host`;
  }
  return undefined;
}
