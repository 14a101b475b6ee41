import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { InputError, messageOf } from '../core/index.js';
import { progressShown, withProgress } from './progress.js';

/** How much of a list is read at once: a million-line list is never held whole. */
const PIECE = 1 << 20;

function cannotRead(path: string, error: unknown): InputError {
  return new InputError(`cannot read ban list ${path}: ${messageOf(error)}`, { cause: error });
}

/** The next piece of `fd`, empty at its end. */
function readPiece(fd: number, path: string): Buffer {
  const buffer = Buffer.allocUnsafe(PIECE);
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, PIECE, null));
  } catch (error) {
    throw cannotRead(path, error);
  }
}

/** `first`, then the rest of `fd` piece by piece; closes `fd` (not standard input) when done. */
function* piecesOf(fd: number, path: string, first: Buffer): Generator<Buffer> {
  try {
    for (let piece = first; piece.length > 0; piece = readPiece(fd, path)) yield piece;
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

/** The lines of UTF-8 `pieces`, split at '\n' as the whole text would be. */
function* linesOf(pieces: Iterable<Buffer>): Generator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for (const piece of pieces) {
    const lines = (rest + decoder.write(piece)).split('\n');
    rest = lines.pop() ?? '';
    yield* lines;
  }
  yield rest + decoder.end();
}

function lineCount(text: Buffer): number {
  let count = 1;
  for (let at = text.indexOf(10); at !== -1; at = text.indexOf(10, at + 1)) count++;
  return count;
}

/**
 * The lines of the ban list at `path` (`-`: standard input), read as they are taken, with a
 * progress bar over them on a terminal (where the list is read whole first, to count them). The
 * first piece is read here: a list that cannot be read fails before anything else is done.
 */
export function listLines(path: string, label: string): Iterable<string> {
  let fd: number;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (error) {
    throw cannotRead(path, error);
  }
  let first: Buffer;
  try {
    first = readPiece(fd, path);
  } catch (error) {
    if (fd !== 0) closeSync(fd);
    throw error;
  }
  const pieces = piecesOf(fd, path, first);
  if (!progressShown()) return linesOf(pieces);
  const whole = Buffer.concat([...pieces]);
  return withProgress(linesOf([whole]), lineCount(whole), label);
}
