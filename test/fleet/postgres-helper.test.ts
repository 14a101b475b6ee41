import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { createPostgres } from '../helpers/postgres.js';

test('a throw-away cluster answers on its socket only, and is gone after remove', async () => {
  const cluster = createPostgres();
  try {
    assert.equal(cluster.psql('SHOW listen_addresses').trim(), '');
    const client = new pg.Client({ connectionString: cluster.url() });
    await client.connect();
    const { rows } = await client.query<{ version: string }>('SELECT current_setting(\'server_version_num\') AS version');
    await client.end();
    assert.match(rows[0]?.version ?? '', /^15/);
  } finally {
    cluster.remove();
  }
  assert.equal(existsSync(cluster.socketDir), false);
});
