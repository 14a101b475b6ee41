import { spawn } from 'node:child_process';

/** How one script ended. `code` is null when it was killed (`signal`) or could not start (`error`). */
export interface ShellResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly error?: string;
}

/** Runs an argument vector with a time limit; never rejects. */
export type ShellRunner = (argv: readonly string[], timeoutMs: number) => Promise<ShellResult>;

const MAX_OUTPUT = 64 * 1024;
/** After SIGTERM, the process group gets this long before SIGKILL. */
const KILL_GRACE_MS = 1000;
/** A background child may hold the output pipes open after the shell exits; waiting for them stops here. */
const PIPE_GRACE_MS = 1000;

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    if (text.length < MAX_OUTPUT) text += chunk.slice(0, MAX_OUTPUT - text.length);
  });
  return () => text;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * The real runner, as fail2ban runs action commands: in a process group of its own (so a
 * timeout kills the whole pipeline: SIGTERM, then SIGKILL), from `/`, output captured.
 */
export const runShell: ShellRunner = (argv, timeoutMs) => new Promise((resolve) => {
  const [file, ...args] = argv;
  if (file === undefined) {
    resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, error: 'empty command' });
    return;
  }
  const child = spawn(file, args, { cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let timedOut = false;
  let done = false;
  let killer: NodeJS.Timeout | undefined;
  const finish = (result: Omit<ShellResult, 'stdout' | 'stderr' | 'timedOut'>): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearTimeout(killer);
    child.stdout?.destroy();
    child.stderr?.destroy();
    resolve({ ...result, stdout: stdout(), stderr: stderr(), timedOut });
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGTERM');
    killer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
  }, timeoutMs);
  child.on('error', (error) => finish({ code: null, signal: null, error: error.message }));
  child.on('exit', (code, signal) => {
    // Whatever the shell left running in its group goes too, as fail2ban kills the tree on timeout.
    if (timedOut) killGroup(child.pid, 'SIGKILL');
    const end = (): void => finish({ code, signal });
    const grace = setTimeout(end, PIPE_GRACE_MS);
    child.on('close', () => {
      clearTimeout(grace);
      end();
    });
  });
});
