import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

const PAGE = fileURLToPath(new URL('../../packaging/f2b-store.8', import.meta.url));

function walk(command: Command, path: readonly string[]): { path: string[]; options: string[] }[] {
  const children = command.commands.filter((child) => child.name() !== 'help');
  return [
    { path: [...path], options: command.options.map((option) => option.long).filter((flag): flag is string => flag !== undefined) },
    ...children.flatMap((child) => walk(child, [...path, child.name()])),
  ];
}

describe('the man page f2b-store(8)', () => {
  const roff = readFileSync(PAGE, 'utf8');
  // What a reader sees: roff's escaped hyphens as plain ones.
  const text = roff.replace(/\\-/g, '-');

  it('describes every command and every option of the program', async () => {
    for (const { path, options } of walk(await buildProgram('0', ['node', 'f2b-store']), [])) {
      const name = path.at(-1);
      if (name !== undefined) assert.match(text, new RegExp(`\\b${name}\\b`), `command ${path.join(' ')} is not in the man page`);
      for (const option of options) assert.ok(text.includes(option), `${[...path, option].join(' ')} is not in the man page`);
    }
  });

  it('renders without a warning from man', () => {
    const run = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', PAGE], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /f2b-store - persistent ban store and firewall reconciler/);
  });
});
