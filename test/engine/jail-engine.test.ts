import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadFilter } from '../../src/config/index.js';
import { InputError, lockoutCheck, parseAddress } from '../../src/core/index.js';
import { DEFAULT_MAX_TRACKED, JailEngine, MAX_MATCH_CHARS, type BanDecision, type EngineDeps, type JailEngineOptions } from '../../src/engine/index.js';
import { LogFilter, toldCaptures, type Failure, type FailureHost } from '../../src/filter/index.js';
import { SSHD_ENGINE as SSHD, T0 } from '../helpers/engine-jail.js';

/** The log's clock: tests move it forward as the log would. */
class Clock {
  constructor(public at: number) {}
  readonly now = (): number => this.at;
}

/** The bans decided so far, standing in for the store's history of them. */
class History {
  readonly bans: BanDecision[] = [];
  readonly previousBans = (address: string, jail: string | undefined): number =>
    this.bans.filter((b) => b.address === address && (jail === undefined || b.jail === jail)).length;
}

function setup(options: Partial<JailEngineOptions> = {}, deps: Partial<EngineDeps> = {}) {
  const clock = new Clock(T0);
  const history = new History();
  const engine = new JailEngine({ ...SSHD, ...options }, { now: clock.now, previousBans: history.previousBans, ...deps });
  /** A failure of `ip` logged at `time` (the clock follows the log). */
  const fail = async (ip: string, time: number, host?: FailureHost): Promise<BanDecision[]> => {
    clock.at = Math.max(clock.at, time);
    const decisions = await engine.add(sshdFailure(ip, time, host));
    history.bans.push(...decisions);
    return decisions;
  };
  return { clock, history, engine, fail };
}

function sshdFailure(ip: string, time: number | undefined, host?: FailureHost): Failure {
  const stamp = time === undefined ? 'Jan  1 00:00:00' : new Date(time * 1000).toISOString();
  return {
    regex: 0,
    host: host ?? { kind: ip.includes(':') ? 'ip6' : 'ip4', value: ip },
    time,
    captures: {},
    lines: [`${stamp} host sshd[1234]: Failed password for root from ${ip} port 22 ssh2`],
  };
}

