import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAddress } from '../../src/core/index.js';
import { BanStore } from '../../src/store/index.js';
import { SEED_NETWORKS, seedBans } from '../helpers/ban-seeds.js';
import { tempDir } from '../helpers/cli.js';
import { storePerTest } from '../helpers/store.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
/** 2027-01-15T10:30:00Z. */
const NOW = Date.UTC(2027, 0, 15, 10, 30) / 1000;
const TODAY = Date.UTC(2027, 0, 15) / 1000;

describe('ban stats', () => {
  const store = storePerTest();

  it('counts the bans of the period per jail, hour, day and source, with every source named', () => {
    seedBans(store(), NOW);
    const stats = store().stats({ now: NOW });
    assert.equal(stats.since, TODAY - 29 * DAY, 'by default the 30 UTC days up to today');
    assert.equal(stats.until, NOW);
    assert.equal(stats.bans, 12, 'every ban but the one 40 days ago');
    assert.deepEqual(stats.days, Array.from({ length: 30 }, (_, i) => TODAY - (29 - i) * DAY));
    assert.deepEqual(stats.hours, Array.from({ length: 24 }, (_, i) => NOW - 30 * 60 - (23 - i) * HOUR));
    const jails = Object.fromEntries(stats.jails.map((j) => [j.jail, j]));
    assert.deepEqual(stats.jails.map((j) => [j.jail, j.bans]), [['manual', 2], ['postfix', 1], ['recidive', 1], ['sshd', 8]]);
    const hourly = (entries: [number, number][]): number[] => {
      const out = Array<number>(24).fill(0);
      for (const [hoursAgo, n] of entries) out[23 - hoursAgo] = n;
      return out;
    };
    // At 10:30: 5 min ago is this hour; 90 min ago the one before; 2 h ago (and 2 h 1 min) the one before that.
    assert.deepEqual(jails['sshd']!.hourly, hourly([[0, 1], [1, 1], [2, 2]]));
    assert.deepEqual(jails['manual']!.hourly, hourly([[6, 1]]), 'the /16 of 26 hours ago is older than the 24 hours');
    assert.deepEqual(jails['recidive']!.hourly, hourly([]));
    const daily = (entries: [number, number][]): number[] => {
      const out = Array<number>(30).fill(0);
      for (const [daysAgo, n] of entries) out[29 - daysAgo] = n;
      return out;
    };
    assert.deepEqual(jails['sshd']!.daily, daily([[0, 4], [3, 1], [20, 1], [21, 1], [28, 1]]));
    assert.deepEqual(jails['recidive']!.daily, daily([[3, 1]]), '3 days less an hour before 10:30 is still that day');
    assert.deepEqual(jails['manual']!.daily, daily([[0, 1], [1, 1]]));
    assert.deepEqual(jails['postfix']!.daily, daily([[10, 1]]));
    assert.deepEqual([...stats.sources], [['filter', 7], ['manual', 2], ['import', 1], ['fail2ban', 1], ['fleet', 1]]);
  });

  it('groups addresses by /24 and /48 (a wider network as itself), and names repeat offenders', () => {
    seedBans(store(), NOW);
    const stats = store().stats({ now: NOW });
    assert.deepEqual(stats.networks, SEED_NETWORKS);
    assert.deepEqual(stats.offenders, [
      { address: '203.0.113.7', bans: 4, jails: ['recidive', 'sshd'], lastBannedAt: NOW - 5 * 60 },
      { address: '2001:db8:1:ff::1', bans: 2, jails: ['sshd'], lastBannedAt: NOW - 20 * DAY },
    ]);
  });

  it('keeps to --since and --jail, for every figure', () => {
    seedBans(store(), NOW);
    const recent = store().stats({ now: NOW, since: NOW - 3 * HOUR });
    assert.equal(recent.bans, 4);
    assert.deepEqual(recent.hours, [NOW - 30 * 60 - 3 * HOUR, NOW - 30 * 60 - 2 * HOUR, NOW - 30 * 60 - HOUR, NOW - 30 * 60],
      'the hours from the one holding --since');
    assert.deepEqual(recent.days, [TODAY]);
    assert.deepEqual(recent.jails.map((j) => [j.jail, j.bans, j.hourly, j.daily]), [['sshd', 4, [0, 2, 1, 1], [4]]]);
    assert.deepEqual(recent.offenders, [{ address: '203.0.113.7', bans: 2, jails: ['sshd'], lastBannedAt: NOW - 5 * 60 }]);

    const everything = store().stats({ now: NOW, since: NOW - 60 * DAY, jail: 'sshd' });
    assert.equal(everything.bans, 9, 'the ban of 40 days ago too');
    assert.equal(everything.days.length, 30, 'per day stays the last 30 days');
    assert.deepEqual(everything.jails.map((j) => j.jail), ['sshd']);
    assert.deepEqual(everything.networks.map((n) => [n.network, n.bans]), [['203.0.113.0/24', 5], ['2001:db8:1::/48', 3], ['2001:db8::/48', 1]]);
    assert.deepEqual(everything.offenders.map((o) => [o.address, o.bans, o.jails]), [['203.0.113.7', 4, ['sshd']], ['2001:db8:1:ff::1', 2, ['sshd']]]);
    assert.deepEqual([...everything.sources].filter(([, n]) => n > 0), [['filter', 7], ['manual', 1], ['fail2ban', 1]]);
  });

  it('counts nothing in an empty store, and lists the jails that ever held a ban', () => {
    const empty = store().stats({ now: NOW });
    assert.deepEqual([empty.bans, empty.jails, empty.networks, empty.offenders], [0, [], [], []]);
    assert.deepEqual([...empty.sources.values()], [0, 0, 0, 0, 0]);
    seedBans(store(), NOW);
    assert.deepEqual(store().jailsWithBans(), ['manual', 'postfix', 'recidive', 'sshd']);
  });
});

