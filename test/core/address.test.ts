import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contains, overlaps, parseAddress, tryParseAddress, InputError } from '../../src/core/index.js';

describe('address canonical form', () => {
  const cases: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['203.0.113.7/32', '203.0.113.7'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['198.51.100.77/24', '198.51.100.0/24'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['::ffff:198.51.100.0/120', '198.51.100.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    // IPv4-compatible (RFC 4291 §2.5.5.1): an IPv6 address in either spelling, never IPv4.
    ['::203.0.113.7', '::cb00:7107'],
    ['::cb00:7107', '::cb00:7107'],
    ['::CB00:7107', '::cb00:7107'],
    ['[::203.0.113.7]', '::cb00:7107'],
    ['::203.0.113.7%eth0', '::cb00:7107'],
    ['::203.0.113.0/120', '::cb00:7100/120'],
    ['::cb00:7163/120', '::cb00:7100/120'],
    ['::1.2.3.4/96', '::/96'],
    ['::0.0.0.1', '::1'],
    ['::0.0.0.0', '::'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['2001:db8:abcd:1234::99/48', '2001:db8:abcd::/48'],
    ['[2001:db8::7]', '2001:db8::7'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::/0', '::/0'],
  ];
  for (const [input, canonical] of cases) {
    it(`${JSON.stringify(input)} → ${canonical}`, () => {
      assert.equal(parseAddress(input).text, canonical);
    });
  }

  it('records family, prefix and whether it is a network', () => {
    assert.deepEqual(parseAddress('10.9.8.7/16'), { text: '10.9.0.0/16', family: 4, prefix: 16, isNetwork: true });
    assert.deepEqual(parseAddress('2001:db8::5'), { text: '2001:db8::5', family: 6, prefix: 128, isNetwork: false });
  });

  for (const bad of ['1.2.3', '999.1.1.1', '::g', '1.2.3.4/33', '2001:db8::/129', 'example.com', '', ' ',
    '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/a', '01.2.3.4', '0x7f.0.0.1', '1.2.3.4.5', '1.2.3.4 5.6.7.8', '[2001:db8::1',
    '127.1', '1.2.3.4/08']) {
    it(`rejects ${JSON.stringify(bad)} naming the value`, () => {
      assert.equal(tryParseAddress(bad), undefined);
      assert.throws(() => parseAddress(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2 && e.message.includes(`"${bad}"`));
    });
  }

  it('is idempotent for any IPv4 or IPv6 address and prefix', () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`);
    fc.assert(fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), v4, v6), (text) => {
      const once = parseAddress(text);
      assert.deepEqual(parseAddress(once.text), once);
      const host = parseAddress(text.split('/')[0]!);
      // An IPv4-mapped host becomes IPv4, but a network of it wider than /96 has no IPv4 form and stays IPv6.
      if (host.family === once.family) assert.ok(contains(once, host), `${once.text} contains ${text}`);
      else assert.ok(once.family === 6 && once.prefix < 96, `${text}: only a wide mapped network changes family`);
    }));
  });
});

describe('IPv4-compatible and IPv4-mapped spellings', () => {
  it('give one address for both spellings of each, and the two never meet', () => {
    const compatible = [parseAddress('::203.0.113.7'), parseAddress('::cb00:7107'), parseAddress('0:0:0:0:0:0:203.0.113.7')];
    const mapped = [parseAddress('::ffff:203.0.113.7'), parseAddress('::ffff:cb00:7107'), parseAddress('203.0.113.7')];
    for (const a of compatible) assert.deepEqual(a, { text: '::cb00:7107', family: 6, prefix: 128, isNetwork: false });
    for (const a of mapped) assert.deepEqual(a, { text: '203.0.113.7', family: 4, prefix: 32, isNetwork: false });
    assert.ok(!overlaps(compatible[0]!, mapped[0]!));
  });

  it('a compatible network holds the compatible address, in both spellings', () => {
    for (const net of ['::203.0.113.0/120', '::cb00:7100/120']) {
      assert.ok(contains(parseAddress(net), parseAddress('::203.0.113.7')), net);
      assert.ok(contains(parseAddress(net), parseAddress('::cb00:7107')), net);
      assert.ok(!contains(parseAddress(net), parseAddress('203.0.113.7')), net);
    }
  });
});

describe('canonical IPv6 recognised without the parser', () => {
  // Groups biased to zero, so runs of zeros of every length and place come up.
  const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
  /** Every way of writing these groups: each run of zeros compressed or not, with and without leading zeros, upper case. */
  function writings(parts: readonly number[]): string[] {
    const plain = parts.map((p) => p.toString(16));
    const out = [plain.join(':'), parts.map((p) => p.toString(16).padStart(4, '0')).join(':'), plain.join(':').toUpperCase()];
    for (let from = 0; from < 8; from++) {
      for (let to = from + 1; to <= 8 && parts[to - 1] === 0; to++) out.push(`${plain.slice(0, from).join(':')}::${plain.slice(to).join(':')}`);
    }
    return out;
  }

  it('takes exactly what the parser would print, and gives the same address', () => {
    fc.assert(fc.property(groups, (parts) => {
      for (const text of writings(parts)) {
        // The bracketed form always goes through the parser.
        const parsed = tryParseAddress(`[${text}]`);
        assert.deepEqual(tryParseAddress(text), parsed, text);
      }
    }), { numRuns: 2000 });
  });

  for (const [text, canonical] of [['::', '::'], ['::1', '::1'], ['1::', '1::'], ['1:0:0:2::3', '1:0:0:2::3'], ['1::2:0:0:3', '1::2:0:0:3'],
    ['::ffff:1:2', '0.1.0.2'], ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], ['1::2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], ['0:0:1:0:0:0:0:0', '0:0:1::'], ['::1:0:0:0:0:0', '0:0:1::']] as const) {
    it(`${text} → ${canonical}`, () => assert.equal(tryParseAddress(text)?.text, canonical));
  }
  for (const bad of ['1:2', ':1', '1:', '1:::2', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '::g']) {
    it(`rejects ${bad}`, () => assert.equal(tryParseAddress(bad), undefined));
  }
});

describe('address containment', () => {
  it('a network contains its addresses and smaller networks, not other families', () => {
    assert.ok(contains(parseAddress('198.51.100.0/24'), parseAddress('198.51.100.9')));
    assert.ok(contains(parseAddress('198.51.100.0/24'), parseAddress('198.51.100.128/25')));
    assert.ok(!contains(parseAddress('198.51.100.128/25'), parseAddress('198.51.100.0/24')));
    assert.ok(!contains(parseAddress('198.51.100.0/24'), parseAddress('198.51.101.1')));
    assert.ok(contains(parseAddress('2001:db8::/32'), parseAddress('2001:db8:1::9')));
    assert.ok(!contains(parseAddress('0.0.0.0/0'), parseAddress('2001:db8::1')));
  });
});
