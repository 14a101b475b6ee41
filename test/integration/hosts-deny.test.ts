import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHostsDenyBackend } from '../../src/backends/hosts-deny.js';
import { parseAddress } from '../../src/core/index.js';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { backendContract } from './backend-contract.js';

const FOREIGN_BEFORE = '# hosts.deny kept by hand\nsshd: 10.9.9.9\nALL: PARANOID\n';
const FOREIGN_AFTER = '# after our block\nvsftpd: 10.8.8.8\n';

describe('hosts-deny backend through the CLI', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let cli: (...args: string[]) => CliResult;
  const block = (): string[] => {
    const text = readFileSync(file, 'utf8');
    const inner = text.slice(text.indexOf('# BEGIN f2b-store\n') + 18, text.indexOf('# END f2b-store\n'));
    return inner.split('\n').filter((l) => l !== '');
  };
  const outside = (): string => readFileSync(file, 'utf8').replace(/# BEGIN f2b-store\n[\s\S]*# END f2b-store\n/, '');
  const reconcile = (): { added: number; removed: number; unchanged: number } => {
    const result = cli('--json', 'reconcile');
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { backends: { added: number; removed: number; unchanged: number }[] }).backends[0]!;
  };

  before(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'hosts.deny');
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${file}\ndaemons = ALL\n`);
    writeFileSync(file, FOREIGN_BEFORE);
    cli = (...args) => runCli(['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, ...args]);
  });
  after(() => tmp.cleanup());

  it('a ban of IPv4, IPv6 and a network appears at once', () => {
    for (const address of ['203.0.113.7', '2001:db8::66', '198.51.100.0/24']) assert.equal(cli('ban', address).code, 0);
    assert.deepEqual(block(), ['ALL: 198.51.100.0/255.255.255.0', 'ALL: 203.0.113.7', 'ALL: [2001:db8::66]']);
    assert.equal(outside(), FOREIGN_BEFORE);
  });

  it('stays while another jail bans the address, goes when the last one lifts', () => {
    assert.equal(cli('ban', '203.0.113.7', '--jail', 'sshd').code, 0);
    assert.equal(cli('unban', '203.0.113.7', '--jail', 'sshd').code, 0);
    assert.ok(block().includes('ALL: 203.0.113.7'));
    assert.equal(cli('unban', '203.0.113.7').code, 0);
    assert.ok(!block().includes('ALL: 203.0.113.7'));
  });

  it('a wiped file is restored by reconcile, foreign lines written meanwhile are kept', () => {
    writeFileSync(file, '');
    assert.deepEqual(reconcile(), { added: 2, removed: 0, unchanged: 0, name: 'hosts-deny', error: null, failed: [], kept: 0 });
    assert.deepEqual(block(), ['ALL: 198.51.100.0/255.255.255.0', 'ALL: [2001:db8::66]']);
    writeFileSync(file, `${FOREIGN_BEFORE}${readFileSync(file, 'utf8')}${FOREIGN_AFTER}`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('ALL: [2001:db8::66]\n', 'ALL: 203.0.113.99\n'));
    assert.deepEqual(reconcile(), { added: 1, removed: 1, unchanged: 1, name: 'hosts-deny', error: null, failed: [], kept: 0 });
    assert.deepEqual(block(), ['ALL: 198.51.100.0/255.255.255.0', 'ALL: [2001:db8::66]']);
    assert.equal(outside(), FOREIGN_BEFORE + FOREIGN_AFTER);
  });

  it('a second reconcile changes nothing, not even the file', () => {
    const { ino, mtimeMs } = statSync(file);
    assert.deepEqual(reconcile(), { added: 0, removed: 0, unchanged: 2, name: 'hosts-deny', error: null, failed: [], kept: 0 });
    assert.deepEqual([statSync(file).ino, statSync(file).mtimeMs], [ino, mtimeMs]);
  });

  it('an expired ban is removed by the next reconcile', async () => {
    assert.equal(cli('ban', '203.0.113.50', '--for', '1s').code, 0);
    assert.ok(block().includes('ALL: 203.0.113.50'));
    await sleep(2100);
    assert.equal(reconcile().removed, 1);
    assert.ok(!block().includes('ALL: 203.0.113.50'));
  });

  it('export hosts-deny prints the lines, or writes them into another file\'s block', () => {
    assert.equal(cli('export', 'hosts-deny', '--daemons', 'sshd').stdout, 'sshd: 198.51.100.0/255.255.255.0\nsshd: [2001:db8::66]\n');
    const other = join(tmp.dir, 'other.deny');
    writeFileSync(other, 'ALL: 10.1.1.1\n');
    assert.equal(cli('export', 'hosts-deny', '--file', other).code, 0);
    assert.equal(readFileSync(other, 'utf8'), 'ALL: 10.1.1.1\n# BEGIN f2b-store\nALL: 198.51.100.0/255.255.255.0\nALL: [2001:db8::66]\n# END f2b-store\n');
  });

  it('a file it cannot write is exit 1 naming it, and the ban is still recorded', () => {
    const config = join(tmp.dir, 'etc-broken');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = /proc/version/hosts.deny\n');
    const db = join(tmp.dir, 'broken.sqlite3');
    const result = runCli(['--db', db, '--config', config, 'ban', '203.0.113.77']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^f2b-store: the ban is recorded, but applying it failed: hosts-deny: .*\/proc\/version\/hosts\.deny.*next reconcile retries\n$/);
    assert.match(runCli(['--db', db, 'list']).stdout, /203\.0\.113\.77/);
  });
});

/** The address of one line of our block, read the way tcp_wrappers reads it: `[v6]`, `[v6]/len`, `a.b.c.d/mask`. */
function addressOfLine(line: string): string {
  const pattern = line.slice(line.indexOf(': ') + 2);
  const v6 = /^\[([^\]]+)\](\/\d+)?$/.exec(pattern);
  if (v6) return parseAddress(`${v6[1]}${v6[2] ?? ''}`).text;
  const [net, mask] = pattern.split('/');
  if (mask === undefined) return parseAddress(pattern).text;
  const bits = mask.split('.').reduce((n, octet) => n + [...Number(octet).toString(2)].filter((b) => b === '1').length, 0);
  return parseAddress(`${net}/${bits}`).text;
}

backendContract({
  name: 'hosts-deny',
  async open() {
    const tmp = tempDir();
    let scenario = 0;
    return {
      async fresh() {
        const file = join(tmp.dir, `hosts.deny.${++scenario}`);
        const text = (): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
        const inner = (): string[] => {
          const found = /# BEGIN f2b-store\n([\s\S]*)# END f2b-store\n/.exec(text());
          return found ? found[1]!.split('\n').filter((l) => l !== '') : [];
        };
        const state = (): string => (existsSync(file) ? `${statSync(file).ino} ${statSync(file).mtimeMs} ${text()}` : 'absent');
        return {
          backend: createHostsDenyBackend({ file, daemons: 'ALL' }),
          shown: async () => inner().map((line) => `* ${addressOfLine(line)}`).sort(),
          objects: async () => text().split('\n').filter((l) => l.endsWith(' f2b-store')),
          watch() {
            const was = state();
            return () => (state() === was ? [] : [`${file} written`]);
          },
          wipes: [
            { name: 'the file emptied', run: () => writeFileSync(file, '') },
            { name: 'the file deleted', run: () => rmSync(file) },
            { name: 'our block taken out by hand', run: () => writeFileSync(file, text().replace(/# BEGIN f2b-store\n[\s\S]*# END f2b-store\n/, '')) },
          ],
          async plantForeign() {
            writeFileSync(file, `${FOREIGN_BEFORE}${text()}${FOREIGN_AFTER}`);
            return async () => text().replace(/# BEGIN f2b-store\n[\s\S]*# END f2b-store\n/, '');
          },
        };
      },
      async close() {
        tmp.cleanup();
      },
    };
  },
});
