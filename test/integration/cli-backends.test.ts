/**
 * The built CLI and daemon against each firewall in its own namespace, as an administrator would
 * meet them: `ban`/`unban` take effect at once, a wipe behind f2b-store's back is repaired by
 * `reconcile` and by the running daemon, foreign objects are never touched, expired bans go.
 * (nftables and hosts-deny have the same in cli-nftables.test.ts and hosts-deny.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { newIpsetCall, replyString, replyStrings } from '../../src/backends/firewalld-dbus.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { startPrivateFirewalld } from '../helpers/firewalld.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { startPrivateShorewall } from '../helpers/shorewall.js';

/** One firewall under test, as seen from outside f2b-store. */
interface Firewall {
  readonly netns: string;
  readonly env: NodeJS.ProcessEnv;
  /** Everything the firewall holds that the test looks for addresses in. */
  dump(): string;
  /** Foreign objects, made before f2b-store runs, in a form to compare later. */
  foreign(): string;
  /** The administrator wipes f2b-store's objects (sets, rules, chains), keeping their own. */
  wipe(): void;
  close(): Promise<void>;
}

/** Between two listings read in one go. */
const SEPARATOR = '--- f2bt ---';

const withoutCounters = (text: string): string => text.split('\n')
  .filter((line) => line !== '' && !line.startsWith('#') && !line.includes('f2bs'))
  .map((line) => line.replace(/\[\d+:\d+\]$/, '')).join('\n');

/** Every rule and chain of both families, as iptables-save prints them, without ours. */
function foreignRules(ns: Netns): { v4: string; v6: string } {
  const [v4, v6] = ns.runAll([['iptables-save'], ['echo', SEPARATOR], ['ip6tables-save']]).split(`${SEPARATOR}\n`) as [string, string];
  return { v4: withoutCounters(v4), v6: withoutCounters(v6) };
}

/** The administrator reloads their own rules file (replacing the table): whatever f2b-store had put in is gone. */
function reloadForeignRules(ns: Netns, saved: { v4: string; v6: string }): void {
  ns.run(['iptables-restore'], `${saved.v4}\n`);
  ns.run(['ip6tables-restore'], `${saved.v6}\n`);
}

