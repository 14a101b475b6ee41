import { isAscii } from 'node:buffer';
import type { FilterDefinition } from '../config/index.js';
import { readLogRange, type LogRange } from '../core/index.js';
import { toldCaptures, type FailCaptures, type FailureHostKind } from './fail-regex.js';
import type { Failure, LogFilterOptions } from './log-filter.js';

/** How a filter runs in the worker: a LogFilter's options, without the clock (each batch carries its time). */
export type WorkerFilterOptions = Omit<LogFilterOptions, 'now'>;

/** One filter the worker can run, under a key of the caller's choosing (a jail name). */
export interface FilterEntry {
  readonly definition: FilterDefinition;
  readonly options: WorkerFilterOptions;
}

/** What comes back of a failure: who, when, its lines, and its captures worth telling with a ban, packed (see toldCaptures). */
export type MatchedFailure = Pick<Failure, 'host' | 'time' | 'lines'> & { readonly told?: string };

/** The failures one line of a batch completed; lines that completed none are left out. */
export interface LineFailures {
  /** The line's index in the batch. */
  readonly index: number;
  readonly failures: readonly MatchedFailure[];
}

const KINDS: readonly FailureHostKind[] = ['ip4', 'ip6', 'dns', 'fid'];
/** Numbers packed per failure: line index, host kind (index in KINDS), cidr (-1: none), time (NaN: none), how many lines. */
const FIELDS = 5;

/**
 * The failures of one batch for one key, as bytes: FIELDS numbers per failure, and its host
 * value, its lines and its told captures (see toldCaptures) one string after another.
 * A burst brings hundreds of thousands of failures. Cloned as objects and strings, each was
 * rebuilt in the main thread's heap as soon as its batch was done, and waited there through the
 * batches before it and a commit: long enough to be copied into the old generation, where it died
 * (most of what that thread's collector copied). As bytes they wait outside the heap, and become
 * strings only when counted (unpackFailures), to die young.
 */
export interface PackedFailures {
  readonly numbers: Float64Array;
  /** Where each string ends in `text`. */
  readonly ends: Uint32Array;
  readonly text: Uint8Array;
  /**
   * How `text` is encoded: Latin-1 (one byte per UTF-16 unit) when no string has a unit above
   * 0xFF, as log text nearly always is: written at once, each string read back as one-byte. Else
   * UTF-8, string by string (a lone surrogate, which no decoded log text holds, would come back as U+FFFD).
   */
  readonly encoding: 'latin1' | 'utf8';
}

/** A failure as the worker's filter found it (with its captures) or as it crossed once (told). */
type FoundFailure = MatchedFailure & { readonly captures?: FailCaptures };

const BEYOND_LATIN1 = /[^\0-\xff]/;

export function packFailures(found: readonly { readonly index: number; readonly failures: readonly FoundFailure[] }[]): PackedFailures {
  const numbers: number[] = [];
  const strings: string[] = [];
  for (const { index, failures } of found) {
    for (const { host, time, lines: matched, captures: captured, told } of failures) {
      numbers.push(index, KINDS.indexOf(host.kind), host.cidr ?? -1, time ?? Number.NaN, matched.length);
      strings.push(host.value, ...matched, told ?? (captured === undefined ? '' : toldCaptures(captured)));
    }
  }
  const ends = new Uint32Array(strings.length);
  const joined = strings.join('');
  const latin1 = !BEYOND_LATIN1.test(joined);
  // A buffer of its own (not a slice of Buffer's pool), so it can be transferred. UTF-8 is measured
  // string by string, as written: a lone surrogate at either end of one takes 3 bytes, not half of a pair's 4.
  const text = Buffer.from(new ArrayBuffer(latin1 ? joined.length : strings.reduce((bytes, string) => bytes + Buffer.byteLength(string, 'utf8'), 0)));
  if (latin1) text.write(joined, 0, 'latin1');
  let end = 0;
  for (let i = 0; i < strings.length; i++) ends[i] = end += latin1 ? (strings[i] as string).length : text.write(strings[i] as string, end, 'utf8');
  return { numbers: Float64Array.from(numbers), ends, text, encoding: latin1 ? 'latin1' : 'utf8' };
}

/** What to transfer with a PackedFailures rather than copy. */
export function packedBuffers(packed: PackedFailures): ArrayBuffer[] {
  return [packed.numbers.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer, packed.text.buffer as ArrayBuffer];
}

/** The failures as packFailures took them (captures: the told ones, packed), grouped by line again. */
export function unpackFailures(packed: PackedFailures): LineFailures[] {
  const { numbers, ends, encoding } = packed;
  const text = Buffer.from(packed.text.buffer, packed.text.byteOffset, packed.text.byteLength);
  const out: { index: number; failures: MatchedFailure[] }[] = [];
  let string = 0;
  const next = (): string => text.toString(encoding, string === 0 ? 0 : ends[string - 1] as number, ends[string++] as number);
  for (let at = 0; at < numbers.length; at += FIELDS) {
    const index = numbers[at] as number;
    const kind = KINDS[numbers[at + 1] as number] as FailureHostKind;
    const cidr = numbers[at + 2] as number;
    const time = numbers[at + 3] as number;
    const count = numbers[at + 4] as number;
    const value = next();
    const lines: string[] = [];
    for (let l = 0; l < count; l++) lines.push(next());
    const told = next();
    const failure: MatchedFailure = {
      host: cidr === -1 ? { kind, value } : { kind, value, cidr },
      time: Number.isNaN(time) ? undefined : time,
      lines,
      ...(told === '' ? {} : { told }),
    };
    const last = out[out.length - 1];
    if (last?.index === index) last.failures.push(failure);
    else out.push({ index, failures: [failure] });
  }
  return out;
}

