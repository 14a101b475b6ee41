/**
 * The real daemon on container logs (`logformat = docker`, `cri`) and on a log dated in another
 * zone (`logtimezone`): bans from the line inside each record, at the record's time, read back
 * from the store and from real nftables in a namespace.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { askDaemon, controlSocketFor, type DaemonStatus } from '../../src/daemon/index.js';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, syslogDate, type SshdDaemon } from '../helpers/sshd-daemon.js';

const failed = (address: string): string => `Failed password for root from ${address} port 52144 ssh2`;
const dockerRecord = (line: string, time = new Date()): string => `${JSON.stringify({ log: `${line}\n`, stream: 'stderr', time: time.toISOString() })}\n`;
const criRecord = (line: string, time = new Date(), tag = 'F'): string => `${time.toISOString()} stderr ${tag} ${line}\n`;
/** Now as a date without a zone, in UTC: `2024-01-12 10:11:12`. */
const utcDate = (): string => new Date().toISOString().slice(0, 19).replace('T', ' ');

describe('the daemon on container logs (logformat) and on a log in another zone (logtimezone)', () => {
  let s: SshdDaemon;
  let dockerLog: string;
  let criLog: string;
  let zonedLog: string;
  const jailStatus = async (name: string): Promise<DaemonStatus['jails'][number]> => {
    const live = await askDaemon(controlSocketFor(s.db), { command: 'status' }) as DaemonStatus | undefined;
    const jail = live?.jails.find((j) => j.name === name);
    if (!jail) throw new Error(`no jail ${name} in the daemon's status: ${JSON.stringify(live)}`);
    return jail;
  };
  const bansIn = (jail: string): string[] => s.list().filter((b) => b.jail === jail).map((b) => b.address).sort();
  /** A docker record of `log` as written (a piece of a cut line unless it ends in `\n`). */
  const piece = (log: string, stream = 'stderr'): string => `${JSON.stringify({ log, stream, time: new Date().toISOString() })}\n`;
  const pad = 'x'.repeat(16 * 1024);
  /**
   * The end of a stderr line cut before: it reads as a failure of `forged`, which two whole lines
   * after it would bring to a ban. Only those two and three of `attacker` may count.
   */
  const endOfCutLineCountsNothing = async (forged: string, attacker: string): Promise<void> => {
    const before = await jailStatus('sshd-docker');
    appendFileSync(dockerLog, piece(`${failed(forged)}\n`) + dockerRecord(failed(forged)).repeat(2) + dockerRecord(failed(attacker)).repeat(3));
    await waitFor(`${attacker} banned in sshd-docker`, () => bansIn('sshd-docker').includes(attacker), 20_000);
    assert.ok(!bansIn('sshd-docker').includes(forged), 'the end of the cut line did not count');
    assert.equal((await jailStatus('sshd-docker')).totalFailed - before.totalFailed, 5, `the two whole lines of ${forged} and three of ${attacker}`);
  };

  before(async () => {
    const s0 = sshdDaemon();
    // The helper's jail file, with three more jails on logs of the temp dir.
    dockerLog = join(s0.dir, 'c1-json.log');
    criLog = join(s0.dir, '0.log');
    zonedLog = join(s0.dir, 'zoned.log');
    for (const log of [dockerLog, criLog, zonedLog]) writeFileSync(log, '');
    const jail = (name: string, log: string, extra: string): string =>
      `[${name}]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\n${extra}`;
    appendFileSync(join(s0.config, 'jail.local'), [
      jail('sshd-docker', dockerLog, 'logformat = docker\n'),
      jail('sshd-cri', criLog, 'logformat = cri\n'),
      jail('zone-utc', zonedLog, 'logtimezone = UTC\n'),
      jail('zone-far', zonedLog, 'logtimezone = +1200\n'),
    ].join(''));
    s = s0;
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('docker: three records of failures ban their address; a line cut into records bans nobody', async () => {
    // The last piece alone reads as a failure of 192.0.2.77: it must not count.
    const cut = [`Invalid user ${pad}`, pad, `${failed('192.0.2.77')}\n`].map((log) => piece(log)).join('');
    appendFileSync(dockerLog, cut.repeat(3) + dockerRecord(failed('203.0.113.31')).repeat(3));
    await waitFor('203.0.113.31 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.31'), 20_000);
    await waitFor('the ban in nftables', () => s.inTable('203.0.113.31'), 10_000);
    assert.deepEqual(bansIn('sshd-docker'), ['203.0.113.31']);
    assert.equal((await jailStatus('sshd-docker')).totalFailed, 3);
  });

  it('docker: a piece escaped past the tailer\'s limit is dropped, and the end of its line is not read as a line of its own', async () => {
    // 16 KiB of control characters: six bytes each in JSON, a first piece of 96 KiB that the tailer drops unread.
    const escaped = `${JSON.stringify({ log: `Invalid user ${'\x01'.repeat(16 * 1024)}`, stream: 'stderr', time: new Date().toISOString() })}\n`;
    const before = await jailStatus('sshd-docker');
    appendFileSync(dockerLog, (escaped + dockerRecord(failed('192.0.2.79'))).repeat(3) + dockerRecord(failed('203.0.113.33')).repeat(3));
    await waitFor('203.0.113.33 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.33'), 20_000);
    assert.deepEqual(bansIn('sshd-docker'), ['203.0.113.31', '203.0.113.33']);
    const after = await jailStatus('sshd-docker');
    assert.equal(after.totalFailed - before.totalFailed, 3, 'only the three whole lines count');
    assert.equal(after.droppedLines - before.droppedLines, 3, 'the three pieces are counted as dropped');
  });

  it('docker: the record\'s time counts, not a date in the line: records a day old ban nobody', async () => {
    const dayAgo = new Date(Date.now() - 86_400_000);
    appendFileSync(dockerLog, dockerRecord(`${syslogDate()} web sshd[7]: ${failed('203.0.113.34')}`, dayAgo).repeat(3)
      + dockerRecord(failed('203.0.113.35')).repeat(3));
    await waitFor('203.0.113.35 banned', () => bansIn('sshd-docker').includes('203.0.113.35'), 20_000);
    assert.deepEqual(bansIn('sshd-docker'), ['203.0.113.31', '203.0.113.33', '203.0.113.35']);
  });

  it('docker: stopped between two pieces of a cut line, the daemon started again does not read the line\'s end as a line', async () => {
    // Stdout lines between the pieces: each stream's lines are cut on their own. The first is taken
    // for a piece since the record dropped in an earlier test (see FrameReader.lost), and counts for nothing.
    appendFileSync(dockerLog, piece('Server listening on :: port 22.\n', 'stdout') + piece(`Invalid user ${pad}`) + piece(pad)
      + piece(`${failed('203.0.113.36')}\n`, 'stdout').repeat(3));
    await waitFor('203.0.113.36 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.36'), 20_000);
    await s.stop();
    await s.start();
    await endOfCutLineCountsNothing('192.0.2.80', '203.0.113.37');
  });

  it('docker: reloaded between two pieces of a cut line with the jail\'s filter changed, the new filter does not read the line\'s end as a line', async () => {
    // The stderr line stays cut; whole stdout lines after it are read as they come.
    appendFileSync(dockerLog, piece(`Invalid user ${pad}`) + piece(pad) + piece(`${failed('203.0.113.40')}\n`, 'stdout').repeat(3));
    await waitFor('203.0.113.40 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.40'), 20_000);
    // Another filter for the jail: the worker starts a new one for its log, part way into the file.
    const jails = join(s.config, 'jail.local');
    writeFileSync(jails, readFileSync(jails, 'utf8').replace(`filter = sshd\nlogpath = ${dockerLog}\n`, `filter = sshd[mode=aggressive]\nlogpath = ${dockerLog}\n`));
    const reloads = s.daemon!.log().split('SIGHUP: reloaded').length;
    s.daemon!.child.kill('SIGHUP');
    await waitFor('the reload', () => s.daemon!.log().split('SIGHUP: reloaded').length > reloads, 10_000);
    await endOfCutLineCountsNothing('192.0.2.82', '203.0.113.41');
  });

  it('docker: a line that is no record counts nothing; the daemon warns at the first, and status counts them', async () => {
    const plain = `${syslogDate()} web sshd[7]: ${failed('192.0.2.81')}\n`;
    appendFileSync(dockerLog, plain.repeat(3) + dockerRecord(failed('203.0.113.38')).repeat(3));
    await waitFor('203.0.113.38 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.38'), 20_000);
    appendFileSync(dockerLog, plain + dockerRecord(failed('203.0.113.39')).repeat(3));
    await waitFor('203.0.113.39 banned in sshd-docker', () => bansIn('sshd-docker').includes('203.0.113.39'), 20_000);
    assert.ok(!bansIn('sshd-docker').includes('192.0.2.81'));
    assert.equal((await jailStatus('sshd-docker')).notRecords, 4);
    assert.equal((await jailStatus('sshd-cri')).notRecords, 0);
    assert.equal((await jailStatus('zone-utc')).notRecords, null, 'a plain jail has no records to count');
    const warned = s.daemon!.log().split('\n').filter((line) => line.includes('no docker record'));
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.match(warned[0]!, /WARNING \[sshd-docker\] .*c1-json\.log: skipped (?:a line that is|[23] lines that are) no docker record, matched against nothing: check the jail's logformat/);
    assert.match(s.cli('status').stdout, /^sshd-docker: 4 log lines that are no record of its logformat skipped unmatched \(check logformat\)$/m);
  });

  it('cri: three full records ban their address; partial ones and what completes them do not count', async () => {
    appendFileSync(criLog, criRecord(`Invalid user ${'y'.repeat(100)}`, new Date(), 'P').concat(criRecord(failed('192.0.2.78'))).repeat(3)
      + criRecord(failed('203.0.113.32')).repeat(3));
    await waitFor('203.0.113.32 banned in sshd-cri', () => bansIn('sshd-cri').includes('203.0.113.32'), 20_000);
    assert.deepEqual(bansIn('sshd-cri'), ['203.0.113.32']);
    assert.equal((await jailStatus('sshd-cri')).totalFailed, 3);
  });

  it('logtimezone: the same lines, dated now in UTC, ban in the jail read in UTC and are 12 h old in the one read at +1200', async () => {
    appendFileSync(zonedLog, `${utcDate()} web sshd[9]: ${failed('203.0.113.33')}\n`.repeat(3));
    await waitFor('203.0.113.33 banned in zone-utc', () => bansIn('zone-utc').includes('203.0.113.33'), 20_000);
    // Both jails read each batch of the file together: zone-far has had the lines.
    assert.deepEqual(bansIn('zone-far'), []);
    assert.equal((await jailStatus('zone-far')).totalFailed, 0);
    assert.equal((await jailStatus('zone-utc')).totalFailed, 3);
  });
});
