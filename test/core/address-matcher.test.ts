import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AddressMatcher, contains, parseAddress } from '../../src/core/index.js';

describe('AddressMatcher', () => {
  it('finds for an address the first listed entry that holds it, as contains() says, in both families', () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`);
    // Entries near the asked address too: random ones alone would hardly ever hold it.
    const near = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => [a, `${a}/${p}`] as const);
    fc.assert(fc.property(fc.array(fc.oneof(fc.ipV4(), v4, v6)), near, fc.ipV4(), fc.boolean(), (listed, [nearAddress, nearNetwork], other, askNear) => {
      const entries = [...listed, nearNetwork].map((text) => parseAddress(text));
      const asked = parseAddress(askNear ? nearAddress : other);
      const expected = entries.find((entry) => !entry.isNetwork && entry.text === asked.text) ?? entries.find((entry) => entry.isNetwork && contains(entry, asked));
      assert.equal(new AddressMatcher(entries).find(asked)?.text, expected?.text);
    }));
  });

  it('matches an IPv4 address against networks at the edges of their range', () => {
    const matcher = new AddressMatcher(['127.0.0.0/8', '198.51.100.128/25', '0.0.0.0/0'].map((text) => parseAddress(text)));
    assert.equal(matcher.find(parseAddress('127.255.255.255'))?.text, '127.0.0.0/8');
    assert.equal(matcher.find(parseAddress('198.51.100.128'))?.text, '198.51.100.128/25');
    assert.equal(matcher.find(parseAddress('198.51.100.127'))?.text, '0.0.0.0/0');
    assert.equal(new AddressMatcher([parseAddress('255.255.255.254/31')]).find(parseAddress('255.255.255.255'))?.text, '255.255.255.254/31');
    assert.equal(new AddressMatcher([parseAddress('10.0.0.0/8')]).find(parseAddress('11.0.0.0')), undefined);
  });
});
