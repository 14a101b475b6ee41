import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { createPostgres, type PostgresCluster } from '../helpers/postgres.js';

describe('f2b-store fleet init and fleet status', () => {
  let cluster: PostgresCluster;
  let tmp: ReturnType<typeof tempDir>;
  const cli = (config: string, ...args: string[]) => runCli(['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, ...args]);
  let configs = 0;
  const configDir = (fleet: string): string => {
    const dir = join(tmp.dir, `etc${++configs}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'f2b-store.conf'), `[daemon]\nlogfile =\n${fleet}`);
    return dir;
  };
  before(() => {
    cluster = createPostgres();
    tmp = tempDir();
    runCli(['--db', join(tmp.dir, 'bans.sqlite3'), '--backend', 'none', 'ban', '203.0.113.1']);
  });
  after(() => {
    cluster.remove();
    tmp.cleanup();
  });

  it('init makes the tables, then finds them up to date', () => {
    const config = configDir(`[fleet]\nurl = ${cluster.url()}\nnode = mail1\nschema = bans\n`);
    const first = cli(config, '--json', 'fleet', 'init');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { from: 0, to: 2, applied: ['001_events.sql', '002_row_security.sql'] });
    assert.match(cli(config, 'fleet', 'init').stdout, /: the fleet's tables are up to date \(version 2\)\n$/);
    const status = cli(config, '--json', 'fleet', 'status');
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual((({ reachable, node, hosts, pushBacklog, pulledUpTo }) => ({ reachable, node, hosts, pushBacklog, pulledUpTo }))(
      JSON.parse(status.stdout) as Record<string, unknown>), { reachable: true, node: 'mail1', hosts: [], pushBacklog: 1, pulledUpTo: null }, 'not joined yet: its first push shares the active ban');
  });

  it('fleet forget deletes a departed host\'s row; an unknown one, or this host, is a one-line error (exit 2)', () => {
    const config = configDir(`[fleet]\nurl = ${cluster.url()}\nnode = mail1\nschema = forget\n`);
    assert.equal(cli(config, 'fleet', 'init').code, 0);
    cluster.psql('INSERT INTO forget.hosts (node) VALUES (\'mail1\'), (\'mail2\')');
    const forgot = cli(config, 'fleet', 'forget', 'mail2');
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.match(forgot.stdout, /: forgot mail2\n$/);
    assert.equal(cluster.psql('SELECT string_agg(node, \',\') FROM forget.hosts').trim(), 'mail1');
    const again = cli(config, 'fleet', 'forget', 'mail2');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^f2b-store: no host "mail2" in the fleet .* forget: fleet status lists them\n$/);
    const self = cli(config, 'fleet', 'forget', 'mail1');
    assert.equal(self.code, 2);
    assert.match(self.stderr, /^f2b-store: "mail1" is this host: run fleet forget on another host of the fleet\n$/);
    assert.match(cli(config, 'fleet', 'forget', '--help').stdout, /pruning no longer waits for it/);
  });

  it('PostgreSQL unreachable: status says so (exit 0), init fails with one line (exit 1)', () => {
    const config = configDir(`[fleet]\nhost = ${join(tmp.dir, 'no-server')}\nuser = mail1\ndbname = fleet\nnode = mail1\n`);
    const status = cli(config, '--json', 'fleet', 'status');
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { reachable: boolean; error: string };
    assert.equal(report.reachable, false);
    assert.match(report.error, /^PostgreSQL at .*no-server:5432\/fleet f2b_store is unreachable: /);
    assert.match(cli(config, 'fleet', 'status').stdout, /^PostgreSQL: unreachable: /m);
    const init = cli(config, 'fleet', 'init');
    assert.equal(init.code, 1);
    assert.match(init.stderr, /^f2b-store: PostgreSQL at .* is unreachable: .*\n$/);
  });

  it('status has one line on the fleet, from the database alone; none without [fleet]', () => {
    const config = configDir(`[fleet]\nhost = ${join(tmp.dir, 'no-server')}\nnode = mail1\n`);
    const text = cli(config, '--backend', 'none', 'status');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\nfleet: node mail1, 1 change waiting to be pushed, never pulled \(f2b-store fleet status asks PostgreSQL\)\n$/);
    assert.deepEqual((JSON.parse(cli(config, '--backend', 'none', '--json', 'status').stdout) as { fleet: unknown }).fleet,
      { node: 'mail1', pushBacklog: 1, pulledUpTo: null });
    assert.doesNotMatch(cli(configDir(''), '--backend', 'none', 'status').stdout, /fleet/);
  });

  it('no [fleet]: a one-line error, exit 2', () => {
    const result = cli(configDir(''), 'fleet', 'status');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no \[fleet\] in .*f2b-store\.conf: add \[fleet\] url = /);
  });
});
