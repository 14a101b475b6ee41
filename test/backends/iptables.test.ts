import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Exec } from '../../src/backends/exec.js';
import { createIptablesBackend } from '../../src/backends/iptables.js';
import type { Command, Entry, EntryKey, JailRule } from '../../src/backends/types.js';
import { parseAddress } from '../../src/core/index.js';
import { execFailure } from '../helpers/exec-error.js';
import { SAVE_V4, SAVE_V6 } from '../helpers/iptables-save.js';

const NOW = 1_800_000_000;
const sshd: JailRule = { name: 'sshd', blocktype: 'reject' };

function entry(jail: string, address: string, expiresAt: number | null = null): Entry {
  const parsed = parseAddress(address);
  return { jail, address: parsed.text, family: parsed.family, expiresAt };
}

const keys = (entries: readonly EntryKey[]): string[] => entries.map((e) => `${e.family} ${e.jail} ${e.address}`).sort();

function fakeExec(respond: (command: Command, argv: string) => string): { exec: Exec; ran: Command[]; argvs: () => string[] } {
  const ran: Command[] = [];
  return {
    ran,
    argvs: () => ran.map((c) => c.argv.join(' ')),
    exec: async (command) => {
      ran.push(command);
      return respond(command, command.argv.join(' '));
    },
  };
}

function saves(v4 = SAVE_V4, v6 = SAVE_V6): (command: Command, argv: string) => string {
  return (_command, argv) => {
    if (argv === 'iptables-save -t filter') return v4;
    if (argv === 'ip6tables-save -t filter') return v6;
    return '';
  };
}

describe('iptables backend list', () => {
  it('reads the ban rules of its chains of both families, canonical, each address once', async () => {
    const fake = fakeExec(saves());
    assert.deepEqual(keys(await createIptablesBackend({ exec: fake.exec }).list()), [
      '4 sshd 198.51.100.0/24', '4 sshd 203.0.113.7', '6 sshd 2001:db8:0:0:1::/80', '6 sshd 2001:db8::1',
    ]);
    assert.deepEqual(fake.argvs(), ['iptables-save -t filter', 'ip6tables-save -t filter']);
  });
});

describe('iptables backend ensure', () => {
  it('changes nothing when chains, RETURN and jumps exist', async () => {
    const fake = fakeExec(saves());
    assert.deepEqual((await createIptablesBackend({ exec: fake.exec }).ensure([{ name: 'sshd', port: 'ssh,2222', blocktype: 'reject' }], NOW)).ran, []);
    assert.deepEqual(fake.argvs(), [
      'iptables-save -t filter', 'ip6tables-save -t filter',
      'iptables -w -C INPUT -p tcp -m multiport --dports ssh,2222 -j f2bs-sshd', 'ip6tables -w -C INPUT -p tcp -m multiport --dports ssh,2222 -j f2bs-sshd',
    ]);
  });

  it('creates what is missing and replaces a jump whose ports changed, in one restore per family', async () => {
    // Flushed behind our back: the ip6tables chain is empty, its mark gone too.
    const v6 = SAVE_V6.replace(/^-A f2bs-sshd .*\n/gm, '');
    const fake = fakeExec((command, argv) => {
      if (argv.includes(' -C ')) throw execFailure('iptables: Bad rule (does a matching rule exist in that chain?).\n');
      return saves(SAVE_V4, v6)(command, argv);
    });
    const ran = (await createIptablesBackend({ exec: fake.exec }).ensure([sshd, { name: 'web', port: '80,443', blocktype: 'drop' }], NOW)).ran;
    assert.deepEqual(ran.map((c) => c.stdin), [
      `*filter
-I INPUT -j f2bs-sshd
-D INPUT -p tcp -m multiport --dports 22,2222 -j f2bs-sshd
-N f2bs-web
-A f2bs-web -m comment --comment f2b-store -j RETURN
-I INPUT -p tcp -m multiport --dports 80,443 -j f2bs-web
COMMIT
`,
      `*filter
-A f2bs-sshd -m comment --comment f2b-store -j RETURN
-I INPUT -j f2bs-sshd
-D INPUT -p tcp -m multiport --dports 22,2222 -j f2bs-sshd
-N f2bs-web
-A f2bs-web -m comment --comment f2b-store -j RETURN
-I INPUT -p tcp -m multiport --dports 80,443 -j f2bs-web
COMMIT
`,
    ]);
  });
});