/**
 * Lines as a log file holds them: each ends in `\n` (a `\r` before it is dropped), in the
 * encoding named (WHATWG). Sent as bytes: one copy instead of a string per line, decoded by the worker.
 */
export interface LogText {
  readonly bytes: Uint8Array;
  readonly encoding: string;
  /** Where the file had lines over the length limit, dropped unread: how many of these lines came before each (see LogFilter.lineDropped). */
  readonly droppedAt?: readonly number[];
}

/** Lines to read from the file itself (see LogRange), in the encoding named. */
export type LogFileText = LogRange & { readonly encoding: string };

/** What the worker decodes: the bytes given, or those of the file range read now (into `buffer`, when long enough). */
export function logTextOf(lines: LogText | LogFileText, buffer?: Buffer): LogText {
  return 'fd' in lines ? { bytes: readLogRange(lines, buffer), encoding: lines.encoding } : lines;
}

/**
 * Most bytes decoded into one string. V8 puts a longer string in its large-object space: a fresh
 * mapping, zeroed on first touch, and freed only by a full collection — decoding a 256 KiB chunk
 * at once took ten times as long as in 64 KiB runs, and its garbage grew the worker's heap.
 */
const DECODE_RUN_BYTES = 64 * 1024;

/** Where the run of whole lines from `from` ends: after the last `\n` within DECODE_RUN_BYTES (or the first one after it, for a longer line). */
function utf8RunEnd(bytes: Buffer, from: number): number {
  if (bytes.length - from <= DECODE_RUN_BYTES) return bytes.length;
  const last = bytes.lastIndexOf(10, from + DECODE_RUN_BYTES - 1);
  if (last >= from) return last + 1;
  const next = bytes.indexOf(10, from + DECODE_RUN_BYTES);
  return next === -1 ? bytes.length : next + 1;
}

/** The lines of `text`, decoded (bytes invalid in the encoding become U+FFFD). */
export function logTextLines(text: LogText): string[] {
  return decodeLogText(text, false).lines;
}

/**
 * The lines of `text` each with its `\n`, as LogFilter.processLine takes them (`terminated`): a
 * slice of the decoded text, where the filter would otherwise copy each line to add it. `ascii`,
 * by line: it was decoded from ASCII bytes only, so the filter's cheaper RegExps may search it.
 */
export function logTextTerminated(text: LogText): { readonly lines: string[]; readonly ascii: boolean[] } {
  return decodeLogText(text, true);
}

function decodeLogText(text: LogText, terminated: boolean): { lines: string[]; ascii: boolean[] } {
  const bytes = Buffer.from(text.bytes.buffer, text.bytes.byteOffset, text.bytes.byteLength);
  const lines: string[] = [];
  const ascii: boolean[] = [];
  const newline = terminated ? '\n' : '';
  const keep = terminated ? 1 : 0;
  if (text.encoding === 'utf-8') {
    // \n never occurs inside a UTF-8 sequence, so decoding a run of whole lines splits as decoding each line.
    for (let from = 0; from < bytes.length;) {
      const to = utf8RunEnd(bytes, from);
      const runAscii = terminated && isAscii(bytes.subarray(from, to));
      const run = bytes.toString('utf8', from, to);
      for (let start = 0, end = run.indexOf('\n'); end !== -1; start = end + 1, end = run.indexOf('\n', start)) {
        lines.push(end > start && run.charCodeAt(end - 1) === 13 ? run.slice(start, end - 1) + newline : run.slice(start, end + keep));
        ascii.push(runAscii);
      }
      from = to;
    }
    return { lines, ascii };
  }
  // Each line on its own: a stateful encoding (ISO-2022-JP) starts every line afresh.
  const decoder = new TextDecoder(text.encoding);
  for (let start = 0, end = bytes.indexOf(10); end !== -1; start = end + 1, end = bytes.indexOf(10, start)) {
    lines.push(decoder.decode(bytes.subarray(start, end > start && bytes[end - 1] === 13 ? end - 1 : end)) + newline);
    ascii.push(false);
  }
  return { lines, ascii };
}

export interface WorkerData {
  readonly filters: readonly (readonly [string, FilterEntry])[];
  /** An Int32Array's buffer: the worker's position, at the PROGRESS_ indexes. */
  readonly progress: SharedArrayBuffer;
}

/** The batch the worker is on. */
export const PROGRESS_BATCH = 0;
/** The index, in the batch's keys, of the filter it runs. */
export const PROGRESS_KEY = 1;
/** The index of the line it matches, or -1 between lines. */
export const PROGRESS_LINE = 2;
/** The worker's thread id, whose CPU time the budget counts; 0 until known, or where it cannot be read. */
export const PROGRESS_THREAD = 3;
export const PROGRESS_SLOTS = 4;

export type ToWorker =
  | { readonly type: 'filters'; readonly filters: readonly (readonly [string, FilterEntry])[] }
  | {
      readonly type: 'batch';
      readonly id: number;
      readonly path: string;
      readonly keys: readonly string[];
      readonly lines: readonly string[] | LogText | LogFileText;
      /** The lines' times when their source knows them (the journal), by index: no date is looked for in those lines. */
      readonly times?: readonly number[];
      readonly now: number;
      /** Lines not to run again through a filter: [key, index]. */
      readonly skip: readonly (readonly [string, number])[];
    };

export type FromWorker =
  | { readonly type: 'result'; readonly id: number; readonly key: string; readonly failures: PackedFailures; readonly notRecords: number }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
