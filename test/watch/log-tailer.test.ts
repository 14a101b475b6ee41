import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { LogTailer, type LineBatch, type LogPosition, type LogTailerOptions } from '../../src/watch/index.js';
import { scaled } from '../helpers/slowness.js';
import { CHILD_LOADER, sourcePath } from '../helpers/script.js';

const execFileAsync = promisify(execFile);

/** Long enough for the tailer's 100 ms re-check to have run: anything read twice would show by then. */
const QUIET_MS = 300;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Run {
  readonly tailer: LogTailer;
  readonly batches: LineBatch[];
  readonly errors: Error[];
  lines(path?: string): string[];
  last(): LogPosition | undefined;
  waitForLines(count: number, what: string): Promise<void>;
}

async function follow(t: TestContext, options: Partial<LogTailerOptions> & Pick<LogTailerOptions, 'paths'>): Promise<Run> {
  const batches: LineBatch[] = [];
  const errors: Error[] = [];
  const tailer = new LogTailer({
    stored: () => undefined,
    onLines: async (batch) => {
      batches.push(batch);
    },
    onError: (error) => errors.push(error),
    ...options,
  });
  t.after(() => tailer.close());
  await tailer.start();
  const lines = (path?: string): string[] => batches.filter((b) => path === undefined || b.path === path).flatMap((b) => b.lines);
  return {
    tailer,
    batches,
    errors,
    lines,
    last: () => batches.at(-1)?.position,
    waitForLines: (count, what) => waitFor(() => lines().length >= count, what),
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + scaled(timeoutMs);
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** All lines delivered, once `count` arrived and nothing more came for a while. */
async function settledLines(run: Run, count: number, what: string): Promise<string[]> {
  await run.waitForLines(count, what);
  await sleep(QUIET_MS);
  assert.deepEqual(run.errors.map((e) => e.message), [], 'no errors reported');
  return run.lines();
}

/** Many lines (more than one read chunk, so several batches), then copytruncate and one more line. */
function copyTruncateMany(log: string): string[] {
  const lines = numbered('written before the rotation, line number ', 10_000);
  appendFileSync(log, `${lines.join('\n')}\n`);
  copyFileSync(log, `${log}.1`);
  truncateSync(log, 0);
  appendFileSync(log, 'after the truncation\n');
  return [...lines, 'after the truncation'];
}

interface FailingTailer {
  start(): Promise<void>;
  readonly got: string[];
  readonly batches: () => number;
}

/** A tailer whose onLines fails once, on the second batch of lines. */
function failingOnce(t: TestContext, log: string, stored?: LogPosition): FailingTailer {
  const got: string[] = [];
  let batches = 0;
  const tailer = new LogTailer({
    paths: [{ pattern: log, tail: false }],
    stored: () => stored,
    onLines: async (batch) => {
      if (batch.lines.length > 0 && ++batches === 2) throw new Error('database is locked');
      got.push(...batch.lines);
    },
    onError: () => undefined,
  });
  t.after(() => tailer.close());
  return { start: () => tailer.start(), got, batches: () => batches };
}

async function expectLinesOnce(tailer: FailingTailer, expected: string[]): Promise<void> {
  await waitFor(() => tailer.got.length >= expected.length, 'every line after the retry');
  await sleep(QUIET_MS);
  assert.ok(tailer.batches() > 2, `the copy took several batches (${tailer.batches()})`);
  assert.deepEqual(tailer.got, expected, 'each line once, in order');
}

/**
 * The inodes this process watches by inotify, from /proc/self/fdinfo (one `inotify wd:N ino:HEX …`
 * line per watch): whether a file is heard at once, not only at the next poll or sweep.
 */
function inotifyWatchedInodes(): Set<number> {
  const inodes = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    for (const m of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').matchAll(/^inotify wd:\d+ ino:([0-9a-f]+) /gm)) inodes.add(Number.parseInt(m[1] as string, 16));
  }
  return inodes;
}

function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

describe('LogTailer', () => {
  it('starts a file present at start-up at its end, reports that position, and delivers appends in order', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'old line 1\nold line 2\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    await waitFor(() => run.batches.length > 0, 'the starting position');
    assert.deepEqual(run.batches[0]?.lines, [], 'the first batch only reports where reading starts');
    assert.equal(run.batches[0]?.position.offset, statSync(log).size, 'a new file starts at its end');
    assert.equal(run.batches[0]?.position.inode, statSync(log).ino, 'the position names the inode');
    assert.deepEqual(run.tailer.watched(), [log], 'the file is listed as watched');

    const expected = numbered('append ', 300);
    for (const [i, line] of expected.entries()) {
      appendFileSync(log, `${line}\n`);
      // Writes close together and a few apart: chokidar drops events of the former.
      if (i % 25 === 0) await sleep(3);
    }
    assert.deepEqual(await settledLines(run, expected.length, 'the appended lines'), expected, 'every appended line, once, in order');
    assert.equal(run.last()?.offset, statSync(log).size, 'the position is at the end after the last line');
  });

  it('hears a followed file by inotify, its own watch, and the file that takes its path after a rotation; the directory is polled', async (t) => {
    const dir = tempDir(t);
    const log = join(dir, 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    const first = statSync(log).ino;
    await waitFor(() => inotifyWatchedInodes().has(first), 'an inotify watch on the followed file');
    // A watch on the directory would hear every write to every file beside the log (see LogTailer).
    assert.ok(!inotifyWatchedInodes().has(statSync(dir).ino), 'no inotify watch on the log\'s directory');
    appendFileSync(log, 'a1\n');
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'b1\n');
    await settledLines(run, 2, 'the lines of both files');
    const second = statSync(log).ino;
    await waitFor(() => inotifyWatchedInodes().has(second), 'an inotify watch on the new file at the path');
    appendFileSync(log, 'b2\n');
    assert.deepEqual(await settledLines(run, 3, 'a line appended to the new file'), ['a1', 'b1', 'b2'], 'each line once');
  });

  it('holds a partial last line until its newline arrives, and drops a trailing \\r', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'first\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    appendFileSync(log, 'half a li');
    await sleep(QUIET_MS);
    assert.deepEqual(run.lines(), [], 'nothing delivered before the newline');
    assert.ok(run.batches.every((b) => b.position.offset <= 6), 'the partial bytes are not part of any position');
    appendFileSync(log, 'ne\r\nnext');
    assert.deepEqual(await settledLines(run, 1, 'the completed line'), ['half a line'], 'the line whole, without \\r');
    assert.equal(run.last()?.offset, statSync(log).size - 'next'.length, 'the position stops before the new partial line');
  });

  it('follows rename + create: the old file is read to its end (late writes too), then the new one from its start', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    appendFileSync(log, 'a1\na2\n');
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, 'a3 written before the writer reopened\n');
    writeFileSync(log, 'b1\n');
    appendFileSync(log, 'b2\n');
    assert.deepEqual(
      await settledLines(run, 5, 'lines of both files'),
      ['a1', 'a2', 'a3 written before the writer reopened', 'b1', 'b2'],
      'each line once, the old file first',
    );
    assert.equal(run.last()?.inode, statSync(log).ino, 'the position now names the new file');

    appendFileSync(`${log}.1`, 'a4 late\n');
    appendFileSync(log, 'b3\n');
    const lines = await settledLines(run, 7, 'the late line of the rotated file');
    assert.deepEqual(lines.slice(5).sort(), ['a4 late', 'b3'], 'a late write to the rotated file is still read, once');
    assert.equal(run.last()?.inode, statSync(log).ino, 'late lines of the rotated file carry the new file position');
  });

  it('follows copytruncate: lines not read before the truncation come from the copy, none twice', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    appendFileSync(log, 'c1\nc2\n');
    await run.waitForLines(2, 'lines before the first rotation');
    appendFileSync(log, 'c3 just before\n');
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, 'd1 just after\n');
    assert.deepEqual(await settledLines(run, 4, 'lines around the rotation'), ['c1', 'c2', 'c3 just before', 'd1 just after'], 'each line once, in order');

    appendFileSync(log, 'd2\n');
    await run.waitForLines(5, 'a line before the second rotation');
    copyFileSync(log, `${log}.1`);
    truncateSync(log, 0);
    appendFileSync(log, 'e1 after a truncation to a longer file\n');
    assert.deepEqual(
      await settledLines(run, 6, 'lines after the second rotation'),
      ['c1', 'c2', 'c3 just before', 'd1 just after', 'd2', 'e1 after a truncation to a longer file'],
      'already read lines are not read again from the copy',
    );
    assert.equal(run.last()?.offset, statSync(log).size, 'the position counts from the start of the truncated file');
  });

  it('follows delete + create: the deleted file is read to its end, then the new one from its start', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    appendFileSync(log, 'e1\ne2\n');
    unlinkSync(log);
    writeFileSync(log, 'f1\n');
    appendFileSync(log, 'f2\n');
    assert.deepEqual(await settledLines(run, 4, 'lines of both files'), ['e1', 'e2', 'f1', 'f2'], 'each line once, in order');

    unlinkSync(log);
    await waitFor(() => run.tailer.watched().length === 0, 'the deleted file to be dropped from watched()');
    writeFileSync(log, 'g1 in a file created later\n');
    assert.deepEqual((await settledLines(run, 5, 'the re-created file')).slice(4), ['g1 in a file created later'], 'a re-created log is read from its start');
    assert.deepEqual(run.tailer.watched(), [log], 'followed again');
  });

  describe('restart from a stored position', () => {
    async function firstRun(log: string): Promise<LogPosition> {
      writeFileSync(log, 'header line\n');
      let position: LogPosition | undefined;
      const run = new LogTailer({
        paths: [{ pattern: log, tail: false }],
        stored: () => undefined,
        onLines: async (batch) => {
          position = batch.position;
        },
      });
      await run.start();
      appendFileSync(log, 'read in the first run\n');
      await waitFor(() => position?.offset === statSync(log).size, 'the first run to read its line');
      await run.close();
      assert.ok(position !== undefined, 'the first run reported a position');
      return position;
    }

    async function secondRun(t: TestContext, log: string, stored: LogPosition, count: number): Promise<string[]> {
      const run = await follow(t, { paths: [{ pattern: log, tail: false }], stored: (path) => (path === log ? stored : undefined) });
      return settledLines(run, count, 'the lines written while down');
    }

    it('reads exactly the lines written while down', async (t) => {
      const log = join(tempDir(t), 'auth.log');
      const stored = await firstRun(log);
      appendFileSync(log, 'down 1\ndown 2\n');
      assert.deepEqual(await secondRun(t, log, stored, 2), ['down 1', 'down 2'], 'nothing read before, nothing lost');
    });

    it('after rename + create while down, reads the rest of the rotated file beside the log, then the new one', async (t) => {
      const log = join(tempDir(t), 'auth.log');
      const stored = await firstRun(log);
      appendFileSync(log, 'down, old file\n');
      renameSync(log, `${log}.1`);
      writeFileSync(log, 'down, new file\n');
      assert.deepEqual(await secondRun(t, log, stored, 2), ['down, old file', 'down, new file'], 'each line written while down, once');
    });

    it('after copytruncate while down, reads the rest of the copy, then the truncated file from its start', async (t) => {
      const log = join(tempDir(t), 'auth.log');
      const stored = await firstRun(log);
      appendFileSync(log, 'down, before the copy\n');
      copyFileSync(log, `${log}-20250101`);
      truncateSync(log, 0);
      appendFileSync(log, 'down, after the truncation\n');
      assert.deepEqual(await secondRun(t, log, stored, 2), ['down, before the copy', 'down, after the truncation'], 'each line written while down, once');
    });

    it('after a failed delivery half-way through the rotated file, goes on where it stopped', async (t) => {
      const log = join(tempDir(t), 'auth.log');
      const stored = await firstRun(log);
      const tailer = failingOnce(t, log, stored);
      const expected = copyTruncateMany(log);
      await tailer.start();
      await expectLinesOnce(tailer, expected);
    });

    it('after delete + create while down, reads the new file from its start', async (t) => {
      const log = join(tempDir(t), 'auth.log');
      const stored = await firstRun(log);
      unlinkSync(log);
      writeFileSync(log, 'down, new file 1\ndown, new file 2\n');
      assert.deepEqual(await secondRun(t, log, stored, 2), ['down, new file 1', 'down, new file 2'], 'the replaced file is read whole');
    });
  });

  it('picks up a log whose directory does not exist yet, from its first line', async (t) => {
    const dir = tempDir(t);
    const log = join(dir, 'later', 'app', 'error.log');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    assert.deepEqual(run.tailer.watched(), [], 'nothing to follow yet');
    mkdirSync(join(dir, 'later', 'app'), { recursive: true });
    writeFileSync(log, 'h1\nh2\n');
    assert.deepEqual(await settledLines(run, 2, 'the new log'), ['h1', 'h2'], 'every line of a log that appeared');
    assert.deepEqual(run.tailer.watched(), [log], 'followed once it exists');
  });

  it('sees a log directory that was removed and created again', async (t) => {
    const app = join(tempDir(t), 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'old.log'), 'old\n');
    const run = await follow(t, { paths: [{ pattern: join(app, '*.log'), tail: false }] });
    rmSync(app, { recursive: true });
    await waitFor(() => run.tailer.watched().length === 0, 'the removed file to be dropped');
    mkdirSync(app);
    writeFileSync(join(app, 'new.log'), 'in a new directory\n');
    assert.deepEqual(await settledLines(run, 1, 'the file in the new directory'), ['in a new directory'], 'read from its start');
  });

  it('follows files matching a glob, including ones created later, as Python glob matches them', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'a1.log'), 'old\n');
    const run = await follow(t, { paths: [{ pattern: join(dir, '[ab]*.log'), tail: false }] });
    assert.deepEqual(run.tailer.watched(), [join(dir, 'a1.log')], 'the existing match');
    writeFileSync(join(dir, 'b2.log'), 'new file line\n');
    for (const other of ['c3.log', '.a.log', 'a1.txt']) writeFileSync(join(dir, other), 'not a match\n');
    appendFileSync(join(dir, 'a1.log'), 'appended\n');
    await settledLines(run, 2, 'lines of both matches');
    assert.deepEqual(run.lines(join(dir, 'b2.log')), ['new file line'], 'a file created later is read from its start');
    assert.deepEqual(run.lines(join(dir, 'a1.log')), ['appended'], 'the existing file from its end');
    assert.deepEqual(run.tailer.watched(), [join(dir, 'a1.log'), join(dir, 'b2.log')], 'no other file is followed');
  });

  it('after a failed delivery half-way through a copytruncate copy, goes on where it stopped', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const tailer = failingOnce(t, log);
    await tailer.start();
    await expectLinesOnce(tailer, copyTruncateMany(log));
  });

  it('does not read again a rotated file that the glob matches too', async (t) => {
    const dir = tempDir(t);
    const log = join(dir, 'app.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: join(dir, '*.log'), tail: false }] });
    appendFileSync(log, 's1\n');
    renameSync(log, join(dir, 'app-20250101.log'));
    writeFileSync(log, 's2\n');
    await run.waitForLines(2, 'lines around the rename');
    appendFileSync(log, 's3\n');
    await run.waitForLines(3, 'a line before the copy');
    copyFileSync(log, join(dir, 'app-20250102.log'));
    truncateSync(log, 0);
    appendFileSync(log, 's4\n');
    await settledLines(run, 4, 'lines around the copy');
    // A new file is found when its directory is polled next (pollInterval).
    await waitFor(() => run.tailer.watched().length === 3, 'the rotated files to be followed');
    assert.deepEqual(await settledLines(run, 4, 'lines after the rotated files were found'), ['s1', 's2', 's3', 's4'], 'each line once: the rotated files are followed from their end');
  });

  it('with tail, starts a file that appears later at its end', async (t) => {
    const dir = tempDir(t);
    const run = await follow(t, { paths: [{ pattern: join(dir, '*.log'), tail: true }] });
    writeFileSync(join(dir, 'z.log'), 'written before it was seen\n');
    await waitFor(() => run.tailer.watched().length === 1, 'the new file to be followed');
    appendFileSync(join(dir, 'z.log'), 'written after\n');
    assert.deepEqual(await settledLines(run, 1, 'the appended line'), ['written after'], 'only lines after it was seen');
  });

  it('with ranges, gives a local file\'s lines as the range of the file they lie in (with its CRC), and as bytes where a line was dropped among them or the file is polled', async (t) => {
    const dir = tempDir(t);
    const log = join(dir, 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }], maxLineBytes: 100, ranges: true });
    const start = statSync(log).size;
    // A line begun in one write and ended in the next: its first part waits in the tailer, and the range still starts at it.
    appendFileSync(log, 'one\ntw');
    await sleep(QUIET_MS);
    appendFileSync(log, 'o\nthree\n');
    await run.waitForLines(3, 'three lines');
    const ranged = run.batches.filter((b) => b.range !== undefined);
    assert.deepEqual(ranged.map((b) => b.lineCount), ranged.map((b) => b.lines.length), 'the lines counted are those decoded');
    assert.ok(ranged.length > 0 && run.batches.every((b) => b.range !== undefined || b.text?.length === 0), 'every batch with lines gives a range, not bytes');
    const bytes = readFileSync(log);
    for (const { range } of ranged) {
      const { offset, length, crc, device, inode } = range!;
      assert.equal(crc, crc32(bytes.subarray(offset, offset + length)), 'the CRC is that of the bytes in the file');
      assert.deepEqual([device, inode], [statSync(log).dev, statSync(log).ino]);
    }
    assert.deepEqual([ranged[0]!.range!.offset, ranged.at(-1)!.range!.offset + ranged.at(-1)!.range!.length], [start, bytes.length], 'the ranges cover what was appended');
    // A line over the limit among the lines: what is left is no longer one run of the file.
    appendFileSync(log, `four\n${'x'.repeat(200)}\nfive\n`);
    await run.waitForLines(5, 'the lines around the long one');
    const last = run.batches.at(-1)!;
    assert.deepEqual([last.range, last.text?.toString(), last.droppedAt, last.lineCount], [undefined, 'four\nfive\n', [1], 2], 'one line dropped, after the first line of the batch');

    const polled = join(dir, 'polled.log');
    writeFileSync(polled, '');
    const byPolling = await follow(t, { paths: [{ pattern: polled, tail: false }], polling: true, pollInterval: 50, ranges: true });
    appendFileSync(polled, 'p1\n');
    await byPolling.waitForLines(1, 'a polled line');
    assert.deepEqual(byPolling.batches.filter((b) => b.lines.length > 0).map((b) => [b.range, b.text?.toString()]), [[undefined, 'p1\n']]);
  });

  it('follows appends and a rotation by polling', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }], polling: true, pollInterval: 50 });
    appendFileSync(log, 'p1\np2\n');
    await run.waitForLines(2, 'polled lines');
    appendFileSync(log, 'p3\n');
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'q1\n');
    assert.deepEqual(await settledLines(run, 4, 'lines across the rotation'), ['p1', 'p2', 'p3', 'q1'], 'each line once, in order');
  });

  it('falls back to polling when inotify has no watches left (ENOSPC)', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, 'before start\n');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = `
      import { appendFileSync } from 'node:fs';
      import { LogTailer } from ${JSON.stringify(sourcePath('src/watch/index'))};
      const log = process.argv[1];
      let done;
      const delivered = new Promise((resolve) => (done = resolve));
      const tailer = new LogTailer({
        paths: [{ pattern: log, tail: false }], stored: () => undefined, pollInterval: 50,
        onLines: async (batch) => { if (batch.lines.length > 0) done(batch.lines); },
        onError: (error) => console.log(error.message),
      });
      await tailer.start();
      appendFileSync(log, 'polled\\n');
      console.log(JSON.stringify(await delivered));
      await tailer.close();`;
    // A user namespace of its own whose inotify watch limit is 0: the host's limits are untouched.
    const { stdout } = await execFileAsync(
      'unshare',
      ['--user', '--map-root-user', 'sh', '-c', 'echo 0 > /proc/sys/user/max_inotify_watches && exec "$@"', 'sh', process.execPath, ...CHILD_LOADER, '--input-type=module', '-e', child, log],
      { cwd: root, timeout: 15_000 },
    );
    assert.deepEqual(
      stdout.trim().split('\n'),
      ['watching logs: inotify failed (ENOSPC); polling every 50 ms instead', '["polled"]'],
      'the failure is reported once and lines still arrive',
    );
  });

  it('keeps following through a 1 MiB line (dropped whole and counted), binary junk and invalid UTF-8', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }] });
    const junk = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 10));
    appendFileSync(log, 'before\n');
    appendFileSync(log, `${'x'.repeat(1 << 20)} from 203.0.113.5\n`);
    appendFileSync(log, Buffer.concat([junk, Buffer.from('\n')]));
    appendFileSync(log, Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xc3, 0x0a]));
    appendFileSync(log, 'after\n');
    const lines = await settledLines(run, 4, 'the lines after the hostile ones');
    assert.equal(lines.length, 4, `four lines, got ${lines.length}`);
    assert.equal(lines[0], 'before', 'the line before');
    assert.ok(lines[1]?.startsWith('\u0000\u0001') && lines[1].includes('\uFFFD'), 'binary junk delivered as one line, invalid bytes replaced');
    assert.equal(lines[2], 'bad \uFFFD\uFFFD', 'invalid UTF-8 replaced');
    assert.equal(lines[3], 'after', 'following continues');
    assert.ok(!lines.some((line) => line.startsWith('xxx')), 'no part of the huge line is delivered');
    assert.equal(run.batches.reduce((n, b) => n + b.droppedAt.length, 0), 1, 'the huge line is counted as dropped');
    assert.equal(run.last()?.offset, statSync(log).size, 'the position counts the whole huge line');
  });

  it('drops a line one byte over maxLineBytes and keeps one at the limit, with or without \\r', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }], maxLineBytes: 10 });
    appendFileSync(log, '0123456789\n0123456789\r\n0123456789a\n0123456789a\r\nend\n');
    // Written in pieces too: a line over the limit split across reads.
    appendFileSync(log, '01234');
    await sleep(300);
    appendFileSync(log, '567890\nlast\n');
    const lines = await settledLines(run, 4, 'the lines within the limit');
    assert.deepEqual(lines, ['0123456789', '0123456789', 'end', 'last'], 'only the lines within the limit');
    assert.equal(run.batches.reduce((n, b) => n + b.droppedAt.length, 0), 3, 'three lines dropped');
  });

  it('reads the log encoding given', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    const run = await follow(t, { paths: [{ pattern: log, tail: false }], encoding: 'latin-1' });
    appendFileSync(log, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    assert.deepEqual(await settledLines(run, 1, 'the latin-1 line'), ['café'], 'decoded as Latin-1');
    assert.throws(() => new LogTailer({ paths: [], stored: () => undefined, onLines: async () => undefined, encoding: 'klingon' }), /logencoding: unknown encoding 'klingon'/);
  });

  it('prepares each batch before delivering it, reading ahead; a failed delivery prepares both again, and every line is delivered once', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    const prepared = new Set<LineBatch>();
    const got: string[] = [];
    let withLines = 0;
    const tailer = new LogTailer({
      paths: [{ pattern: log, tail: false }],
      stored: () => undefined,
      prepare: (batch) => prepared.add(batch),
      onLines: async (batch) => {
        assert.ok(prepared.delete(batch), 'the very batch prepared');
        if (batch.lines.length > 0 && ++withLines === 2) throw new Error('database is locked');
        got.push(...batch.lines);
      },
      onError: () => undefined,
    });
    t.after(() => tailer.close());
    await tailer.start();
    // Several chunks (256 KiB each) at once: the tailer reads one ahead while delivering.
    const expected = numbered(`${'x'.repeat(200)} `, 5000);
    appendFileSync(log, `${expected.join('\n')}\n`);
    await waitFor(() => got.length >= expected.length, 'every line');
    await sleep(QUIET_MS);
    assert.deepEqual(got, expected, 'each line once, in order');
  });

  it('marks the last batch of a turn, when it stops reading one file for the others (16 MiB), and each batch read while more of the file waited', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    const batches: { bytes: number; turnEnd: boolean; more: boolean }[] = [];
    const tailer = new LogTailer({
      paths: [{ pattern: log, tail: false }],
      stored: () => undefined,
      onLines: async (batch) => { batches.push({ bytes: batch.range?.length ?? batch.text?.length ?? 0, turnEnd: batch.turnEnd === true, more: batch.more === true }); },
      onError: () => undefined,
    });
    t.after(() => tailer.close());
    await tailer.start();
    // 20 MiB and 100 lines at once: one turn of 64 full chunks of 256 KiB, then the rest in the next, the last chunk not full.
    const line = `${'x'.repeat(1023)}\n`;
    appendFileSync(log, line.repeat(20 * 1024 + 100));
    await waitFor(() => batches.reduce((sum, b) => sum + b.bytes, 0) === (20 * 1024 + 100) * 1024, 'every byte');
    const read = batches.filter((b) => b.bytes > 0);
    assert.deepEqual(read.flatMap((b, i) => (b.turnEnd ? [i] : [])), [63], 'the 64th batch ends the first turn; the file\'s last batch is no turn\'s end');
    assert.deepEqual(read.flatMap((b, i) => (b.more ? [] : [i])), [read.length - 1], 'only the read that reached the end found nothing more waiting');
  });

  it('delivers a batch again when onLines failed, without losing or repeating lines', async (t) => {
    const log = join(tempDir(t), 'auth.log');
    writeFileSync(log, '');
    let failures = 1;
    const got: string[] = [];
    const errors: Error[] = [];
    const tailer = new LogTailer({
      paths: [{ pattern: log, tail: false }],
      stored: () => undefined,
      onLines: async (batch) => {
        if (batch.lines.length > 0 && failures-- > 0) throw new Error('database is locked');
        got.push(...batch.lines);
      },
      onError: (error) => errors.push(error),
    });
    t.after(() => tailer.close());
    await tailer.start();
    appendFileSync(log, 'r1\nr2\n');
    await waitFor(() => got.length >= 2, 'the batch to be delivered again');
    await sleep(QUIET_MS);
    assert.deepEqual(got, ['r1', 'r2'], 'the failed batch, once');
    assert.deepEqual(errors.map((e) => e.message), ['database is locked'], 'the failure was reported');
  });
});
