import { tryParseAddress, type EnforcedBan, type LockoutCheck } from '../core/index.js';
import type { Entry } from '../backends/index.js';

/** Why a stored ban must reach no backend, or undefined when it may. */
export type BanFloor = (ban: EnforcedBan) => string | undefined;

/** A stored ban the floor kept out of every backend, and why. */
export interface RefusedBan<B extends EnforcedBan = EnforcedBan> {
  readonly ban: B;
  readonly why: string;
}

/**
 * The lockout floor applied to stored rows, whoever wrote them (an import, an older version, a
 * hand-written row, a floor or an address of this host that changed since): a row the check
 * refuses, or whose address is not in the canonical form f2b-store writes, reaches no backend.
 * A ban made with `--force` does: that is the administrator's explicit word.
 */
export function banFloor(check: LockoutCheck): BanFloor {
  return (ban) => {
    if (ban.forced) return undefined;
    const address = tryParseAddress(ban.address);
    if (address?.text !== ban.address) return `"${ban.address}" is not an address in canonical form`;
    return check(address);
  };
}

/**
 * The entries of the bans `floor` lets through, read in one pass without keeping the bans (a
 * million of them take 230 MB); each other one is told to `refused`. Jail names are shared.
 */
export function enforceableEntries<B extends EnforcedBan>(bans: Iterable<B>, floor: BanFloor | undefined, refused?: (refusal: RefusedBan<B>) => void): Entry[] {
  const jails = new Map<string, string>();
  const entries: Entry[] = [];
  for (const ban of bans) {
    const why = floor?.(ban);
    if (why !== undefined) {
      refused?.({ ban, why });
      continue;
    }
    let jail = jails.get(ban.jail);
    if (jail === undefined) jails.set(ban.jail, jail = ban.jail);
    entries.push({ jail, address: ban.address, family: ban.address.includes(':') ? 6 : 4, expiresAt: ban.expiresAt });
  }
  return entries;
}

/** The bans `floor` lets through; each other one is told to `refused`. Without a floor, all of them. */
export function enforceable<B extends EnforcedBan>(bans: Iterable<B>, floor: BanFloor | undefined, refused?: (refusal: RefusedBan<B>) => void): B[] {
  if (!floor) return [...bans];
  const kept: B[] = [];
  for (const ban of bans) {
    const why = floor(ban);
    if (why === undefined) kept.push(ban);
    else refused?.({ ban, why });
  }
  return kept;
}
