export { createDateDetector, type DateDetector, type DateDetectorOptions, type DateMatch } from './date-detector.js';
export { DEFAULT_DATE_PATTERNS } from './date-templates.js';
export {
  compileFailRegex,
  capturesTold,
  failureHost,
  toldCaptures,
  type FailCaptures,
  type FailRegex,
  type FailRegexKind,
  type FailRegexMatch,
  type FailRegexOptions,
  type FailureHost,
  type FailureHostKind,
} from './fail-regex.js';
export { expandFailTags, type UseDns } from './fail-tags.js';
export {
  compilePythonRegex,
  translatePythonRegex,
  type PythonFlags,
  readablePattern,
  type PythonRegex,
  type TranslatedRegex,
} from './python-regex.js';
export { catastrophicBacktracking, describeBacktracking, type BacktrackingShape } from './backtracking.js';
export { FilterWorker, slowLineMessage, type FilterWorkerOptions, type MatchedBatch, type SlowLine } from './filter-worker.js';
export type { FilterEntry, LineFailures, PackedFailures, WorkerFilterOptions } from './worker-protocol.js';
export { unpackFailures } from './worker-protocol.js';
export { LogFilter, type Failure, type LineResult, type LogFilterOptions } from './log-filter.js';
export { runFilter, type FilterRun, type LineOutcome, type RunLines, type TerminatedLines, type TimedLines } from './filter-run.js';
export { logLineBatches, terminatedLineBatches } from './log-lines.js';
export { failureAddresses, type Lookup } from './failure-addresses.js';
export { isRecord } from './container-frame.js';
