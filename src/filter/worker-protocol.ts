import type { FilterDefinition } from '../config/index.js';
import type { Failure, LogFilterOptions } from './log-filter.js';

/** How a filter runs in the worker: a LogFilter's options, without the clock (each batch carries its time). */
export type WorkerFilterOptions = Omit<LogFilterOptions, 'now'>;

/** One filter the worker can run, under a key of the caller's choosing (a jail name). */
export interface FilterEntry {
  readonly definition: FilterDefinition;
  readonly options: WorkerFilterOptions;
}

/** What comes back of a failure: who, when, and its lines (the captures stay in the worker). */
export type MatchedFailure = Pick<Failure, 'host' | 'time' | 'lines'>;

/** The failures one line of a batch completed; lines that completed none are left out. */
export interface LineFailures {
  /** The line's index in the batch. */
  readonly index: number;
  readonly failures: readonly MatchedFailure[];
}

/**
 * Lines as a log file holds them: each ends in `\n` (a `\r` before it is dropped), in the
 * encoding named (WHATWG). Sent as bytes: one copy instead of a string per line, decoded by the worker.
 */
export interface LogText {
  readonly bytes: Uint8Array;
  readonly encoding: string;
}

/** The lines of `text`, decoded (bytes invalid in the encoding become U+FFFD). */
export function logTextLines(text: LogText): string[] {
  const bytes = Buffer.from(text.bytes.buffer, text.bytes.byteOffset, text.bytes.byteLength);
  const lines: string[] = [];
  if (text.encoding === 'utf-8') {
    // \n never occurs inside a UTF-8 sequence, so decoding the whole text splits as decoding each line.
    const all = bytes.toString('utf8');
    for (let start = 0, end = all.indexOf('\n'); end !== -1; start = end + 1, end = all.indexOf('\n', start)) {
      lines.push(all.slice(start, end > start && all.charCodeAt(end - 1) === 13 ? end - 1 : end));
    }
    return lines;
  }
  // Each line on its own: a stateful encoding (ISO-2022-JP) starts every line afresh.
  const decoder = new TextDecoder(text.encoding);
  for (let start = 0, end = bytes.indexOf(10); end !== -1; start = end + 1, end = bytes.indexOf(10, start)) {
    lines.push(decoder.decode(bytes.subarray(start, end > start && bytes[end - 1] === 13 ? end - 1 : end)));
  }
  return lines;
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
export const PROGRESS_SLOTS = 3;

export type ToWorker =
  | { readonly type: 'filters'; readonly filters: readonly (readonly [string, FilterEntry])[] }
  | {
      readonly type: 'batch';
      readonly id: number;
      readonly path: string;
      readonly keys: readonly string[];
      readonly lines: readonly string[] | LogText;
      /** The lines' times when their source knows them (the journal), by index: no date is looked for in those lines. */
      readonly times?: readonly number[];
      readonly now: number;
      /** Lines not to run again through a filter: [key, index]. */
      readonly skip: readonly (readonly [string, number])[];
    };

export type FromWorker =
  | { readonly type: 'result'; readonly id: number; readonly key: string; readonly lines: readonly LineFailures[] }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
