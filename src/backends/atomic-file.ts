import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, fchmodSync, fstatSync, fsyncSync, ftruncateSync, openSync, readlinkSync, realpathSync, renameSync, statSync,
  unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../core/index.js';

/** A file being replaced: written into a temporary file beside it, put in place by `commit`. */
export interface AtomicFile {
  write(text: string): void;
  /** Everything is written: sync it and rename it over the file. */
  commit(): void;
  /** Writing failed half-way: the file stays as it was, the temporary file goes. */
  discard(): void;
}

/** The path names a FIFO, a device, a directory or a socket: such a thing is never replaced by a file. */
export class NotRegularFileError extends InputError {
  constructor(path: string, stats: Stats) {
    super(`${path} is ${kindOf(stats)}, not a regular file`);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  return 'something else';
}

/** Linux's limit on symlinks followed in one lookup. */
const MAX_LINKS = 40;

/** Where a path that does not exist yet leads: a dangling symlink to the file it names, anything else to itself. */
function missingTarget(path: string): string {
  let at = resolve(path);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    // The directory first: a link's text is relative to the directory it really sits in.
    const dir = realpathSync(dirname(at));
    at = join(dir, basename(at));
    let link: string;
    try {
      link = readlinkSync(at);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EINVAL') return at;
      throw error;
    }
    at = resolve(dir, link);
  }
  throw Object.assign(new Error(`too many levels of symbolic links: ${path}`), { code: 'ELOOP' });
}

/**
 * The file a write to `path` really changes: symlinks followed to the end (a dangling one to the
 * file it names), so a symlink stays a symlink and its target gets the new text. Throws a
 * NotRegularFileError when that is not a regular file.
 */
export function resolveTarget(path: string): string {
  // stat follows links, /proc's too (/dev/stdout): a pipe or a terminal is seen for what it is.
  const found = statSync(path, { throwIfNoEntry: false });
  if (found === undefined) return missingTarget(path);
  if (!found.isFile()) throw new NotRegularFileError(path, found);
  return realpathSync(path);
}

function removeTemp(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // Never made, or already gone: nothing is left behind either way.
  }
}

/**
 * Replaces the file `path` leads to (see resolveTarget) so that readers see the old file or the
 * whole new one, never a part: the new text goes into a temporary file beside the real target,
 * renamed over it. An existing file's mode is kept, a new one gets 0644 — whatever the umask (the
 * daemon runs with 0077, and hosts.deny must stay readable). Errors are the file system's own.
 */
export function openAtomicFile(path: string): AtomicFile {
  const target = resolveTarget(path);
  const temp = `${target}.f2b-store-${randomBytes(4).toString('hex')}`;
  let fd: number | undefined;
  try {
    const mode = statSync(target, { throwIfNoEntry: false })?.mode ?? 0o644;
    // 'wx' is O_EXCL: a name someone planted there is never followed or reused.
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
      renameSync(temp, target);
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

/**
 * What pads a text shorter than the file it overwrites up to the file's length: a comment line
 * (after a newline, if the text lacks a final one), so that until the file is cut to length a
 * reader sees the new text and a comment, never the end of the old text (where a fragment of a
 * line could read as a rule of its own).
 */
function padding(text: Buffer, length: number): Buffer {
  const lead = text.length === 0 || text[text.length - 1] === 0x0a ? '' : '\n';
  return Buffer.from(`${lead}#`.padEnd(length, ' ').slice(0, length));
}

/**
 * Writes `text` over the existing regular file `target`, keeping its inode: the whole text from
 * the start in one go (padded to the old length, see padding), then the file cut to its length.
 */
function writeInPlace(target: string, text: string): void {
  const fd = openSync(target, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotRegularFileError(target, stats);
    const bytes = Buffer.from(text);
    const whole = bytes.length < stats.size ? Buffer.concat([bytes, padding(bytes, stats.size - bytes.length)]) : bytes;
    for (let at = 0; at < whole.length;) at += writeSync(fd, whole, at, whole.length - at, at);
    ftruncateSync(fd, bytes.length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to the file `path` leads to (see resolveTarget): an existing file in place,
 * keeping its inode, and a missing one made whole by a rename (see writeFileAtomic). For files
 * others hold on to by inode — hosts.deny, which systemd's ReadWritePaths= binds into the
 * service by its inode, and which the daemon and a command on the host both write — a rename
 * would leave the other holder with the old file. The price: for the instant of the write, a
 * reader (tcpd reads hosts.deny per connection) may see a page of the new text beside a page of
 * the old one in a file longer than a page; never the old file's end after a shorter new text.
 */
export async function rewriteFile(path: string, text: string): Promise<void> {
  const target = resolveTarget(path);
  if (statSync(target, { throwIfNoEntry: false }) === undefined) {
    await writeFileAtomic(path, text);
    return;
  }
  writeInPlace(target, text);
}

/**
 * Why the file `path` leads to is no longer the one at that path for everyone else, or undefined:
 * it has no name left (a link count of 0), which only a file bind-mounted on its own shows, after
 * something replaced it by a rename outside this mount (see Backend.replaced).
 */
export function replacedUnderMount(path: string): string | undefined {
  let stats: Stats | undefined;
  try {
    stats = statSync(resolveTarget(path), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (stats === undefined || stats.nlink > 0) return undefined;
  return `${path} was replaced by another file (a rename, e.g. by an editor or config management) after this process `
    + 'was started, and the mount that made it writable here still holds the old one';
}
