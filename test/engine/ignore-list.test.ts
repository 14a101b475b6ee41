import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hostAddresses } from '../../src/core/index.js';
import { COMMAND_TTL, JailEngine, NAME_TTL, parseIgnoreCommand, type BanDecision, type EngineDeps, type JailEngineOptions } from '../../src/engine/index.js';
import type { Failure, FailureHost } from '../../src/filter/index.js';
import { SSHD_ENGINE, T0 } from '../helpers/engine-jail.js';

function hostOf(ip: string): FailureHost {
  return { kind: ip.includes(':') ? 'ip6' : 'ip4', value: ip };
}

function failure(host: FailureHost, time: number): Failure {
  return { regex: 0, host, time, captures: {}, lines: [`sshd[1]: Failed password for root from ${host.value} port 22 ssh2`] };
}

function setup(options: Partial<JailEngineOptions>, deps: Partial<EngineDeps> = {}) {
  const clock = { at: T0 };
  const logged: string[] = [];
  const engine = new JailEngine({ ...SSHD_ENGINE, ...options }, { now: () => clock.at, previousBans: () => 0, log: (m) => logged.push(m), ...deps });
  /** Sends maxretry failures of `host` within a few seconds; returns the bans. */
  const attack = async (host: FailureHost | string): Promise<BanDecision[]> => {
    const bans: BanDecision[] = [];
    for (let i = 0; i < SSHD_ENGINE.maxretry; i++) bans.push(...(await engine.add(failure(typeof host === 'string' ? hostOf(host) : host, clock.at))));
    return bans;
  };
  return { engine, attack, clock, logged };
}

const banned = async (attack: (host: string) => Promise<BanDecision[]>, ip: string): Promise<boolean> => (await attack(ip)).length > 0;

describe('ignoreip', () => {
  it('never bans a listed address or an address inside a listed network', async () => {
    const { attack } = setup({ ignoreip: ['203.0.113.5', '198.51.100.0/24, 2001:DB8:0:1::/64'] });
    for (const ip of ['203.0.113.5', '198.51.100.77', '2001:db8:0:1::beef', '::ffff:198.51.100.9']) assert.equal(await banned(attack, ip), false, ip);
    for (const ip of ['203.0.113.6', '2001:db8:0:2::1']) assert.equal(await banned(attack, ip), true, ip);
  });

  it('never bans a network that holds an ignored address', async () => {
    const { attack } = setup({ ignoreip: ['203.0.113.5'] });
    assert.deepEqual(await attack({ kind: 'ip4', value: '203.0.113.0', cidr: 24 }), []);
    assert.equal((await attack({ kind: 'ip4', value: '198.51.100.0', cidr: 24 })).length, 1);
  });

  it('looks names up, caches them for NAME_TTL, and looks again after', async () => {
    const asked: string[] = [];
    let office = ['203.0.113.9'];
    const resolve = async (name: string) => {
      asked.push(name);
      return name === 'office.example.org' ? office : [];
    };
    const { attack, clock } = setup({ ignoreip: ['office.example.org'] }, { resolve });
    assert.equal(await banned(attack, '203.0.113.9'), false);
    assert.equal(await banned(attack, '203.0.113.10'), true);
    assert.deepEqual(asked, ['office.example.org'], 'looked up once');
    office = ['203.0.113.10'];
    clock.at += NAME_TTL + 1;
    assert.equal(await banned(attack, '203.0.113.9'), true, 'the office moved: its old address is fair game');
    assert.equal(await banned(attack, '203.0.113.10'), false);
    assert.equal(asked.length, 2);
  });

  it('resolves names with the system resolver by default: localhost', async () => {
    const { attack } = setup({ ignoreip: ['localhost'] });
    assert.equal(await banned(attack, '127.0.0.1'), false);
    const plain = setup({});
    assert.equal(await banned(plain.attack, '127.0.0.1'), true, 'without the entry (and ignoreself off) it would be banned');
  });

  it('ignores nothing for a name that does not resolve, and says so', async () => {
    const { attack, logged } = setup({ ignoreip: ['nothing-here.invalid'] });
    assert.equal(await banned(attack, '203.0.113.9'), true);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /^sshd: ignoreip nothing-here\.invalid could not be looked up: /);
  });
});

