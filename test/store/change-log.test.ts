import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { BanRequest, BanSource } from '../../src/core/index.js';
import { BanStore, type StoredChange } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const T0 = 1_800_000_000;
const HOUR = 3600;

function request(address: string, jail = 'sshd', expiresAt: number | null = T0 + HOUR, extra: Partial<BanRequest> = {}): BanRequest {
  return { address, jail, expiresAt, source: 'filter', ...extra };
}

/** What each change says, without the columns every row has. */
const said = (changes: readonly StoredChange[]): unknown[] =>
  changes.map(({ kind, address, jail, expiresAt, previousExpiresAt, writer }) => ({ kind, address, jail, expiresAt, previousExpiresAt, writer }));

describe('the change log', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: BanStore;
  let path: string;
  const everything = (): StoredChange[] => store.changesAfter({ after: 0, upTo: store.latestChange(), except: '', limit: 1000 });

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'bans.sqlite3');
    store = BanStore.open(path);
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('records a new ban, a longer one, a lift in every jail, and nothing for a ban already held at least as long', () => {
    store.ban(request('203.0.113.7'), T0);
    store.ban(request('203.0.113.7'), T0 + 1);
    store.ban(request('203.0.113.7', 'sshd', T0 + 2 * HOUR), T0 + 2);
    store.ban(request('203.0.113.7', 'manual', null), T0 + 3);
    store.lift('203.0.113.7', undefined, 'unban', T0 + 4);
    const changes = said(everything());
    assert.deepEqual(changes.slice(0, 3), [
      { kind: 'ban', address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + HOUR, previousExpiresAt: null, writer: 'cli' },
      { kind: 'extend', address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + 2 * HOUR, previousExpiresAt: T0 + HOUR, writer: 'cli' },
      { kind: 'ban', address: '203.0.113.7', jail: 'manual', expiresAt: null, previousExpiresAt: null, writer: 'cli' },
    ]);
    // One unban lifts both jails' bans in one statement, in no promised order.
    assert.deepEqual(new Set(changes.slice(3)), new Set([
      { kind: 'lift', address: '203.0.113.7', jail: 'manual', expiresAt: null, previousExpiresAt: null, writer: 'cli' },
      { kind: 'lift', address: '203.0.113.7', jail: 'sshd', expiresAt: T0 + 2 * HOUR, previousExpiresAt: null, writer: 'cli' },
    ]));
    assert.deepEqual(everything().map((c) => c.id), [1, 2, 3, 4, 5], 'ids follow one another');
  });

  it('records --force on a ban already there as an extension keeping its expiry, and names the writer it is told', () => {
    store.setChangeWriter('daemon');
    store.ban(request('203.0.113.7'), T0);
    store.ban(request('203.0.113.7', 'sshd', T0 + HOUR, { forced: true }), T0 + 1);
    const [ban, forced] = everything();
    assert.equal(ban?.forced, false);
    assert.deepEqual({ kind: forced?.kind, forced: forced?.forced, expiresAt: forced?.expiresAt, previous: forced?.previousExpiresAt, writer: forced?.writer },
      { kind: 'extend', forced: true, expiresAt: T0 + HOUR, previous: T0 + HOUR, writer: 'daemon' });
  });

  it('records no change for an expired ban closed as history, only the new ban after it', () => {
    store.ban(request('203.0.113.7', 'sshd', T0 + 10), T0);
    store.ban(request('203.0.113.7'), T0 + 20);
    assert.deepEqual(everything().map((c) => [c.kind, c.at]), [['ban', T0], ['ban', T0 + 20]]);
  });

  it('logs a bulk write in the order of its writes: a ban before the extension of the same address, each with the ban it made', () => {
    store.ban(request('203.0.113.8'), T0);
    store.setChangeWriter('daemon');
    const report = store.banMany([
      request('2001:db8::9', 'import', null, { source: 'import' }),
      request('203.0.113.9', 'import', null, { source: 'import', forced: true }),
      request('203.0.113.10', 'sshd', T0 + 2 * HOUR),
      request('203.0.113.8', 'sshd', T0 + 2 * HOUR),
      request('203.0.113.10', 'sshd', T0 + 3 * HOUR),
      request('198.51.100.0/24', 'import', null, { source: 'import' }),
    ], T0 + 5);
    assert.deepEqual(report, { new: 4, extended: 2, kept: 0 });
    const logged = everything().slice(1);
    const at = (address: string): number => logged.findIndex((c) => c.address === address);
    assert.deepEqual(logged.filter((c) => c.address === '203.0.113.10').map((c) => [c.kind, c.expiresAt, c.previousExpiresAt]),
      [['ban', T0 + 2 * HOUR, null], ['extend', T0 + 3 * HOUR, T0 + 2 * HOUR]]);
    assert.ok(logged.every((c) => c.at === T0 + 5 && c.writer === 'daemon' && c.origin === null));
    assert.deepEqual(logged.map((c) => c.id), [2, 3, 4, 5, 6, 7], 'ids follow one another');
    assert.ok(at('203.0.113.8') >= 0 && at('2001:db8::9') >= 0 && at('198.51.100.0/24') >= 0);
    const nine = logged[at('203.0.113.9')];
    assert.deepEqual([nine?.kind, nine?.jail, nine?.expiresAt, nine?.forced, nine?.source], ['ban', 'import', null, true, 'import']);
    const active = new Map([...store.active(T0 + 5)].map((ban) => [`${ban.jail} ${ban.address}`, ban.expiresAt]));
    const last = new Map(logged.map((c) => [`${c.jail} ${c.address}`, c.expiresAt]));
    assert.deepEqual(last, active, 'the last change of each ban says how it stands');
  });

  it('writes a change in the transaction of its ban: a failed transaction leaves neither', () => {
    const bad = request('203.0.113.8', 'sshd', T0 + HOUR, { source: 'nonsense' as BanSource });
    assert.throws(() => store.banMany([request('203.0.113.7'), bad], T0), /CHECK constraint/);
    assert.deepEqual([...store.all()], []);
    assert.deepEqual(everything(), []);
    assert.equal(store.latestChange(), 0, 'the rolled-back row took no id');
    store.ban(request('203.0.113.7'), T0);
    assert.deepEqual(everything().map((c) => c.id), [1]);
  });

  it('records what an import made active, not the history it brought in, and nothing when repeated', () => {
    const records = [
      { address: '203.0.113.7', jail: 'sshd', bannedAt: T0 - 10, expiresAt: T0 + HOUR, banCount: 1, source: 'fail2ban' as const },
      { address: '203.0.113.8', jail: 'sshd', bannedAt: T0 - 2 * HOUR, expiresAt: T0 - HOUR, banCount: 1, source: 'fail2ban' as const },
    ];
    assert.deepEqual(store.importBans(records, T0), { new: 1, extended: 0, history: 1, kept: 0 });
    store.importBans(records, T0);
    store.importBans([{ ...records[0]!, bannedAt: T0 - 5, expiresAt: T0 + 2 * HOUR }], T0);
    assert.deepEqual(everything().map((c) => [c.kind, c.address, c.expiresAt, c.previousExpiresAt]), [
      ['ban', '203.0.113.7', T0 + HOUR, null],
      ['extend', '203.0.113.7', T0 + 2 * HOUR, T0 + HOUR],
    ]);
  });

  it('is read after a cursor, up to a bound, without one writer, and by another connection', () => {
    store.ban(request('203.0.113.7'), T0);
    store.setChangeWriter('daemon');
    store.ban(request('203.0.113.8'), T0);
    const other = BanStore.open(path);
    try {
      other.ban(request('203.0.113.9'), T0);
      other.ban(request('203.0.113.10'), T0);
      assert.equal(store.latestChange(), 4);
      assert.deepEqual(store.changesAfter({ after: 0, upTo: 3, except: 'daemon', limit: 10 }).map((c) => c.address), ['203.0.113.7', '203.0.113.9']);
      assert.deepEqual(store.changesAfter({ after: 1, upTo: 4, except: 'daemon', limit: 1 }).map((c) => c.address), ['203.0.113.9']);
    } finally {
      other.close();
    }
  });

  it('deletes what every reader has taken in, and what is older than the history kept; ids are never handed out again', () => {
    for (let i = 1; i <= 4; i++) store.ban(request(`203.0.113.${i}`), T0 + i);
    store.advanceChangeReader('daemon', 3, T0);
    assert.equal(store.oldestChange(), 4);
    assert.equal(store.changeReader('daemon'), 3);
    store.advanceChangeReader('fleet', 1, T0);
    store.advanceChangeReader('daemon', 4, T0);
    assert.equal(store.oldestChange(), 4, 'a reader behind holds what it has not read');
    store.purgeHistory(T0 + 5);
    assert.equal(store.oldestChange(), undefined);
    assert.equal(store.latestChange(), 4);
    store.ban(request('203.0.113.9'), T0 + 6);
    assert.deepEqual(everything().map((c) => c.id), [5]);
  });
});
