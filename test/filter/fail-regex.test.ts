import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InputError, tryParseAddress } from '../../src/core/index.js';
import { compileFailRegex, expandFailTags, failureHost } from '../../src/filter/index.js';
import type { FailCaptures, FailRegex } from '../../src/filter/index.js';

const failregex = (text: string, multiline = false): FailRegex => compileFailRegex(text, { kind: 'failregex', multiline });

describe('fail2ban tags', () => {
  it('<HOST> takes IPv4 (also IPv4-mapped), IPv6 in brackets or not, and host names, in that order', () => {
    const r = failregex('^login from <HOST> failed$');
    assert.deepEqual(r.match('login from 192.0.2.7 failed\n'), { ip4: '192.0.2.7' });
    assert.deepEqual(r.match('login from ::ffff:192.0.2.7 failed\n'), { ip4: '192.0.2.7' });
    assert.deepEqual(r.match('login from [2001:db8::7] failed\n'), { ip6: '2001:db8::7' });
    assert.deepEqual(r.match('login from 2001:db8::7 failed\n'), { ip6: '2001:db8::7' });
    assert.deepEqual(r.match('login from mail.example.com failed\n'), { dns: 'mail.example.com' });
    assert.equal(r.match('login from 192.0.2.7 ok\n'), undefined);
  });

  it('usedns = no leaves host names out of <HOST>', () => {
    const r = compileFailRegex('^login from <HOST> failed$', { kind: 'failregex', useDns: 'no' });
    assert.equal(r.match('login from mail.example.com failed\n'), undefined);
    assert.deepEqual(r.match('login from 192.0.2.7 failed\n'), { ip4: '192.0.2.7' });
  });

  it('<ADDR>, <IP4>, <IP6>, <DNS>, <CIDR> and <SUBNET> capture only their kind', () => {
    assert.equal(failregex('^<ADDR>$').match('mail.example.com\n'), undefined);
    assert.deepEqual(failregex('^<IP4> <IP6> <DNS>$').match('192.0.2.1 2001:db8::1 h.example\n'), {
      ip4: '192.0.2.1',
      ip6: '2001:db8::1',
      dns: 'h.example',
    });
    assert.deepEqual(failregex('^<ADDR>/<CIDR>$').match('198.51.100.0/24\n'), { ip4: '198.51.100.0', cidr: '24' });
    assert.deepEqual(failregex('^net <SUBNET>$').match('net [2001:db8::]/32\n'), undefined);
    assert.deepEqual(failregex('^net <SUBNET>$').match('net [2001:db8::/32]\n'), { ip6: '2001:db8::', cidr: '32' });
  });

  it('<F-ID/>, <F-PORT/> and <F-ID>…</F-ID> fill fid and fport', () => {
    assert.deepEqual(failregex('^session <F-ID/> port <F-PORT/>$').match('session ab12 port ssh\n'), {
      fid: 'ab12',
      fport: 'ssh',
    });
    assert.deepEqual(failregex('^session <F-ID>\\d+</F-ID>$').match('session 42\n'), { fid: '42' });
  });

  it('<F-NAME>…</F-NAME> becomes a lowercase capture; flags tags are captures too', () => {
    const r = failregex(
      '^<F-MLFID>\\w+</F-MLFID>: <F-NOFAIL><F-MLFFORGET><F-MLFGAINED>ok</F-MLFGAINED></F-MLFFORGET></F-NOFAIL> <F-USER>\\S+</F-USER> <F-ERROR>.+</F-ERROR>$',
    );
    assert.deepEqual(r.match('conn7: ok root bad thing\n'), {
      mlfid: 'conn7',
      nofail: 'ok',
      mlfforget: 'ok',
      mlfgained: 'ok',
      user: 'root',
      error: 'bad thing',
    });
  });

  it('an alternate user fills user only when user is empty; ALT_USER1 feeds user1, as fail2ban does', () => {
    const r = failregex('^u=<F-USER>\\S*</F-USER> a=<F-ALT_USER>\\S*</F-ALT_USER> b=<F-ALT_USER1>\\S*</F-ALT_USER1> from <ADDR>$');
    assert.deepEqual(r.match('u= a=bob b=eve from 192.0.2.1\n'), {
      user: 'bob',
      alt_user: 'bob',
      alt_user1: 'eve',
      user1: 'eve',
      ip4: '192.0.2.1',
    });
    assert.equal(r.match('u=amy a=bob b= from 192.0.2.1\n')?.user, 'amy');
  });

  it('<SKIPLINES> spans the lines between two parts of a multi-line failure', () => {
    const r = failregex('^conn=<F-ID>\\d+</F-ID> open$<SKIPLINES>^conn=\\d+ closed by <HOST>$', true);
    assert.deepEqual(r.match('conn=4 open\nnoise\nmore noise\nconn=4 closed by 192.0.2.9\n'), {
      fid: '4',
      skiplines0: 'noise\nmore noise\n',
      ip4: '192.0.2.9',
    });
  });

  it('leaves unknown tags and closing tags never opened as text, like fail2ban', () => {
    assert.equal(expandFailTags('<foo> </F-USER> <F-user>'), '<foo> </F-USER> <F-user>');
    assert.ok(failregex('^<foo> from <HOST>$').test('<foo> from 192.0.2.1\n'), 'unknown tag matches itself');
  });

  it('turns a global flag opening a group into a scoped one, as fail2ban does', () => {
    const r = failregex('^SASL ((?i)login|plain) failed from <HOST>$');
    assert.ok(r.test('SASL LOGIN failed from 192.0.2.1\n'), 'the group is case-insensitive');
    assert.ok(!r.test('SASL login FAILED from 192.0.2.1\n'), 'the rest stays case-sensitive');
  });
});

