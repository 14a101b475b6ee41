import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A network namespace of our own, so firewall tests never touch the host's firewall. Created with
 * loopback up; `remove()` deletes it (and with it every rule, set and table made inside).
 */
export interface Netns {
  readonly name: string;
  /** Runs a command inside the namespace and returns stdout (no shell). */
  run(argv: readonly string[], input?: string): string;
  /**
   * Runs commands one after another inside the namespace (a shell, every argument quoted),
   * stopping at the first that fails, and returns their stdout together: one process start and one
   * namespace entry (about 12 ms of CPU each from a test process) for all of them.
   */
  runAll(argvs: readonly (readonly string[])[]): string;
  remove(): void;
}

/** Namespaces made and not yet removed: deleted when the process exits, whatever a test did. */
const live = new Set<string>();
let exitHook = false;

function removeNetns(name: string): void {
  live.delete(name);
  execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
}

export function createNetns(): Netns {
  const name = `f2bt-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  live.add(name);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const left of live) {
        try {
          removeNetns(left);
        } catch {
          // Already gone: nothing left to delete.
        }
      }
    });
  }
  const run = (argv: readonly string[], input?: string): string =>
    execFileSync('ip', ['netns', 'exec', name, ...argv], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;
  const runAll = (argvs: readonly (readonly string[])[]): string => run(['sh', '-ec', argvs.map((argv) => argv.map(quote).join(' ')).join('\n')]);
  try {
    run(['ip', 'link', 'set', 'lo', 'up']);
  } catch (error) {
    removeNetns(name);
    throw error;
  }
  return { name, run, runAll, remove: () => removeNetns(name) };
}
