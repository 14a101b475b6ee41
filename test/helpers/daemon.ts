import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, SAFE_CONFIG } from './cli.js';
import { scaled } from './slowness.js';

/** The real daemon (`f2b-store start`) as a child process; `stop()` sends SIGTERM and waits. */
export interface DaemonProcess {
  readonly child: ChildProcess;
  log(): string;
  stop(): Promise<number | null>;
}

/**
 * A daemon under test never writes the host's /var/log: unless its configuration names a ban log
 * (`[daemon] logfile`), an f2b-store.local beside it turns the ban log off.
 */
export function keepBanLogPrivate(configDir: string): void {
  const texts = ['f2b-store.conf', 'f2b-store.local'].map((name) => join(configDir, name)).filter((path) => existsSync(path)).map((path) => readFileSync(path, 'utf8'));
  if (texts.some((text) => /^\s*logfile\s*[=:]/m.test(text))) return;
  const local = join(configDir, 'f2b-store.local');
  if (existsSync(local)) throw new Error(`${local} names no [daemon] logfile: set one (or an empty one) so the daemon under test does not write /var/log`);
  writeFileSync(local, '# Written by test/helpers/daemon.ts: no ban log in /var/log from a test.\n[daemon]\nlogfile =\n');
}

export function startDaemon(args: readonly string[], env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const config = args.includes('--config') ? args[args.indexOf('--config') + 1] : env['F2B_STORE_CONFIG'];
  if (config !== undefined) keepBanLogPrivate(config);
  const child = spawn(process.execPath, [BIN, ...args, 'start'], {
    env: { ...process.env, F2B_STORE_CONFIG: SAFE_CONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  // Its last output may still be in the pipes when it has exited: read to their end ('close'), or for a moment when a child of
  // its own holds them open.
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    const drained = setTimeout(() => resolve(code), scaled(1000));
    child.once('close', () => {
      clearTimeout(drained);
      resolve(code);
    });
  }));
  return {
    child,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => {
        // Said, not only done: a test's after() hook would otherwise hide a daemon deaf to SIGTERM (20 s lost, once seen in CI).
        console.log(`# the daemon (pid ${child.pid}) did not stop within ${scaled(20_000)} ms of SIGTERM: SIGKILL; its log ends:\n${output.split('\n').slice(-20).map((line) => `#   ${line}`).join('\n')}`);
        child.kill('SIGKILL');
      }, scaled(20_000));
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/**
 * Polls `check` until it returns true or `ms` (scaled to this machine's speed) pass; returns how
 * long it took, or throws with `what`. `everyMs` is the least wait between two looks: more than
 * the default for a look that costs much (a listing of thousands of entries) while what it waits
 * for takes seconds anyway.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<number> {
  const start = Date.now();
  const limit = scaled(ms);
  while (Date.now() - start < limit) {
    const asked = Date.now();
    if (await check()) return Date.now() - start;
    // A check that starts a process (a CLI call: tenths of a second of CPU) takes at most half the
    // time: on a loaded 2-core machine it would otherwise slow the daemon it waits for.
    await sleep(Math.max(everyMs, Date.now() - asked));
  }
  throw new Error(`timed out after ${limit} ms waiting for ${what}`);
}

/** waitFor, with what the process waited on has logged (`log()`) added to the error on a timeout: often the only account of why. */
export async function waitForLogged(what: string, check: () => boolean | Promise<boolean>, ms: number, log: () => string): Promise<number> {
  try {
    return await waitFor(what, check, ms);
  } catch (error) {
    throw new Error(`${(error as Error).message}; its log:\n${log()}`, { cause: error });
  }
}