describe('compileFailRegex', () => {
  it('refuses a failregex without a failure id, unless its prefregex has one', () => {
    assert.throws(() => failregex('^user \\S+ failed$'), (e: unknown) => e instanceof InputError && /failure-id/.test(e.message));
    const prefregex = compileFailRegex('^\\S+ from <HOST>: <F-CONTENT>.+</F-CONTENT>$', { kind: 'prefregex' });
    assert.equal(compileFailRegex('^user \\S+ failed$', { kind: 'failregex', prefregex }).kind, 'failregex');
    assert.equal(compileFailRegex('^user \\S+ failed$', { kind: 'ignoreregex' }).kind, 'ignoreregex');
  });

  it('refuses empty regexes and tuple groups, naming the regex', () => {
    assert.throws(() => failregex('   '), InputError);
    assert.throws(
      () => failregex('^<HOST> (?P<tuple_id>\\d+)$'),
      (e: unknown) => e instanceof InputError && e.message.includes('tuple_id'),
    );
  });

  it('reports a Python syntax error with the expanded regex', () => {
    assert.throws(
      () => failregex('^<HOST> (unclosed$'),
      (e: unknown) => e instanceof InputError && e.message.includes('missing ), unterminated subpattern'),
    );
  });

  it('gives prefregex and ignoreregex no MULTILINE even when the filter reads several lines', () => {
    const ignore = compileFailRegex('^b$', { kind: 'ignoreregex', multiline: true });
    assert.ok(!ignore.test('a\nb\n'), 'ignoreregex ^ anchors at the buffer start');
    assert.ok(failregex('^b <HOST>$', true).test('a\nb 192.0.2.1\n'), 'failregex ^ anchors at each line');
  });
});

