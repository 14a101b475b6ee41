import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { systemFollow } from '../../src/backends/exec.js';
import { CHILD_LOADER, sourcePath } from '../helpers/script.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('systemFollow: a long-running command, as lines', () => {
  it('delivers each line, and says when the command ends by itself', async () => {
    const lines: string[] = [];
    const ended = new Promise<string>((resolve) => {
      systemFollow()(['sh', '-c', 'echo one; echo two; exit 3'], { onLine: (line) => lines.push(line), onExit: resolve });
    });
    assert.match(await ended, /exit 3/);
    assert.deepEqual(lines, ['one', 'two']);
  });

  it('stop() ends it without an onExit', async () => {
    let exited = false;
    const stop = systemFollow()(['sleep', '300'], { onLine: () => undefined, onExit: () => { exited = true; } });
    await sleep(200);
    stop();
    await sleep(300);
    assert.equal(exited, false, 'stopping is not an unexpected end');
  });

  it('the command dies with the process that started it, even on SIGKILL', async () => {
    // A process that follows `sleep 300` and prints the pid of what it follows.
    const script = `import { systemFollow } from ${JSON.stringify(sourcePath('src/backends/exec'))};
      systemFollow()(['sh', '-c', 'echo $$; exec sleep 300'], { onLine: (l) => console.log(l), onExit: () => undefined });`;
    const child = spawn(process.execPath, [...CHILD_LOADER, '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim()))));
    assert.ok(pid > 0 && existsSync(`/proc/${pid}`), `the followed command runs (pid ${pid})`);
    child.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      await sleep(100);
      alive = existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
    }
    assert.equal(alive, false, 'the followed command ended with its parent');
  });
});

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
