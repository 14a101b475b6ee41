import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError, lockoutCheck, parseAddress } from '../../src/core/index.js';
import { JailEngine, type BanDecision, type EngineDeps, type JailEngineOptions } from '../../src/engine/index.js';
import { SSHD_ENGINE, T0 } from '../helpers/engine-jail.js';

function setup(options: Partial<JailEngineOptions>, deps: Partial<EngineDeps> = {}) {
  let now = T0;
  const logged: string[] = [];
  const engine = new JailEngine({ ...SSHD_ENGINE, ...options }, { now: () => now, previousBans: () => 0, log: (m) => logged.push(m), ...deps });
  /** Each address fails once, a second apart; the bans decided. */
  const fail = async (...ips: string[]): Promise<BanDecision[]> => {
    const bans: BanDecision[] = [];
    for (const ip of ips) {
      now++;
      bans.push(...await engine.add({ host: { kind: ip.includes(':') ? 'ip6' : 'ip4', value: ip }, time: now, lines: [`Failed password from ${ip}`] }));
    }
    return bans;
  };
  return { engine, fail, logged };
}

describe('JailEngine: failures counted per prefix (ipv4prefix, ipv6prefix)', () => {
  it('counts the addresses of one IPv6 /64 together and bans the /64', async () => {
    const { fail, engine } = setup({ ipv6prefix: 64 });
    assert.deepEqual(await fail('2001:db8:1:2::a', '2001:db8:1:2:ffff::1'), []);
    const [ban, ...more] = await fail('2001:db8:1:2:0:0:0:7');
    assert.deepEqual(more, []);
    assert.equal(ban?.address, '2001:db8:1:2::/64');
    assert.equal(ban.failures, 3);
    assert.deepEqual(ban.matches, ['Failed password from 2001:db8:1:2::a', 'Failed password from 2001:db8:1:2:ffff::1', 'Failed password from 2001:db8:1:2:0:0:0:7']);
    assert.deepEqual(await fail('2001:db8:1:3::a', '2001:db8:1:4::a', '2001:db8:1:5::a'), [], 'other /64s count apart');
    assert.equal(engine.counts().currentlyFailed, 3);
  });

  it('counts IPv4 per /24 with ipv4prefix = 24, each family by its own length', async () => {
    const { fail } = setup({ ipv4prefix: 24, ipv6prefix: 64 });
    const bans = await fail('203.0.113.1', '2001:db8::1', '203.0.113.200', '198.51.100.1', '2001:db8::2', '203.0.113.9', '2001:db8::3');
    assert.deepEqual(bans.map((b) => b.address), ['203.0.113.0/24', '2001:db8::/64']);
  });

  it('counts each address alone when not set (fail2ban\'s behaviour), in both families', async () => {
    const { fail } = setup({});
    assert.deepEqual(await fail('203.0.113.1', '203.0.113.2', '203.0.113.3', '2001:db8::1', '2001:db8::2', '2001:db8::3'), []);
    assert.deepEqual((await fail('2001:db8::1', '2001:db8::1')).map((b) => b.address), ['2001:db8::1']);
  });

  it('never counts an ignored address inside a prefix, and bans only that address\'s neighbour when the prefix holds it', async () => {
    const { fail, logged } = setup({ ipv6prefix: 64, ignoreip: ['2001:db8:1:2::5'] });
    assert.deepEqual(await fail('2001:db8:1:2::5', '2001:db8:1:2::5', '2001:db8:1:2::5', '2001:db8:1:2::5'), [], 'the ignored address counts nothing');
    const bans = await fail('2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c');
    assert.deepEqual(bans.map((b) => b.address), ['2001:db8:1:2::c'], 'the /64 holds an ignored address: the address alone');
    assert.deepEqual(logged, ['banning 2001:db8:1:2::c alone, not 2001:db8:1:2::/64: ignoreip 2001:db8:1:2::5']);
  });

  it('bans the address alone when an ignored network overlaps the prefix', async () => {
    const { fail } = setup({ ipv4prefix: 16, ignoreip: ['198.51.100.0/24'] });
    const bans = await fail('198.51.7.1', '198.51.8.1', '198.51.9.1');
    assert.deepEqual(bans.map((b) => b.address), ['198.51.9.1']);
  });

  it('bans the address alone when this host\'s own address lies in the prefix', async () => {
    const lockout = lockoutCheck([parseAddress('2001:db8:1:2::1'), parseAddress('192.0.2.10')]);
    const { fail, logged } = setup({ ipv4prefix: 24, ipv6prefix: 64 }, { lockout });
    const bans = await fail('2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c', '192.0.2.50', '192.0.2.51', '192.0.2.52');
    assert.deepEqual(bans.map((b) => b.address), ['2001:db8:1:2::c', '192.0.2.52']);
    assert.deepEqual(logged, [
      'banning 2001:db8:1:2::c alone, not 2001:db8:1:2::/64: 2001:db8:1:2::/64 contains 2001:db8:1:2::1, an address of this host',
      'banning 192.0.2.52 alone, not 192.0.2.0/24: 192.0.2.0/24 contains 192.0.2.10, an address of this host',
    ]);
  });

  it('bans a /64 under the default lockout floor, and the address alone for a prefix wider than the floor', async () => {
    const lockout = lockoutCheck([]);
    assert.deepEqual((await setup({ ipv6prefix: 64 }, { lockout }).fail('2001:db8::1', '2001:db8::2', '2001:db8::3')).map((b) => b.address), ['2001:db8::/64']);
    const wide = setup({ ipv6prefix: 16 }, { lockout });
    assert.deepEqual((await wide.fail('2001:db8::1', '2001:db9::2', '2001:dba::3')).map((b) => b.address), ['2001:dba::3']);
    assert.deepEqual(wide.logged, ['banning 2001:dba::3 alone, not 2001::/16: 2001::/16 is wider than /32']);
  });

  it('decides nothing more while the prefix is banned', async () => {
    const { fail } = setup({ ipv6prefix: 64 }, { banned: (address) => address === '2001:db8::/64' });
    assert.deepEqual(await fail('2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4'), []);
  });

  it('persists the counters under the prefix, and drops per-address rows once the prefix is shortened', async () => {
    const first = setup({ ipv6prefix: 64 });
    await first.fail('2001:db8::1', '2001:db8::2');
    const rows = [...first.engine.snapshot()];
    assert.deepEqual(rows.map(([key]) => key), ['2001:db8::/64']);
    const second = setup({ ipv6prefix: 64 });
    assert.equal(second.engine.restore(rows), 1);
    assert.deepEqual((await second.fail('2001:db8::3')).map((b) => b.address), ['2001:db8::/64'], 'the restored count goes on');

    const perAddress = setup({});
    await perAddress.fail('2001:db8::1', '2001:db8::1');
    const shortened = setup({ ipv6prefix: 64 });
    assert.equal(shortened.engine.restore(perAddress.engine.snapshot()), 0);
    assert.deepEqual([...shortened.engine.takeChanges()], [{ jail: 'sshd', address: '2001:db8::1', state: null }]);
  });

  it('forgets the prefix of an address unbanned by hand', async () => {
    const { fail, engine } = setup({ ipv6prefix: 64 });
    await fail('2001:db8::1', '2001:db8::2');
    engine.forget('2001:db8::2');
    assert.deepEqual(await fail('2001:db8::3', '2001:db8::4'), [], 'counted afresh');
  });

  it('refuses a prefix length outside the family with one line naming the jail', () => {
    assert.throws(() => setup({ ipv6prefix: 129 }), (e: unknown) => e instanceof InputError && e.message === 'jail sshd: ipv6prefix must be a whole number of at least 1 and at most 128, not 129');
    assert.throws(() => setup({ ipv4prefix: 0 }), /ipv4prefix must be a whole number of at least 1 and at most 32, not 0/);
  });
});