describe('failureHost', () => {
  it('takes ip4, then ip6, then dns, then fid, with cidr for addresses', () => {
    assert.deepEqual(failureHost({ ip4: '192.0.2.1', ip6: '2001:db8::1', cidr: '24' }), {
      kind: 'ip4',
      value: '192.0.2.1',
      cidr: 24,
    });
    assert.deepEqual(failureHost({ ip6: '2001:db8::1', dns: 'h.example' }), { kind: 'ip6', value: '2001:db8::1' });
    assert.deepEqual(failureHost({ dns: 'h.example', fid: 'x' }), { kind: 'dns', value: 'h.example' });
    assert.deepEqual(failureHost({ fid: 'x' }), { kind: 'fid', value: 'x' });
    assert.equal(failureHost({ user: 'x' }), undefined);
  });
});

/**
 * test/fixtures/fail2ban-regexes.json is written by fail2ban-regexes.py beside it, from the
 * installed fail2ban 1.0.2 (FilterReader on /etc/fail2ban/filter.d, every mode and logtype, and
 * its sample-log corpus replayed through fail2ban's Filter). See that script for the fields.
 */
interface Fixture {
  readonly regexes: readonly { text: string; groups: string[]; expandedSha1: string }[];
  readonly instances: readonly {
    filter: string;
    instance: string;
    maxlines: number;
    prefregex: number | null;
    failregex: number[];
    ignoreregex: number[];
  }[];
  readonly records: readonly [number, number, number | null][];
  readonly bufs: readonly string[];
  readonly calls: readonly [number, number, string, Record<string, string> | null][];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/fail2ban-regexes.json', import.meta.url), 'utf8')) as Fixture;

interface Filter {
  readonly prefregex: FailRegex | undefined;
  readonly failregex: readonly FailRegex[];
  readonly ignoreregex: readonly FailRegex[];
}

function loadFilter(index: number): Filter {
  const instance = fixture.instances[index];
  assert.ok(instance !== undefined, `instance ${index} exists`);
  const text = (i: number): string => fixture.regexes[i]?.text ?? '';
  const prefregex = instance.prefregex === null ? undefined : compileFailRegex(text(instance.prefregex), { kind: 'prefregex' });
  return {
    prefregex,
    failregex: instance.failregex.map((i) =>
      compileFailRegex(text(i), { kind: 'failregex', multiline: instance.maxlines > 1, ...(prefregex === undefined ? {} : { prefregex }) }),
    ),
    ignoreregex: instance.ignoreregex.map((i) => compileFailRegex(text(i), { kind: 'ignoreregex' })),
  };
}

const filters = fixture.instances.map((_, i) => loadFilter(i));

function sorted(captures: FailCaptures | Record<string, string> | null | undefined): string {
  return JSON.stringify(captures ? Object.entries(captures).sort(([a], [b]) => (a < b ? -1 : 1)) : null);
}

describe("fail2ban's own filters", () => {
  it('every failregex, ignoreregex and prefregex of /etc/fail2ban/filter.d translates, with the groups fail2ban sees', () => {
    assert.ok(fixture.regexes.length > 300, `the fixture holds the stock regexes (${fixture.regexes.length})`);
    for (const regex of fixture.regexes) {
      const compiled = compileFailRegex(regex.text, { kind: 'ignoreregex' });
      assert.deepEqual([...compiled.groupNames].sort(), regex.groups, regex.text);
      const sha1 = createHash('sha1').update(compiled.regex).digest('hex');
      assert.equal(sha1, regex.expandedSha1, `tags expand as fail2ban expands them: ${regex.text}`);
    }
  });

  it("every search fail2ban made on its sample logs gives fail2ban's result", () => {
    let matched = 0;
    for (const [instance, buf, which, expected] of fixture.calls) {
      const filter = filters[instance];
      assert.ok(filter !== undefined, `instance ${instance}`);
      const list = which[0] === 'p' ? [filter.prefregex] : which[0] === 'f' ? filter.failregex : filter.ignoreregex;
      const regex = list[Number(which.slice(1))];
      assert.ok(regex !== undefined, `regex ${which} of ${fixture.instances[instance]?.instance}`);
      const text = fixture.bufs[buf] ?? '';
      assert.equal(sorted(regex.match(text)), sorted(expected), `${regex.text}\non ${JSON.stringify(text)}`);
      if (expected !== null) matched++;
    }
    assert.ok(fixture.calls.length > 20000 && matched > 2000, `${fixture.calls.length} searches, ${matched} matches`);
  });

  it('single-line filters find the host and captures the sample logs expect', () => {
    const corpus = new Map(
      readFileSync(new URL('../fixtures/compat/fail2ban-samples.jsonl', import.meta.url), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as CorpusRecord)
        .map((record) => [record.seq, record]),
    );
    let checked = 0;
    const failed: string[] = [];
    for (const [seq, instance, buf] of fixture.records) {
      const record = corpus.get(seq);
      const filter = filters[instance];
      assert.ok(record !== undefined && filter !== undefined && buf !== null, `record ${seq}`);
      if ((fixture.instances[instance]?.maxlines ?? 1) > 1 || usesMlfid(filter)) continue;
      checked++;
      const problem = compare(record, failures(filter, fixture.bufs[buf] ?? ''));
      if (problem !== undefined) failed.push(`${record.instance} ${record.file}:${record.lineno}: ${problem}`);
    }
    console.log(`single-line corpus records: ${checked - failed.length}/${checked} as fail2ban expects`);
    assert.ok(checked > 800, `most records are single-line (${checked})`);
    assert.deepEqual(failed, []);
  });
});

interface CorpusRecord {
  readonly seq: number;
  readonly instance: string;
  readonly file: string;
  readonly lineno: number;
  readonly expect: Readonly<Record<string, unknown>> & { readonly match: boolean };
}

function usesMlfid(filter: Filter): boolean {
  return [filter.prefregex, ...filter.failregex].some((r) => r?.groupNames.includes('mlfid'));
}

/**
 * fail2ban's search of one line (Filter.findFailure, every regex tried as its sample test does):
 * prefregex, its content handed to the failregexes, ignoreregex, groups merged, `nofail` dropped.
 */
function failures(filter: Filter, buf: string): FailCaptures[] {
  const { prefregex, failregex, ignoreregex } = filter;
  const ignored = (text: string): boolean => ignoreregex.some((r) => r.test(text));
  if (ignoreregex.length > 0 && ignoreregex.length < failregex.length - 2 && ignored(buf)) return [];
  let pre: Record<string, string> = {};
  let text = buf;
  if (prefregex !== undefined) {
    const found = prefregex.match(buf);
    if (found === undefined) return [];
    const { content, ...rest } = found;
    pre = rest;
    if (content) text = `${content}\n`;
  }
  const out: FailCaptures[] = [];
  for (const regex of failregex) {
    const found = regex.match(text);
    if (found === undefined || ignored(text)) continue;
    // fail2ban overlays the failregex's whole group dict, None values included.
    const merged = Object.fromEntries(Object.entries(pre).filter(([name]) => !regex.groupNames.includes(name)));
    Object.assign(merged, found);
    if (!merged.nofail) out.push(merged);
  }
  return out;
}

function compare(record: CorpusRecord, found: readonly FailCaptures[]): string | undefined {
  if (!record.expect.match) return found.length === 0 ? undefined : `unexpected failure ${sorted(found[0])}`;
  const [failure] = found;
  if (found.length !== 1 || failure === undefined) return `${found.length} failures`;
  for (const [key, want] of Object.entries(record.expect)) {
    if (['time', 'match', 'desc', 'constraint', 'attempts'].includes(key)) continue;
    const got = key === 'host' ? (failure.host ?? failureHost(failure)?.value) : failure[key];
    if (got === undefined || !sameValue(got, String(want))) return `${key}: ${got} != ${String(want)}`;
  }
  return undefined;
}

/** fail2ban compares hosts as addresses (`IPAddr.__eq__`), everything else as text. */
function sameValue(got: string, want: string): boolean {
  if (got === want) return true;
  const a = tryParseAddress(got);
  const b = tryParseAddress(want);
  return a !== undefined && b !== undefined && a.text === b.text;
}
