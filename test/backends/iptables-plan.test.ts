import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planFlush, planOps, planRestores, triageOps } from '../../src/backends/iptables-plan.js';
import { parseFilterTable, portMatch, splitArgs } from '../../src/backends/iptables-rules.js';
import type { Entry, JailRule } from '../../src/backends/types.js';
import { InputError, parseAddress } from '../../src/core/index.js';
import { SAVE_V4 } from '../helpers/iptables-save.js';

const NOW = 1_800_000_000;
const sshd: JailRule = { name: 'sshd', blocktype: 'reject' };

function entry(jail: string, address: string, expiresAt: number | null = null): Entry {
  const parsed = parseAddress(address);
  return { jail, address: parsed.text, family: parsed.family, expiresAt };
}

describe('iptables rule text', () => {
  it('splits saved rules like iptables-restore does', () => {
    assert.deepEqual(splitArgs('-s 192.0.2.9/32 -m comment --comment "keep \\"me\\" here" -j ACCEPT'),
      ['-s', '192.0.2.9/32', '-m', 'comment', '--comment', 'keep "me" here', '-j', 'ACCEPT']);
    assert.deepEqual(splitArgs('-m comment --comment "" -j DROP'), ['-m', 'comment', '--comment', '', '-j', 'DROP']);
  });

  it('reads chains and rules of the filter table only', () => {
    const table = parseFilterTable(`*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n${SAVE_V4}`);
    assert.deepEqual([...table.chains], ['INPUT', 'FORWARD', 'OUTPUT', 'f2bs-sshd', 'f2bs-x!', 'other']);
    assert.equal(table.rules.length, 9);
    assert.deepEqual(table.rules[0], {
      chain: 'INPUT', spec: '-p tcp -m multiport --dports 22,2222 -j f2bs-sshd', args: ['-p', 'tcp', '-m', 'multiport', '--dports', '22,2222', '-j', 'f2bs-sshd'],
    });
  });

  it('writes fail2ban port syntax as a multiport match', () => {
    assert.deepEqual(portMatch({ name: 'a', blocktype: 'drop' }), []);
    assert.deepEqual(portMatch({ name: 'a', port: 'ssh', blocktype: 'drop' }), ['-p', 'tcp', '-m', 'multiport', '--dports', 'ssh']);
    assert.deepEqual(portMatch({ name: 'a', port: ' http, https ', protocol: 'TCP', blocktype: 'drop' }), ['-p', 'tcp', '-m', 'multiport', '--dports', 'http,https']);
    assert.deepEqual(portMatch({ name: 'a', port: '8000:8100', protocol: 'sctp', blocktype: 'drop' }), ['-p', 'sctp', '-m', 'multiport', '--dports', '8000:8100']);
    for (const port of ['22 -j ACCEPT', '22,,23', '-1', ':22', '22\nCOMMIT', '$(reboot)']) {
      assert.throws(() => portMatch({ name: 'a', port, blocktype: 'drop' }), InputError, port);
    }
    assert.throws(() => portMatch({ name: 'a', port: '22', protocol: 'tcp\n-F', blocktype: 'drop' }), InputError);
  });
});

describe('iptables plan', () => {
  it('is one iptables-restore --noflush per family, written as iptables-save prints it', () => {
    const jails: JailRule[] = [sshd, { name: 'web', blocktype: 'drop' }];
    const plan = planRestores({
      add: [entry('sshd', '203.0.113.7'), entry('web', '198.51.100.0/24', NOW + 60), entry('sshd', '2001:db8::7'), entry('web', '203.0.113.8', NOW - 1)],
      remove: [entry('web', '203.0.113.9'), entry('sshd', '2001:db8::/32'), entry('gone', '203.0.113.10')],
    }, jails, NOW);
    assert.deepEqual(plan, [
      {
        argv: ['iptables-restore', '-w', '--noflush'],
        stdin: `*filter
-D f2bs-web -s 203.0.113.9/32 -j DROP
-D f2bs-gone -s 203.0.113.10/32 -j REJECT --reject-with icmp-port-unreachable
-I f2bs-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
-I f2bs-web -s 198.51.100.0/24 -j DROP
COMMIT
`,
      },
      {
        argv: ['ip6tables-restore', '-w', '--noflush'],
        stdin: `*filter
-D f2bs-sshd -s 2001:db8::/32 -j REJECT --reject-with icmp6-port-unreachable
-I f2bs-sshd -s 2001:db8::7/128 -j REJECT --reject-with icmp6-port-unreachable
COMMIT
`,
      },
    ]);
  });

  it('plans nothing for additions to unconfigured jails, invalid or expired entries', () => {
    assert.deepEqual(planRestores({
      add: [entry('other', '203.0.113.1'), entry('sshd', '203.0.113.2', NOW), { jail: 'sshd', address: '203.0.113.3 -j ACCEPT', family: 4, expiresAt: null }],
      remove: [{ jail: 'x\n-F', address: '203.0.113.4', family: 4 }],
    }, [sshd], NOW), []);
  });
});

describe('iptables plan from the rules really there', () => {
  it('settles each operation: present additions and absent removals are done, every copy is deleted by its saved text', () => {
    const { ops } = planOps({
      add: [entry('sshd', '203.0.113.7'), entry('web', '203.0.113.8')],
      remove: [entry('sshd', '198.51.100.0/24'), entry('sshd', '192.0.2.77')],
    }, [sshd, { name: 'web', blocktype: 'drop' }], NOW);
    const triage = triageOps(parseFilterTable(SAVE_V4), ops);
    assert.deepEqual(triage.applied.map((op) => `${op.kind} ${op.address}`), ['del 192.0.2.77', 'add 203.0.113.7']);
    assert.deepEqual(triage.failed.map(({ item, error }) => `${item.address}: ${String(error)}`), ['203.0.113.8: f2bs-web does not exist (ensure creates it)']);
    assert.deepEqual(triage.rest.map((op) => op.lines), [['-D f2bs-sshd -s 198.51.100.0/24 -j DROP']]);
  });

  it('flushes only its own chains, after deleting their jumps', () => {
    assert.deepEqual(planFlush(parseFilterTable(SAVE_V4)), {
      chains: ['f2bs-sshd'],
      lines: ['-D INPUT -p tcp -m multiport --dports 22,2222 -j f2bs-sshd', '-F f2bs-sshd', '-X f2bs-sshd'],
    });
  });
});
