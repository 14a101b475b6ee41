import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countsDiffer, createLine, growRestore, parseHeaders, parseMembers, planItems, planRestore, planSets, PROBE_SAMPLE, probeLines, setsDrift,
} from '../../src/backends/ipset-plan.js';
import type { Entry } from '../../src/backends/types.js';
import { parseAddress } from '../../src/core/index.js';

const NOW = 1_800_000_000;

function entry(jail: string, address: string, expiresAt: number | null = null): Entry {
  const parsed = parseAddress(address);
  return { jail, address: parsed.text, family: parsed.family, expiresAt };
}

describe('ipset plan', () => {
  it('is one ipset restore: removals first, timeouts as remaining seconds, permanent as 0', () => {
    const plan = planRestore({
      add: [entry('sshd', '203.0.113.7'), entry('sshd', '2001:db8::7', NOW + 600), entry('recidive', '198.51.100.0/24', NOW + 86_400)],
      remove: [entry('sshd', '203.0.113.9'), entry('sshd', '2001:db8::/32')],
    }, NOW);
    assert.deepEqual(plan, [{
      argv: ['ipset', 'restore', '-exist'],
      stdin: [
        'del f2bs4-sshd 203.0.113.9',
        'del f2bs6-sshd 2001:db8::/32',
        'add f2bs4-sshd 203.0.113.7 timeout 0',
        'add f2bs6-sshd 2001:db8::7 timeout 600',
        'add f2bs4-recidive 198.51.100.0/24 timeout 86400',
        '',
      ].join('\n'),
    }]);
  });

  it('leaves out expired entries, caps timeouts, keeps the longest of duplicates, skips invalid entries', () => {
    const plan = planRestore({
      add: [
        entry('sshd', '203.0.113.1', NOW - 5),
        entry('sshd', '203.0.113.2', NOW),
        entry('sshd', '203.0.113.3', NOW + 10 * 365 * 86_400),
        entry('sshd', '203.0.113.4', NOW + 60), entry('sshd', '203.0.113.4', NOW + 120), entry('sshd', '203.0.113.4', NOW + 90),
        entry('sshd', '203.0.113.5', null), entry('sshd', '203.0.113.5', NOW + 60),
        { jail: 'sshd', address: '203.0.113.6\nflush f2bs4-sshd', family: 4, expiresAt: null },
        { jail: 'bad jail', address: '203.0.113.7', family: 4, expiresAt: null },
      ],
      remove: [],
    }, NOW);
    assert.equal(plan[0]?.stdin, 'add f2bs4-sshd 203.0.113.3 timeout 2147483\nadd f2bs4-sshd 203.0.113.4 timeout 120\nadd f2bs4-sshd 203.0.113.5 timeout 0\n');
  });

  it('plans nothing for an empty diff', () => {
    assert.deepEqual(planRestore({ add: [entry('sshd', '203.0.113.1', NOW - 1)], remove: [] }, NOW), []);
  });
});

describe('ipset plan of sets', () => {
  const header = (name: string, type: string, family: string, timeout = ' timeout 0'): string =>
    `Name: ${name}\nType: ${type}\nHeader: family ${family} hashsize 1024 maxelem 65536${timeout}\nNumber of entries: 1\n`;

  it('creates missing sets, takes over an earlier f2b-store\'s, and skips a jail whose set name is someone else\'s', () => {
    const headers = parseHeaders([
      header('f2bs4-sshd', 'hash:net', 'inet'),
      header('f2b-web', 'hash:net', 'inet'),
      header('f2b-sshd', 'hash:ip', 'inet'),
      header('f2bs6-cj', 'hash:ip', 'inet6', ''),
    ].join('\n'));
    const planned = planSets(headers, [{ name: 'sshd', blocktype: 'drop' }, { name: 'web', blocktype: 'drop' }, { name: 'cj', blocktype: 'drop' }]);
    assert.deepEqual(planned.served.map((jail) => jail.name), ['sshd', 'web']);
    assert.match(planned.skipped[0]?.error ?? '', /^jail cj skipped: ipset f2bs6-cj is hash:ip family inet6 without timeout/);
    assert.deepEqual(planned.creates, [
      { name: 'f2bs6-sshd', family: 6 },
      { name: 'f2bs4-web', family: 4, from: 'f2b-web' },
      { name: 'f2bs6-web', family: 6 },
    ]);
    assert.deepEqual([...planned.legacy], ['f2b-web'], 'fail2ban\'s hash:ip set is not an earlier f2b-store\'s');
  });

  it('grows a set through a bigger copy swapped in, keeping options and leaving out what is removed', () => {
    const members = parseMembers('add f2bs4-sshd 203.0.113.7 timeout 0\nadd f2bs4-sshd 198.51.100.0/24 timeout 3599\n', 'f2bs4-sshd');
    const { items } = planItems({ add: [entry('sshd', '203.0.113.9')], remove: [entry('sshd', '203.0.113.7')] }, NOW);
    assert.equal(growRestore('f2bs4-sshd', 4, members, items).stdin, [
      'destroy f2bs4-sshd~',
      'create f2bs4-sshd~ hash:net family inet hashsize 1024 maxelem 65536 timeout 0',
      'add f2bs4-sshd~ 198.51.100.0/24 timeout 3599',
      'swap f2bs4-sshd~ f2bs4-sshd',
      'destroy f2bs4-sshd~',
      '',
    ].join('\n'));
  });
});

