import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

const { dir, cleanup } = tempDir();
const scripts = tempDir();
after(() => { cleanup(); scripts.cleanup(); });

function script(shell: string): string {
  const result = runCli(['completion', shell]);
  assert.equal(result.code, 0, result.stderr);
  const path = join(scripts.dir, shell);
  writeFileSync(path, result.stdout);
  return path;
}

/** What bash offers after the words typed so far (the last one is being completed). */
function complete(words: readonly string[]): string[] {
  const quoted = words.map((word) => `'${word}'`).join(' ');
  const run = spawnSync('bash', ['--norc', '-c', `cd "$2" && source "$1" && COMP_WORDS=(${quoted}) && COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)) && _f2b_store && printf '%s\\n' "\${COMPREPLY[@]}"`,
    'bash', script('bash'), dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter((line) => line !== '');
}

describe('shell completion', () => {
  it('bash completes commands, subcommands past global options, options, fixed values and file names', () => {
    writeFileSync(join(dir, 'bans.list'), '');
    assert.deepEqual(complete(['f2b-store', 'im']), ['import']);
    assert.deepEqual(complete(['f2b-store', '--db', 'x.sqlite3', 'import', '']), ['list', 'fail2ban-db']);
    assert.deepEqual(complete(['f2b-store', 'import', 'list', '--j']), ['--jail']);
    assert.deepEqual(complete(['f2b-store', 'import', 'list', 'ban']), ['bans.list']);
    assert.deepEqual(complete(['f2b-store', 'export', 'plain', '--file', 'ba']), ['bans.list']);
    assert.deepEqual(complete(['f2b-store', 'ban', '--jail', '']), [], 'a jail name is no file');
    assert.deepEqual(complete(['f2b-store', 'completion', '']), ['bash', 'zsh']);
    assert.ok(complete(['f2b-store', '']).includes('test-filter'));
  });

  it('zsh reads its script, which names every command', () => {
    const path = script('zsh');
    const check = spawnSync('zsh', ['-n', path], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const help = runCli(['--help']).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!).filter((name) => name !== 'help');
    assert.ok(commands.length >= 15);
    const text = spawnSync('cat', [path], { encoding: 'utf8' }).stdout;
    for (const name of commands) assert.match(text, new RegExp(`'${name}:`), `${name} is not offered by the zsh completion`);
  });

  it('refuses a shell it cannot write for, naming the choices (exit 2)', () => {
    const result = runCli(['completion', 'fish']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /'fish'.*bash, zsh/);
  });
});
