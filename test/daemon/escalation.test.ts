import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { loadJails, SHIPPED_FILTER_DIR, type AnyEnabledJail } from '../../src/config/index.js';
import { lockoutCheck, parseAddress, type LockoutCheck } from '../../src/core/index.js';
import { BansJails } from '../../src/daemon/bans-jails.js';
import { StoreWriter } from '../../src/daemon/store-writer.js';
import type { BanDecision } from '../../src/engine/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const HOUR = 3600;
const DAY = 86_400;
const SSHD = '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\n';
const ESCALATING = `[DEFAULT]\nescalate = 5/24 in 1h\nescalate6 = 5/48 in 1h\n${SSHD}`;

function jailsOf(dir: string, text: string): AnyEnabledJail[] {
  writeFileSync(join(dir, 'jail.conf'), text);
  return loadJails(dir, BACKEND_CATALOG, { filterDirs: [SHIPPED_FILTER_DIR] }).filter((jail): jail is AnyEnabledJail => jail.enabled);
}

describe('escalate / escalate6: enough banned addresses of one network ban the network', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: BanStore;
  let writer: StoreWriter;
  let now: number;
  let decided: BanDecision[];
  let logged: string[];

  function start(text = ESCALATING, lockout: LockoutCheck = () => undefined): BansJails {
    const jails: BansJails = new BansJails({
      store, writer, now: () => now, log: (line) => logged.push(line), lockout: () => lockout,
      ban: (decisions) => {
        decided.push(...decisions);
        writer.commit({ bans: decisions, counters: [], positions: [] });
        void jails.check();
        return Promise.resolve();
      },
    }, jailsOf(tmp.dir, text));
    return jails;
  }

  /** A ban of `address` in `jail` for `bantime` seconds (null: permanent), `ago` seconds before now. */
  function banned(address: string, { jail = 'sshd', ago = 0, bantime = 600 as number | null } = {}): void {
    store.ban({ address, jail, expiresAt: bantime === null ? null : now - ago + bantime, source: 'filter' }, now - ago);
  }

  beforeEach(() => {
    tmp = tempDir();
    store = BanStore.open(join(tmp.dir, 'bans.sqlite3'));
    writer = new StoreWriter({ store, log: () => undefined, now: () => now });
    now = 1_800_000_000;
    decided = [];
    logged = [];
  });
  afterEach(() => {
    writer.close();
    store.close();
    tmp.cleanup();
  });

  it('4 addresses of a /24 ban nothing; the 5th bans the /24 for the longest of their bantimes', async () => {
    const jails = start();
    banned('198.51.100.1', { ago: 50 * 60, bantime: 600 });
    banned('198.51.100.2', { ago: 40 * 60, bantime: DAY });
    banned('198.51.100.3', { ago: 30 * 60 });
    banned('198.51.100.4', { ago: 20 * 60 });
    banned('198.51.101.5', { ago: 10 * 60 });
    await jails.check();
    assert.equal(decided.length, 0, 'four of 198.51.100.0/24 (the fifth is in another /24)');
    banned('198.51.100.4', { bantime: 2 * HOUR });
    await jails.check();
    assert.equal(decided.length, 0, 'the same address banned again is not a fifth address');
    banned('198.51.100.5');
    await jails.check();
    assert.equal(decided.length, 1);
    assert.deepEqual([decided[0]?.address, decided[0]?.jail, decided[0]?.expiresAt], ['198.51.100.0/24', 'sshd', now + DAY]);
    assert.equal(decided[0]?.reason, 'escalated: 5 addresses of 198.51.100.0/24 banned in 1h');
    assert.deepEqual([...store.active(now, 'sshd')].map((ban) => ban.address).sort(), ['198.51.100.0/24', '198.51.100.2', '198.51.100.4', '198.51.100.5'],
      'the network is recorded in the jail, beside the member bans still in force');
    banned('198.51.100.6');
    await jails.check();
    assert.equal(decided.length, 1, 'banned once while its ban is in force');
  });

  it('is permanent when one of the bans is, and counts bans that already expired within the window', async () => {
    const jails = start();
    banned('198.51.100.1', { ago: 30 * 60, bantime: 60 });
    for (const host of [2, 3, 4]) banned(`198.51.100.${host}`, { ago: 20 * 60 });
    banned('198.51.100.9', { bantime: null });
    await jails.check();
    assert.deepEqual(decided.map((d) => [d.address, d.expiresAt]), [['198.51.100.0/24', null]]);
  });

  it('counts only bans within the window, of this jail, not lifted by hand', async () => {
    const jails = start();
    banned('198.51.100.1', { ago: HOUR + 60 });
    banned('198.51.100.2', { jail: 'postfix' });
    banned('198.51.100.3', { jail: 'manual' });
    banned('198.51.100.4');
    store.lift('198.51.100.4', 'sshd', 'cli', now);
    banned('198.51.100.5');
    banned('198.51.100.6');
    banned('198.51.100.7');
    await jails.check();
    assert.equal(decided.length, 0, 'three count: one is older than 1h, two are other jails\', one was lifted by hand');
    banned('198.51.100.8');
    await jails.check();
    assert.equal(decided.length, 0);
    banned('198.51.100.10');
    await jails.check();
    assert.deepEqual(decided.map((d) => d.address), ['198.51.100.0/24']);
  });

  it('bans an IPv6 /48 from addresses and /64 networks in it', async () => {
    const jails = start();
    banned('2001:db8:1:1::7');
    banned('2001:db8:1:2::7');
    banned('2001:db8:1:3::/64');
    banned('2001:db8:1:4::1');
    banned('2001:db8:2::1');
    banned('198.51.100.1');
    await jails.check();
    assert.equal(decided.length, 0);
    banned('2001:db8:1:ffff::1');
    await jails.check();
    assert.deepEqual(decided.map((d) => d.address), ['2001:db8:1::/48']);
  });

  it('finds every address of networks off the octet or group boundary, and of IPv6 networks with zero groups', async () => {
    const jails = start(`[DEFAULT]\nescalate = 4/20 in 1h\nescalate6 = 4/40 in 1h\n${SSHD}`);
    for (const address of ['198.51.96.1', '198.51.100.2', '198.51.111.3', '198.51.112.4', '2001:db8::7', '2001:db8:0:1::7', '2001:db8:0:ff:1::/80', '2001:db8:100::1']) {
      banned(address);
    }
    await jails.check();
    assert.equal(decided.length, 0, 'three of 198.51.96.0/20 (198.51.112.4 is beyond), three of 2001:db8::/40 (2001:db8:100::1 is beyond)');
    banned('198.51.97.0');
    banned('2001:db8:0:ffff::');
    await jails.check();
    assert.deepEqual(decided.map((d) => [d.address, d.failures]), [['198.51.96.0/20', 4], ['2001:db8::/40', 4]]);
  });

  it('does nothing in a jail without escalate, and lifting the network by hand starts its count afresh', async () => {
    const jails = start(`${SSHD}[postfix]\nenabled = true\nfilter = postfix\nlogpath = /var/log/mail.log\nescalate = 3/24 in 1h\n`);
    for (const host of [1, 2, 3, 4, 5]) banned(`198.51.100.${host}`);
    await jails.check();
    assert.equal(decided.length, 0, 'sshd does not escalate');
    for (const host of [1, 2, 3]) banned(`203.0.113.${host}`, { jail: 'postfix' });
    await jails.check();
    assert.deepEqual(decided.map((d) => [d.address, d.jail]), [['203.0.113.0/24', 'postfix']]);
    now += 60;
    store.lift('203.0.113.0/24', undefined, 'cli', now);
    banned('203.0.113.4', { jail: 'postfix' });
    await jails.check();
    assert.equal(decided.length, 1, 'the bans before the lift no longer count');
    banned('203.0.113.5', { jail: 'postfix' });
    banned('203.0.113.6', { jail: 'postfix' });
    await jails.check();
    assert.equal(decided.length, 2);
  });

  it('never bans a network holding an ignored address or one of this host, and says why once', async () => {
    const own = parseAddress('192.0.2.10');
    const jails = start(`[DEFAULT]\nignoreip = 198.51.100.200\nignoreself = false\n${ESCALATING}`, lockoutCheck([own]));
    for (const host of [1, 2, 3, 4, 5]) {
      banned(`198.51.100.${host}`);
      banned(`192.0.2.${host}`);
    }
    await jails.check();
    banned('198.51.100.6');
    banned('192.0.2.6');
    await jails.check();
    assert.equal(decided.length, 0);
    assert.deepEqual(logged.filter((line) => line.includes('198.51.100.0/24')).length, 1, logged.join('\n'));
    assert.match(logged.find((line) => line.includes('198.51.100.0/24')) ?? '', /not escalating to 198\.51\.100\.0\/24: .*198\.51\.100\.200/);
    assert.deepEqual(logged.filter((line) => line.includes('192.0.2.0/24')).length, 1, logged.join('\n'));
    assert.match(logged.find((line) => line.includes('192.0.2.0/24')) ?? '', /contains 192\.0\.2\.10, an address of this host/);
  });

  it('never bans a network wider than the lockout floor allows', async () => {
    const jails = start(`[DEFAULT]\nescalate = 3/12 in 1h\n${SSHD}`, lockoutCheck([], { minPrefix4: 16, minPrefix6: 32, protect: [] }));
    for (const address of ['198.51.100.1', '198.51.101.1', '198.52.0.1']) banned(address);
    await jails.check();
    assert.equal(decided.length, 0);
    assert.match(logged.join('\n'), /not banning 198\.48\.0\.0\/12: 198\.48\.0\.0\/12 is wider than \/16 .*; its addresses stay banned one by one/);
  });
});

