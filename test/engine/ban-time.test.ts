import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError, MAX_DURATION } from '../../src/core/index.js';
import { banTimeCalculator, type BanTimeIncrement } from '../../src/engine/index.js';

const ON: BanTimeIncrement = { enabled: true, factor: 1, overalljails: false };
const fixed = (value: number) => () => value;
/** Ban lengths for 0, 1, 2, … earlier bans. */
const series = (calc: ReturnType<typeof banTimeCalculator>, n: number) => Array.from({ length: n }, (_, count) => calc(count, fixed(0)));

describe('bantime.increment', () => {
  it('doubles with each earlier ban by fail2ban\'s default formula, up to 2^20 times', () => {
    assert.deepEqual(series(banTimeCalculator(600, ON), 5), [600, 1200, 2400, 4800, 9600]);
    const calc = banTimeCalculator(600, ON);
    assert.equal(calc(20, fixed(0)), 600 * 2 ** 20);
    assert.equal(calc(45, fixed(0)), 600 * 2 ** 20);
  });

  it('applies bantime.factor and a custom formula, never going below bantime', () => {
    assert.deepEqual(series(banTimeCalculator(600, { ...ON, factor: 3 }), 3), [600, 3600, 7200]);
    assert.deepEqual(series(banTimeCalculator(600, { ...ON, formula: 'ban.Time * (ban.Count + 1)' }), 4), [600, 1200, 1800, 2400]);
    assert.deepEqual(series(banTimeCalculator(600, { ...ON, formula: 'ban.Time / 10' }), 3), [600, 600, 600]);
    // jail.conf's "more aggressive example", with the factor it names.
    const factor = 2.0 / 2.885385;
    const calc = banTimeCalculator(600, { ...ON, factor, formula: 'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)' });
    assert.deepEqual(series(calc, 4), [600, 1200, 2400, 4800]);
  });

  it('uses bantime.multipliers by earlier ban count instead of the formula, the last one repeating', () => {
    // jail.conf's example for bantime = 60: 1 min, 5 min, 30 min, 1 hour, …
    const calc = banTimeCalculator(60, { ...ON, multipliers: [1, 5, 30, 60, 300, 720, 1440, 2880], formula: 'ban.Time * 1000' });
    assert.deepEqual(series(calc, 4), [60, 300, 1800, 3600]);
    assert.equal(calc(7, fixed(0)), 60 * 2880);
    assert.equal(calc(50, fixed(0)), 60 * 2880);
    assert.equal(banTimeCalculator(60, { ...ON, factor: 2, multipliers: [1, 5] })(1, fixed(0)), 600);
  });

  it('caps at bantime.maxtime', () => {
    assert.deepEqual(series(banTimeCalculator(600, { ...ON, maxtime: 3000 }), 5), [600, 1200, 2400, 3000, 3000]);
  });

  it('never grows past 100 years (core\'s longest duration), whatever the formula or count', () => {
    // fail2ban's default formula takes a 1-week ban to 2^20 weeks: 20,000 years.
    assert.equal(banTimeCalculator(7 * 86400, ON)(20, fixed(0)), MAX_DURATION);
    assert.equal(banTimeCalculator(600, { ...ON, formula: 'ban.Time * 10.0 ** (ban.Count * 100)' })(1, fixed(0)), MAX_DURATION);
    assert.equal(banTimeCalculator(MAX_DURATION, { ...ON, rndtime: 86400 })(1, fixed(1)), MAX_DURATION);
  });

  it('adds up to bantime.rndtime random seconds to a repeat ban', () => {
    const calc = banTimeCalculator(600, { ...ON, maxtime: 1000, rndtime: 300 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const seconds = calc(1, Math.random);
      assert.ok(seconds !== null && seconds >= 1000 && seconds <= 1300, `1000 + up to 300, got ${seconds}`);
      seen.add(seconds);
    }
    assert.ok(seen.size > 20, `random spread, got ${seen.size} distinct values`);
    assert.equal(calc(0, Math.random), 600, 'a first ban is exactly bantime');
  });

  it('keeps permanent bans permanent, and bantime fixed when increment is off', () => {
    assert.equal(banTimeCalculator(null, ON)(3, fixed(0)), null);
    assert.deepEqual(series(banTimeCalculator(600, { ...ON, enabled: false }), 3), [600, 600, 600]);
  });

  it('falls back to bantime when the formula fails for some ban count, as fail2ban does', () => {
    const calc = banTimeCalculator(600, { ...ON, formula: 'ban.Time * 10 / (ban.Count - 2)', maxtime: 5000 });
    assert.deepEqual(series(calc, 4), [600, 600, 600, 5000]);
  });

  it('refuses bad settings with an InputError', () => {
    assert.throws(() => banTimeCalculator(600, { ...ON, formula: 'ban.Time * (1 << 0.5)' }), /bantime.formula "ban.Time \* \(1 << 0.5\)": << needs whole numbers/);
    assert.throws(() => banTimeCalculator(600, { ...ON, formula: 'open("/etc/passwd")' }), InputError);
    // Checked even while increment is off: `f2b-store check` reports it before anyone turns it on.
    assert.throws(() => banTimeCalculator(600, { ...ON, enabled: false, formula: 'ban.Time +' }), InputError);
    assert.throws(() => banTimeCalculator(600, { ...ON, multipliers: [1, -2] }), /bantime.multipliers: "-2"/);
    assert.throws(() => banTimeCalculator(600, { ...ON, maxtime: 0 }), /bantime.maxtime/);
    assert.throws(() => banTimeCalculator(600, { ...ON, rndtime: -1 }), /bantime.rndtime/);
    assert.throws(() => banTimeCalculator(600, { ...ON, factor: 0 }), /bantime.factor/);
    assert.throws(() => banTimeCalculator(-5, ON), /bantime must be/);
  });
});
