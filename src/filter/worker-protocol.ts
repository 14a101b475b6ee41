import type { FilterDefinition } from '../config/index.js';
import type { Failure, LogFilterOptions } from './log-filter.js';

/** How a filter runs in the worker: a LogFilter's options, without the clock (each batch carries its time). */
export type WorkerFilterOptions = Omit<LogFilterOptions, 'now'>;

/** One filter the worker can run, under a key of the caller's choosing (a jail name). */
export interface FilterEntry {
  readonly definition: FilterDefinition;
  readonly options: WorkerFilterOptions;
}

/** The failures one line of a batch completed; lines that completed none are left out. */
export interface LineFailures {
  /** The line's index in the batch. */
  readonly index: number;
  readonly failures: readonly Failure[];
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
      readonly lines: readonly string[];
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
