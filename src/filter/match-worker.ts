/**
 * The worker thread behind FilterWorker (filter-worker.ts): it holds one LogFilter per (filter
 * key, log path), runs batches of lines through them and publishes the line it is on in a
 * shared array, so the main thread can see a line that takes too long and end the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MAX_LINE_BYTES, readBeforeRange } from '../core/index.js';
import type { RecordsBefore } from './container-frame.js';
import { LogFilter } from './log-filter.js';
import type { FilterEntry, FromWorker, LineFailures, LogFileText, LogText, ToWorker, WorkerData } from './worker-protocol.js';
import { currentThreadId } from './thread-cpu.js';
import { logTextOf, logTextTerminated, packedBuffers, packFailures, PROGRESS_BATCH, PROGRESS_KEY, PROGRESS_LINE, PROGRESS_THREAD } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('match-worker.js runs as a worker thread of FilterWorker');
const data = workerData as WorkerData;
const progress = new Int32Array(data.progress);
Atomics.store(progress, PROGRESS_THREAD, currentThreadId());

/** Each entry with its JSON, to tell on `filters` which keys changed. */
let entries = new Map<string, { entry: FilterEntry; json: string }>();
const running = new Map<string, Map<string, LogFilter>>();
/** What a file range is read into: one buffer for every batch (the lines are decoded from it before the next). */
const rangeBuffer = Buffer.allocUnsafe(1 << 19);
/** The batch's clock: every line of a batch is read at the time the main thread sent it. */
let now = 0;

function setFilters(filters: readonly (readonly [string, FilterEntry])[]): void {
  const next = new Map(filters.map(([key, entry]) => [key, { entry, json: JSON.stringify(entry) }]));
  for (const [key, { json }] of entries) if (next.get(key)?.json !== json) running.delete(key);
  entries = next;
}

/**
 * The lines just before `lines` in their file, for a filter that starts there (see
 * LogFilter.resume): read back through the descriptor of a range, two of the longest lines the
 * tailer reads; undefined for lines sent as text, whose place in the file is not known here.
 */
function linesBefore(lines: Extract<ToWorker, { type: 'batch' }>['lines']): RecordsBefore | undefined {
  if (Array.isArray(lines) || !('fd' in lines)) return undefined;
  const { bytes, fromStart } = readBeforeRange(lines, 2 * MAX_LINE_BYTES);
  const records = new TextDecoder(lines.encoding).decode(bytes).split('\n').map((line) => line.replace(/\r$/, ''));
  // The bytes end with a line's `\n`, and unless they go back to the start they begin inside one.
  records.pop();
  if (!fromStart) records.shift();
  return { records, fromStart };
}

/** `recordsBefore`: the lines before the batch (see linesBefore), read once for all its new filters and only if one needs them. */
function filterFor(key: string, path: string, recordsBefore: () => RecordsBefore | undefined): LogFilter {
  let byPath = running.get(key);
  if (byPath === undefined) running.set(key, byPath = new Map());
  let filter = byPath.get(path);
  if (filter === undefined) {
    const found = entries.get(key);
    if (found === undefined) throw new Error(`no filter "${key}" in the worker`);
    filter = new LogFilter(found.entry.definition, { ...found.entry.options, now: () => now });
    if (filter.readsRecords) filter.resume(recordsBefore());
    byPath.set(path, filter);
  }
  return filter;
}

function runBatch(message: Extract<ToWorker, { type: 'batch' }>): void {
  now = message.now;
  Atomics.store(progress, PROGRESS_BATCH, message.id);
  // Lines read from a file come with their `\n` (see LogFilter.processLine); the journal's come as strings.
  const decoded = Array.isArray(message.lines) ? undefined : logTextTerminated(logTextOf(message.lines as LogText | LogFileText, rangeBuffer));
  const text = decoded?.lines ?? message.lines as readonly string[];
  const { times } = message;
  const droppedAt = (decoded !== undefined && 'droppedAt' in message.lines ? message.lines.droppedAt : undefined) ?? [];
  let before: { readonly records: RecordsBefore | undefined } | undefined;
  const recordsBefore = (): RecordsBefore | undefined => (before ??= { records: linesBefore(message.lines) }).records;
  for (const [k, key] of message.keys.entries()) {
    Atomics.store(progress, PROGRESS_LINE, -1);
    Atomics.store(progress, PROGRESS_KEY, k);
    const filter = filterFor(key, message.path, recordsBefore);
    const skip = new Set(message.skip.filter(([k]) => k === key).map(([, index]) => index));
    const lines: LineFailures[] = [];
    const notRecords = filter.notRecords;
    let dropped = 0;
    for (let index = 0; index < text.length; index++) {
      for (; droppedAt[dropped] === index; dropped++) filter.lineDropped();
      if (skip.has(index)) continue;
      Atomics.store(progress, PROGRESS_LINE, index);
      const line = text[index] as string;
      const { failures } = decoded === undefined
        ? filter.processLine(line, times?.[index])
        : filter.processLine(line.slice(0, -1), times?.[index], line, decoded.ascii[index]);
      // Only what the daemon counts goes back (see packFailures).
      if (failures.length > 0) lines.push({ index, failures });
    }
    for (; dropped < droppedAt.length; dropped++) filter.lineDropped();
    const failures = packFailures(lines);
    post({ type: 'result', id: message.id, key, failures, notRecords: filter.notRecords - notRecords }, packedBuffers(failures));
  }
  Atomics.store(progress, PROGRESS_LINE, -1);
  post({ type: 'done', id: message.id });
}

const post = (message: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(message, transfer);

setFilters(data.filters);
port.on('message', (message: ToWorker) => {
  if (message.type === 'filters') {
    setFilters(message.filters);
    return;
  }
  try {
    runBatch(message);
  } catch (error) {
    Atomics.store(progress, PROGRESS_LINE, -1);
    post({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
  }
});
