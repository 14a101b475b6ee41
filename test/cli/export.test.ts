import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nowSeconds, parseDuration } from '../../src/core/index.js';
import { BanStore } from '../../src/store/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

type BanJson = Record<string, string | number | null>;

const DAY = 86_400;

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field + record.join(''), '', 'the last record ends with CRLF');
  return records;
}

/** Runs the binary and reports its peak memory (kB), read by a hook loaded into it at start. */
function peakMemory(args: readonly string[]): number {
  const hook = "process.on('exit',()=>process.stderr.write('maxrss='+process.resourceUsage().maxRSS+'\\n'))";
  const result = runCli(args, { env: { NODE_OPTIONS: `--import=data:text/javascript,${hook}` } });
  assert.equal(result.code, 0, result.stderr);
  const kb = /maxrss=(\d+)/.exec(result.stderr)?.[1];
  assert.ok(kb !== undefined, `the hook reported: ${result.stderr}`);
  return Number(kb);
}

describe('export FORMAT through the built binary', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let now: number;
  const cli = (...args: string[]): CliResult => runCli(['--db', db, ...args]);
  const out = (...args: string[]): string => {
    const result = cli(...args);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  const failsWith = (code: number, pattern: RegExp, ...args: string[]): void => {
    const result = cli(...args);
    assert.equal(result.code, code, `exit code of ${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  };
  /** The number after `timeout` for this address in an ipset restore file. */
  const ipsetTimeout = (text: string, set: string, address: string): number => {
    const match = new RegExp(`^add ${set} ${address.replace(/[.]/g, '\\.')} timeout (\\d+)$`, 'm').exec(text);
    assert.ok(match, `${address} is added to ${set}:\n${text}`);
    return Number(match[1]);
  };

  before(() => {
    tmp = tempDir();
    db = join(tmp.dir, 'bans.sqlite3');
    // Recorded in this process, as `ban` records them: the tests are about export, not about a process per ban.
    now = nowSeconds();
    const store = BanStore.open(db);
    const bans: [address: string, jail: string, duration: string, reason?: string][] = [
      ['203.0.113.7', 'manual', '1h', 'he said "no", twice'],
      ['203.0.113.7', 'sshd', 'permanent'],
      ['198.51.100.0/24', 'sshd', '2d'],
      ['198.51.100.128/25', 'manual', '1d', 'line one\nline two'],
      ['2001:db8::66', 'sshd', 'permanent'],
      ['2001:db8::/32', 'web', '20y'],
    ];
    for (const [address, jail, duration, reason] of bans) {
      const length = parseDuration(duration);
      store.ban({ address, jail, expiresAt: length === null ? null : now + length, source: 'manual', reason: reason ?? null }, now);
    }
    // One ban made three days ago (for --since), for seven days from now.
    store.ban({ address: '203.0.113.99', jail: 'old', expiresAt: now + 7 * DAY, source: 'manual', reason: null }, now - 3 * DAY);
    store.close();
  });
  after(() => tmp.cleanup());

  it('plain: each banned address once, networks as CIDR', () => {
    assert.equal(out('export', 'plain'), '198.51.100.0/24\n198.51.100.128/25\n2001:db8::/32\n2001:db8::66\n203.0.113.7\n203.0.113.99\n');
  });

  it('json: the bans exactly as list --json prints them', () => {
    const exported = JSON.parse(out('export', 'json')) as BanJson[];
    assert.equal(exported.length, 7);
    assert.deepEqual(exported, JSON.parse(out('--json', 'list')));
  });

  it('csv: a header, one CRLF record per ban with the Ban JSON fields, quotes and line breaks quoted', () => {
    const text = out('export', 'csv');
    assert.ok(text.includes('"he said ""no"", twice"'), 'quotes doubled inside a quoted field');
    const [header, ...rows] = parseCsv(text);
    const bans = JSON.parse(out('--json', 'list')) as BanJson[];
    assert.deepEqual(header, Object.keys(bans[0]!));
    assert.deepEqual(rows, bans.map((ban) => Object.values(ban).map((v) => (v === null ? '' : String(v)))));
    assert.ok(rows.some((row) => row.includes('line one\nline two')), 'a line break stays inside its field');
  });

  it('ipset: a file for ipset restore, one hash:net set per family, remaining times capped, permanent as 0', () => {
    const text = out('export', 'ipset');
    assert.match(text, /^create f2b_export hash:net family inet hashsize \d+ maxelem \d+ timeout 0 -exist\nflush f2b_export$/m);
    assert.match(text, /^create f2b_export-6 hash:net family inet6 hashsize \d+ maxelem \d+ timeout 0 -exist\nflush f2b_export-6$/m);
    assert.equal(text.split('\n').filter((l) => l.startsWith('add ')).length, 6, 'one add per address');
    assert.equal(ipsetTimeout(text, 'f2b_export', '203.0.113.7'), 0, 'permanent in sshd wins over 1h in manual');
    assert.equal(ipsetTimeout(text, 'f2b_export-6', '2001:db8::66'), 0);
    assert.ok(Math.abs(ipsetTimeout(text, 'f2b_export', '198.51.100.0/24') - 2 * DAY) < 60, 'two days left');
    assert.equal(ipsetTimeout(text, 'f2b_export-6', '2001:db8::/32'), 2_147_483, 'capped at the kernel limit');
    assert.match(out('export', 'ipset', '--set', 'blocked'), /^add blocked-6 2001:db8::66 timeout 0$/m);
  });

  it('nft: a table with host and network sets per family, element timeouts as nft 1.0.6 reads them', () => {
    const text = out('export', 'nft');
    assert.match(text, /^table inet f2b-export \{\n\tset addr4 \{\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\}\n/m);
    assert.match(text, /^\tset net6 \{\n\t\ttype ipv6_addr\n\t\tflags interval, timeout\n\t\}\n\}$/m);
    assert.match(text, /^add element inet f2b-export addr4 \{ 203\.0\.113\.7, 203\.0\.113\.99 timeout (6d\d+|7d0)s \}$/m);
    assert.match(text, /^add element inet f2b-export addr6 \{ 2001:db8::66 \}$/m);
    // The /25 lies inside the /24: an interval set refuses it, and the /24 blocks it anyway.
    assert.match(text, /^add element inet f2b-export net4 \{ 198\.51\.100\.0\/24 timeout (1d\d+|2d0)s \}$/m);
    assert.match(text, /^add element inet f2b-export net6 \{ 2001:db8::\/32 timeout 3650d0s \}$/m);
    assert.match(out('export', 'nft', '--table', 'blocklist'), /^flush set inet blocklist net4$/m);
  });

  it('filters: --jail, --permanent-only, --since as a duration or an ISO date', () => {
    assert.equal(out('export', 'plain', '--jail', 'sshd'), '198.51.100.0/24\n2001:db8::66\n203.0.113.7\n');
    assert.equal(out('export', 'plain', '--permanent-only'), '2001:db8::66\n203.0.113.7\n');
    assert.equal(out('export', 'plain', '--permanent-only', '--jail', 'manual'), '');
    assert.doesNotMatch(out('export', 'plain', '--since', '1d'), /203\.0\.113\.99/);
    assert.match(out('export', 'plain', '--since', '4d'), /203\.0\.113\.99/);
    const twoDaysAgo = new Date((now - 2 * DAY) * 1000).toISOString().slice(0, 10);
    assert.equal(out('export', 'plain', '--since', twoDaysAgo).split('\n').length - 1, 5);
    assert.equal(out('export', 'plain', '--since', `${twoDaysAgo}T00:00:00Z`).split('\n').length - 1, 5);
    const sshdToday = JSON.parse(out('export', 'json', '--jail', 'sshd', '--since', '1h')) as BanJson[];
    assert.deepEqual(sshdToday.map((b) => b.address), ['198.51.100.0/24', '2001:db8::66', '203.0.113.7']);
    assert.equal(parseCsv(out('export', 'csv', '--jail', 'old')).length, 2);
    assert.equal(out('export', 'ipset', '--jail', 'web').split('\n').filter((l) => l.startsWith('add ')).length, 1);
    assert.equal(out('export', 'hosts-deny', '--jail', 'sshd', '--permanent-only'), 'ALL: 203.0.113.7\nALL: [2001:db8::66]\n');
  });

  it('bad options are exit 2 with one line naming the value', () => {
    failsWith(2, /bad --since "soon"/, 'export', 'plain', '--since', 'soon');
    failsWith(2, /bad --since "2026-02-30"/, 'export', 'json', '--since', '2026-02-30');
    failsWith(2, /bad --since "permanent"/, 'export', 'csv', '--since', 'permanent');
    failsWith(2, /bad jail name "no jail"/, 'export', 'nft', '--jail', 'no jail');
    failsWith(2, /bad set name "f2b-sshd": names starting with f2b- are fail2ban's/, 'export', 'ipset', '--set', 'f2b-sshd');
    failsWith(2, /bad set name "f2bs4-sshd": f2bs4-sshd is a set of the ipset backend/, 'export', 'ipset', '--set', 'f2bs4-sshd');
    failsWith(2, /bad set name "a-name-far-too-long-for-ipset-sets"/, 'export', 'ipset', '--set', 'a-name-far-too-long-for-ipset-sets');
    failsWith(2, /bad table name "f2b-store": it is the nftables backend's own table/, 'export', 'nft', '--table', 'f2b-store');
  });

  it('--file replaces an existing file atomically, keeping its mode; a new file is 0644; no temporary file stays', () => {
    const dir = join(tmp.dir, 'out');
    mkdirSync(dir);
    const file = join(dir, 'bans.csv');
    writeFileSync(file, 'old content\n');
    chmodSync(file, 0o640);
    const before = statSync(file).ino;
    assert.equal(out('export', 'csv', '--file', file), `wrote 7 bans to ${file}\n`);
    assert.equal(readFileSync(file, 'utf8'), out('export', 'csv'));
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.notEqual(statSync(file).ino, before, 'a new file renamed into place, not rewritten in place');
    const fresh = join(dir, 'bans.nft');
    assert.equal(out('export', 'nft', '--file', fresh, '--jail', 'sshd'), `wrote 3 addresses to ${fresh}\n`);
    assert.equal(statSync(fresh).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir).sort(), ['bans.csv', 'bans.nft']);
  });

  it('--file that cannot be written is exit 1 naming it, and leaves nothing behind', () => {
    failsWith(1, /^f2b-store: cannot write \/proc\/version\/bans\.txt: /, 'export', 'plain', '--file', '/proc/version/bans.txt');
    const dir = join(tmp.dir, 'out');
    failsWith(1, /cannot write .*missing\/bans\.json: /, 'export', 'json', '--file', join(dir, 'missing', 'bans.json'));
    assert.deepEqual(readdirSync(dir).sort(), ['bans.csv', 'bans.nft']);
  });

  it('streams: 200,000 bans export in about the memory of a handful', () => {
    const big = join(tmp.dir, 'big.sqlite3');
    const list = Array.from({ length: 200_000 }, (_, i) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`).join('\n');
    assert.equal(runCli(['--db', big, 'import', 'list', '-', '--for', '30d'], { input: list }).code, 0);
    for (const format of ['json', 'csv', 'plain', 'ipset', 'nft']) {
      const small = peakMemory(['--db', db, 'export', format, '--file', join(tmp.dir, `small.${format}`)]);
      const large = peakMemory(['--db', big, 'export', format, '--file', join(tmp.dir, `large.${format}`)]);
      assert.ok(readFileSync(join(tmp.dir, `large.${format}`), 'utf8').includes('100.67.13.63'), `${format}: the last address is written`);
      assert.ok(large - small < 80_000, `${format}: ${small} kB for 7 bans, ${large} kB for 200,000`);
    }
  });
});
