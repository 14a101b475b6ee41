import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BanTimeIncrement } from '../../src/core/index.js';
import { JailEngine, type JailEngineOptions } from '../../src/engine/index.js';
import { storePerTest } from '../helpers/store.js';

const NOW = 1_800_000_000;
const ADDRESS = '203.0.113.7';

const SSHD: JailEngineOptions = {
  jail: 'sshd', maxretry: 1, findtime: 600, bantime: 600, increment: { enabled: true, factor: 1, overalljails: false },
  ignoreip: [], ignoreself: false, maxmatches: 1, usedns: 'no',
};

describe('bantime.increment on the store\'s real history', () => {
  const store = storePerTest();

  /** A ban of ADDRESS in `jail`, over and lifted (each one a ban of its own). */
  function bannedBefore(jail: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      store().ban({ address: ADDRESS, jail, expiresAt: NOW - 100, source: 'filter' }, NOW - 1000);
      store().lift(ADDRESS, jail, 'cli', NOW - 900);
    }
  }

  /** The length of sshd's next ban of ADDRESS, decided from the store's history. */
  async function nextBan(increment: Partial<BanTimeIncrement>, random = 0): Promise<number | null | undefined> {
    const engine = new JailEngine({ ...SSHD, increment: { ...SSHD.increment, ...increment } }, {
      now: () => NOW, random: () => random, previousBans: (address, jail) => store().previousBans(address, jail),
    });
    const [decision] = await engine.add({ host: { kind: 'ip4', value: ADDRESS }, time: NOW, lines: ['a failure'] });
    return decision && decision.expiresAt !== null ? decision.expiresAt - decision.bannedAt : decision?.expiresAt;
  }

  it('counts the jail\'s own bans only, unless bantime.overalljails', async () => {
    bannedBefore('postfix', 2);
    bannedBefore('sshd');
    assert.equal(await nextBan({ overalljails: false }), 1200, 'one earlier ban in sshd: twice the bantime');
    assert.equal(await nextBan({ overalljails: true }), 4800, 'three earlier bans in all jails: 2^3 times');
  });

  it('across jails, each jail\'s count is summed once, as fail2ban sums its per-jail counts (an extension is a ban again)', async () => {
    bannedBefore('sshd');
    store().ban({ address: ADDRESS, jail: 'postfix', expiresAt: NOW + 100, source: 'filter' }, NOW - 10);
    store().ban({ address: ADDRESS, jail: 'postfix', expiresAt: NOW + 200, source: 'filter' }, NOW - 5);
    assert.equal(store().previousBans(ADDRESS, 'postfix'), 2);
    assert.equal(store().previousBans(ADDRESS, undefined), 3);
    assert.equal(await nextBan({ overalljails: true }), 600 * 8);
  });

  it('bantime.multipliers index the earlier count, the last one applying past the end', async () => {
    bannedBefore('postfix', 4);
    assert.equal(await nextBan({ overalljails: true, multipliers: [1, 5, 30] }), 600 * 30);
    assert.equal(await nextBan({ overalljails: false, multipliers: [1, 5, 30] }), 600, 'no earlier ban in sshd: the bantime');
  });

  it('bantime.maxtime caps the growth and bantime.rndtime adds up to its seconds after the cap, as in fail2ban', async () => {
    bannedBefore('sshd', 5);
    assert.equal(await nextBan({ maxtime: 3600 }), 3600);
    assert.equal(await nextBan({ maxtime: 3600, rndtime: 100 }, 0.5), 3650);
    assert.equal(await nextBan({ rndtime: 100 }, 0.99), 600 * 32 + 99);
  });
});
