import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FAIL2BAN_FILTER_DIR, SHIPPED_FILTER_DIR, loadFilter, type FilterDefinition } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';
import { catastrophicBacktracking, compileFailRegex, LogFilter } from '../../src/filter/index.js';
import { CLEARED_GROUPS, unclearedGroups } from '../../src/filter/backtracking.js';
import { helperScript } from '../helpers/script.js';

/** The shape found in a Python failregex, as the filter runs it (tags expanded, translated). */
const shapeOf = (python: string): string | undefined => {
  const shape = catastrophicBacktracking(compileFailRegex(python, { kind: 'ignoreregex' }).javascript);
  return shape && `${shape.cause} ${shape.repetition} ${shape.part}`;
};

/** A one-regex filter written in `file` at line 7. */
const filterIn = (file: string, failregex: string): FilterDefinition => ({
  name: 'custom', file, failregex: [{ file, line: 7, text: failregex }], ignoreregex: [], maxlines: 1, options: {},
});

describe('catastrophic backtracking: the shapes', () => {
  it('finds the classic exponential shapes, naming the repetition and the part that takes text twice', () => {
    assert.equal(shapeOf(String.raw`^\s*login failed for (\w+\s?)+ from <HOST>$`), String.raw`nested (?:\w+\s?)+ \w+`);
    assert.equal(shapeOf(String.raw`^(a+)+ from <HOST>$`), 'nested (?:a+)+ a+');
    assert.equal(shapeOf(String.raw`^(\s*\w+)*: <HOST>$`), String.raw`nested (?:\s*\w+)* \w+`);
    assert.equal(shapeOf(String.raw`^(?:\S+\s*)+ <HOST>$`), String.raw`nested (?:\S+\s*)+ \S+`);
    assert.equal(shapeOf(String.raw`^(?:[^\[]+ )* <HOST>$`), String.raw`nested (?:[^\[]+ )* [^\[]+`);
    assert.equal(shapeOf(String.raw`^(.*a){12} <HOST>$`), 'nested (?:.*a){12} .*');
    assert.equal(shapeOf(String.raw`^(a|a)* <HOST>$`), 'alternatives (?:a|a)* a|a');
    assert.equal(shapeOf(String.raw`^(\w|\d)+ <HOST>$`), String.raw`alternatives (?:\w|\d)+ \w|\d`);
    assert.equal(shapeOf(String.raw`(?i)^(x+x+)+y <HOST>$`), 'nested (?:[Xx]+[Xx]+)+ [Xx]+');
    // A backreference to a group outside the repetition: the whole pattern is looked at.
    assert.equal(shapeOf(String.raw`^(\w)(?:\1?\w+)+ <HOST>$`), String.raw`nested (?:(?:\1)?\w+)+ \w+`);
  });

  it('leaves polynomial and unambiguous repetitions alone', () => {
    for (const python of [
      String.raw`^.*foo.* from <HOST>.*$`,
      String.raw`^(.*a){3} <HOST>$`,
      String.raw`^(?:\S+\s+)*<HOST>$`,
      String.raw`^(?:\d+\.)+ <HOST>$`,
      String.raw`^"(?:[^"\\]|\\.)*" <HOST>$`,
      String.raw`^(?:[\w-]+\s+)*\[<HOST>\]$`,
      String.raw`^(?:(?:a|b)c)+ <HOST>$`,
    ]) assert.equal(shapeOf(python), undefined, python);
  });

  it('a filter outside fail2ban\'s own files is refused with the file, line, regex and a way out', () => {
    const file = '/etc/f2b-store/filter.d/custom.conf';
    const regex = String.raw`^\s*login failed for (\w+\s?)+ from <HOST>$`;
    assert.throws(() => new LogFilter(filterIn(file, regex), { now: () => 0 }), (error: unknown) => error instanceof InputError
      && error.message.startsWith(`${file}:7: failregex '${regex}': nested quantifier (?:\\w+\\s?)+ can backtrack exponentially`)
      && error.message.includes('rewrite it') && !error.message.includes('\n'));
    // fail2ban's directory, but a user's .local: refused as well.
    assert.throws(() => new LogFilter(filterIn(join(FAIL2BAN_FILTER_DIR, 'custom.local'), regex), { now: () => 0 }), InputError);
  });

  it('a filter checked where it was loaded (the daemon\'s filter worker) is not analysed again: neither refused nor warned of', () => {
    const regex = String.raw`^\s*login failed for (\w+\s?)+ from <HOST>$`;
    const filter = new LogFilter(filterIn('/etc/f2b-store/filter.d/custom.conf', regex), { now: () => 0, backtrackingChecked: true });
    assert.deepEqual(filter.warnings, []);
    const exim = loadFilter('exim', [FAIL2BAN_FILTER_DIR]);
    assert.notDeepEqual(new LogFilter(exim, { now: () => 0 }).warnings, [], 'fail2ban\'s exim.conf:24 is warned of when loaded');
    assert.deepEqual(new LogFilter(exim, { now: () => 0, backtrackingChecked: true }).warnings, []);
  });
});

