import type { BanRequest, BanWhy } from '../core/index.js';

/** The columns of a ban that say why it was made, as JSON text (NULL when there is nothing to say). */
export interface WhyRow {
  matches: string | null;
  failure_times: string | null;
  captures: string | null;
}

/** The failures a ban keeps (their lines and times, the newest), the captures, and how long each may be: they come from log lines. */
export const MAX_WHY_FAILURES = 10;
const MAX_CAPTURES = 16;
const MAX_CAPTURE_CHARS = 256;

function newest<T>(list: readonly T[] | undefined): string | null {
  return list !== undefined && list.length > 0 ? JSON.stringify(list.slice(-MAX_WHY_FAILURES)) : null;
}

export function whyRow(request: Pick<BanRequest, 'matches' | 'failureTimes' | 'captures'>): WhyRow {
  const captures = Object.entries(request.captures ?? {}).slice(0, MAX_CAPTURES)
    .map(([name, value]) => [name.slice(0, MAX_CAPTURE_CHARS), value.slice(0, MAX_CAPTURE_CHARS)]);
  return {
    matches: newest(request.matches),
    failure_times: newest(request.failureTimes),
    captures: captures.length > 0 ? JSON.stringify(Object.fromEntries(captures)) : null,
  };
}

/** Parsed JSON, or undefined: a row written by hand or by an old version must not stop a reader. */
function parsed(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The lines of a stored `matches` column. */
export function storedLines(text: string | null): string[] {
  const matches = parsed(text);
  return Array.isArray(matches) ? matches.filter((m): m is string => typeof m === 'string') : [];
}

/** The why of a stored row; what is not of the expected shape is left out. */
export function whyOf(row: WhyRow): BanWhy {
  const times = parsed(row.failure_times);
  const captures = parsed(row.captures);
  return {
    matches: storedLines(row.matches),
    failureTimes: Array.isArray(times) ? times.filter((t): t is number => typeof t === 'number' && Number.isFinite(t)) : [],
    captures: typeof captures === 'object' && captures !== null && !Array.isArray(captures)
      ? Object.fromEntries(Object.entries(captures).filter((entry): entry is [string, string] => typeof entry[1] === 'string'))
      : {},
  };
}
