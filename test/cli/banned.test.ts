import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

describe('banned: which jails hold these addresses (fail2ban-client banned)', () => {
  const tmp = tempDir();
  const cli = (...args: string[]) => runCli(['--db', join(tmp.dir, 'bans.sqlite3'), '--backend', 'none', ...args]);
  before(() => {
    assert.equal(cli('ban', '203.0.113.1', '198.51.100.0/24').code, 0);
    assert.equal(cli('ban', '203.0.113.1', '--jail', 'sshd').code, 0);
    assert.equal(cli('ban', '203.0.113.2', '--jail', 'sshd').code, 0);
    assert.equal(cli('unban', '203.0.113.2').code, 0);
  });
  after(tmp.cleanup);

  it('names each address\'s jails, a network that holds it, and the ones not banned', () => {
    const result = cli('banned', '203.0.113.1', '198.51.100.7', '203.0.113.2');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '203.0.113.1: manual, sshd\n198.51.100.7: manual (198.51.100.0/24)\n203.0.113.2: not banned\n');
    assert.deepEqual(JSON.parse(cli('--json', 'banned', '198.51.100.7').stdout), [{ address: '198.51.100.7', bans: [{ jail: 'manual', address: '198.51.100.0/24' }] }]);
  });

  it('without addresses lists every jail\'s active bans', () => {
    assert.equal(cli('banned').stdout, 'manual: 198.51.100.0/24 203.0.113.1\nsshd: 203.0.113.1\n');
    assert.deepEqual(JSON.parse(cli('--json', 'banned').stdout), { manual: ['198.51.100.0/24', '203.0.113.1'], sshd: ['203.0.113.1'] });
  });

  it('a bad address is bad input', () => {
    const result = cli('banned', '203.0.113.1', 'x');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /argument 2: not an IP address or CIDR: "x"/);
  });
});
