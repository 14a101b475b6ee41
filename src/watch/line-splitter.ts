import { TextDecoder } from 'node:util';
import { InputError } from '../core/index.js';

/** Turns the bytes of one line into text; bytes that are not valid in the encoding become U+FFFD. */
export type LineDecoder = (bytes: Buffer) => string;

/**
 * The decoder for a jail's `logencoding`: `auto` and `utf-8` read UTF-8 (as `src/filter/log-lines.ts`
 * does); other names are looked up as WHATWG labels, accepting Python's spellings (`latin-1`, `utf_8`).
 */
export function lineDecoder(encoding = 'utf-8'): LineDecoder {
  const label = encoding.trim().toLowerCase();
  if (label === 'auto') return utf8;
  const decoder = [label, label.replace(/_/g, '-'), label.replace(/[-_]/g, '')].map(textDecoder).find((d) => d !== undefined);
  if (decoder === undefined) throw new InputError(`logencoding: unknown encoding '${encoding}'`);
  if (decoder.encoding === 'utf-8') return utf8;
  // Lines are split on the byte 0x0A, which in UTF-16 is half of a character.
  if (decoder.encoding.startsWith('utf-16')) throw new InputError(`logencoding: '${encoding}' is not supported (lines are split on the byte \\n)`);
  return (bytes) => decoder.decode(bytes);
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
  private dropped = 0;

  constructor(
    private readonly decode: LineDecoder,
    private readonly maxLineBytes: number,
  ) {}

  /** Bytes of the line begun but not yet ended by `\n`. */
  get pendingBytes(): number {
    return this.kept + this.skipped;
  }

  /** How many over-long lines were dropped since the last call. */
  takeDropped(): number {
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf(10, start); end !== -1; end = chunk.indexOf(10, start)) {
      const line = this.finish(chunk.subarray(start, end));
      if (line === undefined) this.dropped++;
      else lines.push(line);
      start = end + 1;
    }
    this.keep(chunk.subarray(start));
    return lines;
  }

  reset(): void {
    this.parts = [];
    this.kept = 0;
    this.skipped = 0;
  }

  private finish(last: Buffer): string | undefined {
    const length = this.pendingBytes + last.length;
    let bytes = last;
    if (this.pendingBytes > 0) {
      this.keep(last);
      bytes = Buffer.concat(this.parts, this.kept);
    }
    this.reset();
    const crlf = bytes.at(-1) === 13 ? 1 : 0;
    if (length - crlf > this.maxLineBytes) return undefined;
    return this.decode(bytes.subarray(0, bytes.length - crlf));
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
