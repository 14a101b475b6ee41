import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadStoreConfig, storeConfigWarnings } from '../../src/config/index.js';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { InputError } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

describe('[fleet] in f2b-store.conf', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());
  const load = (text: string): ReturnType<typeof loadStoreConfig> => {
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), text);
    return loadStoreConfig(tmp.dir, BACKEND_CATALOG);
  };

  it('no section, no fleet', () => {
    assert.equal('fleet' in load('[store]\ndbfile = /a.sqlite3\n'), false);
  });

  it('a URL alone: the host name as node, every jail shared and accepted, schema f2b_store', () => {
    assert.deepEqual(load('[fleet]\nurl = postgresql://mail1@db.example/fleet?sslmode=verify-full\n').fleet, {
      url: 'postgresql://mail1@db.example/fleet?sslmode=verify-full', node: hostname(), share: 'all', accept: 'all', schema: 'f2b_store',
      poll: 15, forgetAfter: null,
    });
  });

  it('parts, a password file, TLS and jail lists', () => {
    assert.deepEqual(load([
      '[fleet]', 'host = db.example', 'port = 6432', 'dbname = fleet', 'user = mail1', 'passwordfile = /etc/f2b-store/fleet.pass',
      'sslmode = verify-full', 'sslrootcert = /etc/ssl/fleet-ca.pem', 'node = mail1', 'share = sshd, manual', 'accept = sshd postfix', 'schema = bans',
      'poll = 1m', 'forgetafter = 30d', '',
    ].join('\n')).fleet, {
      url: '', host: 'db.example', port: 6432, dbname: 'fleet', user: 'mail1', passwordFile: '/etc/f2b-store/fleet.pass',
      sslmode: 'verify-full', sslrootcert: '/etc/ssl/fleet-ca.pem', node: 'mail1', share: ['sshd', 'manual'], accept: ['sshd', 'postfix'], schema: 'bans',
      poll: 60, forgetAfter: 30 * 86_400,
    });
  });

  for (const [text, message] of [
    ['[fleet]\nnode = a\n', /f2b-store.conf \[fleet\]: needs url/],
    ['[fleet]\nurl = mysql://x\n', /"mysql:\/\/x" is no libpq URL/],
    ['[fleet]\nhost = h\nport = 99999\n', /\[fleet\] port: "99999" is no port/],
    ['[fleet]\nhost = h\nsslmode = maybe\n', /"maybe" is no sslmode/],
    ['[fleet]\nhost = h\nschema = Bad-Name\n', /"Bad-Name" is no schema name/],
    ['[fleet]\nhost = h\nnode = two words\n', /"two words" is no node name/],
    ['[fleet]\nhost = h\nshare = sshd, all\n', /"all" is no jail name/],
    ['[fleet]\nhost = h\npoll = soon\n', /\[fleet\] poll: bad duration "soon"/],
    ['[fleet]\nhost = h\nforgetafter = 2h\n', /\[fleet\] forgetafter: "2h" is less than a day/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => load(text), (e: unknown) => e instanceof InputError && message.test(e.message));
    });
  }

  it('an unknown key in [fleet] is warned of, with a did-you-mean', () => {
    writeFileSync(join(tmp.dir, 'f2b-store.conf'), '[fleet]\nurl = postgresql://h/db\nacept = sshd\n');
    assert.deepEqual(storeConfigWarnings(tmp.dir), [`${join(tmp.dir, 'f2b-store.conf')}:3: unknown key "acept" in [fleet] (did you mean accept?): ignored`]);
  });
});
