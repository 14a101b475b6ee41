import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadFilter } from '../../src/config/index.js';
import { createDateDetector, type DateDetector } from '../../src/filter/index.js';
import { readSampleRecords, SAMPLES_NOW as NOW, SAMPLES_TZ } from '../helpers/fail2ban-samples.js';
import { inTimeZone } from '../helpers/time-zone.js';

// The corpus conventions (test/fixtures/compat/README.md): TZ as below, now = 2005-08-14 12:00 CEST.
const FILTER_D = '/etc/fail2ban/filter.d';
const TEST_FILTER_D = '/usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d';
// Only goes up.
const REQUIRED_PASS_RATE = 1;

/** The filter's effective datepattern, as the configuration reader resolves it for this instance. */
function effectiveDatepattern(filter: string, options: Readonly<Record<string, string>>): string | undefined {
  const zzz = filter.startsWith('zzz-');
  return loadFilter(filter, [zzz ? TEST_FILTER_D : FILTER_D], {
    overrides: options,
    // The zzz-* test filters include common.conf by its path in fail2ban's source tree.
    resolveInclude: (path) => (path.endsWith('config/filter.d/common.conf') ? `${FILTER_D}/common.conf` : path),
  }).datepattern;
}

describe('date detection on fail2ban\'s sample-log corpus', () => {
  inTimeZone(SAMPLES_TZ);
  it('finds the failure time of every matching line, exact to the millisecond', () => {
    const records = readSampleRecords();
    records.sort((a, b) => a.seq - b.seq);
    const instances = new Map<string, { readonly dates: DateDetector; lastDate: number | undefined }>();
    const checked = new Map<string, { total: number; missed: string[] }>();
    for (const record of records) {
      // logtype=journal lines carry no date: their time is "now", no detection involved.
      if (record.filterOptions?.logtype === 'journal') continue;
      let instance = instances.get(record.instance);
      if (!instance) {
        const datepattern = effectiveDatepattern(record.filter, record.filterOptions ?? {});
        instance = { dates: createDateDetector({ ...(datepattern === undefined ? {} : { datepattern }), now: () => NOW }), lastDate: undefined };
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
