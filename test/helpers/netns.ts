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
  remove(): void;
}

export function createNetns(): Netns {
  const name = `f2bt-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  const run = (argv: readonly string[], input?: string): string =>
    execFileSync('ip', ['netns', 'exec', name, ...argv], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  try {
    run(['ip', 'link', 'set', 'lo', 'up']);
  } catch (error) {
    execFileSync('ip', ['netns', 'delete', name]);
    throw error;
  }
  return {
    name,
    run,
    remove: () => execFileSync('ip', ['netns', 'delete', name]),
  };
}