describe('catastrophic backtracking: the filters that must load', () => {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/fail2ban-config/filters.json', import.meta.url), 'utf8')) as {
    filters: { dir: string; filter: string; options: Record<string, string>; error?: string }[];
  };
  const resolveInclude = (path: string): string => (path.endsWith('/config/filter.d/common.conf') ? join(FAIL2BAN_FILTER_DIR, 'common.conf') : path);

  it('every stock filter instance loads; the stock regexes that do backtrack exponentially load with a warning naming them', () => {
    const warned = new Set<string>();
    let loaded = 0;
    for (const instance of fixture.filters) {
      if (instance.error !== undefined) continue;
      const definition = loadFilter(instance.filter, [instance.dir], { overrides: instance.options, resolveInclude });
      const filter = new LogFilter(definition, { now: () => 0 });
      loaded++;
      for (const warning of filter.warnings) {
        assert.match(warning, /can backtrack exponentially.*\(fail2ban's own filter: loaded as it ships\)$/, warning);
        warned.add(warning.slice(0, warning.indexOf(': ')));
      }
    }
    assert.ok(loaded > 130, `every fixture instance loaded (${loaded})`);
    // Each of these is exponential in V8 too (e.g. exim.conf:24 takes ~1 s on 24 quotes, domino-smtp.conf:41 ~19 s on 24 words).
    assert.deepEqual([...warned].sort(), [
      'domino-smtp.conf:41', 'dovecot.conf:19', 'dovecot.conf:24', 'exim.conf:24', 'named-refused.conf:40', 'sshd.conf:39',
    ].map((at) => join(FAIL2BAN_FILTER_DIR, at)));
  });

  it('the groups known to be cleared are cleared by the analysis itself, each with something to analyse', () => {
    for (const [flags, group] of CLEARED_GROUPS) {
      const pattern = { source: group, flags };
      assert.deepEqual(unclearedGroups(pattern), [], group);
      assert.deepEqual(unclearedGroups(pattern, new Set()), [group], `${group}: a repeated group that may branch`);
      assert.equal(catastrophicBacktracking(pattern, new Set()), undefined, group);
    }
    // A cleared group beside one that is not: the other is still analysed, and refused.
    const shape = catastrophicBacktracking({ source: `${CLEARED_GROUPS[0]![1]}(a+)+`, flags: CLEARED_GROUPS[0]![0] });
    assert.equal(shape?.cause, 'nested');
  });

  it('compiling the shipped filters, in every mode and log type, loads no backtracking analysis: every group they repeat is cleared', () => {
    const report = JSON.parse(execFileSync(process.execPath, helperScript('shipped-filters-load'), { encoding: 'utf8' })) as {
      loading: { filter: string; groups: string[] }[]; loaded: boolean;
    };
    const missing = [...new Set(report.loading.flatMap((l) => l.groups))];
    assert.deepEqual(report.loading.map((l) => l.filter), [],
      `add these to CLEARED_GROUPS in src/filter/backtracking.ts once this file's tests pass with them:\n${missing.join('\n')}`);
    assert.equal(report.loaded, false);
  });

  it('every filter shipped with f2b-store loads without a warning, in every mode and log type', () => {
    for (const file of readdirSync(SHIPPED_FILTER_DIR).filter((f) => f.endsWith('.conf') && f !== 'common.conf')) {
      for (const overrides of [{}, { mode: 'aggressive' }, { logtype: 'journal' }, { logtype: 'rfc5424' }] as Record<string, string>[]) {
        const filter = new LogFilter(loadFilter(file.slice(0, -5), [SHIPPED_FILTER_DIR], { overrides }), { now: () => 0 });
        assert.deepEqual(filter.warnings, [], `${file} ${JSON.stringify(overrides)}`);
      }
    }
  });
});
