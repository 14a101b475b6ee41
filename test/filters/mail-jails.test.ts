/**
 * The shipped mail jails as a user turns them on: config/jail.conf passes each jail's `mode`
 * (normal unless the jail says otherwise) to its filter, so each must count what its filter's
 * normal mode promises and nothing of another jail's.
 */
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadJails, SHIPPED_CONFIG_DIR, SHIPPED_FILTER_DIR, type JailDefinition } from '../../src/config/index.js';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { LogFilter } from '../../src/filter/index.js';
import { tempDir } from '../helpers/cli.js';
import { inTimeZone } from '../helpers/time-zone.js';

const NOW = Date.UTC(2026, 10, 23, 13, 5, 1) / 1000;

const LINES = {
  relay: 'Nov 20 01:00:00 mx1 postfix/smtpd[2101]: NOQUEUE: reject: RCPT from unknown[203.0.113.10]: 554 5.7.1 <victim@example.com>: Relay access denied; from=<spam@example.net> to=<victim@example.com> proto=ESMTP helo=<x>',
  sasl: 'Nov 20 03:00:00 mx1 postfix/smtpd[2301]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: authentication failure',
  lostAfterEhlo: 'Nov 20 04:00:00 mx1 postfix/smtpd[2401]: lost connection after EHLO from unknown[203.0.113.60]',
  imapFailed: 'Nov 21 10:00:00 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7, lip=10.0.0.5, TLS',
  imapNoAuth: 'Nov 21 11:00:00 mail dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=203.0.113.30, lip=10.0.0.5, TLS',
} as const;

type LineName = keyof typeof LINES;

/** Which of LINES the jail counts. */
function counted(jail: JailDefinition): LineName[] {
  assert.ok(jail.filter !== undefined, `${jail.name} has its filter loaded`);
  const filter = new LogFilter(jail.filter, { now: () => NOW });
  return (Object.keys(LINES) as LineName[]).filter((name) => filter.processLine(LINES[name]).failures.length > 0);
}

describe('shipped mail jails', () => {
  inTimeZone('UTC');
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  function jails(local: string): Map<string, JailDefinition> {
    cpSync(join(SHIPPED_CONFIG_DIR, 'jail.conf'), join(tmp.dir, 'jail.conf'));
    writeFileSync(join(tmp.dir, 'jail.local'), local);
    return new Map(loadJails(tmp.dir, BACKEND_CATALOG, { filterDirs: [SHIPPED_FILTER_DIR] }).filter((j) => j.enabled).map((j) => [j.name, j]));
  }

  it('postfix counts rejects, postfix-sasl failed AUTH, dovecot failed logins, each alone', () => {
    const enabled = jails('[postfix]\nenabled = true\n[postfix-sasl]\nenabled = true\n[dovecot]\nenabled = true\n');
    assert.deepEqual(counted(enabled.get('postfix')!), ['relay']);
    assert.deepEqual(counted(enabled.get('postfix-sasl')!), ['sasl']);
    assert.deepEqual(counted(enabled.get('dovecot')!), ['imapFailed']);
  });

  it('mode = aggressive in the jail widens postfix and dovecot to their aggressive modes', () => {
    const enabled = jails('[postfix]\nenabled = true\nmode = aggressive\n[dovecot]\nenabled = true\nmode = aggressive\n');
    assert.deepEqual(counted(enabled.get('postfix')!), ['relay', 'sasl', 'lostAfterEhlo']);
    assert.deepEqual(counted(enabled.get('dovecot')!), ['imapFailed', 'imapNoAuth']);
  });
});