/** The network stats names for an address, by ipaddr.js (through core): its /24 or /48, or itself when wider. */
function expectedNetwork(text: string): string {
  const address = parseAddress(text);
  const size = address.family === 4 ? 24 : 48;
  if (address.prefix < size) return address.text;
  return parseAddress(`${address.text.split('/')[0]}/${size}`).text;
}

describe('ban stats: networks in SQL agree with ipaddr.js', () => {
  // Groups that are often zero, so that `::` falls everywhere: first, inside, last, and in the first three groups.
  const group = fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 0xffff }));
  const ipv6 = fc.tuple(fc.array(group, { minLength: 8, maxLength: 8 }), fc.oneof(fc.constant(128), fc.integer({ min: 16, max: 128 })))
    .map(([groups, prefix]) => parseAddress(`${groups.map((g) => g.toString(16)).join(':')}/${prefix}`).text);
  const octet = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 }));
  const ipv4 = fc.tuple(fc.array(octet, { minLength: 4, maxLength: 4 }), fc.oneof(fc.constant(32), fc.integer({ min: 8, max: 32 })))
    .map(([octets, prefix]) => parseAddress(`${octets.join('.')}/${prefix}`).text);

  it('every address and network lands in the network ipaddr.js puts it in', () => {
    const tmp = tempDir();
    const store = BanStore.open(`${tmp.dir}/bans.sqlite3`);
    let run = 0;
    try {
      // One jail per run: each run counts only its own bans.
      fc.assert(fc.property(fc.array(fc.oneof(ipv6, ipv4), { minLength: 1, maxLength: 8 }), (addresses) => {
        const jail = `run${run++}`;
        // Bans of the past, each its own row, in one transaction.
        store.importBans(addresses.map((address, i) => ({ address, jail, bannedAt: NOW - 1000 + i * 10, expiresAt: NOW - 999 + i * 10, banCount: 1, source: 'import' })), NOW);
        const expected = new Map<string, number>();
        for (const address of addresses) expected.set(expectedNetwork(address), (expected.get(expectedNetwork(address)) ?? 0) + 1);
        const got = store.stats({ now: NOW, jail }).networks.map((n) => [n.network, n.bans]).sort();
        assert.deepEqual(got, [...expected].sort());
      }), { numRuns: 300 });
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});
