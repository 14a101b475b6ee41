import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeLog } from '../../bench/log-workload.js';
import { BIN, runCli, SAFE_CONFIG, tempDir, type CliResult } from '../helpers/cli.js';
import { journalFile, privateJournald, type ExportEntry } from '../helpers/journal.js';

interface TestFilterJson {
  lines: number;
  matched: number;
  ignored: number;
  missed: number;
  matches: { lineno: number; line: string; host: string; time: string | null; fid: string; user: string | null; addresses: string[] }[];
  failregex: { regex: string; hits: number }[];
  dateTemplates: { name: string; hits: number }[];
}

/** fail2ban-regex's own count line: `Lines: N lines, I ignored, M matched, X missed`. */
function fail2banRegexCounts(log: string, filter: string): { lines: number; ignored: number; matched: number; missed: number } {
  // Debian's python3, which has the fail2ban and systemd modules.
  const out = execFileSync('/usr/bin/python3', ['/usr/bin/fail2ban-regex', log, filter], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const m = /^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed/m.exec(out);
  assert.ok(m, `fail2ban-regex printed its counts:\n${out.slice(-600)}`);
  return { lines: Number(m[1]), ignored: Number(m[2]), matched: Number(m[3]), missed: Number(m[4]) };
}

describe('f2b-store test-filter (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  const cli = (...args: string[]): CliResult => runCli(['--config', config, ...args]);
  const json = (...args: string[]): TestFilterJson => {
    const result = cli('--json', 'test-filter', ...args);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as TestFilterJson;
  };

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    mkdirSync(join(config, 'filter.d'), { recursive: true });
  });
  after(() => tmp.cleanup());

  it('reads one literal line and prints the contract JSON', () => {
    const line = 'Nov 23 06:11:57 mail-1 sshd[38624]: Failed password for invalid user oracle from 203.0.113.7 port 28275 ssh2';
    const out = json(line, '/etc/fail2ban/filter.d/sshd.conf');
    assert.deepEqual([out.lines, out.matched, out.ignored, out.missed], [1, 1, 0, 0]);
    const [match] = out.matches;
    assert.deepEqual(Object.keys(match!), ['lineno', 'line', 'host', 'time', 'fid', 'user', 'addresses']);
    assert.deepEqual({ ...match, time: undefined }, {
      lineno: 1, line, host: '203.0.113.7', time: undefined, fid: '203.0.113.7', user: 'oracle', addresses: ['203.0.113.7'],
    });
    assert.match(match!.time!, /^\d{4}-11-23T\d\d:11:57Z$/);
  });

  for (const [kind, filter] of [['auth', 'sshd'], ['mail', 'postfix']] as const) {
    it(`counts ${filter} over a generated ${kind}.log exactly as fail2ban-regex does`, async () => {
      const log = join(tmp.dir, `${kind}.log`);
      await writeLog(log, kind, 3_000, Math.floor(Date.now() / 1000));
      const path = `/etc/fail2ban/filter.d/${filter}.conf`;
      const ours = json(log, path);
      const theirs = fail2banRegexCounts(log, path);
      assert.deepEqual({ lines: ours.lines, ignored: ours.ignored, matched: ours.matched, missed: ours.missed }, theirs);
      assert.ok(ours.matched > 100, `${filter} found failures (${ours.matched})`);
      assert.equal(ours.matches.length, ours.matched, 'one match per matched line');
      assert.equal(ours.dateTemplates.reduce((n, t) => n + t.hits, 0), 3_000, 'every line dated');
    });
  }

  it('looks a name up in the config dir before fail2ban\'s filters, and takes options', () => {
    writeFileSync(join(config, 'filter.d', 'mine.conf'), '[Definition]\nfailregex = ^\\s*\\S+ myapp: denied <HOST>$\n');
    const out = json('Nov 23 10:00:00 h myapp: denied 198.51.100.4', 'mine');
    assert.deepEqual(out.matches.map((m) => m.host), ['198.51.100.4']);
    const normal = json('Nov 23 10:00:00 h sshd[1]: Connection reset by 203.0.113.9 port 22 [preauth]', '/etc/fail2ban/filter.d/sshd.conf');
    const aggressive = json('Nov 23 10:00:00 h sshd[1]: Connection reset by 203.0.113.9 port 22 [preauth]', '/etc/fail2ban/filter.d/sshd.conf[mode=aggressive]');
    assert.notDeepEqual(normal.failregex.length, aggressive.failregex.length, 'mode=aggressive loads other regexes');
  });

  it('a host name becomes addresses as usedns says: looked up with warn (the default), kept as a name with raw', () => {
    writeFileSync(join(config, 'filter.d', 'named.conf'), '[Definition]\nfailregex = ^\\s*\\S+ app: denied <HOST>$\n');
    writeFileSync(join(config, 'filter.d', 'named-raw.conf'), '[Definition]\nfailregex = ^\\s*\\S+ app: denied <HOST>$\nusedns = raw\n');
    writeFileSync(join(config, 'filter.d', 'named-bad.conf'), '[Definition]\nfailregex = ^\\s*\\S+ app: denied <HOST>$\nusedns = maybe\n');
    const line = 'Nov 23 10:00:00 h app: denied localhost';
    const [looked] = json(line, 'named').matches;
    assert.equal(looked?.host, 'localhost');
    assert.ok(looked.addresses.includes('127.0.0.1'), `localhost resolved: ${looked.addresses.join(', ')}`);
    assert.deepEqual(json(line, 'named-raw').matches.map((m) => [m.host, m.addresses]), [['localhost', []]]);
    const bad = cli('test-filter', line, 'named-bad');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /named-bad\.conf: usedns must be one of yes, warn, no, raw, not "maybe"/);
  });

  it('prints counts, hits per regex and date templates for people, and missed lines with -v', () => {
    const log = join(tmp.dir, 'few.log');
    writeFileSync(log, [
      'Nov 23 10:00:00 h sshd[1]: Invalid user admin from 203.0.113.5 port 4000',
      'Nov 23 10:00:01 h CRON[2]: pam_unix(cron:session): session closed for user root',
    ].join('\n'));
    const result = cli('test-filter', '-v', log, '/etc/fail2ban/filter.d/sshd.conf');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Missed lines:\n2: Nov 23 10:00:01 h CRON/m);
    assert.match(result.stdout, /^Failregex: 1 matches$/m);
    assert.match(result.stdout, /^Lines: 2, matched 1, ignored 0, missed 1 /m);
    assert.match(result.stdout, /^2\s+\{\^LN-BEG\}/m, 'the date template with its hits');
  });

  it('a missing filter or log file is exit 2 naming it', () => {
    const noFilter = cli('test-filter', 'Nov 23 10:00:00 h x', 'no-such-filter');
    assert.equal(noFilter.code, 2);
    assert.match(noFilter.stderr, /^f2b-store: filter "no-such-filter": no filter "no-such-filter" in .*filter\.d.*\n$/);
    const noLog = cli('test-filter', './missing.log', 'sshd');
    assert.equal(noLog.code, 2);
    assert.equal(noLog.stderr, 'f2b-store: log file not found: ./missing.log (to test it as one log line, add --line)\n');
    // A typo of a file name is no log line (a line has spaces): before, it matched nothing with exit 0.
    const typo = cli('test-filter', 'typo.log', 'sshd');
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /^f2b-store: log file not found: typo\.log /);
    const asLine = cli('--json', 'test-filter', '--line', 'typo.log', 'sshd');
    assert.equal(asLine.code, 0, asLine.stderr);
    assert.equal((JSON.parse(asLine.stdout) as { lines: number }).lines, 1);
    const badRegex = join(config, 'filter.d', 'broken.conf');
    writeFileSync(badRegex, '[Definition]\nfailregex = ^(?P<host>x <HOST>\n');
    const broken = cli('test-filter', '--line', 'x', 'broken');
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken\.conf:2: .*\n$/, broken.stderr);
  });

  it('--logformat docker and cri read the line in each container record, at its time; a bad format or zone is exit 2', () => {
    const failed = 'Failed password for root from 203.0.113.7 port 52214 ssh2';
    const dockerLog = join(tmp.dir, 'c-json.log');
    writeFileSync(dockerLog, [
      JSON.stringify({ log: `${failed}\n`, stream: 'stderr', time: '2024-01-12T10:11:12.123456789Z' }),
      JSON.stringify({ log: 'Server listening on :: port 22.\n', stream: 'stderr', time: '2024-01-12T10:11:13Z' }),
      '',
    ].join('\n'));
    const docker = json('--logformat', 'docker', dockerLog, 'sshd');
    assert.deepEqual([docker.lines, docker.matched, docker.missed], [2, 1, 1]);
    assert.deepEqual(docker.matches.map((m) => [m.lineno, m.host, m.time]), [[1, '203.0.113.7', '2024-01-12T10:11:12Z']]);
    // Read as plain, the records hold no line the filter knows.
    assert.equal(json(dockerLog, 'sshd').matched, 0);
    const criLog = join(tmp.dir, '0.log');
    writeFileSync(criLog, `2024-01-12T10:11:12.5+01:00 stderr F ${failed}\n`);
    assert.deepEqual(json('--logformat', 'cri', criLog, 'sshd').matches.map((m) => [m.host, m.time]), [['203.0.113.7', '2024-01-12T09:11:12Z']]);
    // A date without a zone, read in the zone given.
    assert.deepEqual(json('--logtimezone', '+0200', '--line', `2024-01-12 10:11:12 h sshd[1]: ${failed}`, 'sshd').matches.map((m) => m.time),
      ['2024-01-12T08:11:12Z']);
    const badFormat = cli('test-filter', '--logformat', 'json', dockerLog, 'sshd');
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /^f2b-store: option '--logformat <format>' argument 'json' is invalid\. Allowed choices are plain, docker, cri\./);
    const badZone = cli('test-filter', '--logtimezone', 'Mars/Base', dockerLog, 'sshd');
    assert.equal(badZone.code, 2);
    assert.match(badZone.stderr, /^f2b-store: bad logtimezone "Mars\/Base": use UTC/);
    const journal = cli('test-filter', '--logformat', 'docker', 'journal', 'sshd');
    assert.equal(journal.code, 2);
    assert.match(journal.stderr, /--logformat docker reads container log files/);
  });

  describe('the systemd journal', () => {
    const T0 = 1_700_000_000;
    /** sshd's failures and noise (some of it from another program saying the same words), as journald would hold them. */
    const entries = (): ExportEntry[] => Array.from({ length: 300 }, (_, i) => {
      const sshd = i % 3 !== 2;
      const text = i % 2 === 0 ? `Failed password for invalid user u${i} from 203.0.113.${i % 250} port ${1000 + i} ssh2` : `Connection closed by 198.51.100.${i % 250} port ${2000 + i}`;
      const fields: Record<string, string> = sshd
        ? { _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', _COMM: 'sshd', _PID: String(100 + i), _SYSTEMD_UNIT: 'sshd.service', MESSAGE: text }
        : { _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'other', _COMM: 'other', _PID: '9', MESSAGE: text };
      return { time: T0 + i + 0.25, fields };
    });

    it('reads a journal file as fail2ban-regex systemd-journal[journalfiles=…] does: the filter\'s journalmatch, each entry\'s time', () => {
      const journal = journalFile(entries());
      try {
        const filter = '/etc/fail2ban/filter.d/sshd.conf';
        const theirs = fail2banRegexCounts(`systemd-journal[journalfiles=${journal.path}]`, filter);
        const ours = json(`journal[journalfiles=${journal.path}]`, filter);
        assert.deepEqual({ lines: ours.lines, ignored: ours.ignored, matched: ours.matched, missed: ours.missed }, theirs);
        assert.deepEqual([ours.lines, ours.matched], [200, 100], 'only sshd\'s entries (its journalmatch), half of them failures');
        assert.deepEqual(ours.matches[0], {
          lineno: 1, line: 'web1 sshd[100]: Failed password for invalid user u0 from 203.0.113.0 port 1000 ssh2', host: '203.0.113.0',
          time: new Date(T0 * 1000).toISOString().replace('.000', ''), fid: '203.0.113.0', user: 'u0', addresses: ['203.0.113.0'],
        });
        // fail2ban-regex's spelling; a relative path is read from the working directory.
        const spelled = runCli(['--config', config, '--json', 'test-filter', 'systemd-journal[journalfiles=test.journal]', filter], { cwd: journal.dir });
        assert.equal(spelled.code, 0, spelled.stderr);
        assert.equal((JSON.parse(spelled.stdout) as TestFilterJson).matched, 100);
        // A match given replaces the filter's: -m as fail2ban-regex, or journalmatch= with the journal.
        assert.equal(json(`journal[journalfiles=${journal.path}]`, '-m', '_COMM=other', filter).lines, 100);
        assert.equal(json(`journal[journalfiles=${journal.path}, journalmatch="_COMM=other + _COMM=sshd"]`, filter).lines, 300);
        const people = cli('test-filter', `journal[journalfiles=${journal.path}]`, filter);
        assert.equal(people.code, 0, people.stderr);
        assert.match(people.stdout, /^Journal match: _COMM=sshd \+ _SYSTEMD_UNIT=sshd\.service\n/);
        assert.match(people.stdout, /^Lines: 200, matched 100, ignored 100, missed 0 /m);
      } finally {
        journal.remove();
      }
    });

    it('journal[FIELD=value …]: the system journal through a match, in a private journald\'s namespace', async () => {
      const journald = await privateJournald();
      try {
        journald.log('sshd', ['Failed password for root from 203.0.113.77 port 22 ssh2', 'Accepted password for root from 192.0.2.1 port 22 ssh2']);
        journald.log('other', ['Failed password for root from 203.0.113.78 port 22 ssh2']);
        const run = journald.run([process.execPath, BIN, '--config', SAFE_CONFIG, '--json', 'test-filter', 'journal[SYSLOG_IDENTIFIER=sshd]', '/etc/fail2ban/filter.d/sshd.conf']);
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout) as TestFilterJson;
        assert.deepEqual([out.lines, out.matches.map((m) => m.host)], [2, ['203.0.113.77']]);
        // sshd[PID] as the journal has the sender's _PID; systemd-cat gone before journald took its stream leaves none (seen in CI).
        assert.match(out.matches[0]!.line, /^\S+ sshd(?:\[\d+\])?: Failed password for root from 203\.0\.113\.77 port 22 ssh2$/);
        assert.ok(Math.abs(Date.parse(out.matches[0]!.time!) - Date.now()) < 120_000, `the entry's own time: ${out.matches[0]!.time}`);
      } finally {
        await journald.stop();
      }
    });

    it('bad journal options or matches are exit 2, a journal that cannot be read exit 1, each one line naming it', () => {
      const bad = (args: string[], code: number, message: RegExp): void => {
        const result = cli('test-filter', ...args);
        assert.equal(result.code, code, result.stderr);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      };
      bad(['journal[journaldir=/x]', 'sshd'], 2, /^f2b-store: test-filter "journal\[journaldir=\/x\]": unknown journal option "journaldir"/);
      bad(['journal[_COMM=sshd + _comm=sshd]', 'sshd'], 2, /"_comm=sshd" is not FIELD=value/);
      bad(['journal', '-m', 'sshd', 'sshd'], 2, /journalmatch "sshd": "sshd" is not FIELD=value/);
      bad(['Nov 23 10:00:00 h x', '-m', '_COMM=sshd', 'sshd'], 2, /--journalmatch reads the journal/);
      bad(['journal[journalpath=/nonexistent/journal]', 'sshd'], 1, /^f2b-store: reading the journal: journalctl ended \(exit 1\): Failed to open \/nonexistent\/journal/);
    });
  });
});
