import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/core/index.js';
import { BanStore } from '../../src/store/index.js';
import { SEED_BANS, SEED_NETWORKS, seedBans } from '../helpers/ban-seeds.js';
import { BIN, runCli, SAFE_CONFIG, tempDir } from '../helpers/cli.js';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;

describe('stats: pictures of the bans, and the same numbers in JSON', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'bans.sqlite3');
  const cli = (...args: string[]) => runCli(['--db', db, ...args]);
  let seededAt = 0;
  before(() => {
    seededAt = nowSeconds();
    const store = BanStore.open(db);
    seedBans(store, seededAt);
    store.close();
  });
  after(tmp.cleanup);

  it('draws the period, a sparkline per jail per hour and per day, and bars by source, network and repeat offender', () => {
    const result = cli('stats');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.ok(!result.stdout.includes('\x1b'), 'no colour into a pipe');
    const [head, hourly, daily, sources, networks, offenders, ...rest] = result.stdout.split('\n\n');
    assert.deepEqual(rest, []);
    assert.match(head!, /^12 bans in 4 jails from \d{4}-\d\d-\d\d 00:00 to \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    // Each row: the jail, one character per hour, its bans and its busiest hour.
    assert.match(hourly!, /^Per hour, last 24 hours \(UTC\)\n {12}[\d ]{24} {2}bans {2}peak\n/);
    assert.match(hourly!, /\n {2}manual {4}[ ▁-█]{24} {2,}1 +1\n/);
    assert.match(hourly!, /\n {2}postfix {3}[ ]{24} {2,}0 +0\n {2}recidive {2}[ ]{24} {2,}0 +0\n/, 'bans of days ago are not in the last 24 hours');
    assert.match(hourly!, /\n {2}sshd {6}[ ▁-█]{24} {2,}4 +[123]\n {2}all {7}[ ▁-█]{24} {2,}5 +[123]$/);
    assert.match(daily!, /^Per day, last 30 days \(UTC\)\n/);
    assert.match(daily!, /\n {2}manual {4}[ ▁-█]{30} {2,}2 +[12]\n {2}postfix {3}[ ▁-█]{30} {2,}1 +1\n {2}recidive {2}[ ▁-█]{30} {2,}1 +1\n {2}sshd {6}[ ▁-█]{30} {2,}8 +\d\n {2}all {7}[ ▁-█]{30} {2,}12 +\d$/);
    assert.equal(sources, [
      'By source',
      '  filter    ██████████████████████████████  7   58.3%',
      '  manual    ████████▋                       2   16.7%',
      '  import    ████▎                           1    8.3%',
      '  fail2ban  ████▎                           1    8.3%',
      '  fleet     ████▎                           1    8.3%',
    ].join('\n'));
    assert.equal(networks, [
      'Top networks (/24, /48)',
      '  203.0.113.0/24   ██████████████████████████████  6 bans  3 addresses',
      '  2001:db8:1::/48  ███████████████                 3 bans  2 addresses',
      '  10.1.0.0/16      █████                           1 ban   1 address',
      '  198.51.100.0/24  █████                           1 ban   1 address',
      '  2001:db8::/48    █████                           1 ban   1 address',
    ].join('\n'));
    assert.match(offenders!, /^Top repeat offenders\n {2}203\.0\.113\.7 {7}█{30} {2}4 bans {2}last \d+m(?: \d+s)? ago {2}recidive, sshd\n {2}2001:db8:1:ff::1 {2}█{15} {17}2 bans {2}last 2w 6d ago {2}sshd\n$/);
  });

  it('prints the same numbers as JSON, times in ISO-8601 UTC', () => {
    const result = cli('--json', 'stats');
    assert.equal(result.code, 0, result.stderr);
    const stats = JSON.parse(result.stdout) as {
      since: string; until: string; bans: number; hours: string[]; days: string[];
      jails: { jail: string; bans: number; hourly: number[]; daily: number[] }[];
      sources: Record<string, number>; networks: unknown[]; offenders: { address: string; bans: number; jails: string[]; lastBannedAt: string }[];
    };
    assert.deepEqual(Object.keys(stats), ['since', 'until', 'bans', 'hours', 'days', 'jails', 'sources', 'networks', 'offenders']);
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
    for (const time of [stats.since, stats.until, ...stats.hours, ...stats.days]) assert.match(time, iso);
    assert.match(stats.since, /T00:00:00Z$/);
    assert.equal(stats.bans, 12);
    assert.equal(stats.hours.length, 24);
    assert.equal(stats.days.length, 30);
    // Each ban lands in the hour and the day whose start the output names.
    const bucketOf = (starts: string[], size: number, at: number): number => starts.findIndex((s) => Date.parse(s) / 1000 <= at && at < Date.parse(s) / 1000 + size);
    const expected = (jail: string, starts: string[], size: number): number[] => {
      const counts = starts.map(() => 0);
      for (const s of SEED_BANS.filter((seed) => seed.jail === jail)) {
        const index = bucketOf(starts, size, seededAt - s.ago);
        if (index !== -1) counts[index]!++;
      }
      return counts;
    };
    assert.deepEqual(stats.jails.map((j) => j.jail), ['manual', 'postfix', 'recidive', 'sshd']);
    for (const jail of stats.jails) {
      assert.deepEqual(jail.hourly, expected(jail.jail, stats.hours, HOUR), `${jail.jail} per hour`);
      assert.deepEqual(jail.daily, expected(jail.jail, stats.days, DAY), `${jail.jail} per day`);
    }
    assert.deepEqual(stats.jails.map((j) => j.bans), [2, 1, 1, 8]);
    assert.deepEqual(stats.sources, { filter: 7, manual: 2, import: 1, fail2ban: 1, fleet: 1 });
    assert.deepEqual(stats.networks, SEED_NETWORKS);
    assert.deepEqual(stats.offenders.map((o) => [o.address, o.bans, o.jails]), [['203.0.113.7', 4, ['recidive', 'sshd']], ['2001:db8:1:ff::1', 2, ['sshd']]]);
    assert.equal(Date.parse(stats.offenders[0]!.lastBannedAt) / 1000, seededAt - 5 * MINUTE);
  });

  it('keeps to --since and --jail', () => {
    const stats = JSON.parse(cli('--json', 'stats', '--since', '3h', '--jail', 'sshd').stdout) as { bans: number; hours: string[]; jails: { jail: string }[] };
    assert.equal(stats.bans, 4);
    assert.equal(stats.hours.length, 4, 'the hours from the one holding --since');
    assert.deepEqual(stats.jails.map((j) => j.jail), ['sshd']);
    const history = JSON.parse(cli('--json', 'stats', '--since', '60d').stdout) as { bans: number };
    assert.equal(history.bans, 13, 'the ban of 40 days ago too');
  });

  it('says so in one line when the period, or a jail, has no bans', () => {
    const since = cli('stats', '--since', '1m');
    assert.equal(since.code, 0, since.stderr);
    assert.match(since.stdout, /^no bans since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    const config = join(tmp.dir, 'config');
    mkdirSync(config);
    copyFileSync(join(SAFE_CONFIG, 'f2b-store.conf'), join(config, 'f2b-store.conf'));
    writeFileSync(join(config, 'jail.local'), '[web]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\n');
    const configured = runCli(['--db', db, '--config', config, 'stats', '--jail', 'web']);
    assert.equal(configured.code, 0, configured.stderr);
    assert.match(configured.stdout, /^no bans in jail web since \d{4}-\d\d-\d\dT00:00:00Z\n$/);
  });

  it('refuses a bad --since or an unknown jail in one line, exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['--since', 'yesterday'], /^f2b-store: bad --since "yesterday": use a duration \(12h, 7d\) or an ISO date/],
      [['--since', '2099-01-01'], /^f2b-store: bad --since "2099-01-01": it is in the future/],
      [['--jail', 'nope'], /^f2b-store: no jail "nope" in the database or the configuration \(jails: manual, postfix, recidive, sshd\)\n$/],
      [['--jail', 'no such'], /^f2b-store: bad jail name "no such"/],
    ];
    for (const [args, message] of cases) {
      const result = cli('stats', ...args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, 'one line');
    }
  });

  it('colours a terminal, unless NO_COLOR is set', () => {
    // A real terminal: script(1) runs the binary on a pseudo-terminal.
    const onTerminal = (noColor: boolean): string => {
      // A clean environment: CI, NODE_DISABLE_COLORS, TMUX and the like in the caller's would decide the colours.
      const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], F2B_STORE_CONFIG: SAFE_CONFIG, TERM: 'xterm-256color' };
      if (noColor) env['NO_COLOR'] = '1';
      const run = spawnSync('script', ['-qec', `${process.execPath} ${BIN} --db ${db} stats`, '/dev/null'], { encoding: 'utf8', env });
      assert.equal(run.status, 0, run.stderr);
      return run.stdout;
    };
    assert.ok(onTerminal(false).includes('\x1b[1mBy source\x1b[22m'), 'a bold title');
    const uncoloured = onTerminal(true);
    assert.ok(!uncoloured.includes('\x1b'));
    assert.match(uncoloured, /By source\r\n {2}filter {4}█{30}/);
  });

  it('writes counts of a thousand and more with a comma every three digits', () => {
    const many = join(tmp.dir, 'many.sqlite3');
    const store = BanStore.open(many);
    const now = nowSeconds();
    const ban = (address: string, jail: string, bannedAt: number) => ({ address, jail, bannedAt, expiresAt: bannedAt + 30, banCount: 1, source: 'filter' as const });
    // 512 sshd bans of 512 addresses in the last 9 hours, and 722 recidive bans of one of them a day before.
    store.importBans([
      ...Array.from({ length: 512 }, (_, i) => ban(`${i < 256 ? '203.0.113' : '198.51.100'}.${i % 256}`, 'sshd', now - i * MINUTE)),
      ...Array.from({ length: 722 }, (_, i) => ban('198.51.100.7', 'recidive', now - DAY - i * MINUTE)),
    ], now);
    store.close();
    const result = runCli(['--db', many, 'stats']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^1,234 bans in 2 jails from /);
    assert.match(result.stdout, /\n {2}all {7}[ ▁-█]{30} {2}1,234 {2}[ \d,]{4,5}\n/, 'the daily total');
    assert.match(result.stdout, /\n {2}filter {4}█{30} {2}1,234 {2}100\.0%\n/);
    assert.match(result.stdout, /\n {2}198\.51\.100\.0\/24 {2}█{30} {2}978 bans {2}256 addresses\n/);
    assert.match(result.stdout, /\n {2}198\.51\.100\.7 {2}█{30} {2}723 bans {2}last /);
  });

  it('an empty store has no bans to show', () => {
    const empty = join(tmp.dir, 'empty.sqlite3');
    BanStore.open(empty).close();
    const result = runCli(['--db', empty, 'stats']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^no bans since \d{4}-\d\d-\d\dT00:00:00Z\n$/);
  });
});
