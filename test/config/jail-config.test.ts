import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  blockTypeOf, DEFAULT_STORE_CONFIG, loadJails, loadStoreConfig, SHIPPED_CONFIG_DIR, SHIPPED_FILTER_DIR,
  type JailDefinition, type LoadJailsOptions,
} from '../../src/config/index.js';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { InputError, tryParseAddress } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

const FAIL2BAN = '/etc/fail2ban';

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

function throwsInput(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.match(e.message, expected);
    return true;
  });
}

function byName(jails: readonly JailDefinition[], name: string): JailDefinition {
  const jail = jails.find((j) => j.name === name);
  assert.ok(jail !== undefined, `jail ${name} is loaded`);
  return jail;
}

/** What fail2ban's own JailsReader makes of every jail of a tree (force-enabled, so every filter and action is read too). */
interface Fail2banJail {
  name: string;
  error: string | null;
  enabled: boolean;
  maxretry: number;
  maxmatches: number;
  findtime: number;
  bantime: number;
  backend: string;
  usedns: string;
  logencoding: string;
  ignoreip: string[];
  logpath: string[][];
  actions: [string, Record<string, string>][];
}

const FAIL2BAN_READER = `
import json, logging, sys
logging.disable(logging.CRITICAL)
from fail2ban.client.jailsreader import JailsReader
from fail2ban.client.actionreader import ActionReader
from fail2ban.server.mytime import MyTime
from fail2ban.helpers import splitwords
reader = JailsReader(force_enable=True, basedir=sys.argv[1])
reader.read()
reader.getOptions(ignoreWrong=True)
out = []
for jail in reader.jails:
    o = jail.options
    entry = {'name': jail.getName(), 'error': o.get('config-error')}
    if not entry['error']:
        entry.update({
            'enabled': bool(o.get('enabled')), 'maxretry': o.get('maxretry'), 'maxmatches': o.get('maxmatches'),
            'findtime': MyTime.str2seconds(o['findtime']), 'bantime': MyTime.str2seconds(o['bantime']),
            'backend': o.get('backend'), 'usedns': o.get('usedns'), 'logencoding': o.get('logencoding'),
            'ignoreip': splitwords(o.get('ignoreip')),
            'logpath': [p.strip().rsplit(' ', 1) for p in (o.get('logpath') or '').split('\\n') if p.strip()],
            'actions': [[a.getFile(), {k: v for k, v in a._initOpts.items() if not k.startswith('known/')}]
                        for a in jail._JailReader__actions if isinstance(a, ActionReader)],
        })
    out.append(entry)
print(json.dumps(out))
`;