describe('JailEngine: failure windows over log time', () => {
  it('bans at exactly maxretry failures within findtime', async () => {
    const { fail } = setup();
    assert.deepEqual(await fail('203.0.113.5', T0), []);
    assert.deepEqual(await fail('203.0.113.5', T0 + 200), []);
    const [ban, ...more] = await fail('203.0.113.5', T0 + 600);
    assert.equal(more.length, 0);
    assert.ok(ban, 'the third failure inside 600 s bans');
    assert.deepEqual(
      { address: ban.address, jail: ban.jail, source: ban.source, bannedAt: ban.bannedAt, expiresAt: ban.expiresAt, failures: ban.failures },
      { address: '203.0.113.5', jail: 'sshd', source: 'filter', bannedAt: T0 + 600, expiresAt: T0 + 1200, failures: 3 },
    );
  });

  it('reads no ban history without bantime.increment, and counts an address failure without waiting for a promise', () => {
    let previousAsked = 0;
    const { engine } = setup({}, { previousBans: () => previousAsked++ });
    const results = [0, 1, 2].map((i) => engine.add(sshdFailure('203.0.113.5', T0 + i)));
    assert.ok(results.every((r) => Array.isArray(r)), 'an address and no names to look up: answered at once');
    assert.equal((results[2] as BanDecision[]).length, 1, 'the third failure bans');
    assert.equal(previousAsked, 0);
  });

  it('decides nothing for an address known banned, yet counts its failures as any other', async () => {
    let previousAsked = 0;
    const { engine, fail } = setup({}, { banned: (address) => address === '203.0.113.5', previousBans: () => previousAsked++ });
    for (let i = 0; i < 4; i++) assert.deepEqual(await fail('203.0.113.5', T0 + i), [], 'no decision, and no history read');
    assert.equal(previousAsked, 0);
    assert.deepEqual(engine.counts(), { currentlyFailed: 1, totalFailed: 4 }, 'counted as fail2ban counts them: the window started afresh at the 3rd');
    assert.equal((await fail('203.0.113.6', T0 + 10)).length + (await fail('203.0.113.6', T0 + 11)).length + (await fail('203.0.113.6', T0 + 12)).length, 1);
  });

  it('never bans failures spread over more than findtime, judged by the log\'s times', async () => {
    const { fail, engine } = setup();
    for (let i = 0; i < 20; i++) assert.deepEqual(await fail('203.0.113.5', T0 + i * 301), [], `failure ${i + 1}`);
    assert.deepEqual(engine.counts(), { currentlyFailed: 1, totalFailed: 20 });
  });

  it('counts a failure logged out of order in its place', async () => {
    const { fail } = setup();
    await fail('203.0.113.5', T0 + 600);
    await fail('203.0.113.5', T0 + 1150);
    // Older than the newest failure but still inside its window: the third one.
    assert.equal((await fail('203.0.113.5', T0 + 560)).length, 1);
  });

  it('ignores failures logged longer than findtime ago, and counts future ones as now', async () => {
    const { engine, clock } = setup();
    clock.at = T0 + 10_000;
    for (let i = 0; i < 5; i++) assert.deepEqual(await engine.add(sshdFailure('203.0.113.5', T0 + i)), []);
    assert.deepEqual(engine.counts(), { currentlyFailed: 0, totalFailed: 0 });
    // A clock skewed an hour ahead: fail2ban counts such failures as happening now.
    await engine.add(sshdFailure('198.51.100.7', clock.at + 3600));
    await engine.add(sshdFailure('198.51.100.7', undefined));
    const [ban] = await engine.add(sshdFailure('198.51.100.7', clock.at - 599));
    assert.equal(ban?.expiresAt, clock.at + 600);
  });

  it('starts a banned address afresh, and forgets windows that ran out', async () => {
    const { fail, engine } = setup();
    for (const t of [0, 1, 2]) await fail('203.0.113.5', T0 + t);
    assert.deepEqual(engine.counts(), { currentlyFailed: 0, totalFailed: 3 });
    assert.deepEqual(await fail('203.0.113.5', T0 + 3), []);
    assert.deepEqual(await fail('203.0.113.5', T0 + 4), []);
    assert.equal((await fail('203.0.113.5', T0 + 5)).length, 1, 'three more failures ban again');
    await fail('198.51.100.7', T0 + 10);
    assert.equal(engine.counts().currentlyFailed, 1);
    await fail('198.51.100.8', T0 + 700);
    assert.equal(engine.counts().currentlyFailed, 1, '198.51.100.7 left its window');
  });

  it('forgets an unbanned address (or every address in an unbanned network)', async () => {
    const { fail, engine } = setup();
    for (const ip of ['203.0.113.5', '203.0.113.6', '198.51.100.1']) {
      await fail(ip, T0);
      await fail(ip, T0 + 1);
    }
    engine.forget('203.0.113.5');
    engine.forget('198.51.100.0/24');
    assert.deepEqual(await fail('203.0.113.5', T0 + 2), []);
    assert.deepEqual(await fail('198.51.100.1', T0 + 2), []);
    assert.equal((await fail('203.0.113.6', T0 + 2)).length, 1);
  });

  it('counts a failure against every address a host name resolves to', async () => {
    const resolve = async (name: string) => (name === 'scanner.example' ? ['203.0.113.5', '::ffff:203.0.113.6'] : []);
    const { engine } = setup({ usedns: 'yes' }, { resolve });
    const host: FailureHost = { kind: 'dns', value: 'scanner.example' };
    await engine.add(sshdFailure('scanner.example', T0, host));
    await engine.add(sshdFailure('scanner.example', T0, host));
    const bans = await engine.add(sshdFailure('scanner.example', T0, host));
    assert.deepEqual(bans.map((b) => b.address), ['203.0.113.5', '203.0.113.6']);
    const { engine: noDns } = setup({ usedns: 'no' }, { resolve });
    for (let i = 0; i < 3; i++) assert.deepEqual(await noDns.add(sshdFailure('scanner.example', T0, host)), []);
  });

  it('bans with fail2ban\'s own sshd filter reading real log lines', async () => {
    const definition = loadFilter('sshd', ['/etc/fail2ban/filter.d']);
    const clock = new Clock(T0);
    const filter = new LogFilter(definition, { now: clock.now, timeZone: 'UTC', useDns: 'warn' });
    const engine = new JailEngine({ ...SSHD, maxretry: 5, maxmatches: 5 }, { now: clock.now, previousBans: () => 0 });
    /** Reads a line written at T0 + `second` (a live log: the clock is at the line's time). */
    const read = async (second: number, text: string): Promise<BanDecision[]> => {
      clock.at = T0 + second;
      const bans: BanDecision[] = [];
      for (const failure of filter.processLine(text).failures) bans.push(...(await engine.add(failure)));
      return bans;
    };
    const attempts: [number, string][] = [
      [1, 'Jan  1 00:00:01 web sshd[4001]: Failed password for root from 203.0.113.77 port 40001 ssh2'],
      [3, 'Jan  1 00:00:03 web sshd[4002]: Invalid user admin from 203.0.113.77 port 40002'],
      [5, 'Jan  1 00:00:05 web sshd[4003]: Accepted publickey for deploy from 198.51.100.2 port 50000 ssh2: ED25519 SHA256:abc'],
      [7, 'Jan  1 00:00:07 web sshd[4004]: Failed password for invalid user oracle from 203.0.113.77 port 40003 ssh2'],
      [9, 'Jan  1 00:00:09 web sshd[4005]: Failed password for root from 203.0.113.77 port 40004 ssh2'],
      [1800, 'Jan  1 00:30:00 web sshd[4006]: Failed password for root from 203.0.113.77 port 40005 ssh2'],
      [1802, 'Jan  1 00:30:02 web sshd[4007]: Failed password for root from 203.0.113.77 port 40006 ssh2'],
      [1860, 'Jan  1 00:31:00 web sshd[4008]: Failed password for root from 203.0.113.77 port 40007 ssh2'],
      [1860, 'Jan  1 00:31:00 web sshd[4009]: Failed password for root from 203.0.113.77 port 40008 ssh2'],
    ];
    // Four failures in the first minute, then four 30 minutes later: never five inside 10 minutes.
    for (const [second, text] of attempts) assert.deepEqual(await read(second, text), [], text);
    const bans = await read(1861, 'Jan  1 00:31:01 web sshd[4010]: Failed password for root from 203.0.113.77 port 40009 ssh2');
    assert.equal(bans.length, 1, `one ban: ${JSON.stringify(bans)}`);
    assert.equal(bans[0]?.address, '203.0.113.77');
    assert.equal(bans[0]?.failures, 5);
    assert.equal(bans[0]?.matches.length, 5);
    assert.equal(bans[0]?.matches[0], 'Jan  1 00:30:00 web sshd[4006]: Failed password for root from 203.0.113.77 port 40005 ssh2');
  });
});

