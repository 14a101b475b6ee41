import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemExec } from '../../src/backends/exec.js';
import { createFirewalldBackend } from '../../src/backends/firewalld.js';
import { newIpsetCall, replyDictionary, replyString, replyStrings } from '../../src/backends/firewalld-dbus.js';
import type { Backend, Command, Entry, EntryKey, JailRule } from '../../src/backends/types.js';
import { parseAddress } from '../../src/core/index.js';
import { diffEntries } from '../../src/reconcile/diff.js';
import type { PrivateFirewalld } from '../helpers/firewalld.js';
import { sharedFirewalld } from '../helpers/shared-firewalld.js';
import { reconcilePass } from '../helpers/backend.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const NOW = 1_700_000_000;
const JAILS: readonly JailRule[] = [
  { name: 'sshd', port: '22', protocol: 'tcp', blocktype: 'reject' },
  { name: 'recidive', blocktype: 'drop' },
];
const FOREIGN_IPSET = 'admin-allow';
const FOREIGN_RULE = 'rule family="ipv4" source address="198.51.100.200" drop';
const SERVER = '203.0.113.1';
const ATTACKER = '203.0.113.7';
/** The entries of the one large batch. */
const MANY = 4_000;

const entry = (jail: string, text: string): Entry => {
  const address = parseAddress(text);
  return { jail, address: address.text, family: address.family, expiresAt: null };
};
const keys = (entries: readonly EntryKey[]): string[] => entries.map((e) => `${e.jail} ${e.address}`).sort();
const RUNTIME = '/org/fedoraproject/FirewallD1';
const CONFIG = '/org/fedoraproject/FirewallD1/config';

