import { tryParseAddress } from '../core/index.js';
import type { FailureHost } from './fail-regex.js';
import type { UseDns } from './fail-tags.js';

export type Lookup = (name: string) => Promise<readonly string[]>;

// Loaded on the first name looked up: loading the resolver reads its configuration, which a run that meets no name never needs.
const systemLookup: Lookup = async (name) => (await (await import('node:dns/promises')).lookup(name, { all: true })).map((a) => a.address);

/**
 * The addresses a failure's host stands for, canonical, as fail2ban's `usedns` decides: an
 * address (with its `<CIDR>`) is itself; a name is looked up only with `yes` or `warn`
 * (`raw` keeps it as a name, which no firewall can block, and `no` never captures names); a
 * failure id that is no address has none. A name that does not resolve has none either.
 */
export async function failureAddresses(host: FailureHost, useDns: UseDns, resolve: Lookup = systemLookup): Promise<string[]> {
  if (host.kind === 'ip4' || host.kind === 'ip6' || host.kind === 'fid') {
    const text = host.cidr === undefined ? host.value : `${host.value}/${host.cidr}`;
    const address = tryParseAddress(text);
    return address ? [address.text] : [];
  }
  if (useDns !== 'yes' && useDns !== 'warn') return [];
  let found: readonly string[];
  try {
    found = await resolve(host.value);
  } catch {
    return [];
  }
  const addresses = new Set<string>();
  for (const text of found) {
    const address = tryParseAddress(text);
    if (address) addresses.add(address.text);
  }
  return [...addresses];
}
