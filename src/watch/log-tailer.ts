import { existsSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { crc32 } from 'node:zlib';
import { InputError, MAX_LINE_BYTES, monotonicMs, OperationError, readLogRange, type LogRange } from '../core/index.js';
import { LogFile, REWRITTEN } from './log-file.js';
import { compileLogPattern, matchingFiles, patternLeadsTo, patternMatches, type LogPattern } from './log-pattern.js';
import { encodingName, lineDecoder, type LineDecoder } from './line-splitter.js';
import { continues, samePosition, type LogPosition } from './log-position.js';
import { openRotated } from './rotated-file.js';

/** Where a batch's lines are: the bytes as read, or the stretch of the file they lie in. */
type LineSource =
  | {
      /** The lines as they were read: each ends in `\n` (a `\r` before it kept), not decoded. */
      readonly text: Buffer;
      readonly range?: undefined;
    }
  | {
      /**
       * Where the lines lie in a local file, when they lie there in one run (no over-long line
       * was dropped among them): the daemon's filter worker reads them itself, so the bytes are
       * neither kept here nor copied to it. A file read by polling (a network file system,
       * which may hang) always gives `text`.
       */
      readonly range: LogRange;
      readonly text?: undefined;
    };

/** Lines read from a log, in file order, and where reading stands after them. */
export type LineBatch = LineSource & {
  readonly path: string;
  /** Complete lines without `\n` (a trailing `\r` dropped), decoded when first asked for; may be empty when only the position moved. */
  readonly lines: readonly string[];
  /** How many lines there are, counted without decoding them (the daemon's metrics). */
  readonly lineCount: number;
  /** How `text` decodes: the WHATWG name of the log's encoding (see encodingName). */
  readonly encoding: string;
  /**
   * Where reading stands AFTER these lines. Persisting it together with what the lines caused
   * means a restart reads each line exactly once. Late lines of a file rotated away carry the
   * position in the file now at the path.
   */
  readonly position: LogPosition;
  /**
   * Lines in this stretch longer than `maxLineBytes`, dropped unread and never matched: where each
   * lay, as how many of `lines` came before it (a container record reader must know where a piece went missing).
   */
  readonly droppedAt: readonly number[];
  /** The last batch of a turn: the tailer stopped after it only to give the other files theirs, so more of this file may follow. */
  readonly turnEnd?: boolean;
  /** The read that gave these lines filled its buffer: more of this file was there to read at once (the reader is behind). */
  readonly more?: boolean;
};

export interface LogTailerOptions {
  /**
   * fail2ban `logpath` entries: file names or globs. Without a stored position a file present at
   * start-up starts at its end, one appearing later at its start — or at its end with `tail`.
   */
  readonly paths: readonly { readonly pattern: string; readonly tail: boolean }[];
  /** The position an earlier run reached in `path`, if any. */
  readonly stored: (path: string) => LogPosition | undefined;
  /**
   * Awaited before the stretch after the next is read (backpressure); never called concurrently,
   * and called with the very batch `prepare` was given. A rejected batch is read again later.
   */
  readonly onLines: (batch: LineBatch) => Promise<void>;
  /**
   * Told each batch as soon as it is read, while the batch before it is still being delivered
   * (the daemon starts matching it meanwhile). After a rejected delivery the batch read ahead is
   * never delivered: it is read, and prepared, again with the failed one.
   */
  readonly prepare?: (batch: LineBatch) => void;
  /**
   * Give a local file's lines as the range of the file they lie in (LineBatch.range) where they
   * can be: for a consumer that reads them through the descriptor itself, before the delivery ends
   * (the file may be closed after). Default: as bytes.
   */
  readonly ranges?: boolean;
  /** Poll with stat instead of inotify (network file systems); also chosen when inotify fails. */
  readonly polling?: boolean;
  /** Milliseconds between polls; default 1000. */
  readonly pollInterval?: number;
  /** fail2ban `logencoding`; default UTF-8. Bytes invalid in it become U+FFFD. */
  readonly encoding?: string;
  /** A longer line is dropped whole (counted in `LineBatch.droppedAt`), never cut and matched; default 64 KiB. */
  readonly maxLineBytes?: number;
  /** Problems reading a file or watching; following carries on. Default: printed to stderr. */
  readonly onError?: (error: Error, path?: string) => void;
}

/** After an event, look once more this much later: chokidar drops events of writes close together. */
const RECHECK_MS = 100;
/** Every followed file is checked this often even without events, and rotated files are read on. */
const SWEEP_MS = 2000;
/** A rotated file is still read this long: writers keep writing to it until they reopen the log. */
const ROTATED_GRACE_MS = 10_000;
const READ_BYTES = 1 << 18;
/**
 * Chunks read (and prepared) ahead of the one being delivered: the daemon's filter worker matches
 * them meanwhile, also through a commit that blocks the main thread for a second on a busy disk
 * (the daemon commits at a batch with most of them read ahead). 8 MiB: 16 left the worker idle a
 * tenth of a second into a commit; 64 was no faster than 32, for 20 MiB more at the peak.
 */
export const READ_AHEAD = 32;
/** Chunks one file may read before the other files' turn (a long catch-up must not starve them). */
const TURN_CHUNKS = 64;

interface Followed {
  /** The file now at the path; undefined while the path does not exist. */
  current?: LogFile | undefined;
  /** The file rotated away from the path, read on until `until`. */
  retired?: { readonly file: LogFile; readonly until: number } | undefined;
  /** The last position given to `onLines` (or the stored one). */
  reported?: LogPosition;
}

/**
 * Follows log files as `tail -F` does, across rename + create, copytruncate and delete + create
 * rotation. Rotation is detected on every check by inode, size and the hash of the first line,
 * never by event names (chokidar reports most rotations as a plain `change`).
 *
 * Where a file starts: a stored position the file continues resumes at its offset; a stored
 * position it does not continue (rotated while down) reads the rotated file on from the offset
 * when it is still beside the log, then the new file from its start; with no stored position,
 * a file present at start-up starts at its end, and a file appearing later at its start (every
 * line in it is new) unless `tail`. A followed file replaced at its path is read from its start.
 */
export class LogTailer {
  private readonly patterns: readonly LogPattern[];
  private readonly decode: LineDecoder;
  private readonly encoding: string;
  private readonly maxLineBytes: number;
  private readonly pollInterval: number;
  private readonly files = new Map<string, Followed>();
  private readonly dirty = new Set<string>();
  private readonly initial = new Set<string>();
  private readonly rechecks = new Map<string, NodeJS.Timeout>();
  private readonly errors = new Map<string, string>();
  /** Each followed file as the last sweep that checked it found it (see sweepFollowed). */
  private readonly swept = new Map<string, string>();
  /**
   * Each glob pattern's directory as the last sweep found it (its modification time): the polled
   * watcher misses a file made in it before its first poll, which the sweep then finds.
   */
  private readonly globDirs = new Map<LogPattern, number | undefined>();
  /** Paths whose start failed half-way through a rotated file, and the position delivered by then. */
  private readonly unfinished = new Map<string, LogPosition>();
  private readonly buffer = Buffer.alloc(READ_BYTES);
  private polling: boolean;
  /** The directories that lead to the patterns, polled: files appear, go and are renamed there. */
  private watcher?: FSWatcher;
  /** The files that match, by inotify (none while polling): their writes are read at once. */
  private fileWatcher?: FSWatcher | undefined;
  /** The sweep under way, if any (see sweep). */
  private sweeping: Promise<void> | undefined;
  private scanning = false;
  private scanned: () => void = () => undefined;
  private closed = false;
  private pump?: Promise<void> | undefined;
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly options: LogTailerOptions) {
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.pollInterval = options.pollInterval ?? 1000;
    if (!Number.isInteger(this.maxLineBytes) || this.maxLineBytes < 1) throw new InputError(`maxLineBytes: not a positive integer: ${this.maxLineBytes}`);
    if (!(this.pollInterval > 0)) throw new InputError(`pollInterval: not a positive number of milliseconds: ${this.pollInterval}`);
    this.decode = lineDecoder(options.encoding);
    this.encoding = encodingName(options.encoding);
    this.patterns = options.paths.map((p) => compileLogPattern(p.pattern, p.tail));
    this.polling = options.polling ?? false;
  }

  /**
   * Resolves once every existing file is followed and the lines written while down (from
   * stored positions) are delivered.
   */
  async start(): Promise<void> {
    if (this.watcher !== undefined || this.closed) throw new OperationError('log tailer: start() called twice');
    this.scanning = true;
    const scanned = new Promise<void>((resolve) => (this.scanned = resolve));
    this.watch();
    await scanned;
    this.scanning = false;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
    await this.settled();
  }

  /**
   * Stops watching; a batch being delivered completes first, and no `onLines` call comes after
   * this resolves (so awaiting it inside `onLines` would wait forever).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    await this.watcher?.close();
    await this.fileWatcher?.close();
    await this.settled();
    for (const followed of this.files.values()) {
      await followed.current?.close();
      await followed.retired?.file.close();
    }
    this.files.clear();
  }

  /** The paths whose file is being followed now. */
  watched(): string[] {
    return [...this.files].filter(([, followed]) => followed.current !== undefined).map(([path]) => path).sort();
  }

  /** Where reading each watched file stands: the last position delivered (or stored), else where its reading starts. */
  positions(): LogPosition[] {
    return [...this.files].flatMap(([path, followed]) => (followed.current === undefined ? [] : [followed.reported ?? followed.current.position(path)]));
  }

  /**
   * The directories are polled, not watched by inotify: chokidar reads a watched directory again,
   * with an lstat of every entry, after every write to any file in it, and in a busy /var/log
   * (200 files, one written 20 times a second) that took the daemon 10 to 12% of a core; polled,
   * a directory is read again only when its entries change. The files that match are watched by
   * inotify, each on its own (chokidar follows a path across rename + create).
   */
  private watch(): void {
    for (const p of this.patterns) if (!p.literal) this.globDirs.set(p, statSync(p.base, { throwIfNoEntry: false })?.mtimeMs);
    const roots = [...new Set(this.patterns.map((p) => existingAncestor(p.base)))];
    const watcher = watch(roots, {
      ignored: (path: string) => !this.patterns.some((p) => patternLeadsTo(p, path) || patternMatches(p, path)),
      usePolling: true,
      interval: this.pollInterval,
      binaryInterval: this.pollInterval,
    });
    watcher.on('all', (event, path) => this.onEvent(event, path));
    watcher.on('ready', () => this.scanned());
    watcher.on('error', (error) => this.report(error));
    this.watcher = watcher;
    if (this.polling) return;
    const files = watch([], { ignoreInitial: true });
    files.on('all', (event, path) => this.onEvent(event, path));
    files.on('error', (error) => this.onWatchError(error));
    this.fileWatcher = files;
  }

  private onWatchError(error: unknown): void {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (this.polling || (code !== 'ENOSPC' && code !== 'EMFILE')) return this.report(error);
    this.polling = true;
    this.report(new OperationError(`watching logs: inotify failed (${code}); polling every ${this.pollInterval} ms instead`, { cause: error }));
    // The polled directories already watch the files too, at their interval.
    const old = this.fileWatcher;
    this.fileWatcher = undefined;
    old?.close().catch((e: unknown) => this.report(e));
  }

  private onEvent(event: string, path: string): void {
    if (this.closed) return;
    if (event === 'unlinkDir') return this.rewatch(path);
    if (!this.patterns.some((p) => patternMatches(p, path))) return;
    if (this.scanning && event === 'add') this.initial.add(path);
    this.schedule(path);
    clearTimeout(this.rechecks.get(path));
    this.rechecks.set(
      path,
      setTimeout(() => {
        this.rechecks.delete(path);
        this.schedule(path);
      }, RECHECK_MS).unref(),
    );
  }

  /** chokidar stops watching a directory that was removed: watch from above again, to see it come back. */
  private rewatch(removed: string): void {
    for (const p of this.patterns) if (p.base === removed || p.base.startsWith(`${removed}/`)) this.watcher?.add(existingAncestor(p.base));
  }

  private sweep(): void {
    // One sweep at a time: on a file system that hangs, stats would otherwise pile up every SWEEP_MS.
    if (this.sweeping === undefined) {
      this.sweeping = Promise.all([this.sweepFollowed(), this.sweepGlobs()]).then(() => undefined, (error: unknown) => this.report(error)).finally(() => {
        this.sweeping = undefined;
      });
    }
    // A named log whose directory was created after start-up is found even if no event came.
    for (const p of this.patterns) if (p.literal && !this.files.has(p.pattern)) this.schedule(p.pattern);
  }

  /** Looks for new matches of a glob pattern whose directory changed since the last sweep (one stat each otherwise). */
  private async sweepGlobs(): Promise<void> {
    for (const [p, seen] of this.globDirs) {
      const now = (await stat(p.base).catch(() => undefined))?.mtimeMs;
      if (now === seen || this.closed) continue;
      this.globDirs.set(p, now);
      for (const path of await matchingFiles(p)) if (!this.files.has(path)) this.schedule(path);
    }
  }

  /**
   * Checks each followed file again, unless nothing about it (identity, size, modification time)
   * changed since the last sweep checked it: an idle daemon then costs one stat per file per sweep.
   */
  private async sweepFollowed(): Promise<void> {
    for (const [path, followed] of this.files) {
      const stats = followed.retired === undefined ? await stat(path).catch(() => undefined) : undefined;
      const signature = stats && `${stats.dev} ${stats.ino} ${stats.size} ${stats.mtimeMs}`;
      if (signature !== undefined && signature === this.swept.get(path) && !this.dirty.has(path) && !this.errors.has(path)) continue;
      if (signature === undefined) this.swept.delete(path);
      else this.swept.set(path, signature);
      this.schedule(path);
    }
  }

  private schedule(path: string): void {
    if (this.closed) return;
    this.dirty.add(path);
    this.pump ??= this.run();
  }

  private async settled(): Promise<void> {
    while (this.pump !== undefined) await this.pump;
  }

  /** Checks the dirty paths one at a time, so `onLines` is never called concurrently. */
  private async run(): Promise<void> {
    for (let path = first(this.dirty); path !== undefined && !this.closed; path = first(this.dirty)) {
      this.dirty.delete(path);
      try {
        await this.check(path);
        this.errors.delete(path);
      } catch (error) {
        this.swept.delete(path);
        // A file vanishing between stat and open is a rotation in progress: the next event sees it.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.report(error, path);
      }
    }
    this.pump = undefined;
  }

  private async check(path: string): Promise<void> {
    const followed = this.files.get(path) ?? (await this.discover(path));
    if (followed === undefined) return;
    if (followed.retired !== undefined) await this.readRetired(path, followed);
    const current = await this.currentFile(path, followed);
    if (current === undefined) return;
    if (!(await this.readOn(path, followed, current, () => current.position(path), TURN_CHUNKS))) this.dirty.add(path);
    else if (!this.closed && !samePosition(followed.reported, current.position(path))) {
      await this.deliver(followed, this.batch(path, Buffer.alloc(0), 0, current, current.position(path), [], false));
    }
  }

  /** A path seen for the first time: where its file starts (see the class comment). */
  private async discover(path: string): Promise<Followed | undefined> {
    const pattern = this.patterns.find((p) => patternMatches(p, path));
    if (pattern === undefined) return undefined;
    const file = await LogFile.open(path, this.decode, this.maxLineBytes);
    if (file === undefined) return undefined;
    const stored = this.unfinished.get(path) ?? this.options.stored(path);
    const followed: Followed = { current: file, ...(stored === undefined ? {} : { reported: stored }) };
    try {
      if (stored !== undefined) {
        if (continues(stored, await file.identity())) file.seek(stored.offset);
        else await this.readRotated(path, followed, stored);
      } else if (this.initial.has(path) || pattern.tail || this.followedElsewhere(path, file)) await file.seekToEnd();
    } catch (error) {
      // Tried again at the next check, from what was delivered of the rotated file.
      if (followed.reported !== undefined) this.unfinished.set(path, followed.reported);
      await file.close();
      throw error;
    }
    this.unfinished.delete(path);
    this.initial.delete(path);
    this.files.set(path, followed);
    this.fileWatcher?.add(path);
    return followed;
  }

  /**
   * A glob can match a rotated file too (`app.log` renamed to `app-20250101.log`, or copied
   * there by copytruncate): its lines were read under the log's own path, so it starts at its end.
   */
  private followedElsewhere(path: string, file: LogFile): boolean {
    for (const [other, followed] of this.files) {
      if (other === path) continue;
      for (const known of [followed.current, followed.retired?.file]) if (known?.sameContent(file)) return true;
    }
    return false;
  }

  /** The file now at the path, after finishing the one rotated away or reading a truncated one anew. */
  private async currentFile(path: string, followed: Followed): Promise<LogFile | undefined> {
    const stats = await stat(path).catch(() => undefined);
    const present = stats?.isFile() === true;
    const current = followed.current;
    // chokidar drops a file's watch when the file goes: the one that took its place is watched anew.
    if (present && current?.inode !== stats.ino) this.fileWatcher?.add(path);
    if (current === undefined) {
      if (present) followed.current = await LogFile.open(path, this.decode, this.maxLineBytes);
    } else if (!present || stats.dev !== current.device || stats.ino !== current.inode) {
      // Renamed or deleted, maybe already replaced: the old file to its end, then the new one from its start.
      await this.readOn(path, followed, current, () => current.position(path));
      await this.retire(path, followed, current);
      followed.current = present ? await LogFile.open(path, this.decode, this.maxLineBytes) : undefined;
    } else if (await current.rewritten()) {
      // copytruncate: what was not read yet is in the copy.
      await this.readRotated(path, followed, current.position(path));
      await current.rewind();
    }
    return followed.current;
  }

  private async retire(path: string, followed: Followed, file: LogFile): Promise<void> {
    const older = followed.retired;
    if (older !== undefined) {
      followed.retired = undefined;
      await this.readOn(path, followed, older.file, () => followed.current?.position(path) ?? older.file.position(path));
      await older.file.close();
    }
    followed.retired = { file, until: monotonicMs() + ROTATED_GRACE_MS };
  }

  /**
   * Late lines of the rotated file. They carry the current file's position: persisting the old
   * file's would make a restart read the new file again.
   */
  private async readRetired(path: string, followed: Followed): Promise<void> {
    const retired = followed.retired;
    if (retired === undefined) return;
    await this.readOn(path, followed, retired.file, () => followed.current?.position(path) ?? retired.file.position(path));
    if (monotonicMs() >= retired.until) {
      followed.retired = undefined;
      await retired.file.close();
    }
  }

  private async readRotated(path: string, followed: Followed, position: LogPosition): Promise<void> {
    // After a failed delivery, the rotated file is read on from what was delivered of it.
    const { reported } = followed;
    const from = reported?.headHash === position.headHash && reported.offset > position.offset ? { ...position, offset: reported.offset } : position;
    const rotated = await openRotated(from, this.decode, this.maxLineBytes);
    if (rotated === undefined) return;
    const { file } = rotated;
    try {
      await this.readOn(path, followed, file, () => file.position(path));
    } catch (error) {
      await file.close();
      throw error;
    }
    // A glob matching the rotated file too follows it from here, not from its start.
    if (!this.files.has(rotated.path) && this.patterns.some((p) => patternMatches(p, rotated.path))) this.files.set(rotated.path, { current: file });
    else await file.close();
  }

  /**
   * Reads `file` to its end (or for `chunks` chunks: false when there is more). Up to READ_AHEAD
   * chunks are read (and prepared) while the ones before them are delivered, in order; a failed
   * delivery drops the chunks read after it, and all of them are read again later.
   */
  private async readOn(path: string, followed: Followed, file: LogFile, positionOf: () => LogPosition, chunks = Infinity): Promise<boolean> {
    // Deliveries run one after another; a failure is caught at once (thrown below): never an unhandled rejection.
    let failed: { readonly error: unknown; readonly before: number } | undefined;
    let chain = Promise.resolve();
    const pending: Promise<void>[] = [];
    const delivered = async (): Promise<void> => {
      await chain;
      pending.length = 0;
      if (failed === undefined) return;
      file.seek(failed.before);
      const { error } = failed;
      failed = undefined;
      throw error;
    };
    try {
      for (let n = 0; !this.closed && n < chunks && failed === undefined; n++) {
        const before = file.offset;
        const parts = await file.readParts(this.buffer, !this.polling);
        if (parts === undefined || parts === REWRITTEN) {
          await delivered();
          // Rewritten after the check before this read: the next check reads the copy, then the file anew.
          return parts === undefined;
        }
        const dropped = file.takeDropped();
        const length = parts.reduce((sum, part) => sum + part.length, 0);
        if (length === 0 && dropped.length === 0) continue;
        const inPlace = this.options.ranges === true && !this.polling && dropped.length === 0 && file.offset - before === length;
        const batch = this.batch(path, inPlace ? rangeOf(file, before, length, parts) : Buffer.concat(parts), file.linesRead, file, positionOf(), dropped, n === chunks - 1);
        this.options.prepare?.(batch);
        chain = chain.then(async () => {
          if (failed !== undefined) return;
          try {
            await this.deliver(followed, batch);
          } catch (error) {
            failed = { error, before };
          }
        });
        pending.push(chain);
        if (pending.length >= READ_AHEAD) await pending.shift();
      }
      await delivered();
    } catch (error) {
      // A chunk that could not be read: the ones being delivered finish (or are read again) first.
      await delivered().catch(() => undefined);
      throw error;
    }
    return this.closed;
  }

  /**
   * A batch whose lines are decoded only when asked for: the daemon's filter worker decodes (or
   * reads) them itself. A range is read again as the worker reads it, refused if the file changed.
   */
  private batch(path: string, lines: Buffer | LogRange, lineCount: number, file: LogFile, position: LogPosition, droppedAt: readonly number[], turnEnd: boolean): LineBatch {
    let decoded: string[] | undefined;
    const given = Buffer.isBuffer(lines) ? { text: lines } : { range: lines };
    return { path, ...given, lineCount, encoding: this.encoding, position, droppedAt, turnEnd, more: file.moreToRead, get lines() {
      return decoded ??= file.lines(Buffer.isBuffer(lines) ? lines : readLogRange(lines));
    } };
  }

  private async deliver(followed: Followed, batch: LineBatch): Promise<void> {
    await this.options.onLines(batch);
    followed.reported = batch.position;
  }

  /** Each distinct problem of a path once, until reading it works again. */
  private report(error: unknown, path?: string): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (path !== undefined) {
      if (this.errors.get(path) === err.message) return;
      this.errors.set(path, err.message);
    }
    if (this.options.onError !== undefined) this.options.onError(err, path);
    else console.error(`f2b-store: watching ${path ?? 'logs'}: ${err.message}`);
  }
}

/** The lines just read, `parts` of the file (`length` bytes from `offset` on), as a range of it (see LineBatch.range). */
function rangeOf(file: LogFile, offset: number, length: number, parts: readonly Buffer[]): LogRange {
  const crc = parts.reduce((sum, part) => crc32(part, sum), 0);
  return { fd: file.fd, device: file.device, inode: file.inode, offset, length, crc };
}

function first(set: Set<string>): string | undefined {
  for (const item of set) return item;
  return undefined;
}

/** chokidar ignores a path that does not exist, so a missing log directory is watched from above. */
function existingAncestor(dir: string): string {
  let current = dir;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}
