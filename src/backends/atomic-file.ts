import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';

/** A file being replaced: written into a temporary file beside it, put in place by `commit`. */
export interface AtomicFile {
  write(text: string): void;
  /** Everything is written: sync it and rename it over the file. */
  commit(): void;
  /** Writing failed half-way: the file stays as it was, the temporary file goes. */
  discard(): void;
}

function removeTemp(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // Never made, or already gone: nothing is left behind either way.
  }
}

/**
 * Replaces `path` so that readers see the old file or the whole new one, never a part. An
 * existing file's mode is kept, a new one gets 0644 — whatever the umask (the daemon runs with
 * 0077, and hosts.deny must stay readable). Errors are the file system's own.
 */
export function openAtomicFile(path: string): AtomicFile {
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
    throw error;
  }
  const handle = fd;
  let open = true;
  const close = (): void => {
    if (open) closeSync(handle);
    open = false;
  };
  return {
    write(text) {
      const bytes = Buffer.from(text);
      for (let at = 0; at < bytes.length;) at += writeSync(handle, bytes, at);
    },
    commit() {
      fsyncSync(handle);
      close();
      renameSync(temp, path);
    },
    discard() {
      close();
      removeTemp(temp);
    },
  };
}

/** Replaces `path` with `text` atomically (see openAtomicFile). */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const file = openAtomicFile(path);
  try {
    file.write(text);
    file.commit();
  } catch (error) {
    file.discard();
    throw error;
  }
}
