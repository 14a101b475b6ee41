import { TextDecoder } from 'node:util';
import { InputError } from '../core/index.js';

/** Turns the bytes of one line into text; bytes that are not valid in the encoding become U+FFFD. */
export type LineDecoder = (bytes: Buffer) => string;

/**
 * The decoder for a jail's `logencoding`: `auto` and `utf-8` read UTF-8 (as `src/filter/log-lines.ts`
 * does); other names are looked up as WHATWG labels, accepting Python's spellings (`latin-1`, `utf_8`).
 */
export function lineDecoder(encoding = 'utf-8'): LineDecoder {
  const name = encodingName(encoding);
  if (name === 'utf-8') return utf8;
  const decoder = new TextDecoder(name, { fatal: false });
  return (bytes) => decoder.decode(bytes);
}

/**
 * The WHATWG name of a jail's `logencoding` (`auto` and `utf-8` give `utf-8`), accepting Python's
 * spellings (`latin-1`, `utf_8`): what a thread decoding the lines (the filter worker) is told.
 */
export function encodingName(encoding = 'utf-8'): string {
  const label = encoding.trim().toLowerCase();
  if (label === 'auto') return 'utf-8';
  const decoder = [label, label.replace(/_/g, '-'), label.replace(/[-_]/g, '')].map(textDecoder).find((d) => d !== undefined);
  if (decoder === undefined) throw new InputError(`logencoding: unknown encoding '${encoding}'`);
  // Lines are split on the byte 0x0A, which in UTF-16 is half of a character.
  if (decoder.encoding.startsWith('utf-16')) throw new InputError(`logencoding: '${encoding}' is not supported (lines are split on the byte \\n)`);
  return decoder.encoding;
}

/** The lines of `text` (complete lines, each ending in `\n`, as LineSplitter.pushText gives them), a trailing `\r` dropped. */
export function splitLines(text: Buffer, decode: LineDecoder): string[] {
  const lines: string[] = [];
  for (let start = 0, end = text.indexOf(10); end !== -1; start = end + 1, end = text.indexOf(10, start)) {
    lines.push(decode(text.subarray(start, text[end - 1] === 13 && end > start ? end - 1 : end)));
  }
  return lines;
}

function utf8(bytes: Buffer): string {
  return bytes.toString('utf8');
}

function textDecoder(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label, { fatal: false });
  } catch {
    return undefined;
  }
}

/**
 * Splits a byte stream into lines on `\n`, dropping a trailing `\r`. A line longer than
 * `maxLineBytes` is dropped whole and counted: cutting it and matching the first part would let
 * an attacker who pads a field choose what the filter sees (the address of a later `from …`).
 * Bytes of a line being dropped are never kept, so a huge line costs bounded memory. The
 * unfinished last line waits for the next chunk.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private kept = 0;
  private skipped = 0;
  /** Where lines were dropped since takeDropped: how many lines given since then came before each. */
  private droppedAt: number[] = [];
  /** Complete lines given since takeDropped. */
  private given = 0;
  /** Complete lines the last push gave (its `\n`s, less the lines dropped). */
  private pushed = 0;

  constructor(
    private readonly decode: LineDecoder,
    private readonly maxLineBytes: number,
  ) {}

  /** How many complete lines the last pushText or pushParts gave: counted as they are split, never decoded. */
  get lastLines(): number {
    return this.pushed;
  }

  /** Bytes of the line begun but not yet ended by `\n`. */
  get pendingBytes(): number {
    return this.kept + this.skipped;
  }

  /**
   * Where over-long lines were dropped since the last call, one entry each: how many of the lines
   * given since then came before it (a reader of container records must know where a piece went missing).
   */
  takeDropped(): number[] {
    const dropped = this.droppedAt;
    this.droppedAt = [];
    this.given = 0;
    return dropped;
  }

  push(chunk: Buffer): string[] {
    return this.lines(this.pushText(chunk));
  }

  /** The lines of what pushText gave, decoded. */
  lines(text: Buffer): string[] {
    return splitLines(text, this.decode);
  }

  /**
   * The complete lines of `chunk` (and of the line begun before it) as they were read, each
   * ending in `\n`, without the lines over the limit: one copy, decoded later (by the filter worker).
   */
  pushText(chunk: Buffer): Buffer {
    // Copied: the chunk's buffer is reused for the next read.
    return Buffer.concat(this.pushParts(chunk));
  }

  /**
   * As pushText, in parts, not copied: the end of the line begun before (a copy of its own) and
   * runs of `chunk` itself, which the next read overwrites. Without a line dropped (takeDropped),
   * they are the bytes of the file from the offset before the read to the offset after it.
   */
  pushParts(chunk: Buffer): Buffer[] {
    const parts: Buffer[] = [];
    let ended = 0;
    let dropped = 0;
    let start = 0;
    let run = 0;
    for (let end = chunk.indexOf(10, start); end !== -1; end = chunk.indexOf(10, start)) {
      ended++;
      if (this.pendingBytes > 0) {
        const line = this.finish(chunk.subarray(start, end + 1));
        if (line === undefined) this.droppedAt.push(this.given + ended - 1 - dropped++);
        else parts.push(line);
        run = end + 1;
      } else if (end - start - (chunk[end - 1] === 13 && end > start ? 1 : 0) > this.maxLineBytes) {
        if (run < start) parts.push(chunk.subarray(run, start));
        this.droppedAt.push(this.given + ended - 1 - dropped++);
        run = end + 1;
      }
      start = end + 1;
    }
    if (run < start) parts.push(chunk.subarray(run, start));
    this.keep(chunk.subarray(start));
    this.pushed = ended - dropped;
    this.given += this.pushed;
    return parts;
  }

  reset(): void {
    this.parts = [];
    this.kept = 0;
    this.skipped = 0;
  }

  /** The line begun before, ended by `last` (its `\n` included); undefined when it is over the limit. */
  private finish(last: Buffer): Buffer | undefined {
    const length = this.pendingBytes + last.length - 1;
    // Up to one byte over the limit, every byte was kept (see keep): it may be a `\r`.
    const bytes = length > this.maxLineBytes + 1 ? undefined : Buffer.concat([...this.parts, last]);
    this.reset();
    if (bytes === undefined) return undefined;
    const crlf = bytes.length >= 2 && bytes[bytes.length - 2] === 13 ? 1 : 0;
    return length - crlf > this.maxLineBytes ? undefined : bytes;
  }

  private keep(part: Buffer): void {
    // One byte over the limit is kept: a line of exactly the limit may end in `\r`.
    const room = Math.max(0, this.maxLineBytes + 1 - this.kept);
    const taken = part.subarray(0, room);
    // Copied: the chunk's buffer is reused for the next read.
    if (taken.length > 0) this.parts.push(Buffer.from(taken));
    this.kept += taken.length;
    this.skipped += part.length - taken.length;
  }
}
