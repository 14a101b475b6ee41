/**
 * The journal reader against the real journalctl: journal files written by
 * systemd-journal-remote, and a private systemd-journald (rotation, vacuuming, systemd-cat).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { journalMatches, parseJournalMatch } from '../../src/core/index.js';
import { DEFAULT_BATCH, JournalReader, journalSelection, type JournalBatch, type JournalReaderOptions, type JournalStartPoint } from '../../src/watch/index.js';
import { waitFor } from '../helpers/daemon.js';
import { journalFile, privateJournald, type ExportEntry, type JournalFile } from '../helpers/journal.js';
import { CHILD_LOADER, sourcePath } from '../helpers/script.js';

const T0 = 1_700_000_000;
const FAST_RETRY = { first: 50, max: 400 };

const entry = (time: number, message: string, fields: Record<string, string> = {}): ExportEntry =>
  ({ time, fields: { _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '7', MESSAGE: message, ...fields } });

function file(t: TestContext, entries: readonly ExportEntry[]): JournalFile {
  const made = journalFile(entries);
  t.after(() => made.remove());
  return made;
}

/** journalctl processes whose command line holds `marker` (a test's own temp path): ours, ended by PID only. */
function journalctls(marker: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0]?.endsWith('journalctl') && argv.some((a) => a.includes(marker)) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

interface Run {
  readonly reader: JournalReader;
  readonly batches: JournalBatch[];
  readonly starts: JournalStartPoint[];
  readonly errors: string[];
  messages(): string[];
  cursor(): string | undefined;
  waitForMessages(count: number, what: string): Promise<void>;
}

function follow(t: TestContext, options: Partial<JournalReaderOptions> & Pick<JournalReaderOptions, 'source'>): Run {
  const batches: JournalBatch[] = [];
  const starts: JournalStartPoint[] = [];
  const errors: string[] = [];
  const reader = new JournalReader({
    match: undefined,
    since: 0,
    onEntries: async (batch) => {
      batches.push(batch);
    },
    onStart: (start) => starts.push(start),
    onError: (message) => errors.push(message),
    retry: FAST_RETRY,
    ...options,
  });
  t.after(() => reader.close());
  reader.start();
  const messages = (): string[] => batches.flatMap((b) => b.entries.map((e) => e.line.replace(/^web1 sshd\[7\]: /, '')));
  return {
    reader, batches, starts, errors, messages,
    cursor: () => batches.at(-1)?.cursor,
    waitForMessages: (count, what) => waitFor(what, () => messages().length >= count, 10_000).then(() => undefined),
  };
}

/** Long enough for anything read twice, or a restart, to have shown. */
const QUIET_MS = 500;

