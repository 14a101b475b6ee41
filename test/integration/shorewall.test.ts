/**
 * The shorewall backend against the real shorewall and shorewall6, started inside a namespace of
 * the test's own (see startPrivateShorewall): its dynamic blacklist, read back with `show dynamic`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parseShorewallDynamic, systemExec, type Exec } from '../../src/backends/index.js';
import { createShorewallBackend } from '../../src/backends/shorewall.js';
import type { Backend, Command } from '../../src/backends/types.js';
import { nowSeconds, parseAddress } from '../../src/core/index.js';
import { entry, keys, reconcilePass, sshd } from '../helpers/backend.js';
import { startPrivateShorewall, type PrivateShorewall } from '../helpers/shorewall.js';
import type { Netns } from '../helpers/netns.js';
import { backendContract, watchedExec } from './backend-contract.js';

/**
 * One started shorewall and shorewall6 for the whole file (each start compiles both): the tests
 * that change its state put back what the next one needs, and the one that stops it runs last.
 */
let started: PrivateShorewall | undefined;
function sharedShorewall(): PrivateShorewall {
  started ??= startPrivateShorewall();
  assert.match(started.netns.name, /^f2bt-/);
  return started;
}
after(() => started?.close());

function withShorewall(fn: (ns: Netns, backend: Backend) => Promise<void>): () => Promise<void> {
  return async () => {
    const { netns } = sharedShorewall();
    await fn(netns, createShorewallBackend({ exec: systemExec(netns.name) }));
  };
}

const dynamic = (ns: Netns): string => ns.runAll([['iptables', '-S', 'dynamic'], ['ip6tables', '-S', 'dynamic']]);

