import { openAtomicFile, type AtomicFile } from '../backends/atomic-file.js';
import { F2bError, messageOf, OperationError } from '../core/index.js';
import { Chunked } from './output.js';

/** Where a command's long output goes, written as it is made. */
export interface Sink {
  write(text: string): void;
  /** Everything is written: flush it, and for a file, put it in place. */
  commit(): void;
  /** Writing failed half-way: a file stays as it was before. */
  discard(): void;
}

export function stdoutSink(): Sink {
  const out = new Chunked();
  return { write: (text) => out.write(text), commit: () => out.flush(), discard: () => undefined };
}

/**
 * Output to a file replacing `path` atomically (see openAtomicFile), buffered; errors name the
 * file. A path that is not a regular file is a NotRegularFileError (bad input).
 */
export function atomicFileSink(path: string): Sink {
  const failed = (error: unknown): F2bError => error instanceof F2bError ? error
    : new OperationError(`cannot write ${path}: ${messageOf(error)}`, { cause: error });
  let file: AtomicFile;
  try {
    file = openAtomicFile(path);
  } catch (error) {
    throw failed(error);
  }
  const out = new Chunked((text) => file.write(text));
  return {
    write(text) {
      try {
        out.write(text);
      } catch (error) {
        throw failed(error);
      }
    },
    commit() {
      try {
        out.flush();
        file.commit();
      } catch (error) {
        throw failed(error);
      }
    },
    discard: () => file.discard(),
  };
}
