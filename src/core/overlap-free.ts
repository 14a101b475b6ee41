import { tryParseAddress, type Address } from './address.js';
import { mergeByKey, type Expiring } from './expiry.js';

/** What goes into a set that refuses overlapping elements: an address (or network) and its expiry. */
export interface SetMember extends Expiring {
  readonly address: Address;
}

/**
 * What a set refusing overlapping elements (an nftables interval set, a firewalld `hash:net`
 * ipset) can hold of `members`: each address once, with the later expiry of its copies
 * (mergeByKey), and none inside a wider network of the same set (it comes back when that network
 * is lifted; the network keeps its own expiry). `setOf` names the set a member goes to; members
 * of different sets, or of different families, never meet. Each kept member stays where its
 * address first appears.
 */
export function overlapFree<T extends SetMember>(members: readonly T[], setOf: (member: T) => string): T[] {
  const groupOf = (member: T): string => `${setOf(member)}\u0000${member.address.family}`;
  const merged = mergeByKey(members, (member) => `${groupOf(member)}\u0000${member.address.text}`);
  // Kept networks per group, by prefix length, widest first (the order they are kept in).
  const networks = new Map<string, Map<number, Set<string>>>();
  const kept = new Set<T>();
  for (const member of [...merged].sort((a, b) => a.address.prefix - b.address.prefix)) {
    const group = groupOf(member);
    const byPrefix = networks.get(group);
    if (byPrefix && covered(member.address, byPrefix)) continue;
    kept.add(member);
    if (!member.address.isNetwork) continue;
    const inGroup = byPrefix ?? new Map<number, Set<string>>();
    const texts = inGroup.get(member.address.prefix) ?? new Set<string>();
    texts.add(member.address.text);
    inGroup.set(member.address.prefix, texts);
    networks.set(group, inGroup);
  }
  return merged.filter((member) => kept.has(member));
}

// CIDR blocks nest or are disjoint, so a kept network covers this address exactly when the
// address, cut to that network's length, is that network.
function covered(address: Address, byPrefix: ReadonlyMap<number, ReadonlySet<string>>): boolean {
  const host = address.isNetwork ? address.text.slice(0, address.text.indexOf('/')) : address.text;
  for (const [prefix, texts] of byPrefix) {
    if (prefix >= address.prefix) break;
    const outer = tryParseAddress(`${host}/${prefix}`);
    if (outer && texts.has(outer.text)) return true;
  }
  return false;
}