describe('ignoreself', () => {
  const own = hostAddresses();

  it('never bans an address of this host (or loopback)', async () => {
    assert.ok(own.some((a) => !a.text.startsWith('127.') && a.text !== '::1'), `this host has an address besides loopback: ${own.map((a) => a.text).join(', ')}`);
    const { attack } = setup({ ignoreself: true });
    for (const address of [...own, { text: '127.0.1.1' }]) assert.equal(await banned(attack, address.text), false, address.text);
    assert.equal(await banned(attack, '203.0.113.5'), true);
  });

  it('is what protects them: with ignoreself off they are banned like any other', async () => {
    const { attack } = setup({ ignoreself: false });
    for (const address of own) assert.equal(await banned(attack, address.text), true, address.text);
  });
});

describe('ignorecommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-engine-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const calls = join(dir, 'calls');
  const script = join(dir, 'allowlist');
  // Records its arguments, ignores 203.0.113.5, fails for 203.0.113.66.
  writeFileSync(script, `#!/bin/sh\nprintf '%s|' "$@" >> '${calls}'\necho >> '${calls}'\n[ "$1" = 203.0.113.66 ] && exit 7\n[ "$1" = 203.0.113.5 ]\n`);
  chmodSync(script, 0o755);
  const callLines = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l !== '') : []);

  it('ignores an address when the command exits 0', async () => {
    const { attack } = setup({ ignorecommand: `/bin/sh -c 'test "$1" = 203.0.113.5' sh <ip>` });
    assert.equal(await banned(attack, '203.0.113.5'), false);
    assert.equal(await banned(attack, '203.0.113.6'), true);
  });

  it('gets the canonical address and its tags as separate arguments, once per address while cached', async () => {
    rmSync(calls, { force: true });
    const { attack, clock } = setup({ ignorecommand: `${script} <ip> <family> "<ip-rev>" --jail=sshd` });
    assert.equal(await banned(attack, '203.0.113.5'), false);
    assert.equal(await banned(attack, '2001:DB8:0:0::7'), true);
    assert.deepEqual(callLines(), [
      '203.0.113.5|inet4|5.113.0.203.|--jail=sshd|',
      `2001:db8::7|inet6|7.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.|--jail=sshd|`,
    ]);
    clock.at += COMMAND_TTL + 1;
    assert.equal(await banned(attack, '203.0.113.5'), false);
    assert.equal(callLines().length, 3, 'asked again once the answer is COMMAND_TTL old');
  });

  it('does not ignore when the command fails, and says so', async () => {
    const { attack, logged } = setup({ ignorecommand: `${script} <ip>` });
    assert.equal(await banned(attack, '203.0.113.66'), true);
    assert.deepEqual(logged, ['sshd: ignorecommand for 203.0.113.66 exited with 7; not ignored']);
    const missing = setup({ ignorecommand: `${join(dir, 'no-such-command')} <ip>` });
    assert.equal(await banned(missing.attack, '203.0.113.5'), true);
    assert.match(missing.logged[0] ?? '', /^sshd: ignorecommand for 203\.0\.113\.5 failed: .*ENOENT.*; not ignored$/);
  });

  it('never hands text from a log line to the command: only validated addresses reach it', async () => {
    rmSync(calls, { force: true });
    const marker = join(dir, 'pwned');
    const { attack } = setup({ ignorecommand: `/bin/sh -c '${script} <ip>'`, usedns: 'yes' });
    const hostile: FailureHost[] = [
      { kind: 'fid', value: `203.0.113.5; touch ${marker}` },
      { kind: 'fid', value: `$(touch ${marker})` },
      { kind: 'dns', value: `x$(touch ${marker}).example` },
      { kind: 'ip4', value: `203.0.113.5'; touch ${marker}; '` },
    ];
    for (const host of hostile) assert.deepEqual(await attack(host), [], host.value);
    assert.equal(existsSync(marker), false, 'no shell ran the injected text');
    assert.deepEqual(callLines(), [], 'the command never ran: none of them is an address');
  });

  it('refuses commands it cannot run safely', () => {
    assert.throws(() => parseIgnoreCommand('/usr/local/bin/check <F-USER>'), /unsupported tag <F-USER>/);
    assert.throws(() => parseIgnoreCommand('/usr/local/bin/check "<ip>'), /unclosed "/);
    assert.deepEqual(parseIgnoreCommand(`/bin/check 'a b' "c\\"d" e\\ f <ip>`)({ text: '203.0.113.5', family: 4, prefix: 32, isNetwork: false }), [
      '/bin/check', 'a b', 'c"d', 'e f', '203.0.113.5',
    ]);
  });
});
