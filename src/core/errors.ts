/** Exit codes of the CLI contract. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** An expected failure: the CLI prints `message` on one line and exits with `exitCode`. */
export class F2bError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad input from the user: an address, a duration, an option, a config value. Exit code 2. */
export class InputError extends F2bError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT_BAD_INPUT, options);
  }
}

/** The operation could not be done (database unusable, command failed). Exit code 1. */
export class OperationError extends F2bError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT_FAILED, options);
  }
}

/** The message of any thrown value, for wrapping causes into one line. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
