import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCommand, type Exec } from '../../src/backends/exec.js';
import { policyInfo } from '../../src/backends/firewalld-commands.js';
import { parseDbusReply, type DbusValue } from '../../src/backends/firewalld-dbus.js';
import { createFirewalldBackend, firewalldIpset, firewalldRichRules, representFirewalld } from '../../src/backends/firewalld.js';
import type { Command, Entry, JailRule } from '../../src/backends/types.js';
import { InputError, OperationError } from '../../src/core/index.js';
import { execFailure } from '../helpers/exec-error.js';

const entry = (jail: string, address: string, expiresAt: number | null = null): Entry =>
  ({ jail, address, family: address.includes(':') ? 6 : 4, expiresAt });
const shown = (commands: readonly Command[]): string[] => commands.map(describeCommand);
const SSHD: JailRule = { name: 'sshd', port: '22', blocktype: 'reject' };
const SSHD_RULES = [
  'rule family="ipv4" source ipset="f2bs4-sshd" port port="22" protocol="tcp" reject',
  'rule family="ipv6" source ipset="f2bs6-sshd" port port="22" protocol="tcp" reject',
];
const DBUS = 'dbus-send --system --print-reply --dest=org.fedoraproject.FirewallD1';
/** busctl writes the structures and dictionaries of lists dbus-send cannot. */
const BUSCTL = 'busctl --system -- call org.fedoraproject.FirewallD1';
const NEW_IPSET = `${BUSCTL} /org/fedoraproject/FirewallD1/config org.fedoraproject.FirewallD1.config addIPSet 's(ssssa{ss}as)'`;
const quoted = (rules: readonly string[]): string => rules.map((r) => `'${r}'`).join(' ');
/** A reload waits for firewalld to refill every ipset: longer than dbus-send's 25 s by default. */
const RELOAD = 'dbus-send --system --print-reply --reply-timeout=600000 --dest=org.fedoraproject.FirewallD1 /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.reload';

/** A value as `dbus-send --print-reply` prints it (strings unescaped, like dbus-send). */
function printed(value: DbusValue, indent = '   '): string {
  if (typeof value === 'string') return `${indent}string "${value}"`;
  if (typeof value === 'number') return `${indent}int32 ${value}`;
  if (typeof value === 'boolean') return `${indent}boolean ${value}`;
  const inner = `${indent}   `;
  const items = Array.isArray(value)
    ? value.map((v) => printed(v, inner))
    : Object.entries(value).map(([k, v]) => `${inner}dict entry(\n${printed(k, `${inner}   `)}\n${inner}   variant ${printed(v, '').trimStart()}\n${inner})`);
  return [`${indent}array [`, ...items, `${indent}]`].join('\n');
}
const reply = (value?: DbusValue): string =>
  `method return time=1796197035.963189 sender=:1.1 -> destination=:1.8 serial=7 reply_serial=2\n${value === undefined ? '' : `${printed(value)}\n`}`;

/**
 * A call as the fake sees it: `firewall-cmd ARGS`, or `dbus-send METHOD ARGS` (method without
 * firewalld's prefix) with the object path it goes to.
 */
type Answer = (call: string, stdin?: string, path?: string) => string | DbusValue | undefined;

/**
 * A scripted firewalld for plan and error handling (the real one runs in
 * test/integration/firewalld.test.ts): `answer` gets each call and returns firewall-cmd's stdout,
 * a D-Bus reply value, or a string starting with `Error:` to fail the way systemExec fails.
 */
function fakeExec(answer: Answer): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (command) => {
    const dbus = command.argv[0] === 'dbus-send';
    const at = command.argv.findIndex((a) => a.startsWith('/'));
    const call = dbus
      ? [command.argv[at + 1]!.replace('org.fedoraproject.FirewallD1.', ''), ...command.argv.slice(at + 2).map((a) => a.replace(/^string:/, ''))].join(' ')
      : command.argv.slice(command.argv.lastIndexOf('firewall-cmd') + 1).join(' ');
    calls.push(`${dbus ? 'dbus ' : ''}${call}${command.stdin === undefined ? '' : ` <${command.stdin.split('\n').join(',')}`}`);
    const out = answer(call, command.stdin, dbus ? command.argv[at] : undefined);
    if (typeof out === 'string' && out.startsWith('Error:')) throw execFailure(`${out}\n`);
    if (!dbus) return typeof out === 'string' ? out : 'success\n';
    return reply(out);
  };
  return { exec, calls };
}