function fail2banJails(dir: string): Fail2banJail[] {
  const run = spawnSync('/usr/bin/python3', ['-c', FAIL2BAN_READER, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, `fail2ban's reader ran: ${run.stderr}`);
  return JSON.parse(run.stdout) as Fail2banJail[];
}

/** Python's codec names as WHATWG (TextDecoder) names them; fail2ban's `auto` is UTF-8. */
const PYTHON_ENCODINGS: Record<string, string> = { auto: 'utf-8', 'latin-1': 'windows-1252' };

/** Checks that f2b-store read every jail of `dir` as fail2ban's own reader does. */
function assertAgreesWithFail2ban(dir: string, options: LoadJailsOptions = {}): JailDefinition[] {
  const ours = loadJails(dir, BACKEND_CATALOG, options);
  const theirs = fail2banJails(dir);
  assert.deepEqual(ours.map((j) => j.name), theirs.map((j) => j.name));
  for (const [i, f] of theirs.entries()) {
    const j = ours[i];
    assert.ok(j !== undefined && f.error === null, `fail2ban read [${f.name}]: ${f.error}`);
    const backend = f.backend.replace(/\[.*$/s, '').toLowerCase();
    const natives = f.actions.filter(([name, opts]) => BACKEND_CATALOG.nativeOf(name) !== undefined && (BACKEND_CATALOG.nativeOf(name) === 'hosts-deny' || blockTypeOf(opts.blocktype ?? '') !== undefined));
    const commands = f.actions.filter((a) => !natives.includes(a));
    const firstBlocktype = natives.map(([, opts]) => blockTypeOf(opts.blocktype ?? '')).find((t) => t !== undefined);
    assert.deepEqual(
      {
        enabled: j.enabled, maxretry: j.maxretry, maxmatches: j.maxmatches, findtime: j.findtime, bantime: j.bantime, backend: j.backend,
        usedns: j.usedns, logencoding: j.logencoding, ignoreip: j.ignoreip, logpaths: j.logpaths,
        backends: j.backends, blocktype: j.blocktype, actions: j.actions.map((a) => a.name),
      },
      {
        enabled: f.enabled, maxretry: f.maxretry, maxmatches: f.maxmatches, findtime: Math.round(f.findtime),
        bantime: f.bantime === -1 ? null : Math.round(f.bantime), backend,
        usedns: f.usedns, logencoding: PYTHON_ENCODINGS[f.logencoding] ?? f.logencoding,
        ignoreip: [...new Set(f.ignoreip.map((e) => tryParseAddress(e)?.text ?? e.toLowerCase()))],
        logpaths: backend === 'systemd' ? [] : f.logpath.map(([pattern, position]) => ({ pattern: pattern ?? '', tail: position === 'tail' })),
        backends: [...new Set(natives.map(([name]) => BACKEND_CATALOG.nativeOf(name)))], blocktype: firstBlocktype ?? 'reject',
        actions: commands.map(([name]) => name),
      },
      `[${f.name}] as fail2ban reads it`,
    );
    for (const [k, action] of j.actions.entries()) {
      const [, resolved] = commands[k] ?? ['', {}];
      for (const [key, value] of Object.entries(action.options)) assert.equal(resolved[key], value, `[${f.name}] ${action.name} option ${key}`);
    }
  }
  return ours;
}

const SHIPPED_JAILS = ['sshd', 'postfix', 'postfix-sasl', 'dovecot', 'vpopmail', 'qmail-rbl', 'qmail-chkuser', 'squirrelmail', 'apache-auth', 'nginx-http-auth',
  'exim', 'asterisk', 'vsftpd', 'proftpd', 'pure-ftpd', 'roundcube-auth', 'mysqld-auth', 'recidive', 'recidive-store'];

describe('jails: the shipped configuration', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('has sshd on and the mail, webmail, web, FTP, VoIP, database and recidive jails present but off (recidive reading the ban log), all through the configured backends', () => {
    const jails = loadJails(SHIPPED_CONFIG_DIR, BACKEND_CATALOG);
    assert.deepEqual(jails.map((j) => [j.name, j.enabled]), SHIPPED_JAILS.map((name) => [name, name === 'sshd']));
    const sshd = byName(jails, 'sshd');
    assert.ok(sshd.enabled && sshd.source !== 'bans', 'sshd is enabled');
    assert.equal(sshd.filter.file, join(SHIPPED_FILTER_DIR, 'sshd.conf'));
    assert.ok(sshd.filter.failregex.length > 0, 'the sshd filter has failregexes');
    assert.deepEqual(sshd.logpaths, [{ pattern: '/var/log/auth.log', tail: false }]);
    assert.deepEqual(
      { maxretry: sshd.maxretry, findtime: sshd.findtime, bantime: sshd.bantime, port: sshd.port, ignoreip: sshd.ignoreip, usedns: sshd.usedns },
      { maxretry: 5, findtime: 600, bantime: 600, port: 'ssh', ignoreip: ['127.0.0.0/8', '::1'], usedns: 'warn' },
    );
    for (const jail of jails) {
      assert.deepEqual([jail.name, jail.backends, jail.actions, jail.blocktype], [jail.name, [], [], 'reject']);
      assert.ok(jail.logpaths.length > 0 || jail.name === 'recidive-store', `${jail.name} has a logpath`);
    }
    const recidive = byName(jails, 'recidive');
    assert.deepEqual(
      { logpaths: recidive.logpaths, bantime: recidive.bantime, findtime: recidive.findtime, maxretry: recidive.maxretry },
      { logpaths: [{ pattern: DEFAULT_STORE_CONFIG.logFile, tail: false }], bantime: 7 * 86400, findtime: 86400, maxretry: 5 },
    );
  });

  it('every jail loads its shipped filter once enabled from a jail.local', () => {
    cpSync(join(SHIPPED_CONFIG_DIR, 'jail.conf'), join(tmp.dir, 'jail.conf'));
    writeFiles(tmp.dir, { 'jail.local': SHIPPED_JAILS.map((name) => `[${name}]\nenabled = true\n`).join('\n') });
    const jails = loadJails(tmp.dir, BACKEND_CATALOG, { filterDirs: [SHIPPED_FILTER_DIR] });
    const bans = byName(jails, 'recidive-store');
    assert.deepEqual([bans.enabled, bans.enabled && bans.source, bans.logpaths, bans.bantime, bans.findtime], [true, 'bans', [], 7 * 86400, 86400]);
    for (const jail of jails.filter((j) => j !== bans)) {
      assert.ok(jail.enabled && jail.source !== 'bans', `${jail.name} is enabled`);
      assert.equal(jail.filter.file, join(SHIPPED_FILTER_DIR, `${jail.name}.conf`));
      assert.ok(jail.filter.failregex.length > 0, `${jail.name}'s filter has failregexes`);
    }
  });

  it('f2b-store.conf documents the built-in defaults: as shipped and with every value uncommented', () => {
    assert.deepEqual(loadStoreConfig(SHIPPED_CONFIG_DIR, BACKEND_CATALOG), DEFAULT_STORE_CONFIG);
    const shipped = readFileSync(join(SHIPPED_CONFIG_DIR, 'f2b-store.conf'), 'utf8');
    const uncommented = shipped.replace(/^# (\w+ = .*)$/gm, '$1');
    assert.ok((uncommented.match(/^\w+ = /gm)?.length ?? 0) >= 8, 'the documented values are uncommented');
    writeFiles(tmp.dir, { 'f2b-store.conf': uncommented });
    assert.deepEqual(loadStoreConfig(tmp.dir, BACKEND_CATALOG), DEFAULT_STORE_CONFIG);
  });
});

describe("jails: Debian's /etc/fail2ban", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('loads every jail section, sshd enabled by jail.d/defaults-debian.conf with its filter from filter.d', () => {
    const jails = loadJails(FAIL2BAN, BACKEND_CATALOG);
    const sections = readFileSync(join(FAIL2BAN, 'jail.conf'), 'utf8').match(/^\[[^\]]+\]/gm) ?? [];
    assert.equal(jails.length, sections.filter((s) => s !== '[INCLUDES]' && s !== '[DEFAULT]').length);
    assert.deepEqual(jails.filter((j) => j.enabled).map((j) => j.name), ['sshd']);
    const sshd = byName(jails, 'sshd');
    assert.ok(sshd.enabled && sshd.source !== 'bans', 'sshd is enabled');
    assert.equal(sshd.filter.file, join(FAIL2BAN, 'filter.d/sshd.conf'));
    assert.deepEqual(sshd.origin, { file: join(FAIL2BAN, 'jail.conf'), line: readFileSync(join(FAIL2BAN, 'jail.conf'), 'utf8').split('\n').indexOf('[sshd]') + 1 });
    assert.deepEqual([sshd.backends, sshd.blocktype, sshd.port, sshd.protocol], [['iptables'], 'reject', 'ssh', 'tcp']);
  });

  it('reads every jail as fail2ban 1.0.2 reads it', () => {
    assertAgreesWithFail2ban(FAIL2BAN);
  });

  it('reads a tree with jail.local and jail.d overrides as fail2ban reads it', () => {
    cpSync(FAIL2BAN, tmp.dir, { recursive: true });
    writeFiles(tmp.dir, {
      'jail.local': [
        '[DEFAULT]',
        'ignoreip = 127.0.0.1/8 ::1, 198.51.100.7/24',
        '           gateway.example.org',
        'bantime = 1h',
        'usedns = no',
        '',
        '[sshd]',
        'logpath = /var/log/auth.log',
        '          /var/log/secure tail',
        'maxretry = 3',
        'findtime = 1h 30m',
        '',
        '[nginx-http-auth]',
        'enabled = true',
        'banaction = nftables-multiport',
        'bantime = -1',
        '',
        '[dovecot]',
        'enabled = true',
        'action = %(action_mw)s',
        '',
        '[postfix-sasl]',
        'enabled = true',
        'action = firewallcmd-ipset[blocktype=DROP]',
        '         hostsdeny',
        '         iptables-allports[blocktype="REJECT --reject-with tcp-reset"]',
        '',
        '[recidive]',
        'enabled = true',
        'banaction = iptables-ipset-proto6-allports',
        'logencoding = latin-1',
      ].join('\n'),
      'jail.d/zz-extra.local': '[apache-auth]\nenabled = true\nmaxmatches = 2\nbackend = polling\naction = nftables[blocktype=drop]\n',
      'jail.d/zz-journal.conf': '[sshd]\nbackend = systemd\n',
    });
    const jails = assertAgreesWithFail2ban(tmp.dir);
    const sshd = byName(jails, 'sshd');
    assert.deepEqual([sshd.backend, sshd.logpaths], ['systemd', []]);
    assert.equal(sshd.enabled && sshd.filter?.options.logtype, 'journal');
    assert.deepEqual(byName(jails, 'postfix-sasl').backends, ['firewalld', 'hosts-deny', 'iptables']);
    assert.equal(byName(jails, 'postfix-sasl').blocktype, 'drop');
    assert.deepEqual(byName(jails, 'dovecot').actions.map((a) => [a.name, a.file, a.options.dest]), [['sendmail-whois', join(tmp.dir, 'action.d/sendmail-whois.conf'), 'root@localhost']]);
    assert.equal(byName(jails, 'recidive').logencoding, 'windows-1252');
  });
});

