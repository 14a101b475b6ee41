/**
 * The running daemon against drift that leaves every object in place, which the check that
 * objects exist cannot see: a set or chain emptied behind its back, one entry deleted, and a ban
 * whose apply failed. Each must be repaired at the next ticks (the daemon runs every second here),
 * not at the full check five minutes later. Every firewall lives in a namespace of its own.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/cli.js';
import { startDaemon, waitForLogged, type DaemonProcess } from '../helpers/daemon.js';
import { startPrivateFirewalld } from '../helpers/firewalld.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { JAIL, sshdFailure } from '../helpers/sshd-daemon.js';

/** Where a firewall runs: its namespace, the environment that reaches it, and how to take it down. */
interface Place {
  readonly ns: Netns;
  readonly env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** One firewall as the administrator meets it: where the sshd jail's IPv4 bans are, and how to take them out by hand. */
interface Firewall {
  readonly name: string;
  /** What holds the jail's IPv4 bans, as the daemon's log names it. */
  readonly object: string;
  open(): Promise<Place>;
  holds(place: Place, address: string): boolean;
  /** Empties that object, leaving it in place. */
  empty(place: Place): void;
  /** Deletes one entry from it. */
  remove(place: Place, address: string): void;
}

const tryRun = (ns: Netns, argv: readonly string[]): string => {
  try {
    return ns.run(argv);
  } catch {
    return '';
  }
};
const word = (text: string, address: string): boolean => new RegExp(`(^|[\\s{,])${address.replace(/[.:]/g, '\\$&')}([\\s},/]|$)`, 'm').test(text);

async function namespace(): Promise<Place> {
  const ns = createNetns();
  return { ns, env: {}, close: async () => ns.remove() };
}

async function firewalld(): Promise<Place> {
  const fw = await startPrivateFirewalld();
  return { ns: fw.netns, env: { DBUS_SYSTEM_BUS_ADDRESS: fw.busAddress }, close: () => fw.stop() };
}

/** A method of firewalld's runtime D-Bus API, as firewall-cmd calls it, without a Python start (half a second of CPU) that would slow the daemon being timed. */
const firewalldRuntime = (place: Place, method: string, ...args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', place.ns.name, 'dbus-send', '--system', '--print-reply', '--dest=org.fedoraproject.FirewallD1',
    '/org/fedoraproject/FirewallD1', `org.fedoraproject.FirewallD1.${method}`, ...args], { env: { ...process.env, ...place.env }, encoding: 'utf8' });

const FIREWALLS: readonly Firewall[] = [
  {
    name: 'nftables',
    object: 'addr4-sshd',
    open: namespace,
    holds: ({ ns }, address) => word(tryRun(ns, ['nft', 'list', 'set', 'inet', 'f2b-store', 'addr4-sshd']), address),
    empty: ({ ns }) => ns.run(['nft', 'flush', 'set', 'inet', 'f2b-store', 'addr4-sshd']),
    remove: ({ ns }, address) => ns.run(['nft', 'delete', 'element', 'inet', 'f2b-store', 'addr4-sshd', `{ ${address} }`]),
  },
  {
    name: 'ipset',
    object: 'f2bs4-sshd',
    open: namespace,
    holds: ({ ns }, address) => word(tryRun(ns, ['ipset', 'list', 'f2bs4-sshd']), address),
    empty: ({ ns }) => ns.run(['ipset', 'flush', 'f2bs4-sshd']),
    remove: ({ ns }, address) => ns.run(['ipset', 'del', 'f2bs4-sshd', address]),
  },
  {
    name: 'iptables',
    object: 'iptables f2bs-sshd',
    open: namespace,
    holds: ({ ns }, address) => tryRun(ns, ['iptables-save', '-t', 'filter']).includes(`-A f2bs-sshd -s ${address}/32 `),
    // Its final `-j RETURN` goes too, which the structural check already notices.
    empty: ({ ns }) => ns.run(['iptables', '-F', 'f2bs-sshd']),
    remove({ ns }, address) {
      const rule = ns.run(['iptables-save', '-t', 'filter']).split('\n').find((line) => line.startsWith(`-A f2bs-sshd -s ${address}/32 `));
      assert.ok(rule, `a rule for ${address}`);
      ns.run(['iptables', '-D', ...rule.split(' ').slice(1)]);
    },
  },
  {
    name: 'firewalld',
    object: 'f2bs4-sshd',
    open: firewalld,
    // What the kernel holds: the set firewalld made for our ipset in its own table.
    holds: ({ ns }, address) => word(tryRun(ns, ['nft', 'list', 'set', 'inet', 'firewalld', 'f2bs4-sshd']), address),
    empty: (place) => void firewalldRuntime(place, 'ipset.setEntries', 'string:f2bs4-sshd', 'array:string:'),
    remove: (place, address) => void firewalldRuntime(place, 'ipset.removeEntry', 'string:f2bs4-sshd', `string:${address}`),
  },
];