describe('shorewall backend', () => {
  it('reads only its own DROP rows of `show dynamic`, hosts without a prefix', () => {
    const text = [
      'Shorewall 5.2.8 Chain dynamic at vm - Wed Dec  2 12:58:09 UTC 2026', '', 'Chain dynamic (1 references)',
      ' pkts bytes target     prot opt in     out     source               destination         ',
      '    0     0 DROP       0    --  *      *       198.51.100.0/24      0.0.0.0/0           ',
      '    0     0 reject     0    --  *      *       203.0.113.9          0.0.0.0/0           ',
      '   12  720 DROP       all  --  *      *       203.0.113.5          0.0.0.0/0           ',
      '    0     0 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0            source IP range 1.2.3.4-1.2.3.9',
      '    0     0 ACCEPT     0    --  *      *       203.0.113.6          0.0.0.0/0           ', '',
    ].join('\n');
    assert.deepEqual(keys(parseShorewallDynamic(text, 4)), ['* 198.51.100.0/24', '* 203.0.113.5']);
    assert.deepEqual(parseShorewallDynamic(' pkts bytes target prot opt in out source destination\n 0 0 DROP 0 * * 2001:db8::5 ::/0\n', 6),
      [{ jail: '*', address: '2001:db8::5', family: 6 }]);
  });

  it('plans one drop and one allow per family, with validated addresses only', () => {
    const backend = createShorewallBackend({ exec: async () => '' });
    const plan = backend.plan({ add: [entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::7')], remove: [entry('*', '198.51.100.0/24')] }, [sshd], 0);
    assert.deepEqual(plan.map((c) => c.argv), [['shorewall', 'allow', '198.51.100.0/24'], ['shorewall', 'drop', '203.0.113.7'], ['shorewall6', 'drop', '2001:db8::7']]);
    // Text from a log line that is not a canonical address never reaches shorewall's command line.
    for (const address of ['from', '203.0.113.1-203.0.113.9', '10.1.2.3/8', '-x', '203.0.113.7; reboot']) {
      assert.throws(() => backend.plan({ add: [{ jail: 'sshd', address, family: 4, expiresAt: null }], remove: [] }, [sshd], 0), /refusing/);
    }
  });

  it('its blacklist survives `shorewall restart`; the administrator\'s reject entry is never ours', withShorewall(async (ns, backend) => {
    ns.run(['shorewall', 'reject', '203.0.113.200']);
    const now = nowSeconds();
    const desired = [entry('sshd', '203.0.113.7'), entry('web', '203.0.113.7', now + 60), entry('sshd', '2001:db8::7'), entry('sshd', '198.51.100.0/24')];
    const { report } = await reconcilePass(backend, [sshd], desired, now);
    assert.deepEqual([report.added, report.failed], [3, []]);
    const dropped = dynamic(ns);
    assert.match(dropped, /-A dynamic -s 203\.0\.113\.7\/32 -j DROP/);
    assert.match(dropped, /-A dynamic -s 2001:db8::7\/128 -j DROP/);
    ns.run(['shorewall', 'restart']);
    assert.deepEqual(keys(await backend.list()), ['* 198.51.100.0/24', '* 2001:db8::7', '* 203.0.113.7']);
    await backend.flush();
    assert.deepEqual(await backend.list(), []);
    assert.match(dynamic(ns), /-A dynamic -s 203\.0\.113\.200\/32 -j reject/);
  }));
});

/** The DROP rules of the dynamic chains, as `keys()` gives them (jail `*`: the blacklist has none). */
const shown = (ns: Netns): string[] => dynamic(ns).split('\n').flatMap((line) => {
  const rule = /^-A dynamic -s (\S+?)(?:\/32|\/128)? -j DROP$/.exec(line);
  return rule ? [`* ${parseAddress(rule[1]!).text}`] : [];
}).sort();

/** The address shorewall is made to refuse: on its way, it becomes one iptables refuses (no canonical address is). */
const REFUSED = '203.0.113.66';

/** Makes `shorewall drop` get REFUSED as `REFUSED/33`: shorewall then stops there and still exits 0, as with an address iptables refuses. */
const refusing = (inner: Exec): Exec => (command: Command) =>
  inner(command.argv[1] === 'drop' ? { ...command, argv: command.argv.map((a) => (a === REFUSED ? `${a}/33` : a)) } : command);

backendContract({
  name: 'shorewall',
  refusal: { held: [], refused: entry('sshd', REFUSED), error: new RegExp(`^shorewall: did not drop ${REFUSED.replace(/\./g, '\\.')} `) },
  async open() {
    const { netns: ns } = sharedShorewall();
    const { exec, watch } = watchedExec(refusing(systemExec(ns.name)), (c) => c.argv.includes('-L'));
    const foreign = (): string => dynamic(ns).split('\n').filter((l) => l.startsWith('-A') && !l.endsWith('-j DROP')).join('\n');
    return {
      async fresh() {
        ns.runAll([['iptables', '-F', 'dynamic'], ['ip6tables', '-F', 'dynamic']]);
        return {
          backend: createShorewallBackend({ exec }),
          shown: async () => shown(ns),
          objects: async () => dynamic(ns).split('\n').filter((l) => l.endsWith('-j DROP')),
          watch,
          wipes: [{ name: 'iptables -F dynamic, ip6tables -F dynamic', run: () => void ns.runAll([['iptables', '-F', 'dynamic'], ['ip6tables', '-F', 'dynamic']]) }],
          async plantForeign() {
            ns.run(['shorewall', 'reject', '203.0.113.200']);
            ns.run(['shorewall6', 'reject', '2001:db8::200']);
            return async () => foreign();
          },
        };
      },
      async close() {},
    };
  },
});

// Last: it stops the shared shorewall.
describe('shorewall backend, stopped', () => {
  it('a stopped shorewall is an error naming what to do, and nothing is reported as held', withShorewall(async (ns, backend) => {
    ns.run(['shorewall', 'stop']);
    await assert.rejects(backend.list(), /shorewall: cannot read its dynamic blacklist \(is it started, with DYNAMIC_BLACKLIST=Yes\?\)/);
  }));
});
