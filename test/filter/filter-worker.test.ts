import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { crc32 } from 'node:zlib';
import { writeLog } from '../../bench/log-workload.js';
import { FAIL2BAN_FILTER_DIR, loadFilter, SHIPPED_FILTER_DIR } from '../../src/config/index.js';
import { capturesTold, FilterWorker, LogFilter, slowLineMessage, toldCaptures, type FilterEntry, type LineFailures, type SlowLine } from '../../src/filter/index.js';
import { logTextLines, logTextTerminated, packedBuffers, packFailures, unpackFailures, type LogFileText } from '../../src/filter/worker-protocol.js';
import { BIN, tempDir } from '../helpers/cli.js';
import { helperScript } from '../helpers/script.js';
import { scaled } from '../helpers/slowness.js';

const NOW = 1458409244 + 100;
/** fail2ban's own exim filter: its failregex at exim.conf:24 backtracks exponentially on a run of quotes. */
const exim: FilterEntry = { definition: loadFilter('exim', [FAIL2BAN_FILTER_DIR]), options: { assumeNow: true } };
const sshd: FilterEntry = { definition: loadFilter('sshd', [SHIPPED_FILTER_DIR]), options: { assumeNow: true } };
const EXIM_FAILURE = '2016-03-19 18:40:44 [26221] SMTP protocol error in "AUTH LOGIN aW5mb0BtYW5iYXQub3Jn" H=([127.0.0.1]) [198.51.100.4]:14243 I=[172.89.0.6]:587 AUTH command used when not advertised';
/** About 30 hours in V8: 22 quotes take ~0.4 s, and each quote doubles it. */
const EXIM_ATTACK = `2016-03-19 18:40:44 [26221] SMTP protocol error in "a${'"'.repeat(40)} [198.51.100.9]:14243 AUTH command used when not advertised!`;
/** The worker's results for a batch, unpacked as the daemon unpacks them when it counts them. */
async function processed(worker: FilterWorker, ...batch: Parameters<FilterWorker['process']>): Promise<Map<string, readonly LineFailures[]>> {
  return new Map([...(await worker.process(...batch)).failures].map(([key, packed]) => [key, unpackFailures(packed)]));
}
const sshdFailure = (address: string): string => `Mar 19 18:40:45 host sshd[31602]: Failed password for invalid user root from ${address} port 50273 ssh2`;

/** A log of `lines` in a temp dir, held open as a tailer holds it, and the range of the file its lines lie in. */
async function openLog(t: TestContext, name: string, lines: readonly string[]): Promise<{ path: string; handle: FileHandle; bytes: Buffer; range: LogFileText }> {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  const handle = await open(path, 'r+');
  t.after(() => handle.close());
  const bytes = readFileSync(path);
  const { dev, ino } = statSync(path);
  return { path, handle, bytes, range: { fd: handle.fd, device: dev, inode: ino, offset: 0, length: bytes.length, crc: crc32(bytes), encoding: 'utf-8' } };
}