describe('escalate options', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('are inherited from [DEFAULT] and read as COUNT/PREFIX in DURATION', () => {
    const [jail] = jailsOf(tmp.dir, `[DEFAULT]\nescalate = 5/24 in 1h\n${SSHD}escalate6 = 10 / 48 in 1d 12h\n`);
    assert.deepEqual([jail?.escalate, jail?.escalate6], [{ count: 5, prefix: 24, window: HOUR }, { count: 10, prefix: 48, window: 36 * HOUR }]);
  });

  for (const [line, problem] of [
    ['escalate = 5 in 1h', /escalate: expected COUNT\/PREFIX in DURATION, e\.g\. "5\/24 in 1h", not "5 in 1h"/],
    ['escalate = 1/24 in 1h', /the count must be at least 2, not 1/],
    ['escalate = 5/32 in 1h', /the prefix must be 1 to 31 for IPv4, not \/32/],
    ['escalate6 = 5/128 in 1h', /the prefix must be 1 to 127 for IPv6, not \/128/],
    ['escalate = 5/24 in -1', /must be a duration, not permanent/],
  ] as const) {
    it(`refuses "${line}" with a message naming it`, () => {
      assert.throws(() => jailsOf(tmp.dir, `${SSHD}${line}\n`), problem);
    });
  }
});
