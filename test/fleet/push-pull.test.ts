import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { nowSeconds } from '../../src/core/index.js';
import { FleetEvents, migrateFleet, PUSH_READER, pullEvents, pushBacklog, pushChanges, startFleet, type PushStore } from '../../src/fleet/index.js';
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
  const ALL = { share: 'all', accept: 'all' } as const;
  const ban = (store: BanStore, address: string, jail = 'sshd'): void => {
    store.ban({ address, jail, expiresAt: now() + 3600, source: 'filter' }, now());
  };
  /** `store` as the pusher sees it, its process killed in `method`. */
  const killedIn = (store: BanStore, method: 'savePushBase' | 'markChangeReader'): PushStore => ({
    latestChange: () => store.latestChange(), changesAfter: (query) => store.changesAfter(query), changeReader: (reader) => store.changeReader(reader),
    activeOwn: (at) => store.activeOwn(at), countActiveOwn: (at, jails) => store.countActiveOwn(at, jails), pushBase: (reader) => store.pushBase(reader), savePushBase: (reader, base) => store.savePushBase(reader, base),
    markChangeReader: (reader, after, at) => store.markChangeReader(reader, after, at),
    [method]: () => { throw new Error(`killed in ${method}`); },
  });
  const active = (store: BanStore): string[] => [...store.active(now())].map((b) => `${b.jail} ${b.address} ${b.source} ${b.origin ?? '-'}`);

  it('a ban goes from A to B as a fleet ban; B\'s unban lifts it on A; nothing goes back to where it came from', async () => {
    const [a, b] = [open('a1'), open('b1')];
    const fleet = await events('push_pull');
    // A joined before anything was banned (its pusher starts at the change log's end, its puller where the fleet stands); B joins later.
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 0);
    assert.equal((await pullEvents(a, fleet, 'f', 'a', ALL, now)).snapshot, true);
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 0);
    ban(a, '203.0.113.1');
    ban(a, '203.0.113.2', 'postfix');
    assert.equal(pushBacklog(a, 'all', now()), 2);
    assert.equal(await pushChanges(a, fleet, 'a', ['sshd'], now), 1, 'only the shared jail');
    assert.equal(pushBacklog(a, ['sshd'], now()), 0);
    const pulled = await pullEvents(b, fleet, 'f', 'b', ALL, now);
    assert.deepEqual([pulled.snapshot, pulled.banned], [true, 1], 'B joined with the fleet\'s active bans');
    assert.deepEqual(active(b), ['sshd 203.0.113.1 fleet a']);
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 0, 'what B took from the fleet is not pushed back');
    b.lift('203.0.113.1', undefined, 'unban', now());
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 1);
    assert.deepEqual((await pullEvents(a, fleet, 'f', 'a', ALL, now)).lifted, 1);
    assert.deepEqual(active(a), ['postfix 203.0.113.2 filter -']);
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 0, 'A\'s lift carries B\'s decision: not pushed again');
    assert.equal((await pullEvents(b, fleet, 'f', 'b', ALL, now)).events, 0);
  });

  it('a lift lifts what was banned before it in the fleet\'s order, never what was banned or extended after it, whatever the clocks say', async () => {
    const [a, b] = [open('a5'), open('b5')];
    const fleet = await events('race');
    const aheadOfB = 7200;
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(a, fleet, 'f', 'a', ALL, now);
    await pushChanges(b, fleet, 'b', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    const banAt = (store: BanStore, address: string, at: number): void => {
      store.ban({ address, jail: 'sshd', expiresAt: at + 4 * 3600, source: 'filter' }, at);
    };
    // A's clock runs two hours ahead of B's; A bans, B sees it and unbans: the lift follows the ban.
    banAt(a, '203.0.113.20', now() + aheadOfB);
    // A's clock two hours behind; A bans, B sees it and unbans, then A's jail bans it again, for longer.
    banAt(a, '203.0.113.21', now() - aheadOfB);
    banAt(a, '203.0.113.22', now() - aheadOfB);
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    b.lift('203.0.113.20', undefined, 'unban', now());
    b.lift('203.0.113.21', undefined, 'unban', now());
    b.lift('203.0.113.22', undefined, 'unban', now());
    assert.equal(await pushChanges(b, fleet, 'b', 'all', now), 3);
    // After the lifts were made, before A took them in: one extension reaches PostgreSQL first, one is not pushed yet.
    banAt(a, '203.0.113.21', now() - aheadOfB + 600);
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 1);
    banAt(a, '203.0.113.22', now() - aheadOfB + 600);
    const pulled = await pullEvents(a, fleet, 'f', 'a', ALL, now);
    assert.deepEqual([pulled.events, pulled.lifted], [3, 1], 'only the ban from before the lift is lifted');
    assert.deepEqual(active(a), ['sshd 203.0.113.21 filter -', 'sshd 203.0.113.22 filter -']);
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 1);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    assert.deepEqual(active(b), ['sshd 203.0.113.21 fleet a', 'sshd 203.0.113.22 fleet a'], 'A\'s bans after the lift reach B again');
  });

  it('a host joining shares the bans active on it (in the shared jails), not its history; a crash before it saved that pushes nothing twice', async () => {
    const [a, b] = [open('a6'), open('b6')];
    const fleet = await events('joining');
    await pushChanges(b, fleet, 'b', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    ban(a, '203.0.113.30');
    ban(a, '203.0.113.31', 'postfix');
    ban(a, '203.0.113.32');
    a.lift('203.0.113.32', undefined, 'unban', now());
    a.ban({ address: '203.0.113.33', jail: 'sshd', expiresAt: null, source: 'manual' }, now());
    assert.equal(pushBacklog(a, ['sshd'], now()), 2, 'not joined yet: the active bans its first push shares');
    await assert.rejects(pushChanges(killedIn(a, 'markChangeReader'), fleet, 'a', ['sshd'], now), /killed/);
    assert.equal(await pushChanges(a, fleet, 'a', ['sshd'], now), 0, 'pushed again after the crash: nothing new');
    assert.equal(cluster.psql('SELECT count(*) FROM joining.events WHERE origin = \'a\'').trim(), '2');
    assert.equal(pushBacklog(a, ['sshd'], now()), 0);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    assert.deepEqual(active(b), ['sshd 203.0.113.30 fleet a', 'sshd 203.0.113.33 fleet a']);
    assert.equal((await pullEvents(a, fleet, 'f', 'a', ALL, now)).banned, 0, 'A took nothing of its own back');
  });

  it('before a host joins, its push backlog counts its own active bans in the shared jails, not those it took from the fleet', async () => {
    const [a, b] = [open('a-backlog'), open('b-backlog')];
    const fleet = await events('backlog');
    await pushChanges(b, fleet, 'b', 'all', now);
    ban(b, '203.0.113.50');
    await pushChanges(b, fleet, 'b', 'all', now);
    await pullEvents(a, fleet, 'f', 'a', ALL, now);
    ban(a, '203.0.113.51');
    ban(a, '203.0.113.52', 'postfix');
    ban(a, '203.0.113.53');
    a.lift('203.0.113.53', undefined, 'unban', now());
    assert.deepEqual(active(a), ['postfix 203.0.113.52 filter -', 'sshd 203.0.113.50 fleet b', 'sshd 203.0.113.51 filter -']);
    assert.deepEqual([pushBacklog(a, 'all', now()), pushBacklog(a, ['sshd'], now()), pushBacklog(a, ['recidive'], now())], [2, 1, 0]);
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 2, 'its first push shares as many');
  });

  it('a host the fleet forgot, whose missed lifts were pruned, loads the active bans again and lifts the fleet bans gone', async () => {
    const [a, b] = [open('a8'), open('b8')];
    const fleet = await events('forgotten');
    for (const [store, node] of [[a, 'a'], [b, 'b']] as const) {
      await fleet.join(node);
      await pushChanges(store, fleet, node, 'all', now);
      await pullEvents(store, fleet, 'f', node, ALL, now);
    }
    ban(b, '203.0.113.40');
    ban(b, '203.0.113.41');
    await pushChanges(b, fleet, 'b', 'all', now);
    await pullEvents(a, fleet, 'f', 'a', ALL, now);
    b.lift('203.0.113.40', undefined, 'unban', now());
    await pushChanges(b, fleet, 'b', 'all', now);
    ban(a, '203.0.113.42');
    assert.equal(await fleet.forget('a'), true);
    await fleet.pulled('b', Number(cluster.psql('SELECT max(id) FROM forgotten.events').trim()));
    assert.equal(await fleet.prune(now()), 2, 'the ban of .40 and its lift');
    assert.equal((await pullEvents(a, fleet, 'f', 'a', ALL, now)).lifted, 0, 'following its cursor, A cannot see the lift');
    const again = await pullEvents(a, fleet, 'f', 'a', ALL, now, true);
    assert.deepEqual([again.snapshot, again.lifted], [true, 1]);
    assert.deepEqual(active(a), ['sshd 203.0.113.41 fleet b', 'sshd 203.0.113.42 filter -'], 'its own ban stays');
    assert.equal(await pushChanges(a, fleet, 'a', 'all', now), 1, 'its own ban is pushed, the lift is not');
  });

  it('a store made again under a node name the fleet knows pushes its bans, and takes the old store\'s active bans in as fleet bans', async () => {
    const [old, b] = [open('a10'), open('b10')];
    const fleet = await events('recreated');
    for (const [store, node] of [[old, 'a'], [b, 'b']] as const) {
      await pushChanges(store, fleet, node, 'all', now);
      await pullEvents(store, fleet, 'f', node, ALL, now);
    }
    ban(old, '203.0.113.40');
    ban(old, '203.0.113.41');
    old.lift('203.0.113.41', undefined, 'unban', now());
    assert.equal(await pushChanges(old, fleet, 'a', 'all', now), 3);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    // The disk is replaced: a new, empty store under the same node name, whose change ids start at 1 again.
    const again = open('a10-again');
    assert.equal(await pushChanges(again, fleet, 'a', 'all', now), 0);
    assert.equal((await pullEvents(again, fleet, 'f', 'a', ALL, now)).banned, 1);
    assert.deepEqual(active(again), ['sshd 203.0.113.40 fleet a'], 'the old store\'s active ban, as a fleet ban');
    ban(again, '203.0.113.42');
    assert.equal(await pushChanges(again, fleet, 'a', 'all', now), 1, 'its first own ban reaches the fleet');
    assert.equal((await pullEvents(b, fleet, 'f', 'b', ALL, now)).banned, 1);
    assert.deepEqual(active(b), ['sshd 203.0.113.40 fleet a', 'sshd 203.0.113.42 fleet a']);
    assert.equal(await pushChanges(again, fleet, 'a', 'all', now), 0, 'the old store\'s ban is not shared again as new');
    b.lift('203.0.113.40', undefined, 'unban', now());
    await pushChanges(b, fleet, 'b', 'all', now);
    assert.equal((await pullEvents(again, fleet, 'f', 'a', ALL, now)).lifted, 1, 'another host lifts it there like any fleet ban');
    assert.deepEqual(active(again), ['sshd 203.0.113.42 filter -']);
  });

  it('a store made again that crashes while joining, before or after saving its base, pushes nothing twice and loses nothing', async () => {
    const [old, b] = [open('a11'), open('b11')];
    const fleet = await events('recreated_crash');
    await pushChanges(b, fleet, 'b', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    await pushChanges(old, fleet, 'a', 'all', now);
    ban(old, '203.0.113.50');
    ban(old, '203.0.113.51');
    await pushChanges(old, fleet, 'a', 'all', now);
    const again = open('a11-again');
    ban(again, '203.0.113.52');
    await assert.rejects(pushChanges(killedIn(again, 'savePushBase'), fleet, 'a', 'all', now), /killed/);
    assert.equal(again.pushBase(PUSH_READER), undefined);
    await assert.rejects(pushChanges(killedIn(again, 'markChangeReader'), fleet, 'a', 'all', now), /killed/);
    assert.equal(again.pushBase(PUSH_READER), 2);
    assert.equal(await pushChanges(again, fleet, 'a', 'all', now), 0, 'the share repeated under the same seqs: nothing new');
    assert.equal(cluster.psql('SELECT string_agg(seq::text, \',\' ORDER BY id) FROM recreated_crash.events WHERE origin = \'a\'').trim(), '1,2,-3');
    ban(again, '203.0.113.53');
    assert.equal(await pushChanges(again, fleet, 'a', 'all', now), 1);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    assert.deepEqual(active(b).map((line) => line.split(' ')[1]), ['203.0.113.50', '203.0.113.51', '203.0.113.52', '203.0.113.53']);
  });

  it('a host accepts only the jails it is told to', async () => {
    const [a, b] = [open('a2'), open('b2')];
    const fleet = await events('accept');
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    ban(a, '203.0.113.3', 'sshd');
    ban(a, '203.0.113.4', 'postfix');
    await pushChanges(a, fleet, 'a', 'all', now);
    const pulled = await pullEvents(b, fleet, 'f', 'b', { share: 'all', accept: ['postfix'] }, now);
    assert.deepEqual([pulled.events, pulled.banned], [2, 1]);
    assert.deepEqual(active(b), ['postfix 203.0.113.4 fleet a']);
  });

  it('an event that f2b-store would not write (an address not canonical, a jail no firewall may name) is passed over', async () => {
    const [a, b] = [open('a4'), open('b4')];
    const fleet = await events('hand_written');
    await pushChanges(a, fleet, 'a', 'all', now);
    await pullEvents(b, fleet, 'f', 'b', ALL, now);
    const at = now();
    cluster.psql(`INSERT INTO hand_written.events (origin, seq, kind, address, jail, expires_at, source, at) VALUES
      ('x', 1, 'ban', '203.0.113.010', 'sshd', ${at + 60}, 'filter', ${at}), ('x', 2, 'ban', '203.0.113.11', 'ss hd;', ${at + 60}, 'filter', ${at}),
      ('x', 3, 'ban', '2001:DB8::1', 'sshd', ${at + 60}, 'filter', ${at}), ('x', 4, 'ban', '203.0.113.12', 'sshd', ${at + 60}, 'filter', ${at})`);
    const pulled = await pullEvents(b, fleet, 'f', 'b', ALL, now);
    assert.deepEqual([pulled.events, pulled.banned], [4, 1]);
    assert.deepEqual(active(b), ['sshd 203.0.113.12 fleet x']);
  });

  it('the fleet runner: PostgreSQL down, the host bans alone; back up, its bans reach the others', async () => {
    const [a, aInbox, b, bInbox] = [open('a3'), open('a3'), open('b3'), open('b3')];
    aInbox.setChangeWriter('fleet');
    bInbox.setChangeWriter('fleet');
    const config = (node: string) => ({ url: cluster.url(), node, share: 'all' as const, accept: 'all' as const, schema: 'runner', poll: 15, forgetAfter: null });
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
      // Each ban wakes A's pusher, as the daemon's writes do (rather than its 5 s look).
      ban(a, '203.0.113.5');
      runA.pushNow();
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
    const config = (node: string) => ({ url: cluster.url(), node, share: 'all' as const, accept: 'all' as const, schema: 'busy', poll: 15, forgetAfter: null });
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
      // Each ban wakes A's pusher, as the daemon's writes do (rather than its 5 s look).
      ban(a, '203.0.113.7');
      runA.pushNow();
      await until('A\'s first ban on B (B has just pulled)', () => active(b).includes('sshd 203.0.113.7 fleet a'), 15_000);
      // B's pusher has passed that change (nothing to push: it came from A), so with the lock held only
      // the pull writes. Woken now rather than at its 5 s look.
      runB.pushNow();
      await until('B\'s pusher past it', () => b.changeReader(PUSH_READER) === b.latestChange(), 5000);
      writer.exec('BEGIN IMMEDIATE');
      ban(a, '203.0.113.8');
      runA.pushNow();
      // Held for 2 s from when A's ban is in PostgreSQL: B is notified and meets the lock meanwhile.
      await until('A\'s second ban pushed', () => cluster.psql('SELECT count(*) FROM busy.events WHERE address = \'203.0.113.8\'').trim() === '1', 5000);
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
