/**
 * A fleet of three real daemons, each with its own SQLite store and its own network namespace
 * with nftables, sharing bans through one throw-away PostgreSQL cluster.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

/**
 * The least wait between two looks at what takes seconds to come: a listing of thousands of
 * firewall entries or bans, or a psql process, costs tens of ms of CPU the daemons need meanwhile.
 */
const SLOW_LOOK_MS = 500;

describe('a fleet of three daemons on one PostgreSQL', () => {
  let cluster: PostgresCluster;
  const hosts: Record<'a' | 'b' | 'c', SshdDaemon> = {} as Record<'a' | 'b' | 'c', SshdDaemon>;

  before(async () => {
    cluster = createPostgres();
    for (const node of ['a', 'b', 'c'] as const) {
      const host = sshdDaemon();
      hosts[node] = host;
      // The pull fallback far above every bound here: only LISTEN/NOTIFY brings a ban in time. And
      // the drift check once a year, not every second: its tick would take in (and repair) what the
      // fleet's own path missed, and it runs nft in each namespace every second.
      const conf = join(host.config, 'f2b-store.conf');
      writeFileSync(conf, readFileSync(conf, 'utf8').replace('schedule = * * * * * *', 'schedule = 0 0 0 1 1 *'));
      appendFileSync(conf, `[fleet]\nurl = ${cluster.url()}\nnode = ${node}\nschema = fleet\npoll = 1h\n`);
    }
    await Promise.all(Object.values(hosts).map((host) => host.start()));
    await Promise.all(Object.values(hosts).map((host) =>
      waitFor('the daemon connected to the fleet', () => /fleet: connected to .* as node/.test(host.daemon?.log() ?? ''), 20_000)));
  });
  after(async () => {
    await Promise.all(Object.values(hosts).map((host) => host.cleanup()));
    cluster?.remove();
  });

  it('a ban made by A\'s jail is in B\'s and C\'s firewalls, as a fleet ban from A, woken by NOTIFY', async () => {
    hosts.a.fail('203.0.113.70', 3);
    await waitFor('A\'s own ban in A\'s firewall', () => hosts.a.inTable('203.0.113.70'), 30_000);
    const took = await Promise.all([hosts.b, hosts.c].map((host) => waitFor('A\'s ban in the firewall', () => host.inTable('203.0.113.70'), 30_000)));
    console.log(`# A's ban in B's and C's firewalls ${took.join(' and ')} ms after it was in A's`);
    const [ban] = hosts.b.activeBans('203.0.113.70');
    assert.deepEqual([ban?.jail, ban?.source, (ban as { origin?: string } | undefined)?.origin], ['sshd', 'fleet', 'a']);
  });

  it('unban on B lifts the ban on A (where A\'s own jail made it) and on C', async () => {
    const result = hosts.b.cli('unban', '203.0.113.70');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(hosts.b.inTable('203.0.113.70'), false);
    await Promise.all([hosts.a, hosts.c].map((host) => waitFor('B\'s unban in the firewall', () => !host.inTable('203.0.113.70'), 30_000)));
    assert.deepEqual(hosts.a.activeBans('203.0.113.70'), []);
  });

  it('fleet status on B: the three hosts, nothing waiting to be pushed or pulled', async () => {
    await waitFor('B\'s puller past every event', () => {
      const status = JSON.parse(hosts.b.cli('--json', 'fleet', 'status').stdout) as { pullLag: { events: number } | null };
      return status.pullLag?.events === 0;
    }, 30_000);
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
    await waitFor('C\'s daemon to say it took in the lift', () => /lift 203\.0\.113\.70 in sshd/.test(hosts.c.daemon?.log() ?? ''), 30_000);
    for (const host of Object.values(hosts)) {
      const log = host.daemon?.log() ?? '';
      assert.doesNotMatch(log, /failed|changed outside the change log|goes on alone/, log);
    }
    assert.match(hosts.c.daemon?.log() ?? '', /took in 1 change made by another process \(up to #\d+\): lift 203\.0\.113\.70 in sshd/);
  });

  it('unban --local on C lifts a fleet ban on C only: A and B keep it', async () => {
    const banned = hosts.a.cli('ban', '203.0.113.71', '--for', '1h');
    assert.equal(banned.code, 0, banned.stderr);
    await Promise.all([hosts.b, hosts.c].map((host) => waitFor('A\'s ban in the firewall', () => host.inTable('203.0.113.71'), 30_000)));
    const result = hosts.c.cli('unban', '203.0.113.71', '--local');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(hosts.c.inTable('203.0.113.71'), false);
    assert.deepEqual(hosts.c.activeBans('203.0.113.71'), []);
    // C's pusher reads its change log in order: once a later change of C's is in PostgreSQL, it has passed the local unban.
    const later = hosts.c.cli('ban', '203.0.113.72', '--for', '1h');
    assert.equal(later.code, 0, later.stderr);
    const pushedOfC = (): string => cluster.psql('SELECT address FROM fleet.events WHERE origin = \'c\' ORDER BY seq').trim();
    await waitFor('C\'s later ban pushed', () => pushedOfC() !== '', 15_000);
    assert.equal(pushedOfC(), '203.0.113.72', 'C pushed its later ban, not the local unban');
    assert.ok(hosts.a.inTable('203.0.113.71') && hosts.b.inTable('203.0.113.71'), 'A and B keep the ban');
    assert.match(hosts.c.cli('unban', '--help').stdout, /--local +lift on this host only/);
  });

  it('PostgreSQL stopped while A bans 1,000 addresses and B unbans some: every host converges, nothing lost, nothing doubled', async () => {
    const shared = Array.from({ length: 10 }, (_, i) => `203.0.113.${100 + i}`);
    // One listing per look, however many addresses are looked up in it (a listing of 1,000 entries is tens of ms of CPU).
    const inTableAll = (host: SshdDaemon, addresses: readonly string[], held = true): boolean => {
      const listing = host.table();
      return addresses.every((address) => host.inTable(address, listing) === held);
    };
    const sharedBan = hosts.b.cli('ban', ...shared, '--for', '1h');
    assert.equal(sharedBan.code, 0, sharedBan.stderr);
    await Promise.all([hosts.a, hosts.c].map((host) => waitFor('B\'s bans everywhere', () => inTableAll(host, shared), 30_000)));
    const inTable = (host: SshdDaemon): number => (host.table().match(/2001:db8::/g) ?? []).length;
    cluster.stop();
    const stoppedAt = Date.now();
    const many = Array.from({ length: 1000 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
    const list = join(hosts.a.dir, 'many.txt');
    writeFileSync(list, `${many.join('\n')}\n`);
    const banned = hosts.a.cli('ban', '--file', list, '--for', '1h');
    assert.equal(banned.code, 0, banned.stderr);
    const unbanned = hosts.b.cli('unban', ...shared.slice(0, 5));
    assert.equal(unbanned.code, 0, unbanned.stderr);
    for (const host of [hosts.a, hosts.b]) await waitFor('the host to say it goes on alone', () => /goes on alone/.test(host.daemon?.log() ?? ''), 30_000);
    await waitFor('A to enforce its bans alone', () => inTable(hosts.a) === many.length, 30_000);
    await waitFor('B to enforce its unbans alone', () => inTableAll(hosts.b, shared.slice(0, 5), false), 30_000);
    // Down across the first two reconnects of each host's back-off (1 s, then 2 s later: src/fleet/fleet.ts).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + 5000 - Date.now())));
    cluster.start();
    const restartedAt = Date.now();
    const active = (host: SshdDaemon): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const ban of host.list()) counts.set(ban.address, (counts.get(ban.address) ?? 0) + 1);
      return counts;
    };
    const holds = (host: SshdDaemon, addresses: readonly string[], held: boolean): boolean => {
      const counts = active(host);
      return addresses.every((address) => counts.has(address) === held);
    };
    // The firewalls are waited for first, then the stores; one host after another: they converge
    // side by side all the same, and waiting for all at once would only look more often.
    for (const host of [hosts.b, hosts.c]) await waitFor('A\'s 1,000 bans in the firewall', () => inTable(host) === many.length, 90_000, SLOW_LOOK_MS);
    for (const host of [hosts.a, hosts.c]) await waitFor('B\'s unbans in the firewall', () => inTableAll(host, shared.slice(0, 5), false), 30_000);
    for (const host of [hosts.b, hosts.c]) await waitFor('A\'s 1,000 bans', () => holds(host, many, true), 30_000);
    for (const host of [hosts.a, hosts.c]) await waitFor('B\'s unbans', () => holds(host, shared.slice(0, 5), false), 30_000);
    for (const host of Object.values(hosts)) {
      const counts = active(host);
      assert.deepEqual([...counts.values()].filter((n) => n > 1), [], 'one active ban per address');
      assert.ok(shared.slice(5).every((address) => counts.has(address)), 'the bans B kept are kept everywhere');
      assert.equal(inTable(host), many.length, 'A\'s 1,000 bans in the firewall');
    }
    assert.equal(cluster.psql('SELECT count(*) FROM fleet.events WHERE origin = \'a\' AND address LIKE \'2001:db8::%\'').trim(), '1000');
    console.log(`# every host converged ${Date.now() - restartedAt} ms after PostgreSQL started again`);
  });

  it('kill -9 of A while it pushes and of B between two pulls: after their restart every host holds every ban, once', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `2001:db8::2:${(i + 1).toString(16)}`);
    const list = join(hosts.a.dir, 'crash.txt');
    writeFileSync(list, `${many.join('\n')}\n`);
    const pushedOfA = (): number => Number(cluster.psql('SELECT count(*) FROM fleet.events WHERE origin = \'a\' AND address LIKE \'2001:db8::2:%\'').trim());
    const pulledByB = (): number => hosts.b.list().filter((ban) => ban.address.startsWith('2001:db8::2:')).length;
    // A pushes in statements of 1,000 changes: every statement but the first holds its transaction
    // open after its rows are in until the test releases it, so A is killed inside one (or between
    // two), after the first committed, however slow the machine.
    cluster.psql(`CREATE TABLE public.push_released (at timestamptz DEFAULT now());
      CREATE FUNCTION fleet.held_push() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.origin = 'a' AND NEW.address LIKE '2001:db8::2:%' AND NEW.seq % 1000 = 0
        AND EXISTS (SELECT 1 FROM fleet.events WHERE origin = 'a' AND address LIKE '2001:db8::2:%' AND seq <= NEW.seq - 1000)
        THEN WHILE NOT EXISTS (SELECT 1 FROM public.push_released) LOOP PERFORM pg_sleep(0.05); END LOOP; END IF; RETURN NULL; END $$;
      CREATE TRIGGER held_push AFTER INSERT ON fleet.events FOR EACH ROW EXECUTE FUNCTION fleet.held_push();`);
    const banned = hosts.a.cli('ban', '--file', list, '--for', '1h');
    assert.equal(banned.code, 0, banned.stderr);
    await waitFor('A\'s first statement committed', () => pushedOfA() > 0, 30_000, SLOW_LOOK_MS);
    hosts.a.daemon?.child.kill('SIGKILL');
    // The statement A was inside goes on without it once released (PostgreSQL notices the dead
    // client only when it answers, and commits first): count what A pushed once its session is gone.
    cluster.psql('INSERT INTO public.push_released DEFAULT VALUES');
    await waitFor('A\'s session in PostgreSQL to end', () =>
      cluster.psql('SELECT count(*) FROM pg_stat_activity WHERE application_name = \'f2b-store a\'').trim() === '0', 30_000);
    const pushedBefore = pushedOfA();
    await waitFor('B to take in what A pushed', () => pulledByB() === pushedBefore, 60_000, SLOW_LOOK_MS);
    hosts.b.daemon?.child.kill('SIGKILL');
    assert.ok(pushedBefore > 0 && pushedBefore < many.length, `A was killed with ${pushedBefore} of ${many.length} pushed`);
    cluster.psql('DROP TRIGGER held_push ON fleet.events');
    await Promise.all([hosts.a.stop(), hosts.b.stop()]);
    await Promise.all([hosts.a.start(), hosts.b.start()]);
    // The firewalls first, one host after another, as in the outage above; then each store, once they all hold the bans.
    for (const host of Object.values(hosts)) {
      await waitFor('every ban of A in the host\'s firewall', () => (host.table().match(/2001:db8::2:/g) ?? []).length === many.length, 90_000, SLOW_LOOK_MS);
    }
    for (const host of Object.values(hosts)) {
      await waitFor('every ban of A on the host', () => {
        const addresses = host.list().map((ban) => ban.address).filter((address) => address.startsWith('2001:db8::2:'));
        return addresses.length === many.length && new Set(addresses).size === many.length;
      }, 30_000);
    }
    assert.equal(pushedOfA(), many.length, 'nothing doubled');
    console.log(`# A was killed with ${pushedBefore} of ${many.length} bans pushed`);
  });
});
