import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contains, laterExpiry, overlapFree, overlaps, parseAddress, type Address, type Expiry } from '../../src/core/index.js';

interface Member {
  readonly set: string;
  readonly address: Address;
  readonly expiresAt: Expiry;
  readonly tag: number;
}

const same = (a: Member, b: Member): boolean => a.set === b.set && a.address.text === b.address.text;
const meet = (a: Member, b: Member): boolean => a.set === b.set && a.address.family === b.address.family;

// A small space of addresses and prefixes, so that networks nest, repeat and hold hosts often.
const v4 = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 20, max: 32 }))
  .map(([c, d, prefix]) => parseAddress(`198.51.${100 + c}.${d}/${prefix}`));
const v6 = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 40, max: 128 }))
  .map(([a, b, prefix]) => parseAddress(`2001:db8:${a}::${b}/${prefix}`));
const member: fc.Arbitrary<Member> = fc.record({
  set: fc.constantFrom('sshd', 'recidive'),
  address: fc.oneof(v4, v6),
  expiresAt: fc.option(fc.integer({ min: 0, max: 5 }), { freq: 4 }),
  tag: fc.nat(),
});
const members = fc.array(member, { maxLength: 40 });
const run = (list: readonly Member[]): Member[] => overlapFree(list, (m) => m.set);

describe('overlap-free sets', () => {
  it('holds no two members of one set that overlap, nor one address twice', () => {
    fc.assert(fc.property(members, (list) => {
      const held = run(list);
      for (const [i, a] of held.entries()) {
        for (const b of held.slice(i + 1)) assert.ok(!meet(a, b) || !overlaps(a.address, b.address), `${a.address.text} and ${b.address.text}`);
      }
    }));
  });

  it('still covers every address it was given, each by a member of its own set', () => {
    fc.assert(fc.property(members, (list) => {
      const held = run(list);
      for (const m of list) assert.ok(held.some((h) => meet(h, m) && contains(h.address, m.address)), m.address.text);
    }));
  });

  it('keeps exactly the addresses no wider network of their set holds, where each first appears, with its first fields', () => {
    fc.assert(fc.property(members, (list) => {
      const firsts = list.filter((m, i) => list.findIndex((o) => same(o, m)) === i);
      const outer = firsts.filter((m) => !firsts.some((o) => meet(o, m) && !same(o, m) && contains(o.address, m.address)));
      assert.deepEqual(run(list).map((m) => [m.set, m.address.text, m.tag]), outer.map((m) => [m.set, m.address.text, m.tag]));
    }));
  });

  it('gives a kept member the later expiry of its copies; what it covers does not change it', () => {
    fc.assert(fc.property(members, (list) => {
      for (const held of run(list)) {
        assert.equal(held.expiresAt, list.filter((m) => same(m, held)).map((m) => m.expiresAt).reduce(laterExpiry));
      }
    }));
  });

  it('leaves out a host inside a network and a narrower network, and keeps the wider network\'s own expiry', () => {
    const at = (set: string, text: string, expiresAt: Expiry, tag = 0): Member => ({ set, address: parseAddress(text), expiresAt, tag });
    const held = run([
      at('sshd', '198.51.100.9', null),
      at('sshd', '198.51.100.0/24', 50),
      at('sshd', '198.51.100.0/25', 60),
      at('recidive', '198.51.100.9', 70),
      at('sshd', '198.51.100.0/24', 80, 1),
      at('sshd', '2001:db8::/32', 10),
      at('sshd', '2001:db8::1', null),
      at('sshd', '2001:db9::1', 5),
    ]);
    assert.deepEqual(held.map((m) => `${m.set} ${m.address.text} ${m.expiresAt} ${m.tag}`), [
      'sshd 198.51.100.0/24 80 0',
      'recidive 198.51.100.9 70 0',
      'sshd 2001:db8::/32 10 0',
      'sshd 2001:db9::1 5 0',
    ]);
  });
});