describe('JailEngine: matched lines (maxmatches)', () => {
  it('keeps the newest maxmatches lines per address and hands them to the ban', async () => {
    const { fail } = setup({ maxretry: 5, maxmatches: 2 });
    let bans: BanDecision[] = [];
    for (let i = 0; i < 5; i++) bans = await fail('203.0.113.5', T0 + i);
    assert.deepEqual(bans[0]?.matches, [
      '2026-01-01T00:00:03.000Z host sshd[1234]: Failed password for root from 203.0.113.5 port 22 ssh2',
      '2026-01-01T00:00:04.000Z host sshd[1234]: Failed password for root from 203.0.113.5 port 22 ssh2',
    ]);
  });

  it('hands the ban the times of its failures and the captures of the last one', async () => {
    const { engine, clock } = setup({ maxretry: 3 });
    const decisions: BanDecision[] = [];
    for (const [i, user] of ['root', 'admin', 'oracle'].entries()) {
      clock.at = T0 + 10 * i;
      decisions.push(...await engine.add({ ...sshdFailure('203.0.113.5', T0 + 10 * i), told: toldCaptures({ user }) }));
    }
    assert.deepEqual(decisions.map((d) => [d.failureTimes, d.captures]), [[[T0, T0 + 10, T0 + 20], { user: 'oracle' }]]);
  });

  it('keeps none with maxmatches = 0, and cuts a huge line', async () => {
    const none = setup({ maxmatches: 0 });
    let bans: BanDecision[] = [];
    for (let i = 0; i < 3; i++) bans = await none.fail('203.0.113.5', T0 + i);
    assert.deepEqual(bans[0]?.matches, []);
    const { engine } = setup({ maxretry: 1 });
    const [ban] = await engine.add({ ...sshdFailure('203.0.113.5', T0), lines: [`x${'A'.repeat(1 << 20)}`] });
    assert.ok(ban && ban.matches.length === 1 && (ban.matches[0]?.length ?? 0) === MAX_MATCH_CHARS, 'a 1 MiB line is kept cut');
  });
});

