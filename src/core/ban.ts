import { InputError } from './errors.js';

/** The sources a caller may name (`ban --source`). */
export const BAN_SOURCES = ['filter', 'manual', 'import', 'fail2ban'] as const;
/** Every source a ban may have: also `fleet`, a ban taken from another host of a fleet (src/fleet/), which only the fleet writes. */
export type BanSource = (typeof BAN_SOURCES)[number] | 'fleet';

/** One ban of one address in one jail, active or lifted. Times are epoch seconds. */
export interface Ban {
  readonly address: string;
  readonly jail: string;
  readonly bannedAt: number;
  /** null = permanent. */
  readonly expiresAt: number | null;
  readonly source: BanSource;
  readonly reason: string | null;
  readonly failures: number;
  readonly banCount: number;
  readonly liftedAt: number | null;
  /** Who lifted it: `unban`, `expired`, … null while not lifted. */
  readonly liftedBy: string | null;
  /** Made with `--force` past the lockout floor (core/lockout): the reconciler applies it all the same. */
  readonly forced: boolean;
  /** A fleet's ban (source `fleet`): the host that decided it. Absent for this host's own bans. */
  readonly origin?: string;
}

/** What enforcing an active ban needs of it: where it goes, until when, and whether the lockout floor is waived. */
export type EnforcedBan = Pick<Ban, 'address' | 'jail' | 'expiresAt' | 'forced'>;

/** What a caller asks the store to ban. */
export interface BanRequest {
  /** Canonical text, as `Address.text`. */
  readonly address: string;
  readonly jail: string;
  readonly expiresAt: number | null;
  readonly source: BanSource;
  readonly reason?: string | null;
  readonly failures?: number;
  readonly matches?: readonly string[];
  /** When the failures that caused it happened (epoch seconds, ascending). */
  readonly failureTimes?: readonly number[];
  /** The filter's captures of its last failure, by fail2ban's names (`user`, `fid`, …). */
  readonly captures?: Readonly<Record<string, string>>;
  /** Past the lockout floor on the caller's explicit word (`--force`); an extended ban stays forced. */
  readonly forced?: boolean;
  /** The fleet host that decided it (source `fleet` only). */
  readonly origin?: string;
}

/** Why a ban was made: the failures that caused it, as far as they were kept. */
export interface BanWhy {
  /** The matched log lines, oldest first. */
  readonly matches: readonly string[];
  /** When the failures happened (epoch seconds, ascending). */
  readonly failureTimes: readonly number[];
  /** The filter's captures of its last failure (`user`, `fid`, …). */
  readonly captures: Readonly<Record<string, string>>;
}

/** Active at `now`: not lifted and not yet expired. */
export function isActive(ban: Ban, now: number): boolean {
  return ban.liftedAt === null && (ban.expiresAt === null || ban.expiresAt > now);
}

/** When the ban stopped blocking: its lift, or its expiry once passed; null while active. */
export function endedAt(ban: Ban, now: number): number | null {
  if (ban.liftedAt !== null) return ban.liftedAt;
  return ban.expiresAt !== null && ban.expiresAt <= now ? ban.expiresAt : null;
}

// 24: what fail2ban's own iptables chains (`f2b-<jail>`, 28 characters at most) allow, so any jail
// fail2ban delegates fits; every firewall object name is made to fit it (src/backends/object-names.ts).
const JAIL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$/;

/** Jail names become firewall object names, so they are kept to a safe alphabet and length. */
export function checkJailName(name: string): string {
  if (!JAIL_NAME.test(name)) {
    throw new InputError(`bad jail name "${name}": use 1-24 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  return name;
}

export function checkSource(source: string): BanSource {
  if (!(BAN_SOURCES as readonly string[]).includes(source)) {
    throw new InputError(`bad source "${source}": use one of ${BAN_SOURCES.join(', ')}`);
  }
  return source as BanSource;
}

/** The latest time a ban carries: 9999-12-31T23:59:59Z, the end of what ISO-8601 (and most JSON readers' dates) can write. */
export const MAX_TIME = 253_402_300_799;

/**
 * A time as stored, made safe to compute and print with: numbers are held to 0…MAX_TIME; anything
 * else (text or a blob written by hand or an old version, NaN) reads as MAX_TIME, the far end, as
 * SQLite itself sorts text and blobs after every number (so such a ban counts as active).
 */
export function storedTime(value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) return MAX_TIME;
  return Math.min(Math.max(value, 0), MAX_TIME);
}

/** ISO-8601 UTC to the second, as in the JSON contract: `2026-11-23T09:18:55Z`. Times past MAX_TIME print as MAX_TIME. */
export function isoTime(seconds: number): string {
  return new Date(storedTime(Math.floor(seconds)) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function iso(seconds: number | null): string | null {
  return seconds === null ? null : isoTime(seconds);
}

/** A BanWhy as JSON: times in ISO-8601 UTC. */
export function whyToJson(why: BanWhy): Record<string, unknown> {
  return { failureTimes: why.failureTimes.map(isoTime), matches: why.matches, captures: why.captures };
}

/** The JSON form of the CLI contract; lifted means lifted or expired at `now`. */
export function banToJson(ban: Ban, now: number): Record<string, unknown> {
  const ended = endedAt(ban, now);
  return {
    address: ban.address,
    jail: ban.jail,
    bannedAt: iso(ban.bannedAt),
    expiresAt: iso(ban.expiresAt),
    source: ban.source,
    reason: ban.reason,
    failures: ban.failures,
    banCount: ban.banCount,
    liftedAt: iso(ended),
    liftedBy: ban.liftedBy ?? (ended === null ? null : 'expired'),
    forced: ban.forced,
    ...(ban.origin === undefined ? {} : { origin: ban.origin }),
  };
}
