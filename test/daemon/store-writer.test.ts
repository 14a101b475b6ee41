import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { DAEMON_BUSY_TIMEOUT_MS, StoreWriter } from '../../src/daemon/store-writer.js';
import { BanStore, type DecidedBan } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const NOW = 1_800_000_000;

const ban = (address: string, expiresAt: number | null = NOW + 3600): DecidedBan =>
  ({ address, jail: 'sshd', expiresAt, source: 'filter', failures: 3, matches: [`line of ${address}`], bannedAt: NOW });
const position = (offset: number) => ({ path: '/var/log/auth.log', device: 1, inode: 2, offset, headHash: 'h' });

describe('StoreWriter: the daemon writes each line\'s effects once, or holds them while the database cannot take them', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let store: BanStore;
  let other: Database.Database;
  let logged: string[];
  let writer: StoreWriter;

  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'bans.sqlite3');
    store = BanStore.open(path);
    store.setBusyTimeout(DAEMON_BUSY_TIMEOUT_MS);
    // Another process's connection, as a CLI call or a backup tool would hold one.
    other = new Database(path);
    logged = [];
    writer = new StoreWriter({ store, log: (line) => logged.push(line), now: () => NOW });
  });
  afterEach(() => {
    writer.close();
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    store.close();
    tmp.cleanup();
  });

  it('commits bans, counters and the position at once while the database takes writes', () => {
    const results = writer.commit({ bans: [ban('203.0.113.1')], counters: [{ jail: 'sshd', address: '203.0.113.2', state: '{"t":[1],"m":[]}' }], positions: [position(100)] });
    assert.deepEqual(results?.map((r) => [r.ban.address, r.change]), [['203.0.113.1', 'new']], 'written now');
    assert.equal([...store.active(NOW)].length, 1, 'in the store');
    assert.equal(store.logPosition('/var/log/auth.log')?.offset, 100, 'with its position');
    assert.deepEqual(writer.status(), { writable: true, failingSince: null, error: null, heldBans: 0, heldCounters: 0, heldPositions: 0 });
    assert.deepEqual(logged, [], 'nothing to say');
  });

  it('tells of each write that changed a ban (the fleet pusher wakes on it), written at once or by the retry, not of counters alone', async () => {
    let told = 0;
    const telling = new StoreWriter({ store, log: (line) => logged.push(line), now: () => NOW, written: () => { told += 1; } });
    try {
      telling.commit({ bans: [ban('203.0.113.1')], counters: [], positions: [position(100)] });
      assert.equal(told, 1, 'a ban written at once');
      telling.commit({ bans: [], counters: [{ jail: 'sshd', address: '203.0.113.2', state: '{"t":[1],"m":[]}' }], positions: [position(200)] });
      assert.equal(told, 1, 'counters and a position alone change no ban');
      other.exec('BEGIN IMMEDIATE');
      telling.commit({ bans: [ban('203.0.113.3')], counters: [], positions: [position(300)] });
      assert.equal(told, 1, 'held, not written');
      other.exec('COMMIT');
      const deadline = Date.now() + 10_000;
      while (told < 2 && Date.now() < deadline) await sleep(50);
      assert.equal(told, 2, 'the held ban, written by the retry');
    } finally {
      telling.close();
    }
  });

  it('while another process holds the write lock: waits only a moment, holds everything, writes it once when the lock goes', async () => {
    other.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    const results = writer.commit({ bans: [ban('203.0.113.1')], counters: [{ jail: 'sshd', address: '203.0.113.9', state: '{"t":[1],"m":["a"]}' }], positions: [position(100)] });
    assert.ok(performance.now() - started < 2000, `the commit gave up at once (${Math.round(performance.now() - started)} ms), not after the 15 s busy timeout`);
    assert.equal(results, undefined, 'held, not written');
    assert.deepEqual(writer.held(NOW).map((b) => b.address), ['203.0.113.1'], 'the held ban counts as active');
    assert.deepEqual(writer.heldTouching('203.0.113.1', NOW).map((b) => b.jail), ['sshd']);
    writer.commit({ bans: [ban('203.0.113.3', null)], counters: [{ jail: 'sshd', address: '203.0.113.9', state: '{"t":[1,2],"m":["a","b"]}' }], positions: [position(200)] });
    const status = writer.status();
    assert.equal(status.writable, false, 'not writable');
    assert.match(status.error ?? '', /locked/, 'says why');
    assert.deepEqual([status.heldBans, status.heldCounters, status.heldPositions], [2, 1, 1], 'merged: one counter and one position per key');
    assert.equal(logged.filter((l) => l.includes('cannot write the database')).length, 1, `said once: ${logged.join('\n')}`);
    assert.equal([...store.active(NOW)].length, 0, 'nothing in the store yet');

    other.exec('COMMIT');
    const deadline = Date.now() + 10_000;
    while (!writer.status().writable && Date.now() < deadline) await sleep(50);
    assert.ok(writer.status().writable, 'written by the retry');
    assert.deepEqual([...store.active(NOW)].map((b) => [b.address, b.expiresAt, b.bannedAt]), [['203.0.113.1', NOW + 3600, NOW], ['203.0.113.3', null, NOW]]);
    assert.deepEqual([...store.failureCounters('sshd')], [['203.0.113.9', '{"t":[1,2],"m":["a","b"]}']], 'the newest counter, once');
    assert.equal(store.logPosition('/var/log/auth.log')?.offset, 200, 'the newest position');
    assert.equal(writer.held(NOW).length, 0, 'nothing held');
    assert.ok(logged.some((l) => l.includes('takes writes again')), 'the recovery is said');
  });

  it('an unbanned address\'s held ban is not written later', async () => {
    other.exec('BEGIN IMMEDIATE');
    writer.commit({ bans: [ban('203.0.113.1'), ban('203.0.113.2')], counters: [], positions: [position(50)] });
    writer.drop('203.0.113.1');
    other.exec('COMMIT');
    const deadline = Date.now() + 10_000;
    while (!writer.status().writable && Date.now() < deadline) await sleep(50);
    assert.deepEqual([...store.active(NOW)].map((b) => b.address), ['203.0.113.2']);
  });

  it('stopping while the database is still locked says what the next start reads again, and retries no more', async () => {
    other.exec('BEGIN IMMEDIATE');
    writer.commit({ bans: [ban('203.0.113.1')], counters: [], positions: [position(50)] });
    writer.close();
    assert.ok(logged.some((l) => /stopping with 1 bans, 0 failure counters and 1 log positions not written .* read again at the next start/.test(l)), logged.join('\n'));
    other.exec('COMMIT');
    assert.equal(store.logPosition('/var/log/auth.log'), undefined, 'the position was not written: the lines are read again');
    await sleep(1_000);
    assert.equal(store.logPosition('/var/log/auth.log'), undefined, 'no retry was left waiting (it would keep a stopping daemon alive)');
  });
});