const BASE = '[DEFAULT]\nfilter = %(__name__)s\naction = nftables\n\n[sshd]\nenabled = true\nlogpath = /var/log/auth.log\n';
/** The shipped sshd filter's journalmatch as parsed: one alternative per term, in order of field and value. */
const SSHD_JOURNAL_MATCH = [
  ...['sshd', 'sshd-session'].map((value) => [{ field: 'SYSLOG_IDENTIFIER', value }]),
  ...['sshd', 'sshd-auth', 'sshd-session'].map((value) => [{ field: '_COMM', value }]),
];

describe('jails: options', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  const load = (files: Record<string, string>, options?: LoadJailsOptions): JailDefinition[] => {
    writeFiles(tmp.dir, files);
    return loadJails(tmp.dir, BACKEND_CATALOG, options);
  };
  const sshd = (local: string): JailDefinition => byName(load({ 'jail.conf': BASE, 'jail.local': local }), 'sshd');

  it('source = bans reads no log and loads no filter, bans.jails lists whose bans count; a misspelt source is refused', () => {
    const jail = sshd('[sshd]\nsource = bans\nbans.jails = postfix, dovecot\n');
    assert.ok(jail.enabled && jail.source === 'bans', 'a bans jail');
    assert.deepEqual([jail.bansJails, jail.logpaths, jail.filter], [['postfix', 'dovecot'], [], undefined]);
    const plain = sshd('[sshd]\n');
    assert.equal(plain.enabled && plain.source, undefined, 'logs by default');
    assert.throws(() => sshd('[sshd]\nsource = bams\n'), /\[sshd\] source: expected logs or bans, not "bams"/);
  });

  it('a config dir without jail files has no jails', () => {
    assert.deepEqual(loadJails(join(tmp.dir, 'missing'), BACKEND_CATALOG), []);
    assert.deepEqual(load({ 'f2b-store.conf': '[store]\n' }), []);
  });

  it('defaults as fail2ban: maxretry 5, findtime and bantime 10m, maxmatches = maxretry, ignoreself on, usedns warn, utf-8', () => {
    const jail = sshd('[sshd]\nmaxretry = 7\n');
    assert.deepEqual(
      {
        maxretry: jail.maxretry, maxmatches: jail.maxmatches, findtime: jail.findtime, bantime: jail.bantime, ignoreself: jail.ignoreself,
        ignoreip: jail.ignoreip, usedns: jail.usedns, logencoding: jail.logencoding, backend: jail.backend, increment: jail.increment,
        port: jail.port, protocol: jail.protocol, ignorecommand: jail.ignorecommand,
      },
      {
        maxretry: 7, maxmatches: 7, findtime: 600, bantime: 600, ignoreself: true, ignoreip: [], usedns: 'warn', logencoding: 'utf-8',
        backend: 'auto', increment: { enabled: false, factor: 1, overalljails: false }, port: undefined, protocol: undefined, ignorecommand: undefined,
      },
    );
  });

  it('durations in fail2ban syntax; bantime -1 is permanent', () => {
    const cases: [string, number | null][] = [
      ['600', 600], ['10m', 600], ['1h', 3600], ['1d 12h', 129600], ['1d12h', 129600], ['1w', 604800], ['-1', null],
      ['1hour+30min', 5400], ['2*1h', 7200], ['1 da', 86400], ['1h - 30m', 1800], ['1.5h', 5400],
    ];
    for (const [text, seconds] of cases) assert.equal(sshd(`[sshd]\nbantime = ${text}\n`).bantime, seconds, `bantime = ${text}`);
    assert.equal(sshd('[sshd]\nfindtime = 1h 30m\n').findtime, 5400);
  });

  it('bantime.increment and its factor, formula, multipliers, maxtime, rndtime, overalljails', () => {
    const jail = sshd([
      '[sshd]', 'bantime.increment = true', 'bantime.factor = 2.0 / 2.885385',
      'bantime.formula = ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)',
      'bantime.multipliers = 1 5 30 60', 'bantime.maxtime = 5w', 'bantime.rndtime = 10m', 'bantime.overalljails = yes',
    ].join('\n'));
    assert.deepEqual(jail.increment, {
      enabled: true, factor: 2.0 / 2.885385, formula: 'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)',
      multipliers: [1, 5, 30, 60], maxtime: 35 * 86400, rndtime: 600, overalljails: true,
    });
    assert.deepEqual(sshd('[sshd]\nbantime.increment = on\nbantime.maxtime =\n').increment, { enabled: true, factor: 1, overalljails: false });
  });

  it('ignoreip: addresses and networks canonical, host names kept, spaces, commas and lines', () => {
    const jail = sshd('[sshd]\nignoreip = 127.0.0.1/8, ::ffff:203.0.113.9 2001:DB8:0:0::1/64\n  Gateway.Example.org,192.0.2.10 10.0.0.0/255.0.0.0\n  127.0.0.1/8\nignoreself = false\n');
    assert.deepEqual(jail.ignoreip, ['127.0.0.0/8', '203.0.113.9', '2001:db8::/64', 'gateway.example.org', '192.0.2.10', '10.0.0.0/8']);
    assert.equal(jail.ignoreself, false);
    assert.equal(sshd('[sshd]\nignorecommand = /usr/local/bin/is-friend <ip>\n').ignorecommand, '/usr/local/bin/is-friend <ip>');
  });

  it('logpath: several lines, globs, " tail" and " head"', () => {
    const jail = sshd('[sshd]\nlogpath = /var/log/auth.log\n          /var/log/sshd/*.log tail\n          /var/log/secure head\n');
    assert.deepEqual(jail.logpaths, [
      { pattern: '/var/log/auth.log', tail: false }, { pattern: '/var/log/sshd/*.log', tail: true }, { pattern: '/var/log/secure', tail: false },
    ]);
  });

  it('backend, logencoding, usedns, port, protocol, maxmatches', () => {
    const jail = sshd('[sshd]\nbackend = Polling\nlogencoding = ISO-8859-15\nusedns = RAW\nport = http, https,8000:8080\nprotocol = UDP\nmaxmatches = 0\n');
    assert.deepEqual(
      [jail.backend, jail.logencoding, jail.usedns, jail.port, jail.protocol, jail.maxmatches],
      ['polling', 'iso-8859-15', 'raw', 'http,https,8000:8080', 'udp', 0],
    );
    const journal = sshd('[sshd]\nbackend = systemd[journalpath=/run/log/journal]\n');
    assert.deepEqual([journal.backend, journal.backendOptions, journal.logpaths], ['systemd', { journalpath: '/run/log/journal' }, []]);
  });

  it('ipv4prefix and ipv6prefix: 32 and 128 unless set, from [DEFAULT] or the jail; out of the family\'s range is refused', () => {
    const prefixes = (local: string): [number, number] => {
      const jail = sshd(local);
      return [jail.ipv4prefix, jail.ipv6prefix];
    };
    assert.deepEqual(prefixes('[sshd]\n'), [32, 128]);
    assert.deepEqual(prefixes('[DEFAULT]\nipv6prefix = 64\n'), [32, 64]);
    assert.deepEqual(prefixes('[DEFAULT]\nipv6prefix = 64\n[sshd]\nipv6prefix = 56\nipv4prefix = 24\n'), [24, 56]);
    assert.throws(() => sshd('[DEFAULT]\nipv6prefix = 129\n'), /jail\.local:2: \[sshd\] ipv6prefix: expected a whole number from 1 to 128, not "129"$/);
    assert.throws(() => sshd('[sshd]\nipv4prefix = /24\n'), /jail\.local:2: \[sshd\] ipv4prefix: expected a whole number from 1 to 32, not "\/24"$/);
  });

  it('jail.conf, jail.d/*.conf, jail.local, jail.d/*.local layer in that order; [DEFAULT] reaches every jail', () => {
    const jails = load({
      'jail.conf': `${BASE}maxretry = 1\n\n[other]\nlogpath = /var/log/other.log\n`,
      'jail.d/a.conf': '[sshd]\nmaxretry = 2\n',
      'jail.local': '[DEFAULT]\nbantime = 2h\n[sshd]\nmaxretry = 3\n',
      'jail.d/a.local': '[sshd]\nmaxretry = 4\n[other]\nenabled = false\n',
    });
    assert.deepEqual(jails.map((j) => [j.name, j.enabled, j.maxretry, j.bantime]), [['sshd', true, 4, 7200], ['other', false, 5, 7200]]);
    assert.deepEqual(byName(jails, 'other').origin, { file: join(tmp.dir, 'jail.conf'), line: 10 });
  });

  it('a jail option set in the jail replaces the filter\'s, and may extend it with %(known/...)s', () => {
    const jail = sshd('[sshd]\nfilter = sshd[mode=ddos]\nmaxlines = 3\nusedns = no\nignoreregex = ^ignored <HOST>$\nfailregex = %(known/failregex)s\n            ^extra from <HOST>$\n');
    assert.ok(jail.enabled && jail.source !== 'bans', 'sshd is enabled');
    assert.equal(jail.filter.options.mode, 'ddos');
    assert.deepEqual([jail.filter.maxlines, jail.usedns, jail.filter.options.usedns], [3, 'no', 'no']);
    assert.deepEqual(jail.filter.ignoreregex.map((r) => r.text), ['^ignored <HOST>$']);
    const regexes = jail.filter.failregex.map((r) => r.text);
    assert.equal(regexes.at(-1), '^extra from <HOST>$');
    assert.ok(regexes.length > 2 && regexes.some((r) => r.includes('Did not receive identification string')), `the filter's own (ddos) regexes stay: ${regexes.length}`);
  });

  it("a blank journalmatch clears the filter's; a blank usedns or maxlines counts as not given", () => {
    const plain = sshd('[sshd]\n');
    assert.ok(plain.enabled && plain.source !== 'bans' && plain.filter.journalmatch !== undefined, 'the sshd filter has a journalmatch');
    const jail = sshd('[sshd]\njournalmatch =\nusedns =\nmaxlines =\n');
    assert.ok(jail.enabled && jail.source !== 'bans', 'sshd is enabled');
    assert.deepEqual([jail.filter.journalmatch, jail.usedns, jail.filter.maxlines], [undefined, 'warn', 1]);
  });

  it('backend = systemd: the journal options typed, the journalmatch (jail over filter) parsed', () => {
    const plain = sshd('[sshd]\nbackend = systemd\n');
    assert.ok(plain.enabled && plain.source !== 'bans', 'sshd is enabled');
    assert.deepEqual(plain.journal, {});
    // The shipped sshd filter's: _COMM=sshd + _COMM=sshd-session + _COMM=sshd-auth + SYSLOG_IDENTIFIER=sshd + SYSLOG_IDENTIFIER=sshd-session.
    assert.deepEqual(plain.journalMatch, SSHD_JOURNAL_MATCH);
    const options = sshd('[sshd]\nbackend = systemd[journalfiles="/j/a.journal /j/b*.journal", journalflags=12, namespace=web]\n'
      + 'journalmatch = _SYSTEMD_UNIT=ssh.service _SYSTEMD_UNIT=sshd.service PRIORITY=5\n  SYSLOG_IDENTIFIER="my sshd"\n');
    assert.ok(options.enabled && options.source !== 'bans', 'sshd is enabled');
    assert.deepEqual(options.journal, { files: ['/j/a.journal', '/j/b*.journal'], flags: 12, namespace: 'web' });
    assert.deepEqual(options.journalMatch, [
      [{ field: 'PRIORITY', value: '5' }, { field: '_SYSTEMD_UNIT', value: 'ssh.service' }, { field: '_SYSTEMD_UNIT', value: 'sshd.service' }],
      [{ field: 'SYSLOG_IDENTIFIER', value: 'my sshd' }],
    ]);
    const all = sshd('[sshd]\nbackend = systemd[journalpath=/var/log/journal/remote]\njournalmatch =\n');
    assert.deepEqual([all.journal, all.enabled && all.journalMatch], [{ path: '/var/log/journal/remote' }, undefined]);
    const files = sshd('[sshd]\nlogpath = /var/log/x.log\n');
    assert.deepEqual([files.journal, files.enabled && files.journalMatch], [undefined, undefined]);
  });

  it('backend = auto where no logpath names a file and journald runs: the journal, as backend = systemd reads it; otherwise the files', () => {
    const asked: string[][] = [];
    const journalHere = { journalInstead: (logpaths: readonly { pattern: string }[]): boolean => {
      asked.push(logpaths.map((p) => p.pattern));
      return true;
    } };
    const jails = load({ 'jail.conf': BASE, 'jail.local': '[sshd]\nlogpath = /var/log/auth.log\n          /var/log/sshd/*.log tail\n' }, journalHere);
    const fallen = byName(jails, 'sshd');
    assert.ok(fallen.enabled && fallen.source !== 'bans', 'sshd is enabled');
    assert.deepEqual(asked, [['/var/log/auth.log', '/var/log/sshd/*.log']]);
    assert.deepEqual([fallen.backend, fallen.logpaths, fallen.journal], ['systemd', [], {}]);
    assert.deepEqual(fallen.journalInsteadOf, [{ pattern: '/var/log/auth.log', tail: false }, { pattern: '/var/log/sshd/*.log', tail: true }]);
    assert.deepEqual(fallen.journalMatch, SSHD_JOURNAL_MATCH);
    // The filter as backend = systemd loads it: its journal form (logtype = journal), where the file form reads a syslog prefix.
    const systemd = sshd('[sshd]\nbackend = systemd\n');
    assert.ok(systemd.enabled && systemd.source !== 'bans', 'sshd is enabled');
    assert.equal(fallen.filter.prefregex?.text, systemd.filter.prefregex?.text);
    assert.equal(fallen.filter.options.logtype, 'journal');

    const sshdWith = (local: string, options: LoadJailsOptions): JailDefinition => byName(load({ 'jail.conf': BASE, 'jail.local': local }, options), 'sshd');
    const files = (jail: JailDefinition): [string, number, unknown] => [jail.backend, jail.logpaths.length, jail.journalInsteadOf];
    // A file is there (or journald does not run): the files, as fail2ban reads them.
    assert.deepEqual(files(sshdWith('[sshd]\n', { journalInstead: () => false })), ['auto', 1, undefined]);
    // A file backend named, a filter without journalmatch, or no probe at all: never the journal.
    assert.deepEqual(files(sshdWith('[sshd]\nbackend = polling\n', journalHere)), ['polling', 1, undefined]);
    assert.deepEqual(files(sshdWith('[sshd]\njournalmatch =\n', journalHere)), ['auto', 1, undefined]);
    // A container's log (logformat) is no system log: the journal never stands in for it.
    const docker = sshdWith('[sshd]\nlogformat = docker\n', journalHere);
    assert.deepEqual([...files(docker), docker.logformat], ['auto', 1, undefined, 'docker']);
    assert.deepEqual(files(sshdWith('[sshd]\n', {})), ['auto', 1, undefined]);
    // Neither a disabled jail nor one counting bans reads logs: nothing is asked.
    asked.length = 0;
    sshdWith('[sshd]\nenabled = false\n', journalHere);
    sshdWith('[sshd]\nsource = bans\n', journalHere);
    assert.deepEqual(asked, []);
  });

  it('backend = systemd: bad journal options and journalmatch terms are refused, naming file, line and value', () => {
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journaldir=/x]\n'), /jail\.local:2: \[sshd\] backend: unknown journal option "journaldir"/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journalpath=/x, journalfiles=/y]\n'), /journalpath or journalfiles, not both/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journalflags=16]\n'), /journalflags must be a sum of 1 \(localOnly\).*not "16"/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journalflags=x]\n'), /journalflags .*not "x"/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journalpath=journal]\n'), /journalpath: not an absolute path: "journal"/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd[journalfiles="/j/a.journal b.journal"]\n'), /journalfiles: not an absolute path: "b\.journal"/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd\n\njournalmatch = _SYSTEMD_UNIT=sshd.service + _comm=sshd\n'),
      /jail\.local:4: \[sshd\] journalmatch "_SYSTEMD_UNIT=sshd\.service \+ _comm=sshd": "_comm=sshd" is not FIELD=value/);
    throwsInput(() => sshd('[sshd]\nbackend = systemd\njournalmatch = "_COMM=sshd\n'), /jail\.local:3: \[sshd\] journalmatch .*quoted string/);
    // A disabled jail's backend options are checked too.
    throwsInput(() => sshd('[sshd]\nenabled = false\nbackend = systemd[bogus=1]\n'), /unknown journal option "bogus"/);
  });

  it('disabled jails are checked but their filter is not loaded', () => {
    const jails = load({ 'jail.conf': `${BASE}\n[ghost]\nfilter = no-such-filter\nlogpath = /var/log/ghost.log\n` });
    const ghost = byName(jails, 'ghost');
    assert.deepEqual([ghost.enabled, ghost.filter], [false, undefined]);
  });

  it('%(fail2ban_confpath)s is the config dir and %(fail2ban_version)s the fail2ban release followed', () => {
    const jail = sshd('[sshd]\nignorecommand = %(fail2ban_confpath)s/bin/check <ip> %(fail2ban_version)s\n');
    assert.equal(jail.ignorecommand, `${tmp.dir}/bin/check <ip> 1.0.2`);
  });
});

