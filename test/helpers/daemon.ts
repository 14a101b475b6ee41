import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, SAFE_CONFIG } from './cli.js';

/** The real daemon (`f2b-store start`) as a child process; `stop()` sends SIGTERM and waits. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<number | null>;
}

export function startDaemon(args: readonly string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const child = spawn(process.execPath, [BIN, ...args, 'start'], {
    env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** Polls `check` until it returns true or `ms` pass; returns how long it took, or throws with `what`. */
export async function waitFor(what: string, check: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (check()) return Date.now() - start;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
