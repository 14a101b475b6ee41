/**
 * A fleet of three real daemons, each with its own SQLite store and its own network namespace
 * with nftables, sharing bans through one throw-away PostgreSQL cluster.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

describe('a fleet of three daemons on one PostgreSQL', () => {
  let cluster: PostgresCluster;
  const hosts: Record<'a' | 'b' | 'c', SshdDaemon> = {} as Record<'a' | 'b' | 'c', SshdDaemon>;

  before(async () => {
    cluster = createPostgres();
    for (const node of ['a', 'b', 'c'] as const) {
      const host = sshdDaemon();
      hosts[node] = host;
      appendFileSync(join(host.config, 'f2b-store.conf'), `[fleet]\nurl = ${cluster.url()}\nnode = ${node}\nschema = fleet\n`);
    }
    await Promise.all(Object.values(hosts).map((host) => host.start()));
    await Promise.all(Object.values(hosts).map((host) =>
      waitFor('the daemon connected to the fleet', () => /fleet: connected to .* as node/.test(host.daemon?.log() ?? ''), 20_000)));
  });
  after(async () => {
    await Promise.all(Object.values(hosts).map((host) => host.cleanup()));
    cluster?.remove();
  });

  it('a ban made by A\'s jail is in B\'s and C\'s firewalls, as a fleet ban from A', async () => {
    hosts.a.fail('203.0.113.70', 3);
    await waitFor('A\'s own ban in A\'s firewall', () => hosts.a.inTable('203.0.113.70'), 10_000);
    const took = await Promise.all([hosts.b, hosts.c].map((host) => waitFor('A\'s ban in the firewall', () => host.inTable('203.0.113.70'), 10_000)));
    console.log(`# A's ban in B's and C's firewalls ${took.join(' and ')} ms after it was in A's`);
    const [ban] = hosts.b.activeBans('203.0.113.70');
    assert.deepEqual([ban?.jail, ban?.source, (ban as { origin?: string } | undefined)?.origin], ['sshd', 'fleet', 'a']);
  });

  it('unban on B lifts the ban on A (where A\'s own jail made it) and on C', async () => {
    const result = hosts.b.cli('unban', '203.0.113.70');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(hosts.b.inTable('203.0.113.70'), false);
    await Promise.all([hosts.a, hosts.c].map((host) => waitFor('B\'s unban in the firewall', () => !host.inTable('203.0.113.70'), 10_000)));
    assert.deepEqual(hosts.a.activeBans('203.0.113.70'), []);
  });

  it('fleet status on B: the three hosts, nothing waiting to be pushed or pulled', async () => {
    await waitFor('B\'s puller past every event', () => {
      const status = JSON.parse(hosts.b.cli('--json', 'fleet', 'status').stdout) as { pullLag: { events: number } | null };
      return status.pullLag?.events === 0;
    }, 10_000);
    const status = JSON.parse(hosts.b.cli('--json', 'fleet', 'status').stdout) as {
      reachable: boolean; node: string; pushBacklog: number; hosts: { node: string; events: number }[];
    };
    assert.deepEqual([status.reachable, status.node, status.pushBacklog], [true, 'b', 0]);
    assert.deepEqual(status.hosts.map((host) => [host.node, host.events]), [['a', 1], ['b', 1], ['c', 0]]);
    const text = hosts.b.cli('fleet', 'status');
    assert.match(text.stdout, /PostgreSQL: reachable \(\d+ ms\)\n/);
  });

  it('the daemons took the fleet\'s changes in as changes, never by a full reconcile, and nothing failed', async () => {
    // The daemon's line follows its firewall change.
    await waitFor('C\'s daemon to say it took in the lift', () => /lift 203\.0\.113\.70 in sshd/.test(hosts.c.daemon?.log() ?? ''), 10_000);
    for (const host of Object.values(hosts)) {
      const log = host.daemon?.log() ?? '';
      assert.doesNotMatch(log, /failed|changed outside the change log|goes on alone/, log);
    }
    assert.match(hosts.c.daemon?.log() ?? '', /took in 1 change made by another process \(up to #\d+\): lift 203\.0\.113\.70 in sshd/);
  });
});
