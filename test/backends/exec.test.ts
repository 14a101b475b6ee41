import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecError, systemExec, systemStream } from '../../src/backends/exec.js';
import { OperationError } from '../../src/core/index.js';
import { createNetns } from '../helpers/netns.js';

/** What systemExec rejected with (it must reject). */
async function failure(promise: Promise<string>): Promise<ExecError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ExecError, `an ExecError, got ${String(error)}`);
  assert.ok(error instanceof OperationError && error.exitCode === 1, 'the CLI exits 1 with its message');
  return error;
}

describe('systemExec failures', () => {
  it('a missing binary: kind missing, and the message says what to install', async () => {
    const error = await failure(systemExec()({ argv: ['f2b-store-no-such-binary', '-n'] }));
    assert.equal(error.kind, 'missing');
    assert.equal(error.code, null);
    assert.equal(error.message, 'f2b-store-no-such-binary -n: f2b-store-no-such-binary not found: install f2b-store-no-such-binary');
  });

  it('a non-zero exit: kind exit, with its status and the whole stderr, the message one line of it', async () => {
    const error = await failure(systemExec()({ argv: ['sh', '-c', 'echo first >&2; echo second >&2; exit 3'] }));
    assert.equal(error.kind, 'exit');
    assert.equal(error.code, 3);
    assert.equal(error.stderr, 'first\nsecond\n');
    assert.equal(error.message, "sh -c 'echo first >&2; echo second >&2; exit 3': first; second");
  });

  it('a command still running when its time is up: kind timeout', async () => {
    const error = await failure(systemExec(undefined, {}, 200)({ argv: ['sleep', '30'] }));
    assert.equal(error.kind, 'timeout');
    assert.equal(error.message, 'sleep 30: timed out after 0.2 s');
  });

  it('a command that grows with the entries may run past the default: its own timeoutMs, when longer', async () => {
    const exec = systemExec(undefined, {}, 200);
    assert.equal(await exec({ argv: ['sh', '-c', 'sleep 0.5; echo done'], timeoutMs: 20_000 }), 'done\n');
    assert.equal((await failure(exec({ argv: ['sleep', '30'], timeoutMs: 100 }))).message, 'sleep 30: timed out after 0.2 s');
    assert.equal((await failure(exec({ argv: ['sleep', '30'], timeoutMs: 400 }))).message, 'sleep 30: timed out after 0.4 s');
  });

  it('inside a network namespace, a missing binary or namespace is kind missing too, message as ip says it', async () => {
    const ns = createNetns();
    try {
      const binary = await failure(systemExec(ns.name)({ argv: ['f2b-store-no-such-binary'] }));
      assert.equal(binary.kind, 'missing');
      assert.match(binary.message, /: exec of "f2b-store-no-such-binary" failed: No such file or directory$/);
      const fails = await failure(systemExec(ns.name)({ argv: ['sh', '-c', 'exit 4'] }));
      assert.deepEqual([fails.kind, fails.code], ['exit', 4]);
    } finally {
      ns.remove();
    }
    const gone = await failure(systemExec(ns.name)({ argv: ['true'] }));
    assert.equal(gone.kind, 'missing');
  });
});

describe('systemStream: stdin written while the command runs', () => {
  it('holds the writer back while the command does not read, and hands it everything in order', async () => {
    const command = systemStream()({ argv: ['sh', '-c', 'sleep 0.5; wc -c'] });
    const piece = 'x'.repeat(64 * 1024);
    const started = performance.now();
    // 1 MiB is far more than a pipe holds: the writes wait until the command starts reading.
    for (let i = 0; i < 16; i++) await command.write(piece);
    assert.ok(performance.now() - started >= 400, 'the writes waited for the command to read');
    assert.equal((await command.end()).trim(), String(16 * piece.length));
  });

  it('a command that fails: end() rejects as systemExec does, and writes after its end do not throw', async () => {
    const command = systemStream()({ argv: ['sh', '-c', 'echo refused >&2; exit 2'] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 8; i++) await command.write('y'.repeat(64 * 1024));
    const error = await failure(command.end());
    assert.deepEqual([error.kind, error.code, error.stderr], ['exit', 2, 'refused\n']);
    assert.equal(error.message, "sh -c 'echo refused >&2; exit 2': refused");
  });

  it('a missing binary: end() rejects with kind missing', async () => {
    const command = systemStream()({ argv: ['f2b-store-no-such-binary'] });
    await command.write('anything\n');
    assert.equal((await failure(command.end())).kind, 'missing');
  });

  it('abort() kills it before its input ends: a command acting at the end of its input does nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'f2bt-stream-'));
    try {
      const file = join(dir, 'out');
      const command = systemStream()({ argv: ['sh', '-c', 'cat > /dev/null; echo done > "$0"', file] });
      await command.write('first part\n');
      command.abort();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(existsSync(file), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
