import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { loadFilter, SHIPPED_FILTER_DIR } from '../../src/config/index.js';
import { banLogLine, createBanLog } from '../../src/daemon/ban-log.js';
import { LogFilter } from '../../src/filter/index.js';
import { tempDir } from '../helpers/cli.js';
import { inTimeZone } from '../helpers/time-zone.js';

const T = Date.UTC(2026, 10, 23, 13, 5, 1, 123) / 1000;

describe('the ban log, as the shipped recidive filter reads it', () => {
  inTimeZone('UTC');
  it('writes the stable line format', () => {
    assert.equal(banLogLine({ action: 'Ban', jail: 'sshd', address: '203.0.113.7', time: T }, 1234),
      '2026-11-23 13:05:01,123 f2b-store[1234]: NOTICE [sshd] Ban 203.0.113.7');
  });

  it('recidive counts the bans of other jails, with their time, and never lifts or its own bans', () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, 'f2b-store.log');
      const log = createBanLog(path, (m) => assert.fail(m));
      log([
        { action: 'Ban', jail: 'sshd', address: '203.0.113.7', time: T },
        { action: 'Ban', jail: 'postfix-sasl', address: '2001:db8::66', time: T + 1 },
        { action: 'Ban', jail: 'postfix-sasl', address: '198.51.100.9', time: T + 1 },
        { action: 'Unban', jail: 'sshd', address: '203.0.113.7', time: T + 2 },
        { action: 'Ban', jail: 'recidive', address: '203.0.113.7', time: T + 3 },
      ]);
      const filter = new LogFilter(loadFilter('recidive', [SHIPPED_FILTER_DIR]), { now: () => T + 60 });
      const found = readFileSync(path, 'utf8').trimEnd().split('\n').flatMap((line) => filter.processLine(line).failures);
      assert.deepEqual(found.map((f) => [f.host.value, f.time]), [['203.0.113.7', Math.floor(T)], ['2001:db8::66', Math.floor(T) + 1], ['198.51.100.9', Math.floor(T) + 1]]);
    } finally {
      tmp.cleanup();
    }
  });

  it('a log it cannot write is reported once and does not throw', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'a-file');
      writeFileSync(file, '');
      const warnings: string[] = [];
      const log = createBanLog(join(file, 'f2b-store.log'), (m) => warnings.push(m));
      log([{ action: 'Ban', jail: 'sshd', address: '203.0.113.7', time: T }]);
      log([{ action: 'Ban', jail: 'sshd', address: '203.0.113.8', time: T }]);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /cannot write the ban log .*a-file\/f2b-store\.log: .*still recorded in the database/);
    } finally {
      tmp.cleanup();
    }
  });

  it('makes its missing directory (0750), as the unit\'s LogsDirectory= would', () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, 'log', 'f2b-store', 'f2b-store.log');
      const warnings: string[] = [];
      createBanLog(path, (m) => warnings.push(m))([{ action: 'Ban', jail: 'sshd', address: '203.0.113.7', time: T }]);
      assert.deepEqual(warnings, []);
      assert.match(readFileSync(path, 'utf8'), /NOTICE \[sshd\] Ban 203\.0\.113\.7\n$/);
      assert.equal(statSync(dirname(path)).mode & 0o777, 0o750);
    } finally {
      tmp.cleanup();
    }
  });
});