describe('firewalld backend in a private firewalld', () => {
  let fw: PrivateFirewalld;
  let backend: Backend;
  let peer: Netns | undefined;
  let server: ChildProcess | undefined;
  /** Every command the backend ran, in order. */
  const ran: Command[] = [];
  // firewalld's state read and changed through its D-Bus API, as firewall-cmd does it, without a
  // Python start (half a second of CPU) per call.
  const permanentPath = (kind: 'IPSet' | 'Zone' | 'Policy', name: string): string => replyString(fw.dbus(CONFIG, `config.get${kind}ByName`, `string:${name}`));
  const ipsets = (permanent = false): string[] =>
    replyStrings(permanent ? fw.dbus(CONFIG, 'config.getIPSetNames') : fw.dbus(RUNTIME, 'ipset.getIPSets')).sort();
  const richRules = (permanent = false): string[] => {
    const settings = replyDictionary(permanent
      ? fw.dbus(permanentPath('Policy', 'f2b-store'), 'config.policy.getSettings')
      : fw.dbus(RUNTIME, 'policy.getPolicySettings', 'string:f2b-store'));
    return (settings['rich_rules'] as string[] | undefined ?? []).map(String).sort();
  };
  const entries = (ipset: string, permanent = false): string[] =>
    replyStrings(permanent ? fw.dbus(permanentPath('IPSet', ipset), 'config.ipset.getEntries') : fw.dbus(RUNTIME, 'ipset.getEntries', `string:${ipset}`)).sort();
  const reload = (): void => void fw.dbus(RUNTIME, 'reload');
  const nftSet = (name: string): string => fw.netns.run(['nft', 'list', 'set', 'inet', 'firewalld', name]);
  const firewalldLog = (): string => readFileSync(join(fw.dir, 'firewalld.log'), 'utf8');
  /** Writes a file of firewalld's permanent configuration (its copy of /etc/firewalld), read at the next reload. */
  const writePermanent = (path: string, xml: string): void => {
    mkdirSync(dirname(join(fw.dir, 'etc', path)), { recursive: true });
    writeFileSync(join(fw.dir, 'etc', path), `<?xml version="1.0" encoding="utf-8"?>\n${xml}\n`);
  };

  /** One pass of the real reconciler; no entry may fail. */
  async function reconcile(desired: readonly Entry[]): Promise<{ added: number; removed: number; unchanged: number }> {
    const { report } = await reconcilePass(backend, JAILS, desired, NOW);
    assert.deepEqual(report.failed, []);
    return { added: report.added, removed: report.removed, unchanged: report.unchanged };
  }

  /**
   * From the attacker's namespace, whose one address is ATTACKER: does a TCP connection to the
   * server's port 22 open? With bash's /dev/tcp: a node started for it cost tenths of a second of CPU.
   * A refusal takes a second: over the veth pair the reject's ICMP comes back while connect() still
   * holds its socket, so only the SYN sent again a second later is refused for good. The bound is
   * far above that, for a loaded machine (1.5 s timed out there); no test expects a timeout.
   */
  function probe(): string {
    try {
      peer!.run(['timeout', '10', 'bash', '-c', `exec 3<>/dev/tcp/${SERVER}/22`]);
      return 'open';
    } catch (error) {
      const { status, stderr } = error as { status: number | null; stderr: string };
      if (status === 124) return 'timeout';
      return /Connection refused/.test(stderr) ? 'ECONNREFUSED' : `failed (${status}): ${stderr.trim()}`;
    }
  }

  before(async () => {
    assert.equal(process.getuid?.(), 0, 'firewalld integration tests run as root (network namespaces, a private firewalld)');
    fw = await sharedFirewalld();
    const exec = systemExec(fw.netns.name);
    backend = createFirewalldBackend({
      exec: (command) => {
        ran.push(command);
        return exec(command);
      },
    });

    fw.call(newIpsetCall(FOREIGN_IPSET, 'hash:ip', {}));
    fw.dbus(permanentPath('IPSet', FOREIGN_IPSET), 'config.ipset.addEntry', 'string:198.51.100.201');
    fw.dbus(permanentPath('Zone', 'public'), 'config.zone.addRichRule', `string:${FOREIGN_RULE}`);
    reload();

    // An attacker next door: a veth pair made inside the namespaces, never in the host's.
    peer = createNetns();
    fw.netns.run(['ip', 'link', 'add', 'f2bsrv', 'type', 'veth', 'peer', 'name', 'f2batk', 'netns', peer.name]);
    fw.netns.run(['ip', 'addr', 'add', `${SERVER}/24`, 'dev', 'f2bsrv']);
    fw.netns.run(['ip', 'link', 'set', 'f2bsrv', 'up']);
    peer.run(['ip', 'addr', 'add', `${ATTACKER}/24`, 'dev', 'f2batk']);
    peer.run(['ip', 'link', 'set', 'f2batk', 'up']);
    server = spawn('ip', ['netns', 'exec', fw.netns.name, process.execPath, '-e',
      "require('node:net').createServer((s) => s.end()).listen(22, () => console.log('listening'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.once('data', () => resolve());
      server!.once('exit', (code) => reject(new Error(`test server exited (${code})`)));
    });
  });

  after(async () => {
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    peer?.remove();
  });

  it('ensure creates ipsets, the policy and its rules, and changes nothing the second time; firewalld logs no error', async () => {
    const ran = (await backend.ensure(JAILS, NOW)).ran;
    assert.ok(ran.length > 0);
    // Asking firewalld about a policy that does not exist yet would make it log INVALID_POLICY.
    assert.doesNotMatch(firewalldLog(), /ERROR|WARNING/);
    assert.deepEqual(ipsets(), [FOREIGN_IPSET, 'f2bs4-recidive', 'f2bs4-sshd', 'f2bs6-recidive', 'f2bs6-sshd']);
    // The runtime settings `firewall-cmd --info-ipset` prints (type, then options), read the way it reads them.
    assert.match(fw.dbus(RUNTIME, 'ipset.getIPSetSettings', 'string:f2bs6-sshd'),
      /string "hash:net"\s+array \[\s+dict entry\(\s+string "family"\s+string "inet6"\s+\)\s+dict entry\(\s+string "maxelem"\s+string "\d+"/);
    const rules = richRules();
    assert.deepEqual(rules, richRules(true));
    assert.deepEqual(rules, [
      'rule family="ipv4" source ipset="f2bs4-recidive" drop',
      'rule family="ipv4" source ipset="f2bs4-sshd" port port="22" protocol="tcp" reject',
      'rule family="ipv6" source ipset="f2bs6-recidive" drop',
      'rule family="ipv6" source ipset="f2bs6-sshd" port port="22" protocol="tcp" reject',
    ]);
    assert.deepEqual((await backend.ensure(JAILS, NOW)).ran, []);
    assert.equal(probe(), 'open');
    assert.doesNotMatch(firewalldLog(), /ERROR|WARNING/);
  });

  it('adds IPv4, IPv6 and a network; list shows exactly them, nft shows them in firewalld\'s table', async () => {
    const add = [entry('sshd', ATTACKER), entry('sshd', '2001:db8::66'), entry('recidive', '198.51.100.0/24')];
    const report = await backend.apply({ add, remove: [] }, JAILS, NOW);
    assert.deepEqual(report, { added: 3, removed: 0, failed: [] });
    assert.deepEqual(keys(await backend.list()), keys(add));
    assert.match(nftSet('f2bs4-sshd'), /elements = \{ 203\.0\.113\.7 \}/);
    assert.match(nftSet('f2bs6-sshd'), /elements = \{ 2001:db8::66 \}/);
    assert.match(nftSet('f2bs4-recidive'), /elements = \{ 198\.51\.100\.0\/24 \}/);
    const ruleset = fw.netns.run(['nft', 'list', 'ruleset']);
    assert.match(ruleset, /ip saddr @f2bs4-sshd tcp dport 22 reject/);
    assert.match(ruleset, /ip saddr @f2bs4-recidive drop/);
    assert.deepEqual(entries('f2bs4-sshd', true), [ATTACKER]);
    assert.equal(probe(), 'ECONNREFUSED');
  });

  it('removes them again, runtime and permanent; removing an absent one is no failure', async () => {
    const remove = [entry('sshd', ATTACKER), entry('sshd', '2001:db8::66'), entry('recidive', '198.51.100.0/24'), entry('sshd', '203.0.113.99')];
    assert.deepEqual(await backend.apply({ add: [], remove }, JAILS, NOW), { added: 0, removed: 4, failed: [] });
    assert.deepEqual(await backend.list(), []);
    assert.deepEqual(entries('f2bs4-sshd', true), []);
    assert.doesNotMatch(nftSet('f2bs4-sshd'), /elements/);
    assert.equal(probe(), 'open');
  });

  it('bans are back right after a reload (firewall-cmd --reload\'s call), and a reconcile pass restores exactly the desired set', async () => {
    const desired = [
      entry('sshd', ATTACKER), entry('sshd', '2001:db8::66'), entry('sshd', '198.51.100.7'),
      entry('recidive', '198.51.100.0/24'), entry('recidive', '198.51.100.9'), entry('recidive', '2001:db8:1::/48'),
    ];
    assert.deepEqual(await reconcile(desired), { added: 5, removed: 0, unchanged: 0 });
    const held = keys(backend.represent(desired));
    assert.ok(!held.includes('recidive 198.51.100.9'), 'an address inside a banned network of its jail is not held twice');

    // Drift behind our back: a stray runtime-only entry, and an entry dropped from the permanent config.
    fw.dbus(RUNTIME, 'ipset.addEntry', 'string:f2bs4-sshd', 'string:203.0.113.200');
    fw.dbus(permanentPath('IPSet', 'f2bs4-sshd'), 'config.ipset.removeEntry', 'string:198.51.100.7');
    const started = Date.now();
    // The D-Bus call `firewall-cmd --reload` makes, answered when the reload is done, without the
    // Python start (half a second of CPU) of firewall-cmd.
    reload();
    // Listed as soon as the reload returns: no reconcile ran in between. The time is printed;
    // its bound only catches a hang (a reload takes seconds on a loaded 2-core machine).
    const back = keys(await backend.list());
    console.log(`firewalld: bans listed back ${Date.now() - started} ms after the start of the reload`);
    assert.ok(Date.now() - started < 60_000);
    assert.deepEqual(back, held.filter((k) => k !== 'sshd 198.51.100.7'));
    assert.equal(probe(), 'ECONNREFUSED');

    assert.deepEqual(await reconcile(desired), { added: 1, removed: 0, unchanged: 4 });
    assert.deepEqual(keys(await backend.list()), held);
    assert.deepEqual(entries('f2bs4-sshd', true), ['198.51.100.7', ATTACKER]);
    assert.deepEqual((await backend.ensure(JAILS, NOW)).ran, []);
    assert.deepEqual(diffEntries(backend.represent(desired), await backend.list()).diff, { add: [], remove: [] });

    // Lifting the network puts back the address it covered.
    const lifted = desired.filter((e) => e.address !== '198.51.100.0/24');
    assert.deepEqual(await reconcile(lifted), { added: 1, removed: 1, unchanged: 4 });
    assert.deepEqual(keys(await backend.list()), keys(lifted));
  });

  it('a changed jail rule replaces its old rule', async () => {
    const changed = JAILS.map((j) => (j.name === 'sshd' ? { ...j, port: '2222,8000:8100', blocktype: 'drop' as const } : j));
    const ran = (await backend.ensure(changed, NOW)).ran;
    assert.ok(ran.length > 0);
    assert.deepEqual(richRules().filter((r) => r.includes('f2bs4-sshd"')), [
      'rule family="ipv4" source ipset="f2bs4-sshd" port port="2222" protocol="tcp" drop',
      'rule family="ipv4" source ipset="f2bs4-sshd" port port="8000-8100" protocol="tcp" drop',
    ]);
    assert.deepEqual((await backend.ensure(changed, NOW)).ran, []);
    await backend.ensure(JAILS, NOW);
    assert.deepEqual((await backend.ensure(JAILS, NOW)).ran, []);
  });

  // 4,000 entries, not 10,000 (a third of this file's CPU went to firewalld taking them in, writing,
  // reloading and removing them): the apply is checked to run one command per configuration, where
  // the size alone showed it only as time, and 4,000 addresses of 38 characters still make more
  // text than one argument may hold (128 KiB: the entries go on stdin) and four of the 1,000-entry
  // chunks firewalld restores a set in at its reload.
  it('applies 4,000 entries in one batch, one command each for runtime and permanent, and keeps them across a reload', async () => {
    await reconcile([]);
    const many = Array.from({ length: MANY }, (_, i) => entry('sshd', `2001:db8:aaaa:bbbb:cccc:dddd:${(0x1000 + i).toString(16)}:ffff`));
    assert.ok(many.reduce((sum, e) => sum + e.address.length + 1, 0) > 128 * 1024);
    let t = Date.now();
    const from = ran.length;
    const report = await backend.apply({ add: many, remove: [] }, JAILS, NOW);
    console.log(`firewalld: apply of ${MANY} entries took ${Date.now() - t} ms`);
    assert.deepEqual(report, { added: MANY, removed: 0, failed: [] });
    assert.deepEqual(ran.slice(from).map((c) => [c.argv.slice(-3).join(' '), c.stdin?.split('\n').length]), [
      ['firewall-cmd --ipset=f2bs6-sshd --add-entries-from-file=/dev/stdin', MANY],
      ['--permanent --ipset=f2bs6-sshd --add-entries-from-file=/dev/stdin', MANY],
    ]);
    t = Date.now();
    const listed = await backend.list();
    console.log(`firewalld: list of ${MANY} entries took ${Date.now() - t} ms`);
    assert.equal(listed.length, MANY);
    t = Date.now();
    reload();
    console.log(`firewalld: a reload with ${MANY} entries took ${Date.now() - t} ms`);
    assert.equal((await backend.list()).length, MANY);
    t = Date.now();
    assert.deepEqual(await reconcile(many), { added: 0, removed: 0, unchanged: MANY });
    console.log(`firewalld: a reconcile pass with nothing to do (${MANY} entries) took ${Date.now() - t} ms`);
    t = Date.now();
    const one = entry('sshd', ATTACKER);
    assert.deepEqual(await backend.apply({ add: [one], remove: [] }, JAILS, NOW), { added: 1, removed: 0, failed: [] });
    console.log(`firewalld: one more ban beside ${MANY} took ${Date.now() - t} ms`);
    assert.equal(probe(), 'ECONNREFUSED');
    t = Date.now();
    assert.deepEqual(await backend.apply({ add: [], remove: [...many, one] }, JAILS, NOW), { added: 0, removed: MANY + 1, failed: [] });
    console.log(`firewalld: removing ${MANY} entries took ${Date.now() - t} ms`);
    assert.deepEqual(await backend.list(), []);
  });

  it('moves the ipsets an earlier f2b-store named f2b-<jail>, f2b-<jail>-6 to the new names, bans kept, and leaves fail2ban\'s f2b-<jail>', async () => {
    await backend.flush();
    // The permanent configuration an earlier f2b-store (and fail2ban) left, as files firewalld reads at its reload.
    writePermanent('ipsets/f2b-sshd.xml', `<ipset type="hash:net"><option name="family" value="inet"/><entry>${ATTACKER}</entry></ipset>`);
    writePermanent('ipsets/f2b-sshd-6.xml', '<ipset type="hash:net"><option name="family" value="inet6"/><entry>2001:db8::7</entry></ipset>');
    writePermanent('ipsets/f2b-web.xml', '<ipset type="hash:ip"><entry>198.51.100.78</entry></ipset>');
    writePermanent('policies/f2b-store.xml', ['<policy priority="-32000" target="CONTINUE"><ingress-zone name="ANY"/><egress-zone name="HOST"/>',
      '<rule family="ipv4"><source ipset="f2b-sshd"/><port port="22" protocol="tcp"/><reject/></rule>',
      '<rule family="ipv6"><source ipset="f2b-sshd-6"/><drop/></rule></policy>'].join(''));
    reload();
    assert.equal(probe(), 'ECONNREFUSED', 'banned by the old ipset');

    const ensured = await backend.ensure(JAILS, NOW);
    assert.match(ensured.notes.join('\n'), /ipsets of an earlier f2b-store removed with their rules: f2b-sshd, f2b-sshd-6/);
    assert.equal(probe(), 'ECONNREFUSED', 'still banned, by the new one');
    for (const permanent of [false, true]) {
      assert.deepEqual(ipsets(permanent), [FOREIGN_IPSET, 'f2b-web', 'f2bs4-recidive', 'f2bs4-sshd', 'f2bs6-recidive', 'f2bs6-sshd']);
      assert.doesNotMatch(richRules(permanent).join('\n'), /"f2b-sshd/);
    }
    assert.deepEqual(keys(await backend.list()), ['sshd 2001:db8::7', `sshd ${ATTACKER}`]);
    assert.deepEqual(entries('f2b-web'), ['198.51.100.78'], 'fail2ban\'s ipset keeps its entry');
    assert.deepEqual((await backend.ensure(JAILS, NOW)).notes, [], 'once');
    await backend.flush();
    assert.deepEqual(ipsets(true), [FOREIGN_IPSET, 'f2b-web']);
  });
});
