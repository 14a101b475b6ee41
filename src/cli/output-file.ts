import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { messageOf, OperationError } from '../core/index.js';
import { Chunked } from './output.js';

/** Where a command's long output goes, written as it is made. */
export interface Sink {
  write(text: string): void;
  /** Everything is written: flush it, and for a file, put it in place. */
  commit(): void;
  /** Writing failed half-way: a file stays as it was before. */
  discard(): void;
}

function removeTemp(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // Never made, or already gone: nothing is left behind either way.
  }
}

export function stdoutSink(): Sink {
  const out = new Chunked();
  return { write: (text) => out.write(text), commit: () => out.flush(), discard: () => undefined };
}

/**
 * Writes into a temporary file beside `path` and renames it over `path` on commit, so readers see
 * the old file or the whole new one, never a part. An existing file's mode is kept, a new one gets
 * 0644.
 */
export function atomicFileSink(path: string): Sink {
  const failed = (error: unknown): OperationError => new OperationError(`cannot write ${path}: ${messageOf(error)}`, { cause: error });
  const temp = `${path}.f2b-store-${randomBytes(4).toString('hex')}`;
  let fd: number | undefined;
  try {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode ?? 0o644;
    fd = openSync(temp, 'wx', 0o600);
    // Not through open's mode: the umask would change it.
    fchmodSync(fd, mode & 0o7777);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    removeTemp(temp);
    throw failed(error);
  }
  const handle = fd;
  let open = true;
  const close = (): void => {
    if (open) closeSync(handle);
    open = false;
  };
  const out = new Chunked((text) => {
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length;) at += writeSync(handle, bytes, at);
  });
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
        fsyncSync(handle);
        close();
        renameSync(temp, path);
      } catch (error) {
        throw failed(error);
      }
    },
    discard() {
      close();
      removeTemp(temp);
    },
  };
}
