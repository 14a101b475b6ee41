import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionCache } from '../../src/filter/session-cache.js';

describe('session cache', () => {
  it('drops the oldest sessions beyond its limit, also across the renewals of its Map', () => {
    const cache = new SessionCache<number>(3, 300);
    for (let n = 0; n < 1000; n++) cache.add(`s${n}`, n, 0);
    assert.deepEqual(['s996', 's997', 's998', 's999'].map((id) => cache.get(id)), [undefined, 997, 998, 999]);
    cache.delete('s998');
    cache.add('s1000', 1000, 0);
    assert.deepEqual(['s997', 's999', 's1000'].map((id) => cache.get(id)), [997, 999, 1000]);
  });

  it('forgets a session once its time is over, the older first', () => {
    const cache = new SessionCache<string>(100, 300);
    cache.add('a', 'first', 1000);
    cache.add('b', 'second', 1100);
    cache.expire(1299);
    assert.deepEqual([cache.get('a'), cache.get('b')], ['first', 'second']);
    cache.expire(1300);
    assert.deepEqual([cache.get('a'), cache.get('b')], [undefined, 'second']);
  });
});