describe('iptables backend census', () => {
  const SAVES = ['iptables-save -t filter', 'ip6tables-save -t filter'];

  it('a drift tick saves each table once: the count takes what an ensure that changed nothing read', async () => {
    const fake = fakeExec(saves());
    const backend = createIptablesBackend({ exec: fake.exec });
    for (let tick = 0; tick < 2; tick++) {
      // Ticks are seconds apart: what one read is gone by the next.
      await new Promise((resolve) => setImmediate(resolve));
      fake.ran.length = 0;
      assert.deepEqual((await backend.ensure([sshd], NOW)).ran, []);
      assert.deepEqual(Object.fromEntries(await backend.census!.count()), { 'iptables f2bs-sshd': 2, 'ip6tables f2bs-sshd': 2 });
      assert.deepEqual(fake.argvs().filter((argv) => argv.includes('-save')), SAVES);
    }
  });

  it('an ensure that changed something, or a turn of the event loop, makes the count save the tables again', async () => {
    const v6 = SAVE_V6.replace(/^-A f2bs-sshd .*\n/gm, '');
    const fake = fakeExec(saves(SAVE_V4, v6));
    const backend = createIptablesBackend({ exec: fake.exec });
    assert.equal((await backend.ensure([sshd], NOW)).ran.length, 1);
    fake.ran.length = 0;
    await backend.census!.count();
    assert.deepEqual(fake.argvs(), SAVES, 'after a change');
    const intact = fakeExec(saves());
    const again = createIptablesBackend({ exec: intact.exec });
    await again.ensure([sshd], NOW);
    await new Promise((resolve) => setImmediate(resolve));
    intact.ran.length = 0;
    await again.census!.count();
    assert.deepEqual(intact.argvs(), SAVES, 'a turn later');
  });
});

// fail2ban's `iptables` action for jail sshd (chain f2b-sshd, as an earlier f2b-store made it too),
// and a chain of our name that f2b-store did not make (no mark).
const OTHERS_V4 = `*filter
:INPUT ACCEPT [0:0]
:f2b-sshd - [0:0]
:f2bs-web - [0:0]
-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd
-A INPUT -j f2bs-web
-A f2b-sshd -s 198.51.100.77/32 -j REJECT --reject-with icmp-port-unreachable
-A f2b-sshd -j RETURN
-A f2bs-web -s 198.51.100.78/32 -j DROP
COMMIT
`;