const POLICY_SETTINGS = { target: 'CONTINUE', priority: -32000, ingress_zones: ['ANY'], egress_zones: ['HOST'], rich_rules: SSHD_RULES };
const POLICY_PATH = '/org/fedoraproject/FirewallD1/config/policy/1';
/** firewalld numbers the objects of its permanent configuration; a fake numbers them by name. */
const ipsetPath = (name: string): string => `/org/fedoraproject/FirewallD1/config/ipset/${name.replace(/\W/g, '_')}`;

/** firewalld with everything for sshd in place, runtime and permanent. */
const complete: Answer = (call) => {
  if (call === 'ipset.getIPSets' || call === 'config.getIPSetNames') return ['admin-allow', 'f2bs4-sshd', 'f2bs6-sshd'];
  if (call === 'policy.getPolicies' || call === 'config.getPolicyNames') return ['allow-host-ipv6', 'f2b-store'];
  if (call === 'config.getPolicyByName f2b-store') return POLICY_PATH;
  if (call.startsWith('config.getIPSetByName ')) return ipsetPath(call.split(' ')[1]!);
  if (call === 'policy.getPolicySettings f2b-store' || call === 'config.policy.getSettings') return POLICY_SETTINGS;
  if (call.startsWith('ipset.getEntries')) return [];
  return undefined;
};