describe('JournalReader: journalctl --follow, exactly once', () => {
  it('reads from `since` with each entry\'s time, follows what is appended, and gives the cursor of each batch\'s last entry', async (t) => {
    const journal = file(t, [entry(T0, 'old'), entry(T0 + 10.5, 'one'), entry(T0 + 11, 'two')]);
    const run = follow(t, { source: { files: [journal.path] }, since: T0 + 5 });
    await run.waitForMessages(2, 'the entries since T0 + 5');
    journal.append([entry(T0 + 12, 'three')]);
    await run.waitForMessages(3, 'the appended entry');
    await sleep(QUIET_MS);
    assert.deepEqual(run.messages(), ['one', 'two', 'three']);
    const entries = run.batches.flatMap((b) => b.entries);
    assert.deepEqual(entries.map((e) => e.time), [T0 + 10.5, T0 + 11, T0 + 12]);
    assert.equal(entries[0]?.line, 'web1 sshd[7]: one');
    for (const batch of run.batches) assert.equal(batch.cursor, batch.entries.at(-1)?.cursor);
    assert.equal(run.batches.at(-1)?.realtime, (T0 + 12) * 1e6, 'the last entry\'s __REALTIME_TIMESTAMP, in microseconds');
    assert.deepEqual(run.starts, [{ kind: 'since', since: T0 + 5 }]);
    const status = run.reader.status();
    assert.deepEqual([status.running, status.error, status.lastEntryAt, status.lagSeconds], [true, undefined, T0 + 12, 0]);
  });

  it('resumes after the cursor, also when the cursor\'s entry no longer passes the match (journalctl --after-cursor would skip one)', async (t) => {
    const journal = file(t, [entry(T0, 'a', { _COMM: 'sshd' }), entry(T0 + 1, 'b', { _COMM: 'cron' }), entry(T0 + 2, 'c', { _COMM: 'sshd' })]);
    const first = follow(t, { source: { files: [journal.path] } });
    await first.waitForMessages(3, 'every entry');
    const cursorOfB = first.batches.flatMap((b) => b.entries)[1]?.cursor;
    assert.ok(cursorOfB !== undefined, 'the second entry has a cursor');
    await first.reader.close();
    const again = follow(t, { source: { files: [journal.path] }, after: cursorOfB, match: parseJournalMatch('_COMM=sshd') });
    await again.waitForMessages(1, 'the entry after the cursor');
    await sleep(QUIET_MS);
    assert.deepEqual(again.messages(), ['c']);
    assert.deepEqual(again.starts, [{ kind: 'cursor', cursor: cursorOfB }]);
  });

  it('one reader for several jails: the union of their matches, each entry routed by each jail\'s own match', async (t) => {
    const journal = file(t, [
      entry(T0, 'ssh', { _SYSTEMD_UNIT: 'ssh.service' }), entry(T0 + 1, 'mail', { _SYSTEMD_UNIT: 'postfix.service' }), entry(T0 + 2, 'cron'),
    ]);
    const jails = new Map([['sshd', parseJournalMatch('_SYSTEMD_UNIT=ssh.service')], ['postfix', parseJournalMatch('_SYSTEMD_UNIT=postfix.service')]]);
    const routed = async (matches: Map<string, ReturnType<typeof parseJournalMatch>>, count: number): Promise<string[][]> => {
      const run = follow(t, { source: { files: [journal.path] }, ...journalSelection([...matches.values()]) });
      await run.waitForMessages(count, `${count} entries`);
      await sleep(QUIET_MS);
      await run.reader.close();
      return run.batches.flatMap((b) => b.entries).map((e) => [...matches].filter(([, m]) => journalMatches(m, e.fields)).map(([name]) => name));
    };
    assert.deepEqual(await routed(jails, 2), [['sshd'], ['postfix']]);
    // A jail without a journalmatch reads everything; the others still see the fields they route by.
    jails.set('all', undefined);
    assert.deepEqual(await routed(jails, 3), [['sshd', 'all'], ['postfix', 'all'], ['all']]);
  });

  it('a cursor whose entry is not in the journal: told, then read from the cursor\'s own time or `since`, whichever is later', async (t) => {
    const times = [T0 + 100, T0 + 200, T0 + 300, T0 + 400];
    const original = file(t, times.slice(0, 3).map((time, i) => entry(time, `e${i + 1}`)));
    const first = follow(t, { source: { files: [original.path] } });
    await first.waitForMessages(3, 'the original journal');
    const cursorOfE2 = first.batches.flatMap((b) => b.entries)[1]?.cursor ?? '';
    await first.reader.close();
    // The same entries in another journal file (as after a machine-id change or a rebuilt journal): other cursors.
    const rebuilt = file(t, times.map((time, i) => entry(time, `e${i + 1}`)));
    const cases: [number, string[]][] = [[T0, ['e3', 'e4']], [T0 + 250, ['e3', 'e4']], [T0 + 350, ['e4']]];
    for (const [since, expected] of cases) {
      const run = follow(t, { source: { files: [rebuilt.path] }, after: cursorOfE2, since });
      await run.waitForMessages(expected.length, `the entries after ${since}`);
      await sleep(QUIET_MS);
      assert.deepEqual(run.messages(), expected, `since ${since}`);
      assert.deepEqual(run.starts, [{ kind: 'since', since: Math.max(since, T0 + 200), lostCursor: cursorOfE2 }]);
      await run.reader.close();
    }
    const garbage = follow(t, { source: { files: [rebuilt.path] }, after: 'not a cursor', since: T0 + 350 });
    await garbage.waitForMessages(1, 'the entries since T0 + 350');
    assert.deepEqual([garbage.messages(), garbage.starts], [['e4'], [{ kind: 'since', since: T0 + 350, lostCursor: 'not a cursor' }]]);
  });

  it('a real journald: follows across journalctl --rotate; after --vacuum-files the lost cursor is told once and nothing is read twice', async (t) => {
    const journald = await privateJournald();
    t.after(() => journald.stop());
    const source = { path: `/proc/${journald.holder}/root/run/log/journal` };
    const match = parseJournalMatch('SYSLOG_IDENTIFIER=f2bt-sshd');
    const text = (run: Run): string[] => run.batches.flatMap((b) => b.entries.map((e) => e.line.replace(/^.* f2bt-sshd(?:\[\d+\])?: /, '')));
    const waitForText = (run: Run, count: number): Promise<number> => waitFor(`${count} entries`, () => text(run).length >= count, 10_000);

    journald.log('f2bt-sshd', ['a1', 'a2']);
    const first = follow(t, { source, match, since: 0 });
    await waitForText(first, 2);
    const cursorOfA2 = first.cursor();
    assert.ok(cursorOfA2 !== undefined, 'the first reader has a cursor');
    await first.reader.close();

    assert.equal(journald.run(['journalctl', '--rotate']).code, 0);
    journald.log('f2bt-sshd', ['b1']);
    const second = follow(t, { source, match, since: 0, after: cursorOfA2 });
    await waitForText(second, 1);
    assert.equal(journald.run(['journalctl', '--rotate']).code, 0);
    journald.log('f2bt-sshd', ['b2']);
    await waitForText(second, 2);
    await sleep(QUIET_MS);
    assert.deepEqual([text(second), second.starts], [['b1', 'b2'], [{ kind: 'cursor', cursor: cursorOfA2 }]]);
    await second.reader.close();

    // Every archived file goes: a1, a2 and b1 with them; b2 stays in the active file.
    const vacuum = journald.run(['journalctl', '--vacuum-files=1']);
    assert.match(vacuum.stderr, /Deleted archived journal/);
    journald.log('f2bt-sshd', ['c1']);
    const third = follow(t, { source, match, since: 0, after: cursorOfA2 });
    await waitForText(third, 2);
    await sleep(QUIET_MS);
    const a2 = first.batches.flatMap((b) => b.entries).at(-1)?.time ?? 0;
    assert.deepEqual(text(third), ['b2', 'c1']);
    assert.deepEqual(third.starts, [{ kind: 'since', since: a2, lostCursor: cursorOfA2 }]);
  });

  it('journalctl missing: one error line, status failing, retried with back-off, reading once it is there', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'f2bt-bin-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const journal = file(t, [entry(T0, 'one')]);
    let recovered = 0;
    const run = follow(t, { source: { files: [journal.path] }, journalctl: join(dir, 'journalctl'), onRecovered: () => recovered++ });
    await waitFor('the error', () => run.errors.length > 0, 10_000);
    await sleep(FAST_RETRY.max * 2);
    assert.deepEqual(run.errors, [`${join(dir, 'journalctl')} not found: install systemd (journalctl)`], 'told once, however often retried');
    const failing = run.reader.status();
    assert.deepEqual([failing.running, failing.error], [false, run.errors[0]]);
    assert.ok(run.starts.length >= 3, `retried: ${run.starts.length} starts`);
    symlinkSync('/bin/journalctl', join(dir, 'journalctl'));
    await run.waitForMessages(1, 'the entry, once journalctl is there');
    assert.deepEqual([run.messages(), recovered, run.reader.status().error], [['one'], 1, undefined]);
  });

  it('journalctl killed: told, restarted after the last cursor handled; nothing read twice or lost', async (t) => {
    const journal = file(t, [entry(T0, 'one'), entry(T0 + 1, 'two')]);
    const run = follow(t, { source: { files: [journal.path] } });
    await run.waitForMessages(2, 'the first entries');
    const [pid] = journalctls(journal.dir);
    assert.ok(pid !== undefined, 'journalctl runs');
    process.kill(pid, 'SIGKILL');
    await waitFor('the error', () => run.errors.length > 0, 10_000);
    assert.match(run.errors[0] ?? '', /^journalctl ended \(SIGKILL\)/);
    journal.append([entry(T0 + 2, 'three')]);
    await run.waitForMessages(3, 'the entry appended meanwhile');
    await sleep(QUIET_MS);
    assert.deepEqual(run.messages(), ['one', 'two', 'three']);
    assert.equal(run.starts[1]?.kind, 'cursor');
    assert.deepEqual([run.reader.status().running, journalctls(journal.dir).length], [true, 1]);
  });

  it('a slow consumer holds journalctl back: one batch at a time, each within the limits, every entry once and in order; lag shows', async (t) => {
    const count = 12_000;
    const journal = file(t, Array.from({ length: count }, (_, i) => entry(T0 + i / 1000, `n${i}`)));
    let inFlight = 0;
    let overlapped = false;
    const lags: number[] = [];
    const run = follow(t, {
      source: { files: [journal.path] },
      onEntries: async (batch) => {
        overlapped ||= inFlight++ > 0;
        lags.push(run.reader.status().lagSeconds);
        await sleep(150);
        run.batches.push(batch);
        inFlight--;
      },
    });
    await run.waitForMessages(count, 'every entry');
    assert.equal(overlapped, false, 'never called concurrently');
    assert.deepEqual(run.messages(), Array.from({ length: count }, (_, i) => `n${i}`));
    const sizes = run.batches.map((b) => b.entries.length);
    assert.ok(sizes.every((n) => n <= DEFAULT_BATCH.entries + 400), `batches within the limit: ${sizes.join(' ')}`);
    assert.ok(sizes.length >= count / (DEFAULT_BATCH.entries + 400), `${sizes.length} batches`);
    assert.ok(lags.every((lag) => lag > 86_400), `behind by years while old entries wait: ${lags.join(" ")}`);
    assert.equal(run.reader.status().lagSeconds, 0, 'caught up');
  });

  it('a batch whose handling failed is read again', async (t) => {
    const journal = file(t, [entry(T0, 'one'), entry(T0 + 1, 'two')]);
    let calls = 0;
    const run = follow(t, {
      source: { files: [journal.path] },
      onEntries: async (batch) => {
        if (calls++ === 0) throw new Error('database is locked');
        run.batches.push(batch);
      },
    });
    await run.waitForMessages(2, 'the entries, read again');
    await sleep(QUIET_MS);
    assert.deepEqual(run.messages(), ['one', 'two']);
    assert.deepEqual(run.errors, ['handling journal entries failed: database is locked']);
  });

  it('over-long entries are dropped whole and counted; the cursor moves past them', async (t) => {
    const journal = file(t, [entry(T0, 'short'), entry(T0 + 1, 'x'.repeat(70_000)), entry(T0 + 2, 'y'.repeat(700_000)), entry(T0 + 3, 'last')]);
    const run = follow(t, { source: { files: [journal.path] } });
    await run.waitForMessages(2, 'the short entries');
    await sleep(QUIET_MS);
    assert.deepEqual(run.messages(), ['short', 'last']);
    assert.equal(run.batches.reduce((n, b) => n + b.dropped, 0), 2);
    assert.equal(run.cursor(), run.batches.flatMap((b) => b.entries).at(-1)?.cursor);
  });

  it('close waits for the batch being handled, ends journalctl, and nothing is handed over after', async (t) => {
    const journal = file(t, [entry(T0, 'one')]);
    let release = (): void => undefined;
    let after = 0;
    let closing = false;
    const run = follow(t, {
      source: { files: [journal.path] },
      onEntries: (batch) => {
        if (closing) after++;
        run.batches.push(batch);
        return new Promise((resolve) => { release = resolve; });
      },
    });
    await run.waitForMessages(1, 'the first batch');
    closing = true;
    let closed = false;
    const close = run.reader.close().then(() => { closed = true; });
    journal.append([entry(T0 + 1, 'two')]);
    await sleep(QUIET_MS);
    assert.equal(closed, false, 'close waits for the batch being handled');
    release();
    await close;
    await sleep(QUIET_MS);
    assert.deepEqual([after, run.messages(), journalctls(journal.dir)], [0, ['one'], []]);
  });

  it('journalctl ends with its daemon, even when the daemon is killed with SIGKILL', async (t) => {
    const journal = file(t, [entry(T0, 'one')]);
    const script = `import { JournalReader } from ${JSON.stringify(sourcePath('src/watch/index'))};
new JournalReader({ source: { files: [${JSON.stringify(journal.path)}] }, match: undefined, since: 0,
  onEntries: async () => console.log('read') }).start();`;
    const daemon = spawn(process.execPath, [...CHILD_LOADER, '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => daemon.kill('SIGKILL'));
    let output = '';
    daemon.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    await waitFor('the daemon to read', () => output.includes('read'), 20_000);
    assert.equal(journalctls(journal.dir).length, 1, 'journalctl runs');
    daemon.kill('SIGKILL');
    await waitFor('journalctl to end', () => journalctls(journal.dir).length === 0, 10_000);
  });

  it('inside a private journald\'s namespace, the system journal (the default source) holds what systemd-cat writes', async (t) => {
    const journald = await privateJournald();
    t.after(() => journald.stop());
    const dir = mkdtempSync(join(tmpdir(), 'f2bt-daemon-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'daemon.mjs'), `import { JournalReader } from ${JSON.stringify(sourcePath('src/watch/index'))};
import { parseJournalMatch } from ${JSON.stringify(sourcePath('src/core/index'))};
new JournalReader({ source: {}, match: parseJournalMatch('SYSLOG_IDENTIFIER=f2bt-sshd'), since: Date.now() / 1000 - 60,
  onEntries: async (batch) => { for (const e of batch.entries) console.log(JSON.stringify(e)); } }).start();
`);
    const daemon = journald.spawn([process.execPath, ...CHILD_LOADER, join(dir, 'daemon.mjs')], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.after(() => daemon.kill('SIGKILL'));
    let output = '';
    daemon.stdout?.setEncoding('utf8').on('data', (d: string) => { output += d; });
    const started = Date.now() / 1000;
    journald.log('f2bt-sshd', ['Failed password for root from 203.0.113.4 port 22 ssh2']);
    await waitFor('the entry in the daemon', () => output.includes('203.0.113.4'), 20_000);
    const read = JSON.parse(output.split('\n')[0] ?? '') as { line: string; time: number; fields: Record<string, string[]> };
    // [PID] as the journal has the sender's _PID: systemd-cat gone before journald took its stream leaves none (seen in CI).
    assert.match(read.line, /^\S+ f2bt-sshd(?:\[\d+\])?: Failed password for root from 203\.0\.113\.4 port 22 ssh2$/);
    assert.ok(Math.abs(read.time - started) < 60, `the entry's own time: ${read.time}`);
    assert.deepEqual(read.fields.SYSLOG_IDENTIFIER, ['f2bt-sshd']);
  });
});