describe('JailEngine: memory', () => {
  const address = (i: number) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

  it('tracks at most maxTracked addresses, forgetting the least recent', async () => {
    const { engine, fail, clock } = setup({ maxTracked: 10_000 });
    for (let i = 0; i < 10_000; i++) await engine.add(sshdFailure(address(i), clock.at));
    assert.equal([...engine.takeChanges()].length, 10_000);
    for (let i = 10_000; i < 100_000; i++) await engine.add(sshdFailure(address(i), clock.at));
    assert.deepEqual(engine.counts(), { currentlyFailed: 10_000, totalFailed: 100_000 });
    const changes = [...engine.takeChanges()];
    assert.equal(changes.filter((c) => c.state !== null).length, 10_000, 'the tracked ones are reported');
    assert.deepEqual(changes.filter((c) => c.state === null).map((c) => c.address), Array.from({ length: 10_000 }, (_, i) => address(i)),
      'the evicted ones written before are reported deleted; those evicted before they were ever written had no row');
    // The newest is still counted (two more ban it), the oldest was forgotten (two more do not).
    await fail(address(99_999), clock.at);
    assert.equal((await fail(address(99_999), clock.at)).length, 1);
    await fail(address(0), clock.at);
    assert.deepEqual(await fail(address(0), clock.at), []);
  });

  it('forgets the address that failed least recently, not the one tracked first', async () => {
    const { fail, clock } = setup({ maxTracked: 3 });
    for (const a of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.1', '203.0.113.4']) await fail(a, clock.at);
    // .1 failed again after .2 and .3: .2 is the one forgotten when .4 comes.
    assert.equal((await fail('203.0.113.1', clock.at)).length, 1);
    await fail('203.0.113.2', clock.at);
    assert.deepEqual(await fail('203.0.113.2', clock.at), []);
    // At the cap the order follows each failure: .3, tracked before .4, failed again since, so .4 goes when .5 comes.
    await fail('203.0.113.3', clock.at);
    await fail('203.0.113.5', clock.at);
    assert.equal((await fail('203.0.113.3', clock.at)).length, 1);
    await fail('203.0.113.4', clock.at);
    assert.deepEqual(await fail('203.0.113.4', clock.at), []);
  });

  it('stays within the default cap, at about 1 KiB per tracked address', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { engine, clock } = setup({ maxretry: 5 });
    gc();
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < DEFAULT_MAX_TRACKED + 20_000; i++) await engine.add(sshdFailure(address(i), clock.at));
    engine.takeChanges();
    assert.equal(engine.counts().currentlyFailed, DEFAULT_MAX_TRACKED);
    gc();
    const grown = (process.memoryUsage().heapUsed - heap) / 2 ** 20;
    assert.ok(grown < 100, `heap grew ${grown.toFixed(0)} MiB for ${DEFAULT_MAX_TRACKED} tracked addresses`);
  });
});

describe('JailEngine: persisted counters', () => {
  it('snapshot and restore carry the counting over a restart', async () => {
    const first = setup();
    await first.fail('203.0.113.5', T0);
    await first.fail('203.0.113.5', T0 + 10);
    await first.fail('2001:db8::7', T0 + 20);
    // What the store would keep: plain strings.
    const stored = JSON.parse(JSON.stringify([...first.engine.snapshot()])) as [string, string][];
    assert.deepEqual(stored.map(([address]) => address).sort(), ['2001:db8::7', '203.0.113.5']);

    const second = setup();
    second.clock.at = T0 + 100;
    assert.equal(second.engine.restore(stored), 2);
    assert.deepEqual(second.engine.counts(), { currentlyFailed: 2, totalFailed: 0 });
    const [ban] = await second.fail('203.0.113.5', T0 + 120);
    assert.ok(ban, 'the failure straddling the restart bans');
    assert.equal(ban.failures, 3);
    assert.equal(ban.matches.length, 3);
    assert.deepEqual(await second.fail('2001:db8::7', T0 + 120), []);
    assert.equal((await second.fail('2001:db8::7', T0 + 121)).length, 1);
  });

  it('reports changed counters in the store\'s form, and drops stale or damaged rows on restore', async () => {
    const { engine, fail, clock } = setup();
    await fail('203.0.113.5', T0);
    await fail('198.51.100.7', T0);
    const changes = [...engine.takeChanges()];
    assert.deepEqual(changes.map((c) => [c.jail, c.address]).sort(), [['sshd', '198.51.100.7'], ['sshd', '203.0.113.5']]);
    assert.deepEqual([...engine.takeChanges()], [], 'nothing changed since');
    await fail('203.0.113.5', T0 + 1);
    await fail('203.0.113.5', T0 + 2);
    assert.deepEqual([...engine.takeChanges()], [{ jail: 'sshd', address: '203.0.113.5', state: null }], 'banned: its row goes');

    const later = setup();
    later.clock.at = clock.at + 601;
    const rows: [string, string][] = [
      ...changes.map((c): [string, string] => [c.address, c.state ?? '']),
      ['203.0.113.9', '{"t":"nonsense"}'],
      ['not-an-address', '{"t":[1],"m":[]}'],
    ];
    assert.equal(later.engine.restore(rows), 0);
    assert.deepEqual([...later.engine.takeChanges()].map((c) => [c.address, c.state]).sort(), [
      ['198.51.100.7', null], ['203.0.113.5', null], ['203.0.113.9', null], ['not-an-address', null],
    ]);
  });
});

