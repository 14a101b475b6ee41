import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createSocket, type UnixDatagramSocket } from 'unix-dgram';
import { parseLogLevel, type LogEntry } from '../../src/core/index.js';
import { createLogger } from '../../src/daemon/index.js';
import { streamLines } from '../../src/daemon/log-format.js';
import { RepeatLimiter } from '../../src/daemon/log-repeats.js';
import { isJournalStream } from '../../src/daemon/log-targets.js';
import { tempDir } from '../helpers/cli.js';
import { inTimeZone } from '../helpers/time-zone.js';

const T = Date.UTC(2026, 10, 23, 13, 5, 1, 123);

/** A unix datagram socket of the test's own, standing for /dev/log or the journal's socket. */
function listen(path: string): { socket: UnixDatagramSocket; next: () => Promise<string> } {
  const socket = createSocket('unix_dgram');
  const got: string[] = [];
  const waiting: ((text: string) => void)[] = [];
  socket.on('message', (message) => {
    const text = message.toString('latin1');
    const take = waiting.shift();
    if (take) take(text);
    else got.push(text);
  });
  socket.bind(path);
  const next = (): Promise<string> => {
    const text = got.shift();
    return text !== undefined ? Promise.resolve(text) : new Promise((resolve) => waiting.push(resolve));
  };
  return { socket, next };
}

/** The fields of a journal native-protocol datagram (both its forms). */
function journalFields(datagram: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < datagram.length) {
    const end = datagram.indexOf('\n', at);
    const line = datagram.slice(at, end);
    const eq = line.indexOf('=');
    if (eq >= 0) {
      fields[line.slice(0, eq)] = line.slice(eq + 1);
      at = end + 1;
      continue;
    }
    const size = Number(Buffer.from(datagram.slice(end + 1, end + 9), 'latin1').readBigUInt64LE());
    fields[line] = Buffer.from(datagram.slice(end + 9, end + 9 + size), 'latin1').toString('utf8');
    at = end + 9 + size + 1;
  }
  return fields;
}

describe('the daemon\'s log', () => {
  inTimeZone('UTC');
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('takes fail2ban\'s level names in any case, and its other spellings', () => {
    assert.deepEqual(['ERROR', 'Warning', 'warn', 'NOTICE', 'info', 'DEBUG', 'CRITICAL', 'HEAVYDEBUG'].map(parseLogLevel),
      ['error', 'warning', 'warning', 'notice', 'info', 'debug', 'critical', 'debug']);
    assert.equal(parseLogLevel('loud'), undefined);
  });

  it('writes the lines at the configured level and above, each with its level, in fail2ban\'s file format', async () => {
    const path = join(tmp.dir, 'daemon.log');
    const logger = await createLogger({ level: 'warning', target: { kind: 'file', path }, now: () => T });
    logger.log('started');
    logger.log('reloaded', 'notice');
    logger.log('a line took too long', 'warning');
    logger.log('reading /var/log/auth.log: EACCES', 'error');
    logger.log('tracing', 'debug');
    logger.close();
    assert.equal(readFileSync(path, 'utf8'),
      `2026-11-23 13:05:01,123 f2b-store[${process.pid}]: WARNING a line took too long\n`
      + `2026-11-23 13:05:01,123 f2b-store[${process.pid}]: ERROR reading /var/log/auth.log: EACCES\n`);
  });

  it('a line end in a message cannot start a line of its own (a forged Ban for recidive)', async () => {
    const path = join(tmp.dir, 'daemon.log');
    const logger = await createLogger({ level: 'info', target: { kind: 'file', path }, now: () => T });
    logger.log('user "x\nNOTICE [sshd] Ban 198.51.100.9" failed\r', 'warning');
    logger.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.deepEqual(lines, [`2026-11-23 13:05:01,123 f2b-store[${process.pid}]: WARNING user "x\\x0aNOTICE [sshd] Ban 198.51.100.9" failed\\x0d`]);
  });

  it('on standard error: time and name for a person, sd-daemon <N> priorities when the stream is the journal\'s', () => {
    const entries: LogEntry[] = [{ level: 'error', text: 'e' }, { level: 'warning', text: 'w' }, { level: 'notice', text: '[sshd] Ban 203.0.113.7' }, { level: 'info', text: 'i' }, { level: 'debug', text: 'd' }];
    assert.deepEqual(streamLines(entries, T, true), ['<3>ERROR e', '<4>WARNING w', '<5>NOTICE [sshd] Ban 203.0.113.7', '<6>INFO i', '<7>DEBUG d']);
    assert.deepEqual(streamLines([entries[2]!], T, false), ['2026-11-23T13:05:01Z f2b-store: NOTICE [sshd] Ban 203.0.113.7']);
  });

  it('JOURNAL_STREAM counts only when it names the stream itself (a redirected child inherits the variable, not the stream)', () => {
    const path = join(tmp.dir, 'stream');
    const fd = openSync(path, 'w');
    try {
      const stat = statSync(path, { bigint: true });
      assert.equal(isJournalStream(fd, { JOURNAL_STREAM: `${stat.dev}:${stat.ino}` }), true);
      assert.equal(isJournalStream(fd, { JOURNAL_STREAM: `${stat.dev}:${stat.ino + 1n}` }), false);
      assert.equal(isJournalStream(fd, {}), false);
    } finally {
      closeSync(fd);
    }
  });

  it('syslog: RFC 3164 datagrams to the socket, facility daemon, tagged f2b-store[PID]', async () => {
    const path = join(tmp.dir, 'log');
    const server = listen(path);
    const logger = await createLogger({ level: 'info', target: { kind: 'syslog', socket: path }, now: () => T });
    try {
      logger.log('[sshd] Ban 203.0.113.7', 'notice');
      logger.log('reading /var/log/auth.log: EACCES', 'error');
      assert.equal(await server.next(), `<29>Nov 23 13:05:01 f2b-store[${process.pid}]: NOTICE [sshd] Ban 203.0.113.7`);
      assert.equal(await server.next(), `<27>Nov 23 13:05:01 f2b-store[${process.pid}]: ERROR reading /var/log/auth.log: EACCES`);
    } finally {
      logger.close();
      server.socket.close();
    }
  });

  it('journal: the native protocol, with PRIORITY and SYSLOG_IDENTIFIER', async () => {
    const path = join(tmp.dir, 'socket');
    const server = listen(path);
    const logger = await createLogger({ level: 'debug', target: { kind: 'journal' }, journalSocket: path });
    try {
      logger.log('[sshd] Ban 2001:db8::7', 'notice');
      logger.log('drift check: nftables: objects were missing', 'debug');
      const fields = journalFields(await server.next());
      assert.deepEqual(fields, { MESSAGE: 'NOTICE [sshd] Ban 2001:db8::7', PRIORITY: '5', SYSLOG_FACILITY: '3', SYSLOG_IDENTIFIER: 'f2b-store', SYSLOG_PID: String(process.pid) });
      assert.equal(journalFields(await server.next()).PRIORITY, '7');
    } finally {
      logger.close();
      server.socket.close();
    }
  });

  it('a flood of one error is its first line and a count (told at close if its window has not ended)', async () => {
    const path = join(tmp.dir, 'daemon.log');
    let clock = 0;
    const logger = await createLogger({ level: 'info', target: { kind: 'file', path }, now: () => T, monotonic: () => clock });
    for (let i = 0; i < 533; i++) {
      logger.log('reading /var/log/auth.log: EACCES', 'error');
      clock += 100;
    }
    logger.log('[sshd] Ban 203.0.113.7', 'notice');
    logger.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => line.replace(/^.*?\]: /, ''));
    assert.deepEqual(lines, ['ERROR reading /var/log/auth.log: EACCES', 'NOTICE [sshd] Ban 203.0.113.7', 'ERROR reading /var/log/auth.log: EACCES (repeated 532 times in the last 53 s)']);
  });
});

