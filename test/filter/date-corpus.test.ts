import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createDateDetector, type DateDetector } from '../../src/filter/index.js';

// The corpus conventions (../shared/compat/README.md): TZ as below, now = 2005-08-14 12:00 CEST.
process.env.TZ = 'CET-01CEST-02,M3.5.0,M10.5.0';
const NOW = 1124013600;
const CORPUS = '/work/shared/compat/fail2ban-samples.jsonl';
const FILTER_D = '/etc/fail2ban/filter.d';
const TEST_FILTER_D = '/usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d';
// Only goes up.
const REQUIRED_PASS_RATE = 1;

interface SampleRecord {
  readonly seq: number;
  readonly filter: string;
  readonly instance: string;
  readonly filterOptions: Readonly<Record<string, string>> | null;
  readonly line: string;
  readonly expect: { readonly match: boolean };
  readonly epoch: number | null;
}

type Ini = Map<string, Map<string, string>>;

/**
 * Just enough of fail2ban's config reading to learn a filter's effective datepattern:
 * sections, continuation lines, [INCLUDES] before/after, `%(name)s`, `%(section/name)s`, `%%`,
 * `<tag>` and `<section/option>` tags, and [Init] / filter options overriding [Definition].
 */
function readIni(path: string, into: Ini): void {
  const text = readFileSync(path, 'utf8');
  const own: Ini = new Map();
  let section: Map<string, string> | undefined;
  let key = '';
  for (const line of text.split('\n')) {
    if (/^\s*[#;]/.test(line) || line.trim() === '') continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      const name = header[1] ?? '';
      section = own.get(name) ?? new Map<string, string>();
      own.set(name, section);
    } else if (/^\s/.test(line) && section?.has(key)) {
      section.set(key, `${section.get(key) ?? ''}\n${line.trim()}`);
    } else if (section) {
      const at = /^([^=:]+?)\s*[=:]\s?(.*)$/.exec(line);
      if (!at) continue;
      key = at[1] ?? '';
      section.set(key, (at[2] ?? '').trim());
    }
  }
  const includes = own.get('INCLUDES');
  const include = (names: string | undefined): void => {
    for (const name of (names ?? '').split(/\s+/).filter(Boolean)) {
      // zzz-* filters name common.conf by its path in fail2ban's source tree (see the README).
      const file = name.endsWith('config/filter.d/common.conf') ? `${FILTER_D}/common.conf` : resolve(dirname(path), name);
      if (existsSync(file)) readIni(file, into);
    }
  };
  include(includes?.get('before'));
  for (const [name, values] of own) {
    if (name === 'INCLUDES') continue;
    const merged = into.get(name) ?? new Map<string, string>();
    for (const [option, value] of values) merged.set(option, value);
    into.set(name, merged);
  }
  include(includes?.get('after'));
  const local = path.replace(/\.conf$/, '.local');
  if (local !== path && existsSync(local)) readIni(local, into);
}

function effectiveDatepattern(filter: string, options: Readonly<Record<string, string>>): string | undefined {
  const ini: Ini = new Map();
  readIni(filter.startsWith('zzz-') ? `${TEST_FILTER_D}/${filter}.conf` : `${FILTER_D}/${filter}.conf`, ini);
  const get = (section: string, key: string, depth = 0): string | undefined => {
    const raw = ini.get(section)?.get(key) ?? ini.get('DEFAULT')?.get(key);
    if (raw === undefined || depth > 10) return raw;
    return raw.replace(/%\(([^)]+)\)s|%%/g, (all, name: string | undefined) => {
      if (name === undefined) return '%';
      const [from, option] = name.includes('/') ? (name.split('/') as [string, string]) : [section, name];
      return get(from, option, depth + 1) ?? all;
    });
  };
  const option = (key: string): string | undefined =>
    options[key] ?? (ini.get('Init')?.has(key) ? get('Init', key) : get('Definition', key));
  let value = option('datepattern');
  for (let round = 0; value !== undefined && round < 10; round += 1) {
    const next: string = value.replace(/<([\w-]+(?:\/[\w-]+)?)>/g, (tag, name: string) => {
      const [section, key] = name.split('/');
      return (key === undefined ? option(name) : get(section ?? '', key)) ?? tag;
    });
    if (next === value) break;
    value = next;
  }
  return value;
}

describe('date detection on fail2ban\'s sample-log corpus', () => {
  it('finds the failure time of every matching line, exact to the millisecond', () => {
    const records = readFileSync(CORPUS, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as SampleRecord);
    records.sort((a, b) => a.seq - b.seq);
    const instances = new Map<string, { readonly dates: DateDetector; lastDate: number | undefined }>();
    const checked = new Map<string, { total: number; missed: string[] }>();
    for (const record of records) {
      // logtype=journal lines carry no date: their time is "now", no detection involved.
      if (record.filterOptions?.logtype === 'journal') continue;
      let instance = instances.get(record.instance);
      if (!instance) {
        const datepattern = effectiveDatepattern(record.filter, record.filterOptions ?? {});
        instance = { dates: createDateDetector({ datepattern, now: () => NOW }), lastDate: undefined };
        instances.set(record.instance, instance);
      }
      const found = instance.dates.match(record.line);
      // fail2ban's filter: a found date becomes the last date; an empty or missing one takes
      // the last date while that is less than a minute before now.
      let time = found?.time;
      if (time !== undefined) instance.lastDate = time;
      else if (instance.lastDate !== undefined && instance.lastDate > NOW - 60) time = instance.lastDate;
      // Only a failure's time is checked by fail2ban's test (other annotations are not).
      if (!record.expect.match || record.epoch === null) continue;
      const tally = checked.get(record.filter) ?? { total: 0, missed: [] };
      checked.set(record.filter, tally);
      tally.total += 1;
      if (time === undefined || Math.round(time * 1000) !== Math.round(record.epoch * 1000)) {
        tally.missed.push(`  seq ${record.seq}: want ${record.epoch}, got ${String(time)} (${found?.template ?? 'no template'}): ${record.line.slice(0, 120)}`);
      }
    }
    let total = 0;
    let missed = 0;
    for (const [filter, tally] of [...checked].sort()) {
      total += tally.total;
      missed += tally.missed.length;
      if (tally.missed.length > 0) console.log(`${filter}: ${tally.missed.length} of ${tally.total} missed\n${tally.missed.join('\n')}`);
    }
    const rate = (total - missed) / total;
    console.log(`date detection: ${total - missed} of ${total} failure times (${(rate * 100).toFixed(2)}%) in ${checked.size} filters`);
    assert.ok(total > 1000, `corpus read (${total} failure times)`);
    assert.ok(rate >= REQUIRED_PASS_RATE, `pass rate ${rate} below ${REQUIRED_PASS_RATE}`);
  });
});
