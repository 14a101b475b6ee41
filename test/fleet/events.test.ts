import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FleetEvents, migrateFleet } from '../../src/fleet/index.js';
import type { StoredChange } from '../../src/store/index.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';

const T0 = 1_800_000_000;
const change = (id: number, address: string, kind: StoredChange['kind'] = 'ban'): StoredChange => ({
  id, kind, address, jail: 'sshd', expiresAt: T0 + 3600, previousExpiresAt: null, forced: false, source: 'filter', at: T0, writer: 'daemon', origin: null,
});

describe('the fleet\'s tables in PostgreSQL', () => {
  let cluster: PostgresCluster;
  const clients: pg.Client[] = [];
  const client = async (): Promise<pg.Client> => {
    const made = new pg.Client({ connectionString: cluster.url() });
    await made.connect();
    clients.push(made);
    return made;
  };
  before(() => { cluster = createPostgres(); });
  after(async () => {
    await Promise.all(clients.map((c) => c.end()));
    cluster.remove();
  });

  it('the migration makes the tables once, also when several daemons run it at once, and refuses a newer version', async () => {
    const reports = await Promise.all([1, 2, 3].map(async () => migrateFleet(await client(), 'fleet_a')));
    assert.deepEqual(reports.map((r) => r.applied.length).sort(), [0, 0, 2]);
    assert.deepEqual(reports.map((r) => r.to), [2, 2, 2]);
    cluster.psql('UPDATE fleet_a.fleet_schema SET version = 99');
    await assert.rejects(migrateFleet(await client(), 'fleet_a'), /version 99, newer than this f2b-store knows \(2\): upgrade f2b-store/);
    cluster.psql('UPDATE fleet_a.fleet_schema SET version = 2');
  });

  it('a push is idempotent per origin and seq, and a puller reads only the other hosts\' events', async () => {
    const db = await client();
    await migrateFleet(db, 'fleet_b');
    const events = new FleetEvents(db, 'fleet_b');
    await events.join('mail1');
    assert.equal(await events.push('mail1', [change(1, '203.0.113.1'), change(2, '203.0.113.2')], 2), 2);
    assert.equal(await events.push('mail1', [change(2, '203.0.113.2'), change(3, '203.0.113.3')], 3), 1, 'seq 2 again inserts nothing');
    await events.push('mail2', [change(1, '203.0.113.9')], 1);
    assert.deepEqual((await events.after('mail2', 0, 10)).map((e) => [e.origin, e.address]),
      [['mail1', '203.0.113.1'], ['mail1', '203.0.113.2'], ['mail1', '203.0.113.3']]);
    assert.deepEqual((await events.after('mail1', 0, 10)).map((e) => e.address), ['203.0.113.9']);
    const [host] = await events.hostList();
    assert.deepEqual([host?.node, host?.pushedSeq, host?.events], ['mail1', 3, 3]);
  });

  it('the snapshot a joining host loads holds what other hosts ban now: not what was lifted since, nor what expired', async () => {
    const db = await client();
    await migrateFleet(db, 'fleet_c');
    const events = new FleetEvents(db, 'fleet_c');
    await events.push('mail1', [change(1, '203.0.113.1'), change(2, '203.0.113.2'), { ...change(3, '203.0.113.3'), expiresAt: T0 - 1 },
      { ...change(4, '203.0.113.4'), expiresAt: null }], 4);
    await events.push('mail2', [change(1, '203.0.113.2', 'lift')], 1);
    const snapshot = await events.snapshot('mail3', T0, 0);
    assert.deepEqual(snapshot.events.map((e) => [e.address, e.origin, e.expiresAt]), [['203.0.113.1', 'mail1', T0 + 3600], ['203.0.113.4', 'mail1', null]]);
    assert.equal(snapshot.upTo, (await events.after('mail3', 0, 10)).at(-1)?.id);
  });

  /**
   * Two pushes at once: `slow` inserts first and commits late (a trigger made for the test sleeps
   * after its row is in); `fast` inserts later and commits at once. A reader asking for `id > last`
   * in between, then again after both, must see both events.
   */
  async function twoWriters(schema: string): Promise<string[]> {
    const [slowDb, fastDb, readerDb] = [await client(), await client(), await client()];
    await migrateFleet(slowDb, schema);
    cluster.psql(`CREATE FUNCTION ${schema}.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.origin = 'slow' THEN PERFORM pg_sleep(2); END IF; RETURN NULL; END $$;
      CREATE TRIGGER slow_commit AFTER INSERT ON ${schema}.events FOR EACH ROW EXECUTE FUNCTION ${schema}.slow_commit();`);
    const [slow, fast, reader] = [new FleetEvents(slowDb, schema), new FleetEvents(fastDb, schema), new FleetEvents(readerDb, schema)];
    const slowPush = slow.push('slow', [change(1, '203.0.113.1')], 1);
    await delay(300);
    const fastPush = fast.push('fast', [change(1, '203.0.113.2')], 1);
    await delay(700);
    const seen = await reader.after('reader', 0, 100);
    const cursor = seen.at(-1)?.id ?? 0;
    await Promise.all([slowPush, fastPush]);
    seen.push(...await reader.after('reader', cursor, 100));
    return seen.map((event) => event.origin).sort();
  }

  it('a reader following ids never skips an event whose transaction commits late (the skipped-id trap)', async () => {
    assert.deepEqual(await twoWriters('fleet_d'), ['fast', 'slow']);
  });

  it('without events_serialise the same readers do skip it: the test above sees the trap', async () => {
    const db = await client();
    await migrateFleet(db, 'fleet_e');
    cluster.psql('DROP TRIGGER events_serialise ON fleet_e.events');
    assert.deepEqual(await twoWriters('fleet_e'), ['fast']);
  });

  it('pruning deletes the events every host pulled of bans that ended, and nothing else', async () => {
    const db = await client();
    await migrateFleet(db, 'fleet_f');
    const events = new FleetEvents(db, 'fleet_f');
    for (const node of ['a', 'b']) await events.join(node);
    await events.push('a', [
      { ...change(1, '203.0.113.1'), expiresAt: T0 - 10 }, { ...change(2, '203.0.113.1', 'lift'), expiresAt: T0 - 10 },
      { ...change(3, '203.0.113.2'), expiresAt: T0 - 10 }, { ...change(4, '203.0.113.2', 'extend'), expiresAt: T0 + 10 },
      { ...change(5, '203.0.113.3'), expiresAt: null }, { ...change(6, '203.0.113.4'), expiresAt: T0 - 10 },
    ], 6);
    const all = await events.after('b', 0, 10);
    await events.pulled('b', all[4]?.id ?? 0);
    assert.equal(await events.prune(T0), 0, 'a has pulled nothing');
    await events.pulled('a', all[5]?.id ?? 0);
    assert.equal(await events.prune(T0), 2);
    assert.deepEqual((await events.after('b', 0, 10)).map((e) => [e.address, e.kind]),
      [['203.0.113.2', 'ban'], ['203.0.113.2', 'extend'], ['203.0.113.3', 'ban'], ['203.0.113.4', 'ban']], 'b has not pulled the last one');
  });

  it('pruning deletes a lifted permanent ban\'s events once every host pulled the lift, keeps what followed it; a departed host holds it back until forgotten', async () => {
    const db = await client();
    await migrateFleet(db, 'fleet_g');
    const events = new FleetEvents(db, 'fleet_g');
    for (const node of ['a', 'b', 'gone']) await events.join(node);
    await events.push('a', [
      { ...change(1, '203.0.113.5'), expiresAt: null }, { ...change(2, '203.0.113.5', 'lift'), expiresAt: null },
      { ...change(3, '203.0.113.5'), expiresAt: null }, { ...change(4, '203.0.113.6'), expiresAt: null },
    ], 4);
    const all = await events.after('b', 0, 10);
    await events.pulled('a', all[3]?.id ?? 0);
    await events.pulled('b', all[1]?.id ?? 0);
    assert.equal(await events.prune(T0), 0, 'the host called gone has pulled nothing');
    assert.equal(await events.forget('gone'), true);
    assert.equal(await events.forget('gone'), false, 'forgotten already');
    assert.equal(await events.prune(T0), 2, 'the permanent ban and its lift, which every host pulled');
    assert.deepEqual((await events.after('b', 0, 10)).map((e) => [e.address, e.kind, e.expiresAt]),
      [['203.0.113.5', 'ban', null], ['203.0.113.6', 'ban', null]], 'the ban after the lift and the one never lifted stay');
    cluster.psql('UPDATE fleet_g.hosts SET last_seen = now() - interval \'2 days\' WHERE node = \'b\'');
    assert.deepEqual(await events.forgetUnseen('a', 86_400), ['b']);
    assert.deepEqual((await events.hostList()).map((h) => h.node), ['a']);
    assert.equal(await events.join('b'), true, 'b comes back to no row: it knows it was forgotten');
    assert.equal(await events.join('b'), false);
  });
});