describe('JailEngine: what the counters persist', () => {
  const stateOf = (engine: JailEngine, address: string): unknown => {
    const change = [...engine.takeChanges()].find((c) => c.address === address);
    return change && (change.state === null ? null : JSON.parse(change.state));
  };

  it('writes nothing for an address counted and banned between two commits: it never had a row', async () => {
    const { engine, fail } = setup();
    await fail('203.0.113.5', T0);
    await fail('203.0.113.5', T0 + 1);
    assert.equal((await fail('203.0.113.5', T0 + 2)).length, 1);
    assert.deepEqual([...engine.takeChanges()], []);
  });

  it('keeps no lines of an address banned in the jail, in memory or stored; its times are persisted, and a restart counts them once', async () => {
    const banned = new Set<string>();
    const first = setup({}, { banned: (address) => banned.has(address) });
    await first.fail('203.0.113.5', T0);
    assert.deepEqual((stateOf(first.engine, '203.0.113.5') as { m: string[] }).m.length, 1, 'not banned: its line is persisted');
    banned.add('203.0.113.5');
    await first.fail('203.0.113.5', T0 + 1);
    const row = [...first.engine.takeChanges()].find((c) => c.address === '203.0.113.5');
    assert.deepEqual(JSON.parse(row?.state ?? 'null'), { t: [T0, T0 + 1], m: [] }, 'banned: times only');

    const inMemory = await first.fail('203.0.113.5', T0 + 2);
    assert.deepEqual(inMemory, [], 'banned here: nothing decided');
    banned.clear();
    await first.fail('203.0.113.9', T0 + 3);
    await first.fail('203.0.113.9', T0 + 4);
    const [unrestarted] = await first.fail('203.0.113.9', T0 + 5);
    assert.equal(unrestarted?.matches.length, 3, 'without a restart every line is kept');
    await first.fail('203.0.113.7', T0 + 6);
    banned.add('203.0.113.7');
    await first.fail('203.0.113.7', T0 + 7);
    banned.delete('203.0.113.7');
    const [lifted] = await first.fail('203.0.113.7', T0 + 8);
    assert.deepEqual(lifted?.failureTimes, [T0 + 6, T0 + 7, T0 + 8], 'a failure while banned counts');
    assert.equal(lifted?.matches.length, 2, 'but its line is not kept');

    const second = setup();
    second.clock.at = T0 + 10;
    assert.equal(second.engine.restore([['203.0.113.5', row?.state ?? '']]), 1);
    const [ban] = await second.fail('203.0.113.5', T0 + 10);
    assert.ok(ban, 'the two persisted failures and a new one ban');
    assert.equal(ban.failures, 3);
    assert.deepEqual(ban.failureTimes, [T0, T0 + 1, T0 + 10]);
    assert.equal(ban.matches.length, 1, 'after the restart, only the lines read since');
  });
});

describe('JailEngine: bantime.increment with the ban history', () => {
  const increment = { enabled: true, factor: 1, overalljails: false };

  it('bans a repeat offender longer, by the default formula', async () => {
    const { fail } = setup({ increment });
    const lengths: (number | null)[] = [];
    for (let round = 0; round < 4; round++) {
      const t = T0 + round * 10_000;
      await fail('203.0.113.5', t);
      await fail('203.0.113.5', t + 1);
      const [ban] = await fail('203.0.113.5', t + 2);
      assert.ok(ban, `round ${round} bans`);
      lengths.push(ban.expiresAt === null ? null : ban.expiresAt - ban.bannedAt);
    }
    assert.deepEqual(lengths, [600, 1200, 2400, 4800]);
  });

  it('counts bans in other jails only with overalljails', async () => {
    for (const overalljails of [false, true]) {
      const { fail, history } = setup({ increment: { ...increment, overalljails } });
      history.bans.push({ address: '203.0.113.5', jail: 'recidive', source: 'filter', bannedAt: T0 - 5000, expiresAt: T0 - 4000, failures: 5, matches: [], failureTimes: [] });
      await fail('203.0.113.5', T0);
      await fail('203.0.113.5', T0 + 1);
      const [ban] = await fail('203.0.113.5', T0 + 2);
      assert.equal(ban && ban.expiresAt !== null ? ban.expiresAt - ban.bannedAt : undefined, overalljails ? 1200 : 600, `overalljails ${overalljails}`);
    }
  });

  it('leaves permanent bans permanent', async () => {
    const { fail } = setup({ bantime: null, increment });
    let bans: BanDecision[] = [];
    for (let i = 0; i < 3; i++) bans = await fail('203.0.113.5', T0 + i);
    assert.equal(bans[0]?.expiresAt, null);
  });
});

