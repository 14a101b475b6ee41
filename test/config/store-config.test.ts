import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DEFAULT_STORE_CONFIG, loadStoreConfig } from '../../src/config/index.js';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { InputError, parseAddress } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

describe('f2b-store.conf', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('a missing directory means the defaults', () => {
    assert.deepEqual(loadStoreConfig(join(tmp.dir, 'nope'), BACKEND_CATALOG), DEFAULT_STORE_CONFIG);
  });

  it('reads .conf, then .local over it, with inline comments', () => {
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), '[store]\ndbfile = /a.sqlite3\nhistoryage = 30d\n[reconcile]\nbackends = nftables, hosts-deny ; both\nschedule = */5 * * * * *\nfullcheck = 2m\n');
    writeFileSync(join(tmp.dir, 'f2b-store.local'), '[store]\ndbfile = /b.sqlite3\n[hosts-deny]\nfile = /tmp/x.deny\ndaemons = sshd\n[daemon]\nlogfile =\n');
    assert.deepEqual(loadStoreConfig(tmp.dir, BACKEND_CATALOG), {
      dbfile: '/b.sqlite3', historyAge: 30 * 86400, backends: ['nftables', 'hosts-deny'], schedule: '*/5 * * * * *',
      fullCheck: 120, hostsDenyFile: '/tmp/x.deny', hostsDenyDaemons: 'sshd', logFile: '', lockout: DEFAULT_STORE_CONFIG.lockout,
      logLevel: 'info', logTarget: { kind: 'stderr' },
    });
  });

  it('[daemon] loglevel and logtarget in our words and in fail2ban\'s', () => {
    const daemon = (text: string): unknown => {
      writeFileSync(join(tmp.dir, 'f2b-store.conf'), `[daemon]\n${text}`);
      const config = loadStoreConfig(tmp.dir, BACKEND_CATALOG);
      return [config.logLevel, config.logTarget];
    };
    assert.deepEqual(daemon('loglevel = NOTICE\nlogtarget = SYSTEMD-JOURNAL\n'), ['notice', { kind: 'journal' }]);
    assert.deepEqual(daemon('loglevel = warning\nlogtarget = SYSLOG\n'), ['warning', { kind: 'syslog', socket: '/dev/log' }]);
    assert.deepEqual(daemon('logtarget = syslog\nsyslogsocket = /run/systemd/journal/dev-log\n'), ['info', { kind: 'syslog', socket: '/run/systemd/journal/dev-log' }]);
    assert.deepEqual(daemon('loglevel = debug\nlogtarget = /var/log/f2b-store/daemon.log\n'), ['debug', { kind: 'file', path: '/var/log/f2b-store/daemon.log' }]);
    assert.deepEqual(daemon('logtarget = STDOUT\n'), ['info', { kind: 'stdout' }]);
  });

  it('[lockout]: the shortest prefixes banned and the networks never banned', () => {
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), '[lockout]\nminprefix4 = 16\nminprefix6 = 0\nprotect = 192.0.2.0/24, 2001:db8:1::/48 198.51.100.7\n');
    assert.deepEqual(loadStoreConfig(tmp.dir, BACKEND_CATALOG).lockout, {
      minPrefix4: 16, minPrefix6: 0, protect: ['192.0.2.0/24', '2001:db8:1::/48', '198.51.100.7'].map((text) => parseAddress(text)),
    });
  });

  it('historyage = permanent keeps history forever', () => {
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), '[store]\nhistoryage = permanent\n');
    assert.equal(loadStoreConfig(tmp.dir, BACKEND_CATALOG).historyAge, null);
  });

  it('[metrics] listen: host:port, [IPv6]:port or a socket path; off when empty', () => {
    for (const [value, listen] of [
      ['127.0.0.1:9191', { host: '127.0.0.1', port: 9191 }],
      ['[::1]:9191', { host: '::1', port: 9191 }],
      ['localhost:9191', { host: 'localhost', port: 9191 }],
      ['/run/f2b-store/metrics.sock', { path: '/run/f2b-store/metrics.sock' }],
    ] as const) {
      writeFileSync(join(tmp.dir, 'f2b-store.conf'), `[metrics]\nlisten = ${value}\n`);
      assert.deepEqual(loadStoreConfig(tmp.dir, BACKEND_CATALOG).metrics, listen);
    }
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), '[metrics]\nlisten =\n');
    assert.equal(loadStoreConfig(tmp.dir, BACKEND_CATALOG).metrics, undefined);
  });

  for (const [text, message] of [
    ['[reconcile]\nbackends = nftables, pf\n', /f2b-store\.conf \[reconcile\] backends: unknown backend "pf"/],
    ['[store]\nhistoryage = 10x\n', /f2b-store\.conf \[store\] historyage: bad duration "10x"/],
    ['[reconcile]\nfullcheck = permanent\n', /\[reconcile\] fullcheck: must be a duration/],
    ['[lockout]\nminprefix4 = 33\n', /f2b-store\.conf \[lockout\] minprefix4: "33" is not a prefix length from 0 to 32/],
    ['[lockout]\nminprefix6 = /32\n', /\[lockout\] minprefix6: "\/32" is not a prefix length from 0 to 128/],
    ['[lockout]\nprotect = 192.0.2.0/24 admin.example.org\n', /\[lockout\] protect: "admin\.example\.org" is not an address or network/],
    ['[metrics]\nlisten = 9191\n', /f2b-store\.conf \[metrics\] listen: "9191" is not host:port or a socket path/],
    ['[metrics]\nlisten = 127.0.0.1:99999\n', /\[metrics\] listen: "127\.0\.0\.1:99999" is not host:port/],
    ['[metrics]\nlisten = ::1:9191\n', /\[metrics\] listen: "::1:9191" is not host:port or a socket path \(e\.g\. 127\.0\.0\.1:9191, \[::1\]:9191/],
    ['[daemon]\nloglevel = verbose\n', /f2b-store\.conf \[daemon\] loglevel: "verbose" is no log level \(known: error, warning, notice, info, debug\)$/],
    ['[daemon]\nloglevel = notise\n', /\[daemon\] loglevel: "notise" is no log level \(did you mean notice\?\)$/],
    ['[daemon]\nlogtarget = sylog\n', /\[daemon\] logtarget: "sylog" is no log target \(did you mean syslog\?\)/],
    ['[daemon]\nlogtarget = daemon.log\n', /\[daemon\] logtarget: "daemon\.log" is no log target .*absolute path/],
    ['[daemon]\nlogtarget = /var/log/f2b-store/f2b-store.log\n', /\[daemon\] logtarget: \/var\/log\/f2b-store\/f2b-store\.log is the ban log/],
    ['[daemon]\nlogtarget = syslog\nsyslogsocket = dev/log\n', /\[daemon\] syslogsocket: "dev\/log" is no socket path/],
  ] as const) {
    it(`names the file and key of a bad value: ${text.trim().replace('\n', ' ')}`, () => {
      writeFileSync(join(tmp.dir, 'f2b-store.conf'), text);
      assert.throws(() => loadStoreConfig(tmp.dir, BACKEND_CATALOG), (e: unknown) => e instanceof InputError && message.test(e.message));
    });
  }
});
