import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAddress } from '../../src/core/index.js';
import { FailureWindows, type AddressFailures, type WindowLimits } from '../../src/engine/failure-window.js';

/** The windows' rules written plainly, one array per address: what FailureWindows must tell, however it keeps them. */
class Model {
  private readonly entries = new Map<string, { times: number[]; matches: string[]; stored: boolean; touched: number }>();
  private changed = new Set<string>();
  private removed = new Set<string>();
  private touches = 0;

  constructor(private readonly limits: WindowLimits) {}

  get size(): number {
    return this.entries.size;
  }

  record(address: string, time: number, lines: readonly string[]): AddressFailures | undefined {
    const { maxretry, findtime, maxmatches } = this.limits;
    const known = this.entries.get(address);
    const entry = known ?? { times: [], matches: [], stored: false, touched: 0 };
    entry.touched = this.touches++;
    const times = [...entry.times, time].sort((a, b) => a - b);
    const newest = times[times.length - 1] as number;
    entry.times = times.filter((t) => t >= newest - findtime).slice(-maxretry);
    if (maxmatches > 0 && lines.length > 0) entry.matches = [...entry.matches, ...lines].slice(-maxmatches);
    if (entry.times.length >= maxretry) {
      if (known) this.drop(address);
      return { times: entry.times, matches: entry.matches };
    }
    this.changed.add(address);
    this.entries.set(address, entry);
    this.evict();
    return undefined;
  }

  forget(address: string): void {
    if (this.entries.has(address)) this.drop(address);
  }

  expire(oldest: number): void {
    for (const [address, entry] of this.entries) if ((entry.times[entry.times.length - 1] as number) < oldest) this.drop(address);
  }

  load(address: string, failures: AddressFailures): void {
    const { maxretry, maxmatches } = this.limits;
    const wasChanged = this.changed.has(address);
    if (this.entries.has(address)) this.drop(address);
    this.entries.set(address, {
      times: [...failures.times].sort((a, b) => a - b).slice(-maxretry),
      matches: maxmatches > 0 ? failures.matches.slice(-maxmatches) : [],
      stored: true,
      touched: this.touches++,
    });
    this.removed.delete(address);
    if (wasChanged) this.changed.add(address);
    this.evict();
  }

  discard(address: string): void {
    this.removed.add(address);
  }

  all(): [string, AddressFailures][] {
    return [...this.entries].sort(([, a], [, b]) => a.touched - b.touched).map(([address, e]) => [address, { times: e.times, matches: e.matches }]);
  }

  takeChanged(): [string, AddressFailures | undefined][] {
    const out: [string, AddressFailures | undefined][] = [...this.removed].filter((a) => !this.entries.has(a)).map((a) => [a, undefined]);
    for (const address of this.changed) {
      const entry = this.entries.get(address) as NonNullable<ReturnType<typeof this.entries.get>>;
      entry.stored = true;
      out.push([address, { times: entry.times, matches: entry.matches }]);
    }
    this.changed = new Set();
    this.removed = new Set();
    return out;
  }

  private drop(address: string): void {
    if (this.entries.get(address)?.stored === true) this.removed.add(address);
    this.entries.delete(address);
    this.changed.delete(address);
  }

  private evict(): void {
    while (this.entries.size > this.limits.maxTracked) {
      const [least] = [...this.entries].sort(([, a], [, b]) => a.touched - b.touched)[0] as [string, unknown];
      this.drop(least);
    }
  }
}

type Op =
  | { op: 'record'; address: number; time: number; line: boolean }
  | { op: 'take' }
  | { op: 'expire'; back: number }
  | { op: 'forget'; address: number }
  | { op: 'load'; address: number; times: number[] }
  | { op: 'discard'; address: number };

const ADDRESSES = 6;
const addressOf = (i: number): string => `203.0.113.${i + 1}`;
const plain = (f: AddressFailures | undefined): unknown => f && { times: [...f.times], matches: [...f.matches] };
const sorted = (changes: readonly (readonly [string, AddressFailures | undefined])[]): unknown => changes.map(([a, f]) => [a, plain(f)]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));

describe('FailureWindows', () => {
  it('counts, forgets, evicts and reports changes as the plain rules say, whatever the order of calls', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ op: fc.constant('record' as const), address: fc.nat(ADDRESSES - 1), time: fc.integer({ min: -3, max: 12 }), line: fc.boolean() }) },
      { weight: 2, arbitrary: fc.constant({ op: 'take' as const }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const), back: fc.nat(12) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), address: fc.nat(ADDRESSES - 1) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('load' as const), address: fc.nat(ADDRESSES - 1), times: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('discard' as const), address: fc.nat(ADDRESSES - 1) }) },
    );
    const limits = fc.record({ maxretry: fc.integer({ min: 1, max: 4 }), findtime: fc.integer({ min: 1, max: 10 }), maxmatches: fc.nat(3), maxTracked: fc.integer({ min: 1, max: 5 }) });
    fc.assert(fc.property(limits, fc.array(op, { maxLength: 120 }), (limit, ops) => {
      const windows = new FailureWindows(limit);
      const model = new Model(limit);
      // Log time moves on, with failures now and then from a little before the newest.
      let clock = 0;
      let lines = 0;
      for (const step of ops) {
        if (step.op === 'record') {
          clock += Math.max(0, step.time);
          const time = step.time < 0 ? clock + step.time : clock;
          const line = step.line ? [`line ${lines++}`] : [];
          assert.deepEqual(plain(windows.record(addressOf(step.address), time, line)), plain(model.record(addressOf(step.address), time, line)));
        } else if (step.op === 'take') {
          const told = windows.takeChanged();
          const expected = sorted(model.takeChanged());
          assert.deepEqual(sorted([...told]), expected);
          assert.deepEqual(sorted([...told]), expected, 'the same again, as long as nothing is counted between');
        } else if (step.op === 'expire') {
          windows.expire(clock - step.back);
          model.expire(clock - step.back);
        } else if (step.op === 'forget') {
          windows.forget(parseAddress(addressOf(step.address)));
          model.forget(addressOf(step.address));
        } else if (step.op === 'load') {
          const failures = { times: step.times, matches: step.times.map((t) => `stored ${t}`) };
          windows.load(addressOf(step.address), failures);
          model.load(addressOf(step.address), failures);
        } else {
          windows.discard(addressOf(step.address));
          model.discard(addressOf(step.address));
        }
        assert.equal(windows.size, model.size);
      }
      assert.deepEqual([...windows.all()].map(([a, f]) => [a, plain(f)]), model.all().map(([a, f]) => [a, plain(f)]));
    }), { numRuns: 500 });
  });

  it('forgets every tracked address inside a network', () => {
    const windows = new FailureWindows({ maxretry: 5, findtime: 60, maxmatches: 1, maxTracked: 10 });
    for (const address of ['198.51.100.1', '198.51.100.200', '203.0.113.1']) windows.record(address, 0, []);
    windows.forget(parseAddress('198.51.100.0/24'));
    assert.deepEqual([...windows.all()].map(([address]) => address), ['203.0.113.1']);
  });
});
