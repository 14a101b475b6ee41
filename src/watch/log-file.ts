import { constants, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { LineSplitter, type LineDecoder } from './line-splitter.js';
import { readHeadHash, readHeadHashSync, type FileIdentity, type LogPosition } from './log-position.js';

/** What `LogFile.read` gives when the file was rewritten under the offset (copytruncate). */
export const REWRITTEN = Symbol('rewritten');

/** How far back from the end a start "at the end" looks for the last complete line. */
const TAIL_SCAN_BYTES = 1 << 16;

/**
 * One log file held open and read line by line from a byte offset. The descriptor stays open,
 * so a file renamed or deleted by rotation is still read to its end, and its inode number
 * cannot be reused by the file that replaces it.
 */
export class LogFile {
  private readOffset = 0;
  private filled = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly device: number,
    readonly inode: number,
    private headHash: string,
    private readonly splitter: LineSplitter,
  ) {}

  /** Opens `path` when it is a regular file (a FIFO or directory gives undefined). */
  static async open(path: string, decode: LineDecoder, maxLineBytes: number): Promise<LogFile | undefined> {
    // O_NONBLOCK: opening a FIFO that matched a glob must not wait for a writer.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (stats.isFile()) return new LogFile(handle, stats.dev, stats.ino, await readHeadHash(handle), new LineSplitter(decode, maxLineBytes));
    } catch (error) {
      await handle.close();
      throw error;
    }
    await handle.close();
    return undefined;
  }

  /** After the last complete line read; the bytes of an unfinished line are not counted. */
  get offset(): number {
    return this.readOffset - this.splitter.pendingBytes;
  }

  position(path: string): LogPosition {
    return { path, device: this.device, inode: this.inode, offset: this.offset, headHash: this.headHash };
  }

  async identity(): Promise<FileIdentity> {
    const { size } = await this.handle.stat();
    return { device: this.device, inode: this.inode, size, headHash: this.headHash };
  }

  async modified(): Promise<number> {
    return (await this.handle.stat()).mtimeMs;
  }

  /** The same file, or a copy of it (the same first line). */
  sameContent(other: LogFile): boolean {
    return (this.device === other.device && this.inode === other.inode) || (this.headHash !== '' && this.headHash === other.headHash);
  }

  /** The open descriptor: the filter worker reads ranges of the file through it (see LogRange). */
  get fd(): number {
    return this.handle.fd;
  }

  seek(offset: number): void {
    this.readOffset = offset;
    this.splitter.reset();
  }

  /** Starts after the last complete line, so a line being written right now is read whole. */
  async seekToEnd(): Promise<void> {
    const { size } = await this.handle.stat();
    const length = Math.min(size, TAIL_SCAN_BYTES);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, size - length);
    const newline = buffer.subarray(0, bytesRead).lastIndexOf(10);
    if (newline !== -1) this.seek(size - length + newline + 1);
    else this.seek(size > TAIL_SCAN_BYTES ? size : 0);
  }

  /**
   * True when the file was truncated or rewritten in place since it was read (copytruncate):
   * it is now shorter than what was read, or its first line changed.
   */
  async rewritten(): Promise<boolean> {
    const [{ size }, headHash] = await Promise.all([this.handle.stat(), readHeadHash(this.handle)]);
    if (size < this.readOffset || (this.headHash !== '' && headHash !== this.headHash)) return true;
    this.headHash = headHash;
    return false;
  }

  /** Reads the file again from its start, as the new file it now is. */
  async rewind(): Promise<void> {
    this.seek(0);
    this.headHash = await readHeadHash(this.handle);
  }

  /**
   * The complete lines in the next chunk (possibly none), undefined at the end of the file, or
   * REWRITTEN (nothing read) when the file was truncated and written again since `rewritten()`
   * said it was not: the bytes at the offset are then the new file's, not the rest of the old one.
   */
  async read(buffer: Buffer): Promise<string[] | undefined | typeof REWRITTEN> {
    const text = await this.readText(buffer);
    return text === undefined || text === REWRITTEN ? text : this.splitter.lines(text);
  }

  /**
   * As `read`, the lines as they were read (each ending in `\n`, see LineSplitter.pushText), not
   * decoded. `blocking` reads on this thread: a chunk of a local file comes from the page cache in
   * tens of microseconds, where a read handed to libuv's pool waits for the event loop, behind
   * whatever else it has to do, to deliver it (a network file system is read the other way: a
   * server that hangs must not hold the thread).
   */
  async readText(buffer: Buffer, blocking = false): Promise<Buffer | undefined | typeof REWRITTEN> {
    const parts = await this.readParts(buffer, blocking);
    // Copied: the buffer is reused for the next read.
    return parts === undefined || parts === REWRITTEN ? parts : Buffer.concat(parts);
  }

  /** As readText, in parts that the next read into `buffer` overwrites (see LineSplitter.pushParts). */
  async readParts(buffer: Buffer, blocking = false): Promise<Buffer[] | undefined | typeof REWRITTEN> {
    const head = async (): Promise<string> => (blocking ? readHeadHashSync(this.handle.fd) : readHeadHash(this.handle));
    const bytesRead = blocking
      ? readSync(this.handle.fd, buffer, 0, buffer.length, this.readOffset)
      : (await this.handle.read(buffer, 0, buffer.length, this.readOffset)).bytesRead;
    this.filled = bytesRead === buffer.length;
    if (bytesRead === 0) return undefined;
    if (this.readOffset > 0 && this.headHash !== '' && (await head()) !== this.headHash) return REWRITTEN;
    this.readOffset += bytesRead;
    if (this.headHash === '') this.headHash = await head();
    return this.splitter.pushParts(buffer.subarray(0, bytesRead));
  }

  /** Whether the last readText filled its buffer: then more of the file follows at once. */
  get moreToRead(): boolean {
    return this.filled;
  }

  /** The complete lines in what the last read of bytes gave (see LineSplitter.lastLines). */
  get linesRead(): number {
    return this.splitter.lastLines;
  }

  /** The lines of what readText gave, decoded. */
  lines(text: Buffer): string[] {
    return this.splitter.lines(text);
  }

  /** Where lines over the length limit were dropped unread since the last call (see LineSplitter.takeDropped). */
  takeDropped(): number[] {
    return this.splitter.takeDropped();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
