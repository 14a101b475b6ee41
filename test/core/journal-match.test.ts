import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { quote, split } from 'shlex';
import {
  describeJournalMatch, InputError, journalctlMatchArgs, journalMatches, journalMatchFields, journalMatchUnion, parseJournalMatch,
  type JournalFields,
} from '../../src/core/index.js';
import { journalFile } from '../helpers/journal.js';

const term = (field: string, value: string): { field: string; value: string } => ({ field, value });

function refuses(text: string, expected: RegExp): void {
  assert.throws(() => parseJournalMatch(text), (e: unknown) => {
    assert.ok(e instanceof InputError, `an InputError for ${text}, got ${String(e)}`);
    assert.match(e.message, expected);
    return true;
  });
}

describe('journalmatch: fail2ban\'s syntax, journalctl\'s meaning', () => {
  it('parses terms, + groups and lines; sorts and drops duplicates; blank is everything', () => {
    assert.deepEqual(parseJournalMatch('_SYSTEMD_UNIT=sshd.service + _COMM=sshd'), [[term('_COMM', 'sshd')], [term('_SYSTEMD_UNIT', 'sshd.service')]]);
    assert.deepEqual(parseJournalMatch('_SYSTEMD_UNIT=fail2ban.service PRIORITY=5 PRIORITY=5'), [[term('PRIORITY', '5'), term('_SYSTEMD_UNIT', 'fail2ban.service')]]);
    assert.deepEqual(parseJournalMatch('_COMM=a\n  _COMM=b + _COMM=a'), [[term('_COMM', 'a')], [term('_COMM', 'b')]]);
    assert.deepEqual(parseJournalMatch(`MESSAGE='two words' X="a \\"b\\"" EMPTY=`), [[term('EMPTY', ''), term('MESSAGE', 'two words'), term('X', 'a "b"')]]);
    assert.deepEqual(parseJournalMatch('+ A=1 + + B=2 +'), [[term('A', '1')], [term('B', '2')]]);
    assert.equal(parseJournalMatch(''), undefined);
    assert.equal(parseJournalMatch(' \n + '), undefined);
  });

  it('refuses what journalctl refuses, naming the term', () => {
    refuses('_COMM=sshd + _comm=sshd', /"_comm=sshd" is not FIELD=value/);
    refuses('__CURSOR=x', /"__CURSOR=x" is not FIELD=value/);
    refuses('sshd', /"sshd" is not FIELD=value/);
    refuses('A-B=1', /"A-B=1"/);
    refuses('=x', /"=x"/);
    refuses('A="open', /journalmatch "A="open": .*quoted string/);
    refuses('MESSAGE=\uFFFD', /U\+FFFD/);
  });

  it('union: one match for every jail, everything when one jail reads everything', () => {
    const ssh = parseJournalMatch('_COMM=sshd + _SYSTEMD_UNIT=sshd.service');
    const mail = parseJournalMatch('_SYSTEMD_UNIT=postfix.service + _COMM=sshd');
    assert.deepEqual(journalMatchUnion([ssh, mail]), [[term('_COMM', 'sshd')], [term('_SYSTEMD_UNIT', 'postfix.service')], [term('_SYSTEMD_UNIT', 'sshd.service')]]);
    assert.equal(journalMatchUnion([ssh, undefined]), undefined);
    assert.deepEqual(journalctlMatchArgs(journalMatchUnion([ssh, mail])), ['_COMM=sshd', '+', '_SYSTEMD_UNIT=postfix.service', '+', '_SYSTEMD_UNIT=sshd.service']);
    assert.deepEqual(journalctlMatchArgs(undefined), []);
    assert.deepEqual(journalMatchFields(ssh), ['_COMM', '_SYSTEMD_UNIT']);
    assert.equal(describeJournalMatch(ssh), '_COMM=sshd + _SYSTEMD_UNIT=sshd.service');
    assert.equal(describeJournalMatch(undefined), '*');
  });

  it('evaluates as journalctl: AND across fields, OR within a field and across groups, any value of a repeated field', () => {
    const match = parseJournalMatch('A=1 A=2 B=x + C=y');
    const fields = (f: Record<string, string[]>): JournalFields => f;
    assert.equal(journalMatches(match, fields({ A: ['2'], B: ['x'] })), true);
    assert.equal(journalMatches(match, fields({ A: ['3', '1'], B: ['x'] })), true);
    assert.equal(journalMatches(match, fields({ A: ['1'] })), false);
    assert.equal(journalMatches(match, fields({ C: ['y'] })), true);
    assert.equal(journalMatches(match, fields({ B: ['x'], C: ['z'] })), false);
    assert.equal(journalMatches(undefined, fields({})), true);
    // Field names are looked up as own keys only.
    assert.equal(journalMatches(parseJournalMatch('CONSTRUCTOR='), fields({})), false);
  });

  it('agrees with journalctl on a real journal file (property)', () => {
    const FIELDS = ['F_A', 'F_B', 'F_C'];
    const VALUES = ['x', 'y', 'z w', '', 'ü'];
    const value = fc.constantFrom(...VALUES);
    const entryFields = fc.record({
      F_A: fc.array(value, { maxLength: 2 }),
      F_B: fc.array(value, { maxLength: 2 }),
      F_C: fc.array(value, { maxLength: 2 }),
    });
    const group = fc.array(fc.tuple(fc.constantFrom(...FIELDS), value), { minLength: 1, maxLength: 3 });
    const matchText = fc.tuple(fc.array(group, { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([groups, lines]) => groups.map((g) => g.map(([f, v]) => quote(`${f}=${v}`)).join(' ')).join(lines ? '\n' : ' + '));
    fc.assert(fc.property(fc.array(entryFields, { minLength: 1, maxLength: 12 }), fc.array(matchText, { minLength: 1, maxLength: 4 }), (entries, texts) => {
      const file = journalFile(entries.map((f, i) => ({
        time: 1_700_000_000 + i,
        fields: { ID: String(i), ...Object.fromEntries(Object.entries(f).filter(([, v]) => v.length > 0)) },
      })));
      try {
        for (const text of texts) {
          const ids = (args: readonly string[]): string[] => {
            const result = spawnSync('journalctl', [`--file=${file.path}`, '-o', 'json', '--output-fields=ID', ...args], { encoding: 'utf8' });
            assert.equal(result.status, 0, result.stderr);
            return result.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { ID: string }).ID);
          };
          const match = parseJournalMatch(text);
          const expected = entries.flatMap((f, i) => (journalMatches(match, f) ? [String(i)] : []));
          // The text as fail2ban's users write it, lines as + groups, and our normalised arguments.
          assert.deepEqual(ids(text.split('\n').flatMap((line, i) => [...(i > 0 ? ['+'] : []), ...split(line)])), expected, text);
          assert.deepEqual(ids(journalctlMatchArgs(match)), expected, text);
        }
      } finally {
        file.remove();
      }
    }), { numRuns: 20 });
  });
});
