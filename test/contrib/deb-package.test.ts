import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = (JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: ROOT, encoding: 'utf8' })) as { version: string }).version;

/**
 * Installs, uses, removes and purges the package as an administrator would, with the real dpkg,
 * but in a mount namespace where /usr, /etc and /var are overlays on a private tmpfs: this
 * machine's own files and package database never change, and what the package left behind is
 * exactly what the overlays' upper layers hold at the end. The host's systemd is hidden, so the
 * maintainer scripts cannot reach it.
 */
const INSTALL_CYCLE = String.raw`
set -eu
deb=$1 scratch=$2
mount -t tmpfs tmpfs "$scratch"
for d in usr etc var; do
  mkdir -p "$scratch/$d/upper" "$scratch/$d/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$scratch/$d/upper,workdir=$scratch/$d/work" "/$d"
done
[ -d /run/systemd ] && mount -t tmpfs tmpfs /run/systemd
step() { echo "== $*"; }

step install
dpkg -i "$deb" >/dev/null
step version; f2b-store --version
step check; f2b-store check
step files
stat -c '%a %U %n' /var/lib/f2b-store /usr/bin/f2b-store /lib/systemd/system/f2b-store.service /etc/f2b-store/jail.conf
grep '^ExecStart=' /lib/systemd/system/f2b-store.service
ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null | grep -c f2b-store || true
man -w f2b-store
ls /usr/share/bash-completion/completions/f2b-store /usr/share/zsh/vendor-completions/_f2b-store
step ban; f2b-store --backend none ban 192.0.2.7 --for 1h >/dev/null; f2b-store list | grep -c 192.0.2.7
step remove
dpkg -r f2b-store >/dev/null
[ -e /usr/bin/f2b-store ] && echo "left: /usr/bin/f2b-store"
ls /etc/f2b-store
step purge
dpkg --purge f2b-store >/dev/null
[ -e /etc/f2b-store ] && echo "left: /etc/f2b-store"
step left
cd "$scratch"
# Every file, link and whiteout in the upper layers: what the cycle changed on the system.
find usr/upper etc/upper var/upper ! -type d -printf '%y %p\n' | sort
`;

interface Steps { readonly [step: string]: string[] }

function steps(stdout: string): Steps {
  const found: Record<string, string[]> = {};
  let current = '';
  for (const line of stdout.split('\n')) {
    const m = /^== (\S+)/.exec(line);
    if (m) found[current = m[1]!] = [];
    else if (line !== '' && current !== '') found[current]!.push(line);
  }
  return found;
}

/** What dpkg itself and man-db's trigger keep of every install, not the package's files. */
const BOOKKEEPING = [/^var\/lib\/dpkg\//, /^var\/log\/dpkg\.log$/, /^var\/cache\/man\//, /^var\/cache\/ldconfig\//, /^etc\/ld\.so\.cache$/];

describe('the Debian package', { timeout: 600_000 }, () => {
  const { dir, cleanup } = tempDir();
  let deb = '';

  before(() => {
    // xz at its lowest level (dpkg-deb's own setting): the same files, in 1.5 s of CPU instead of 9.
    const built = spawnSync(join(ROOT, 'packaging', 'build-deb'), [dir], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DPKG_DEB_COMPRESSOR_LEVEL: '1' } });
    assert.equal(built.status, 0, built.stderr);
    deb = built.stdout.trim();
  });
  after(cleanup);

  it('is named for its version and architecture and holds the program, unit, config, man page and completions', () => {
    const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
    assert.equal(deb, join(dir, `f2b-store_${VERSION}_${arch}.deb`));
    const files = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 16 << 20 });
    for (const path of ['./usr/bin/f2b-store', './usr/lib/f2b-store/dist/cli/f2b-store.js', './usr/lib/f2b-store/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      './lib/systemd/system/f2b-store.service', './etc/f2b-store/f2b-store.conf', './etc/f2b-store/jail.conf', './usr/share/man/man8/f2b-store.8.gz',
      './usr/share/bash-completion/completions/f2b-store', './usr/share/zsh/vendor-completions/_f2b-store', './usr/share/doc/f2b-store/copyright']) {
      assert.ok(files.includes(` ${path}\n`), `${path} is not in the package`);
    }
    assert.match(files, /^drwx------ root\/root .* \.\/var\/lib\/f2b-store\/$/m);
    assert.doesNotMatch(files, /node_modules\/(typescript|eslint|esbuild|tsx|fast-check)\//, 'development dependencies are shipped');
    const conffiles = execFileSync('sh', ['-c', `dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles`, 'sh', deb], { encoding: 'utf8' });
    assert.deepEqual(conffiles.trim().split('\n'), ['/etc/f2b-store/f2b-store.conf', '/etc/f2b-store/jail.conf']);
  });

  it('is lintian clean (each override in packaging/deb/lintian-overrides says why)', () => {
    const lint = spawnSync('lintian', ['--no-cfg', '--fail-on', 'error,warning', deb], { encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    assert.doesNotMatch(lint.stdout, /^[EW]: /m);
  });

  it('installs with dpkg -i without starting or enabling the daemon, works, and purges leaving only the database', () => {
    const { dir: scratch, cleanup: removeScratch } = tempDir();
    try {
      const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', INSTALL_CYCLE, 'bash', deb, scratch],
        { encoding: 'utf8', timeout: 300_000 });
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
      const out = steps(run.stdout);
      assert.deepEqual(out['version'], [VERSION]);
      assert.match(out['check']!.join('\n'), /^configuration OK \(\/etc\/f2b-store\)/);
      const files = out['files']!;
      assert.deepEqual(files.slice(0, 4), [
        '700 root /var/lib/f2b-store',
        '755 root /usr/bin/f2b-store',
        '644 root /lib/systemd/system/f2b-store.service',
        '644 root /etc/f2b-store/jail.conf',
      ]);
      assert.equal(files[4], 'ExecStart=/usr/bin/node --max-semi-space-size=4 --single-threaded-gc /usr/lib/f2b-store/dist/cli/f2b-store.js start');
      assert.equal(files[5], '0', 'the package enabled the service');
      assert.equal(files[6], '/usr/share/man/man8/f2b-store.8.gz');
      assert.deepEqual(out['ban'], ['1']);
      assert.deepEqual(out['remove'], ['f2b-store.conf', 'jail.conf'], 'dpkg -r keeps the configuration, removes the program');
      assert.deepEqual(out['purge'], []);
      const left = out['left']!.map((line) => line.replace(/^(.) (usr|etc|var)\/upper\//, '$1 $2/'));
      const ours = left.filter((line) => !BOOKKEEPING.some((pattern) => pattern.test(line.slice(2))));
      assert.deepEqual(ours, ['f var/lib/f2b-store/f2b-store.sqlite3'], `left behind:\n${left.join('\n')}`);
      assert.ok(!left.some((line) => line.startsWith('c ')), `a file of the system was deleted:\n${left.join('\n')}`);
    } finally {
      removeScratch();
    }
  });
});
