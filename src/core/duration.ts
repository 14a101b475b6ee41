import { InputError } from './errors.js';

/** Seconds, or null for a permanent ban. */
export type Duration = number | null;

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const YEAR = 365 * DAY;

// fail2ban's spellings (MyTime.str2seconds) plus the obvious long forms.
const UNITS: ReadonlyMap<string, number> = new Map([
  ...['', 's', 'ss', 'sec', 'secs', 'second', 'seconds'].map((u) => [u, 1] as const),
  ...['m', 'mi', 'mm', 'min', 'mins', 'minute', 'minutes'].map((u) => [u, MINUTE] as const),
  ...['h', 'hh', 'hour', 'hours'].map((u) => [u, HOUR] as const),
  ...['d', 'dd', 'day', 'days'].map((u) => [u, DAY] as const),
  ...['w', 'ww', 'week', 'weeks'].map((u) => [u, WEEK] as const),
  ...['mo', 'month', 'months'].map((u) => [u, 30 * DAY] as const),
  ...['y', 'yy', 'year', 'years'].map((u) => [u, YEAR] as const),
]);

/**
 * The longest duration anything accepts or computes: 100 years. A longer ban is meant to never
 * end, which is what `permanent` says; and every expiry stays far inside the dates JSON can carry.
 */
export const MAX_DURATION = 100 * YEAR;

const TOKEN = /([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)/y;

function bad(input: string, why: string): InputError {
  return new InputError(`bad duration "${input}": ${why} (use e.g. 600, 10m, 1h, 7d, 4w, 1y, "1d 12h", or -1/permanent)`);
}

/** Parses `600`, `10m`, `1d 12h`, `-1`/`permanent` into seconds (null = permanent). */
export function parseDuration(input: string): Duration {
  const text = input.trim().toLowerCase();
  if (text === '-1' || text === 'permanent' || text === 'forever') return null;
  if (text === '') throw bad(input, 'empty');
  if (text.startsWith('-')) throw bad(input, 'negative (only -1, meaning permanent, is allowed)');
  let total = 0;
  let at = 0;
  while (at < text.length) {
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(text);
    if (!match) throw bad(input, `cannot read "${text.slice(at)}"`);
    const unit = UNITS.get(match[2] ?? '');
    if (unit === undefined) throw bad(input, `unknown unit "${match[2]}"`);
    total += Number(match[1]) * unit;
    at = TOKEN.lastIndex;
    while (text[at] === ' ' || text[at] === '\t') at++;
  }
  const seconds = Math.round(total);
  if (seconds <= 0) throw bad(input, 'must be at least one second');
  if (seconds > MAX_DURATION) throw durationTooLong(input);
  return seconds;
}

/** The error for a duration `input` longer than MAX_DURATION. */
export function durationTooLong(input: string): InputError {
  return new InputError(`duration "${input}" is longer than the maximum of 100 years (100y): for no end at all, use permanent (or -1)`);
}

/** A computed duration (bans growing with bantime.increment, imported lengths) held to MAX_DURATION. */
export function capDuration(seconds: number): number {
  return Math.min(seconds, MAX_DURATION);
}

const PARTS: readonly (readonly [string, number])[] = [
  ['y', YEAR], ['w', WEEK], ['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', 1],
];

/** Compact, two most significant units: `6d 23h`, `10m`, `45s`. Permanent prints as `permanent`. */
export function formatDuration(seconds: Duration): string {
  if (seconds === null) return 'permanent';
  let rest = Math.max(0, Math.round(seconds));
  if (rest === 0) return '0s';
  const out: string[] = [];
  for (const [name, size] of PARTS) {
    if (rest >= size && out.length < 2) {
      out.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    } else if (out.length > 0) {
      break;
    }
  }
  return out.join(' ');
}

/** fail2ban's `bantime.*`: how a repeat offender's ban grows, durations in seconds. */
export interface BanTimeIncrement {
  readonly enabled: boolean;
  /** `bantime.factor`, already evaluated (fail2ban reads it as a Python expression). */
  readonly factor: number;
  /** `bantime.formula`, fail2ban's Python expression over `ban.Time`, `ban.Count`, `banFactor`; its default formula when absent. */
  readonly formula?: string;
  /** `bantime.multipliers`; when given (non-empty) they replace the formula. */
  readonly multipliers?: readonly number[];
  readonly maxtime?: number;
  readonly rndtime?: number;
  /** Count earlier bans of the address in every jail, not only this one. */
  readonly overalljails: boolean;
}