describe('ipset set sizes', () => {
  it('room for twice the entries, a hash of half as many buckets: 1,000,000 fit; the hash stops growing at 2^20 buckets', () => {
    assert.equal(createLine('s', 4, 0), 'create s hash:net family inet hashsize 1024 maxelem 65536 timeout 0');
    assert.equal(createLine('s', 4, 32_768), 'create s hash:net family inet hashsize 16384 maxelem 65536 timeout 0');
    assert.equal(createLine('s', 6, 1_000_000), 'create s hash:net family inet6 hashsize 524288 maxelem 2097152 timeout 0');
    assert.equal(createLine('s', 4, 5_000_000), 'create s hash:net family inet hashsize 1048576 maxelem 16777216 timeout 0');
  });
});

describe('ipset checks from `ipset list -t` alone', () => {
  const header = (name: string, entries: number, references: number, type = 'hash:net', family = name.startsWith('f2bs6') ? 'inet6' : 'inet'): string =>
    `Name: ${name}\nType: ${type}\nHeader: family ${family} hashsize 1024 maxelem 65536 timeout 0\nReferences: ${references}\nNumber of entries: ${entries}\n`;
  const jails = [{ name: 'sshd', blocktype: 'drop' as const }, { name: 'cj', blocktype: 'drop' as const }];
  const intact = [header('f2bs4-sshd', 3, 1), header('f2bs6-sshd', 0, 1), header('f2bs4-cj', 1, 0, 'hash:ip'), header('f2bs6-cj', 0, 0)];

  it('finds the sets of the jails in place, each matched by a rule; a jail whose set is someone else\'s is ensure\'s to skip', () => {
    assert.equal(setsDrift(parseHeaders(intact.join('\n')), jails), undefined);
  });

  it('finds a set missing and a set no rule matches', () => {
    assert.equal(setsDrift(parseHeaders(intact.slice(1).join('\n')), jails), 'ipset f2bs4-sshd does not exist');
    assert.equal(setsDrift(parseHeaders([header('f2bs4-sshd', 3, 1), header('f2bs6-sshd', 0, 0)].join('\n')), jails.slice(0, 1)), 'no rule matches ipset f2bs6-sshd');
  });

  it('compares the counts of every set of ours with what it should hold, sets that should be empty too', () => {
    const headers = parseHeaders(intact.join('\n'));
    const wanted = new Map([['f2bs4-sshd', ['203.0.113.1', '203.0.113.2', '198.51.100.0/24']]]);
    assert.equal(countsDiffer(headers, wanted), undefined);
    assert.equal(countsDiffer(headers, new Map([['f2bs4-sshd', ['203.0.113.1']]])), 'ipset f2bs4-sshd holds 3 entries, 1 expected');
    assert.equal(countsDiffer(headers, new Map([...wanted, ['f2bs6-web', ['2001:db8::1']]])), 'ipset f2bs6-web does not exist (ensure creates it)');
    assert.match(countsDiffer(headers, new Map([...wanted, ['f2bs4-cj', ['203.0.113.9']]])) ?? '', /^ipset f2bs4-cj is hash:ip .*someone else's/);
    const more = parseHeaders([...intact, header('f2bs6-web', 2, 1)].join('\n'));
    assert.equal(countsDiffer(more, wanted), 'ipset f2bs6-web holds 2 entries, 0 expected');
  });

  it('tests every entry of a small set and a sample of a large one, and lets only canonical addresses into the batch', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    let next = 0;
    const planned = probeLines(new Map([['f2bs4-sshd', many], ['f2bs6-sshd', ['2001:db8::1', '2001:db8:1::/48']]]), () => next++ % 300);
    assert.ok('lines' in planned);
    assert.equal(planned.lines.length, PROBE_SAMPLE + 2);
    assert.equal(planned.lines[0], 'test f2bs4-sshd 10.0.0.0');
    assert.equal(new Set(planned.lines).size, planned.lines.length, 'no entry tested twice');
    assert.deepEqual(planned.lines.slice(-2), ['test f2bs6-sshd 2001:db8::1', 'test f2bs6-sshd 2001:db8:1::/48']);
    assert.deepEqual(probeLines(new Map([['f2bs4-sshd', ['203.0.113.1\nflush f2bs4-sshd']]]), () => 0), { bad: '203.0.113.1\nflush f2bs4-sshd' });
  });
});
