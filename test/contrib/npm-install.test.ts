import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const ADDON = 'better-sqlite3/build/Release/better_sqlite3.node';
const run = promisify(execFile);

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly devOptional?: boolean;
  readonly link?: boolean;
}

/** A package as the registry would serve it: its package.json and a tarball of its files. */
interface Published {
  readonly manifest: Record<string, unknown>;
  readonly file: string;
  readonly integrity: string;
}

/**
 * The production dependencies `npm ci` installed, each made into a registry tarball (`package/`
 * prefix, no nested node_modules) of the files it installed. better-sqlite3's leaves out its
 * build directory, as the registry's tarball has none.
 */
function publishDependencies(into: string): Map<string, Published[]> {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages = new Map<string, Published[]>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || entry.devOptional === true || entry.link === true) continue;
    const dir = join(ROOT, path);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
    const file = join(into, `${manifest.name.replace('/', '-')}-${manifest.version}.tgz`);
    if (!existsSync(file)) {
      const excluded = manifest.name === 'better-sqlite3' ? ['--exclude=./build'] : [];
      const tar = spawnSync('tar', ['-czf', file, '--exclude=./node_modules', ...excluded, '--transform=s,^\\.,package,', '-C', dir, '.'], { encoding: 'utf8' });
      assert.equal(tar.status, 0, tar.stderr);
    }
    const integrity = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
    const versions = packages.get(manifest.name) ?? [];
    if (!versions.some((p) => p.manifest['version'] === manifest.version)) versions.push({ manifest, file, integrity });
    packages.set(manifest.name, versions);
  }
  return packages;
}

/** An npm registry on 127.0.0.1 holding exactly `packages`: package documents and tarballs. */
async function serveRegistry(packages: ReadonlyMap<string, readonly Published[]>): Promise<{ url: string; server: Server }> {
  const tarballs = new Map([...packages.values()].flat().map((p) => [`/-/${p.file.slice(p.file.lastIndexOf('/') + 1)}`, p.file]));
  const server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? '/').split('?')[0]!);
    const tarball = tarballs.get(path);
    if (tarball !== undefined) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(tarball));
      return;
    }
    const versions = packages.get(path.slice(1));
    if (versions === undefined) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const origin = `http://${request.headers.host ?? ''}`;
    const document = {
      name: path.slice(1),
      'dist-tags': { latest: versions.at(-1)!.manifest['version'] },
      versions: Object.fromEntries(versions.map((p) => [p.manifest['version'], {
        ...p.manifest, dist: { tarball: `${origin}/-/${p.file.slice(p.file.lastIndexOf('/') + 1)}`, integrity: p.integrity },
      }])),
    };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/**
 * `npm pack` and `npm install -g` as on a host without the Debian package: what is checked is our
 * package's contents, its bin entry and its dependency list, so the test needs no network (CI
 * runs it after `npm ci`). The dependencies npm resolves come from a registry on 127.0.0.1 serving
 * the ones `npm ci` installed; install scripts are off, since building better-sqlite3 from source
 * takes minutes and tests nothing of ours: its addon, built by `npm ci` for this very Node (same
 * ABI), is copied in instead.
 */
describe('npm pack, then npm install -g of the tarball', { timeout: 600_000 }, () => {
  const { dir, cleanup } = tempDir();
  const prefix = join(dir, 'prefix');
  const installed = join(prefix, 'lib', 'node_modules', PACKAGE.name);
  let packed: { filename: string; files: { path: string }[] };
  let registry: Server | undefined;

  before(async () => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/f2b-store.js')), 'dist/cli/f2b-store.js is missing: run npm run build first');
    // Scripts off: `prepare` would rebuild dist/ under the feet of the tests running beside this one; npm test builds first.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT });
    packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
    const published = join(dir, 'registry');
    mkdirSync(published);
    const served = await serveRegistry(publishDependencies(published));
    registry = served.server;
    await run('npm', [
      'install', '--global', '--prefix', prefix, '--registry', served.url, '--cache', join(dir, 'npm-cache'),
      '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error', join(dir, packed.filename),
    ], { cwd: dir });
    cpSync(join(ROOT, 'node_modules', ADDON), join(installed, 'node_modules', ADDON));
  });
  after(() => {
    registry?.close();
    cleanup();
  });

  it('packs the built program, its data and its bin entry, and none of the repository\'s sources, tests or tooling', () => {
    assert.equal(packed.filename, `${PACKAGE.name}-${PACKAGE.version}.tgz`);
    const paths = packed.files.map((f) => f.path);
    for (const path of ['package.json', 'README.md', 'dist/cli/f2b-store.js', 'dist/cli/match-worker.js', 'schema/001_init.sql', 'filters/sshd.conf',
      'actions/f2b-store.conf', 'config/jail.conf', 'config/f2b-store.conf', 'contrib/install-unit']) {
      assert.ok(paths.includes(path), `${path} is packed`);
    }
    const stray = paths.filter((path) => /^(?:src|test|bench|packaging|node_modules)\//.test(path) || (path.startsWith('dist/') && !path.startsWith('dist/cli/')));
    assert.deepEqual(stray, []);
  });

  it('installs f2b-store on PATH, and it runs: --version, check with a configuration, ban and list on a database of its own', () => {
    const bin = join(prefix, 'bin', 'f2b-store');
    const config = join(dir, 'etc');
    const db = join(dir, 'state', 'bans.sqlite3');
    mkdirSync(config);
    writeFileSync(join(dir, 'auth.log'), '');
    writeFileSync(join(config, 'f2b-store.conf'), `[store]\ndbfile = ${db}\n[reconcile]\nbackends = none\n[daemon]\nlogfile =\n`);
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(dir, 'auth.log')}\n`);
    // Only the prefix and node on PATH, from a directory outside the repository: nothing can come from this checkout.
    const env = { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, F2B_STORE_CONFIG: config };
    const cli = (...args: string[]): string => {
      const result = spawnSync('f2b-store', args, { cwd: dir, env, encoding: 'utf8' });
      assert.equal(result.status, 0, `f2b-store ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    assert.ok(existsSync(bin));
    assert.equal(cli('--version').trim(), PACKAGE.version);
    assert.equal(cli('check'), `configuration OK (${config}): 1 jails, 1 enabled: sshd\n`);
    cli('--backend', 'none', 'ban', '192.0.2.7', '--for', '1h', '--reason', 'npm install test');
    const bans = JSON.parse(cli('--json', 'list')) as { address: string; jail: string; reason: string }[];
    assert.deepEqual(bans.map((b) => [b.address, b.jail, b.reason]), [['192.0.2.7', 'manual', 'npm install test']]);
    cli('--backend', 'none', 'unban', '192.0.2.7');
    assert.deepEqual(JSON.parse(cli('--json', 'list')), []);
    assert.ok(existsSync(db), 'the database is the configured one');
  });
});
