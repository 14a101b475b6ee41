import { tryParseAddress, type Ban, type LockoutCheck } from '../core/index.js';

/** Why a stored ban must reach no backend, or undefined when it may. */
export type BanFloor = (ban: Ban) => string | undefined;

/** A stored ban the floor kept out of every backend, and why. */
export interface RefusedBan {
  readonly ban: Ban;
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

/** The bans `floor` lets through; each other one is told to `refused`. Without a floor, all of them. */
export function enforceable(bans: Iterable<Ban>, floor: BanFloor | undefined, refused?: (refusal: RefusedBan) => void): Ban[] {
  if (!floor) return [...bans];
  const kept: Ban[] = [];
  for (const ban of bans) {
    const why = floor(ban);
    if (why === undefined) kept.push(ban);
    else refused?.({ ban, why });
  }
  return kept;
}
