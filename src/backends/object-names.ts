import { checkJailName, type Family } from '../core/index.js';

/**
 * Names of what f2b-store makes where other tools make theirs too (ipsets, iptables chains).
 * fail2ban's actions name chains `f2b-<jail>` and ipsets `f2b-<jail>` and `f2b-<jail>6`, and
 * earlier f2b-store used `f2b-<jail>` and `f2b-<jail>-6`: ours start with `f2bs`, which no
 * other tool uses. A jail is always the whole rest of the name after a fixed head, so a name
 * maps back to one jail and family only (test/backends/object-names.test.ts checks it over every
 * jail name), and each name fits its firewall's limit for the longest jail name (24).
 */

/** The kernel's longest ipset name (IPSET_MAXNAMELEN, 32 with the closing NUL); firewalld's ipsets are held to it too. */
export const IPSET_NAME_MAX = 31;
/** iptables' longest chain name (XT_EXTENSION_MAXNAMELEN, 29 with the closing NUL). */
export const CHAIN_NAME_MAX = 28;

const IPSET_HEAD = 'f2bs';
const CHAIN_HEAD = 'f2bs';
/** Added to a set's name for the set it is rebuilt in; not a character of jail names, so it never names a jail's set. */
const TEMP_SUFFIX = '~';

/** True when `name` is a jail name f2b-store could have made an object for (see checkJailName). */
export function isJailName(name: string): boolean {
  try {
    checkJailName(name);
    return true;
  } catch {
    return false;
  }
}

export interface JailFamily {
  readonly jail: string;
  readonly family: Family;
}

/** The ipset of a jail for one family: `f2bs4-<jail>`, `f2bs6-<jail>` (at most 30 characters, so its rebuild set fits too). */
export function ipsetName(jail: string, family: Family): string {
  return `${IPSET_HEAD}${family}-${jail}`;
}

/** The jail and family an ipset name stands for, or undefined when it is not one of ours. */
export function parseIpsetName(name: string): JailFamily | undefined {
  const match = /^f2bs([46])-(.*)$/.exec(name);
  const jail = match?.[2];
  return jail !== undefined && isJailName(jail) ? { jail, family: match?.[1] === '4' ? 4 : 6 } : undefined;
}

/** The set an ipset is rebuilt in before the two are swapped. */
export function ipsetTempName(name: string): string {
  return `${name}${TEMP_SUFFIX}`;
}

/** The ipset a rebuild set belongs to, or undefined when `name` is no rebuild set. */
export function ipsetOfTemp(name: string): string | undefined {
  return name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : undefined;
}

/**
 * The chain of a jail (in the filter table of iptables and of ip6tables): `f2bs-<jail>`, or
 * `f2bs<jail>` when the dash would make it longer than iptables allows (a jail of 24
 * characters). A jail starts with a letter or digit, so the two forms never meet.
 */
export function chainName(jail: string): string {
  const dashed = `${CHAIN_HEAD}-${jail}`;
  return dashed.length <= CHAIN_NAME_MAX ? dashed : `${CHAIN_HEAD}${jail}`;
}

/** The jail a chain name stands for, or undefined when it is not one of ours. */
export function parseChainName(name: string): string | undefined {
  if (!name.startsWith(CHAIN_HEAD)) return undefined;
  const rest = name.slice(CHAIN_HEAD.length);
  const jail = rest.startsWith('-') ? rest.slice(1) : rest;
  return isJailName(jail) && chainName(jail) === name ? jail : undefined;
}

/**
 * The jail and family of an ipset named the way earlier f2b-store named them: `f2b-<jail>`
 * (IPv4), `f2b-<jail>-6` (IPv6). The name alone is ambiguous (`f2b-web-6` is jail `web-6`'s IPv4
 * set or jail `web`'s IPv6 one), so the family comes from the set.
 */
export function parseLegacyIpsetName(name: string, family: Family): string | undefined {
  if (!name.startsWith('f2b-')) return undefined;
  const jail = family === 4 ? name.slice(4) : name.endsWith('-6') ? name.slice(4, -2) : undefined;
  return jail !== undefined && isJailName(jail) ? jail : undefined;
}

/** The jail of a chain named the way both fail2ban and earlier f2b-store name them: `f2b-<jail>`. */
export function parseLegacyChainName(name: string): string | undefined {
  const jail = name.startsWith('f2b-') ? name.slice(4) : undefined;
  return jail !== undefined && isJailName(jail) ? jail : undefined;
}