describe('jails: actions', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  const jail = (action: string, extra = ''): JailDefinition => {
    writeFiles(tmp.dir, { 'jail.conf': `${BASE}${extra}action = ${action}\n` });
    return byName(loadJails(tmp.dir, BACKEND_CATALOG), 'sshd');
  };
  const mapped = (action: string, extra?: string): [readonly string[], string, string[]] => {
    const j = jail(action, extra);
    return [j.backends, j.blocktype, j.actions.map((a) => a.name)];
  };

  it("fail2ban's stock firewall actions map to native backends", () => {
    const cases: [string, string[]][] = [
      ['iptables', ['iptables']], ['iptables-multiport[port="ssh", protocol="tcp"]', ['iptables']], ['iptables-allports', ['iptables']],
      ['iptables-new', ['iptables']], ['iptables[type=allports]', ['iptables']], ['iptables-ipset', ['ipset']],
      ['iptables-ipset-proto4', ['ipset']], ['iptables-ipset-proto6', ['ipset']], ['iptables-ipset-proto6-allports', ['ipset']],
      ['nftables', ['nftables']], ['nftables-multiport', ['nftables']], ['nftables-allports', ['nftables']],
      ['firewallcmd-ipset', ['firewalld']], ['firewallcmd-multiport', ['firewalld']], ['firewallcmd-rich-rules', ['firewalld']],
      ['hostsdeny', ['hosts-deny']], ['nftables-multiport hostsdeny nftables-allports', ['nftables', 'hosts-deny']],
    ];
    for (const [action, backends] of cases) assert.deepEqual(mapped(action)[0], backends, action);
  });

  it('action = %(action_)s and %(action_mw)s expand to the banaction with port and protocol, plus the mail action', () => {
    const extra = 'banaction = nftables-multiport\nport = ssh\nprotocol = tcp\nmta = sendmail\naction_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s"]\naction_mw = %(action_)s\n            %(mta)s-whois[sender="f2b@example.org", dest="root", protocol="%(protocol)s"]\n';
    const j = jail('%(action_mw)s', extra);
    assert.deepEqual([j.backends, j.actions.map((a) => [a.name, a.options])], [
      ['nftables'], [['sendmail-whois', { sender: 'f2b@example.org', dest: 'root', protocol: 'tcp' }]],
    ]);
    assert.deepEqual(j.actions[0]?.origin, { file: join(tmp.dir, 'jail.conf'), line: 14 });
    assert.equal(j.actions[0]?.file, '/etc/fail2ban/action.d/sendmail-whois.conf');
  });

  it('blocktype: from the action options, else the action file, else reject; REJECT/reject and DROP/drop', () => {
    assert.deepEqual(mapped('iptables-multiport[blocktype=DROP]'), [['iptables'], 'drop', []]);
    assert.deepEqual(mapped('iptables-multiport'), [['iptables'], 'reject', []]);
    assert.deepEqual(mapped('nftables[blocktype=drop]'), [['nftables'], 'drop', []]);
    assert.deepEqual(mapped('firewallcmd-ipset[blocktype="REJECT --reject-with icmp-host-prohibited"]'), [['firewalld'], 'reject', []]);
    writeFiles(tmp.dir, { 'action.d/nftables-multiport.local': '[Init]\nblocktype = drop\n' });
    assert.deepEqual(mapped('nftables-multiport'), [['nftables'], 'drop', []]);
    assert.deepEqual(mapped('nftables'), [['nftables'], 'reject', []]);
  });

  it('a firewall action with another blocktype, and any other action.d action, is run as a command', () => {
    assert.deepEqual(mapped('iptables-multiport[blocktype=RETURN] abuseipdb[abuseipdb_apikey=x]'), [[], 'reject', ['iptables-multiport', 'abuseipdb']]);
    assert.deepEqual(mapped('nftables[blocktype="counter redirect to 2222"]'), [[], 'reject', ['nftables']]);
    writeFiles(tmp.dir, { 'action.d/my-notify.conf': '[Definition]\nactionban = true\n' });
    const j = jail('nftables\n         my-notify[to="ops, security", level=2]');
    assert.deepEqual([j.backends, j.actions], [['nftables'], [{
      name: 'my-notify', options: { to: 'ops, security', level: '2' }, origin: { file: join(tmp.dir, 'jail.conf'), line: 9 }, file: join(tmp.dir, 'action.d/my-notify.conf'),
    }]]);
  });

  it('an options list may span lines and be given in several [...] groups', () => {
    const j = jail('sendmail-whois[dest=root,\n           sender=f2b]\n         [protocol=udp]\n         nftables');
    assert.deepEqual([j.backends, j.actions.map((a) => [a.name, a.options, a.origin.line])], [['nftables'], [['sendmail-whois', { dest: 'root', sender: 'f2b', protocol: 'udp' }, 8]]]);
  });

  it('no action: no native backend (the configured backends apply); banaction alone stands for the action', () => {
    assert.deepEqual(mapped(''), [[], 'reject', []]);
    writeFiles(tmp.dir, { 'jail.conf': '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\nbanaction = ipset-less\n' });
    throwsInput(() => loadJails(tmp.dir, BACKEND_CATALOG), /jail\.conf:5: \[sshd\] action: no action "ipset-less" in /);
    writeFiles(tmp.dir, { 'jail.conf': '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\nbanaction = iptables-ipset\n' });
    assert.deepEqual(byName(loadJails(tmp.dir, BACKEND_CATALOG), 'sshd').backends, ['ipset']);
  });
});