const BANNED = ['203.0.113.7', '203.0.113.8'] as const;
const LATE = '203.0.113.9';

for (const firewall of FIREWALLS) {
  describe(`the daemon repairs drift in ${firewall.name} within seconds`, () => {
    let place: Place;
    let tmp: ReturnType<typeof tempDir>;
    let authLog: string;
    let daemon: DaemonProcess;
    // A process inside the namespace keeps it alive while its name is gone (see the failed apply below).
    let keeper: ChildProcess;
    const holdsAll = (addresses: readonly string[]): boolean => addresses.every((a) => firewall.holds(place, a));
    /** waitFor, with the daemon's log (at debug: what each tick counted) added to a timeout. */
    const waitLogged = (what: string, check: () => boolean, ms: number): Promise<number> => waitForLogged(what, check, ms, () => daemon.log());
    const repairLine = (why: string): RegExp =>
      new RegExp(`reconcile \\(${firewall.name}: ${why}\\) ${firewall.name}: added \\d+, removed 0`);

    before(async () => {
      place = await firewall.open();
      keeper = spawn('ip', ['netns', 'exec', place.ns.name, 'sleep', '3600'], { stdio: 'ignore' });
      tmp = tempDir();
      const config = join(tmp.dir, 'etc');
      authLog = join(tmp.dir, 'auth.log');
      mkdirSync(config);
      // At debug level its log tells what each tick counted: what a timeout below prints with it.
      writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = ${firewall.name}\nschedule = * * * * * *\n[daemon]\nlogfile =\nloglevel = debug\n`);
      writeFileSync(join(config, 'jail.local'), JAIL(authLog));
      writeFileSync(authLog, '');
      daemon = startDaemon(['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', place.ns.name], place.env);
      // Room for start-up on a loaded machine (15 s ran out at load 20), as test/helpers/sshd-daemon.ts gives it.
      await waitLogged('the daemon following its log', () => /watching \d+ log files/.test(daemon.log()), 45_000);
      for (const address of BANNED) appendFileSync(authLog, sshdFailure(address).repeat(3));
      await waitLogged('the bans in the firewall', () => holdsAll(BANNED), 15_000);
    });
    after(async () => {
      try {
        assert.equal(await daemon?.stop(), 0, daemon?.log());
      } finally {
        keeper?.kill('SIGTERM');
        await place?.close();
        tmp?.cleanup();
      }
    });

    it(`an emptied ${firewall.object} is refilled within 5 s`, async () => {
      const repairs = (): number => (daemon.log().match(new RegExp(`reconcile \\(${firewall.name}: `, 'g')) ?? []).length;
      const before = repairs();
      firewall.empty(place);
      // Not checked empty here: the daemon ticks every second and may refill it before a look could
      // (emptying takes firewalld seconds); its log tells the repair.
      const took = await waitLogged('the bans back, by a repair', () => repairs() > before && holdsAll(BANNED), 5_000);
      console.log(`${firewall.name}: an emptied ${firewall.object} was refilled in ${took} ms`);
    });

    it('an entry deleted behind its back is back within 5 s, noticed by its count', async () => {
      // Not checked gone here, for the same reason: the repair line below tells it was.
      firewall.remove(place, BANNED[0]);
      const took = await waitLogged('the ban back', () => holdsAll(BANNED), 5_000);
      console.log(`${firewall.name}: a deleted entry was back in ${took} ms`);
      await waitLogged('the repair in the log', () => repairLine(`${firewall.object} holds 1 entries, 2 expected`).test(daemon.log()), 5_000);
    });

    it('a ban whose apply failed is applied at the next ticks once the firewall answers again', async () => {
      // The namespace loses its name: every firewall command fails as it would with the firewall
      // out of reach, while the firewall keeps all it holds. The name comes back on the same namespace.
      const failures = (): number => (daemon.log().match(new RegExp(`applying bans to ${firewall.name} failed`, 'g')) ?? []).length;
      execIp(['netns', 'delete', place.ns.name]);
      try {
        appendFileSync(authLog, sshdFailure(LATE).repeat(3));
        await waitLogged('the failed apply', () => failures() > 0, 15_000);
      } finally {
        execIp(['netns', 'attach', place.ns.name, String(keeper.pid)]);
      }
      assert.ok(!firewall.holds(place, LATE), 'not applied while the firewall was out of reach');
      const took = await waitLogged('the ban applied by a retry', () => firewall.holds(place, LATE), 15_000);
      console.log(`${firewall.name}: a failed apply was retried and done ${took} ms after the firewall answered again`);
      // The tick that finds the firewall back retries the failed apply, unless its check of the
      // objects (which comes first) already found them needing a reconcile.
      const retried = repairLine('(?:retrying after a failed apply|objects were missing|its objects could not be checked)');
      await waitLogged('the retry in the log', () => retried.test(daemon.log()), 5_000);
      assert.ok(holdsAll(BANNED), 'the other bans stay');
    });
  });
}

function execIp(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
