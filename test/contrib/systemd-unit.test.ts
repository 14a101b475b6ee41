import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { DEFAULT_STORE_CONFIG } from '../../src/config/index.js';

const UNIT = fileURLToPath(new URL('../../contrib/f2b-store.service', import.meta.url));

function settings(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) found.set(m[1]!, m[2]!);
  }
  return found;
}

describe('contrib/f2b-store.service', () => {
  const unit = settings(readFileSync(UNIT, 'utf8'));

  it('is a valid unit for systemd', () => {
    execFileSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  });

  it('keeps only the capabilities f2b-store needs, on a read-only system', () => {
    assert.equal(unit.get('CapabilityBoundingSet'), 'CAP_DAC_READ_SEARCH CAP_NET_ADMIN CAP_NET_RAW');
    assert.equal(unit.get('ProtectSystem'), 'strict');
    assert.equal(unit.get('NoNewPrivileges'), 'yes');
    assert.match(unit.get('ReadWritePaths') ?? '', /-\/etc\/hosts\.deny/);
  });

  it('writes where the defaults point: the database in its StateDirectory, the ban log in its LogsDirectory', () => {
    assert.equal(dirname(DEFAULT_STORE_CONFIG.dbfile), `/var/lib/${unit.get('StateDirectory')}`);
    assert.equal(dirname(DEFAULT_STORE_CONFIG.logFile), `/var/log/${unit.get('LogsDirectory')}`);
  });

  it('follows the firewall services: a restart of theirs restarts it, a reload reloads it (SIGHUP)', () => {
    assert.equal(unit.get('PartOf'), 'nftables.service firewalld.service');
    assert.equal(unit.get('ReloadPropagatedFrom'), 'nftables.service firewalld.service');
    assert.equal(unit.get('ExecReload'), '/bin/kill -HUP $MAINPID');
  });
});