describe('iptables backend beside chains it did not make', () => {
  const empty = '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n';
  const fake = (): ReturnType<typeof fakeExec> => fakeExec((command, argv) => {
    if (argv.includes(' -C ')) throw execFailure('iptables: Bad rule (does a matching rule exist in that chain?).\n');
    return saves(OTHERS_V4, empty)(command, argv);
  });

  it('skips only the jail whose chain name holds rules without its mark, and leaves fail2ban\'s f2b-<jail> chain alone', async () => {
    const exec = fake();
    const backend = createIptablesBackend({ exec: exec.exec });
    const ensured = await backend.ensure([sshd, { name: 'web', blocktype: 'drop' }], NOW);
    assert.deepEqual(ensured.skipped.map((s) => s.jail), ['web']);
    assert.match(ensured.skipped[0]?.error ?? '', /^jail web skipped: iptables chain f2bs-web holds rules but not f2b-store's mark/);
    assert.deepEqual(ensured.ran.map((c) => c.stdin), [
      '*filter\n-N f2bs-sshd\n-A f2bs-sshd -m comment --comment f2b-store -j RETURN\n-I INPUT -j f2bs-sshd\nCOMMIT\n',
      '*filter\n-N f2bs-sshd\n-A f2bs-sshd -m comment --comment f2b-store -j RETURN\n-I INPUT -j f2bs-sshd\nCOMMIT\n',
    ]);
    assert.deepEqual(ensured.notes.length, 1);
    assert.match(ensured.notes[0] ?? '', /^iptables: chain f2b-sshd left as it is: fail2ban names its chains so/);
    assert.deepEqual((await backend.ensure([sshd], NOW)).notes, [], 'told once');
  });

  it('reads no bans from, and removes nothing of, chains it did not make', async () => {
    const exec = fake();
    const backend = createIptablesBackend({ exec: exec.exec });
    assert.deepEqual(await backend.list(), []);
    assert.deepEqual(await backend.census?.count(), new Map());
    await backend.flush();
    assert.deepEqual(exec.ran.filter((c) => c.stdin !== undefined), [], 'nothing to flush');
  });
});

describe('iptables backend apply', () => {
  it('runs the plan as is when it goes through', async () => {
    const fake = fakeExec(saves());
    const backend = createIptablesBackend({ exec: fake.exec });
    const diff = { add: [entry('sshd', '203.0.113.20'), entry('sshd', '2001:db8::20')], remove: [] };
    assert.deepEqual(await backend.apply(diff, [sshd], NOW), { added: 2, removed: 0, failed: [] });
    assert.deepEqual(fake.ran, backend.plan(diff, [sshd], NOW));
  });

  it('when the plan fails, deletes by the saved text (every copy) and skips what is already there', async () => {
    const batches: string[] = [];
    const fake = fakeExec((command, argv) => {
      if (command.stdin !== undefined) {
        batches.push(command.stdin);
        if (batches.length === 1) throw execFailure('iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?).\n');
      }
      return saves()(command, argv);
    });
    const report = await createIptablesBackend({ exec: fake.exec }).apply({
      add: [entry('sshd', '198.51.100.0/24'), entry('sshd', '203.0.113.21')],
      remove: [entry('sshd', '203.0.113.7'), entry('sshd', '203.0.113.77')],
    }, [{ name: 'sshd', blocktype: 'drop' }], NOW);
    assert.deepEqual(report, { added: 2, removed: 2, failed: [] });
    assert.equal(batches[1], `*filter
-D f2bs-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
-D f2bs-sshd -s 203.0.113.7/32 -j REJECT --reject-with icmp-port-unreachable
-I f2bs-sshd -s 203.0.113.21/32 -j DROP
COMMIT
`);
  });

  it('verifies a removal and deletes a copy left behind', async () => {
    let removed = false;
    const fake = fakeExec((command, argv) => {
      if (argv.includes(' -C ')) {
        if (removed) return '';
        throw execFailure('iptables: Bad rule (does a matching rule exist in that chain?).\n');
      }
      if (command.stdin?.includes('-D f2bs-sshd -s 198.51.100.0/24 -j DROP')) removed = true;
      return saves()(command, argv);
    });
    const report = await createIptablesBackend({ exec: fake.exec }).apply({ add: [], remove: [entry('sshd', '198.51.100.0/24')] }, [{ name: 'sshd', blocktype: 'drop' }], NOW);
    assert.deepEqual(report, { added: 0, removed: 1, failed: [] });
    assert.deepEqual(fake.argvs(), [
      'iptables-restore -w --noflush', 'iptables -w -C f2bs-sshd -s 198.51.100.0/24 -j DROP', 'iptables-save -t filter', 'iptables-restore -w --noflush',
    ]);
  });

  it('splits a failing batch until the failing entry stands alone, reports it, and applies the rest', async () => {
    const batches: string[] = [];
    const fake = fakeExec((command, argv) => {
      if (command.stdin === undefined) return saves()(command, argv);
      batches.push(command.stdin);
      if (command.stdin.includes('203.0.113.31')) {
        throw execFailure(`iptables-restore: line ${command.stdin.split('\n').findIndex((l) => l.includes('203.0.113.31')) + 1} failed: Something\n`);
      }
      return '';
    });
    const report = await createIptablesBackend({ exec: fake.exec }).apply({
      add: [entry('sshd', '203.0.113.30'), entry('sshd', '203.0.113.31'), entry('sshd', '203.0.113.32'), entry('sshd', '203.0.113.33')], remove: [],
    }, [sshd], NOW);
    assert.equal(report.added, 3);
    assert.deepEqual(report.failed.map((f) => `${f.entry.address}: ${f.error}`), ['203.0.113.31: iptables-restore: line 2 failed: Something']);
    const rules = (batch: string | undefined): string[] => (batch ?? '').split('\n').filter((l) => l.startsWith('-I')).map((l) => l.split(' ')[3]!);
    // The plan, the same after reading the rules, its halves, and the failing half's halves.
    assert.deepEqual(batches.map(rules), [
      ['203.0.113.30/32', '203.0.113.31/32', '203.0.113.32/32', '203.0.113.33/32'],
      ['203.0.113.30/32', '203.0.113.31/32', '203.0.113.32/32', '203.0.113.33/32'],
      ['203.0.113.30/32', '203.0.113.31/32'],
      ['203.0.113.30/32'],
      ['203.0.113.31/32'],
      ['203.0.113.32/32', '203.0.113.33/32'],
    ]);
  });

  it('reports every entry, without retrying, when iptables-restore cannot run', async () => {
    const fake = fakeExec((command, argv) => {
      if (command.stdin !== undefined) throw execFailure('', 'missing');
      return saves()(command, argv);
    });
    const report = await createIptablesBackend({ exec: fake.exec }).apply({
      add: [entry('sshd', '203.0.113.40'), entry('sshd', '203.0.113.41'), entry('sshd', '203.0.113.42')], remove: [],
    }, [sshd], NOW);
    assert.equal(report.added, 0);
    assert.deepEqual(report.failed.map((f) => f.entry.address), ['203.0.113.40', '203.0.113.41', '203.0.113.42']);
    assert.equal(fake.ran.filter((c) => c.stdin !== undefined).length, 1);
  });

  it('fails additions to a chain that does not exist and unconfigured jails', async () => {
    const fake = fakeExec((command, argv) => {
      if (command.stdin !== undefined) throw execFailure('iptables-restore: line 2 failed: No chain/target/match by that name.\n');
      return saves()(command, argv);
    });
    const report = await createIptablesBackend({ exec: fake.exec }).apply({
      add: [entry('ghost', '203.0.113.50'), entry('nojail', '203.0.113.51')], remove: [],
    }, [sshd, { name: 'ghost', blocktype: 'drop' }], NOW);
    assert.deepEqual(report.failed.map((f) => `${f.entry.jail}: ${f.error}`).sort(), [
      'ghost: f2bs-ghost does not exist (ensure creates it)',
      'nojail: jail nojail is not configured for the iptables backend',
    ]);
  });
});

describe('iptables backend flush', () => {
  it('deletes the jumps, then flushes and deletes its chains, leaving the rest', async () => {
    const fake = fakeExec(saves());
    await createIptablesBackend({ exec: fake.exec }).flush();
    assert.deepEqual(fake.ran.filter((c) => c.stdin !== undefined).map((c) => c.stdin), [
      '*filter\n-D INPUT -p tcp -m multiport --dports 22,2222 -j f2bs-sshd\n-F f2bs-sshd\n-X f2bs-sshd\nCOMMIT\n',
      '*filter\n-D INPUT -p tcp -m multiport --dports 22,2222 -j f2bs-sshd\n-F f2bs-sshd\n-X f2bs-sshd\nCOMMIT\n',
    ]);
  });
});
