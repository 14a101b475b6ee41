import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadFilter, type FilterDefinition } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

const STOCK = '/etc/fail2ban/filter.d';
const TEST_FILTERS = '/usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d';
/** The corpus's zzz-* filters include this source-tree path; it means the installed common.conf. */
const resolveInclude = (path: string): string => (path.endsWith('/config/filter.d/common.conf') ? join(STOCK, 'common.conf') : path);

function throwsInput(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InputError && expected.test(e.message) && !e.message.includes('\n'));
}

/** What fail2ban itself resolved (test/fixtures/fail2ban-config/make.py, fail2ban's FilterReader). */
interface Resolution {
  dir: string;
  filter: string;
  options: Record<string, string>;
  error?: string;
  failregex: string[];
  ignoreregex: string[];
  prefregex: string | null;
  datepattern: string | null;
  maxlines: number | null;
  journalmatch: string | null;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/fail2ban-config/filters.json', import.meta.url), 'utf8')) as { filters: Resolution[] };

function specOf(r: Resolution): string {
  const options = Object.entries(r.options).map(([k, v]) => `${k}="${v}"`);
  return options.length === 0 ? r.filter : `${r.filter}[${options.join(', ')}]`;
}

function resolved(f: FilterDefinition): Omit<Resolution, 'dir' | 'filter' | 'options' | 'error'> {
  return {
    failregex: f.failregex.map((r) => r.text),
    ignoreregex: f.ignoreregex.map((r) => r.text),
    prefregex: f.prefregex?.text ?? null,
    datepattern: f.datepattern ?? null,
    maxlines: f.maxlines,
    journalmatch: f.journalmatch ?? null,
  };
}

describe('filters: every stock filter resolves exactly as fail2ban resolves it', () => {
  it('the fixture holds every filter.d/*.conf and every filter instance of the sample-log corpus', () => {
    const stock = readdirSync(STOCK).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5));
    const plain = new Set(fixture.filters.filter((r) => Object.keys(r.options).length === 0).map((r) => r.filter));
    assert.deepEqual(stock.filter((f) => !plain.has(f)), []);
    const corpus = readFileSync(new URL('../fixtures/compat/fail2ban-samples.jsonl', import.meta.url), 'utf8');
    const have = new Set(fixture.filters.map((r) => `${r.filter} ${JSON.stringify(Object.entries(r.options).sort())}`));
    const missing = new Set<string>();
    for (const line of corpus.split('\n')) {
      if (line === '') continue;
      const rec = JSON.parse(line) as { filter: string; filterOptions: Record<string, string> | null };
      const key = `${rec.filter} ${JSON.stringify(Object.entries(rec.filterOptions ?? {}).sort())}`;
      if (!have.has(key)) missing.add(key);
    }
    assert.deepEqual([...missing], []);
  });

  for (const r of fixture.filters) {
    const spec = specOf(r);
    if (r.error !== undefined) {
      it(`${spec}: fails as in fail2ban (${r.error.slice(0, 60)}…), naming file and line`, () => {
        throwsInput(() => loadFilter(spec, [r.dir], { resolveInclude }), new RegExp(`^${r.dir}/${r.filter}\\.conf:\\d+: `));
      });
      continue;
    }
    it(`${spec}${r.dir === STOCK ? '' : ` (${r.dir})`}`, () => {
      const f = loadFilter(spec, [r.dir], { resolveInclude });
      assert.deepEqual(resolved(f), {
        failregex: r.failregex,
        ignoreregex: r.ignoreregex,
        prefregex: r.prefregex || null,
        datepattern: r.datepattern,
        maxlines: r.maxlines ?? 1,
        journalmatch: r.journalmatch || null,
      });
      for (const regex of [...f.failregex, ...f.ignoreregex]) {
        assert.ok(regex.line > 0 && f.file.startsWith(r.dir.slice(0, r.dir.lastIndexOf('/'))) && regex.file.endsWith('.conf'), `${regex.file}:${regex.line} for ${regex.text}`);
      }
    });
  }
});