describe('FilterWorker: filters in a worker thread, with a CPU time budget per line', () => {
  it('drops a line that runs past the budget, logs it once, and goes on: the other lines and filters keep their failures', async () => {
    const slow: SlowLine[] = [];
    // A fresh worker's first line in a filter compiles its RegExps: on a slow machine that alone can take 300 ms.
    const budgetMs = scaled(300);
    const worker = new FilterWorker({ filters: new Map([['exim', exim], ['sshd', sshd]]), budgetMs, onSlowLine: (s) => slow.push(s) });
    // Stands for the daemon's status and other jails: it must keep running while a regex is stuck.
    let ticks = 0;
    const counter = setInterval(() => ticks++, 10);
    const started = performance.now();
    try {
      const lines = [sshdFailure('203.0.113.1'), EXIM_ATTACK, EXIM_FAILURE, sshdFailure('203.0.113.2')];
      const results = await processed(worker, '/var/log/mixed.log', ['exim', 'sshd'], lines, NOW);
      const elapsed = performance.now() - started;
      const hosts = (key: string): [number, string][] =>
        (results.get(key) ?? []).flatMap(({ index, failures }) => failures.map((f): [number, string] => [index, f.host.value]));
      assert.deepEqual(hosts('exim'), [[2, '198.51.100.4']]);
      assert.deepEqual(hosts('sshd'), [[0, '203.0.113.1'], [3, '203.0.113.2']]);
      assert.equal(slow.length, 1, JSON.stringify(slow));
      const [dropped] = slow as [SlowLine];
      assert.deepEqual([dropped.key, dropped.path, dropped.index, dropped.line], ['exim', '/var/log/mixed.log', 1, EXIM_ATTACK]);
      assert.ok(dropped.ms >= budgetMs && dropped.ms < scaled(10_000), `dropped after ${dropped.ms} ms, within the budget's reach`);
      assert.ok(elapsed < scaled(30_000), `the batch took ${elapsed} ms, not the hours the line would`);
      assert.ok(ticks >= 0.3 * (elapsed / 10), `the event loop ran meanwhile: ${ticks} ticks of 10 ms in ${Math.round(elapsed)} ms`);
      assert.match(slowLineMessage(dropped), /^\[exim\] \/var\/log\/mixed\.log: a line took over \d+ ms in the filter and was dropped \(.*multi-line state.*\): "2016-03-19/);
      // The fresh worker serves the next batch.
      const next = await processed(worker, '/var/log/mixed.log', ['sshd'], [sshdFailure('203.0.113.3')], NOW);
      assert.deepEqual(next.get('sshd')?.map((l) => l.failures[0]?.host.value), ['203.0.113.3']);
    } finally {
      clearInterval(counter);
      await worker.close();
    }
  });

  it('counts the worker thread\'s CPU time, not the clock: a process paused mid-line (SIGSTOP, as a paused VM) for thrice the budget drops nothing', async () => {
    const budgetMs = scaled(600);
    const child = spawn(process.execPath, [...helperScript('paused-worker'), String(budgetMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.startsWith('ready\n')) resolve();
    }));
    const exited = once(child, 'exit');
    await ready;
    // Eight lines of a sixth of the budget each: the worker is on one of the first when the process stops.
    await new Promise((resolve) => setTimeout(resolve, budgetMs / 4));
    child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 3 * budgetMs));
    child.kill('SIGCONT');
    const [code] = await exited;
    assert.equal(code, 0, out);
    const result = JSON.parse(out.split('\n')[1] ?? '') as { quotes: number; dropped: number[]; found: [number, string][] };
    assert.deepEqual(result.dropped, [], `no line dropped (lines of ${result.quotes} quotes)`);
    assert.deepEqual(result.found, [[8, '198.51.100.4']]);
  });

  it('several batches handed over at once: a line dropped in one of them leaves the others whole, in order', async () => {
    const slow: SlowLine[] = [];
    // A fresh worker's first line in a filter compiles its RegExps: on a slow machine that alone can take 300 ms.
    const budgetMs = scaled(300);
    const worker = new FilterWorker({ filters: new Map([['exim', exim], ['sshd', sshd]]), budgetMs, onSlowLine: (s) => slow.push(s) });
    try {
      const batches = [
        [sshdFailure('203.0.113.11')],
        [EXIM_FAILURE, EXIM_ATTACK, sshdFailure('203.0.113.12')],
        [sshdFailure('203.0.113.13'), EXIM_FAILURE],
      ];
      const done: number[] = [];
      const results = await Promise.all(batches.map(async (lines, n) => {
        const result = await processed(worker, '/var/log/mixed.log', ['exim', 'sshd'], lines, NOW);
        done.push(n);
        return result;
      }));
      const hosts = (result: Map<string, readonly LineFailures[]>, key: string): [number, string][] =>
        (result.get(key) ?? []).flatMap(({ index, failures }) => failures.map((f): [number, string] => [index, f.host.value]));
      assert.deepEqual(done, [0, 1, 2]);
      assert.deepEqual(results.map((r) => hosts(r, 'sshd')), [[[0, '203.0.113.11']], [[2, '203.0.113.12']], [[0, '203.0.113.13']]]);
      assert.deepEqual(results.map((r) => hosts(r, 'exim')), [[], [[0, '198.51.100.4']], [[1, '198.51.100.4']]]);
      assert.deepEqual(slow.map((s) => [s.key, s.index, s.line]), [['exim', 1, EXIM_ATTACK]]);
    } finally {
      await worker.close();
    }
  });

  it('results cross packed as bytes and come back as they were: hosts with and without cidr, times or none, several lines, captures, several failures of one line, text past ASCII', () => {
    const found: LineFailures[] = [
      { index: 0, failures: [{ host: { kind: 'ip4', value: '203.0.113.1' }, time: NOW, lines: ['a'], told: toldCaptures({ user: 'root', fport: '22' }) }] },
      { index: 3, failures: [
        { host: { kind: 'ip6', value: '2001:db8::/64', cidr: 64 }, time: undefined, lines: ['b', 'c'], told: toldCaptures({ user: 'admin' }) },
        { host: { kind: 'dns', value: 'scanner.example' }, time: NOW + 0.5, lines: [] },
      ] },
      { index: 4, failures: [{ host: { kind: 'fid', value: 'session-7' }, time: NOW, lines: ['d'] }] },
      // Text past ASCII (UTF-8 then, measured string by string), in a line longer than 64 KiB.
      { index: 9, failures: [{ host: { kind: 'fid', value: 'sitzung-ü' }, time: NOW, lines: ['für 😀 €', 'x€'.repeat(70_000)], told: toldCaptures({ user: 'jürgen' }) }] },
    ];
    const packed = packFailures(found);
    assert.deepEqual(unpackFailures(packed), found);
    assert.deepEqual(packedBuffers(packed).map((buffer) => buffer.byteLength), [packed.numbers, packed.ends, packed.text].map((part) => part.byteLength),
      'each part the whole of a buffer of its own (not a slice of Buffer\'s pool): transferring it takes nothing else');
    assert.equal(packed.encoding, 'utf8');
    const halves = packFailures([{ index: 0, failures: [{ host: { kind: 'fid', value: 'a\uD83D' }, time: NOW, lines: ['\uDE00b'] }] }]);
    assert.deepEqual(unpackFailures(halves)[0]?.failures[0]?.lines, ['\uFFFDb'], 'a pair split between two strings: each half alone, nothing cut');
    const latin: LineFailures[] = [...found.slice(0, 3), { index: 5, failures: [{ host: { kind: 'ip4', value: '203.0.113.9' }, time: NOW, lines: ['für ÿ\u0080'] }] }];
    const packedLatin = packFailures(latin);
    assert.equal(packedLatin.encoding, 'latin1', 'no unit above 0xFF: one byte each');
    assert.deepEqual(unpackFailures(packedLatin), latin);
    assert.deepEqual(unpackFailures(packFailures([])), []);
  });

  it('of the captures, only those a ban tells cross: not the host, fail2ban\'s bookkeeping or empty ones', () => {
    const captures = { ip4: '203.0.113.1', cidr: '32', mlfid: ' sshd[7]', skiplines0: 'x', user: 'root', alt_user: '', fid: 's-1' };
    const [line] = unpackFailures(packFailures([{ index: 0, failures: [{ host: { kind: 'ip4', value: '203.0.113.1' }, time: NOW, lines: ['a'], captures }] }]));
    assert.deepEqual(capturesTold(line?.failures[0]?.told ?? ''), { user: 'root', fid: 's-1' });
    assert.deepEqual(capturesTold(toldCaptures({ user: 'a\0b', fport: '22' })), { user: 'a\uFFFDb', fport: '22' }, 'a NUL in log text cannot shift the pairs');
  });

  it('a file\'s bytes longer than one decoding run come back as its lines: multi-byte characters, \\r\\n, a line longer than a run, no line cut', () => {
    const lines = Array.from({ length: 3_000 }, (_, i) => `${i} Failed password for ${'ü€😀'.repeat(i % 7)} from 203.0.113.${i % 250}`);
    lines.splice(1_000, 0, `long ${'x€'.repeat(70_000)} end`);
    const bytes = Buffer.from(lines.map((line, i) => `${line}${i % 5 === 0 ? '\r' : ''}\n`).join(''));
    assert.ok(bytes.length > 4 * 64 * 1024);
    assert.deepEqual(logTextLines({ bytes, encoding: 'utf-8' }), lines);
    assert.deepEqual(logTextLines({ bytes: bytes.subarray(0, bytes.length - 3), encoding: 'utf-8' }), lines.slice(0, -1), 'a last line without its \\n is not a line yet');
  });

  it('the lines handed to the filter keep their \\n, and are marked ASCII only where every byte of their run is', () => {
    const ascii = Array.from({ length: 2_000 }, (_, i) => `${i} Failed password for root from 203.0.113.${i % 250}`);
    const wide = Array.from({ length: 2_000 }, (_, i) => `${i} Failed password for ${i === 1_999 ? 'jürgen' : 'root'} from 203.0.113.${i % 250}`);
    const lines = [...ascii, ...wide];
    const bytes = Buffer.from(lines.map((line, i) => `${line}${i % 3 === 0 ? '\r' : ''}\n`).join(''));
    const decoded = logTextTerminated({ bytes, encoding: 'utf-8' });
    assert.deepEqual(decoded.lines, lines.map((line) => `${line}\n`));
    assert.equal(decoded.ascii[0], true, 'a run of ASCII bytes');
    assert.equal(decoded.ascii[lines.length - 1], false, 'the run holding ü');
    assert.ok(decoded.ascii.every((flag, i) => flag || i >= ascii.length - 1_000), 'no ASCII line of an ASCII run is marked otherwise');
    const latin1 = logTextTerminated({ bytes: Buffer.from('caf\xe9 1\r\nb\n', 'latin1'), encoding: 'latin1' });
    assert.deepEqual(latin1, { lines: ['café 1\n', 'b\n'], ascii: [false, false] }, 'another encoding, line by line');
  });

  describe('on a generated auth.log', () => {
    let tmp: ReturnType<typeof tempDir>;
    let lines: string[];
    before(async () => {
      tmp = tempDir();
      const log = join(tmp.dir, 'auth.log');
      await writeLog(log, 'auth', 20_000, NOW);
      lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    });
    after(() => tmp.cleanup());

    /** What one in-process LogFilter per (key, path) finds, as the daemon does today. */
    const inProcess = (entry: FilterEntry, batches: readonly string[][]): [number, unknown][] => {
      const filter = new LogFilter(entry.definition, { ...entry.options, now: () => NOW });
      let offset = 0;
      const found: [number, unknown][] = [];
      for (const batch of batches) {
        batch.forEach((line, i) => {
          for (const { host, time, lines: matched, captures } of filter.processLine(line).failures) {
            const told = toldCaptures(captures);
            found.push([offset + i, { host, time, lines: matched, ...(told === '' ? {} : { told }) }]);
          }
        });
        offset += batch.length;
      }
      return found;
    };

    it('finds exactly what an in-process LogFilter finds, batch after batch (as lines, or as the bytes of a file), with multi-line state carried over', async () => {
      const batches: string[][] = [];
      for (let i = 0; i < lines.length; i += 2_500) batches.push(lines.slice(i, i + 2_500));
      const worker = new FilterWorker({ filters: new Map([['sshd', sshd], ['sshd-aggressive', {
        definition: loadFilter('sshd[mode=aggressive]', [SHIPPED_FILTER_DIR]), options: { assumeNow: true },
      }]]) });
      try {
        const found = new Map<string, [number, unknown][]>([['sshd', []], ['sshd-aggressive', []]]);
        let offset = 0;
        for (const batch of batches) {
          // Every other batch as a file holds it, some lines ending in \r\n.
          const text = { bytes: Buffer.from(batch.map((line, i) => `${line}${i % 3 === 0 ? '\r' : ''}\n`).join('')), encoding: 'utf-8' };
          const results = await processed(worker, '/var/log/auth.log', ['sshd', 'sshd-aggressive'], (offset / 2_500) % 2 === 0 ? batch : text, NOW);
          for (const [key, perLine] of results) for (const { index, failures } of perLine) for (const f of failures) found.get(key)?.push([offset + index, f]);
          offset += batch.length;
        }
        const expected = inProcess(sshd, batches);
        assert.ok(expected.length > 1_000, `the log holds failures (${expected.length})`);
        assert.deepEqual(found.get('sshd'), expected);
        assert.deepEqual(found.get('sshd-aggressive'), inProcess({ definition: loadFilter('sshd[mode=aggressive]', [SHIPPED_FILTER_DIR]), options: { assumeNow: true } }, batches));
      } finally {
        await worker.close();
      }
    });
  });

  it('reads a range of a log file itself: the failures of its bytes, and a refusal, batch by batch, where the file changed under it or the descriptor is another file', async (t) => {
    const lines = [sshdFailure('203.0.113.21'), 'Mar 19 18:40:46 host sshd[31602]: Connection closed by 203.0.113.22', sshdFailure('203.0.113.23')];
    const { path, handle, bytes, range } = await openLog(t, 'auth.log', lines);
    const ino = range.inode;
    const worker = new FilterWorker({ filters: new Map([['sshd', sshd]]) });
    try {
      const hosts = (result: Map<string, readonly LineFailures[]>): [number, string][] =>
        (result.get('sshd') ?? []).flatMap(({ index, failures }) => failures.map((f): [number, string] => [index, f.host.value]));
      const expected: [number, string][] = [[0, '203.0.113.21'], [2, '203.0.113.23']];
      assert.deepEqual(hosts(await processed(worker, path, ['sshd'], range, NOW)), expected);
      assert.deepEqual(hosts(await processed(worker, path, ['sshd'], { bytes, encoding: 'utf-8' }, NOW)), expected, 'as from its bytes');
      // Rewritten in place (copytruncate and new lines of the same length): not the bytes the tailer read.
      await handle.write(Buffer.from(bytes.toString().replace('203.0.113.21', '203.0.113.99')), 0, undefined, 0);
      await assert.rejects(processed(worker, path, ['sshd'], range, NOW), /the log changed under bytes 0 to \d+ before they were matched/);
      await handle.truncate(10);
      await assert.rejects(processed(worker, path, ['sshd'], range, NOW), /the log changed under bytes/);
      await assert.rejects(processed(worker, path, ['sshd'], { ...range, inode: ino + 1 }, NOW), /is no longer the log read/);
      // The worker goes on with the next batch.
      assert.deepEqual(hosts(await processed(worker, path, ['sshd'], [sshdFailure('203.0.113.24')], NOW)), [[0, '203.0.113.24']]);
    } finally {
      await worker.close();
    }
  });

  it('a line of a file range past the budget is quoted as the file holds it', async (t) => {
    const { path, range } = await openLog(t, 'exim.log', [EXIM_FAILURE, EXIM_ATTACK]);
    const slow: SlowLine[] = [];
    const worker = new FilterWorker({ filters: new Map([['exim', exim]]), budgetMs: scaled(300), onSlowLine: (s) => slow.push(s) });
    try {
      const results = await processed(worker, path, ['exim'], range, NOW);
      assert.deepEqual(results.get('exim')?.map((l) => l.index), [0]);
      assert.deepEqual(slow.map((s) => [s.index, s.line]), [[1, EXIM_ATTACK]]);
    } finally {
      await worker.close();
    }
  });

  it('replace brings new filters in, and close rejects what is still queued', async () => {
    const worker = new FilterWorker({ filters: new Map([['sshd', sshd]]) });
    worker.replace(new Map([['sshd', sshd], ['exim', exim]]));
    const results = await processed(worker, '/var/log/auth.log', ['sshd', 'exim'], [sshdFailure('203.0.113.5'), EXIM_FAILURE], NOW);
    assert.deepEqual([...results.keys()], ['sshd', 'exim']);
    assert.equal(results.get('exim')?.[0]?.index, 1);
    const pending = assert.rejects(processed(worker, '/var/log/auth.log', ['exim'], [EXIM_ATTACK], NOW), /closed/);
    await worker.close();
    await pending;
    await assert.rejects(processed(worker, '/var/log/auth.log', ['sshd'], [], NOW), /closed/);
  });

  it('lines with their times (the journal): each failure has its line\'s time, not a date read from the text nor now', async () => {
    const journal: FilterEntry = { definition: loadFilter('sshd', [SHIPPED_FILTER_DIR], { backend: 'systemd' }), options: { assumeNow: true } };
    const worker = new FilterWorker({ filters: new Map([['journal', journal], ['file', sshd]]) });
    try {
      const line = (address: string): string => `host sshd[7]: Failed password for root from ${address} port 22 ssh2`;
      const lines = [line('203.0.113.1'), 'noise', line('203.0.113.2')];
      const times = [1_700_000_000.25, 1_700_000_001, 1_700_000_002.5];
      const timed = (results: Map<string, readonly LineFailures[]>, key: string): [number, number | undefined][] =>
        (results.get(key) ?? []).map((l) => [l.index, l.failures[0]?.time]);
      const results = await processed(worker, 'journal', ['journal', 'file'], lines, NOW, times);
      assert.deepEqual(timed(results, 'journal'), [[0, 1_700_000_000.25], [2, 1_700_000_002.5]]);
      // A file filter given times looks for no date either: the journal's line is read at its time.
      assert.deepEqual(timed(results, 'file'), [[0, 1_700_000_000.25], [2, 1_700_000_002.5]]);
      const untimed = await processed(worker, 'journal', ['journal'], lines, NOW);
      assert.deepEqual(timed(untimed, 'journal'), [[0, NOW], [2, NOW]]);
    } finally {
      await worker.close();
    }
  });

  it('the worker entry of the built bundle loads and runs the same protocol', async () => {
    const worker = new FilterWorker({ filters: new Map([['sshd', sshd]]), workerUrl: new URL('match-worker.js', new URL(`file://${BIN}`)) });
    try {
      const results = await processed(worker, '/var/log/auth.log', ['sshd'], ['noise', sshdFailure('203.0.113.6')], NOW);
      assert.deepEqual(results.get('sshd')?.map((l) => [l.index, l.failures[0]?.host.value]), [[1, '203.0.113.6']]);
    } finally {
      await worker.close();
    }
  });
});
