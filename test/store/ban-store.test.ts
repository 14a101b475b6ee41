import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isActive, MAX_TIME, type BanRequest } from '../../src/core/index.js';
import { BanStore, type DecidedBan } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const T0 = 1_800_000_000;
const HOUR = 3600;

function request(address: string, jail = 'sshd', expiresAt: number | null = T0 + HOUR, extra: Partial<BanRequest> = {}): BanRequest {
  return { address, jail, expiresAt, source: 'filter', ...extra };
}

describe('ban store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: BanStore;
  let path: string;

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'state', 'bans.sqlite3');
    store = BanStore.open(path);
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  const indexes = (): string[] => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare<[], string>("SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all();
    } finally {
      db.close();
    }
  };

  it('creates the file 0600 in a 0700 directory, in WAL mode', () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.dir, 'state')).mode & 0o777, 0o700);
    store.ban(request('203.0.113.7'), T0);
    assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600, 'the WAL file exists after a write, private too');
  });

  it('records a ban with everything the contract names', () => {
    const { ban, change } = store.ban(request('203.0.113.7', 'sshd', T0 + HOUR, { reason: 'brute force', failures: 5, matches: ['line 1'] }), T0);
    assert.equal(change, 'new');
    assert.deepEqual(ban, {
      address: '203.0.113.7', jail: 'sshd', bannedAt: T0, expiresAt: T0 + HOUR, source: 'filter',
      reason: 'brute force', failures: 5, banCount: 1, liftedAt: null, liftedBy: null, forced: false,
    });
    assert.deepEqual([...store.active(T0 + 1)], [ban]);
  });

  it('keeps why a ban was made: the last 10 failures\' lines and times, and the captures; an extension brings its own', () => {
    const lines = Array.from({ length: 12 }, (_, i) => `Dec  3 07:00:${String(i).padStart(2, '0')} host sshd[1]: Failed password for root from 203.0.113.7`);
    const times = lines.map((_, i) => T0 - 60 + i);
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR, { failures: 12, matches: lines, failureTimes: times, captures: { user: 'root', fid: 'x' } }), T0);
    const [shown] = store.historyWithWhy('203.0.113.7');
    assert.deepEqual(shown?.matches, lines.slice(2), 'the newest 10 lines');
    assert.deepEqual(shown?.failureTimes, times.slice(2));
    assert.deepEqual(shown?.captures, { user: 'root', fid: 'x' });
    assert.deepEqual(store.banDetails('203.0.113.7', 'sshd')?.captures, { user: 'root', fid: 'x' }, 'what action.d tags read');
    store.ban(request('203.0.113.7', 'sshd', T0 + 2 * HOUR, { failures: 3, matches: ['again'], failureTimes: [T0 + 5], captures: { user: 'admin' } }), T0 + 10);
    assert.deepEqual(store.historyWithWhy('203.0.113.7').map((b) => [b.matches, b.failureTimes, b.captures]), [[['again'], [T0 + 5], { user: 'admin' }]]);
    store.ban(request('203.0.113.8', 'manual'), T0);
    assert.deepEqual(store.historyWithWhy('203.0.113.8').map((b) => [b.matches, b.failureTimes, b.captures]), [[[], [], {}]], 'a manual ban has no failures');
  });

  it('details for action tags: the lines and failures of the address in every jail and in this one (<ipmatches>, <ipjailmatches>)', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR, { failures: 2, matches: ['s1', 's2'] }), T0);
    store.lift('203.0.113.7', 'sshd', 'unban', T0 + 1);
    store.ban(request('203.0.113.7', 'dovecot', T0 + HOUR, { failures: 3, matches: ['d1'] }), T0 + 2);
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR, { failures: 4, matches: ['s3'] }), T0 + 3);
    const details = store.banDetails('203.0.113.7', 'sshd');
    assert.deepEqual([details?.matches, details?.ipMatches, details?.ipFailures, details?.ipJailMatches, details?.ipJailFailures],
      [['s3'], ['s1', 's2', 'd1', 's3'], 9, ['s1', 's2', 's3'], 6]);
  });

  it('reads a why written by hand as far as it makes sense', () => {
    store.ban(request('203.0.113.9'), T0);
    const db = new Database(path);
    db.prepare(`UPDATE bans SET matches = '["ok", 5]', failure_times = 'not json', captures = '{"user": "root", "n": 1}'`).run();
    db.close();
    assert.deepEqual(store.historyWithWhy('203.0.113.9').map((b) => [b.matches, b.failureTimes, b.captures]), [[['ok'], [], { user: 'root' }]]);
  });

  it('keeps a forced ban forced: extended without --force it stays so, and forcing a ban already there marks it', () => {
    assert.equal(store.ban(request('10.0.0.0/7', 'manual', T0 + HOUR, { forced: true }), T0).ban.forced, true);
    assert.equal(store.ban(request('10.0.0.0/7', 'manual', T0 + 2 * HOUR), T0).ban.forced, true, 'an extension keeps the mark');
    assert.equal(store.ban(request('2000::/3', 'import', null), T0).ban.forced, false);
    const forcing = store.ban(request('2000::/3', 'import', null, { forced: true }), T0);
    assert.deepEqual([forcing.change, forcing.ban.forced], ['extended', true], 'the same expiry, but now forced');
    assert.deepEqual([...store.active(T0 + 1)].map((b) => [b.address, b.forced]), [['2000::/3', true], ['10.0.0.0/7', true]]);
    const db = new Database(path);
    db.prepare("UPDATE bans SET forced = 'yes' WHERE address = '2000::/3'").run();
    db.close();
    assert.equal(store.history('2000::/3')[0]!.forced, false, 'only what --force writes counts');
  });

  it('banning again extends: the later expiry wins and ban_count goes up, one active row', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR), T0);
    const longer = store.ban(request('203.0.113.7', 'sshd', T0 + 5 * HOUR), T0 + 10);
    assert.equal(longer.change, 'extended');
    assert.equal(longer.ban.expiresAt, T0 + 5 * HOUR);
    assert.equal(longer.ban.banCount, 2);
    assert.equal(longer.ban.bannedAt, T0, 'keeps the first ban time');
    const shorter = store.ban(request('203.0.113.7', 'sshd', T0 + 2 * HOUR), T0 + 20);
    assert.equal(shorter.change, 'kept');
    assert.equal(shorter.ban.expiresAt, T0 + 5 * HOUR);
    assert.equal([...store.active(T0 + 30)].length, 1);
    assert.equal(store.history('203.0.113.7').length, 1);
  });

  it('permanent always wins, both ways', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR), T0);
    assert.equal(store.ban(request('203.0.113.7', 'sshd', null), T0).ban.expiresAt, null);
    const after = store.ban(request('203.0.113.7', 'sshd', T0 + 1000 * HOUR), T0);
    assert.equal(after.change, 'kept');
    assert.equal(after.ban.expiresAt, null);
    assert.equal([...store.active(T0 + 10_000 * HOUR)].length, 1, 'a permanent ban never expires');
  });

  it('an expired ban is not active, needs no job, and a new ban after it starts a new row', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR), T0);
    assert.equal([...store.active(T0 + HOUR - 1)].length, 1);
    assert.equal([...store.active(T0 + HOUR)].length, 0, 'expired exactly at expires_at');
    const again = store.ban(request('203.0.113.7', 'sshd', T0 + 3 * HOUR), T0 + 2 * HOUR);
    assert.equal(again.change, 'new');
    assert.equal(again.ban.banCount, 2, 'repeat offender count carries over');
    const history = store.history('203.0.113.7');
    assert.equal(history.length, 2);
    assert.equal(history[0]!.liftedAt, T0 + HOUR);
    assert.equal(history[0]!.liftedBy, 'expired');
  });

  it('reads what enforcing the active bans takes: none lifted or expired, a forced one marked', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR), T0);
    store.ban(request('203.0.113.8', 'sshd', null, { forced: true }), T0);
    store.ban(request('198.51.100.0/24', 'web', T0 + 2 * HOUR), T0);
    store.ban(request('203.0.113.9', 'sshd', T0 + 10), T0);
    store.lift('198.51.100.0/24', undefined, 'manual', T0 + 1);
    const now = T0 + 20;
    const enforced = [...store.activeEnforced(now)].sort((a, b) => a.address.localeCompare(b.address));
    assert.deepEqual(enforced, [
      { address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, forced: false },
      { address: '203.0.113.8', jail: 'sshd', expiresAt: null, forced: true },
    ]);
    assert.deepEqual([...store.activeEnforced(T0 + HOUR)].map((ban) => ban.address), ['203.0.113.8'], 'expired exactly at expires_at');
  });

  it('gives the connection its page cache back after a full read of the bans, one stopped early too', () => {
    for (let i = 1; i <= 5; i++) store.ban(request(`203.0.113.${i}`), T0);
    // The scans read through a small cache of their own (see BanStore.scanned); what they must not do is leave it so.
    const cacheSize = (): number => (store as unknown as { db: Database.Database }).db.pragma('cache_size', { simple: true }) as number;
    const before = cacheSize();
    assert.equal([...store.activeEnforced(T0)].length, 5);
    assert.equal(cacheSize(), before);
    for (const ban of store.activeAnyOrder(T0)) if (ban.address === '203.0.113.2') break;
    assert.equal(cacheSize(), before, 'after a break');
    assert.equal([...store.activeAnyOrder(T0)].length, 5, 'and the next scan reads everything');
  });

  it('lifting keeps the row as history and makes the address inactive', () => {
    store.ban(request('203.0.113.7'), T0);
    const lifted = store.lift('203.0.113.7', 'sshd', 'unban', T0 + 60);
    assert.equal(lifted.length, 1);
    assert.equal(lifted[0]!.liftedAt, T0 + 60);
    assert.equal(lifted[0]!.liftedBy, 'unban');
    assert.equal([...store.active(T0 + 61)].length, 0);
    assert.equal([...store.all()].length, 1);
    assert.deepEqual(store.lift('203.0.113.7', 'sshd', 'unban', T0 + 70), [], 'lifting twice lifts nothing');
  });

  it('an address banned in two jails stays banned until both lift', () => {
    store.ban(request('203.0.113.7', 'sshd'), T0);
    store.ban(request('203.0.113.7', 'recidive', null), T0);
    store.lift('203.0.113.7', 'sshd', 'unban', T0 + 1);
    const still = [...store.active(T0 + 2)];
    assert.deepEqual(still.map((b) => b.jail), ['recidive']);
    store.lift('203.0.113.7', 'recidive', 'unban', T0 + 3);
    assert.equal([...store.active(T0 + 4)].length, 0);
  });

  it('lifting without a jail lifts every jail, and leaves other addresses alone', () => {
    store.ban(request('203.0.113.7', 'sshd'), T0);
    store.ban(request('203.0.113.7', 'postfix'), T0);
    store.ban(request('203.0.113.8', 'sshd'), T0);
    const lifted = store.lift('203.0.113.7', undefined, 'unban', T0 + 1);
    assert.deepEqual(lifted.map((b) => b.jail).sort(), ['postfix', 'sshd']);
    assert.deepEqual([...store.active(T0 + 2)].map((b) => b.address), ['203.0.113.8']);
  });

  const counted = (...entries: [string, string][]): void => {
    store.commitLogBatch({ bans: [], counters: entries.map(([jail, address], i) => ({ jail, address, state: `{"t":[${i}]}` })), positions: [] }, T0);
  };

  it('an unban by hand lifts every address given, in every jail, and drops their counted failures, not those of others', () => {
    store.ban(request('203.0.113.7', 'sshd'), T0);
    store.ban(request('203.0.113.7', 'postfix'), T0);
    store.ban(request('203.0.113.8', 'sshd'), T0);
    store.ban(request('203.0.113.9', 'sshd'), T0);
    counted(['sshd', '203.0.113.7'], ['postfix', '203.0.113.8'], ['sshd', '203.0.113.9']);
    const lifted = store.unban(['203.0.113.7', '203.0.113.8'], undefined, 'unban', T0 + 1);
    assert.deepEqual(lifted.map((b) => `${b.jail}:${b.address}:${b.liftedBy}`).sort(), ['postfix:203.0.113.7:unban', 'sshd:203.0.113.7:unban', 'sshd:203.0.113.8:unban']);
    assert.deepEqual([...store.active(T0 + 2)].map((b) => b.address), ['203.0.113.9']);
    assert.deepEqual([...store.failureCounters('sshd').keys()], ['203.0.113.9']);
    assert.equal(store.failureCounters('postfix').size, 0, 'the failures of every jail, whichever jail lifts');
  });

  it('unbanning every ban of a jail by hand drops the counted failures of the addresses it lifted only', () => {
    store.ban(request('203.0.113.7', 'sshd'), T0);
    store.ban(request('203.0.113.8', 'postfix'), T0);
    counted(['sshd', '203.0.113.7'], ['sshd', '203.0.113.8'], ['sshd', '203.0.113.9']);
    assert.deepEqual(store.unbanEvery('sshd', 'unban', T0 + 1).map((b) => b.address), ['203.0.113.7']);
    assert.deepEqual([...store.active(T0 + 2)].map((b) => b.address), ['203.0.113.8']);
    assert.deepEqual([...store.failureCounters('sshd').keys()].sort(), ['203.0.113.8', '203.0.113.9']);
  });

  it('lists active bans by jail, and everything with history', () => {
    store.ban(request('203.0.113.9', 'sshd'), T0);
    store.ban(request('203.0.113.7', 'sshd'), T0);
    store.ban(request('198.51.100.0/24', 'manual', null), T0);
    store.ban(request('2001:db8::1', 'sshd', T0 + 10), T0);
    assert.deepEqual([...store.active(T0 + 20, 'sshd')].map((b) => b.address), ['203.0.113.7', '203.0.113.9']);
    assert.deepEqual([...store.active(T0 + 20)].map((b) => `${b.jail}:${b.address}`),
      ['manual:198.51.100.0/24', 'sshd:203.0.113.7', 'sshd:203.0.113.9']);
    assert.equal([...store.all()].length, 4);
    assert.equal([...store.all('manual')].length, 1);
  });

  it('names the jails holding active bans, and when the next one expires', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 10), T0);
    store.ban(request('203.0.113.2', 'recidive', null), T0);
    store.ban(request('203.0.113.3', 'postfix', T0 + 100), T0);
    store.ban(request('203.0.113.4', 'postfix', T0 + 50), T0);
    store.lift('203.0.113.2', 'recidive', 'unban', T0 + 1);
    assert.deepEqual(store.activeJails(T0 + 5), ['postfix', 'sshd']);
    assert.deepEqual(store.activeJails(T0 + 20), ['postfix']);
    assert.deepEqual(store.activeJails(T0 + 100), []);
    assert.equal(store.nextExpiry(T0 + 5), T0 + 10);
    assert.equal(store.nextExpiry(T0 + 20), T0 + 50);
    assert.equal(store.nextExpiry(T0 + 100), null);
  });

  it('reads an expiry stored as text or past year 9999 as the far end: the next expiry is a time a timer can wait for', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 10), T0);
    store.close();
    const raw = new Database(path);
    raw.prepare("UPDATE bans SET expires_at = 'never', ban_count = 'x'").run();
    raw.close();
    store = BanStore.open(path);
    assert.equal(store.nextExpiry(T0), MAX_TIME);
    assert.deepEqual([...store.active(T0)].map((b) => [b.expiresAt, b.banCount]), [[MAX_TIME, 1]]);
    assert.equal(store.previousBans('203.0.113.1', 'sshd'), 0);
  });

  it('finds the banned networks that cover an address', () => {
    store.ban(request('198.51.100.0/24', 'manual', null), T0);
    store.ban(request('198.51.0.0/16', 'manual', T0 + 10), T0);
    store.ban(request('2001:db8::/48', 'manual', null), T0);
    assert.deepEqual(store.coveringNetworks('198.51.100.9', T0).map((b) => b.address), ['198.51.0.0/16', '198.51.100.0/24']);
    assert.deepEqual(store.coveringNetworks('198.51.100.9', T0 + 20).map((b) => b.address), ['198.51.100.0/24']);
    assert.deepEqual(store.coveringNetworks('2001:db8::5', T0).map((b) => b.address), ['2001:db8::/48']);
    assert.deepEqual(store.coveringNetworks('203.0.113.1', T0), []);
    assert.deepEqual(store.coveringNetworks('198.51.100.0/25', T0).map((b) => b.address), ['198.51.0.0/16', '198.51.100.0/24']);
    store.lift('198.51.100.0/24', 'manual', 'unban', T0 + 1);
    assert.deepEqual(store.coveringNetworks('198.51.100.9', T0 + 1).map((b) => b.address), ['198.51.0.0/16'], 'a lifted network covers nothing');
  });

  it('finds the covering networks among thousands of /64s, in every jail, and never a network as covering itself', () => {
    store.banMany(Array.from({ length: 3000 }, (_, i) => request(`2001:db8:${i.toString(16)}::/64`)), T0);
    store.ban(request('2001:db8:7::/64', 'recidive'), T0);
    store.ban(request('2001:db8::/32', 'manual'), T0);
    const touching = store.activeTouchingAll(['2001:db8:7::1', '2001:db8:7::/64', '2001:db9::1'], T0);
    const bans = (address: string): string[] => (touching.get(address) ?? []).map((b) => `${b.jail} ${b.address}`).sort();
    assert.deepEqual(bans('2001:db8:7::1'), ['manual 2001:db8::/32', 'recidive 2001:db8:7::/64', 'sshd 2001:db8:7::/64']);
    assert.deepEqual(bans('2001:db8:7::/64'), ['manual 2001:db8::/32', 'recidive 2001:db8:7::/64', 'sshd 2001:db8:7::/64'], 'its own bans, and the /32 only once');
    assert.deepEqual(bans('2001:db9::1'), []);
  });

  it('stores many bans in one transaction and reports what each did', () => {
    store.ban(request('203.0.113.1', 'import', T0 + 10), T0);
    const report = store.banMany([
      request('203.0.113.1', 'import', T0 + 100),
      request('203.0.113.2', 'import', T0 + 100),
      request('203.0.113.2', 'import', T0 + 50),
    ], T0);
    assert.deepEqual(report, { new: 1, extended: 1, kept: 1 });
    assert.deepEqual(store.banMany([request('203.0.113.2', 'import', T0 + 100)], T0), { new: 0, extended: 0, kept: 1 });
  });

  it('bulk bans of one address and jail keep their order, also when many others come between them', () => {
    // More than one sorted run (65,536) between the two: the later request must still come second.
    const fillers = Array.from({ length: 70_000 }, (_, i) => request(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 'import'));
    const report = store.banMany([
      request('203.0.113.9', 'import', T0 + 100),
      request('203.0.113.9', 'sshd', T0 + 100),
      ...fillers,
      request('203.0.113.9', 'import', T0 + 100, { forced: true }),
      request('203.0.113.9', 'import', T0 + 200),
    ], T0);
    assert.deepEqual(report, { new: 70_002, extended: 2, kept: 0 });
    const changes = store.changesAfter({ after: 0, upTo: store.latestChange(), except: '', limit: 100_000 })
      .filter((c) => c.address === '203.0.113.9' && c.jail === 'import');
    assert.deepEqual(changes.map((c) => [c.kind, c.expiresAt, c.forced]), [['ban', T0 + 100, false], ['extend', T0 + 100, true], ['extend', T0 + 200, true]]);
    assert.deepEqual(store.history('203.0.113.9').map((b) => [b.jail, b.expiresAt, b.banCount]), [['import', T0 + 200, 3], ['sshd', T0 + 100, 1]]);
  });

  it('a bulk write into an empty store makes the bans, change rows and indexes a store with bans gets', () => {
    const before = indexes();
    const requests = [
      request('203.0.113.1', 'import', T0 + 100),
      request('203.0.113.2', 'import', T0 - 1),       // expired already: the next one closes it and bans anew
      request('203.0.113.1', 'sshd', null),
      request('203.0.113.2', 'import', T0 + 100),
      request('203.0.113.1', 'import', T0 + 50),      // shorter: kept
      request('203.0.113.2', 'import', T0 + 200),     // extends the new ban, not the closed one
      request('198.51.100.0/24', 'import', null),
    ];
    const other = BanStore.open(join(tmp.dir, 'other.sqlite3'));
    try {
      other.ban(request('192.0.2.200', 'recidive'), T0);
      const withBans = other.banMany(requests, T0);
      assert.deepEqual(store.banMany(requests, T0), withBans);
      assert.deepEqual(withBans, { new: 5, extended: 1, kept: 1 });
      const bansOf = (s: BanStore): unknown[] => [...s.all()].filter((b) => b.address !== '192.0.2.200')
        .map((b) => [b.address, b.jail, b.expiresAt, b.banCount, b.liftedBy]).sort();
      assert.deepEqual(bansOf(store), bansOf(other));
      const changesOf = (s: BanStore): unknown[] => s.changesAfter({ after: 0, upTo: s.latestChange(), except: '', limit: 100 })
        .filter((c) => c.address !== '192.0.2.200').map((c) => [c.address, c.jail, c.kind, c.expiresAt, c.previousExpiresAt]).sort();
      assert.deepEqual(changesOf(store), changesOf(other));
    } finally {
      other.close();
    }
    assert.deepEqual(indexes(), before, 'every index made again as it was');
    const db = new Database(path);
    try {
      assert.throws(() => db.prepare("INSERT INTO bans (address, jail, banned_at, source) VALUES ('203.0.113.1', 'import', 1, 'import')").run(),
        /UNIQUE/, 'one open ban per address and jail, as before');
    } finally {
      db.close();
    }
  });

  it('a bulk write into an empty store lays its bans out in the order list reads them, whatever the order of the requests', () => {
    // Text order, as SQLite's index keeps it: "1.2.3.40" before "1.2.3.5", "10.0.0.0/8" before "10.0.0.1", "2001:" before "203.".
    const addresses = ['203.0.113.7', '1.2.3.5', '2001:db8::1', '10.0.0.1', '1.2.3.40', '198.51.100.0/24', '9.9.9.9', '100.0.0.1', '10.0.0.0/8',
      '2.0.0.1', '1.2.3.4', '2001:db8::/32', '203.0.113.70', '25.0.0.1', '0.0.0.1'];
    const requests = ['sshd', 'recidive', 'postfix-sasl'].flatMap((jail) => addresses.map((address) => request(address, jail)));
    store.banMany([...requests].reverse(), T0);
    const listed = [...store.active(T0)].map((ban) => `${ban.jail} ${ban.address}`);
    assert.equal(listed.length, requests.length);
    assert.deepEqual([...store.activeAnyOrder(T0)].map((ban) => `${ban.jail} ${ban.address}`), listed, 'storage order is list order');
  });

  it('a failing bulk insert stores nothing', () => {
    const bad = { ...request('203.0.113.3', 'import'), source: 'nonsense' } as unknown as BanRequest;
    const before = indexes();
    assert.throws(() => store.banMany([request('203.0.113.2', 'import'), bad], T0), /CHECK constraint/);
    assert.equal([...store.all()].length, 0);
    assert.deepEqual(indexes(), before, 'the indexes dropped for the write are back');
  });

  it('purges history that ended before the cut-off, never active bans', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 10), T0);          // expired at T0+10
    store.ban(request('203.0.113.2', 'sshd', null), T0);
    store.lift('203.0.113.2', 'sshd', 'unban', T0 + 20);               // lifted at T0+20
    store.ban(request('203.0.113.3', 'sshd', null), T0);               // active, permanent
    store.ban(request('203.0.113.4', 'sshd', T0 + 10 * HOUR), T0);     // active
    assert.equal(store.purgeHistory(T0 + 15), 1);
    assert.deepEqual([...store.all()].map((b) => b.address), ['203.0.113.2', '203.0.113.3', '203.0.113.4']);
    assert.equal(store.purgeHistory(T0 + 5 * HOUR), 1);
    assert.deepEqual([...store.all()].map((b) => b.address), ['203.0.113.3', '203.0.113.4']);
    assert.ok([...store.all()].every((b) => isActive(b, T0 + 5 * HOUR)));
  });

  it('commits a log batch — bans, failure counters, positions — all together, and reads them back after reopening', () => {
    const position = { path: '/var/log/auth.log', device: 2049, inode: 131, offset: 4096, headHash: 'abc' };
    const results = store.commitLogBatch({
      bans: [{ ...request('203.0.113.9', 'sshd', T0 + HOUR, { failures: 5, matches: ['l1', 'l2'] }), bannedAt: T0 - 30 }],
      counters: [{ jail: 'sshd', address: '198.51.100.1', state: '{"t":[1,2]}' }, { jail: 'sshd', address: '198.51.100.2', state: '{"t":[3]}' }],
      positions: [position],
    }, T0);
    assert.deepEqual(results.map((r) => [r.ban.address, r.change, r.ban.failures, r.ban.bannedAt]), [['203.0.113.9', 'new', 5, T0 - 30]], 'banned when decided');
    store.commitLogBatch({ bans: [], counters: [{ jail: 'sshd', address: '198.51.100.2', state: null }], positions: [{ ...position, offset: 8192 }] }, T0 + 1);
    store.close();
    store = BanStore.open(path);
    assert.deepEqual(store.logPosition('/var/log/auth.log'), { ...position, offset: 8192 });
    assert.equal(store.logPosition('/var/log/other.log'), undefined);
    assert.deepEqual([...store.failureCounters('sshd')], [['198.51.100.1', '{"t":[1,2]}']]);
    store.forgetFailures('198.51.100.1');
    assert.equal(store.failureCounters('sshd').size, 0);
  });

  it('commits a journal cursor with its batch, and reads it back after reopening', () => {
    assert.equal(store.journalCursor('system'), undefined, 'none before');
    const cursor = { source: 'system', cursor: 's=abc;i=1;b=def;m=1;t=2;x=3', realtime: 1_800_000_000_123_456 };
    store.commitLogBatch({ bans: [], counters: [{ jail: 'sshd', address: '198.51.100.1', state: '{"t":[1]}' }], positions: [], cursors: [cursor] }, T0);
    store.commitLogBatch({ bans: [], counters: [], positions: [], cursors: [{ ...cursor, cursor: 's=abc;i=2', realtime: cursor.realtime + 1 }] }, T0 + 1);
    store.close();
    store = BanStore.open(path);
    assert.deepEqual(store.journalCursor('system'), { source: 'system', cursor: 's=abc;i=2', realtime: cursor.realtime + 1 }, 'the newest cursor');
    assert.equal(store.journalCursor('/var/log/journal/remote'), undefined, 'per source');
  });

  it('a failing log batch leaves nothing behind: no ban, no counter, no position', () => {
    const bad = { ...request('203.0.113.3'), source: 'nonsense', bannedAt: T0 } as unknown as DecidedBan;
    assert.throws(() => store.commitLogBatch({
      bans: [{ ...request('203.0.113.2'), bannedAt: T0 }, bad],
      counters: [{ jail: 'sshd', address: '198.51.100.1', state: '{}' }],
      positions: [{ path: '/x', device: 1, inode: 1, offset: 1, headHash: '' }],
    }, T0), /CHECK constraint/);
    assert.equal([...store.all()].length, 0);
    assert.equal(store.failureCounters('sshd').size, 0);
    assert.equal(store.logPosition('/x'), undefined);
  });

  it('counts earlier bans of an address per jail and over all jails (bantime.increment)', () => {
    assert.equal(store.previousBans('203.0.113.5', 'sshd'), 0);
    store.ban(request('203.0.113.5', 'sshd', T0 + 10), T0);
    store.ban(request('203.0.113.5', 'sshd', T0 + 100), T0 + 20);
    store.ban(request('203.0.113.5', 'postfix', T0 + 100), T0 + 20);
    assert.equal(store.previousBans('203.0.113.5', 'sshd'), 2);
    assert.equal(store.previousBans('203.0.113.5', 'postfix'), 1);
    assert.equal(store.previousBans('203.0.113.5', undefined), 3);
  });

  it('counts bans per jail, active and in all, and addresses with failure counters', () => {
    store.ban(request('203.0.113.1', 'sshd', T0 + 10), T0);
    store.ban(request('203.0.113.2', 'sshd', null), T0);
    store.ban(request('203.0.113.3', 'postfix', T0 + HOUR), T0);
    store.lift('203.0.113.3', 'postfix', 'unban', T0 + 1);
    store.commitLogBatch({ bans: [], counters: [{ jail: 'sshd', address: '198.51.100.1', state: '{}' }], positions: [] }, T0);
    assert.deepEqual([...store.jailCounts(T0 + 20)], [['postfix', { active: 0, total: 1 }], ['sshd', { active: 1, total: 2 }]]);
    assert.deepEqual([...store.failureCounterCounts()], [['sshd', 1]]);
  });

  it('keeps everything across close and reopen', () => {
    store.ban(request('2001:db8::66', 'sshd', null, { reason: 'kept' }), T0);
    store.close();
    store = BanStore.open(path);
    assert.equal(store.migration.applied.length, 0, 'nothing to migrate the second time');
    assert.deepEqual([...store.active(T0 + 10 ** 9)].map((b) => [b.address, b.reason]), [['2001:db8::66', 'kept']]);
  });
});