describe('jails: errors name the file, the line, the jail, the option and the value', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  const rejects = (local: string, expected: RegExp): void => {
    writeFiles(tmp.dir, { 'jail.conf': BASE, 'jail.local': local });
    throwsInput(() => loadJails(tmp.dir, BACKEND_CATALOG), expected);
  };

  it('bad values of each option', () => {
    const cases: [string, RegExp][] = [
      ['[sshd]\nbantime = 10x\n', /jail\.local:2: \[sshd\] bantime: bad duration "10x"/],
      ['[sshd]\nfindtime = -1\n', /jail\.local:2: \[sshd\] findtime: must be a duration, not permanent: "-1"/],
      ['[sshd]\nbantime = -5\n', /jail\.local:2: \[sshd\] bantime: bad duration "-5"/],
      ['[sshd]\nmaxretry = 0\n', /jail\.local:2: \[sshd\] maxretry: expected a whole number of at least 1, not "0"/],
      ['[sshd]\nmaxretry = five\n', /jail\.local:2: \[sshd\] maxretry: expected a whole number of at least 1, not "five"/],
      ['[sshd]\nmaxmatches = -1\n', /jail\.local:2: \[sshd\] maxmatches: expected a whole number, not "-1"/],
      ['[sshd]\nenabled = ture\n', /jail\.local:2: \[sshd\] enabled: expected true or false .*not "ture" \(did you mean true\?\)$/],
      ['[sshd]\nbackend = inotify\n', /jail\.local:2: \[sshd\] backend: unknown backend "inotify" \(did you mean pyinotify\?\) \(known: /],
      ['[sshd]\nbackend = systemdd\n', /jail\.local:2: \[sshd\] backend: unknown backend "systemdd" \(did you mean systemd\?\)/],
      ['[sshd]\nusedns = maybe\n', /jail\.local:2: \[sshd\] usedns: expected yes, warn, no or raw, not "maybe"$/],
      ['[sshd]\nusedns = wran\n', /jail\.local:2: \[sshd\] usedns: expected yes, warn, no or raw, not "wran" \(did you mean warn\?\)$/],
      ['[sshd]\nlogencoding = klingon\n', /jail\.local:2: \[sshd\] logencoding: unknown encoding "klingon"/],
      ['[sshd]\nlogformat = dockr\n', /jail\.local:2: \[sshd\] logformat: expected plain, docker, cri, not "dockr" \(did you mean docker\?\)$/],
      ['[sshd]\nbackend = systemd\nlogformat = cri\n', /jail\.local:3: \[sshd\] logformat = cri reads container log files: the journal holds no records/],
      ['[sshd]\nbantime.factor = lots\n', /jail\.local:2: \[sshd\] bantime\.factor: expected a number: .*"lots"/],
      ['[sshd]\nbantime.multipliers = 1 2 x\n', /jail\.local:2: \[sshd\] bantime\.multipliers: .*not "x"/],
      ['[sshd]\nbantime.maxtime = -1\n', /jail\.local:2: \[sshd\] bantime\.maxtime: must be a duration, not permanent/],
      ['[sshd]\nbantime = 1000000y\n', /jail\.local:2: \[sshd\] bantime: duration "1000000y" is longer than the maximum of 100 years .*permanent/],
      ['[sshd]\nfindtime = 101y\n', /jail\.local:2: \[sshd\] findtime: duration "101y" is longer than the maximum of 100 years/],
      ['[sshd]\nbantime.maxtime = 200*1y\n', /jail\.local:2: \[sshd\] bantime\.maxtime: duration "200\*1y" is longer than the maximum/],
      ['[sshd]\nbantime.rndtime = 1y*1000\n', /jail\.local:2: \[sshd\] bantime\.rndtime: duration "1y\*1000" is longer than the maximum/],
      ['[sshd]\nport = ssh;22\n', /jail\.local:2: \[sshd\] port: .*not "ssh;22"/],
      ['[sshd]\nprotocol = tcp udp\n', /jail\.local:2: \[sshd\] protocol: .*not "tcp udp"/],
      ['[sshd]\nignoreip = 127.0.0.1\n  10.0.0.0/33\n', /jail\.local:3: \[sshd\] ignoreip: not an IP address, CIDR network or host name: "10\.0\.0\.0\/33"/],
      ['[sshd]\nignoreip = 300.1.2.3\n', /jail\.local:2: \[sshd\] ignoreip: .*"300\.1\.2\.3"/],
      ['[sshd]\nignoreip = bad!name\n', /jail\.local:2: \[sshd\] ignoreip: .*"bad!name"/],
      ['[sshd]\nlogpath = /var/log/a.log\n  /var/log/b.log /var/log/c.log\n', /jail\.local:3: \[sshd\] logpath: one path per line.*"\/var\/log\/b\.log \/var\/log\/c\.log"/],
      ['[sshd]\nlogpath = auth.log\n', /jail\.local:2: \[sshd\] logpath: not an absolute path: "auth\.log"/],
      ['[sshd]\nlogpath =\n', /jail\.local:2: \[sshd\] enabled, but no logpath/],
      ['[sshd]\nfilter =\n', /jail\.conf:5: \[sshd\] enabled, but no filter is given/],
      ['[sshd]\nfilter = no-such-filter\n', /jail\.local:2: filter "no-such-filter": no filter "no-such-filter" in /],
      ['[sshd]\nfilter = sshd[mode=normal\n', /jail\.local:2: filter "sshd\[mode=normal": missing "]"/],
      ['[sshd]\naction = nftables[port=ssh\n', /jail\.local:2: \[sshd\] action: missing "]"/],
      ['[sshd]\naction = no-such-action\n', /jail\.local:2: \[sshd\] action: no action "no-such-action" in /],
      ['[sshd]\naction = sendmal-whois\n', /jail\.local:2: \[sshd\] action: no action "sendmal-whois" \(did you mean sendmail-whois\?\) in /],
      ['[sshd]\nbantime = %(nope)s\n', /jail\.local:2: %\(nope\)s: no option "nope"/],
      ['[bad name!]\nenabled = false\n', /jail\.local:1: bad jail name "bad name!"/],
    ];
    for (const [local, expected] of cases) rejects(local, expected);
  });

  it('a bad value inherited from [DEFAULT] is reported where it is written, for the jail reading it', () => {
    rejects('[DEFAULT]\nfindtime = soon\n', /jail\.local:2: \[sshd\] findtime: bad duration "soon"/);
  });

  it('disabled jails are checked too', () => {
    writeFiles(tmp.dir, { 'jail.conf': `${BASE}\n[off]\nenabled = false\nbantime = 1 fortnight\n` });
    throwsInput(() => loadJails(tmp.dir, BACKEND_CATALOG), /jail\.conf:11: \[off\] bantime: bad duration "1 fortnight"/);
  });
});
