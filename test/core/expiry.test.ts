import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { laterExpiry, mergeByKey, outlasts, type Expiry } from '../../src/core/index.js';

// Few distinct times, so that equal expiries and permanent ones meet often.
const expiry: fc.Arbitrary<Expiry> = fc.option(fc.integer({ min: 0, max: 5 }), { freq: 4 });

describe('the later expiry wins', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(fc.property(expiry, expiry, expiry, (a, b, c) => {
      assert.equal(laterExpiry(a, b), laterExpiry(b, a));
      assert.equal(laterExpiry(laterExpiry(a, b), c), laterExpiry(a, laterExpiry(b, c)));
      assert.equal(laterExpiry(a, a), a);
    }));
  });

  it('permanent absorbs any expiry', () => {
    fc.assert(fc.property(expiry, (a) => {
      assert.equal(laterExpiry(null, a), null);
      assert.equal(laterExpiry(a, null), null);
    }));
  });

  it('picks one of the two, which neither outlasts', () => {
    fc.assert(fc.property(expiry, expiry, (a, b) => {
      const later = laterExpiry(a, b);
      assert.ok(later === a || later === b);
      assert.ok(!outlasts(a, later) && !outlasts(b, later));
    }));
  });

  it('outlasting is strict: nothing outlasts itself, and of two only one can', () => {
    fc.assert(fc.property(expiry, expiry, (a, b) => {
      assert.equal(outlasts(a, a), false);
      assert.ok(!(outlasts(a, b) && outlasts(b, a)));
      assert.equal(outlasts(a, b), a !== b && laterExpiry(a, b) === a);
    }));
    assert.equal(outlasts(null, 10 ** 12), true);
    assert.equal(outlasts(10 ** 12, null), false);
    assert.equal(outlasts(null, null), false);
  });
});

describe('merging by key', () => {
  const item = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), tag: fc.nat(), expiresAt: expiry });
  const items = fc.array(item, { maxLength: 30 });

  it('keeps one item per key, where the key first appears, with its first fields and the later expiry of all its copies', () => {
    fc.assert(fc.property(items, (list) => {
      const merged = mergeByKey(list, (i) => i.key);
      assert.deepEqual(merged.map((i) => i.key), [...new Set(list.map((i) => i.key))]);
      for (const one of merged) {
        const copies = list.filter((i) => i.key === one.key);
        assert.equal(one.tag, copies[0]!.tag);
        assert.equal(one.expiresAt, copies.map((i) => i.expiresAt).reduce(laterExpiry));
      }
    }));
  });

  it('gives each key the same expiry in any order', () => {
    fc.assert(fc.property(items.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))), ([list, shuffled]) => {
      const expiries = (l: typeof list): Map<string, Expiry> => new Map(mergeByKey(l, (i) => i.key).map((i) => [i.key, i.expiresAt]));
      assert.deepEqual(expiries(shuffled), expiries(list));
    }));
  });

  it('leaves an item without a copy as it is', () => {
    const one = { key: 'a', expiresAt: 5 };
    assert.equal(mergeByKey([one, { key: 'b', expiresAt: null }], (i) => i.key)[0], one);
  });
});
