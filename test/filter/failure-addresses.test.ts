import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureAddresses } from '../../src/filter/index.js';

describe('failureAddresses: what a failure host blocks', () => {
  it('an address is itself, canonical, with its captured CIDR', async () => {
    assert.deepEqual(await failureAddresses({ kind: 'ip4', value: '203.0.113.7' }, 'warn'), ['203.0.113.7']);
    assert.deepEqual(await failureAddresses({ kind: 'ip6', value: '2001:DB8:0::1' }, 'no'), ['2001:db8::1']);
    assert.deepEqual(await failureAddresses({ kind: 'ip4', value: '203.0.113.7', cidr: 24 }, 'warn'), ['203.0.113.0/24']);
  });

  it('a failure id is an address only when it is one', async () => {
    assert.deepEqual(await failureAddresses({ kind: 'fid', value: '198.51.100.4' }, 'warn'), ['198.51.100.4']);
    assert.deepEqual(await failureAddresses({ kind: 'fid', value: 'user@example.org' }, 'yes'), []);
  });

  it('a name is looked up with yes and warn only; one that does not resolve blocks nothing', async () => {
    const localhost = await failureAddresses({ kind: 'dns', value: 'localhost' }, 'yes');
    assert.ok(localhost.includes('127.0.0.1'), `localhost: ${localhost.join(', ')}`);
    assert.deepEqual(await failureAddresses({ kind: 'dns', value: 'localhost' }, 'raw'), []);
    assert.deepEqual(await failureAddresses({ kind: 'dns', value: 'localhost' }, 'no'), []);
    assert.deepEqual(await failureAddresses({ kind: 'dns', value: 'no-such-host.invalid' }, 'warn'), []);
  });
});
