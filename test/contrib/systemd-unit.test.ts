import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_STORE_CONFIG } from '../../src/config/index.js';
import { BIN, runCli, tempDir } from '../helpers/cli.js';
import { waitForLogged } from '../helpers/daemon.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { parseUnit, startSandboxed, type SandboxedService } from '../helpers/unit-sandbox.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = join(ROOT, 'contrib', 'f2b-store.service');
const INSTALL = join(ROOT, 'contrib', 'install-unit');

/** What the built binary reads at run time, below the package's root. */
const RUNTIME = ['package.json', 'dist', 'schema', 'config', 'filters', 'actions', 'contrib', 'node_modules/bindings', 'node_modules/file-uri-to-path',
  'node_modules/better-sqlite3/package.json', 'node_modules/better-sqlite3/lib', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'];

/**
 * This package where the unit's service can run it: itself, or — when this checkout lives under
 * /tmp or /var/tmp, which PrivateTmp= hides and install-unit refuses — a copy of what it runs
 * with, under /run.
 */
function runnablePackage(): { root: string; cleanup: () => void } {
  if (!/^\/(var\/)?tmp\//.test(ROOT)) return { root: ROOT, cleanup: () => undefined };
  const root = mkdtempSync('/run/f2bt-package-');
  chmodSync(root, 0o755);
  for (const path of RUNTIME) cpSync(join(ROOT, path), join(root, path), { recursive: true, dereference: true });
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function settings(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) found.set(m[1]!, m[2]!);
  }
  return found;
}

function verify(unit: string): void {
  execFileSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('contrib/f2b-store.service', () => {
  const unit = settings(readFileSync(UNIT, 'utf8'));

  it('is a valid unit for systemd', () => verify(UNIT));

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

  it('is started again after a failure: how it reaches a hosts.deny replaced on the host', () => {
    assert.equal(unit.get('Restart'), 'on-failure');
  });

  it('runs node with the main thread\'s young generation held small and its collector on the thread, which only node\'s command line sets', () => {
    assert.match(unit.get('ExecStart') ?? '', /^\/usr\/bin\/node --max-semi-space-size=\d+ --single-threaded-gc \S+\/dist\/cli\/f2b-store\.js start$/);
  });

  it('follows the firewall services: a restart of theirs restarts it, a reload reloads it (SIGHUP)', () => {
    assert.equal(unit.get('PartOf'), 'nftables.service firewalld.service');
    assert.equal(unit.get('ReloadPropagatedFrom'), 'nftables.service firewalld.service');
    assert.equal(unit.get('ExecReload'), '/bin/kill -HUP $MAINPID');
  });
});

describe('contrib/install-unit', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pkg: ReturnType<typeof runnablePackage>;
  before(() => {
    tmp = tempDir();
    pkg = runnablePackage();
  });
  after(() => {
    pkg.cleanup();
    tmp.cleanup();
  });

  it('writes the unit with ExecStart= naming node and this built binary by absolute path, with the unit\'s node options, still a valid unit', () => {
    const result = spawnSync(join(pkg.root, 'contrib', 'install-unit'), [tmp.dir], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const installed = join(tmp.dir, 'f2b-store.service');
    verify(installed);
    const execStart = settings(readFileSync(installed, 'utf8')).get('ExecStart');
    const bin = pkg.root === ROOT ? BIN : join(pkg.root, 'dist', 'cli', 'f2b-store.js');
    const options = (settings(readFileSync(UNIT, 'utf8')).get('ExecStart') ?? '').split(' ').slice(1, -2);
    assert.ok(options.length > 0, 'the unit names node options');
    assert.equal(execStart, [execFileSync('readlink', ['-f', process.execPath], { encoding: 'utf8' }).trim(), ...options, bin, 'start'].join(' '));
    assert.equal(statSync(installed).mode & 0o777, 0o644);
  });

  it('refuses a copy of f2b-store under /tmp, which the unit\'s PrivateTmp=yes hides from the service', () => {
    const copy = join(tmp.dir, 'clone');
    mkdirSync(join(copy, 'contrib'), { recursive: true });
    mkdirSync(join(copy, 'dist', 'cli'), { recursive: true });
    copyFileSync(INSTALL, join(copy, 'contrib', 'install-unit'));
    copyFileSync(UNIT, join(copy, 'contrib', 'f2b-store.service'));
    writeFileSync(join(copy, 'dist', 'cli', 'f2b-store.js'), '');
    chmodSync(join(copy, 'dist', 'cli', 'f2b-store.js'), 0o755);
    const units = join(tmp.dir, 'units');
    mkdirSync(units);
    const result = spawnSync(join(copy, 'contrib', 'install-unit'), [units], { encoding: 'utf8' });
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /^install-unit: \/tmp\/.*clone is under \/tmp or \/var\/tmp, which the unit's PrivateTmp=yes hides from the service/);
  });
});

/**
 * The daemon run as the installed unit runs it — its ExecStart=, ProtectSystem=strict with only
 * the unit's writable paths, PrivateTmp=, its capabilities — with the hosts-deny backend: /etc is
 * read-only and hosts.deny alone writable, as systemd mounts them. What the sandbox needs that
 * this host lacks (/etc/hosts.deny, the config, the state dirs) comes from overlays and temp
 * dirs, never from the host's own files.
 */
describe('the daemon under the unit\'s own sandbox (its mounts reproduced with unshare)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let pkg: ReturnType<typeof runnablePackage> | undefined;
  let ns: Netns;
  let service: SandboxedService | undefined;
  let hostsDeny: string;
  let stateDb: string;
  let start: () => Promise<SandboxedService>;
  const FOREIGN = '# kept by hand\nsshd: 10.9.9.9\n';
  const holds = (address: string): boolean => readFileSync(hostsDeny, 'utf8').includes(`ALL: ${address}\n`);

  before(async () => {
    tmp = tempDir();
    pkg = runnablePackage();
    ns = createNetns();
    const units = join(tmp.dir, 'units');
    mkdirSync(units);
    execFileSync(join(pkg.root, 'contrib', 'install-unit'), [units]);
    const sandbox = parseUnit(readFileSync(join(units, 'f2b-store.service'), 'utf8'));
    const etc = join(tmp.dir, 'etc-upper');
    mkdirSync(join(etc, 'f2b-store'), { recursive: true });
    writeFileSync(join(etc, 'f2b-store', 'f2b-store.conf'), '[reconcile]\nbackends = hosts-deny\nschedule = * * * * * *\nfullcheck = 1s\n');
    // The mount point of the hosts.deny bound in below: this host has none.
    writeFileSync(join(etc, 'hosts.deny'), '');
    const varUpper = join(tmp.dir, 'var-upper');
    for (const dir of ['lib/f2b-store', 'log/f2b-store']) mkdirSync(join(varUpper, dir), { recursive: true });
    hostsDeny = join(tmp.dir, 'hosts.deny');
    writeFileSync(hostsDeny, FOREIGN);
    const state = join(tmp.dir, 'state');
    const logs = join(tmp.dir, 'log');
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(logs, { mode: 0o700 });
    stateDb = join(state, 'f2b-store.sqlite3');
    for (const address of ['203.0.113.7', '203.0.113.8']) {
      assert.equal(runCli(['--db', stateDb, '--backend', 'none', 'ban', address, '--permanent']).code, 0);
    }
    // What systemd does at each start of the service, Restart=on-failure's included: new mounts.
    start = () => startSandboxed(sandbox, {
      overlays: { '/etc': etc, '/var': varUpper },
      sources: { '/etc/hosts.deny': hostsDeny, '/var/lib/f2b-store': state, '/var/log/f2b-store': logs },
      netns: ns.name,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    });
    service = await start();
  });
  after(async () => {
    await service?.stop();
    ns?.remove();
    pkg?.cleanup();
    tmp?.cleanup();
  });

  it('sees /etc read-only but hosts.deny writable, and an empty /tmp', () => {
    const probe = (script: string): string => service!.run(['sh', '-c', script]).trim();
    assert.match(probe('touch /etc/f2b-probe 2>&1 || true'), /Read-only file system/);
    assert.equal(probe('test -w /etc/hosts.deny && echo writable'), 'writable');
    assert.equal(probe(`ls -A /tmp | wc -l`), '0');
  });

  it('writes the stored bans into hosts.deny at start, in place, keeping everything else', async () => {
    const inode = statSync(hostsDeny).ino;
    await waitForLogged('the bans in hosts.deny', () => holds('203.0.113.7') && holds('203.0.113.8'), 20_000, () => service!.log());
    const text = readFileSync(hostsDeny, 'utf8');
    assert.ok(text.startsWith(FOREIGN), text);
    assert.equal(statSync(hostsDeny).ino, inode, 'the same file: the one the unit made writable');
    assert.doesNotMatch(service!.log(), /cannot write|EROFS/, service!.log());
  });

  it('lifts a ban from hosts.deny on its schedule, with the database in its StateDirectory', async () => {
    assert.equal(runCli(['--db', stateDb, '--backend', 'none', 'unban', '203.0.113.8']).code, 0);
    await waitForLogged('the lifted ban gone from hosts.deny', () => !holds('203.0.113.8'), 20_000, () => service!.log());
    assert.ok(holds('203.0.113.7'), 'the other ban stays');
    assert.doesNotMatch(service!.log(), /cannot write|EROFS/, service!.log());
  });

  it('a ban made on the host with the hosts-deny backend keeps the file the service writes: both see each other\'s lines', async () => {
    const config = join(tmp.dir, 'host-etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${hostsDeny}\n`);
    const inode = statSync(hostsDeny).ino;
    const onHost = runCli(['--db', stateDb, '--config', config, 'ban', '203.0.113.20', '--permanent']);
    assert.equal(onHost.code, 0, onHost.stderr);
    assert.ok(holds('203.0.113.20'), readFileSync(hostsDeny, 'utf8'));
    assert.equal(statSync(hostsDeny).ino, inode, 'written in place: the file the service\'s mount holds');
    assert.equal(runCli(['--db', stateDb, '--backend', 'none', 'ban', '203.0.113.21', '--permanent']).code, 0);
    await waitForLogged('the service\'s write in the file the host sees', () => holds('203.0.113.21'), 20_000, () => service!.log());
    assert.ok(holds('203.0.113.20') && holds('203.0.113.7'), readFileSync(hostsDeny, 'utf8'));
  });

  it('hosts.deny replaced by a rename on the host: the service stops with a failure, and started again it writes the new file', async () => {
    const replacement = `${hostsDeny}.new`;
    writeFileSync(replacement, '# written by config management\nsshd: 10.7.7.7\n');
    renameSync(replacement, hostsDeny);
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(-1), 20_000);
      service!.child.once('exit', (exit) => {
        clearTimeout(timer);
        resolve(exit);
      });
    });
    assert.equal(code, 1, `exits with a failure for Restart=on-failure:\n${service!.log()}`);
    assert.match(service!.log(), /hosts-deny: \/etc\/hosts\.deny was replaced by another file \(a rename, e\.g\. by an editor or config management\) after this process was started/);
    await service!.stop();
    service = await start();
    assert.equal(runCli(['--db', stateDb, '--backend', 'none', 'ban', '203.0.113.22', '--permanent']).code, 0);
    await waitForLogged('the new ban and the stored ones in the new file', () => holds('203.0.113.22') && holds('203.0.113.7') && holds('203.0.113.21'), 20_000, () => service!.log());
    assert.ok(readFileSync(hostsDeny, 'utf8').startsWith('# written by config management\nsshd: 10.7.7.7\n'), 'what the host wrote is kept');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const code = await service!.stop();
    service = undefined;
    assert.equal(code, 0);
  });
});
