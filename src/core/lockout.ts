import { networkInterfaces } from 'node:os';
import { AddressMatcher } from './address-matcher.js';
import { tryParseAddress, type Address } from './address.js';

/**
 * What is never banned without `--force`, beside loopback, the unspecified addresses and this
 * host's own addresses (f2b-store.conf `[lockout]`).
 */
export interface LockoutFloor {
  /** The shortest IPv4 prefix banned: a wider network cuts off a large part of the Internet. */
  readonly minPrefix4: number;
  /** The same for IPv6. */
  readonly minPrefix6: number;
  /** Addresses and networks never banned, nor any network sharing an address with them. */
  readonly protect: readonly Address[];
}

export const DEFAULT_LOCKOUT_FLOOR: LockoutFloor = { minPrefix4: 8, minPrefix6: 32, protect: [] };

/** Why banning an address could lock the administrator out, or undefined when it is safe. */
export type LockoutCheck = (address: Address) => string | undefined;

const LOOPBACK = new AddressMatcher([tryParseAddress('127.0.0.0/8'), tryParseAddress('::1')] as Address[]);
const UNSPECIFIED = new Set(['0.0.0.0', '::']);

// A single address by its canonical text, without the prefix match: the reconciler asks this of every active ban.
function isLoopback(address: Address): boolean {
  if (address.isNetwork) return LOOPBACK.find(address) !== undefined;
  return address.family === 4 ? address.text.startsWith('127.') : address.text === '::1';
}

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
 * The lockout check for `local` (this host's own addresses, see hostAddresses) and `floor`, made
 * once for many addresses: a single address costs a lookup or two, a network a few prefix matches.
 */
export function lockoutCheck(local: readonly Address[], floor: LockoutFloor = DEFAULT_LOCKOUT_FLOOR): LockoutCheck {
  const own = new AddressMatcher(local);
  const protect = new AddressMatcher(floor.protect);
  return (address) => {
    const min = address.family === 4 ? floor.minPrefix4 : floor.minPrefix6;
    if (address.prefix < min) return `${address.text} is wider than /${min}`;
    if (UNSPECIFIED.has(address.text)) return `${address.text} is the unspecified address`;
    if (isLoopback(address)) return `${address.text} is loopback`;
    const mine = own.find(address);
    if (mine) {
      return mine.text === address.text
        ? `${address.text} is an address of this host`
        : `${address.text} contains ${mine.text}, an address of this host`;
    }
    const kept = protect.find(address);
    if (kept) return `${address.text} ${kept.text === address.text ? 'is' : `overlaps ${kept.text},`} protected by [lockout] protect`;
    return undefined;
  };
}

/** Why banning `address` could lock the administrator out (see lockoutCheck), or undefined when it is safe. */
export function lockoutReason(address: Address, local: readonly Address[], floor: LockoutFloor = DEFAULT_LOCKOUT_FLOOR): string | undefined {
  return lockoutCheck(local, floor)(address);
}