describe('filters: spot checks against fail2ban 1.0.2', () => {
  const load = (spec: string): FilterDefinition => loadFilter(spec, [STOCK]);

  it('sshd: modes normal, ddos, aggressive pick their regexes; tags for the engine survive', () => {
    const normal = load('sshd');
    const ddos = load('sshd[mode=ddos]');
    const aggressive = load('sshd[mode=aggressive]');
    assert.deepEqual([normal, ddos, aggressive].map((f) => f.failregex.length), [22, 29, 33]);
    assert.equal(normal.failregex[0]?.text, String.raw`^[aA]uthentication (?:failure|error|failed) for <F-USER>.*</F-USER> from <HOST>( via \S+)?(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*$`);
    assert.equal(normal.prefregex?.text, String.raw`^<F-MLFID>(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?|[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?</F-MLFID>(?:(?:error|fatal): (?:PAM: )?)?<F-CONTENT>.+</F-CONTENT>$`);
    const ddosOnly = String.raw`^Did not receive identification string from <HOST>`;
    assert.ok(!normal.failregex.some((r) => r.text === ddosOnly), 'normal mode has no ddos regex');
    assert.ok(ddos.failregex.some((r) => r.text === ddosOnly), 'ddos mode has the ddos regex');
    assert.ok(aggressive.failregex.some((r) => r.text === String.raw`^Unable to negotiate a (?:(?:\w+ (?!found\b)){0,2}\w+)`), 'aggressive adds the extra regexes');
    assert.equal(aggressive.options.mode, 'aggressive');
    assert.equal(normal.options.mode, 'normal');
    assert.equal(normal.journalmatch, '_SYSTEMD_UNIT=sshd.service + _COMM=sshd');
  });

  it('postfix, dovecot, apache-auth, recidive, nginx-http-auth', () => {
    assert.equal(load('postfix').failregex[0]?.text, String.raw`^[A-Z]{4} from [^[]*\[<HOST>\](?::\d+)?: [45][50][04] [45]\.\d\.\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|(?:Sender|Recipient) address) rejected: )?(?:Service unavailable|(?:Client host|Command|Data command) rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match|[Uu](?:ser unknown|ndeliverable address))\b`);
    const dovecot = load('dovecot');
    assert.equal(dovecot.failregex[0]?.text, String.raw`^authentication failure; logname=<F-ALT_USER1>\S*</F-ALT_USER1> uid=\S* euid=\S* tty=dovecot ruser=<F-USER>\S*</F-USER> rhost=<HOST>(?:\s+user=<F-ALT_USER>\S*</F-ALT_USER>)?\s*$`);
    assert.equal(dovecot.datepattern, '{^LN-BEG}TAI64N\n{^LN-BEG}');
    assert.equal(load('apache-auth').prefregex?.text, String.raw`^\[\]\s\[(:?error|(?!evasive)\S+:\S+)\]( \[pid \d+(:\S+ \d+)?\])? \[client <HOST>(:\d{1,5})?\] (?:AH\d+: )?<F-CONTENT>.+</F-CONTENT>$`);
    const recidive = load('recidive');
    assert.deepEqual(recidive.failregex.map((r) => r.text), [String.raw`^(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:@vserver_\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?(?:fail2ban(?:-server|\.actions)\s*)(?:\(\S+\))?[\]\)]?:?|[\[\(]?(?:fail2ban(?:-server|\.actions)\s*)(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?(?:\[ID \d+ \S+\]\s+)?(?:\s*fail2ban\.actions\s*(?:\[\d+\])?:\s+)?NOTICE\s+\[(?!recidive\])(?:.*)\]\s+Ban\s+<HOST>\s*$`]);
    assert.equal(recidive.datepattern, '^{DATE}');
    assert.equal(load('nginx-http-auth').failregex[0]?.text, String.raw`^\s*\[error\] \d+#\d+: \*\d+ user "(?:[^"]+|.*?)":? (?:password mismatch|was not found in "[^\"]*"), client: <HOST>, server: \S*, request: "\S+ \S+ HTTP/\d+\.\d+", host: "\S+"(?:, referrer: "\S+")?\s*$`);
  });

  it('each regex names the file line that wrote it, also through %(...)s and <tag>', () => {
    const lines = readFileSync(join(STOCK, 'sshd.conf'), 'utf8').split('\n');
    const lineOf = (needle: string): number => lines.findIndex((l) => l.trim().endsWith(needle)) + 1;
    const aggressive = load('sshd[mode=aggressive]');
    const where = (text: string): string => {
      const regex = aggressive.failregex.find((r) => r.text === text);
      return regex === undefined ? 'missing' : `${regex.file}:${regex.line}`;
    };
    assert.equal(where(String.raw`^refused connect from \S+ \(<HOST>\)`), `${STOCK}/sshd.conf:${lineOf(String.raw`^refused connect from \S+ \(<HOST>\)`)}`);
    assert.equal(where(String.raw`^Did not receive identification string from <HOST>`), `${STOCK}/sshd.conf:${lineOf('^Did not receive identification string from <HOST>')}`);
    assert.equal(aggressive.prefregex?.line, lineOf('<F-CONTENT>.+</F-CONTENT>$'));
  });

  it('a systemd backend makes logtype journal, as a jail does; the spec still wins', () => {
    const journal = fixture.filters.find((r) => r.filter === 'sshd' && JSON.stringify(r.options) === '{"logtype":"journal"}');
    assert.ok(journal !== undefined, 'the fixture has sshd[logtype=journal]');
    assert.equal(loadFilter('sshd', [STOCK], { backend: 'systemd' }).prefregex?.text, journal.prefregex);
    assert.equal(loadFilter('sshd[logtype=file]', [STOCK], { backend: 'systemd' }).prefregex?.text, load('sshd').prefregex?.text);
    assert.equal(loadFilter('sshd', [STOCK], { backend: 'systemd' }).options.logtype, 'journal');
  });

  it('overrides win over the spec\'s options', () => {
    assert.equal(loadFilter('sshd[mode=ddos]', [STOCK], { overrides: { mode: 'aggressive' } }).failregex.length, 33);
  });

  it('takes a path, a name with .conf, and the first search dir that has the filter', () => {
    assert.deepEqual(resolved(loadFilter(join(STOCK, 'sshd.conf'), [])), resolved(load('sshd')));
    assert.deepEqual(resolved(loadFilter('sshd.conf[mode=ddos]', ['/nonexistent', STOCK])), resolved(load('sshd[mode=ddos]')));
    assert.equal(loadFilter('zzz-generic-example', [TEST_FILTERS, STOCK], { resolveInclude }).file, join(TEST_FILTERS, 'zzz-generic-example.conf'));
  });

  it('refuses an unknown filter, a missing file and a bad spec on one line', () => {
    throwsInput(() => loadFilter('nosuch', [STOCK, '/x']), /^filter "nosuch": no filter "nosuch" in \/etc\/fail2ban\/filter\.d, \/x$/);
    throwsInput(() => loadFilter('/x/y.conf', [STOCK]), /^filter "\/x\/y\.conf": filter file not found: \/x\/y\.conf$/);
    throwsInput(() => loadFilter('sshd[mode=ddos', [STOCK], { specOrigin: { file: '/etc/f2b-store/jail.local', line: 12 } }),
      /^\/etc\/f2b-store\/jail\.local:12: filter "sshd\[mode=ddos": missing "\]": sshd\[mode=ddos$/);
  });
});

describe('filters: the dialect on small files', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());
  const write = (name: string, text: string): void => writeFileSync(join(tmp.dir, name), text);
  const load = (spec: string): FilterDefinition => loadFilter(spec, [tmp.dir]);

  it('substitutes nested tags, [Init] values and known/ ones; spec options override [Init]; unknown tags stay', () => {
    write('t.conf', '[Init]\nmode = normal\nword = init\n[Definition]\n' +
      're-normal = ^normal <F-USER>\\S+</F-USER> from <HOST>$\nre-strict = ^strict <known/word> <word> from <ADDR>$\n' +
      'failregex = <re-<mode>>\n            ^<SKIPLINES>x <IP4> <IP6> <DNS> <CIDR> <SUBNET> <F-ID>\\d+</F-ID> <unknown>$\n');
    assert.deepEqual(load('t').failregex.map((r) => r.text), [
      '^normal <F-USER>\\S+</F-USER> from <HOST>$', '^<SKIPLINES>x <IP4> <IP6> <DNS> <CIDR> <SUBNET> <F-ID>\\d+</F-ID> <unknown>$',
    ]);
    assert.equal(load('t[mode=strict, word=spec]').failregex[0]?.text, '^strict init spec from <ADDR>$');
  });

  it('a .local adds to the failregex through %(known/failregex)s and knows its line', () => {
    write('t.conf', '[Definition]\nfailregex = ^one <HOST>$\nignoreregex =\n');
    write('t.local', '[Definition]\nfailregex = %(known/failregex)s\n            ^two <HOST>$\nignoreregex = ^ok$ ; comment\nmaxlines = 3\n');
    const f = load('t');
    assert.deepEqual(f.failregex.map((r) => `${r.file.slice(tmp.dir.length + 1)}:${r.line} ${r.text}`), ['t.conf:2 ^one <HOST>$', 't.local:3 ^two <HOST>$']);
    assert.deepEqual(f.ignoreregex.map((r) => r.text), ['^ok$']);
    assert.equal(f.maxlines, 3);
  });

  it('refuses a tag that needs itself, and a bad maxlines, naming file:line', () => {
    write('self.conf', '[Definition]\nfailregex = ^x$\n            <failregex>\n');
    throwsInput(() => load('self'), /self\.conf:3: <failregex> is used inside its own value: <failregex>$/);
    write('loop.conf', '[Definition]\na = x <b>\nb = y <a>\nfailregex = <a>\n');
    throwsInput(() => load('loop'), /loop\.conf:3: <a> substituted more than 25 times in <failregex> \(a loop\?\): x y x y .*<a>$/);
    write('ml.conf', '[Definition]\nfailregex = x\nmaxlines = two\n');
    throwsInput(() => load('ml'), /ml\.conf:3: maxlines must be a whole number: two$/);
  });

  it('loads a filter with a broken key it does not use, as fail2ban does, and leaves that key out of options', () => {
    write('u.conf', '[Definition]\nmode = fast\nunused = %(nosuch)s\nalso = <also>\nfailregex = ^<mode> <HOST>$\n');
    const f = load('u');
    assert.deepEqual(f.failregex.map((r) => r.text), ['^fast <HOST>$']);
    assert.deepEqual(Object.keys(f.options).sort(), ['failregex', 'logtype', 'mode']);
  });

  it('keeps an empty datepattern (no date templates) apart from none (the default ones)', () => {
    write('d.conf', '[Definition]\nfailregex = x\ndatepattern =\n');
    write('n.conf', '[Definition]\nfailregex = x\n');
    assert.equal(load('d').datepattern, '');
    assert.equal(load('n').datepattern, undefined);
  });
});
