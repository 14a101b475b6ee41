import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCommand, type Exec } from '../../src/backends/exec.js';
import { parsePolicyInfo } from '../../src/backends/firewalld-commands.js';
import { createFirewalldBackend, firewalldIpset, firewalldRichRules, representFirewalld } from '../../src/backends/firewalld.js';
import type { Command, Entry, JailRule } from '../../src/backends/types.js';
import { InputError, OperationError } from '../../src/core/index.js';

const entry = (jail: string, address: string, expiresAt: number | null = null): Entry =>
  ({ jail, address, family: address.includes(':') ? 6 : 4, expiresAt });
const shown = (commands: readonly Command[]): string[] => commands.map(describeCommand);
const SSHD: JailRule = { name: 'sshd', port: '22', blocktype: 'reject' };
const SSHD_RULES = [
  'rule family="ipv4" source ipset="f2b-sshd" port port="22" protocol="tcp" reject',
  'rule family="ipv6" source ipset="f2b-sshd-6" port port="22" protocol="tcp" reject',
];

const POLICY_INFO = `f2b-store (active)
  priority: -32000
  target: CONTINUE
  ingress-zones: ANY
  egress-zones: HOST
  services: 
  ports: 
  protocols: 
  masquerade: no
  forward-ports: 
  source-ports: 
  icmp-blocks: 
  rich rules: 
\t${SSHD_RULES[0]}
\t${SSHD_RULES[1]}
`;

/**
 * A scripted firewall-cmd: `answer` gets the arguments after `firewall-cmd` (and stdin) and
 * returns stdout, or a string starting with `Error:` to fail the way systemExec fails.
 */
function fakeExec(answer: (args: string[], stdin?: string) => string): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (command) => {
    const at = command.argv.lastIndexOf('firewall-cmd');
    const args = command.argv.slice(at + 1);
    calls.push([...args, ...(command.stdin === undefined ? [] : [`<${command.stdin.split('\n').join(',')}`])].join(' '));
    const out = answer(args, command.stdin);
    if (out.startsWith('Error:')) throw new OperationError(`${describeCommand(command)}: ${out}`);
    return out;
  };
  return { exec, calls };
}

/** firewalld with everything for sshd in place, runtime and permanent. */
const complete = (args: string[]): string => {
  if (args.includes('--get-ipsets')) return 'admin-allow f2b-sshd f2b-sshd-6\n';
  if (args.some((a) => a.startsWith('--info-policy'))) return POLICY_INFO;
  return 'success\n';
};

