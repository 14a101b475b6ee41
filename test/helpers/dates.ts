import assert from 'node:assert/strict';
import { createDateDetector, type DateDetector, type DateDetectorOptions } from '../../src/filter/index.js';

// The clock and zone of fail2ban's own test suite: expected values in the date tests are what
// fail2ban 1.0.2's DateDetector returns under them (now = 2005-08-14 12:00 CEST).
export const TZ = 'CET-01CEST-02,M3.5.0,M10.5.0';
export const NOW = 1124013600;
export const NO_TIME = 'no time';
export const NO_MATCH = 'no match';
/** A line, then the instant and the span of the date text fail2ban cuts out, or NO_MATCH. */
export type Row = readonly [string, number | typeof NO_TIME, number, number] | readonly [string, typeof NO_MATCH];

export const utc = (text: string): number => Date.parse(`${text.replace(' ', 'T')}Z`) / 1000;

/** A detector on fail2ban's test clock and zone. */
export function detector(options: Partial<DateDetectorOptions> = {}): DateDetector {
  return createDateDetector({ now: () => NOW, localTimeZone: TZ, ...options });
}

function seen(found: ReturnType<DateDetector['match']>): unknown {
  return found === undefined ? NO_MATCH : [found.time ?? NO_TIME, found.start, found.end];
}

/** The rows in order on one detector, as lines of one log. */
export function expectInOrder(dates: DateDetector, rows: readonly Row[], label = ''): void {
  for (const [line, ...expected] of rows) {
    assert.deepEqual(seen(dates.match(line)), expected.length === 1 ? NO_MATCH : expected, `${label}${line}`);
  }
}

/** Each row on a detector of its own: what a pattern does with no history. */
export function expectEach(options: Partial<DateDetectorOptions>, rows: readonly Row[], label = ''): void {
  for (const row of rows) expectInOrder(detector(options), [row], label);
}