function addForeignRules(ns: Netns): void {
  ns.runAll([
    ['iptables', '-N', 'admin'], ['iptables', '-A', 'admin', '-s', '192.0.2.9', '-j', 'ACCEPT'],
    ['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'admin'], ['ip6tables', '-A', 'INPUT', '-s', '2001:db8:ffff::/48', '-j', 'ACCEPT'],
  ]);
}

function ipsetFirewall(): Firewall {
  const ns = createNetns();
  ns.runAll([['ipset', 'create', 'admin-allow', 'hash:ip'], ['ipset', 'add', 'admin-allow', '192.0.2.44']]);
  addForeignRules(ns);
  ns.run(['iptables', '-A', 'INPUT', '-m', 'set', '--match-set', 'admin-allow', 'src', '-j', 'ACCEPT']);
  const rules = foreignRules(ns);
  return {
    netns: ns.name,
    env: {},
    dump: () => ns.runAll([['ipset', 'save'], ['iptables-save'], ['ip6tables-save']]),
    foreign: () => `${ns.run(['ipset', 'save', 'admin-allow'])}${JSON.stringify(foreignRules(ns))}`,
    wipe() {
      // A set is destroyable only once no rule uses it, and a running daemon may put its rule back
      // in between (or the kernel release the reference a moment later): the admin tries again.
      for (let attempt = 1; ; attempt++) {
        reloadForeignRules(ns, rules);
        try {
          for (const set of ns.run(['ipset', 'list', '-n']).split('\n')) if (set.startsWith('f2bs')) ns.run(['ipset', 'destroy', set]);
          return;
        } catch (error) {
          if (attempt === 20) throw error;
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        }
      }
    },
    close: async () => ns.remove(),
  };
}

function iptablesFirewall(): Firewall {
  const ns = createNetns();
  addForeignRules(ns);
  const rules = foreignRules(ns);
  return {
    netns: ns.name,
    env: {},
    dump: () => ns.runAll([['iptables-save'], ['ip6tables-save']]),
    foreign: () => JSON.stringify(foreignRules(ns)),
    wipe() {
      ns.runAll(['iptables', 'ip6tables'].flatMap((tool) => [[tool, '-F'], [tool, '-X']]));
      reloadForeignRules(ns, rules);
    },
    close: async () => ns.remove(),
  };
}

const RUNTIME = '/org/fedoraproject/FirewallD1';
const CONFIG = '/org/fedoraproject/FirewallD1/config';

async function firewalldFirewall(): Promise<Firewall> {
  const fw = await startPrivateFirewalld();
  // Through firewalld's D-Bus API, as firewall-cmd goes, without a Python start per call (half a
  // second of CPU each). A reply without its first line (serial numbers) is the value alone.
  const value = (path: string, method: string, ...args: string[]): string => fw.dbus(path, method, ...args).split('\n').slice(1).join('\n');
  const permanent = (kind: 'IPSet' | 'Zone' | 'Policy', name: string): string => replyString(fw.dbus(CONFIG, `config.get${kind}ByName`, `string:${name}`));
  fw.call(newIpsetCall('admin-allow', 'hash:ip', {}));
  fw.dbus(permanent('IPSet', 'admin-allow'), 'config.ipset.addEntry', 'string:198.51.100.201');
  fw.dbus(permanent('Zone', 'public'), 'config.zone.addRichRule', 'string:rule family="ipv4" source address="198.51.100.200" drop');
  fw.dbus(RUNTIME, 'reload');
  return {
    netns: fw.netns.name,
    env: { DBUS_SYSTEM_BUS_ADDRESS: fw.busAddress },
    dump: () => fw.netns.run(['nft', 'list', 'ruleset']),
    foreign: () => value(permanent('IPSet', 'admin-allow'), 'config.ipset.getSettings') + value(permanent('Zone', 'public'), 'config.zone.getRichRules')
      + value(RUNTIME, 'ipset.getIPSetSettings', 'string:admin-allow') + value(RUNTIME, 'zone.getRichRules', 'string:public'),
    wipe() {
      // Our ipsets and policy deleted from the permanent configuration, then a reload. Ipsets
      // first: a running daemon may put back what is gone between two of these commands, and a
      // policy put back before its ipsets are deleted would name missing ipsets at the reload.
      for (const set of replyStrings(fw.dbus(CONFIG, 'config.getIPSetNames'))) if (set.startsWith('f2bs')) fw.dbus(permanent('IPSet', set), 'config.ipset.remove');
      fw.dbus(permanent('Policy', 'f2b-store'), 'config.policy.remove');
      fw.dbus(RUNTIME, 'reload');
    },
    close: () => fw.stop(),
  };
}

/** Shorewall's dynamic blacklist: the administrator's own `reject` entry beside ours; a wipe is the administrator allowing our addresses again. */
function shorewallFirewall(): Firewall {
  const sw = startPrivateShorewall();
  const ns = sw.netns;
  ns.run(['shorewall', 'reject', '192.0.2.77']);
  const dynamic = (): string => ns.runAll([['iptables', '-S', 'dynamic'], ['ip6tables', '-S', 'dynamic']]);
  return {
    netns: ns.name,
    env: {},
    dump: dynamic,
    foreign: () => dynamic().split('\n').filter((line) => !line.endsWith('-j DROP')).join('\n'),
    wipe() {
      for (const line of dynamic().split('\n')) {
        const drop = /^-A dynamic -s (\S+) -j DROP$/.exec(line);
        if (!drop) continue;
        const [address, prefix] = drop[1]!.split('/');
        const host = (address!.includes(':') && prefix === '128') || (!address!.includes(':') && prefix === '32');
        ns.run([address!.includes(':') ? 'shorewall6' : 'shorewall', 'allow', host ? address! : drop[1]!]);
      }
    },
    close: async () => sw.close(),
  };
}

/**
 * `repairMs`: how soon after the wipe the daemon must have repaired it (the daemon checks every
 * second; the test polls, so a generous bound costs nothing when the repair is quick).
 * firewalld's wipe deletes our policy and ipsets from its permanent configuration, and putting
 * them back takes firewall-cmd calls (half a second each, more on a loaded machine) and a reload;
 * shorewall's takes `shorewall drop` per family, a shell script that runs several iptables commands
 * per address, each checked by a listing of its chain (seconds together on a loaded 2-core machine). Their bounds
 * leave room for load; the test asserts how the repair came about, and prints how long it took.
 * (A plain `firewall-cmd --reload` keeps the bans: firewalld.test.ts.)
 */
const BACKENDS: readonly { name: string; open: () => Firewall | Promise<Firewall>; repairMs: number }[] = [
  { name: 'ipset', open: ipsetFirewall, repairMs: 5_000 },
  { name: 'iptables', open: iptablesFirewall, repairMs: 5_000 },
  { name: 'firewalld', open: firewalldFirewall, repairMs: 30_000 },
  { name: 'shorewall', open: shorewallFirewall, repairMs: 30_000 },
];

const BANNED = ['203.0.113.7', '2001:db8::66', '198.51.100.0/24'] as const;

/** Whether `address` appears in `text` as a whole address (not as the start of a longer one). */
function holds(text: string, address: string): boolean {
  const escaped = address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s,{"=])${escaped}(?=$|[\\s,}/"])`, 'm').test(text);
}

interface Report { name: string; added: number; removed: number; unchanged: number; error: string | null }

for (const { name, open, repairMs } of BACKENDS) {
  describe(`the CLI and daemon with ${name} in a namespace`, () => {
    let fw: Firewall;
    let tmp: ReturnType<typeof tempDir>;
    let args: string[];
    let foreign: string;
    const cli = (...rest: string[]): CliResult => runCli([...args, ...rest], { env: fw.env });
    const ok = (...rest: string[]): string => {
      const result = cli(...rest);
      assert.equal(result.code, 0, `${rest.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    const reconcile = (): Report => (JSON.parse(ok('--json', 'reconcile')) as { backends: Report[] }).backends[0]!;
    /** The addresses not in `text` (one reading of the firewall, for several checks). */
    const missing = (addresses: readonly string[], text = fw.dump()): string[] => addresses.filter((a) => !holds(text, a));

    before(async () => {
      fw = await open();
      tmp = tempDir();
      const config = join(tmp.dir, 'etc');
      mkdirSync(config);
      writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = ${name}\nschedule = * * * * * *\n`);
      args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', fw.netns];
      foreign = fw.foreign();
    });
    after(async () => {
      await fw?.close();
      tmp?.cleanup();
    });

    it('ban puts IPv4, IPv6 and a network into the firewall at once', () => {
      for (const address of BANNED) ok('ban', address, '--for', '1h');
      const text = fw.dump();
      assert.deepEqual(missing(BANNED, text), [], text);
      assert.equal(fw.foreign(), foreign, 'foreign objects untouched');
    });

    it('unban takes an address out at once, the others stay', () => {
      ok('unban', '203.0.113.7');
      const text = fw.dump();
      assert.ok(!holds(text, '203.0.113.7'), 'gone from the firewall');
      assert.deepEqual(missing(BANNED.slice(1), text), []);
    });

    it('after a wipe behind its back, reconcile restores exactly the active bans and leaves foreign objects alone', () => {
      fw.wipe();
      assert.deepEqual(missing(BANNED.slice(1)), BANNED.slice(1), 'the wipe removed them');
      const restored = reconcile();
      assert.deepEqual([restored.added, restored.removed, restored.error], [2, 0, null]);
      const text = fw.dump();
      assert.deepEqual(missing(BANNED.slice(1), text), []);
      assert.ok(!holds(text, '203.0.113.7'), 'the lifted ban stays out');
      assert.equal(fw.foreign(), foreign, 'foreign objects untouched');
    });

    it('a second reconcile changes nothing', () => {
      const again = reconcile();
      assert.deepEqual([again.added, again.removed, again.unchanged, again.error], [0, 0, 2, null]);
    });

    it('an expired ban is gone after the next reconcile', async () => {
      ok('ban', '203.0.113.50', '--for', '1');
      assert.ok(holds(fw.dump(), '203.0.113.50'), 'banned for a second');
      await sleep(1_500);
      assert.equal(reconcile().error, null);
      const text = fw.dump();
      assert.ok(!holds(text, '203.0.113.50'), 'expired, removed');
      assert.deepEqual(missing(BANNED.slice(1), text), []);
    });

    it(`the daemon notices a wipe by itself and repairs it within ${repairMs / 1000} s, and SIGTERM leaves the bans`, async () => {
      const daemon = startDaemon(args, fw.env);
      try {
        await waitFor('the daemon done starting', () => /watching \d+ log files/.test(daemon.log()), 30_000);
        fw.wipe();
        // The drift check noticed (objects missing, gone while it looked or counted, or holding fewer entries) and reconciled.
        const noticed = 'objects were missing|ipset \\S+ does not exist|no rule matches ipset \\S+|its objects could not be checked|counting its entries failed: .+|.+ holds \\d+ entries, \\d+ expected';
        const driftCheck = new RegExp(`drift check: ${name}: (${noticed})\n`);
        // The firewall is read (several processes) only once the daemon's log says it noticed, as it must: not every 100 ms from the wipe.
        const took = await waitFor('the drift check to notice the wipe and the repair', () => driftCheck.test(daemon.log()) && missing(BANNED.slice(1)).length === 0, repairMs);
        console.log(`${name}: the daemon repaired a wipe ${took} ms after it was done`);
        assert.match(daemon.log(), driftCheck);
      } finally {
        assert.equal(await daemon.stop(), 0, daemon.log());
      }
      assert.deepEqual(missing(BANNED.slice(1)), [], 'bans stay after SIGTERM');
      assert.equal(fw.foreign(), foreign, 'foreign objects untouched');
    });
  });
}