describe('firewalld names and rules', () => {
  it('names one ipset per jail and family, and refuses names firewalld or the kernel would refuse', () => {
    assert.equal(firewalldIpset('sshd', 4), 'f2b-sshd');
    assert.equal(firewalldIpset('nginx-http-auth', 6), 'f2b-nginx-http-auth-6');
    assert.throws(() => firewalldIpset('my jail', 4), InputError);
    assert.throws(() => firewalldIpset('x"y', 4), InputError);
    assert.throws(() => firewalldIpset('a'.repeat(26), 6), /at most 25 characters/);
  });

  it('binds each family by a rich rule, one per port, with fail2ban ranges as firewalld ranges', () => {
    assert.deepEqual(firewalldRichRules({ name: 'recidive', blocktype: 'drop' }), [
      'rule family="ipv4" source ipset="f2b-recidive" drop',
      'rule family="ipv6" source ipset="f2b-recidive-6" drop',
    ]);
    assert.deepEqual(firewalldRichRules({ name: 'web', port: 'http, 8000:8100', protocol: 'tcp', blocktype: 'reject' }), [
      'rule family="ipv4" source ipset="f2b-web" port port="http" protocol="tcp" reject',
      'rule family="ipv4" source ipset="f2b-web" port port="8000-8100" protocol="tcp" reject',
      'rule family="ipv6" source ipset="f2b-web-6" port port="http" protocol="tcp" reject',
      'rule family="ipv6" source ipset="f2b-web-6" port port="8000-8100" protocol="tcp" reject',
    ]);
    assert.deepEqual(firewalldRichRules({ name: 'all', port: '22', protocol: 'all', blocktype: 'drop' }),
      firewalldRichRules({ name: 'all', blocktype: 'drop' }));
    assert.deepEqual(firewalldRichRules(SSHD), SSHD_RULES);
  });

  it('refuses ports and protocols that would change the meaning of the rule', () => {
    assert.throws(() => firewalldRichRules({ name: 'sshd', port: '22" accept', blocktype: 'drop' }), /bad port "22" accept"/);
    assert.throws(() => firewalldRichRules({ name: 'sshd', port: '22', protocol: 'tcp"', blocktype: 'drop' }), /bad protocol/);
  });

  it('reads firewall-cmd --info-policy', () => {
    assert.deepEqual(parsePolicyInfo(POLICY_INFO), { ingressZones: ['ANY'], egressZones: ['HOST'], richRules: SSHD_RULES });
    assert.deepEqual(parsePolicyInfo('f2b-store\n  ingress-zones: \n  egress-zones: \n  rich rules: \n'),
      { ingressZones: [], egressZones: [], richRules: [] });
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

  it('runs removals first, runtime before permanent; a few entries one by one at runtime, the permanent config by file', () => {
    const plan = backend.plan({
      add: [entry('sshd', '203.0.113.7'), entry('sshd', '2001:DB8::66'), entry('sshd', '198.51.100.1/24'), entry('x y', '203.0.113.8')],
      remove: [entry('sshd', '203.0.113.9'), entry('sshd', 'bogus')],
    }, [SSHD], 0);
    const viaFile = (args: string): string => `sh -c 'cat | exec firewall-cmd "$@"' firewall-cmd ${args}-entries-from-file=/dev/stdin < (1 lines)`;
    assert.deepEqual(shown(plan), [
      'firewall-cmd --ipset=f2b-sshd --remove-entry=203.0.113.9',
      viaFile('--permanent --ipset=f2b-sshd --remove'),
      'firewall-cmd --ipset=f2b-sshd --add-entry=203.0.113.7',
      'firewall-cmd --ipset=f2b-sshd --add-entry=198.51.100.0/24',
      viaFile('--permanent --ipset=f2b-sshd --add').replace('(1 lines)', '(2 lines)'),
      'firewall-cmd --ipset=f2b-sshd-6 --add-entry=2001:db8::66',
      viaFile('--permanent --ipset=f2b-sshd-6 --add'),
    ]);
    assert.deepEqual(plan.filter((c) => c.stdin !== undefined).map((c) => c.stdin), ['203.0.113.9', '203.0.113.7\n198.51.100.0/24', '2001:db8::66']);
  });

  it('sends many entries as one file on stdin, at runtime too', () => {
    const add = Array.from({ length: 9 }, (_, i) => entry('sshd', `203.0.113.${i}`));
    const plan = backend.plan({ add, remove: [] }, [SSHD], 0);
    assert.deepEqual(plan.map((c) => c.argv.slice(4).join(' ')), [
      '--ipset=f2b-sshd --add-entries-from-file=/dev/stdin',
      '--permanent --ipset=f2b-sshd --add-entries-from-file=/dev/stdin',
    ]);
    assert.equal(plan[0]!.stdin, add.map((e) => e.address).join('\n'));
    // A fixed script turns Node's stdin socket into a pipe firewall-cmd can open as /dev/stdin.
    assert.deepEqual(plan[0]!.argv.slice(0, 4), ['sh', '-c', 'cat | exec firewall-cmd "$@"', 'firewall-cmd']);
  });

  it('is empty for an empty diff', () => {
    assert.deepEqual(backend.plan({ add: [], remove: [] }, [SSHD], 0), []);
  });
});

describe('firewalld ensure, list, apply, flush against a scripted firewall-cmd', () => {
  it('ensure reads state and changes nothing when everything exists', async () => {
    const { exec, calls } = fakeExec(complete);
    assert.deepEqual(await createFirewalldBackend({ exec }).ensure([SSHD], 0), []);
    assert.deepEqual(calls.sort(), ['--get-ipsets', '--info-policy=f2b-store', '--permanent --get-ipsets', '--permanent --info-policy=f2b-store']);
  });

  it('ensure on an empty firewalld creates ipsets, policy and rules permanently, then reloads', async () => {
    const { exec } = fakeExec((args) => {
      if (args.includes('--get-ipsets')) return 'admin-allow\n';
      if (args.some((a) => a.startsWith('--info-policy'))) return 'Error: INVALID_POLICY: f2b-store';
      return 'success';
    });
    const ran = shown(await createFirewalldBackend({ exec, maxelem: 4096 }).ensure([SSHD], 0));
    assert.deepEqual(ran, [
      'firewall-cmd --permanent --new-ipset=f2b-sshd --type=hash:net --option=family=inet --option=maxelem=4096',
      'firewall-cmd --permanent --new-ipset=f2b-sshd-6 --type=hash:net --option=family=inet6 --option=maxelem=4096',
      'firewall-cmd --permanent --new-policy=f2b-store',
      'firewall-cmd --permanent --policy=f2b-store --set-priority=-32000',
      'firewall-cmd --permanent --policy=f2b-store --add-ingress-zone=ANY',
      'firewall-cmd --permanent --policy=f2b-store --add-egress-zone=HOST',
      `firewall-cmd --permanent --policy=f2b-store '--add-rich-rule=${SSHD_RULES[0]}' '--add-rich-rule=${SSHD_RULES[1]}'`,
      'firewall-cmd --reload',
    ]);
  });

  it('ensure replaces a stale rule of a jail at runtime and permanently without reloading, and keeps rules of other jails', async () => {
    const other = 'rule family="ipv4" source ipset="f2b-other" drop';
    const info = POLICY_INFO.replace(SSHD_RULES[0]!, 'rule family="ipv4" source ipset="f2b-sshd" drop').concat(`\t${other}\n`);
    const { exec } = fakeExec((args) => (args.some((a) => a.startsWith('--info-policy')) ? info : complete(args)));
    const ran = shown(await createFirewalldBackend({ exec }).ensure([SSHD], 0));
    assert.deepEqual(ran, [
      `firewall-cmd --permanent --policy=f2b-store '--remove-rich-rule=rule family="ipv4" source ipset="f2b-sshd" drop'`,
      `firewall-cmd --permanent --policy=f2b-store '--add-rich-rule=${SSHD_RULES[0]}'`,
      `firewall-cmd --policy=f2b-store '--remove-rich-rule=rule family="ipv4" source ipset="f2b-sshd" drop'`,
      `firewall-cmd --policy=f2b-store '--add-rich-rule=${SSHD_RULES[0]}'`,
    ]);
  });

  it('ensure re-creates a lost permanent ipset with the runtime entries, so a reload keeps them', async () => {
    const { exec, calls } = fakeExec((args) => {
      if (args.join(' ') === '--permanent --get-ipsets') return 'f2b-sshd';
      if (args.join(' ') === '--ipset=f2b-sshd-6 --get-entries') return '2001:db8::1\n2001:db8::2\n';
      return complete(args);
    });
    const ran = shown(await createFirewalldBackend({ exec }).ensure([SSHD], 0));
    assert.equal(ran.length, 2);
    assert.match(ran[0]!, /--new-ipset=f2b-sshd-6 /);
    assert.ok(calls.includes('--permanent --ipset=f2b-sshd-6 --add-entries-from-file=/dev/stdin <2001:db8::1,2001:db8::2'));
  });

  it('list reads the runtime entries of every f2b- ipset, canonical, with jail and family', async () => {
    const { exec } = fakeExec((args) => {
      if (args.includes('--get-ipsets')) return 'admin-allow f2b-sshd f2b-sshd-6 f2b-web-6\n';
      if (args[0] === '--ipset=f2b-sshd') return '203.0.113.7\n198.51.100.0/24\n';
      if (args[0] === '--ipset=f2b-sshd-6') return '2001:DB8:0::66\n';
      if (args[0] === '--ipset=f2b-web-6') return '203.0.113.8\n';
      return 'Error: unexpected';
    });
    assert.deepEqual(await createFirewalldBackend({ exec }).list(), [
      { jail: 'sshd', address: '203.0.113.7', family: 4 },
      { jail: 'sshd', address: '198.51.100.0/24', family: 4 },
      { jail: 'sshd', address: '2001:db8::66', family: 6 },
      { jail: 'web-6', address: '203.0.113.8', family: 4 },
    ]);
  });

  it('apply splits a refused file until the refused entry stands alone, and keeps it out of the permanent config', async () => {
    const { exec, calls } = fakeExec((args, stdin) =>
      ([...args, ...(stdin?.split('\n') ?? [])].some((a) => a.endsWith('198.51.100.9')) ? "Error: INVALID_ENTRY: Entry '198.51.100.9' overlaps" : 'success'));
    const add = Array.from({ length: 12 }, (_, i) => entry('sshd', i === 9 ? '198.51.100.9' : `203.0.113.${i}`));
    const report = await createFirewalldBackend({ exec }).apply({ add, remove: [] }, [SSHD], 0);
    assert.equal(report.added, 11);
    assert.deepEqual(report.failed.map((f) => f.entry.address), ['198.51.100.9']);
    assert.match(report.failed[0]!.error, /INVALID_ENTRY/);
    // The file of 12, then two halves of 6 one by one, then the 11 accepted into the permanent config.
    assert.equal(calls.length, 1 + 12 + 1);
    assert.equal(calls.at(-1), `--permanent --ipset=f2b-sshd --add-entries-from-file=/dev/stdin <${add.filter((_, i) => i !== 9).map((e) => e.address).join(',')}`);
  });

  it('apply goes on past a refused entry among a few', async () => {
    const { exec, calls } = fakeExec((args) => (args.includes('--add-entry=198.51.100.9') ? 'Error: INVALID_ENTRY: overlaps' : 'success'));
    const add = ['203.0.113.1', '198.51.100.9', '203.0.113.3'].map((a) => entry('sshd', a));
    const report = await createFirewalldBackend({ exec }).apply({ add, remove: [] }, [SSHD], 0);
    assert.deepEqual({ added: report.added, failed: report.failed.map((f) => f.entry.address) }, { added: 2, failed: ['198.51.100.9'] });
    assert.deepEqual(calls, [
      '--ipset=f2b-sshd --add-entry=203.0.113.1',
      '--ipset=f2b-sshd --add-entry=198.51.100.9',
      '--ipset=f2b-sshd --add-entry=203.0.113.3',
      '--permanent --ipset=f2b-sshd --add-entries-from-file=/dev/stdin <203.0.113.1,203.0.113.3',
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

  it('apply counts removing from a missing ipset as done, and an unreadable entries file as a failure', async () => {
    const gone = fakeExec(() => 'Error: INVALID_IPSET: f2b-sshd');
    assert.deepEqual(await createFirewalldBackend({ exec: gone.exec }).apply({ add: [], remove: [entry('sshd', '203.0.113.7')] }, [SSHD], 0),
      { added: 0, removed: 1, failed: [] });
    const unreadable = fakeExec((args) => (args[0] === '--permanent' ? "Failed to read file '/dev/stdin': [Errno 6] No such device or address" : 'success'));
    const report = await createFirewalldBackend({ exec: unreadable.exec }).apply({ add: [entry('sshd', '203.0.113.7')], remove: [] }, [SSHD], 0);
    assert.equal(report.added, 0);
    assert.match(report.failed[0]!.error, /Failed to read file/);
  });

  it('flush deletes the policy before the ipsets its rules use, then reloads', async () => {
    const { exec } = fakeExec(complete);
    const ran: string[] = [];
    await createFirewalldBackend({ exec: async (c) => { ran.push(describeCommand(c)); return exec(c); } }).flush();
    assert.deepEqual(ran.filter((c) => !/--get-ipsets|--info-policy/.test(c)), [
      'firewall-cmd --permanent --delete-policy=f2b-store',
      'firewall-cmd --permanent --delete-ipset=f2b-sshd',
      'firewall-cmd --permanent --delete-ipset=f2b-sshd-6',
      'firewall-cmd --reload',
    ]);
  });
});
