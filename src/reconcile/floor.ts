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

/** The entry of each ban `floor` lets through, undefined for the others (told to `refused`); jail names are shared. */
function entryMaker<B extends EnforcedBan>(floor: BanFloor | undefined, refused?: (refusal: RefusedBan<B>) => void): (ban: B) => Entry | undefined {
  const jails = new Map<string, string>();
  return (ban) => {
    const why = floor?.(ban);
    if (why !== undefined) {
      refused?.({ ban, why });
      return undefined;
    }
    let jail = jails.get(ban.jail);
    if (jail === undefined) jails.set(ban.jail, jail = ban.jail);
    return { jail, address: ban.address, family: ban.address.includes(':') ? 6 : 4, expiresAt: ban.expiresAt };
  };
}

/**
 * The entries of the bans `floor` lets through, read in one pass without keeping the bans (a
 * million of them take 230 MB); each other one is told to `refused`.
 */
export function enforceableEntries<B extends EnforcedBan>(bans: Iterable<B>, floor: BanFloor | undefined, refused?: (refusal: RefusedBan<B>) => void): Entry[] {
  const entryOf = entryMaker(floor, refused);
  const entries: Entry[] = [];
  for (const ban of bans) {
    const entry = entryOf(ban);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** How many entries a streamed restore is given at a time. */
const STREAM_CHUNK = 2_000;

/**
 * enforceableEntries, handing them to `take` as they are read, a chunk at a time, and waiting for
 * it before reading on (a firewall's tool that parses slower than the store reads holds the
 * reading back, instead of the whole batch piling up in memory). Each entry is shown to `seen`
 * first: what the caller keeps of them is its choice.
 */
export async function streamEnforceableEntries<B extends EnforcedBan>(
  bans: Iterable<B>, floor: BanFloor | undefined, refused: ((refusal: RefusedBan<B>) => void) | undefined,
  take: (chunk: readonly Entry[]) => Promise<void>, seen: (entry: Entry) => void,
): Promise<void> {
  const entryOf = entryMaker(floor, refused);
  let chunk: Entry[] = [];
  for (const ban of bans) {
    const entry = entryOf(ban);
    if (!entry) continue;
    seen(entry);
    chunk.push(entry);
    if (chunk.length >= STREAM_CHUNK) {
      await take(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await take(chunk);
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
