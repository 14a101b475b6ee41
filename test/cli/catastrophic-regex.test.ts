import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAIL2BAN_FILTER_DIR } from '../../src/config/index.js';
import { BIN, runCli, tempDir } from '../helpers/cli.js';

/** fail2ban's own exim filter, by its path: `filter = exim` names the one f2b-store ships. */
const FAIL2BAN_EXIM = join(FAIL2BAN_FILTER_DIR, 'exim.conf');

/** The failregex of the report: 14 s on a 28-character line in fail2ban, doubling per character. */
const SLOW = String.raw`^\s*login failed for (\w+\s?)+ from <HOST>$`;
const REFUSAL = /^f2b-store: .*\/filter\.d\/slow\.conf:3: failregex '.*': nested quantifier \(\?:\\w\+\\s\?\)\+ can backtrack exponentially: .*rewrite it.*\n$/;

describe('a filter that can backtrack catastrophically is refused at load (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    mkdirSync(join(config, 'filter.d'), { recursive: true });
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = none\n');
    writeFileSync(join(config, 'filter.d', 'slow.conf'), `[Definition]\n\nfailregex = ${SLOW}\n`);
    writeFileSync(join(config, 'jail.local'), `[slow]\nenabled = true\nfilter = slow\nlogpath = ${join(tmp.dir, 'app.log')}\n`);
    writeFileSync(join(tmp.dir, 'app.log'), '');
  });
  after(() => tmp.cleanup());

  it('check exits 2 naming the file, line and the nested quantifier', () => {
    const result = runCli(['--config', config, 'check']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, REFUSAL);
  });

  it('test-filter exits 2 the same way, before reading any line', () => {
    const result = runCli(['--config', config, 'test-filter', 'login failed for aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', 'slow']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, REFUSAL);
  });

  it('start exits 2 the same way instead of running with it', () => {
    const result = spawnSync(process.execPath, [BIN, '--config', config, '--db', join(tmp.dir, 'bans.sqlite3'), 'start'], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, F2B_STORE_CONFIG: config },
    });
    assert.equal(result.status, 2, `exit ${result.status} (${result.signal ?? 'no signal'}): ${result.stderr}`);
    assert.match(result.stderr, REFUSAL);
  });

  it('fail2ban\'s own exim filter still loads, with a warning naming its regex', () => {
    const exim = join(tmp.dir, 'exim');
    mkdirSync(exim);
    writeFileSync(join(exim, 'jail.local'), `[exim]\nenabled = true\nfilter = ${FAIL2BAN_EXIM}\nlogpath = ${join(tmp.dir, 'app.log')}\n`);
    const result = runCli(['--config', exim, 'check']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^configuration OK .*: exim\n$/);
    assert.match(result.stderr, /^f2b-store: warning: \/etc\/fail2ban\/filter\.d\/exim\.conf:24: failregex .*nested quantifier \(\?:"\+\[\^"\]\*\(\?="\)\)\*\? can backtrack exponentially.*fail2ban's own filter: loaded as it ships\)\n$/);
  });
});
