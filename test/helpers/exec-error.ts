import { ExecError, type ExecFailure } from '../../src/backends/exec.js';

/** The error systemExec throws when a command writes `stderr` and fails (exit status 1 unless said). */
export function execFailure(stderr: string, kind: ExecFailure = 'exit', code: number | null = kind === 'exit' ? 1 : null): ExecError {
  return new ExecError(stderr.trim().split('\n').slice(0, 5).join('; '), { kind, stderr, code });
}