describe('firewalld names and rules', () => {
  it('names one ipset per jail and family, and refuses names firewalld or the kernel would refuse', () => {
    assert.equal(firewalldIpset('sshd', 4), 'f2bs4-sshd');
    assert.equal(firewalldIpset('nginx-http-auth', 6), 'f2bs6-nginx-http-auth');
    assert.throws(() => firewalldIpset('my jail', 4), InputError);
    assert.throws(() => firewalldIpset('x"y', 4), InputError);
    assert.throws(() => firewalldIpset('a'.repeat(25), 6), /bad jail name/);
    assert.equal(firewalldIpset('a'.repeat(24), 6).length, 30, 'every jail name fits');
  });

  it('binds each family by a rich rule, one per port, with fail2ban ranges as firewalld ranges', () => {
    assert.deepEqual(firewalldRichRules({ name: 'recidive', blocktype: 'drop' }), [
      'rule family="ipv4" source ipset="f2bs4-recidive" drop',
      'rule family="ipv6" source ipset="f2bs6-recidive" drop',
    ]);
    assert.deepEqual(firewalldRichRules({ name: 'web', port: 'http, 8000:8100', protocol: 'tcp', blocktype: 'reject' }), [
      'rule family="ipv4" source ipset="f2bs4-web" port port="http" protocol="tcp" reject',
      'rule family="ipv4" source ipset="f2bs4-web" port port="8000-8100" protocol="tcp" reject',
      'rule family="ipv6" source ipset="f2bs6-web" port port="http" protocol="tcp" reject',
      'rule family="ipv6" source ipset="f2bs6-web" port port="8000-8100" protocol="tcp" reject',
    ]);
    assert.deepEqual(firewalldRichRules({ name: 'all', port: '22', protocol: 'all', blocktype: 'drop' }),
      firewalldRichRules({ name: 'all', blocktype: 'drop' }));
    assert.deepEqual(firewalldRichRules(SSHD), SSHD_RULES);
  });

  it('refuses ports and protocols that would change the meaning of the rule', () => {
    assert.throws(() => firewalldRichRules({ name: 'sshd', port: '22" accept', blocktype: 'drop' }), /bad port "22" accept"/);
    assert.throws(() => firewalldRichRules({ name: 'sshd', port: '22', protocol: 'tcp"', blocktype: 'drop' }), /bad protocol/);
  });

  it('reads dbus-send replies: lists, object paths, and a policy\'s settings with quotes inside its strings', () => {
    const settings = `method return time=1796197036.633035 sender=:1.1 -> destination=:1.15 serial=1959 reply_serial=2
   array [
      dict entry(
         string "target"
         variant             string "CONTINUE"
      )
      dict entry(
         string "masquerade"
         variant             boolean false
      )
      dict entry(
         string "rich_rules"
         variant             array [
               string "rule family="ipv4" source ipset="f2bs4-sshd" reject"
            ]
      )
      dict entry(
         string "priority"
         variant             int32 -32000
      )
      dict entry(
         string "ingress_zones"
         variant             array [
               string "ANY"
            ]
      )
      dict entry(
         string "egress_zones"
         variant             array [
            ]
      )
   ]
`;
    assert.deepEqual(parseDbusReply(settings), [{
      target: 'CONTINUE', masquerade: false, rich_rules: ['rule family="ipv4" source ipset="f2bs4-sshd" reject'], priority: -32000,
      ingress_zones: ['ANY'], egress_zones: [],
    }]);
    assert.deepEqual(policyInfo(parseDbusReply(settings)[0] as { [key: string]: DbusValue }),
      { ingressZones: ['ANY'], egressZones: [], richRules: ['rule family="ipv4" source ipset="f2bs4-sshd" reject'] });
    assert.deepEqual(parseDbusReply(reply(['f2bs4-sshd', 'admin-allow'])), [['f2bs4-sshd', 'admin-allow']]);
    assert.deepEqual(parseDbusReply('method return time=1 sender=:1.1 -> destination=:1.18 serial=1974 reply_serial=2\n   object path "/org/fedoraproject/FirewallD1/config/ipset/0"\n'),
      ['/org/fedoraproject/FirewallD1/config/ipset/0']);
    assert.deepEqual(parseDbusReply(reply()), []);
    assert.throws(() => parseDbusReply('Error org.fedoraproject.FirewallD1.Exception: INVALID_IPSET'), OperationError);
    assert.throws(() => parseDbusReply(reply().concat('   struct {\n')), /cannot read: struct \{/);
  });
});

describe('firewalld represent', () => {
  it('leaves out what a network of the same jail and family covers, and merges duplicates keeping the longest ban', () => {
    const held = representFirewalld([
      entry('sshd', '198.51.100.9', 100),
      entry('sshd', '198.51.100.0/24', 50),
      entry('sshd', '198.51.100.0/25', 60),
      entry('recidive', '198.51.100.9', 70),
      entry('sshd', '2001:db8::1'),
      entry('sshd', '2001:db8::/32', 10),
      entry('sshd', '2001:db9::1', 5),
      entry('sshd', '203.0.113.7', 5),
      entry('sshd', '::ffff:203.0.113.7', 9),
      entry('sshd', 'not an address'),
    ]);
    assert.deepEqual(held.map((e) => `${e.jail} ${e.address} ${e.family} ${e.expiresAt}`), [
      'sshd 198.51.100.0/24 4 50',
      'recidive 198.51.100.9 4 70',
      'sshd 2001:db8::/32 6 10',
      'sshd 2001:db9::1 6 5',
      'sshd 203.0.113.7 4 9',
    ]);
    assert.equal(representFirewalld([entry('sshd', '203.0.113.7', 9), entry('sshd', '203.0.113.7', null)])[0]!.expiresAt, null);
  });
});

describe('firewalld plan', () => {
  const backend = createFirewalldBackend({ exec: fakeExec(() => 'success').exec });

  it('runs removals first, runtime before permanent; a few entries one D-Bus call each, the permanent ones on the path looked up for the ipset', () => {
    const plan = backend.plan({
      add: [entry('sshd', '203.0.113.7'), entry('sshd', '2001:DB8::66'), entry('sshd', '198.51.100.1/24'), entry('x y', '203.0.113.8')],
      remove: [entry('sshd', '203.0.113.9'), entry('sshd', 'bogus')],
    }, [SSHD], 0);
    const runtime = (method: string, ipset: string, address: string): string =>
      `${DBUS} /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.ipset.${method} string:${ipset} string:${address}`;
    const lookup = (ipset: string): string => `${DBUS} /org/fedoraproject/FirewallD1/config org.fedoraproject.FirewallD1.config.getIPSetByName string:${ipset}`;
    const permanent = (method: string, ipset: string, address: string): string =>
      `${DBUS} '<path of ${ipset}>' org.fedoraproject.FirewallD1.config.ipset.${method} string:${address}`;
    assert.deepEqual(shown(plan), [
      runtime('removeEntry', 'f2bs4-sshd', '203.0.113.9'),
      lookup('f2bs4-sshd'),
      permanent('removeEntry', 'f2bs4-sshd', '203.0.113.9'),
      runtime('addEntry', 'f2bs4-sshd', '203.0.113.7'),
      runtime('addEntry', 'f2bs4-sshd', '198.51.100.0/24'),
      lookup('f2bs4-sshd'),
      permanent('addEntry', 'f2bs4-sshd', '203.0.113.7'),
      permanent('addEntry', 'f2bs4-sshd', '198.51.100.0/24'),
      runtime('addEntry', 'f2bs6-sshd', '2001:db8::66'),
      lookup('f2bs6-sshd'),
      permanent('addEntry', 'f2bs6-sshd', '2001:db8::66'),
    ]);
    assert.ok(plan.every((c) => c.stdin === undefined && c.argv[0] === 'dbus-send'), 'no firewall-cmd for a few entries');
  });

  it('sends many entries as one file on stdin, runtime and permanent', () => {
    const add = Array.from({ length: 9 }, (_, i) => entry('sshd', `203.0.113.${i}`));
    const plan = backend.plan({ add, remove: [] }, [SSHD], 0);
    assert.deepEqual(plan.map((c) => c.argv.slice(4).join(' ')), [
      '--ipset=f2bs4-sshd --add-entries-from-file=/dev/stdin',
      '--permanent --ipset=f2bs4-sshd --add-entries-from-file=/dev/stdin',
    ]);
    assert.equal(plan[0]!.stdin, add.map((e) => e.address).join('\n'));
    // A fixed script turns Node's stdin socket into a pipe firewall-cmd can open as /dev/stdin.
    assert.deepEqual(plan[0]!.argv.slice(0, 4), ['sh', '-c', 'cat | exec firewall-cmd "$@"', 'firewall-cmd']);
  });

  it('is empty for an empty diff', () => {
    assert.deepEqual(backend.plan({ add: [], remove: [] }, [SSHD], 0), []);
  });
});

describe('firewalld census', () => {
  it('a drift tick lists the runtime ipsets once: the count takes what an ensure that changed nothing found', async () => {
    const { exec, calls } = fakeExec(complete);
    const backend = createFirewalldBackend({ exec });
    for (let tick = 0; tick < 2; tick++) {
      // Ticks are seconds apart: what one read is gone by the next.
      await new Promise((resolve) => setImmediate(resolve));
      calls.length = 0;
      assert.deepEqual((await backend.ensure([SSHD], 0)).ran, []);
      assert.deepEqual(Object.fromEntries(await backend.census!.count()), { 'f2bs4-sshd': 0, 'f2bs6-sshd': 0 });
      assert.deepEqual(calls.filter((call) => call === 'dbus ipset.getIPSets'), ['dbus ipset.getIPSets']);
    }
    await new Promise((resolve) => setImmediate(resolve));
    calls.length = 0;
    await backend.census!.count();
    assert.deepEqual(calls.filter((call) => call === 'dbus ipset.getIPSets'), ['dbus ipset.getIPSets'], 'alone, the count lists them');
  });
});

describe('firewalld ensure, list, apply, flush against a scripted firewalld', () => {
  it('ensure reads state through D-Bus and changes nothing when everything exists', async () => {
    const { exec, calls } = fakeExec(complete);
    assert.deepEqual((await createFirewalldBackend({ exec }).ensure([SSHD], 0)).ran, []);
    assert.deepEqual(calls.sort(), [
      'dbus config.getIPSetNames', 'dbus config.getPolicyByName f2b-store', 'dbus config.getPolicyNames', 'dbus config.policy.getSettings',
      'dbus ipset.getIPSets', 'dbus policy.getPolicies', 'dbus policy.getPolicySettings f2b-store',
    ]);
  });

  it('ensure on an empty firewalld creates ipsets and the policy with its rules permanently, then reloads, never asking for a missing policy', async () => {
    const { exec, calls } = fakeExec((call) => {
      if (call === 'ipset.getIPSets' || call === 'config.getIPSetNames') return ['admin-allow'];
      if (call === 'policy.getPolicies' || call === 'config.getPolicyNames') return ['allow-host-ipv6'];
      if (/^(policy\.getPolicySettings|config\.getPolicyByName|config\.policy\.)/.test(call)) return 'Error: INVALID_POLICY: f2b-store';
      return undefined;
    });
    const commands = (await createFirewalldBackend({ exec, maxelem: 4096 }).ensure([SSHD], 0)).ran;
    assert.deepEqual(shown(commands), [
      `${NEW_IPSET} f2bs4-sshd '' '' '' hash:net 2 family inet maxelem 4096 0`,
      `${NEW_IPSET} f2bs6-sshd '' '' '' hash:net 2 family inet6 maxelem 4096 0`,
      `${BUSCTL} /org/fedoraproject/FirewallD1/config org.fedoraproject.FirewallD1.config addPolicy 'sa{sv}' f2b-store 5 priority i -32000 target s CONTINUE `
        + `ingress_zones as 1 ANY egress_zones as 1 HOST rich_rules as 2 ${quoted(SSHD_RULES)}`,
      RELOAD,
    ]);
    assert.ok(commands.every((c) => c.argv[0] !== 'firewall-cmd' && c.stdin === undefined), 'no firewall-cmd');
    assert.ok(!calls.some((c) => c.startsWith('dbus ') && c.includes('f2b-store')), `no D-Bus call asks for the missing policy: ${calls.join('; ')}`);
  });

  it('ensure replaces a stale rule of a jail at runtime and permanently without reloading, and keeps rules of other jails', async () => {
    const other = 'rule family="ipv4" source ipset="f2bs4-other" drop';
    const stale = 'rule family="ipv4" source ipset="f2bs4-sshd" drop';
    const settings = { ...POLICY_SETTINGS, rich_rules: [stale, SSHD_RULES[1]!, other] };
    const { exec } = fakeExec((call) => (call === 'policy.getPolicySettings f2b-store' || call === 'config.policy.getSettings' ? settings : complete(call)));
    const ran = shown((await createFirewalldBackend({ exec }).ensure([SSHD], 0)).ran);
    const rules = `rich_rules as 3 ${quoted([SSHD_RULES[1]!, other, SSHD_RULES[0]!])}`;
    assert.deepEqual(ran, [
      `${BUSCTL} ${POLICY_PATH} org.fedoraproject.FirewallD1.config.policy update 'a{sv}' 1 ${rules}`,
      `${BUSCTL} /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.policy setPolicySettings 'sa{sv}' f2b-store 1 ${rules}`,
    ]);
  });

  it('ensure gives a policy of ours the zones it lacks in one settings call each, runtime and permanent, keeping the zones it has', async () => {
    const settings = { ...POLICY_SETTINGS, ingress_zones: ['public'], egress_zones: [] };
    const { exec } = fakeExec((call) => (call === 'policy.getPolicySettings f2b-store' || call === 'config.policy.getSettings' ? settings : complete(call)));
    const ran = shown((await createFirewalldBackend({ exec }).ensure([SSHD], 0)).ran);
    const zones = 'ingress_zones as 2 public ANY egress_zones as 1 HOST';
    assert.deepEqual(ran, [
      `${BUSCTL} ${POLICY_PATH} org.fedoraproject.FirewallD1.config.policy update 'a{sv}' 2 ${zones}`,
      `${BUSCTL} /org/fedoraproject/FirewallD1 org.fedoraproject.FirewallD1.policy setPolicySettings 'sa{sv}' f2b-store 2 ${zones}`,
    ]);
  });

  it('ensure moves the ipsets an earlier f2b-store bound in its policy to the new names, and leaves fail2ban\'s f2b-<jail> ipsets alone', async () => {
    const legacy = ['rule family="ipv4" source ipset="f2b-sshd" port port="22" protocol="tcp" reject', 'rule family="ipv6" source ipset="f2b-sshd-6" port port="22" protocol="tcp" reject'];
    const settings = { ...POLICY_SETTINGS, rich_rules: legacy };
    const ipsets = ['admin-allow', 'f2b-sshd', 'f2b-sshd-6', 'f2b-web'];
    const { exec, calls } = fakeExec((call) => {
      if (call === 'ipset.getIPSets' || call === 'config.getIPSetNames') return ipsets;
      if (call === 'policy.getPolicySettings f2b-store' || call === 'config.policy.getSettings') return settings;
      if (call === 'ipset.getEntries f2b-sshd') return ['203.0.113.7'];
      if (call === 'ipset.getEntries f2b-sshd-6') return ['2001:db8::7'];
      return complete(call);
    });
    const ensured = await createFirewalldBackend({ exec, maxelem: 4096 }).ensure([SSHD], 0);
    assert.deepEqual(shown(ensured.ran), [
      `${NEW_IPSET} f2bs4-sshd '' '' '' hash:net 2 family inet maxelem 4096 0`,
      `${NEW_IPSET} f2bs6-sshd '' '' '' hash:net 2 family inet6 maxelem 4096 0`,
      `sh -c 'cat | exec firewall-cmd "$@"' firewall-cmd --permanent --ipset=f2bs4-sshd --add-entries-from-file=/dev/stdin < (1 lines)`,
      `sh -c 'cat | exec firewall-cmd "$@"' firewall-cmd --permanent --ipset=f2bs6-sshd --add-entries-from-file=/dev/stdin < (1 lines)`,
      `${BUSCTL} ${POLICY_PATH} org.fedoraproject.FirewallD1.config.policy update 'a{sv}' 1 rich_rules as 2 ${quoted(SSHD_RULES)}`,
      `${DBUS} ${ipsetPath('f2b-sshd')} org.fedoraproject.FirewallD1.config.ipset.remove`,
      `${DBUS} ${ipsetPath('f2b-sshd-6')} org.fedoraproject.FirewallD1.config.ipset.remove`,
      `${RELOAD}`,
    ]);
    assert.ok(calls.includes('--permanent --ipset=f2bs4-sshd --add-entries-from-file=/dev/stdin <203.0.113.7'), calls.join('\n'));
    assert.ok(!calls.some((c) => c.includes('f2b-web')), 'fail2ban\'s ipset is not even read');
    assert.deepEqual(ensured.notes, ['firewalld: ipsets of an earlier f2b-store removed with their rules: f2b-sshd, f2b-sshd-6 '
      + '(entries copied: f2b-sshd into f2bs4-sshd, f2b-sshd-6 into f2bs6-sshd)']);
  });

  it('ensure re-creates a lost permanent ipset with the runtime entries, so a reload keeps them', async () => {
    const { exec, calls } = fakeExec((call) => {
      if (call === 'config.getIPSetNames') return ['f2bs4-sshd'];
      if (call === 'ipset.getEntries f2bs6-sshd') return ['2001:db8::1', '2001:db8::2'];
      return complete(call);
    });
    const ran = shown((await createFirewalldBackend({ exec }).ensure([SSHD], 0)).ran);
    assert.equal(ran.length, 2);
    assert.match(ran[0]!, / addIPSet 's\(ssssa\{ss\}as\)' f2bs6-sshd /);
    assert.ok(calls.includes('--permanent --ipset=f2bs6-sshd --add-entries-from-file=/dev/stdin <2001:db8::1,2001:db8::2'));
  });

  it('list reads the runtime entries of every f2bs4-/f2bs6- ipset, canonical, with jail and family', async () => {
    const { exec } = fakeExec((call) => {
      if (call === 'ipset.getIPSets') return ['admin-allow', 'f2bs4-sshd', 'f2bs6-sshd', 'f2bs4-web-6'];
      if (call === 'ipset.getEntries f2bs4-sshd') return ['203.0.113.7', '198.51.100.0/24'];
      if (call === 'ipset.getEntries f2bs6-sshd') return ['2001:DB8:0::66'];
      if (call === 'ipset.getEntries f2bs4-web-6') return ['203.0.113.8'];
      return 'Error: unexpected';
    });
    assert.deepEqual(await createFirewalldBackend({ exec }).list(), [
      { jail: 'sshd', address: '203.0.113.7', family: 4 },
      { jail: 'sshd', address: '198.51.100.0/24', family: 4 },
      { jail: 'web-6', address: '203.0.113.8', family: 4 },
      { jail: 'sshd', address: '2001:db8::66', family: 6 },
    ]);
  });

  it('census counts the runtime entries of every f2bs4-/f2bs6- ipset', async () => {
    const { exec } = fakeExec((call) => {
      if (call === 'ipset.getIPSets') return ['admin-allow', 'f2bs4-sshd', 'f2bs6-sshd'];
      if (call === 'ipset.getEntries f2bs4-sshd') return ['203.0.113.7', '198.51.100.0/24'];
      if (call === 'ipset.getEntries f2bs6-sshd') return [];
      return 'Error: unexpected';
    });
    const census = createFirewalldBackend({ exec }).census!;
    assert.deepEqual([...await census.count()], [['f2bs4-sshd', 2], ['f2bs6-sshd', 0]]);
    assert.equal(census.objectOf(entry('sshd', '2001:db8::66')), 'f2bs6-sshd');
  });

  it('apply splits a refused file until the refused entry stands alone, and keeps it out of the permanent config', async () => {
    const { exec, calls } = fakeExec((call, stdin) =>
      ([call, ...(stdin?.split('\n') ?? [])].some((a) => a.endsWith('198.51.100.9')) ? "Error: INVALID_ENTRY: Entry '198.51.100.9' overlaps" : undefined));
    const add = Array.from({ length: 12 }, (_, i) => entry('sshd', i === 9 ? '198.51.100.9' : `203.0.113.${i}`));
    const report = await createFirewalldBackend({ exec }).apply({ add, remove: [] }, [SSHD], 0);
    assert.equal(report.added, 11);
    assert.deepEqual(report.failed.map((f) => f.entry.address), ['198.51.100.9']);
    assert.match(report.failed[0]!.error, /INVALID_ENTRY/);
    // The file of 12, its halves until the refused entry stands alone (6, 6, 3, 3, 2, then 1, 1, 1
    // one D-Bus call each), then the 11 accepted into the permanent config.
    assert.equal(calls.length, 1 + 8 + 1);
    assert.equal(calls.at(-1), `--permanent --ipset=f2bs4-sshd --add-entries-from-file=/dev/stdin <${add.filter((_, i) => i !== 9).map((e) => e.address).join(',')}`);
  });

  it('apply goes on past a refused entry among a few, and takes an entry already there or already gone as done', async () => {
    const { exec, calls } = fakeExec((call, _, path) => {
      if (call.startsWith('config.ipset.') && path !== ipsetPath('f2bs4-sshd')) return `Error: INVALID_IPSET: no ipset at ${path}`;
      if (call === 'ipset.addEntry f2bs4-sshd 198.51.100.9') return 'Error: INVALID_ENTRY: overlaps';
      if (call === 'ipset.addEntry f2bs4-sshd 203.0.113.3') return "Error: ALREADY_ENABLED: '203.0.113.3' already is in 'f2bs4-sshd'";
      if (call === 'ipset.removeEntry f2bs4-sshd 203.0.113.4') return "Error: NOT_ENABLED: '203.0.113.4' not in 'f2bs4-sshd'";
      if (call === 'config.ipset.addEntry 203.0.113.1') return 'Error: ALREADY_ENABLED: 203.0.113.1';
      if (call === 'config.ipset.removeEntry 203.0.113.4') return 'Error: NOT_ENABLED: 203.0.113.4';
      return complete(call);
    });
    const add = ['203.0.113.1', '198.51.100.9', '203.0.113.3'].map((a) => entry('sshd', a));
    const report = await createFirewalldBackend({ exec }).apply({ add, remove: [entry('sshd', '203.0.113.4')] }, [SSHD], 0);
    assert.deepEqual({ added: report.added, removed: report.removed, failed: report.failed.map((f) => f.entry.address) },
      { added: 2, removed: 1, failed: ['198.51.100.9'] });
    // The permanent configuration through the object path of the ipset, looked up once per batch.
    assert.deepEqual(calls, [
      'dbus ipset.removeEntry f2bs4-sshd 203.0.113.4',
      'dbus config.getIPSetByName f2bs4-sshd',
      'dbus config.ipset.removeEntry 203.0.113.4',
      'dbus ipset.addEntry f2bs4-sshd 203.0.113.1',
      'dbus ipset.addEntry f2bs4-sshd 198.51.100.9',
      'dbus ipset.addEntry f2bs4-sshd 203.0.113.3',
      'dbus config.getIPSetByName f2bs4-sshd',
      'dbus config.ipset.addEntry 203.0.113.1',
      'dbus config.ipset.addEntry 203.0.113.3',
    ]);

  });

  it('apply does not retry one by one what fails for every entry alike', async () => {
    const { exec, calls } = fakeExec(() => 'Error: NOT_RUNNING');
    const add = Array.from({ length: 100 }, (_, i) => entry('sshd', `203.0.113.${i}`));
    const report = await createFirewalldBackend({ exec }).apply({ add, remove: [] }, [SSHD], 0);
    assert.equal(report.added, 0);
    assert.equal(report.failed.length, 100);
    assert.equal(calls.length, 1);
  });

  it('apply counts removing from a missing ipset as done, adding to one as a failure, and an unreadable entries file as a failure', async () => {
    const gone = fakeExec(() => 'Error: INVALID_IPSET: f2bs4-sshd');
    assert.deepEqual(await createFirewalldBackend({ exec: gone.exec }).apply({ add: [], remove: [entry('sshd', '203.0.113.7')] }, [SSHD], 0),
      { added: 0, removed: 1, failed: [] });
    const permanentGone = fakeExec((call) => (call.startsWith('config.getIPSetByName') ? 'Error: INVALID_IPSET: f2bs4-sshd' : undefined));
    const two = [entry('sshd', '203.0.113.7'), entry('sshd', '203.0.113.8')];
    const refused = await createFirewalldBackend({ exec: permanentGone.exec }).apply({ add: two, remove: [] }, [SSHD], 0);
    assert.deepEqual(refused.failed.map((f) => f.entry.address), ['203.0.113.7', '203.0.113.8']);
    assert.match(refused.failed[0]!.error, /INVALID_IPSET/);
    assert.equal(permanentGone.calls.filter((c) => c.startsWith('dbus config.getIPSetByName')).length, 1, 'looked up once');

    const unreadable = fakeExec((call) => (call.startsWith('--permanent') ? "Failed to read file '/dev/stdin': [Errno 6] No such device or address" : undefined));
    const nine = Array.from({ length: 9 }, (_, i) => entry('sshd', `203.0.113.${i}`));
    const report = await createFirewalldBackend({ exec: unreadable.exec }).apply({ add: nine, remove: [] }, [SSHD], 0);
    assert.equal(report.added, 0);
    assert.equal(report.failed.length, 9);
    assert.match(report.failed[0]!.error, /Failed to read file/);
  });

  it('flush deletes the policy before the ipsets its rules use, then reloads, all through D-Bus', async () => {
    const changes: string[] = [];
    const { exec, calls } = fakeExec((call, _, path) => {
      if (/\.remove$|^reload$/.test(call)) changes.push(`${call} ${path}`);
      return complete(call);
    });
    await createFirewalldBackend({ exec }).flush();
    assert.deepEqual(changes, [
      `config.policy.remove ${POLICY_PATH}`,
      `config.ipset.remove ${ipsetPath('f2bs4-sshd')}`,
      `config.ipset.remove ${ipsetPath('f2bs6-sshd')}`,
      'reload /org/fedoraproject/FirewallD1',
    ]);
    assert.deepEqual(calls.filter((c) => !c.startsWith('dbus ')), [], 'no firewall-cmd');
  });
});
