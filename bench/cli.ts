import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built binary, as users run it; `npm run bench` builds it first. */
export const BIN = fileURLToPath(new URL('../dist/cli/f2b-store.js', import.meta.url));

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Send stdout to /dev/null, as `> /dev/null` would, instead of collecting it. */
  readonly discard?: boolean;
}

/** Runs `node ARGS…` to completion without a shell; throws unless it exits 0. Returns its stdout. */
export function runNode(args: readonly string[], options: RunOptions = {}): string {
  const devNull = options.discard ? openSync('/dev/null', 'w') : undefined;
  try {
    const result = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      env: options.env ?? process.env,
      stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
    });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(`node ${args.join(' ')}: exit ${result.status ?? result.signal}: ${result.stderr.trim()}`);
    }
    return result.stdout ?? '';
  } finally {
    if (devNull !== undefined) closeSync(devNull);
  }
}