describe('JailEngine: options', () => {
  it('refuses bad options with one line naming the jail and the value', () => {
    const cases: [Partial<JailEngineOptions>, RegExp][] = [
      [{ maxretry: 0 }, /^jail sshd: maxretry must be a whole number of at least 1, not 0$/],
      [{ findtime: -1 }, /^jail sshd: findtime must be a positive number of seconds, not -1$/],
      [{ maxmatches: 1.5 }, /^jail sshd: maxmatches/],
      [{ increment: { enabled: true, factor: 1, overalljails: false, formula: 'ban.Time + os' } }, /^jail sshd: bantime.formula "ban.Time \+ os": unknown name "os"/],
      [{ ignoreip: ['127.0.0.1/8 10.0.0.300'] }, /^jail sshd: ignoreip: "10.0.0.300" is not an address, a CIDR or a host name$/],
      [{ ignorecommand: '/usr/bin/check <F-USER>' }, /^jail sshd: ignorecommand "\/usr\/bin\/check <F-USER>": unsupported tag <F-USER>/],
      [{ jail: 'bad jail' }, /bad jail name "bad jail"/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => setup(options), (error: unknown) => error instanceof InputError && message.test(error.message) && !error.message.includes('\n'), JSON.stringify(options));
    }
  });
});

describe('JailEngine: the lockout floor', () => {
  const lockout = lockoutCheck([parseAddress('10.99.0.2')]);
  /** A host as a filter's <SUBNET> captures it: an address and a prefix length. */
  const subnet = (text: string): FailureHost => {
    const [value, bits] = text.split('/') as [string, string | undefined];
    return { kind: value.includes(':') ? 'ip6' : 'ip4', value, ...(bits === undefined ? {} : { cidr: Number(bits) }) };
  };

  it('never bans what the floor refuses, counts none of its failures, and says why once per findtime', async () => {
    const logged: string[] = [];
    const { fail, engine, clock } = setup({}, { lockout, log: (m) => logged.push(m) });
    for (const ip of ['128.0.0.0/2', '2000::/3', '10.0.0.0/8', '10.99.0.2']) {
      for (let i = 0; i < 7; i++) assert.deepEqual(await fail(ip, T0 + i, subnet(ip)), [], `${ip} is never banned`);
    }
    assert.deepEqual(engine.counts(), { currentlyFailed: 0, totalFailed: 0 });
    assert.deepEqual(logged, [
      'not banning 128.0.0.0/2: 128.0.0.0/2 is wider than /8 (the lockout floor, [lockout] in f2b-store.conf); its failures are not counted (said once per findtime)',
      'not banning 2000::/3: 2000::/3 is wider than /32 (the lockout floor, [lockout] in f2b-store.conf); its failures are not counted (said once per findtime)',
      'not banning 10.0.0.0/8: 10.0.0.0/8 contains 10.99.0.2, an address of this host (the lockout floor, [lockout] in f2b-store.conf); its failures are not counted (said once per findtime)',
      'not banning 10.99.0.2: 10.99.0.2 is an address of this host (the lockout floor, [lockout] in f2b-store.conf); its failures are not counted (said once per findtime)',
    ]);
    clock.at = T0 + 601;
    await fail('128.0.0.0/2', T0 + 601, subnet('128.0.0.0/2'));
    assert.equal(logged.length, 5, 'said again once findtime has passed');
    const bans = [];
    for (let i = 0; i < 3; i++) bans.push(...await fail('10.98.0.0/16', T0 + 602 + i, subnet('10.98.0.0/16')));
    assert.deepEqual(bans.map((b) => b.address), ['10.98.0.0/16'], 'what the floor allows is banned as usual');
  });
});
