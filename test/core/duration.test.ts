import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration, InputError, isoTime, MAX_DURATION, MAX_TIME, parseDuration, storedTime } from '../../src/core/index.js';

describe('parseDuration', () => {
  const cases: [string, number | null][] = [
    ['600', 600], ['10m', 600], ['1h', 3600], ['7d', 604800], ['4w', 2419200], ['1y', 31536000],
    ['1d 12h', 129600], ['1d12h', 129600], ['2 days', 172800], ['90s', 90], ['1.5h', 5400], ['10M', 600],
    ['1mo', 2592000], ['-1', null], ['permanent', null], ['Permanent', null],
  ];
  for (const [input, seconds] of cases) {
    it(`${JSON.stringify(input)} → ${seconds}`, () => assert.equal(parseDuration(input), seconds));
  }
  for (const bad of ['10x', '-5', '1.5.3h', '', '0', 'h', '1h-', '--1', '1 h x', '10m!']) {
    it(`rejects ${JSON.stringify(bad)} naming the value`, () => {
      assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2 && e.message.includes(`"${bad}"`));
    });
  }
});

describe('the longest duration', () => {
  it('is 100 years: 100y is accepted, a second more is refused naming the value and permanent', () => {
    assert.equal(parseDuration('100y'), MAX_DURATION);
    assert.equal(MAX_DURATION, 100 * 365 * 86400);
    for (const bad of ['1000000y', '101y', '100y 1s', '3153600001', `1${'0'.repeat(400)}`]) {
      assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2
        && e.message.includes(`"${bad}"`) && /maximum of 100 years/.test(e.message) && /permanent/.test(e.message), bad);
    }
  });
});

describe('times as stored', () => {
  it('are held to 0 … 9999-12-31T23:59:59Z; text, blobs and NaN read as the far end, as SQLite sorts them', () => {
    assert.equal(storedTime(1_700_000_000), 1_700_000_000);
    assert.equal(storedTime(1e15), MAX_TIME);
    assert.equal(storedTime(Infinity), MAX_TIME);
    assert.equal(storedTime(-5), 0);
    for (const garbage of ['tomorrow', Buffer.from('x'), Number.NaN, 10n]) assert.equal(storedTime(garbage), MAX_TIME, String(garbage));
    assert.equal(isoTime(MAX_TIME), '9999-12-31T23:59:59Z');
  });

  it('print as ISO-8601 whatever the number', () => {
    fc.assert(fc.property(fc.double(), (seconds) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(isoTime(seconds))));
    assert.equal(isoTime(1e15), '9999-12-31T23:59:59Z');
  });
});

describe('formatDuration', () => {
  it('keeps the two most significant units', () => {
    assert.equal(formatDuration(601200), '6d 23h');
    assert.equal(formatDuration(600), '10m');
    assert.equal(formatDuration(45), '45s');
    assert.equal(formatDuration(90061), '1d 1h');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(null), 'permanent');
  });

  it('reads back what it prints, within the dropped units', () => {
    for (const seconds of [59, 61, 3599, 86400, 604800, 31536000]) {
      const back = parseDuration(formatDuration(seconds));
      assert.ok(back !== null && back <= seconds && seconds - back < seconds / 10 + 60, `${seconds} → ${formatDuration(seconds)} → ${back}`);
    }
  });
});
