/**
 * The README's setup (Fleet): its SQL run as written, `fleet init` by the superuser, then hosts
 * connecting as their own roles, kept to their own names by row-level security.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FleetEvents, migrateFleet } from '../../src/fleet/index.js';
import type { StoredChange } from '../../src/store/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

const SCHEMA = 'f2b_store';
const T0 = 1_800_000_000;
const change = (id: number, address: string): StoredChange => ({
  id, kind: 'ban', address, jail: 'sshd', expiresAt: T0 + 3600, previousExpiresAt: null, forced: false, source: 'filter', at: T0, writer: 'daemon', origin: null,
});

/** The first ```sql block of the README's Fleet section: what an operator runs. */
function readmeSetup(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const fleet = readme.slice(readme.indexOf('\n## Fleet\n'));
  const block = /```sql\n([\s\S]*?)```/.exec(fleet)?.[1];
  if (block === undefined) throw new Error('no ```sql block in the README\'s Fleet section');
  return block;
}

describe('hosts as their own PostgreSQL roles (README, Fleet): row-level security', () => {
  let cluster: PostgresCluster;
  let tmp: ReturnType<typeof tempDir>;
  const clients: pg.Client[] = [];
  const connect = async (role: string): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: cluster.url(role, 'fleet') });
    await client.connect();
    clients.push(client);
    return client;
  };
  const configDir = (name: string, fleet: string): string => {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'f2b-store.conf'), `[daemon]\nlogfile =\n[fleet]\n${fleet}`);
    return dir;
  };

  before(() => {
    cluster = createPostgres();
    tmp = tempDir();
    cluster.psql('CREATE DATABASE fleet');
    cluster.psql(readmeSetup(), 'fleet');
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.end()));
    cluster.remove();
    tmp.cleanup();
  });

  it('the superuser\'s fleet init makes the tables as their owner; a host\'s role finds them up to date and can change nothing of them', async () => {
    const dba = configDir('dba', `url = ${cluster.url('postgres', 'fleet')}\nnode = dba\nschema = ${SCHEMA}\n`);
    const init = runCli(['--db', join(tmp.dir, 'dba.sqlite3'), '--config', dba, '--json', 'fleet', 'init']);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(JSON.parse(init.stdout), { from: 0, to: 2, applied: ['001_events.sql', '002_row_security.sql'] });
    assert.equal(cluster.psql(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = '${SCHEMA}'`, 'fleet').trim(), 'f2b_fleet');
    const mail1 = await connect('mail1');
    assert.deepEqual(await migrateFleet(mail1, SCHEMA), { from: 2, to: 2, applied: [] });
    assert.equal((await mail1.query(`UPDATE ${SCHEMA}.fleet_schema SET version = 1`)).rowCount, 0);
    await assert.rejects(mail1.query(`ALTER TABLE ${SCHEMA}.events DISABLE ROW LEVEL SECURITY`), /must be owner of table events/);
  });

  it('a host\'s role that finds the tables behind this f2b-store is told to have fleet init run, in one line', async () => {
    cluster.psql(`UPDATE ${SCHEMA}.fleet_schema SET version = 1`, 'fleet');
    try {
      await assert.rejects(migrateFleet(await connect('mail1'), SCHEMA),
        /^OperationError: the fleet's schema f2b_store has version 1, this f2b-store needs 2, and this role may not change it \(the schema is f2b_fleet's\): run `f2b-store fleet init` as f2b_fleet or a superuser/);
    } finally {
      cluster.psql(`UPDATE ${SCHEMA}.fleet_schema SET version = 2`, 'fleet');
    }
  });

  it('mail1 may add events and its hosts row only as mail1; it reads every host\'s', async () => {
    const [mail1, mail2] = [new FleetEvents(await connect('mail1'), SCHEMA), new FleetEvents(await connect('mail2'), SCHEMA)];
    await mail1.join('mail1');
    await mail2.join('mail2');
    assert.equal(await mail1.push('mail1', [change(1, '203.0.113.1')], 1), 1);
    await assert.rejects(mail1.push('mail2', [change(7, '203.0.113.2')], 7), /new row violates row-level security policy for table "events"/);
    await assert.rejects(mail1.join('mail3'), /new row violates row-level security policy for table "hosts"/);
    await mail1.pulled('mail2', 99);
    assert.equal(await mail2.push('mail2', [change(1, '203.0.113.3')], 1), 1);
    assert.deepEqual((await mail1.after('mail1', 0, 10)).map((event) => [event.origin, event.address]), [['mail2', '203.0.113.3']]);
    assert.deepEqual((await mail1.hostList()).map((host) => [host.node, host.events, host.pulledId]), [['mail1', 1, 0], ['mail2', 1, 0]]);
  });

  it('a host\'s role may forget another host (fleet forget), and a forgotten host joins again as new', async () => {
    const [mail1, mail2] = [new FleetEvents(await connect('mail1'), SCHEMA), new FleetEvents(await connect('mail2'), SCHEMA)];
    assert.equal(await mail1.forget('mail2'), true);
    assert.deepEqual((await mail1.hostList()).map((host) => host.node), ['mail1']);
    assert.equal(await mail1.forget('mail1'), false, 'a host does not delete its own row');
    assert.equal(await mail2.join('mail2'), true);
  });

  describe('two daemons, each connecting as its own role', () => {
    const hosts: SshdDaemon[] = [];
    before(async () => {
      for (const node of ['mail1', 'mail2']) {
        const host = sshdDaemon();
        hosts.push(host);
        appendFileSync(join(host.config, 'f2b-store.conf'), `[fleet]\nurl = ${cluster.url(node, 'fleet')}\nnode = ${node}\nschema = ${SCHEMA}\n`);
      }
      await Promise.all(hosts.map((host) => host.start()));
      await Promise.all(hosts.map((host) =>
        waitFor('the daemon connected to the fleet', () => /fleet: connected to .* as node/.test(host.daemon?.log() ?? ''), 20_000)));
    });
    after(async () => {
      await Promise.all(hosts.map((host) => host.cleanup()));
    });

    it('a ban on either is in the other\'s firewall, from its origin; neither made or changed the tables', async () => {
      const [mail1, mail2] = hosts as [SshdDaemon, SshdDaemon];
      assert.equal(mail1.cli('ban', '203.0.113.41').code, 0);
      assert.equal(mail2.cli('ban', '203.0.113.42').code, 0);
      await waitFor('mail1\'s ban in mail2\'s firewall', () => mail2.inTable('203.0.113.41'), 10_000);
      await waitFor('mail2\'s ban in mail1\'s firewall', () => mail1.inTable('203.0.113.42'), 10_000);
      assert.deepEqual(mail2.activeBans('203.0.113.41').map((ban) => (ban as { origin?: string }).origin), ['mail1']);
      for (const host of hosts) assert.doesNotMatch(host.daemon?.log() ?? '', /tables made or upgraded|goes on alone|failed/, host.daemon?.log());
    });
  });
});
