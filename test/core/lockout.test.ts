import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LOCKOUT_FLOOR, hostAddresses, lockoutCheck, lockoutReason, parseAddress } from '../../src/core/index.js';

const local = [parseAddress('192.0.2.2'), parseAddress('fd00::2'), parseAddress('127.0.0.1')];
const reason = (text: string): string | undefined => lockoutReason(parseAddress(text), local);

describe('lockout protection', () => {
  for (const [text, why] of [
    ['0.0.0.0/0', 'wider than /8'], ['::/0', 'wider than /32'], ['10.0.0.0/7', 'wider than /8'],
    ['2001:db8::/31', 'wider than /32'], ['127.0.0.1', 'loopback'], ['127.9.9.9', 'loopback'], ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'], ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['192.0.2.2', 'address of this host'], ['192.0.2.0/24', 'contains 192.0.2.2'], ['fd00::/64', 'contains fd00::2'],
  ] as const) {
    it(`refuses ${text}: ${why}`, () => assert.match(reason(text) ?? '', new RegExp(why.replace(/[/.]/g, '\\$&'))));
  }
  for (const text of ['203.0.113.7', '198.51.100.0/24', '10.0.0.0/8', '2001:db8::/32', '2001:db8::66', '192.0.2.3']) {
    it(`allows ${text}`, () => assert.equal(reason(text), undefined));
  }
  it('takes its floor from configuration: other shortest prefixes, and protected networks', () => {
    const check = lockoutCheck(local, { minPrefix4: 16, minPrefix6: 0, protect: [parseAddress('198.51.100.0/24'), parseAddress('2001:db8:1::7')] });
    const why = (text: string): string | undefined => check(parseAddress(text));
    assert.match(why('10.0.0.0/15') ?? '', /wider than \/16/);
    assert.equal(why('10.0.0.0/16'), undefined);
    assert.equal(why('4000::/3'), undefined, 'minprefix6 = 0 lets any IPv6 network through');
    assert.match(why('198.51.100.9') ?? '', /198\.51\.100\.9 overlaps 198\.51\.100\.0\/24, protected by \[lockout\] protect/);
    assert.match(why('198.51.0.0/16') ?? '', /overlaps 198\.51\.100\.0\/24/);
    assert.match(why('2001:db8:1::7') ?? '', /2001:db8:1::7 is protected by \[lockout\] protect/);
    assert.match(why('2001:db8::/32') ?? '', /overlaps 2001:db8:1::7/);
    assert.equal(why('198.51.101.9'), undefined);
    assert.match(why('198.51.100.128/25') ?? '', /overlaps 198\.51\.100\.0\/24/, 'a network inside a protected one');
    assert.equal(why('198.51.101.0/24'), undefined, 'the protected network\'s neighbour');
    assert.match(why('2001:db8:1::/64') ?? '', /overlaps 2001:db8:1::7/);
    assert.equal(why('2001:db8:2::/64'), undefined);
    assert.match(why('192.0.2.2') ?? '', /address of this host/, 'this host and loopback stay refused whatever the floor');
    assert.match(why('127.0.0.1') ?? '', /loopback/);
  });

  it('the default floor is /8 and /32 with nothing protected', () => {
    assert.deepEqual(DEFAULT_LOCKOUT_FLOOR, { minPrefix4: 8, minPrefix6: 32, protect: [] });
  });

  it('knows the real addresses of this host', () => {
    const mine = hostAddresses();
    assert.ok(mine.some((a) => a.text === '127.0.0.1'), 'loopback interface is listed');
    for (const address of mine) assert.notEqual(lockoutReason(address, mine), undefined);
  });
});