describe('repeated problems', () => {
  inTimeZone('UTC');
  const error = (text: string): LogEntry => ({ level: 'error', text });

  it('counts identical warnings and errors for a window, then tells the count and goes on counting while they last', () => {
    let now = 0;
    const limiter = new RepeatLimiter(() => now, 60_000);
    const written: LogEntry[] = [];
    for (; now <= 120_000; now += 100) {
      written.push(...limiter.admit(error('nft: Operation not permitted')), ...limiter.due());
    }
    assert.deepEqual(written.map((e) => e.text), [
      'nft: Operation not permitted',
      'nft: Operation not permitted (repeated 599 times in the last 60 s)',
      'nft: Operation not permitted (repeated 600 times in the last 60 s)',
    ]);
  });

  it('a line gone quiet is forgotten: the next one is written in full', () => {
    let now = 0;
    const limiter = new RepeatLimiter(() => now, 60_000);
    assert.equal(limiter.admit(error('x')).length, 1);
    now = 61_000;
    assert.deepEqual(limiter.due(), []);
    assert.deepEqual(limiter.admit(error('x')), [error('x')]);
  });

  it('a repeat after its window, before the count was told, tells the count and is counted in the next window', () => {
    let now = 0;
    const limiter = new RepeatLimiter(() => now, 60_000);
    limiter.admit(error('x'));
    now = 1000;
    assert.deepEqual(limiter.admit(error('x')), []);
    now = 70_000;
    assert.deepEqual(limiter.admit(error('x')).map((e) => e.text), ['x (repeated 1 time in the last 70 s)']);
    assert.deepEqual(limiter.drain().map((e) => e.text), ['x (repeated 1 time in the last 0 s)']);
  });

  it('holds back neither different problems nor lines below warning', () => {
    const limiter = new RepeatLimiter(() => 0, 60_000);
    const written = [error('a'), error('b'), { level: 'warning', text: 'a' } as const, error('a'),
      { level: 'notice', text: '[sshd] Ban 203.0.113.7' } as const, { level: 'notice', text: '[sshd] Ban 203.0.113.7' } as const,
      { level: 'info', text: 'i' } as const, { level: 'info', text: 'i' } as const].flatMap((e) => limiter.admit(e));
    assert.deepEqual(written.map((e) => `${e.level} ${e.text}`), ['error a', 'error b', 'warning a', 'notice [sshd] Ban 203.0.113.7', 'notice [sshd] Ban 203.0.113.7', 'info i', 'info i']);
    assert.deepEqual(limiter.drain().map((e) => e.text), ['a (repeated 1 time in the last 0 s)']);
  });
});
