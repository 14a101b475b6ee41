import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { nowSeconds } from '../../src/core/index.js';
import { FleetEvents, migrateFleet, pullEvents, PUSH_READER, pushBacklog, pushChanges, startFleet } from '../../src/fleet/index.js';
import { BanStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';

describe('pushing and pulling between two stores', () => {
  let cluster: PostgresCluster;
  let tmp: ReturnType<typeof tempDir>;
  const clients: pg.Client[] = [];
  const stores: BanStore[] = [];
  const open = (name: string): BanStore => {
    const store = BanStore.open(join(tmp.dir, `${name}.sqlite3`));
    stores.push(store);
    return store;
  };
  const events = async (schema: string): Promise<FleetEvents> => {
    const client = new pg.Client({ connectionString: cluster.url() });
    // The runner's test stops the server under every connection.
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    await migrateFleet(client, schema);
    return new FleetEvents(client, schema);
  };
  before(() => {
    cluster = createPostgres();
    tmp = tempDir();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end()));
    for (const store of stores) store.close();
    tmp.cleanup();
    cluster.remove();
  });
  const now = nowSeconds;
  const ban = (store: BanStore, address: string, jail = 'sshd'): void => {
    store.ban({ address, jail, expiresAt: now() + 3600, source: 'filter' }, now());
  };
  const active = (store: BanStore): string[] => [...store.active(now())].map((b) => `${b.jail} ${b.address} ${b.source} ${b.origin ?? '-'}`);

  it('a ban goes from A to B as a fleet ban; B\'s unban lifts it on A; nothing goes back to where it came from', async () => {
    const [a, b] = [open('a1'), open('b1')];
    const fleet = await events('push_pull');
    // A joined before anything was banned (its pusher starts at the change log's end, its puller where the fleet stands); B joins later.
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 0);
    assert.equal((await pullEvents(a, fleet, 'f', 'a', 'all', now)).snapshot, true);
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 0);
    ban(a, '203.0.113.1');
    ban(a, '203.0.113.2', 'postfix');
    assert.equal(pushBacklog(a, 'all'), 2);
    assert.equal(await pushChanges(a, fleet, 'a', ['sshd'], now), 1, 'only the shared jail');
    assert.equal(pushBacklog(a, ['sshd']), 0);
    const pulled = await pullEvents(b, fleet, 'f', 'b', 'all', now);
    assert.deepEqual([pulled.snapshot, pulled.banned], [true, 1], 'B joined with the fleet\'s active bans');
    assert.deepEqual(active(b), ['sshd 203.0.113.1 fleet a']);
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 0, 'what B took from the fleet is not pushed back');
    b.lift('203.0.113.1', undefined, 'unban', now());
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 1);
    assert.deepEqual((await pullEvents(a, fleet, 'f', 'a', 'all', now)).lifted, 1);
    assert.deepEqual(active(a), ['postfix 203.0.113.2 filter -']);
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 0, 'A\'s lift carries B\'s decision: not pushed again');
    assert.equal((await pullEvents(b, fleet, 'f', 'b', 'all', now)).events, 0);
  });

  it('a host accepts only the jails it is told to', async () => {
    const [a, b] = [open('a2'), open('b2')];
    const fleet = await events('accept');
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', 'all', now);
    ban(a, '203.0.113.3', 'sshd');
    ban(a, '203.0.113.4', 'postfix');
    await pushChanges(a, fleet, 'a', 'all', now);
    const pulled = await pullEvents(b, fleet, 'f', 'b', ['postfix'], now);
    assert.deepEqual([pulled.events, pulled.banned], [2, 1]);
    assert.deepEqual(active(b), ['postfix 203.0.113.4 fleet a']);
  });

  it('an event that f2b-store would not write (an address not canonical, a jail no firewall may name) is passed over', async () => {
    const [a, b] = [open('a4'), open('b4')];
    const fleet = await events('hand_written');
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', 'all', now);
    const at = now();
    cluster.psql(`INSERT INTO hand_written.events (origin, seq, kind, address, jail, expires_at, source, at) VALUES
      ('x', 1, 'ban', '203.0.113.010', 'sshd', ${at + 60}, 'filter', ${at}), ('x', 2, 'ban', '203.0.113.11', 'ss hd;', ${at + 60}, 'filter', ${at}),
      ('x', 3, 'ban', '2001:DB8::1', 'sshd', ${at + 60}, 'filter', ${at}), ('x', 4, 'ban', '203.0.113.12', 'sshd', ${at + 60}, 'filter', ${at})`);
    const pulled = await pullEvents(b, fleet, 'f', 'b', 'all', now);
    assert.deepEqual([pulled.events, pulled.banned], [4, 1]);
    assert.deepEqual(active(b), ['sshd 203.0.113.12 fleet x']);
  });

  it('the fleet runner: PostgreSQL down, the host bans alone; back up, its bans reach the others', async () => {
    const [a, aInbox, b, bInbox] = [open('a3'), open('a3'), open('b3'), open('b3')];
    aInbox.setChangeWriter('fleet');
    bInbox.setChangeWriter('fleet');
    const config = (node: string) => ({ url: cluster.url(), node, share: 'all' as const, accept: 'all' as const, schema: 'runner' });
    const logs: string[] = [];
    const log = (line: string): void => { logs.push(line); };
    const runA = startFleet({ config: config('a'), outbox: a, inbox: aInbox, changed: () => undefined, log });
    const runB = startFleet({ config: config('b'), outbox: b, inbox: bInbox, changed: () => undefined, log });
    try {
      const until = async (what: string, done: () => boolean, ms = 15_000): Promise<void> => {
        const end = Date.now() + ms;
        while (!done()) {
          if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms; log: ${logs.join(' | ')}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await until('both connected', () => logs.filter((line) => line.includes('connected')).length === 2);
      ban(a, '203.0.113.5');
      await until('A\'s ban on B', () => active(b).includes('sshd 203.0.113.5 fleet a'));
      cluster.stop();
      ban(a, '203.0.113.6');
      await until('A says it goes on alone', () => logs.some((line) => line.includes('goes on alone')));
      assert.equal(active(a).length, 2);
      cluster.start();
      await until('A\'s ban made while PostgreSQL was down, on B', () => active(b).includes('sshd 203.0.113.6 fleet a'), 45_000);
    } finally {
      await Promise.all([runA.stop(), runB.stop()]);
    }
  });

  it('the fleet runner: a pull that meets another writer\'s lock is taken again at the next round, not at the 15 s poll', async () => {
    const [a, aInbox, b, bInbox] = [open('a5'), open('a5'), open('b5'), open('b5')];
    aInbox.setChangeWriter('fleet');
    bInbox.setChangeWriter('fleet');
    // As the daemon has them (cli/commands/start.ts): a write lock held elsewhere fails a write at once.
    for (const store of [b, bInbox]) store.setBusyTimeout(100);
    const config = (node: string) => ({ url: cluster.url(), node, share: 'all' as const, accept: 'all' as const, schema: 'busy' });
    const logs: string[] = [];
    const log = (line: string): void => { logs.push(line); };
    const runA = startFleet({ config: config('a'), outbox: a, inbox: aInbox, changed: () => undefined, log });
    const runB = startFleet({ config: config('b'), outbox: b, inbox: bInbox, changed: () => undefined, log });
    const writer = new Database(join(tmp.dir, 'b5.sqlite3'));
    try {
      const until = async (what: string, done: () => boolean, ms: number): Promise<number> => {
        const start = Date.now();
        while (!done()) {
          if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms; log: ${logs.join(' | ')}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return Date.now() - start;
      };
      await until('both connected', () => logs.filter((line) => line.includes('connected')).length === 2, 15_000);
      ban(a, '203.0.113.7');
      await until('A\'s first ban on B (B has just pulled)', () => active(b).includes('sshd 203.0.113.7 fleet a'), 15_000);
      // B's pusher has passed that change (nothing to push: it came from A), so with the lock held only the pull writes.
      await until('B\'s pusher past it', () => b.changeReader(PUSH_READER) === b.latestChange(), 5000);
      writer.exec('BEGIN IMMEDIATE');
      ban(a, '203.0.113.8');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal(active(b).includes('sshd 203.0.113.8 fleet a'), false, 'B could not write while the lock was held');
      writer.exec('COMMIT');
      await until('A\'s second ban on B once the lock is gone', () => active(b).includes('sshd 203.0.113.8 fleet a'), 6000);
    } finally {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      writer.close();
      await Promise.all([runA.stop(), runB.stop()]);
    }
  });
});
