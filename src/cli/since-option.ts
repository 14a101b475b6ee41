import { InputError, parseDuration } from '../core/index.js';

const ISO_DATE = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/i;

/** `--since 7d` (banned in the last 7 days) or `--since 2026-05-01[T08:00:00Z]`, as epoch seconds. */
export function sinceOption(text: string, now: number): number {
  const bad = new InputError(`bad --since "${text}": use a duration (12h, 7d) or an ISO date (2026-05-01, 2026-05-01T08:00:00Z)`);
  const trimmed = text.trim();
  if (ISO_DATE.test(trimmed)) {
    const [year, month, day] = trimmed.slice(0, 10).split('-').map(Number) as [number, number, number];
    // Date.parse reads 2026-02-30 as March 2nd: the day must exist.
    const date = new Date(Date.UTC(year, month - 1, day));
    const ms = Date.parse(trimmed.replace(' ', 'T'));
    if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || Number.isNaN(ms)) throw bad;
    return Math.floor(ms / 1000);
  }
  let seconds: number | null;
  try {
    seconds = parseDuration(trimmed);
  } catch {
    throw bad;
  }
  if (seconds === null) throw bad;
  return now - seconds;
}
